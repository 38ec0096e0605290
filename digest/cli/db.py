"""`digest db upgrade` and `digest db copy`: the database itself, through digest.jobs.dbcopy."""

from __future__ import annotations

import argparse

from digest.cli.options import settings_of
from digest.cli.printing import Out
from digest.errors import DigestError
from digest.jobs.dbcopy import copy_store, upgrade_store
from digest.jobs.service import prune_job
from digest.util.dburl import display_url


def cmd_upgrade(args: argparse.Namespace, out: Out = print) -> int:
    url = args.url or settings_of(args).store_url
    version = upgrade_store(url)
    out(f"{display_url(url)}: schema version {version}, up to date")
    return 0


def cmd_copy(args: argparse.Namespace, out: Out = print) -> int:
    settings_of(args)  # logging as configured
    report = copy_store(args.source, args.destination)
    out(f"Copied {report.source} -> {report.destination}")
    for table in report.tables:
        verdict = "ok" if table.matches else "MISMATCH"
        out(
            f"  {table.table:<12} {table.source_rows:>9} rows, {table.copied:>9} new in the "
            f"destination, {table.destination_rows:>9} there: {verdict}"
        )
    if not report.ok:
        raise DigestError(
            "the destination's row counts differ from the source's: it held other rows "
            "before the copy (copy into an empty database)"
        )
    return 0


def cmd_prune(args: argparse.Namespace, out: Out = print) -> int:
    if args.keep_days is not None and args.keep_days < 1:
        raise DigestError("--keep-days is at least 1")
    pruned = prune_job(settings_of(args), args.keep_days)
    out(
        f"Emptied {pruned.messages} sent messages ({pruned.bytes / 1e6:.1f} MB); the ledger is kept"
    )
    return 0
