"""Politeness against a real local server: User-Agent, host intervals, one connection per host."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from support.http_server import TEST_USER_AGENT, FakeTime, MakeFetcher, Reply, ScriptedServer, Seen

from digest.collect.fetch import Fetcher
from digest.config.settings import FetchSettings
from digest.errors import FetchError


def test_user_agent_and_accept_encoding_reach_the_server(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/feed", Reply(200, b"ok"))
    make_fetcher().fetch(server.url("/feed"))
    (seen,) = server.requests_to("/feed")
    assert seen.headers["user-agent"] == TEST_USER_AGENT
    assert seen.headers["accept-encoding"] == "gzip"
    assert "if-none-match" not in seen.headers


def test_two_fetches_to_one_host_wait_the_host_interval(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    server.script("/a", Reply(200, b"a"))
    server.script("/b", Reply(200, b"b"))
    fetcher = make_fetcher(default_interval=1.0, host_intervals={"127.0.0.1": 3.0})
    fetcher.fetch(server.url("/a"))
    assert fake_time.sleeps == []  # the first request to a host does not wait
    fetcher.fetch(server.url("/b"))
    assert fake_time.sleeps == [3.0]


def test_time_already_passed_counts_towards_the_interval(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    server.script("/a", Reply(200, b"a"))
    fetcher = make_fetcher(default_interval=3.0)
    fetcher.fetch(server.url("/a"))
    fake_time.advance(1.25)
    fetcher.fetch(server.url("/a"))
    fake_time.advance(10.0)
    fetcher.fetch(server.url("/a"))
    assert fake_time.sleeps == [1.75]


def test_different_hosts_do_not_wait_for_each_other(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    server.script("/a", Reply(200, b"a"))
    fetcher = make_fetcher(default_interval=3.0)
    fetcher.fetch(server.url("/a", host="127.0.0.1"))
    fetcher.fetch(server.url("/a", host="localhost"))
    assert fake_time.sleeps == []
    assert [seen.host.split(":")[0] for seen in server.requests_to("/a")] == [
        "127.0.0.1",
        "localhost",
    ]


def test_a_retry_after_holds_back_later_requests_to_that_host(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    server.script("/busy", Reply(429, headers=[("Retry-After", "30")]))
    server.script("/other", Reply(200, b"fine"))
    fetcher = make_fetcher(max_attempts=2, max_retry_after=60.0)
    with pytest.raises(FetchError, match="HTTP 429 Too Many Requests after 2 attempts"):
        fetcher.fetch(server.url("/busy"))
    assert fake_time.sleeps == [30.0]
    fake_time.advance(5.0)  # the next listing on that host comes along 5 s later
    assert fetcher.fetch(server.url("/other")).body == b"fine"
    assert fake_time.sleeps == [30.0, 25.0]


def test_a_host_on_hold_for_too_long_fails_fast_and_others_do_not(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    server.script("/busy", Reply(503, headers=[("Retry-After", "3600")]))
    server.script("/other", Reply(200, b"fine"))
    fetcher = make_fetcher(max_retry_after=300.0)
    with pytest.raises(FetchError, match="asks to wait 3600 s"):
        fetcher.fetch(server.url("/busy"))
    with pytest.raises(FetchError, match=r"127\.0\.0\.1 asked us to wait another 3600 s"):
        fetcher.fetch(server.url("/other"))
    assert server.requests_to("/other") == []
    assert fetcher.fetch(server.url("/other", host="localhost")).body == b"fine"
    assert fake_time.sleeps == []


def test_one_connection_at_a_time_per_host_across_threads(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/slow", Reply(200, b"done", delay=0.1))
    fetcher = make_fetcher()
    with ThreadPoolExecutor(max_workers=4) as pool:
        bodies = list(pool.map(lambda _: fetcher.fetch(server.url("/slow")).body, range(4)))
    assert bodies == [b"done"] * 4
    assert server.max_active == 1


def test_different_hosts_are_fetched_in_parallel(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    # Each request waits for the other to arrive: both succeed only if they overlap.
    meeting = threading.Barrier(2, timeout=3.0)

    def rendezvous(seen: Seen) -> Reply:
        try:
            meeting.wait()
        except threading.BrokenBarrierError:
            return Reply(409, b"alone")
        return Reply(200, b"met")

    server.route("/meet", rendezvous)
    fetcher = make_fetcher(max_attempts=1)
    urls = [server.url("/meet", host="127.0.0.1"), server.url("/meet", host="localhost")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        bodies = list(pool.map(lambda url: fetcher.fetch(url).body, urls))
    assert bodies == [b"met", b"met"]


def test_an_injected_client_is_used_and_left_open(
    server: ScriptedServer, fake_time: FakeTime
) -> None:
    server.script("/feed", Reply(200, b"ok"))
    settings = FetchSettings(user_agent=TEST_USER_AGENT, default_interval=0.0)
    with httpx.Client(headers={"X-Probe": "injected"}) as client:
        with Fetcher(settings, client=client, sleep=fake_time.sleep, clock=fake_time.clock) as f:
            assert f.fetch(server.url("/feed")).body == b"ok"
        assert not client.is_closed
    (seen,) = server.requests_to("/feed")
    assert seen.headers["x-probe"] == "injected"
    assert seen.headers["user-agent"] == TEST_USER_AGENT


def test_an_owned_client_is_closed_with_the_fetcher(server: ScriptedServer) -> None:
    server.script("/feed", Reply(200, b"ok"))
    fetcher = Fetcher(FetchSettings(user_agent=TEST_USER_AGENT, default_interval=0.0))
    with fetcher:
        assert fetcher.fetch(server.url("/feed")).body == b"ok"
    with pytest.raises(RuntimeError, match="closed"):  # httpx refuses a closed client
        fetcher.fetch(server.url("/feed"))
