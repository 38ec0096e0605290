"""SMTP PIPELINING (RFC 2920): with a server that advertises it, MAIL, RCPT and DATA go in one
write; without, each command waits for its reply. Either way a refusal is reported for its
recipient, as before, and the connection goes on with the next one. Real servers on
127.0.0.1: a scripted one that shows what the client sent ahead, and aiosmtpd."""

from __future__ import annotations

from typing import Any

import pytest
from deliver_handlers import FROM, ledger_unsent, queue_digest, smtp
from scripted_smtp import Script, ScriptedSmtp
from support.smtp_server import RecordingHandler, SmtpSink

from digest.config.settings import SmtpSettings
from digest.deliver.delivery import deliver_pending
from digest.deliver.smtp import SmtpSender, dot_stuffed
from digest.errors import DeliveryError
from digest.models import DeliveryState
from digest.store import Store

MESSAGE = b"Subject: hello\r\n\r\n.a dotted line\r\nbody\r\n"


def settings(port: int, attempts: int = 1) -> SmtpSettings:
    return SmtpSettings(
        host="127.0.0.1",
        port=port,
        security="plain",
        timeout=5,
        max_attempts=attempts,
        backoff_seconds=0,
    )


def commands(script: Script) -> list[str]:
    return [line.split(":")[0].split(" ")[0].upper() for read in script.reads for line in read]


@pytest.mark.parametrize("pipelining", [True, False])
def test_commands_go_ahead_of_their_replies_only_when_the_server_advertises_pipelining(
    pipelining: bool,
) -> None:
    script = Script(pipelining=pipelining, answer=lambda line: _accept(line))
    with ScriptedSmtp(script) as server, SmtpSender(settings(server.port)) as sender:
        sender.send("digest@example.org", "ann@example.org", MESSAGE)
        sender.send("digest@example.org", "bob@example.org", MESSAGE)
    assert script.ahead is pipelining
    assert script.bodies == [dot_stuffed(MESSAGE)[: -len(b".\r\n")]] * 2
    group = ["MAIL", "RCPT", "DATA"]
    assert commands(script) == ["EHLO", *group, *group, "QUIT"]
    if pipelining:  # the whole group in the reads before the server said anything to it
        mails = [line for read in script.reads for line in read if line.startswith("mail")]
        assert mails == [f"mail FROM:<digest@example.org> size={len(MESSAGE)}"] * 2


def _accept(line: str) -> str:
    return "354 go ahead" if line.upper() == "DATA" else "250 OK"


def test_a_refused_recipient_whose_data_the_server_still_took_ends_with_a_lone_dot() -> None:
    """RFC 2920 3.1: every reply of a group is read; a DATA answered 354 after the only
    recipient was refused is closed with a lone dot (an empty message), then RSET."""

    def answer(line: str) -> str:
        if line.startswith("rcpt TO:<gone@"):
            return "550 5.1.1 no such mailbox"
        if line == ".":
            return "554 no valid recipients" if not script.bodies[-1] else "250 queued"
        return _accept(line)

    script = Script(answer=answer)
    with ScriptedSmtp(script) as server, SmtpSender(settings(server.port)) as sender:
        with pytest.raises(DeliveryError) as refused:
            sender.send("digest@example.org", "gone@example.org", MESSAGE)
        sender.send("digest@example.org", "ann@example.org", MESSAGE)
        opened = sender.connections_opened
    assert refused.value.permanent
    assert refused.value.recipient == "gone@example.org"
    assert refused.value.reason == "recipient refused: 550 5.1.1 no such mailbox"
    assert script.bodies == [b"", dot_stuffed(MESSAGE)[: -len(b".\r\n")]]
    assert commands(script)[:6] == ["EHLO", "MAIL", "RCPT", "DATA", "RSET", "MAIL"]
    assert opened == 1  # the refusal cost the connection nothing


def test_a_421_in_a_group_reconnects_without_waiting_for_replies_that_never_come() -> None:
    closed: list[str] = []

    def answer(line: str) -> str:
        if line.startswith("mail") and not closed:
            closed.append(line)
            return "421 4.3.2 shutting down"
        return _accept(line)

    script = Script(answer=answer)
    with ScriptedSmtp(script) as server, SmtpSender(settings(server.port, attempts=2)) as sender:
        sender.send("digest@example.org", "ann@example.org", MESSAGE)
        opened = sender.connections_opened
    assert opened == 2
    assert len(script.bodies) == 1


class Pipelining(RecordingHandler):
    """aiosmtpd reads commands one by one from its stream, so it can take a group: this
    handler advertises PIPELINING, as production MTAs do."""

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        responses = await super().handle_EHLO(server, session, envelope, hostname, responses)
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


def test_with_a_pipelining_aiosmtpd_refusals_stay_per_recipient() -> None:
    handler = Pipelining(
        reject={
            "gone@example.org": "550 5.1.1 no such mailbox",
            "busy@example.org": "451 4.2.1 mailbox busy",
        }
    )
    server = SmtpSink(handler=handler)
    try:
        outcomes = {}
        with SmtpSender(settings(server.port, attempts=2)) as sender:
            for rcpt in (
                "ann@example.org",
                "gone@example.org",
                "busy@example.org",
                "bob@example.org",
            ):
                try:
                    sender.send("digest@example.org", rcpt, MESSAGE)
                    outcomes[rcpt] = "sent"
                except DeliveryError as err:
                    outcomes[rcpt] = (
                        f"{'permanent' if err.permanent else 'temporary'}: {err.reason}"
                    )
            opened = sender.connections_opened
    finally:
        server.close()
    assert outcomes == {
        "ann@example.org": "sent",
        "gone@example.org": "permanent: recipient refused: 550 5.1.1 no such mailbox",
        "busy@example.org": "temporary: 2 attempts failed, the last: recipient refused: "
        "451 4.2.1 mailbox busy",
        "bob@example.org": "sent",
    }
    assert [r.rcpt_tos for r in handler.received] == [["ann@example.org"], ["bob@example.org"]]
    assert all(r.data == MESSAGE for r in handler.received)
    assert opened == 1


def test_a_pass_over_the_outbox_through_a_pipelining_server_records_each_message_as_before(
    store: Store,
) -> None:
    """Outbox -> claim -> pipelined SMTP -> marked sent, on two connections: the accepted
    ones are sent with their papers, the refused one is failed for its recipient alone."""
    handler = Pipelining(reject={"reader3@example.org": "550 5.1.1 no such mailbox"})
    server = SmtpSink(handler=handler)
    try:
        readers = [queue_digest(store, n) for n in range(8)]
        outcomes = deliver_pending(
            store, lambda: SmtpSender(smtp(server.port)), FROM, connections=2
        )
    finally:
        server.close()
    states = {o.recipient: o.state for o in outcomes}
    assert states == {
        r: DeliveryState.FAILED if r == "reader3@example.org" else DeliveryState.SENT
        for r in readers
    }
    assert sorted(r.rcpt_tos[0] for r in handler.received) == sorted(
        r for r in readers if r != "reader3@example.org"
    )
    assert store.pending() == []
    assert [item.recipient for item in store.failed()] == ["reader3@example.org"]
    assert ledger_unsent(store) == 1  # the refused digest's one paper, reserved, not sent
