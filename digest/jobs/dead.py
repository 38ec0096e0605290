"""What a process that is gone left held on this host, given back at once: its outbox claims
(the messages go back to the pool instead of waiting out the lease), its job leases, and its
run in the history, which is ended as interrupted (or as failed, with the reason it kept in a
run note when the store could not take it). Every job calls this first, and workers after
each pass too.

Only processes of this host are judged (a pid means nothing elsewhere); a claim of another
host ends when its lease does.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Protocol

from digest.deliver.delivery import claim_process, host_id
from digest.jobs.history import active_here
from digest.jobs.runnotes import RunNotes
from digest.models import RunReport
from digest.store.roles import Operations, Outbox, RunRecord, RunState
from digest.util.logs import event

log = logging.getLogger("digest.dead")


def this_host() -> str:
    """The host id claims and runs of this machine carry ($DIGEST_HOST_ID, else its name)."""
    return host_id()


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


def gone_here(host: str, found_host: str, pid: int) -> bool:
    """The process `pid` of `found_host` is known to be gone: it ran on this host, and no
    process has that pid now."""
    return found_host == host and pid > 0 and not process_alive(pid)


class ClaimsLeasesRuns(Outbox, Operations, Protocol):
    pass


def release_dead_claims(store: ClaimsLeasesRuns, host: str) -> int:
    """Give back every claim and job lease held by a process of this host that no longer
    runs; the number of claims given back."""
    released = 0
    for owner in {claim.owner for claim in store.claims()}:
        found = claim_process(owner)
        if found is not None and gone_here(host, *found):
            released += store.release_claims(owner)
            event(log, "claims_released", f"released the claims of dead process {owner}")
    # Its job leases too (a fetch, a batch it was composing): taken up now, not when the
    # lease runs out.
    for lease in store.leases():
        found = claim_process(lease.owner)
        if found is not None and gone_here(host, *found):
            store.release_lease(lease.name, lease.owner)
            event(log, "lease_released", f"released {lease.name} of dead process {lease.owner}")
    return released


def release_own_leases(store: Operations, owner: str) -> int:
    """Give back every lease `owner` (this live worker) still holds: a release that failed
    while the database was unreachable (a restart mid-pass) left it behind, to block its
    batch until it ran out. The number given back."""
    mine = [lease for lease in store.leases() if lease.owner == owner]
    for lease in mine:
        store.release_lease(lease.name, owner)
        event(log, "lease_released", f"released {lease.name}, left by a failed release")
    return len(mine)


def end_dead_runs(
    store: Operations, host: str, now: dt.datetime, notes: RunNotes | None = None
) -> list[RunRecord]:
    """End every RUNNING run whose process is gone from this host: FAILED with the reason its
    note kept, else INTERRUPTED. The runs ended."""
    ended = []
    active = active_here()
    for run in store.unfinished_runs():
        if run.id is None:
            continue
        # This very process left it unfinished in an earlier job (a service keeps running
        # after a job failed on a full disk): it is as gone as a dead process's.
        ours = run.host == host and run.pid == os.getpid() and run.id not in active
        if not (ours or gone_here(host, run.host, run.pid)):
            continue
        reason = notes.read(run.id) if notes else ""
        state = RunState.FAILED if reason else RunState.INTERRUPTED
        if ours:
            lost = f"process {run.pid} on host {run.host} left it unfinished in an earlier job"
        else:
            lost = f"{gone_text(run)}: the run ended without finishing (killed?)"
        why = reason or lost
        report = RunReport(
            started=run.report.started, finished=now, day=run.report.day, errors=(why,)
        )
        if store.end_run(run.id, report, state=state):
            ended.append(run)
            event(
                log,
                "run_interrupted",
                f"the {run.kind} started {run.report.started:%Y-%m-%d %H:%M} UTC never "
                f"finished ({lost}); recorded as {state.value}",
                level=logging.WARNING,
                run=run.id,
            )
        if notes:
            notes.discard(run.id)
    return ended


def gone_text(run: RunRecord) -> str:
    return f"process {run.pid} on host {run.host} is gone"


def release_dead_local(
    store: ClaimsLeasesRuns, host: str, now: dt.datetime, notes: RunNotes | None = None
) -> int:
    """Everything above, at the start of a job: claims, leases and runs of this host's dead
    processes. The number of claims given back."""
    end_dead_runs(store, host, now, notes)
    return release_dead_claims(store, host)
