"""A job's entry in the run history: written RUNNING with this host and pid when the job
starts, ended with its report when it ends, so a run that is killed is still there (the
next job on this host finds its process gone and ends it as interrupted, see
digest.jobs.dead), and a run that fails on an error is recorded as failed with the reason,
through a run note when the store itself refused (digest.jobs.runnotes).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from digest.config.settings import Settings
from digest.deliver.delivery import host_id
from digest.errors import DigestError, StoreError
from digest.jobs.context import RunContext
from digest.jobs.ingest import listing_day
from digest.jobs.runnotes import RunNotes, close_note
from digest.models import RunReport
from digest.store.roles import RunState
from digest.util.logs import event

log = logging.getLogger("digest.history")


# The runs this process is recording now: a RUNNING run of this pid that is not among them
# failed in an earlier job of this same process (a service's tick that met a full disk).
_ACTIVE: set[int] = set()


def active_here() -> frozenset[int]:
    return frozenset(_ACTIVE)


def run_notes(settings: Settings) -> RunNotes:
    return RunNotes(settings.data_dir / "runs")


@dataclass
class Run:
    """A run being recorded. `idle` (a tick that found nothing to do) drops it at the end:
    an idle tick is not history."""

    kind: str
    started: dt.datetime
    id: int
    note: int | None  # the reserved note's descriptor
    idle: bool = False
    ended: bool = False


@contextmanager
def recorded_run(ctx: RunContext, kind: str, started: dt.datetime) -> Iterator[Run]:
    """Write the run as RUNNING, yield it, and make sure it ends: FAILED with the reason if
    the block raises a DigestError, INTERRUPTED on Ctrl-C."""
    store, notes = ctx.store, run_notes(ctx.settings)
    day = listing_day(ctx.settings, started)
    run_id = store.start_run(kind=kind, started=started, day=day, host=host_id(), pid=os.getpid())
    run = Run(kind, started, run_id, notes.reserve(run_id))
    kept = False
    _ACTIVE.add(run_id)
    try:
        yield run
        if run.idle and not run.ended:
            store.discard_run(run.id)
    except DigestError as err:
        kept = _fail(ctx, run, str(err), RunState.FAILED)
        raise
    except KeyboardInterrupt:
        kept = _fail(ctx, run, "interrupted (Ctrl-C)", RunState.INTERRUPTED)
        raise
    finally:
        _ACTIVE.discard(run_id)
        close_note(run.note)
        if not kept:
            notes.discard(run.id)


def end_recorded(ctx: RunContext, run: Run, report: RunReport, alert: str) -> None:
    ctx.store.end_run(run.id, report, state=RunState.FINISHED, alert=alert)
    run.ended = True


def _fail(ctx: RunContext, run: Run, reason: str, state: RunState) -> bool:
    """End the run with `reason`; True when the store refused and the note kept it instead."""
    report = RunReport(
        started=run.started,
        finished=ctx.clock(),
        day=listing_day(ctx.settings, run.started),
        errors=(reason,),
    )
    try:
        ctx.store.end_run(run.id, report, state=state)
        return False
    except StoreError as err:
        kept = run.note is not None and RunNotes.write(run.note, reason)
        event(
            log,
            "run_not_recorded",
            f"could not record the {run.kind} as {state.value} ({err}); "
            + ("kept the reason for the next run" if kept else "the next run records it"),
            level=logging.ERROR,
            run=run.id,
        )
        return kept
