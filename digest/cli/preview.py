"""`digest preview`: rank a profile against today's listings (or a saved snapshot) and
write the email to files. Its own module, so that a preview imports none of what the
commands that fetch, store or send need."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
from contextlib import closing

from digest.cli.files import output_folder, write_file
from digest.cli.options import clock_of, profile_from_args, progress_sink, settings_of
from digest.cli.printing import Out, print_preview
from digest.config.addresses import validate_address
from digest.errors import DigestError
from digest.jobs.preview import Collected, preview, read_listings, send_preview
from digest.models import SourceState, Subscriber
from digest.store import open_store

__all__ = ["cmd_preview"]


def cmd_preview(args: argparse.Namespace, out: Out = print) -> int:
    settings = settings_of(args)
    now = clock_of(args, settings)()
    profile = profile_from_args(args)
    if args.email:
        with closing(open_store(settings.store_url, readonly=True)) as store:
            found = store.subscriber(validate_address(args.email))
            if found is None:
                raise DigestError(f"{args.email}: no such subscriber in {settings.database_name}")
            subscriber = found if profile is None else dataclasses.replace(found, profile=profile)
            collected = read_listings(
                settings, subscriber, now, snapshot=args.snapshot, progress=progress_sink()
            )
            result = preview(
                settings, subscriber, collected, now=now, store=store, day=_day(args, collected)
            )
    elif profile is None:
        raise DigestError(
            "say whose digest to preview: --keyword/--author/--category, --profile FILE "
            "or --email ADDRESS"
        )
    else:
        subscriber = Subscriber(email="preview@example.org", profile=profile)
        collected = read_listings(
            settings, subscriber, now, snapshot=args.snapshot, progress=progress_sink()
        )
        result = preview(settings, subscriber, collected, now=now, day=_day(args, collected))

    made = result.composition
    folder = output_folder(args.out, "--out")
    write_file(folder / "digest.html", made.rendered.html.encode("utf-8"))
    write_file(folder / "digest.txt", made.rendered.text.encode("utf-8"))
    write_file(folder / "digest.eml", made.message)
    print_preview(made.digest, collected.outcomes, args.top, out, made.rendered)
    if result.note:
        out(f"Note: {result.note}")
    out(f"Wrote {args.out / 'digest.html'}, digest.txt and digest.eml. Nothing was sent.")
    if args.send_to:
        from digest.jobs.wiring import sender_factory

        address = validate_address(args.send_to)
        send_preview(settings, result, address, now, sender_factory(settings))
        out(f"Sent the preview to {address} (nothing recorded as sent).")
    failed = [o for o in collected.outcomes if o.state is SourceState.FAILED]
    if failed and len(failed) == len(collected.outcomes):
        # An empty digest because nothing could be read is not a preview of anything.
        names = ", ".join(o.name for o in failed)
        print(
            f"digest: error: every source failed ({names}): the preview has no papers; "
            "the reasons are listed above",
            file=sys.stderr,
        )
        return 1
    return 0


def _day(args: argparse.Namespace, collected: Collected) -> dt.date | None:
    """A snapshot's digest carries the snapshot's day, not today's (unless --now says)."""
    if args.snapshot is None or args.now:
        return None
    return max((listing.request.day for listing in collected.listings), default=None)
