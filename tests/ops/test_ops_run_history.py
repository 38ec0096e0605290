"""Which unfinished runs a job ends when it starts, on a real SQLite file: those of this
host whose process is gone, and those this very process left behind in an earlier job (a
service whose tick failed on a full disk keeps running); never a live process's, nor one of
another host, whose pid means nothing here."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

from support.installation import Installation
from support.stores import opened_store

from digest.jobs.dead import this_host
from digest.jobs.history import run_notes
from digest.jobs.service import tick_job
from digest.store.roles import RunState

NOON = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def finished_child() -> int:
    """The pid of a process of this host that has ended (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_job_ends_the_runs_left_by_gone_processes_and_by_itself_only(
    ops_installation: Installation,
) -> None:
    settings = ops_installation.settings
    here, notes = this_host(), run_notes(settings)
    with opened_store(settings.database) as store:
        day = NOON.date()
        dead = store.start_run(kind="run", started=NOON, day=day, host=here, pid=finished_child())
        ours = store.start_run(kind="tick", started=NOON, day=day, host=here, pid=os.getpid())
        live = store.start_run(kind="run", started=NOON, day=day, host=here, pid=os.getppid())
        elsewhere = store.start_run(kind="run", started=NOON, day=day, host="other-box", pid=1)
    # Our own earlier job failed and could not record why: its note kept the reason.
    descriptor = notes.reserve(ours)
    assert descriptor is not None
    assert notes.write(descriptor, "/data/digest.sqlite3: the disk is full (0 KiB free)")
    os.close(descriptor)

    tick_job(settings, clock=lambda: NOON + dt.timedelta(minutes=5))

    with opened_store(settings.database) as store:
        runs = {run.id: run for run in store.recent_runs(10)}
    assert runs[dead].state is RunState.INTERRUPTED
    assert "is gone: the run ended without finishing" in runs[dead].report.errors[0]
    assert runs[ours].state is RunState.FAILED
    assert runs[ours].report.errors == ("/data/digest.sqlite3: the disk is full (0 KiB free)",)
    assert runs[ours].report.finished == NOON + dt.timedelta(minutes=5)
    assert not notes.path(ours).exists()
    assert runs[live].state is RunState.RUNNING
    assert runs[elsewhere].state is RunState.RUNNING
