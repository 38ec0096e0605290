"""The benchmarks' lean SMTP sink is a real SMTP server: smtplib and our own sender deliver
through it, it counts what aiosmtpd counts, and it answers every step as RFC 5321 says."""

from __future__ import annotations

import smtplib
import socket

import pytest

from bench.sink import MAX_SIZE, Counts, Session, Sink
from digest.config.settings import SmtpSettings
from digest.deliver.sendpool import Job, SenderPool
from digest.deliver.smtp import SmtpSender

MESSAGES = [
    b"Subject: one\r\n\r\nHello.\r\n",
    # A dot at a line start is doubled on the wire and must be counted once.
    b"Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nend\r\n",
    # 8-bit bytes pass as they are (8BITMIME).
    "Subject: acht\r\n\r\nGr\u00fc\u00dfe aus K\u00f6ln\r\n".encode(),
    b"Subject: big\r\n\r\n" + b"x" * 998 + b"\r\n" * 2000 + b".\r\n" * 50,
]


def reply_codes(replies: bytes) -> list[int]:
    """The code of each reply (a multi-line reply counts once, at its last line)."""
    return [int(line[:3]) for line in replies.split(b"\r\n") if line[3:4] == b" "]


def session() -> Session:
    greeted = Session(Counts())
    assert reply_codes(greeted.feed(b"EHLO client.example\r\n")) == [250]
    return greeted


def test_smtplib_delivers_through_the_lean_sink_which_counts_messages_and_bytes() -> None:
    sink = Sink("lean")
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
        client.ehlo("bench.example")
        assert {"pipelining", "8bitmime", "size"} <= set(client.esmtp_features)
        assert client.esmtp_features["size"] == str(MAX_SIZE)
        for message in MESSAGES:
            assert client.sendmail("a@example.org", ["b@example.org"], message) == {}
        assert client.noop()[0] == 250
        assert client.rset()[0] == 250
    messages, size, cpu = sink.finish()
    assert (messages, size) == (len(MESSAGES), sum(len(m) for m in MESSAGES))
    assert cpu >= 0.0


def test_our_sender_and_pool_deliver_through_the_lean_sink() -> None:
    sink = Sink("lean")
    settings = SmtpSettings(host="127.0.0.1", port=sink.port, security="plain", timeout=10)
    with SmtpSender(settings) as sender:
        for message in MESSAGES:
            sender.send("digest@example.org", "reader@example.org", message)
    accepted = 0
    pool: SenderPool[int]
    with SenderPool(lambda: SmtpSender(settings), connections=2) as pool:
        for number in range(20):
            if not pool.has_room:
                accepted += pool.next_outcome().accepted
            pool.submit(Job(number, "digest@example.org", "r@example.org", MESSAGES[number % 4]))
        while pool.in_flight:
            accepted += pool.next_outcome().accepted
    messages, size, _ = sink.finish()
    pooled = sum(len(MESSAGES[n % 4]) for n in range(20))
    assert accepted == 20
    assert (messages, size) == (len(MESSAGES) + 20, sum(len(m) for m in MESSAGES) + pooled)


def test_the_lean_sink_counts_what_aiosmtpd_counts() -> None:
    counted = []
    for kind in ("aiosmtpd", "lean"):
        sink = Sink(kind)
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
            for message in MESSAGES:
                client.sendmail("a@example.org", ["b@example.org"], message)
        counted.append(sink.finish()[:2])
    assert counted[0] == counted[1] == (len(MESSAGES), sum(len(m) for m in MESSAGES))


def test_pipelined_commands_in_one_read_are_answered_in_order() -> None:
    sink = Sink("lean")
    with socket.create_connection(("127.0.0.1", sink.port), timeout=10) as conn:
        reader = conn.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        conn.sendall(
            b"EHLO c.example\r\nMAIL FROM:<a@example.org> BODY=8BITMIME SIZE=100\r\n"
            b"RCPT TO:<b@example.org>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n"
        )
        codes = []
        while len(codes) < 5:
            line = reader.readline()
            if line[3:4] == b" ":
                codes.append(int(line[:3]))
        assert codes == [250, 250, 250, 250, 354]
        # The message, its end and the next commands in one write.
        conn.sendall(b"Subject: x\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
        assert [reader.readline()[:3] for _ in range(3)] == [b"250", b"250", b"221"]
        assert reader.read() == b""  # the sink closed the connection after QUIT
    assert sink.finish()[:2] == (1, len(b"Subject: x\r\n\r\nbody\r\n"))


@pytest.mark.parametrize("split", range(1, 12))
def test_the_end_of_data_is_found_however_the_reads_cut_it(split: int) -> None:
    smtp = session()
    smtp.feed(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.org>\r\n")
    assert reply_codes(smtp.feed(b"DATA\r\n")) == [354]
    wire = b"line\r\n..dot\r\n.\r\nNOOP\r\n"
    replies = smtp.feed(wire[:split]) + smtp.feed(wire[split:])
    assert reply_codes(replies) == [250, 250]
    assert (smtp.counts.messages, smtp.counts.bytes) == (1, len(b"line\r\n.dot\r\n"))


def test_an_empty_message_is_counted_even_when_its_dot_comes_alone() -> None:
    smtp = session()
    smtp.feed(b"MAIL FROM:<>\r\nRCPT TO:<b@example.org>\r\nDATA\r\n")
    assert reply_codes(smtp.feed(b".") + smtp.feed(b"\r\n")) == [250]
    assert (smtp.counts.messages, smtp.counts.bytes) == (1, 0)


@pytest.mark.parametrize(
    ("commands", "codes"),
    [
        (b"MAIL FROM:<a@example.org>\r\n", [503]),  # before EHLO/HELO
        (b"EHLO c\r\nRCPT TO:<b@example.org>\r\n", [250, 503]),  # RCPT before MAIL
        (b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nDATA\r\n", [250, 250, 503]),  # no RCPT
        (b"EHLO c\r\nMAIL FROM:<a@x.org>\r\nMAIL FROM:<a@x.org>\r\n", [250, 250, 503]),
        (b"EHLO c\r\nMAIL FROM:<a@x.org>\r\nRSET\r\nRCPT TO:<b@x.org>\r\n", [250, 250, 250, 503]),
        (b"EHLO\r\n", [501]),
        (b"EHLO c\r\nMAIL TO:<a@x.org>\r\n", [250, 501]),
        (b"EHLO c\r\nMAIL FROM:a@x.org\r\n", [250, 501]),
        (b"EHLO c\r\nMAIL FROM:<a@x.org> SMTPUTF8\r\n", [250, 555]),  # not advertised
        (b"HELO c\r\nMAIL FROM:<a@x.org> BODY=8BITMIME\r\n", [250, 555]),  # no EHLO
        (b"EHLO c\r\nMAIL FROM:<a@x.org> SIZE=%d\r\n" % (MAX_SIZE + 1), [250, 552]),
        (b"EHLO c\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<>\r\n", [250, 250, 501]),
        (b"EHLO c\r\nMAIL FROM:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nDATA now\r\n", [250] * 3 + [501]),
        (b"STARTTLS\r\nVRFY a\r\n", [500, 500]),
        (b"X" * 3000 + b"\r\nNOOP\r\n", [500, 250]),
    ],
)
def test_bad_sequences_and_syntax_get_5xx_and_the_session_goes_on(
    commands: bytes, codes: list[int]
) -> None:
    smtp = Session(Counts())
    assert reply_codes(smtp.feed(commands)) == codes
    assert not smtp.closing


def test_a_message_over_the_size_limit_is_refused_and_not_counted() -> None:
    smtp = session()
    smtp.feed(b"MAIL FROM:<a@x.org>\r\nRCPT TO:<b@x.org>\r\nDATA\r\n")
    chunk = b"y" * 998 + b"\r\n"
    replies = b"".join(smtp.feed(chunk) for _ in range(MAX_SIZE // len(chunk) + 2))
    assert replies == b""
    assert reply_codes(smtp.feed(b".\r\nMAIL FROM:<a@x.org>\r\n")) == [552, 250]
    assert smtp.counts.messages == 0
