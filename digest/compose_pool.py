"""Compose many digests into finished messages, on several cores when asked.

`compose_all` turns ComposeJobs (a digest plus its envelope) into ComposedMessages in the
order given. With `workers=0` it runs in this process; with `workers>=1` it runs in forked
worker processes while the caller goes on with other work (sending, storing). Only a few
chunks of jobs are in flight at a time, so memory stays flat however many jobs there are.
A job that fails comes back with `error` set and no message: one bad digest never stops
the others.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.pool import AsyncResult
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import jinja2

from digest.mail import Envelope, build_message
from digest.models import (
    Digest,
    HFSignals,
    Match,
    Paper,
    Profile,
    Ranked,
    SourceOutcome,
    Subscriber,
    Term,
    Topic,
)
from digest.render import RenderSettings, make_environment, render_digest

CHUNK = 16  # jobs per task sent to a worker: fewer, larger pipe writes
AHEAD = 2  # chunks in flight per worker: keeps workers busy, holds little
WIND_DOWN_SECONDS = 60.0  # how long a stopped pool's workers get to finish their chunks


@dataclass(frozen=True, slots=True)
class ComposeJob:
    """One digest to render and wrap; `key` (e.g. the subscriber id) comes back with it."""

    key: int
    digest: Digest
    envelope: Envelope


@dataclass(frozen=True, slots=True)
class ComposedMessage:
    """The finished RFC 5322 bytes, or why there are none (`error`, then `message` is b"")."""

    key: int
    recipient: str
    message_id: str
    message: bytes
    subject: str = ""
    paper_ids: tuple[str, ...] = ()  # the papers the email lists (see RenderedDigest)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def compose(job: ComposeJob, settings: RenderSettings, env: jinja2.Environment) -> ComposedMessage:
    """Render one digest and build its message; any failure is returned, not raised."""
    try:
        rendered = render_digest(job.digest, settings, env)
        message = build_message(rendered, job.envelope)
    except Exception as err:  # one digest's failure (a bad address, a template bug) is its own
        return ComposedMessage(
            key=job.key,
            recipient=job.envelope.recipient,
            message_id=job.envelope.message_id,
            message=b"",
            error=f"{type(err).__name__}: {err}",
        )
    return ComposedMessage(
        key=job.key,
        recipient=job.envelope.recipient,
        message_id=job.envelope.message_id,
        message=message,
        subject=rendered.subject,
        paper_ids=rendered.paper_ids,
    )


def compose_all(
    jobs: Iterable[ComposeJob],
    *,
    settings: RenderSettings,
    workers: int,
    template_dir: Path | None = None,
    env: jinja2.Environment | None = None,
    chunk: int = CHUNK,
) -> Iterator[ComposedMessage]:
    """Compose every job, yielding results in the order of `jobs`.

    `workers=0` composes in this process with `env` (or a new environment from
    `template_dir`): no pickling, the least CPU in total. `workers=N` uses N forked
    processes, each with its own environment from `template_dir` and its own paper cache.
    `jobs` is always iterated in the calling thread. Stop iterating early and the workers
    are ended.
    """
    if workers <= 0:
        env = env or make_environment(template_dir)
        for job in jobs:
            yield compose(job, settings, env)
        return
    context = multiprocessing.get_context("fork")
    pool = context.Pool(workers, initializer=_start_worker, initargs=(settings, template_dir))
    in_flight: deque[AsyncResult[list[ComposedMessage]]] = deque()
    try:
        for batch in _batches(jobs, max(1, chunk)):
            in_flight.append(pool.apply_async(_compose_batch, (batch,)))
            if len(in_flight) >= AHEAD * workers:
                yield from in_flight.popleft().get()
        while in_flight:
            yield from in_flight.popleft().get()
    finally:
        _wind_down(pool, in_flight)


def _wind_down(pool: Any, in_flight: deque[AsyncResult[list[ComposedMessage]]]) -> None:
    """End the pool, also when the caller stopped early. The workers first finish the few
    batches already handed to them (at most AHEAD each): Pool.terminate() with tasks still
    in its pipe can deadlock (seen in this suite), so it is only the fallback for workers
    that do not finish in time."""
    pool.close()
    for pending in in_flight:
        pending.wait(WIND_DOWN_SECONDS)
    if all(pending.ready() for pending in in_flight):
        pool.join()
    else:
        pool.terminate()


def _batches(jobs: Iterable[ComposeJob], size: int) -> Iterator[list[ComposeJob]]:
    batch: list[ComposeJob] = []
    for job in jobs:
        batch.append(job)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- inside a worker -----------------------------------------------------------------------

_worker: tuple[RenderSettings, jinja2.Environment] | None = None


def _start_worker(settings: RenderSettings, template_dir: Path | None) -> None:
    global _worker
    _worker = (settings, make_environment(template_dir))


def _compose_batch(batch: list[ComposeJob]) -> list[ComposedMessage]:
    assert _worker is not None, "compose worker used before _start_worker"
    settings, env = _worker
    return [compose(job, settings, env) for job in batch]


# --- cheaper pickling between processes ------------------------------------------------------
# Slotted dataclasses pickle through generic __getstate__/__setstate__ functions, which made
# shipping a digest to a worker cost a third of rendering it. Rebuilding them from a plain
# tuple of field values is about 2.5x cheaper. Registered with multiprocessing's pickler
# only, so nothing else that pickles these classes is affected.


def _by_fields(cls: type[Any]) -> Callable[[Any], tuple[type[Any], tuple[Any, ...]]]:
    names = tuple(f.name for f in dataclasses.fields(cls))

    def reduce(obj: Any) -> tuple[type[Any], tuple[Any, ...]]:
        return cls, tuple(getattr(obj, name) for name in names)

    return reduce


for _cls in (
    Paper,
    HFSignals,
    Ranked,
    Match,
    Digest,
    Subscriber,
    Profile,
    Topic,
    Term,
    SourceOutcome,
    Envelope,
    ComposeJob,
    ComposedMessage,
):
    ForkingPickler.register(_cls, _by_fields(_cls))
