"""Test helpers: a real HTTP server on 127.0.0.1 whose answers each test scripts, a fake clock.

Routes map a path to a list of replies served in order (the last one repeats), or to a
function of the request, so a test can say "503, 503, then 200" or "304 when the ETag matches".
Replies can wait before answering, stall mid-body, trickle the body a byte at a time, or drop
the connection after N bytes.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from digest.collect.fetch import Fetcher

TEST_USER_AGENT = "digest-test/0.1 (+mailto:ops@example.org)"


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0  # seconds before the status line
    send_length: bool = True  # send Content-Length (else the body ends when the connection closes)
    content_length: int | None = None  # a Content-Length other than len(body)
    drop_after: int | None = None  # send only this many body bytes, then close the connection
    stall_after: int | None = None  # after this many body bytes, pause `stall` seconds
    stall: float = 0.0
    trickle: float = 0.0  # seconds between body bytes, sent one at a time (a slow source)


@dataclass(frozen=True)
class Seen:
    """A request as the server received it."""

    path: str
    host: str
    headers: dict[str, str]


Route = list[Reply] | Callable[[Seen], Reply]


class ScriptedServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        """`tls`: a server context, to answer https:// (the handshake runs in the request's
        thread, on its first read)."""
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.active = 0
        self.max_active = 0
        self.stopping = threading.Event()  # cuts scripted waits short at teardown
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _make_handler(self))
        self.port = self._httpd.server_address[1]
        self.scheme = "https" if tls is not None else "http"
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(
                self._httpd.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def script(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def route(self, path: str, respond: Callable[[Seen], Reply]) -> None:
        self.routes[path] = respond

    def _prefix_route(self, path: str) -> Route | None:
        """A route scripted as "/api/query*" answers every path starting with "/api/query"."""
        prefixes = [key for key in self.routes if key.endswith("*") and path.startswith(key[:-1])]
        return self.routes[max(prefixes, key=len)] if prefixes else None

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [seen for seen in self.seen if seen.path == path]

    def next_reply(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            route = self.routes.get(seen.path) or self._prefix_route(seen.path)
            if route is None:
                return Reply(404, b"no route")
            if callable(route):
                respond = route
            else:
                return route.pop(0) if len(route) > 1 else route[0]
        return respond(seen)  # outside the lock: a route may block (barriers, waits)

    def enter(self) -> None:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)

    def leave(self) -> None:
        with self._lock:
            self.active -= 1

    def close(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that time out or hang up are part of the script


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            seen = Seen(
                path=self.path,
                host=self.headers.get("Host", ""),
                headers={k.lower(): v for k, v in self.headers.items()},
            )
            server.enter()
            try:
                self._answer(server.next_reply(seen))
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            finally:
                server.leave()

        def _answer(self, reply: Reply) -> None:
            if reply.delay and server.stopping.wait(reply.delay):
                self.close_connection = True
                return
            self.send_response_only(reply.status)
            names = {name.lower() for name, _ in reply.headers}
            if "date" not in names:
                self.send_header("Date", formatdate(usegmt=True))
            for name, value in reply.headers:
                self.send_header(name, value)
            closing = not reply.send_length or reply.drop_after is not None
            if reply.send_length and reply.status not in (204, 304):
                length = reply.content_length
                self.send_header(
                    "Content-Length", str(len(reply.body) if length is None else length)
                )
            if closing:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            body = reply.body if reply.drop_after is None else reply.body[: reply.drop_after]
            if reply.trickle:
                for index in range(len(body)):
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
                    if server.stopping.wait(reply.trickle):
                        return
                return
            if reply.stall_after is not None:
                self.wfile.write(body[: reply.stall_after])
                self.wfile.flush()
                if server.stopping.wait(reply.stall):
                    return
                body = body[reply.stall_after :]
            self.wfile.write(body)
            self.wfile.flush()

    return Handler


class FakeTime:
    """An injected clock and sleep: sleeping records the wait and moves the clock on at once."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


MakeFetcher = Callable[..., Fetcher]  # the make_fetcher fixture: keyword overrides of FetchSettings
