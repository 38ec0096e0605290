"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every message it accepts: plain, with
STARTTLS or implicit TLS, with AUTH. Fault-injecting handlers subclass RecordingHandler."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: tuple[str, int] | None = None  # the client's address: one per connection
    helo: str = ""  # the name the client greeted with (EHLO/HELO)

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class RecordingHandler:
    received: list[Received] = field(default_factory=list)
    reject: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply
    # Guards `received`; notified on each new message, so a test can wait for mail to arrive.
    lock: threading.Condition = field(default_factory=threading.Condition)
    data_delay: float = 0.0  # seconds to wait before accepting each message (a slow server)
    # While this event is clear, each message waits in DATA (a server that keeps connections
    # busy until the test lets them go); None: no wait.
    hold: threading.Event | None = None

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.reject:
            return self.reject[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait)
        with self.lock:
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    bytes(envelope.content),
                    tuple(session.peer[:2]) if session.peer else None,
                    session.host_name or "",
                )
            )
            self.lock.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` messages were accepted; fail after `timeout` seconds.

        The server records a message before it answers 250, so this says the server has it,
        not that the client has read the answer."""
        with self.lock:
            if not self.lock.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"{len(self.received)} of {count} messages arrived within {timeout} s"
                )
            return list(self.received)

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if address in r.rcpt_tos]

    def recipients(self) -> list[str]:
        with self.lock:
            return [r for m in self.received for r in m.rcpt_tos]

    def connections(self) -> int:
        """How many client connections delivered at least one message."""
        with self.lock:
            return len({m.peer for m in self.received})


def authenticator(users: dict[str, str]) -> Callable[..., AuthResult]:
    def check(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user = auth_data.login.decode()
            ok = users.get(user) == auth_data.password.decode()
            return AuthResult(success=ok, handled=False)
        return AuthResult(success=False, handled=False)

    return check


class SmtpSink:
    """Start with `SmtpSink()` (or `with SmtpSink() as sink`), read `.port` and
    `.handler.received`, `close()` at the end. A RecordingHandler subclass may be passed in to
    inject faults; `server_context` adds STARTTLS (required) or, with `implicit_tls`, TLS from
    the first byte; `users` requires AUTH with those passwords."""

    def __init__(
        self,
        handler: RecordingHandler | None = None,
        *,
        server_context: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
        users: dict[str, str] | None = None,
    ) -> None:
        self.handler = handler or RecordingHandler()
        self.port = free_port()
        options: dict[str, Any] = {}
        if server_context is not None and implicit_tls:
            options["ssl_context"] = server_context
        elif server_context is not None:
            options["tls_context"] = server_context
            options["require_starttls"] = True
        if users is not None:
            options["authenticator"] = authenticator(users)
            options["auth_required"] = True
            # aiosmtpd only counts STARTTLS as TLS; an implicit-TLS socket is encrypted anyway.
            options["auth_require_tls"] = server_context is not None and not implicit_tls
        self._controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="localhost",
            ready_timeout=5.0,
            **options,
        )
        self._controller.start()

    def __enter__(self) -> SmtpSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._controller.stop()
