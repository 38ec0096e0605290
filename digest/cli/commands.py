"""The subcommands: each reads its arguments, calls a job or the store, and prints the result."""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import sys
import threading
from contextlib import closing

from digest.cli.files import output_folder, without_links
from digest.cli.options import clock_of, profile_from_args, progress_sink, settings_of
from digest.cli.printing import (
    Out,
    print_next_deliveries,
    print_report,
    print_undelivered,
    run_line,
    source_line,
)
from digest.config.addresses import validate_address
from digest.config.profiles import (
    load_profile,
    load_profile_data,
    merge_profile_data,
    profile_from_options,
    profile_to_data,
)
from digest.config.settings import check_timezone, parse_clock
from digest.config.tomlfile import load_toml
from digest.errors import DigestError
from digest.jobs.context import utc_now
from digest.jobs.dead import gone_here, gone_text, this_host
from digest.jobs.history import run_notes
from digest.jobs.runnotes import RunNotes
from digest.jobs.schedule import local_dates, next_fetch
from digest.jobs.sending import window_notes
from digest.jobs.signals import stop_on_signals
from digest.models import Profile, RunReport, SourceState, Subscriber
from digest.store import open_store
from digest.store.roles import RunRecord, RunState, SubscriberState

# The jobs behind commands other than `preview` (fetching, sending, subscriptions) are
# imported by the commands that use them: each command loads only what it needs.


# --- commands -----------------------------------------------------------------------------


def cmd_fetch(args: argparse.Namespace, out: Out = print) -> int:
    from digest.jobs.service import save_job

    settings = settings_of(args)
    folder = without_links(output_folder(args.save, "--save"), "--save")
    collected, written = save_job(settings, folder, clock=clock_of(args, settings))
    for outcome in collected.outcomes:
        out(source_line(outcome))
    out(f"Saved {len(written)} listings to {args.save}")
    return 0 if all(o.state is not SourceState.FAILED for o in collected.outcomes) else 1


def _changed_profile(args: argparse.Namespace, old: Profile) -> Profile:
    """An existing subscriber's profile with only what the options give changed."""
    if args.profile:
        load_profile(args.profile)  # its errors, with file and line, come first
        data = merge_profile_data(profile_to_data(old), load_toml(args.profile).data)
        return load_profile_data(data, str(args.profile))
    profile = old
    if args.keyword or args.exclude or args.author or args.category:
        profile = profile_from_options(
            args.keyword,
            exclude=args.exclude,
            authors=args.author,
            categories=args.category,
            base=old,
        )
    if args.describe is not None:
        profile = dataclasses.replace(profile, description=args.describe.strip())
    return profile


def cmd_subscribe(args: argparse.Namespace, out: Out = print) -> int:
    from digest.jobs.subscriptions import check_profile_sources, describe_changes

    settings = settings_of(args)
    email = validate_address(args.email)
    with closing(open_store(settings.store_url)) as store:
        found = store.subscriber_record(email)
        old = found.subscriber if found else None
        if old is None or args.replace:
            profile = profile_from_args(args)
            if profile is None:
                raise DigestError(
                    f"{email}: give a profile: --keyword/--author/--category or --profile"
                )
        else:
            profile = _changed_profile(args, old.profile)
        check_profile_sources(profile, settings, who=email)
        try:
            deliver_at = parse_clock(args.at) if args.at else None
            timezone = check_timezone(args.tz) if args.tz else None
        except ValueError as err:
            raise DigestError(f"{email}: {err}") from err
        wanted = Subscriber(
            email=old.email if old else email,  # the spelling given first is kept
            profile=profile,
            deliver_at=deliver_at or (old.deliver_at if old else dt.time(7, 0)),
            timezone=timezone or (old.timezone if old else "UTC"),
        )
        saved = store.save_subscriber(wanted)
    if found is None:
        out(f"Subscribed {saved.email}: {saved.profile.summary()}")
        out(f"Delivery at {saved.deliver_at:%H:%M} {saved.timezone}.")
        return 0
    assert old is not None
    changes = describe_changes(old, saved)
    if found.state is not SubscriberState.ACTIVE:
        changes.insert(0, f"state: {found.state.value} -> active")
    if not changes:
        out(f"{saved.email}: nothing changed.")
    for number, change in enumerate(changes):
        out((f"Updated {saved.email}: " if number == 0 else "    ") + change)
    return 0


def cmd_unsubscribe(args: argparse.Namespace, out: Out = print) -> int:
    from digest.jobs.subscriptions import address_for_token, token_in_mail

    settings = settings_of(args)
    with closing(open_store(settings.store_url)) as store:
        if args.mail:
            email = address_for_token(settings, store, token_in_mail(sys.stdin.buffer.read()))
        elif args.token is not None:
            if not args.token.strip():
                raise DigestError("--token is empty: paste the token from the unsubscribe link")
            email = address_for_token(settings, store, args.token)
        else:
            email = validate_address(args.email)
        found = store.subscriber(email)
        removed = store.deactivate_subscriber(email)
    shown = found.email if found else email
    out(f"Unsubscribed {shown}." if removed else f"{shown} was not subscribed.")
    return 0


def cmd_subscribers(args: argparse.Namespace, out: Out = print) -> int:
    settings = settings_of(args)
    with closing(open_store(settings.store_url)) as store:
        records = [
            r
            for r in store.subscriber_records()
            if args.all or r.state is not SubscriberState.UNSUBSCRIBED
        ]
    if not records:
        out("No subscribers yet. Add one with: digest subscribe EMAIL --keyword ...")
    for record in records:
        person = record.subscriber
        out(f"{person.email}  {record.state.value}  at {person.deliver_at:%H:%M} {person.timezone}")
        out(f"    {person.profile.summary()}")
    return 0


def cmd_feedback(args: argparse.Namespace, out: Out = print) -> int:
    from digest.jobs.subscriptions import record_feedback

    settings = settings_of(args)
    with closing(open_store(settings.store_url)) as store:
        message = record_feedback(store, args.email, args.paper_id, args.vote, utc_now())
    out(message)
    return 0


def cmd_serve(args: argparse.Namespace, out: Out = print) -> int:
    settings = settings_of(args)
    from digest.web.server import serve  # the web's libraries only for this command

    serve(settings, host=args.host, port=args.port)
    return 0


def cmd_run(args: argparse.Namespace, out: Out = print) -> int:
    from digest.jobs.service import run_job

    settings = settings_of(args)
    with stop_on_signals(threading.Event()) as stop:
        report = run_job(
            settings, stop=stop, progress=progress_sink(), clock=clock_of(args, settings)
        )
    print_report(report, out)
    return _exit_status(report, stop)


def cmd_tick(args: argparse.Namespace, out: Out = print) -> int:
    from digest.jobs.service import fetch_job, tick_job

    settings = settings_of(args)
    fetched = None
    with stop_on_signals(threading.Event()) as stop:
        if args.fetch:
            fetched = fetch_job(
                settings, stop=stop, progress=progress_sink(), clock=clock_of(args, settings)
            )
        report = tick_job(
            settings, stop=stop, progress=progress_sink(), clock=clock_of(args, settings)
        )
    if fetched is not None:
        for source in fetched.sources:
            out(f"  source {source_line(source)}")
    print_report(report, out, sources=False)
    status = _exit_status(report, stop)
    return status or (0 if fetched is None or fetched.ok else 1)


def _exit_status(report: RunReport, stop: threading.Event) -> int:
    """0 when everything due was delivered; 1 when a source, a delivery or a profile failed,
    or a digest is left undelivered; 130 when stopped on request with nothing failed."""
    if stop.is_set():
        out_err = "digest: stopped on request; unsent digests stay pending for the next run"
        print(out_err, file=sys.stderr)
        return 130 if report.nothing_failed else 1
    return 0 if report.ok else 1


def cmd_retry(args: argparse.Namespace, out: Out = print) -> int:
    from digest.jobs.service import retry_job

    settings = settings_of(args)
    with stop_on_signals(threading.Event()) as stop:
        requeued, report = retry_job(settings, stop=stop, progress=progress_sink())
    out(f"Re-queued {requeued} failed deliveries.")
    for outcome in report.deliveries:
        out(f"  {outcome.recipient}: {outcome.state.value} {outcome.detail}".rstrip())
    print_undelivered(report.undelivered, out)
    return _exit_status(report, stop)


def run_state(run: RunRecord, here: str, notes: RunNotes) -> str:
    """How a run that did not simply finish stands, as `digest status` says it."""
    why = run.report.errors[0] if run.report.errors else ""
    if run.state is RunState.RUNNING:
        if not gone_here(here, run.host, run.pid):
            return f"running (process {run.pid} on host {run.host})"
        kept = notes.read(run.id) if run.id is not None else ""
        if kept:
            return f"FAILED: {kept} (recorded so at the next run)"
        return f"killed ({gone_text(run)})"
    if run.state is RunState.INTERRUPTED:
        return f"interrupted: {why}"
    if run.state is RunState.FAILED:
        return f"FAILED: {why}"
    return ""


def cmd_status(args: argparse.Namespace, out: Out = print) -> int:
    settings = settings_of(args)
    if not settings.has_database:
        out(f"No database at {settings.database_name} yet.")
        return 0
    now = clock_of(args, settings)()
    with closing(open_store(settings.store_url, readonly=True)) as store:
        runs = store.recent_runs(args.runs)
        pending, failed = store.pending(), store.failed()
        claims = store.claims()
        records = [store.source_record(s.name) for s in settings.sources]
        subscribers = store.subscribers()
        composed = store.digest_days(local_dates(subscribers, now))
        waiting = window_notes(store, settings, now)
    out("Recent runs:" if runs else "No runs yet.")
    here, notes = this_host(), run_notes(settings)
    for run in runs:
        out("  " + run_line(run, run_state(run, here, notes)))
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
    for note in waiting:
        out(f"  {note}")
    for claim in claims:
        out(f"  {claim.recipient}: being sent by {claim.owner} (claim ends {claim.until:%H:%M:%S})")
    for item in failed:
        out(f"  failed {item.recipient} ({item.day}): {item.last_error}")
    print_next_deliveries(subscribers, composed, now, out)
    return 0
