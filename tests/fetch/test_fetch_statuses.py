"""Status handling against a real local server: 200, 304, retries, Retry-After, 4xx, redirects."""

from __future__ import annotations

from email.utils import formatdate

import pytest
from support.http_server import FakeTime, MakeFetcher, Reply, ScriptedServer, Seen

from digest.collect.fetch import FetchStatusError
from digest.errors import FetchError
from digest.models import Validators

ETAG = '"listing-v1"'
LAST_MODIFIED = "Wed, 01 May 2024 20:00:00 GMT"


def conditional_listing(seen: Seen) -> Reply:
    """Answers 304 when either validator matches, like a well-behaved feed server."""
    headers = [("ETag", ETAG), ("Last-Modified", LAST_MODIFIED)]
    if seen.headers.get("if-none-match") == ETAG:
        return Reply(304, headers=headers)
    if seen.headers.get("if-modified-since") == LAST_MODIFIED:
        return Reply(304, headers=headers)
    headers.append(("Content-Type", "application/rss+xml; charset=utf-8"))
    return Reply(200, b"<rss>listing</rss>", headers=headers)


def test_200_returns_body_validators_and_content_type(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.route("/rss/cs.CL", conditional_listing)
    result = make_fetcher().fetch(server.url("/rss/cs.CL"))
    assert result.status == 200
    assert not result.not_modified
    assert result.body == b"<rss>listing</rss>"
    assert result.validators == Validators(etag=ETAG, last_modified=LAST_MODIFIED)
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.url == server.url("/rss/cs.CL")


def test_matching_etag_gives_304_with_empty_body(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.route("/rss/cs.CL", conditional_listing)
    old = Validators(etag=ETAG)
    result = make_fetcher().fetch(server.url("/rss/cs.CL"), old)
    assert result.status == 304
    assert result.not_modified
    assert result.body == b""
    assert result.validators.etag == ETAG
    (seen,) = server.requests_to("/rss/cs.CL")
    assert seen.headers["if-none-match"] == ETAG
    assert "if-modified-since" not in seen.headers


def test_if_modified_since_gives_304(server: ScriptedServer, make_fetcher: MakeFetcher) -> None:
    server.route("/rss/cs.CL", conditional_listing)
    result = make_fetcher().fetch(server.url("/rss/cs.CL"), Validators(last_modified=LAST_MODIFIED))
    assert result.not_modified
    assert result.validators.last_modified == LAST_MODIFIED
    (seen,) = server.requests_to("/rss/cs.CL")
    assert seen.headers["if-modified-since"] == LAST_MODIFIED


def test_stale_validators_get_the_new_body_and_new_validators(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.route("/rss/cs.CL", conditional_listing)
    stale = Validators(etag='"listing-v0"', last_modified="Tue, 30 Apr 2024 20:00:00 GMT")
    result = make_fetcher().fetch(server.url("/rss/cs.CL"), stale)
    assert result.status == 200
    assert result.body == b"<rss>listing</rss>"
    assert result.validators == Validators(etag=ETAG, last_modified=LAST_MODIFIED)


def test_304_keeps_old_validators_the_response_does_not_repeat(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/feed", Reply(304))
    old = Validators(etag='"abc"', last_modified=LAST_MODIFIED)
    result = make_fetcher().fetch(server.url("/feed"), old)
    assert result.not_modified
    assert result.validators == old


def test_304_without_validators_is_an_error(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/feed", Reply(304))
    with pytest.raises(FetchError, match="304 Not Modified although we sent no validators"):
        make_fetcher().fetch(server.url("/feed"))


def test_429_waits_the_retry_after_seconds_then_succeeds(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    server.script(
        "/api", Reply(429, b"slow down", headers=[("Retry-After", "7")]), Reply(200, b"ok")
    )
    # The host interval (1 s) is shorter than Retry-After, so the wait is exactly 7 s.
    result = make_fetcher(default_interval=1.0).fetch(server.url("/api"))
    assert result.body == b"ok"
    assert fake_time.sleeps == [7.0]
    assert len(server.requests_to("/api")) == 2


def test_retry_after_as_http_date_is_measured_against_the_server_date(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    sent_at = 1_714_593_600.0  # the server's clock; deliberately far from ours
    headers = [
        ("Date", formatdate(sent_at, usegmt=True)),
        ("Retry-After", formatdate(sent_at + 12, usegmt=True)),
    ]
    server.script("/api", Reply(503, headers=headers), Reply(200, b"ok"))
    assert make_fetcher().fetch(server.url("/api")).body == b"ok"
    assert fake_time.sleeps == [12.0]


def test_500_500_then_200_backs_off_exponentially_with_jitter(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    server.script("/api", Reply(500), Reply(500), Reply(200, b"third time"))
    result = make_fetcher(backoff_base=2.0).fetch(server.url("/api"))
    assert result.body == b"third time"
    assert len(server.requests_to("/api")) == 3
    first, second = fake_time.sleeps
    assert 1.0 <= first <= 2.0  # base 2 s, jittered into [d/2, d]
    assert 2.0 <= second <= 4.0


def test_503_forever_gives_up_after_max_attempts(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    server.script("/api", Reply(503, b"maintenance"))
    url = server.url("/api")
    with pytest.raises(FetchStatusError) as caught:
        make_fetcher(max_attempts=4).fetch(url)
    assert str(caught.value) == f"{url}: HTTP 503 Service Unavailable after 4 attempts: maintenance"
    assert caught.value.url == url
    assert caught.value.status == 503
    assert caught.value.body == b"maintenance"
    assert len(server.requests_to("/api")) == 4
    assert len(fake_time.sleeps) == 3


def test_retry_after_longer_than_allowed_gives_up_at_once(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    server.script("/api", Reply(429, headers=[("Retry-After", "3600")]), Reply(200, b"ok"))
    with pytest.raises(FetchError, match=r"asks to wait 3600 s, longer than the 300 s"):
        make_fetcher(max_retry_after=300.0).fetch(server.url("/api"))
    assert len(server.requests_to("/api")) == 1
    assert fake_time.sleeps == []


def test_404_fails_at_once_with_status_and_snippet(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    server.script("/rss/cs.XX", Reply(404, b"<html><body><h1>No such   archive</h1></body></html>"))
    url = server.url("/rss/cs.XX")
    with pytest.raises(FetchStatusError) as caught:
        make_fetcher().fetch(url)
    assert str(caught.value) == f"{url}: HTTP 404 Not Found: No such archive"
    assert caught.value.status == 404
    assert len(server.requests_to("/rss/cs.XX")) == 1
    assert fake_time.sleeps == []


# arXiv's API answers a malformed id_list with HTTP 400 and this Atom error feed (real capture).
ARXIV_400_FEED = b"""<?xml version='1.0' encoding='UTF-8'?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <id>https://arxiv.org/</id>
  <title>arXiv Search Results</title>
  <entry>
    <id>https://arxiv.org/api/errors#incorrect_id_format_for_abc</id>
    <title>Error</title>
    <summary>incorrect id format for abc</summary>
  </entry>
</feed>
"""


def test_400_error_document_is_kept_for_the_caller(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/api/query", Reply(400, ARXIV_400_FEED))
    with pytest.raises(FetchStatusError) as caught:
        make_fetcher().fetch(server.url("/api/query"))
    assert caught.value.body == ARXIV_400_FEED
    assert "HTTP 400 Bad Request: " in str(caught.value)
    assert "incorrect id format for abc" in str(caught.value)
    assert "<" not in caught.value.reason


def test_long_error_body_is_cut_to_a_short_snippet(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/x", Reply(403, b"forbidden " * 1000))
    with pytest.raises(FetchStatusError) as caught:
        make_fetcher().fetch(server.url("/x"))
    assert len(caught.value.reason) < 260
    assert caught.value.reason.endswith("…")


def test_redirect_is_followed_and_each_hop_takes_its_polite_turn(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    target = server.url("/new", host="localhost")
    server.script("/old", Reply(301, headers=[("Location", target)]))
    server.script("/new", Reply(200, b"moved here"))
    fetcher = make_fetcher(host_intervals={"localhost": 5.0})
    result = fetcher.fetch(server.url("/old"))
    assert result.url == target
    assert result.body == b"moved here"
    assert fake_time.sleeps == []
    fetcher.fetch(server.url("/old"))
    assert fake_time.sleeps == [5.0]  # the second visit to localhost waited its interval


def test_relative_redirect_loop_stops(server: ScriptedServer, make_fetcher: MakeFetcher) -> None:
    server.script("/loop", Reply(302, headers=[("Location", "/loop")]))
    with pytest.raises(FetchError, match="more than 5 redirects"):
        make_fetcher().fetch(server.url("/loop"))
    assert len(server.requests_to("/loop")) == 6


def test_connection_refused_is_retried_then_reported(
    make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/feed"
    with pytest.raises(FetchError) as caught:
        make_fetcher(max_attempts=2).fetch(url)
    assert caught.value.url == url
    assert "could not connect" in str(caught.value)
    assert str(caught.value).endswith("; gave up after 2 attempts")
    assert len(fake_time.sleeps) == 1


@pytest.mark.parametrize("url", ["ftp://example.org/x", "not a url", "http:///nohost"])
def test_unusable_urls_fail_without_a_request(make_fetcher: MakeFetcher, url: str) -> None:
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(url)
    assert caught.value.url == url
