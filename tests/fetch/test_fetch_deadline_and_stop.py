"""A slow source cannot hold a fetch: a deadline for the whole response, and a stop request
(the job's stop event) that ends a fetch at once, whatever the download is waiting for.

These run on the real clock against a real server on 127.0.0.1 that trickles its body a byte
at a time; each waits on events, and the bounds on how long a call may take are hang guards
(far above what it needs), not timing claims."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from support.http_server import TEST_USER_AGENT, Reply, ScriptedServer, Seen

from digest.collect.fetch import Fetcher, FetchStopped
from digest.config.settings import FetchSettings
from digest.errors import FetchError
from digest.util.stopping import busy, doing

HANG_GUARD = 10.0  # seconds; the calls below need a fraction of that
SLOW_BODY = b"<rss>" + b"x" * 2000 + b"</rss>"


@pytest.fixture
def real_fetcher() -> Iterator[Callable[..., Fetcher]]:
    made: list[Fetcher] = []

    def make(stop: threading.Event | None = None, **overrides: Any) -> Fetcher:
        options: dict[str, Any] = {
            "user_agent": TEST_USER_AGENT,
            "timeout": 5.0,
            "max_attempts": 1,
            "default_interval": 0.0,
        }
        options.update(overrides)
        fetcher = Fetcher(FetchSettings(**options), stop=stop)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


def arrival_route(reply: Reply) -> tuple[threading.Event, Callable[[Seen], Reply]]:
    """A route that answers `reply` and sets the event when the request arrives."""
    arrived = threading.Event()

    def respond(seen: Seen) -> Reply:
        arrived.set()
        return reply

    return arrived, respond


def fetch_in_thread(fetcher: Fetcher, url: str) -> tuple[threading.Thread, list[object]]:
    """Fetch in a thread; its list receives the result or the exception."""
    outcome: list[object] = []

    def run() -> None:
        try:
            outcome.append(fetcher.fetch(url))
        except FetchError as err:
            outcome.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_a_trickling_response_fails_at_the_deadline_with_a_clear_message(
    server: ScriptedServer, real_fetcher: Callable[..., Fetcher]
) -> None:
    # Each read gets a byte long before the 5 s read timeout: only the deadline ends it.
    server.script("/slow", Reply(200, SLOW_BODY, trickle=0.05))
    url = server.url("/slow")
    fetcher = real_fetcher(deadline=1.0)

    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(url)
    assert time.monotonic() - started < HANG_GUARD

    message = str(caught.value)
    assert message.startswith(f"{url}: gave up after 1 s: the response was still arriving (")
    received = int(message.split("(")[1].split(" bytes")[0])
    assert 0 < received < len(SLOW_BODY)
    assert not isinstance(caught.value, FetchStopped)


def test_a_deadline_overrun_is_not_retried(
    server: ScriptedServer, real_fetcher: Callable[..., Fetcher]
) -> None:
    server.script("/slow", Reply(200, SLOW_BODY, trickle=0.05))
    fetcher = real_fetcher(deadline=0.5, max_attempts=3)
    with pytest.raises(FetchError, match=r"gave up after 0\.5 s"):
        fetcher.fetch(server.url("/slow"))
    assert len(server.requests_to("/slow")) == 1


def test_a_response_within_the_deadline_is_untouched(
    server: ScriptedServer, real_fetcher: Callable[..., Fetcher]
) -> None:
    server.script("/quick", Reply(200, b"<rss>short</rss>", trickle=0.001))
    result = real_fetcher(deadline=30.0).fetch(server.url("/quick"))
    assert result.body == b"<rss>short</rss>"


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (Reply(200, SLOW_BODY, trickle=0.2), "while the response was arriving"),
        (Reply(200, b"never", delay=60), "while the response was arriving (0 bytes)"),
    ],
    ids=["trickling body", "silent server"],
)
def test_a_stop_request_ends_the_fetch_at_once(
    server: ScriptedServer, real_fetcher: Callable[..., Fetcher], reply: Reply, said: str
) -> None:
    arrived, respond = arrival_route(reply)
    server.route("/slow", respond)
    url = server.url("/slow")
    stop = threading.Event()
    fetcher = real_fetcher(stop, deadline=600.0)

    thread, outcome = fetch_in_thread(fetcher, url)
    assert arrived.wait(HANG_GUARD)
    stop.set()
    thread.join(HANG_GUARD)

    assert not thread.is_alive(), "the fetch did not end after the stop request"
    [error] = outcome
    assert isinstance(error, FetchStopped)
    assert str(error).startswith(f"{url}: stopped on request")
    assert said in str(error)


def test_a_stop_request_cuts_a_retry_wait_short(
    server: ScriptedServer, real_fetcher: Callable[..., Fetcher]
) -> None:
    """The wait a 503's Retry-After asks for is spent on the stop event, not in time.sleep."""
    arrived, respond = arrival_route(Reply(503, b"busy", [("Retry-After", "120")]))
    server.route("/busy", respond)
    stop = threading.Event()
    fetcher = real_fetcher(stop, max_attempts=3, max_retry_after=300.0)

    thread, outcome = fetch_in_thread(fetcher, server.url("/busy"))
    assert arrived.wait(HANG_GUARD)
    stop.set()
    thread.join(HANG_GUARD)

    assert not thread.is_alive()
    assert isinstance(outcome[0], FetchStopped)
    assert len(server.requests_to("/busy")) == 1  # the retry never went out


def test_after_a_stop_nothing_more_is_requested(
    server: ScriptedServer, real_fetcher: Callable[..., Fetcher]
) -> None:
    server.script("/ok", Reply(200, b"<rss/>"))
    stop = threading.Event()
    stop.set()
    with pytest.raises(FetchStopped, match="not fetched: stopped on request"):
        real_fetcher(stop).fetch(server.url("/ok"))
    assert server.requests_to("/ok") == []


def test_while_downloading_a_stop_request_can_be_told_what_it_cuts_short(
    server: ScriptedServer, real_fetcher: Callable[..., Fetcher]
) -> None:
    arrived, respond = arrival_route(Reply(200, SLOW_BODY, trickle=0.05))
    server.route("/slow", respond)
    url = server.url("/slow")
    stop = threading.Event()
    fetcher = real_fetcher(stop)

    thread, _ = fetch_in_thread(fetcher, url)
    assert arrived.wait(HANG_GUARD)
    deadline = time.monotonic() + HANG_GUARD
    while not any("bytes so far" in note for note in doing(stop)):
        assert time.monotonic() < deadline, doing(stop)
        time.sleep(0.01)
    [note] = doing(stop)
    assert note.startswith(f"the download of {url} is stopped (")
    stop.set()
    thread.join(HANG_GUARD)
    assert doing(stop) == []  # the fetch is over: nothing left to describe


def test_busy_notes_come_and_go_in_order() -> None:
    stop = threading.Event()
    with busy(stop, lambda: "first"), busy(stop, lambda: ""), busy(stop, lambda: "second"):
        assert doing(stop) == ["first", "second"]  # an empty note is nothing to say
    assert doing(stop) == []
    with busy(None, lambda: "unwatched"):
        assert doing(stop) == []


def test_each_retry_is_logged_and_counted(
    server: ScriptedServer, real_fetcher: Callable[..., Fetcher], caplog: pytest.LogCaptureFixture
) -> None:
    server.script(
        "/flaky",
        Reply(503, b"busy", [("Retry-After", "0")]),
        Reply(429, b"slow down", [("Retry-After", "0")]),
        Reply(200, b"<rss/>"),
    )
    url = server.url("/flaky")
    with caplog.at_level(logging.INFO, logger="digest.fetch"):
        result = real_fetcher(max_attempts=4).fetch(url)

    assert result.retries == 2
    lines = [r.getMessage() for r in caplog.records if getattr(r, "event", "") == "fetch_retry"]
    assert lines == [
        f"{url}: HTTP 503 Service Unavailable; retrying in 0.0 s (attempt 2 of 4)",
        f"{url}: HTTP 429 Too Many Requests; retrying in 0.0 s (attempt 3 of 4)",
    ]
    levels = {r.levelno for r in caplog.records if getattr(r, "event", "") == "fetch_retry"}
    assert levels == {logging.WARNING}


def test_a_fetch_that_gives_up_counts_the_retries_it_made(
    server: ScriptedServer, real_fetcher: Callable[..., Fetcher]
) -> None:
    server.script("/down", Reply(503, b"down", [("Retry-After", "0")]))
    with pytest.raises(FetchError) as caught:
        real_fetcher(max_attempts=3).fetch(server.url("/down"))
    assert caught.value.retries == 2
    assert "after 3 attempts" in str(caught.value)
