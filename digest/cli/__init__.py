"""The `digest` command: small subcommands over the jobs (digest.jobs), the configuration
and the store. `digest --help` imports nothing but this module.

Exit codes: 0 success; 1 the run finished but a source or a delivery failed; 2 bad input
(configuration, profile, address, arguments) or an unusable database.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from digest import __version__
from digest.errors import DigestError

__all__ = ["build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    # Every product the ranking makes is small and held to one BLAS thread, and compose
    # workers are forked: OpenBLAS's pool of a thread per core, started when numpy is
    # imported, would only cost CPU (about 0.1-0.15 s per process here). A value the user
    # set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    # The commands (and the libraries they need) are imported only once one is chosen, so
    # `digest --help` stays quick; only the chosen command's module is imported.
    import importlib

    group = getattr(args, "handlers", "")
    module = importlib.import_module(
        f"digest.cli.{group if group in ('db', 'worker', 'preview') else 'commands'}"
    )
    handler: Callable[[argparse.Namespace], int] = getattr(module, f"cmd_{args.handler}")
    try:
        return int(handler(args))
    except DigestError as err:
        print(f"digest: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("digest: interrupted; nothing half-done was recorded as sent", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `digest status | head -1`: the reader left; say nothing more on a closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digest",
        description="A daily email digest of new research papers, ranked for your keywords.",
    )
    parser.add_argument("--version", action="version", version=f"digest {__version__}")
    parser.add_argument(
        "--config", type=Path, help="TOML settings file (default: $DIGEST_CONFIG, else built-ins)"
    )
    parser.add_argument(
        "--log-json",
        action="store_true",
        help="write logs as JSON lines (default: readable lines; or [logging] format)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = commands.add_parser(
        "preview",
        help="rank today's papers for a profile and write the email to files; sends nothing",
        description="Rank today's papers for a profile and write digest.html, digest.txt and "
        "digest.eml. Nothing is sent and nothing is marked as seen.",
    )
    _profile_options(p)
    p.add_argument("--email", help="preview for this subscriber (their profile and history)")
    p.add_argument("--from", dest="snapshot", type=Path, help="read saved listings from DIR")
    p.add_argument("--out", type=Path, default=Path("preview"), help="output folder (./preview)")
    p.add_argument("--top", type=int, default=10, help="papers to list in the terminal (10)")
    p.add_argument("--send-to", help="also mail the preview to this one address (ledger untouched)")
    _now_option(p)
    # a module of its own: a preview imports none of the jobs that fetch, store or send
    p.set_defaults(handler="preview", handlers="preview")

    p = commands.add_parser("fetch", help="fetch today's listings and save them for later previews")
    p.add_argument("--save", type=Path, required=True, help="folder to write the listings into")
    _now_option(p)
    p.set_defaults(handler="fetch")

    p = commands.add_parser("subscribe", help="add a subscriber, or change their profile")
    p.add_argument("email")
    _profile_options(p)
    p.add_argument("--at", help="delivery time, HH:MM in --tz (new subscribers: 07:00)")
    p.add_argument("--tz", help="IANA time zone, e.g. Europe/Berlin (new subscribers: UTC)")
    p.add_argument(
        "--replace",
        action="store_true",
        help="replace the whole profile of an existing subscriber (default: change only "
        "what is given)",
    )
    p.set_defaults(handler="subscribe")

    p = commands.add_parser("unsubscribe", help="stop sending to an address")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("email", nargs="?")
    who.add_argument("--token", help="the signed token from an unsubscribe link")
    who.add_argument(
        "--mail",
        action="store_true",
        help="read an email on stdin (sent to [email] unsubscribe_mailto) and unsubscribe "
        "the address its signed subject names: for a mail server's pipe alias",
    )
    p.set_defaults(handler="unsubscribe")

    p = commands.add_parser(
        "subscribers", help="list subscribers, their state (pending, active, paused) and profiles"
    )
    p.add_argument("--all", action="store_true", help="include unsubscribed addresses")
    p.set_defaults(handler="subscribers")

    p = commands.add_parser(
        "feedback", help="record a subscriber's vote on a paper (as the email's links do)"
    )
    p.add_argument("email")
    p.add_argument("paper_id", metavar="PAPER_ID", help="e.g. 2411.12345")
    p.add_argument("vote", choices=("up", "down", "undo"), help="up: more like this; down: not")
    p.set_defaults(handler="feedback")

    p = commands.add_parser(
        "serve", help="run the subscriber's web pages (host and port from [web])"
    )
    p.add_argument("--host", help="listen on this address (default: [web] host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen on this port (default: [web] port, 8080)")
    p.set_defaults(handler="serve")

    p = commands.add_parser("run", help="the daily job once: fetch, rank, mail every subscriber")
    _now_option(p)
    p.set_defaults(handler="run")

    p = commands.add_parser(
        "tick",
        help="mail the digests that are due by each subscriber's own clock (no fetching)",
        description="Compose the digests whose delivery time has come in each subscriber's "
        "time zone and send every pending message. The scheduler does this every few minutes.",
    )
    p.add_argument(
        "--fetch",
        action="store_true",
        help="fetch the listings first (skipped if another process is fetching)",
    )
    _now_option(p)
    p.set_defaults(handler="tick")

    p = commands.add_parser("retry", help="re-attempt deliveries that failed")
    p.set_defaults(handler="retry")

    p = commands.add_parser(
        "status", help="recent runs, source health, pending deliveries, next deliveries"
    )
    p.add_argument("--runs", type=int, default=5, help="how many recent runs to show (5)")
    _now_option(p)
    p.set_defaults(handler="status")
    _db_commands(commands)
    p = commands.add_parser(
        "worker",
        help="one of many workers sharing a database: fetch once, compose batches, send",
        description="Run passes until stopped (SIGTERM: the message in flight finishes): "
        "release dead local workers' claims, fetch when due (once across all workers), compose "
        "the due digests in batches of subscribers no other worker holds, send what is pending.",
    )
    p.add_argument("--until-done", action="store_true", help="exit once nothing is left to do")
    p.add_argument("--batch", type=int, default=200, help="subscribers per compose batch (200)")
    p.add_argument("--pause", type=float, default=5.0, help="seconds between passes (5)")
    p.add_argument("--no-fetch", action="store_true", help="never fetch; compose and send only")
    p.add_argument(
        "--now", metavar="WHEN", help="start the clock at this moment; it runs on from there"
    )
    p.set_defaults(handler="worker", handlers="worker")
    return parser


def _db_commands(commands: Any) -> None:
    """`digest db ...`: the database itself (handlers in digest/cli/db.py)."""
    group = commands.add_parser(
        "db",
        help="upgrade the database, or copy an installation to another database",
        description="A database is a SQLite file (a path or sqlite:///PATH) or a PostgreSQL "
        "URL (postgresql://USER@HOST/DATABASE, password from $PGPASSWORD).",
    )
    sub = group.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    p = sub.add_parser(
        "upgrade",
        help="apply the schema migrations the database lacks (every command does at start)",
    )
    p.add_argument("url", nargs="?", help="the database (default: the configured one)")
    p.set_defaults(handler="upgrade", handlers="db")
    p = sub.add_parser(
        "copy",
        help="copy every subscriber, paper, ledger row, outbox item and run to DST",
        description="Copy every table of SRC into DST (migrated first), ids kept, verified by "
        "counting each table on both sides. Rows DST has already are left alone, so running "
        "it twice is harmless. Claims and job leases are not copied.",
    )
    p.add_argument("source", metavar="SRC")
    p.add_argument("destination", metavar="DST")
    p.set_defaults(handler="copy", handlers="db")
    p = sub.add_parser(
        "prune",
        help="empty sent messages' bodies older than [outbox] keep_days (the ledger stays)",
    )
    p.add_argument("--keep-days", type=int, help="instead of [outbox] keep_days")
    p.set_defaults(handler="prune", handlers="db")


def _profile_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--keyword",
        "-k",
        action="append",
        default=[],
        help="keyword or phrase; repeat for more (a weight may follow, see the README)",
    )
    p.add_argument("--exclude", "-x", action="append", default=[], help="drop papers with this")
    p.add_argument("--author", "-a", action="append", default=[], help="follow an author")
    p.add_argument("--category", "-c", action="append", default=[], help="arXiv category to boost")
    p.add_argument("--profile", type=Path, help="a profile TOML file (see config/profiles/)")
    p.add_argument(
        "--describe",
        metavar="SENTENCE",
        help="your interest in one sentence, for matching by meaning ([semantic] extra)",
    )


def _now_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--now",
        metavar="WHEN",
        help="act as if it were this moment (re-run a given day): YYYY-MM-DD (noon in the "
        "[digest] timezone) or an ISO date and time (UTC unless it has an offset)",
    )
