"""compose_all: the same messages as composing one by one, in order, with per-job errors
and only a bounded number of jobs drawn ahead, in-process and in forked workers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import jinja2
import pytest
from email_helpers import (
    hostile_digest,
    make_digest,
    make_paper,
    make_ranked,
    make_subscriber,
    typical_digest,
)

from digest.compose_pool import AHEAD, ComposeJob, compose, compose_all
from digest.mail import Envelope, build_message, make_message_id
from digest.models import Digest
from digest.render import RenderSettings, render_digest

DATE = dt.datetime(2024, 3, 5, 7, 0, tzinfo=dt.UTC)


def job(key: int, digest: Digest, recipient: str | None = None) -> ComposeJob:
    return ComposeJob(
        key=key,
        digest=digest,
        envelope=Envelope(
            sender="Paper Digest <digest@example.org>",
            recipient=recipient or digest.subscriber.email,
            message_id=make_message_id("example.org", f"{key}/2024-03-05"),
            date=DATE,
            list_id="papers.example.org",
            unsubscribe_url=digest.unsubscribe_url,
        ),
    )


def some_jobs(count: int) -> list[ComposeJob]:
    digests = [typical_digest(), hostile_digest()]
    for i in range(count - 2):
        papers = [make_ranked(make_paper(1 + (i + k) % 7), score=10 - k) for k in range(3)]
        digests.append(make_digest(papers, subscriber=make_subscriber(f"r{i}@example.org")))
    return [job(key, digest) for key, digest in enumerate(digests)]


@pytest.mark.parametrize("workers", [0, 2])
def test_messages_equal_composing_one_by_one_in_order(
    workers: int, settings: RenderSettings, env: jinja2.Environment
) -> None:
    jobs = some_jobs(40)
    results = list(compose_all(jobs, settings=settings, workers=workers, env=env, chunk=3))
    assert [r.key for r in results] == [j.key for j in jobs]
    for composed, one in zip(results, jobs, strict=True):
        rendered = render_digest(one.digest, settings, env)
        assert composed.ok
        assert composed.message == build_message(rendered, one.envelope)
        assert composed.paper_ids == rendered.paper_ids
        assert composed.subject == rendered.subject
        assert (composed.recipient, composed.message_id) == (
            one.envelope.recipient,
            one.envelope.message_id,
        )


@pytest.mark.parametrize("workers", [0, 1])
def test_a_bad_job_comes_back_as_an_error_and_the_rest_go_on(
    workers: int, settings: RenderSettings
) -> None:
    jobs = some_jobs(6)
    jobs[2] = job(2, jobs[2].digest, recipient="not an address")
    results = list(compose_all(jobs, settings=settings, workers=workers, chunk=2))
    assert [r.ok for r in results] == [True, True, False, True, True, True]
    bad = results[2]
    assert bad.message == b"" and bad.error is not None
    assert bad.error.startswith("AddressError") and "not an address" in bad.error


def test_compose_returns_errors_instead_of_raising(
    settings: RenderSettings, env: jinja2.Environment
) -> None:
    broken = job(1, typical_digest(), recipient="a@b@example.org")
    assert not compose(broken, settings, env).ok


@pytest.mark.parametrize("workers", [0, 2])
def test_jobs_are_drawn_only_a_bounded_way_ahead(workers: int, settings: RenderSettings) -> None:
    drawn = 0
    template = some_jobs(3)

    def stream() -> Iterator[ComposeJob]:
        nonlocal drawn
        for key in range(10_000):
            drawn += 1
            yield job(key, template[key % 3].digest)

    chunk = 4
    results = compose_all(stream(), settings=settings, workers=workers, chunk=chunk)
    taken = [next(results) for _ in range(30)]
    results.close()  # stopping early ends the workers
    assert [r.key for r in taken] == list(range(30))
    assert drawn <= 30 + chunk * (AHEAD * max(workers, 1) + 1)
