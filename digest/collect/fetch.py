"""The Fetcher, where all HTTP lives: polite, bounded, conditional GETs that return bytes or
raise FetchError.

Politeness is per host: one request at a time, a minimum interval between requests, and any
wait the server asked for (Retry-After, or our own backoff after a failure) is honoured by every
thread that talks to that host. Each retry is logged.

Bounded in time as well as size: `timeout` for each connect and read, `deadline` for one whole
response (a server that trickles a byte at a time never times out a read). A stop request (the
job's stop event, set on SIGTERM) ends a fetch at once: the download runs in its own thread,
which the caller stops waiting for, and which notices the stop between chunks and in every
wait. Bodies are decoded by us (digest.collect.decoding), not by
httpx, so that `max_bytes` bounds the decoded size while decompressing: a small gzip body
cannot inflate past the limit. Headers are read in digest.collect.http_headers. Nothing here
parses listings.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import TracebackType

from digest.collect.decoding import IncompleteStream, decoder_for
from digest.collect.download import Download, FetchStopped, stopped_message, watch_download
from digest.collect.fetched import FetchResult
from digest.collect.http_headers import content_length, merge_validators, parse_retry_after
from digest.collect.lean_httpx import httpx
from digest.collect.transport import LazyTlsTransport, TlsSetupError
from digest.config.settings import FetchSettings
from digest.errors import FetchError
from digest.models import Validators
from digest.util.logs import event

__all__ = [
    "FetchResult",
    "FetchStatusError",
    "FetchStopped",
    "Fetcher",
    "body_snippet",
    "parse_retry_after",
]

log = logging.getLogger("digest.fetch")

MAX_REDIRECTS = 5
ERROR_BODY_LIMIT = 65_536  # bytes of an error response kept for the caller (error documents)
SNIPPET_CHARS = 200
DEADLINE_GRACE = 1.0  # past the deadline, the caller stops waiting for a download stuck in a read
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class FetchStatusError(FetchError):
    """The server answered with an HTTP error status that retrying will not (or did not) fix.

    `body` holds the start of the error response, decoded, so the caller may still read an
    error document (arXiv's API answers a bad query with HTTP 400 and an Atom error feed).
    """

    def __init__(self, message: str, *, url: str, status: int, body: bytes) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.body = body


class _Retryable(Exception):
    """One attempt failed in a way that another attempt may fix."""

    def __init__(self, what: str, *, host: str, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.host = host
        self.retry_after = retry_after
        self.status: int | None = None
        self.body = b""


@dataclass(slots=True)
class _HostState:
    """Per-host politeness: a connection lock, and when the next request may start."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last_done: float | None = None  # clock() when the previous request finished
    not_before: float = float("-inf")  # earliest start asked for by Retry-After or backoff


@dataclass(frozen=True, slots=True)
class _Redirect:
    target: httpx.URL


class Fetcher:
    """Downloads URLs politely. Safe to share between threads; use as a context manager."""

    def __init__(
        self,
        settings: FetchSettings,
        *,
        client: httpx.Client | None = None,
        stop: threading.Event | None = None,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._owns_client = client is None
        self._client = (
            client
            if client is not None
            else httpx.Client(follow_redirects=False, transport=LazyTlsTransport())
        )
        self._stop = stop if stop is not None else threading.Event()
        # Waits end early on a stop request (tests inject a fake sleep instead).
        self._sleep = sleep if sleep is not None else self._stop.wait
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        self._timeout = httpx.Timeout(min(settings.timeout, settings.deadline))
        self._hosts: dict[str, _HostState] = {}
        self._hosts_lock = threading.Lock()  # guards _hosts and every _HostState's times

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the HTTP client if this Fetcher created it (an injected one is the caller's)."""
        if self._owns_client:
            self._client.close()

    def fetch(self, url: str, validators: Validators | None = None) -> FetchResult:
        """GET `url`, conditionally when `validators` are given; raise FetchError on failure,
        FetchStopped at once when a stop is requested."""
        if self._stop.is_set():
            raise FetchStopped("not fetched: stopped on request", url=url)
        progress = Download()
        return watch_download(
            lambda: self._fetch(url, validators, progress),
            progress,
            stop=self._stop,
            url=url,
            overdue=lambda: self._overdue(progress),
            too_slow=lambda: self._too_slow(progress),
        )

    def _overdue(self, progress: Download) -> bool:
        """A download stuck in one read past the deadline (it checks itself between reads)."""
        since = progress.since
        limit = self._settings.deadline + DEADLINE_GRACE
        return since is not None and self._clock() - since > limit

    def _too_slow(self, progress: Download, where: str = "") -> str:
        seconds = _seconds(self._settings.deadline)
        if not progress.headers:
            return f"gave up after {seconds} s: no response yet{where}"
        return (
            f"gave up after {seconds} s: the response was still arriving "
            f"({progress.received} bytes){where}"
        )

    def _check(self, url: str, progress: Download, where: str = "") -> None:
        """Between reads and after waits: stopped, abandoned, or past the deadline."""
        if self._stop.is_set() or progress.abandoned:
            raise FetchStopped(stopped_message(progress), url=url)
        since = progress.since
        if since is not None and self._clock() - since > self._settings.deadline:
            raise FetchError(self._too_slow(progress, where), url=url)

    def _fetch(self, url: str, validators: Validators | None, progress: Download) -> FetchResult:
        """The attempts, in the download thread."""
        settings = self._settings
        attempt = 0
        while True:
            attempt += 1
            try:
                result = self._attempt(url, validators, progress)
                return dataclasses.replace(result, retries=attempt - 1) if attempt > 1 else result
            except _Retryable as failure:
                delay = failure.retry_after
                if delay is not None:
                    # Recorded even when we give up: later fetches from this host honour it too.
                    self._defer(failure.host, delay)
                if delay is not None and delay > settings.max_retry_after:
                    raise self._give_up(
                        url,
                        failure,
                        f"{failure.what}; the server asks to wait {_seconds(delay)} s, longer "
                        f"than the {_seconds(settings.max_retry_after)} s we are willing to wait",
                        attempt,
                    ) from None
                if attempt >= settings.max_attempts:
                    tries = f"{attempt} attempt" + ("s" if attempt > 1 else "")
                    # "HTTP 503 ... after 4 attempts", "timed out ...; gave up after 4 attempts"
                    joint = " after" if failure.status is not None else "; gave up after"
                    raise self._give_up(
                        url, failure, f"{failure.what}{joint} {tries}", attempt
                    ) from None
                if delay is None:
                    delay = self._backoff(attempt)
                    self._defer(failure.host, delay)
                self._check(url, progress)
                event(
                    log,
                    "fetch_retry",
                    f"{url}: {failure.what}; retrying in {delay:.1f} s "
                    f"(attempt {attempt + 1} of {settings.max_attempts})",
                    level=logging.WARNING,
                    url=url,
                    status=failure.status,
                    wait=round(delay, 3),
                    attempt=attempt + 1,
                )

    def _give_up(self, url: str, failure: _Retryable, message: str, attempts: int) -> FetchError:
        error: FetchError
        if failure.status is None:
            error = FetchError(message, url=url)
        else:
            snippet = body_snippet(failure.body)
            message += f": {snippet}" if snippet else ""
            error = FetchStatusError(message, url=url, status=failure.status, body=failure.body)
        error.retries = attempts - 1
        return error

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: a random delay in [d/2, d] for d = base * 2^(n-1)."""
        ceiling = self._settings.backoff_base * 2.0 ** (attempt - 1)
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)
        return min(delay, self._settings.max_retry_after)

    def _defer(self, host: str, delay: float) -> None:
        """Make every request to `host` wait `delay` seconds from now (all threads)."""
        with self._hosts_lock:
            state = self._hosts.setdefault(host, _HostState())
            state.not_before = max(state.not_before, self._clock() + delay)

    @contextmanager
    def _polite_turn(self, url: str, host: str, progress: Download) -> Iterator[None]:
        """Hold the host's only connection slot, after waiting out its interval and any delay."""
        with self._hosts_lock:
            state = self._hosts.setdefault(host, _HostState())
        interval = self._settings.interval_for(host)
        limit = self._settings.max_retry_after
        with state.lock:
            with self._hosts_lock:
                now = self._clock()
                on_hold = state.not_before - now
                earliest = state.not_before
                if state.last_done is not None:
                    earliest = max(earliest, state.last_done + interval)
                wait = earliest - now
            if on_hold > limit:
                raise FetchError(
                    f"{host} asked us to wait another {on_hold:.0f} s, longer than the "
                    f"{_seconds(limit)} s we are willing to wait",
                    url=url,
                )
            if wait > 0:
                self._sleep(wait)
                self._check(url, progress)
            try:
                yield
            finally:
                with self._hosts_lock:
                    state.last_done = self._clock()

    def _attempt(self, url: str, validators: Validators | None, progress: Download) -> FetchResult:
        """One try: follow up to MAX_REDIRECTS redirects, each hop taking its polite turn."""
        try:
            current = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchError(f"invalid URL ({exc})", url=url) from None
        if current.scheme not in ("http", "https") or not current.host:
            raise FetchError("not an http(s) URL with a host", url=url)
        start = current
        headers = self._request_headers(validators)
        for _ in range(MAX_REDIRECTS + 1):
            where = "" if current == start else f" (at {current})"
            with self._polite_turn(url, current.host, progress):
                outcome = self._exchange(url, current, headers, validators, where, progress)
            if isinstance(outcome, FetchResult):
                return outcome
            current = outcome.target
            if current.scheme not in ("http", "https") or not current.host:
                raise FetchError(f"redirected to a non-http(s) URL {current}", url=url)
        raise FetchError(f"more than {MAX_REDIRECTS} redirects (last to {current})", url=url)

    def _request_headers(self, validators: Validators | None) -> dict[str, str]:
        headers = {"User-Agent": self._settings.user_agent, "Accept-Encoding": "gzip"}
        if validators is not None:
            if validators.etag is not None:
                headers["If-None-Match"] = validators.etag
            if validators.last_modified is not None:
                headers["If-Modified-Since"] = validators.last_modified
        return headers

    def _exchange(
        self,
        url: str,
        hop: httpx.URL,
        headers: Mapping[str, str],
        validators: Validators | None,
        where: str,
        progress: Download,
    ) -> FetchResult | _Redirect:
        """One HTTP request and its response; transient failures raise _Retryable."""
        host = hop.host
        timeout = _seconds(self._settings.timeout)
        progress.since, progress.headers, progress.received = self._clock(), False, 0
        try:
            with self._client.stream(
                "GET", hop, headers=headers, timeout=self._timeout, follow_redirects=False
            ) as response:
                progress.headers = True
                progress.stream = response.extensions.get("network_stream")
                return self._handle(url, hop, response, validators, where, progress)
        except httpx.ConnectTimeout:
            raise _Retryable(f"timed out after {timeout} s connecting{where}", host=host) from None
        except httpx.ReadTimeout:
            raise _Retryable(
                f"timed out after {timeout} s waiting for the server{where}", host=host
            ) from None
        except httpx.TimeoutException:
            raise _Retryable(f"timed out after {timeout} s{where}", host=host) from None
        except TlsSetupError as exc:
            raise FetchError(f"{exc}{where}", url=url) from None
        except httpx.UnsupportedProtocol as exc:
            raise FetchError(f"unsupported URL{where}: {exc}", url=url) from None
        except httpx.ConnectError as exc:
            raise _Retryable(f"could not connect{where}: {_describe(exc)}", host=host) from None
        except httpx.TransportError as exc:
            self._check(url, progress, where)  # a read cut short by a stop is not a retry
            raise _Retryable(f"network error{where}: {_describe(exc)}", host=host) from None
        finally:
            progress.since, progress.stream = None, None

    def _handle(
        self,
        url: str,
        hop: httpx.URL,
        response: httpx.Response,
        validators: Validators | None,
        where: str,
        progress: Download,
    ) -> FetchResult | _Redirect:
        status = response.status_code
        label = f"HTTP {status} {response.reason_phrase}".rstrip()
        location = response.headers.get("location")
        if status in _REDIRECT_STATUSES and location:
            return _Redirect(hop.join(location))
        content_type = response.headers.get("content-type")
        if status == 304:
            if validators is None or validators.is_empty:
                raise FetchError(f"{label} although we sent no validators{where}", url=url)
            return FetchResult(
                url=str(hop),
                status=304,
                body=b"",
                validators=merge_validators(validators, response.headers),
                content_type=content_type,
            )
        if 200 <= status < 300:
            body = self._read_body(url, response, self._settings.max_bytes, where, progress)
            return FetchResult(
                url=str(hop),
                status=status,
                body=body,
                validators=merge_validators(Validators(), response.headers),
                content_type=content_type,
            )
        error_body = self._read_error_body(url, response, where, progress)
        if status == 429 or status >= 500:
            failure = _Retryable(
                f"{label}{where}",
                host=hop.host,
                retry_after=parse_retry_after(
                    response.headers.get("retry-after"), response.headers.get("date")
                ),
            )
            failure.status = status
            failure.body = error_body
            raise failure
        snippet = body_snippet(error_body)
        message = f"{label}{where}" + (f": {snippet}" if snippet else "")
        raise FetchStatusError(message, url=url, status=status, body=error_body)

    def _read_error_body(
        self, url: str, response: httpx.Response, where: str, progress: Download
    ) -> bytes:
        """The start of an error response; a failure reading it must not hide the status."""
        try:
            return self._read_body(url, response, ERROR_BODY_LIMIT, where, progress, truncate=True)
        except (FetchError, _Retryable, httpx.TransportError):
            return b""

    def _read_body(
        self,
        url: str,
        response: httpx.Response,
        limit: int,
        where: str,
        progress: Download,
        *,
        truncate: bool = False,
    ) -> bytes:
        """Stream and decode the body, failing as soon as it grows past `limit` bytes.

        With `truncate`, return the first `limit` bytes instead of failing.
        """
        decoder = decoder_for(response.headers.get("content-encoding"))
        if decoder is None:
            encoding = response.headers.get("content-encoding")
            raise FetchError(f"unsupported Content-Encoding {encoding!r}{where}", url=url)
        declared = content_length(response)
        too_large = f"response larger than {_size(limit)}{where}"
        if decoder.identity and declared is not None and declared > limit and not truncate:
            raise FetchError(f"{too_large} (Content-Length {declared})", url=url)
        parts: list[bytes] = []
        size = 0
        try:
            for raw in response.iter_raw():
                progress.received = response.num_bytes_downloaded
                self._check(url, progress, where)
                piece = decoder.feed(raw, room=limit - size)
                parts.append(piece)
                size += len(piece)
                if size > limit:
                    if truncate:
                        return b"".join(parts)[:limit]
                    raise FetchError(too_large, url=url)
            tail = decoder.finish()
        except httpx.RemoteProtocolError:
            self._check(url, progress, where)
            got = response.num_bytes_downloaded
            of = f" of {declared}" if declared is not None else ""
            raise _Retryable(
                f"connection closed after {got}{of} bytes{where}", host=response.url.host
            ) from None
        except zlib.error as exc:
            raise FetchError(f"could not decompress the body{where}: {exc}", url=url) from None
        except IncompleteStream:
            raise FetchError(
                f"compressed body ends early after {response.num_bytes_downloaded} bytes{where}",
                url=url,
            ) from None
        parts.append(tail)
        size += len(tail)
        if size > limit and not truncate:
            raise FetchError(too_large, url=url)
        return b"".join(parts)[:limit] if truncate else b"".join(parts)


def body_snippet(body: bytes, limit: int = SNIPPET_CHARS) -> str:
    """A short, one-line, markup-free excerpt of an error body for a message."""
    text = body[: limit * 8].decode("utf-8", errors="replace")
    text = re.sub(r"<\?xml[^>]*\?>|<!--.*?-->|<[^>]+>", " ", text, flags=re.DOTALL)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _seconds(value: float) -> str:
    return f"{value:g}"


def _size(limit: int) -> str:
    """A byte count in plain words: 20_000_000 -> '20 MB', 1500 -> '1500 bytes'."""
    if limit >= 1_000_000:
        return f"{limit / 1_000_000:g} MB"
    return f"{limit} bytes"
