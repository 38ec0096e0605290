"""How the command line prints what the jobs returned: previews, run reports, the status."""

from __future__ import annotations

import datetime as dt
import textwrap
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

from digest.models import (
    DeliveryState,
    Digest,
    RenderedDigest,
    RunReport,
    SourceOutcome,
    SourceState,
    Subscriber,
    Undelivered,
)
from digest.store.roles import RunRecord

Out = Callable[[str], None]


def print_preview(
    digest: Digest,
    sources: Sequence[SourceOutcome],
    top: int,
    out: Out,
    rendered: RenderedDigest | None = None,
) -> None:
    out(f"Digest for {digest.subscriber.profile.summary()} - {digest.day:%a %d %b %Y}")
    mine = {name: (new, updated) for name, new, updated in digest.source_counts}
    out("Sources: " + "; ".join(source_line(s, mine.get(s.name)) for s in sources))
    out(f"{digest.new_matched} of {digest.seen_count} new papers matched{_apart(digest)}.")
    listed = len(rendered.paper_ids) if rendered else len(digest.all_papers)
    full = rendered.full_count if rendered else len(digest.papers)
    line = f"The email shows {full} in full" + (
        f", {listed - full} by title" if listed > full else ""
    )
    unlisted = max(digest.matched_count, len(digest.all_papers)) - listed
    if unlisted > 0:
        line += f"; {unlisted} more matched and would come in a later digest"
    out(line + ".")
    for number, ranked in enumerate(digest.papers[:top], start=1):
        title = textwrap.shorten(ranked.paper.title, 78, placeholder="...")
        out(f"{number:3}. {ranked.score:6.2f}  {title}")
        if ranked.matched_terms:
            out(f"             matched: {', '.join(ranked.matched_terms)}")


def _apart(digest: Digest) -> str:
    """', plus 2 from earlier days and 1 updated': matches that are not new papers."""
    parts = []
    if digest.held_count:
        parts.append(f"{digest.held_count} from earlier days")
    if digest.updated_count:
        parts.append(f"{digest.updated_count} updated")
    return (", plus " + " and ".join(parts)) if parts else ""


def source_line(outcome: SourceOutcome, mine: tuple[int, int] | None = None) -> str:
    """With `mine` (new, updated for one reader): what the listing carried, and what of it
    is new to that reader."""
    if outcome.state is SourceState.OK:
        listed = f"{outcome.name} ok ({outcome.papers} papers)"
        if mine is None:
            return listed
        updated = f", {mine[1]} updated" if mine[1] else ""
        return f"{listed}: {mine[0]} new to you{updated}"
    if outcome.state is SourceState.FAILED:
        return f"{outcome.name} FAILED: {outcome.detail}"
    return f"{outcome.name} {outcome.detail or outcome.state.value}"


def run_line(run: RunRecord, state: str = "") -> str:
    """One run of the history; `state` says how a run that did not simply finish stands
    (running, killed, interrupted, failed), else it is "ok" or "PROBLEMS"."""
    report = run.report
    sent = sum(1 for d in report.deliveries if d.state is DeliveryState.SENT)
    failed = len(report.deliveries) - sent
    source_text = ", ".join(f"{s.name} {s.state.value} ({s.papers})" for s in report.sources)
    mark = state or ("ok" if report.ok else "PROBLEMS")
    started = report.started.isoformat(timespec="seconds")
    parts = [started, f"{run.kind:5}", mark]
    if not state or report.deliveries:
        parts.append(f"{sent} sent")
    if failed:
        parts.append(f"{failed} failed")
    if report.left_behind:
        parts.append(f"{len(report.left_behind)} left undelivered")
    if source_text:
        parts.append(f"sources: {source_text}")
    if report.errors and not state:
        parts.append(f"{len(report.errors)} errors")
    return "  ".join(parts)


def print_next_deliveries(
    subscribers: Sequence[Subscriber],
    composed: set[tuple[int, dt.date]],
    now: dt.datetime,
    out: Out,
    limit: int = 10,
) -> None:
    if not subscribers:
        return
    from digest.jobs.schedule import due_subscribers, next_delivery  # (`digest status` only)

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
        out(f"  source {source_line(source)}")
    sent = [d for d in report.deliveries if d.state is DeliveryState.SENT]
    failed = [d for d in report.deliveries if d.state is not DeliveryState.SENT]
    out(f"  delivered {len(sent)} digests" + (f", {len(failed)} failed" if failed else ""))
    for delivery in failed:
        out(f"  delivery to {delivery.recipient} failed: {delivery.detail}")
    print_undelivered(report.undelivered, out)
    for error in report.errors:
        out(f"  error: {error}")
    for note in report.notes:
        out(f"  note: {note}")


UNREACHABLE = "server unreachable"
NAMED_IN_ONE_LINE = 5  # addresses named on the "server unreachable" line


def print_undelivered(left: Sequence[Undelivered], out: Out) -> None:
    """Every digest left undelivered, one line each; those left pending because the server
    was unreachable in one line, with their number."""
    if not left:
        return
    out(f"  {len(left)} digest(s) left undelivered:")
    unreachable = [u for u in left if u.detail.startswith(UNREACHABLE)]
    if unreachable:
        names = ", ".join(u.recipient for u in unreachable[:NAMED_IN_ONE_LINE])
        more = len(unreachable) - NAMED_IN_ONE_LINE
        why = unreachable[0].detail.partition(";")[0]
        out(
            f"    {why}: {len(unreachable)} left pending, sent at the next run ({names}"
            + (f" and {more} more)" if more > 0 else ")")
        )
    for item in left:
        if item not in unreachable:
            out(f"    {item.recipient} ({item.day}): {item.detail}")
