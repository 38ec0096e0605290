"""SmtpSender against a real aiosmtpd server on 127.0.0.1: TLS, AUTH, retries and faults."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from typing import Any

import jinja2
import pytest
from email_helpers import (
    html_as_received,
    html_as_sent,
    make_digest,
    make_paper,
    make_ranked,
    make_subscriber,
    parse_message,
    part_text,
    typical_digest,
)
from support.smtp_server import RecordingHandler, SmtpSink, free_port
from support.tls import Tls

from digest.compose.mail import Envelope, build_message, make_message_id
from digest.compose.render import render_digest
from digest.config.settings import RenderSettings, SmtpSettings
from digest.deliver.smtp import SmtpSender
from digest.errors import ConfigError, DeliveryError

USERS = {"digest": "s3cret-pass"}
SENDER = "digest@example.org"


class Sleeps:
    """Records backoff delays instead of sleeping."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def message_for(
    recipient: str, env: jinja2.Environment, settings: RenderSettings, n: int = 1
) -> bytes:
    digest = make_digest(
        [make_ranked(make_paper(n))], subscriber=make_subscriber(recipient), seen=10
    )
    rendered = render_digest(digest, settings, env)
    envelope = Envelope(
        sender=f"Paper Digest <{SENDER}>",
        recipient=recipient,
        message_id=make_message_id("example.org", f"{recipient}/{n}"),
        date=dt.datetime(2024, 3, 5, 7, 0, tzinfo=dt.UTC),
        list_id="papers.example.org",
        unsubscribe_mailto="unsubscribe@example.org",
        unsubscribe_url="https://digest.example.org/unsubscribe/TOKEN",
    )
    return build_message(rendered, envelope)


def smtp_settings(port: int, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "plain",
        "timeout": 5.0,
        "max_attempts": 3,
        "backoff_seconds": 1.0,
    }
    values.update(overrides)
    return SmtpSettings(**values)


# --- TLS and AUTH --------------------------------------------------------------------------


def test_starttls_auth_delivers_a_batch_over_one_connection(
    tls: Tls, env: jinja2.Environment, settings: RenderSettings
) -> None:
    handler = RecordingHandler()
    recipients = ["ann@example.org", "bob@example.net", "cy@example.com"]
    rendered = render_digest(typical_digest(), settings, env)
    with SmtpSink(handler, server_context=tls.server_context(), users=USERS) as server:
        config = smtp_settings(
            server.port,
            security="starttls",
            username="digest",
            password="s3cret-pass",
            ca_file=str(tls.ca_file),
        )
        with SmtpSender(config) as sender:
            for i, rcpt in enumerate(recipients):
                envelope = Envelope(
                    sender=f"Paper Digest <{SENDER}>",
                    recipient=rcpt,
                    message_id=make_message_id("example.org", f"{rcpt}/{i}"),
                    date=dt.datetime(2024, 3, 5, 7, 0, tzinfo=dt.UTC),
                    list_id="papers.example.org",
                    unsubscribe_mailto="unsubscribe@example.org",
                    unsubscribe_url="https://digest.example.org/unsubscribe/TOKEN",
                )
                sender.send(SENDER, rcpt, build_message(rendered, envelope))
            assert sender.connections_opened == 1

    assert [m.rcpt_tos for m in handler.received] == [[r] for r in recipients]
    first = handler.received[0]
    assert first.mail_from == SENDER
    message = parse_message(first.data)
    assert message["To"] == "ann@example.org"
    assert message["From"] == f"Paper Digest <{SENDER}>"
    assert message["Subject"] == "5 new papers, 1 updated for you - Tue 05 Mar"
    assert message["List-Id"] == "<papers.example.org>"
    assert message["List-Unsubscribe"] == (
        "<mailto:unsubscribe@example.org?subject=unsubscribe>, "
        "<https://digest.example.org/unsubscribe/TOKEN>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert [p["Content-Transfer-Encoding"] for p in parts] == ["quoted-printable", "7bit"]
    assert part_text(message, "plain") == rendered.text
    assert html_as_received(part_text(message, "html")) == html_as_sent(rendered.html)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_auth_delivers(
    tls: Tls, env: jinja2.Environment, settings: RenderSettings
) -> None:
    handler = RecordingHandler()
    data = message_for("ann@example.org", env, settings)
    with SmtpSink(
        handler, server_context=tls.server_context(), implicit_tls=True, users=USERS
    ) as server:
        config = smtp_settings(
            server.port,
            security="ssl",
            username="digest",
            password="s3cret-pass",
            ca_file=str(tls.ca_file),
        )
        with SmtpSender(config) as sender:
            sender.send(SENDER, "ann@example.org", data)
    assert len(handler.received) == 1
    # The server got byte-identical content (modulo smtplib's dot-stuffing, undone by aiosmtpd).
    assert handler.received[0].data.replace(b"\r\n", b"\n") == data.replace(b"\r\n", b"\n")


def test_wrong_password_fails_once_without_retrying(
    tls: Tls, env: jinja2.Environment, settings: RenderSettings
) -> None:
    handler = RecordingHandler()
    sleeps = Sleeps()
    with SmtpSink(handler, server_context=tls.server_context(), users=USERS) as server:
        config = smtp_settings(
            server.port,
            security="starttls",
            username="digest",
            password="wrong",
            ca_file=str(tls.ca_file),
        )
        with SmtpSender(config, sleep=sleeps) as sender, pytest.raises(DeliveryError) as info:
            sender.send(SENDER, "ann@example.org", message_for("ann@example.org", env, settings))
    assert "login refused" in str(info.value)
    assert info.value.permanent is False
    assert info.value.recipient == "ann@example.org"
    assert sleeps.delays == []
    assert handler.received == []


def test_untrusted_certificate_is_refused(
    tls: Tls, env: jinja2.Environment, settings: RenderSettings
) -> None:
    handler = RecordingHandler()
    with SmtpSink(handler, server_context=tls.server_context(), users=USERS) as server:
        config = smtp_settings(
            server.port, security="starttls", username="digest", password="s3cret-pass"
        )
        with SmtpSender(config) as sender, pytest.raises(DeliveryError, match="not trusted"):
            sender.send(SENDER, "ann@example.org", message_for("ann@example.org", env, settings))
    assert handler.received == []


def test_starttls_required_but_server_offers_none(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    handler = RecordingHandler()
    with SmtpSink(handler) as server:
        config = smtp_settings(server.port, security="starttls")
        with SmtpSender(config) as sender, pytest.raises(DeliveryError, match=r"(?i)starttls"):
            sender.send(SENDER, "ann@example.org", message_for("ann@example.org", env, settings))
    assert handler.received == []


# --- Faults --------------------------------------------------------------------------------


class DropDuringData(RecordingHandler):
    """Closes the connection while the client waits for the DATA reply, the first time."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.dropped == 0:
            self.dropped += 1
            server.transport.abort()
            return "451 unreachable"
        return await super().handle_DATA(server, session, envelope)


class RepliesThenAccepts(RecordingHandler):
    """Answers DATA with the given replies (e.g. 421, 451) before accepting."""

    def __init__(self, *replies: str) -> None:
        super().__init__()
        self.replies = list(replies)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            return self.replies.pop(0)
        return await super().handle_DATA(server, session, envelope)


class RejectsOneRecipient(RecordingHandler):
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 <gone@example.org>: mailbox unavailable"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


class ClosesAfterEachMessage(RecordingHandler):
    """Accepts, then hangs up: the next send must notice and reconnect. `hung_up` is
    released once each connection is closed."""

    def __init__(self) -> None:
        super().__init__()
        self.hung_up = threading.Semaphore(0)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        # Runs once the reply is written (the server writes it before yielding to the loop).
        server.loop.call_soon(self._hang_up, server.loop, server.transport)
        return reply

    def _hang_up(self, loop: asyncio.AbstractEventLoop, transport: asyncio.Transport) -> None:
        transport.close()  # the socket itself is closed by a callback close() schedules
        loop.call_soon(self.hung_up.release)


def test_connection_dropped_mid_data_is_retried_on_a_new_connection(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    handler = DropDuringData()
    sleeps = Sleeps()
    with SmtpSink(handler) as server, SmtpSender(smtp_settings(server.port), sleep=sleeps) as s:
        s.send(SENDER, "ann@example.org", message_for("ann@example.org", env, settings))
        s.send(SENDER, "bob@example.org", message_for("bob@example.org", env, settings))
        assert s.connections_opened == 2
    assert handler.dropped == 1
    assert handler.recipients() == ["ann@example.org", "bob@example.org"]
    assert sleeps.delays == [1.0]


@pytest.mark.parametrize(
    "replies",
    [
        ("421 4.7.0 Too busy, closing connection",),
        ("451 4.3.0 Temporary local problem",),
        ("451 4.3.0 Try later", "421 4.7.0 Closing"),
    ],
)
def test_temporary_replies_are_retried_with_backoff(
    replies: tuple[str, ...], env: jinja2.Environment, settings: RenderSettings
) -> None:
    handler = RepliesThenAccepts(*replies)
    sleeps = Sleeps()
    with SmtpSink(handler) as server, SmtpSender(smtp_settings(server.port), sleep=sleeps) as s:
        s.send(SENDER, "ann@example.org", message_for("ann@example.org", env, settings))
    assert handler.recipients() == ["ann@example.org"]
    assert sleeps.delays == [1.0, 2.0][: len(replies)]


def test_persistent_temporary_failure_gives_up_after_max_attempts(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    handler = RepliesThenAccepts(*["451 4.3.0 Still busy"] * 10)
    sleeps = Sleeps()
    with SmtpSink(handler) as server:
        config = smtp_settings(server.port, max_attempts=4, backoff_seconds=0.5)
        with SmtpSender(config, sleep=sleeps) as s, pytest.raises(DeliveryError) as info:
            s.send(SENDER, "ann@example.org", message_for("ann@example.org", env, settings))
    assert info.value.permanent is False
    assert "4 attempts" in str(info.value) and "451 4.3.0 Still busy" in str(info.value)
    assert sleeps.delays == [0.5, 1.0, 2.0]
    assert handler.received == []


def test_permanent_rejection_of_one_recipient_keeps_the_batch_going(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    handler = RejectsOneRecipient()
    sleeps = Sleeps()
    delivered: list[str] = []
    failures: dict[str, DeliveryError] = {}
    recipients = ["ann@example.org", "gone@example.org", "cy@example.org"]
    with SmtpSink(handler) as server, SmtpSender(smtp_settings(server.port), sleep=sleeps) as s:
        for rcpt in recipients:
            try:
                s.send(SENDER, rcpt, message_for(rcpt, env, settings))
                delivered.append(rcpt)
            except DeliveryError as err:
                failures[rcpt] = err
        assert s.connections_opened == 1
    assert delivered == ["ann@example.org", "cy@example.org"]
    assert handler.recipients() == delivered
    error = failures["gone@example.org"]
    assert error.permanent is True
    assert error.recipient == "gone@example.org"
    assert "550 5.1.1" in str(error)
    assert sleeps.delays == []


def test_server_hanging_up_between_messages_means_a_silent_reconnect(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    handler = ClosesAfterEachMessage()
    with SmtpSink(handler) as server, SmtpSender(smtp_settings(server.port)) as s:
        for rcpt in ["ann@example.org", "bob@example.org", "cy@example.org"]:
            s.send(SENDER, rcpt, message_for(rcpt, env, settings))
            assert handler.hung_up.acquire(timeout=5)  # the server has hung up
        assert s.connections_opened == 3
    assert handler.recipients() == ["ann@example.org", "bob@example.org", "cy@example.org"]


def test_no_server_listening_is_a_temporary_failure(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    sleeps = Sleeps()
    config = smtp_settings(free_port(), max_attempts=2, timeout=2.0)
    with SmtpSender(config, sleep=sleeps) as s, pytest.raises(DeliveryError) as info:
        s.send(SENDER, "ann@example.org", message_for("ann@example.org", env, settings))
    assert info.value.permanent is False
    assert "connection to 127.0.0.1 failed" in str(info.value)
    assert sleeps.delays == [1.0]


# --- Settings ------------------------------------------------------------------------------


def test_plain_smtp_is_refused_for_a_remote_host() -> None:
    with pytest.raises(ConfigError) as info:
        SmtpSettings(host="smtp.example.org", port=25, security="plain")
    assert "smtp.example.org" in str(info.value)
    assert info.value.key == "smtp.security"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.53"])
def test_plain_smtp_is_allowed_on_loopback(host: str) -> None:
    assert SmtpSettings(host=host, port=25, security="plain").security == "plain"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"security": "tls"},
        {"port": 0},
        {"username": "u"},
        {"max_attempts": 0},
        {"timeout": 0},
    ],
)
def test_bad_smtp_settings_are_config_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        SmtpSettings(host="smtp.example.org", **kwargs)
