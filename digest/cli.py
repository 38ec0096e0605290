"""The `digest` command: small subcommands over the pipeline's functions.

Exit codes: 0 success; 1 the run finished but a source or a delivery failed; 2 bad input
(configuration, profile, address, arguments).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
import textwrap
import threading
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from zoneinfo import ZoneInfo

from digest import __version__
from digest.collect.fetch import Fetcher
from digest.collect.listings import Collected, collect, listing_requests
from digest.collect.snapshot import load_snapshot, save_snapshot, snapshot_reader, snapshot_requests
from digest.compose.tokens import verify_unsubscribe_token
from digest.config.addresses import validate_address
from digest.config.load import load_settings
from digest.config.profiles import load_profile, profile_from_options
from digest.config.settings import Settings, check_timezone, parse_clock
from digest.deliver.delivery import deliver_pending, utc_now
from digest.errors import DigestError
from digest.jobs.pipeline import (
    compose_message,
    followed_categories,
    preview,
    run_day,
    signing_secret,
)
from digest.jobs.schedule import due_subscribers, local_dates, next_delivery, next_fetch
from digest.jobs.service import (
    fetch_job,
    fetcher_reader,
    run_job,
    sender_factory,
    stop_on_signals,
    tick_job,
)
from digest.models import (
    DeliveryState,
    Digest,
    Profile,
    RunReport,
    SourceOutcome,
    SourceState,
    Subscriber,
)
from digest.store.roles import RunRecord
from digest.store.sqlite import SqliteStore
from digest.util.logs import setup_logging
from digest.util.progress import Progress, silent

__all__ = ["build_parser", "fetcher_reader", "main", "sender_factory"]

Out = Callable[[str], None]


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except DigestError as err:
        print(f"digest: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("digest: interrupted; nothing half-done was recorded as sent", file=sys.stderr)
        return 130


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
    p.set_defaults(handler=cmd_preview)

    p = commands.add_parser("fetch", help="fetch today's listings and save them for later previews")
    p.add_argument("--save", type=Path, required=True, help="folder to write the listings into")
    p.set_defaults(handler=cmd_fetch)

    p = commands.add_parser("subscribe", help="add a subscriber, or change their profile")
    p.add_argument("email")
    _profile_options(p)
    p.add_argument("--at", default="07:00", help="delivery time, HH:MM in --tz (07:00)")
    p.add_argument("--tz", default="UTC", help="IANA time zone, e.g. Europe/Berlin (UTC)")
    p.set_defaults(handler=cmd_subscribe)

    p = commands.add_parser("unsubscribe", help="stop sending to an address")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("email", nargs="?")
    who.add_argument("--token", help="the signed token from an unsubscribe link")
    p.set_defaults(handler=cmd_unsubscribe)

    p = commands.add_parser("subscribers", help="list subscribers and their profiles")
    p.add_argument("--all", action="store_true", help="include unsubscribed addresses")
    p.set_defaults(handler=cmd_subscribers)

    p = commands.add_parser("run", help="the daily job once: fetch, rank, mail every subscriber")
    p.set_defaults(handler=cmd_run)

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
    p.set_defaults(handler=cmd_tick)

    p = commands.add_parser("retry", help="re-attempt deliveries that failed")
    p.set_defaults(handler=cmd_retry)

    p = commands.add_parser(
        "status", help="recent runs, source health, pending deliveries, next deliveries"
    )
    p.add_argument("--runs", type=int, default=5, help="how many recent runs to show (5)")
    p.set_defaults(handler=cmd_status)
    return parser


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


def _profile_from_args(args: argparse.Namespace) -> Profile | None:
    has_options = args.keyword or args.exclude or args.author or args.category
    if args.profile and has_options:
        raise DigestError("give either --profile or --keyword/--exclude/--author/--category")
    if args.profile:
        return load_profile(args.profile)
    if has_options:
        profile = profile_from_options(
            args.keyword, exclude=args.exclude, authors=args.author, categories=args.category
        )
        # One sentence of interest: what semantic matching embeds besides the keywords.
        return dataclasses.replace(profile, description=args.describe or "")
    if args.describe:
        raise DigestError("--describe goes with --keyword (a profile file has `description`)")
    return None


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config)
    json_lines = getattr(args, "log_json", False) or settings.logging.format == "json"
    setup_logging(json_lines=json_lines, level=settings.logging.level)
    return settings


def _open_store(settings: Settings) -> SqliteStore:
    return SqliteStore.open(settings.database)


def _interactive() -> bool:
    return sys.stderr.isatty()


# --- commands -----------------------------------------------------------------------------


def cmd_preview(args: argparse.Namespace, out: Out = print) -> int:
    settings = _settings(args)
    now = utc_now()
    profile = _profile_from_args(args)
    store = None
    subscriber: Subscriber
    if args.email:
        store = SqliteStore.open_readonly(settings.database)
        found = store.subscriber(validate_address(args.email))
        if found is None:
            raise DigestError(f"{args.email}: no such subscriber in {settings.database}")
        subscriber = (
            found
            if profile is None
            else Subscriber(email=found.email, profile=profile, id=found.id)
        )
    elif profile is None:
        raise DigestError(
            "say whose digest to preview: --keyword/--author/--category, --profile FILE "
            "or --email ADDRESS"
        )
    else:
        subscriber = Subscriber(email="preview@example.org", profile=profile)
    try:
        collected = _collect_for_preview(settings, args.snapshot, subscriber, now)
        result = preview(settings, subscriber, collected, now=now, store=store)
    finally:
        if store is not None:
            store.close()

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "digest.html").write_text(result.rendered.html, encoding="utf-8")
    (args.out / "digest.txt").write_text(result.rendered.text, encoding="utf-8")
    (args.out / "digest.eml").write_bytes(result.message)
    _print_preview(result.digest, collected, args.top, out)
    if result.note:
        out(f"Note: {result.note}")
    out(f"Wrote {args.out / 'digest.html'}, digest.txt and digest.eml. Nothing was sent.")
    if args.send_to:
        address = validate_address(args.send_to)
        # Addressed to whoever reads it; its unsubscribe link is signed with a throwaway key,
        # so forwarding a preview can never unsubscribe the subscriber it was made for.
        _, message = compose_message(
            settings,
            Subscriber(email=address, profile=subscriber.profile),
            result.digest.day,
            result.rendered,
            now,
            signing_secret(settings, None),
        )
        with sender_factory(settings)() as transport:
            transport.send(settings.email.sender, address, message)
        out(f"Sent the preview to {address} (nothing recorded as sent).")
    return 0


def _collect_for_preview(
    settings: Settings, snapshot: Path | None, subscriber: Subscriber, now: dt.datetime
) -> Collected:
    day = run_day(settings, now)
    if snapshot is not None:
        saved = load_snapshot(snapshot)
        requests = snapshot_requests(saved)
        listing_day = max((r.day for r in requests), default=day)
        return collect(
            requests, snapshot_reader(saved), today=listing_day, holidays=settings.arxiv_holidays
        )
    requests = listing_requests(
        settings.sources, day, categories=followed_categories([subscriber]), catchup_days=0
    )
    with Fetcher(settings.fetch) as fetcher:
        return collect(
            requests, fetcher_reader(fetcher), today=day, holidays=settings.arxiv_holidays
        )


def _print_preview(digest: Digest, collected: Collected, top: int, out: Out) -> None:
    out(f"Digest for {digest.subscriber.profile.summary()} - {digest.day:%a %d %b %Y}")
    out("Sources: " + "; ".join(_source_line(s) for s in collected.outcomes))
    out(
        f"{digest.matched_count} of {digest.seen_count} new papers matched; "
        f"{len(digest.papers)} in the email."
    )
    for number, ranked in enumerate(digest.papers[:top], start=1):
        title = textwrap.shorten(ranked.paper.title, 78, placeholder="...")
        out(f"{number:3}. {ranked.score:6.2f}  {title}")
        if ranked.matched_terms:
            out(f"             matched: {', '.join(ranked.matched_terms)}")


def _source_line(outcome: SourceOutcome) -> str:
    if outcome.state is SourceState.OK:
        return f"{outcome.name} ok ({outcome.papers} papers)"
    if outcome.state is SourceState.FAILED:
        return f"{outcome.name} FAILED: {outcome.detail}"
    return f"{outcome.name} {outcome.detail or outcome.state.value}"


def cmd_fetch(args: argparse.Namespace, out: Out = print) -> int:
    settings = _settings(args)
    day = run_day(settings, utc_now())
    categories: tuple[str, ...] = ()
    if settings.database.exists():
        with closing(SqliteStore.open_readonly(settings.database)) as store:
            categories = followed_categories(store.subscribers())
    requests = listing_requests(settings.sources, day, categories=categories, catchup_days=0)
    with Fetcher(settings.fetch) as fetcher:
        collected = collect(
            requests, fetcher_reader(fetcher), today=day, holidays=settings.arxiv_holidays
        )
    written = save_snapshot(args.save, list(collected.listings))
    for outcome in collected.outcomes:
        out(_source_line(outcome))
    out(f"Saved {len(written)} listings to {args.save}")
    return 0 if all(o.state is not SourceState.FAILED for o in collected.outcomes) else 1


def cmd_subscribe(args: argparse.Namespace, out: Out = print) -> int:
    settings = _settings(args)
    email = validate_address(args.email)
    profile = _profile_from_args(args)
    if profile is None:
        raise DigestError(f"{email}: give a profile: --keyword/--author/--category or --profile")
    check_profile_sources(profile, settings, who=email)
    try:
        deliver_at = parse_clock(args.at)
        timezone = check_timezone(args.tz)
    except ValueError as err:
        raise DigestError(f"{email}: {err}") from err
    with closing(_open_store(settings)) as store:
        existed = store.subscriber(email) is not None
        saved = store.save_subscriber(
            Subscriber(email=email, profile=profile, deliver_at=deliver_at, timezone=timezone)
        )
    verb = "Updated" if existed else "Subscribed"
    out(f"{verb} {saved.email}: {saved.profile.summary()}")
    out(f"Delivery at {saved.deliver_at:%H:%M} {saved.timezone}.")
    return 0


def check_profile_sources(profile: Profile, settings: Settings, *, who: str) -> None:
    """A profile naming a source the configuration lacks would silently get nothing from it."""
    configured = [source.name for source in settings.sources]
    unknown = [name for name in profile.sources if name not in configured]
    if unknown:
        raise DigestError(
            f"{who}: the profile asks for source {', '.join(map(repr, unknown))}, which the "
            f"configuration does not have (configured: {', '.join(configured)})"
        )


def cmd_unsubscribe(args: argparse.Namespace, out: Out = print) -> int:
    settings = _settings(args)
    with closing(_open_store(settings)) as store:
        if args.token:
            email = verify_unsubscribe_token(signing_secret(settings, store), args.token)
        else:
            email = validate_address(args.email)
        removed = store.deactivate_subscriber(email)
    out(f"Unsubscribed {email}." if removed else f"{email} was not subscribed.")
    return 0


def cmd_subscribers(args: argparse.Namespace, out: Out = print) -> int:
    settings = _settings(args)
    with closing(_open_store(settings)) as store:
        people = store.subscribers(active_only=not args.all)
    if not people:
        out("No subscribers yet. Add one with: digest subscribe EMAIL --keyword ...")
    for person in people:
        flag = "" if person.active else " (unsubscribed)"
        out(f"{person.email}{flag}  at {person.deliver_at:%H:%M} {person.timezone}")
        out(f"    {person.profile.summary()}")
    return 0


def cmd_run(args: argparse.Namespace, out: Out = print) -> int:
    settings = _settings(args)
    with stop_on_signals(threading.Event()) as stop:
        report = run_job(settings, stop=stop, interactive=_interactive())
    print_report(report, out)
    return _exit_status(report, stop)


def cmd_tick(args: argparse.Namespace, out: Out = print) -> int:
    settings = _settings(args)
    fetched = None
    with stop_on_signals(threading.Event()) as stop:
        if args.fetch:
            fetched = fetch_job(settings, interactive=_interactive())
        report = tick_job(settings, stop=stop, interactive=_interactive())
    if fetched is not None:
        for source in fetched.sources:
            out(f"  source {_source_line(source)}")
    print_report(report, out, sources=False)
    status = _exit_status(report, stop)
    return status or (0 if fetched is None or fetched.ok else 1)


def _exit_status(report: RunReport, stop: threading.Event) -> int:
    if stop.is_set():
        out_err = "digest: stopped on request; unsent digests stay pending for the next run"
        print(out_err, file=sys.stderr)
        return 130 if report.ok else 1
    return 0 if report.ok else 1


def cmd_retry(args: argparse.Namespace, out: Out = print) -> int:
    settings = _settings(args)
    with closing(_open_store(settings)) as store, stop_on_signals(threading.Event()) as stop:
        requeued = store.requeue_failed()
        total = store.pending_count()
        progress = Progress("sending", total) if _interactive() and total else silent()
        outcomes = deliver_pending(
            store,
            sender_factory(settings),
            settings.email.sender,
            stop=stop,
            lease_seconds=settings.schedule.lease_seconds,
            progress=progress,
        )
    out(f"Re-queued {requeued} failed deliveries.")
    for outcome in outcomes:
        out(f"  {outcome.recipient}: {outcome.state.value} {outcome.detail}".rstrip())
    return 0 if all(o.state is DeliveryState.SENT for o in outcomes) else 1


def cmd_status(args: argparse.Namespace, out: Out = print) -> int:
    settings = _settings(args)
    if not settings.database.exists():
        out(f"No database at {settings.database} yet.")
        return 0
    now = utc_now()
    with closing(SqliteStore.open_readonly(settings.database)) as store:
        runs = store.recent_runs(args.runs)
        pending, failed = store.pending(), store.failed()
        claims = store.claims()
        records = [store.source_record(s.name) for s in settings.sources]
        subscribers = store.subscribers()
        composed = store.digest_days(local_dates(subscribers, now))
    out("Recent runs:" if runs else "No runs yet.")
    for run in runs:
        out("  " + _run_line(run))
        if run.alert:
            out(f"      operator alert: {run.alert}")
    out("Sources:")
    for source, record in zip(settings.sources, records, strict=True):
        if record is None:
            out(f"  {source.name}: never fetched")
        else:
            out(
                f"  {source.name}: {record.last_state.value if record.last_state else '?'} "
                f"{record.last_detail} (last good day {record.last_ok_day or 'never'})".rstrip()
            )
    zone = settings.schedule.fetch_zone
    fetch_at = next_fetch(settings.schedule.fetch_at, zone, now)
    out(f"Next fetch: {fetch_at.astimezone(zone):%a %d %b %H:%M %Z} (scheduler)")
    out(f"Pending deliveries: {len(pending)}; failed: {len(failed)}")
    for claim in claims:
        out(f"  {claim.recipient}: being sent by {claim.owner} (claim ends {claim.until:%H:%M:%S})")
    for item in failed:
        out(f"  failed {item.recipient} ({item.day}): {item.last_error}")
    _print_next_deliveries(subscribers, composed, now, out)
    return 0


def _run_line(run: RunRecord) -> str:
    report = run.report
    sent = sum(1 for d in report.deliveries if d.state is DeliveryState.SENT)
    failed = len(report.deliveries) - sent
    source_text = ", ".join(f"{s.name} {s.state.value} ({s.papers})" for s in report.sources)
    mark = "ok" if report.ok else "PROBLEMS"
    started = report.started.isoformat(timespec="seconds")
    parts = [started, f"{run.kind:5}", mark, f"{sent} sent"]
    if failed:
        parts.append(f"{failed} failed")
    if source_text:
        parts.append(f"sources: {source_text}")
    if report.errors:
        parts.append(f"{len(report.errors)} errors")
    return "  ".join(parts)


def _print_next_deliveries(
    subscribers: Sequence[Subscriber],
    composed: set[tuple[int, dt.date]],
    now: dt.datetime,
    out: Out,
    limit: int = 10,
) -> None:
    if not subscribers:
        return
    due = due_subscribers(subscribers, now, lambda s, day: (s.id, day) in composed)
    upcoming = sorted(
        ((next_delivery(s, now), s) for s in subscribers if s not in due),
        key=lambda pair: pair[0],
    )
    out(f"Next deliveries ({len(due)} due at the next tick):")
    for subscriber in due[:limit]:
        out(f"  now    {subscriber.email}")
    for moment, subscriber in upcoming[: max(0, limit - len(due))]:
        local = moment.astimezone(ZoneInfo(subscriber.timezone))
        out(
            f"  {moment:%a %d %b %H:%M} UTC  {subscriber.email} "
            f"({local:%H:%M} {subscriber.timezone})"
        )
    hidden = len(subscribers) - min(len(subscribers), limit)
    if hidden > 0:
        out(f"  ... and {hidden} more")


def print_report(report: RunReport, out: Out = print, *, sources: bool = True) -> None:
    out(f"Run for {report.day:%a %d %b %Y}: {'ok' if report.ok else 'finished with problems'}")
    for source in report.sources if sources else ():
        out(f"  source {_source_line(source)}")
    sent = [d for d in report.deliveries if d.state.value == "sent"]
    failed = [d for d in report.deliveries if d.state.value != "sent"]
    out(f"  delivered {len(sent)} digests" + (f", {len(failed)} failed" if failed else ""))
    for delivery in failed:
        out(f"  delivery to {delivery.recipient} failed: {delivery.detail}")
    for error in report.errors:
        out(f"  error: {error}")
    for note in report.notes:
        out(f"  note: {note}")


if __name__ == "__main__":
    raise SystemExit(main())
