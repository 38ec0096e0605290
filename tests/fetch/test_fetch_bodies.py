"""Bodies against a real local server: timeouts, truncation, size limits, gzip and deflate."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import pytest
from support.http_server import FakeTime, MakeFetcher, Reply, ScriptedServer

from digest.errors import FetchError

LISTING = b"<rss><item>Attention is all you need</item></rss>\n" * 40


def test_read_timeout_is_retried_then_reported_in_plain_words(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/slow", Reply(200, b"late", delay=3.0))
    url = server.url("/slow")
    # A timeout that was not applied would wait out the delay and return "late".
    with pytest.raises(FetchError) as caught:
        make_fetcher(timeout=0.2, max_attempts=2).fetch(url)
    assert str(caught.value) == (
        f"{url}: timed out after 0.2 s waiting for the server; gave up after 2 attempts"
    )
    assert len(server.requests_to("/slow")) == 2


def test_stall_in_the_middle_of_the_body_times_out(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/stall", Reply(200, LISTING, stall_after=100, stall=3.0))
    expected = r"timed out after 0\.2 s waiting for the server; gave up after 1 attempt$"
    with pytest.raises(FetchError, match=expected):
        make_fetcher(timeout=0.2, max_attempts=1).fetch(server.url("/stall"))


def test_truncated_body_is_an_error_not_short_data(
    server: ScriptedServer, make_fetcher: MakeFetcher, fake_time: FakeTime
) -> None:
    body = bytes(range(256)) * 20  # 5120 bytes
    server.script("/big", Reply(200, body, content_length=5000, drop_after=1200))
    url = server.url("/big")
    with pytest.raises(FetchError) as caught:
        make_fetcher(max_attempts=2).fetch(url)
    assert str(caught.value) == (
        f"{url}: connection closed after 1200 of 5000 bytes; gave up after 2 attempts"
    )
    assert len(server.requests_to("/big")) == 2


def test_truncated_body_then_a_whole_one_succeeds(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/big", Reply(200, LISTING, drop_after=300), Reply(200, LISTING))
    assert make_fetcher().fetch(server.url("/big")).body == LISTING


def test_declared_oversize_fails_before_reading_and_is_not_retried(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/huge", Reply(200, b"x" * 5000))
    url = server.url("/huge")
    with pytest.raises(FetchError) as caught:
        make_fetcher(max_bytes=1000).fetch(url)
    assert str(caught.value) == f"{url}: response larger than 1000 bytes (Content-Length 5000)"
    assert len(server.requests_to("/huge")) == 1


def test_oversize_without_length_is_caught_while_streaming(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    # 3000 bytes arrive, then the server stalls for longer than the timeout; a check made
    # only after the whole body would sit out the stall and fail on the timeout instead.
    reply = Reply(200, b"y" * 6000, send_length=False, stall_after=3000, stall=5.0)
    server.script("/endless", reply)
    with pytest.raises(FetchError, match=r"response larger than 1000 bytes$"):
        make_fetcher(max_bytes=1000, timeout=4.0, max_attempts=1).fetch(server.url("/endless"))


def test_body_exactly_at_the_limit_is_accepted(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/exact", Reply(200, b"z" * 1000, send_length=False))
    assert len(make_fetcher(max_bytes=1000).fetch(server.url("/exact")).body) == 1000


def test_megabyte_limits_are_named_in_megabytes(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    server.script("/huge", Reply(200, b"", content_length=25_000_000, drop_after=0))
    with pytest.raises(FetchError, match=r"response larger than 20 MB \(Content-Length 25000000\)"):
        make_fetcher(max_bytes=20_000_000).fetch(server.url("/huge"))


def test_gzip_is_requested_and_decoded(server: ScriptedServer, make_fetcher: MakeFetcher) -> None:
    packed = gzip.compress(LISTING)
    server.script("/gz", Reply(200, packed, headers=[("Content-Encoding", "gzip")]))
    result = make_fetcher().fetch(server.url("/gz"))
    assert result.body == LISTING
    (seen,) = server.requests_to("/gz")
    assert seen.headers["accept-encoding"] == "gzip"


@pytest.mark.parametrize(
    ("coding", "packed"),
    [
        ("gzip", gzip.compress(LISTING[:500]) + gzip.compress(LISTING[500:])),  # two members
        ("x-gzip", gzip.compress(LISTING)),
        ("deflate", zlib.compress(LISTING)),  # zlib-wrapped, as the RFC says
        ("deflate", zlib.compress(LISTING, wbits=-15)),  # raw, as some servers send
    ],
)
def test_other_compressed_forms_are_decoded(
    server: ScriptedServer, make_fetcher: MakeFetcher, coding: str, packed: bytes
) -> None:
    server.script("/z", Reply(200, packed, headers=[("Content-Encoding", coding)]))
    assert make_fetcher().fetch(server.url("/z")).body == LISTING


def test_gzip_bomb_stops_at_the_decoded_limit_without_inflating_it(
    server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    bomb = gzip.compress(b"\0" * 40_000_000, compresslevel=9)  # ~40 KB on the wire
    assert len(bomb) < 100_000
    server.script("/bomb", Reply(200, bomb, headers=[("Content-Encoding", "gzip")]))
    fetcher = make_fetcher(max_bytes=1_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(FetchError, match=r"response larger than 1 MB$"):
            fetcher.fetch(server.url("/bomb"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8_000_000  # never holds much more than the limit, let alone 40 MB


def test_gzip_cut_short_is_an_error(server: ScriptedServer, make_fetcher: MakeFetcher) -> None:
    packed = gzip.compress(LISTING)
    server.script("/gz", Reply(200, packed[:-20], headers=[("Content-Encoding", "gzip")]))
    with pytest.raises(FetchError, match="compressed body ends early"):
        make_fetcher().fetch(server.url("/gz"))


def test_corrupt_gzip_is_an_error(server: ScriptedServer, make_fetcher: MakeFetcher) -> None:
    server.script("/gz", Reply(200, b"this is not gzip", headers=[("Content-Encoding", "gzip")]))
    with pytest.raises(FetchError, match="could not decompress the body"):
        make_fetcher().fetch(server.url("/gz"))


def test_unrequested_encoding_is_refused(server: ScriptedServer, make_fetcher: MakeFetcher) -> None:
    server.script("/br", Reply(200, b"\x0b\x02\x80hi\x03", headers=[("Content-Encoding", "br")]))
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'br'"):
        make_fetcher().fetch(server.url("/br"))
