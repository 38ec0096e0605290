"""The cheaper smtplib steps send exactly what smtplib itself would, and the server agrees."""

from __future__ import annotations

import re
import smtplib
import string

from hypothesis import given
from hypothesis import strategies as st
from support.smtp_server import SmtpSink

from digest.config.addresses import validate_address
from digest.config.settings import SmtpSettings
from digest.deliver.smtp import _PLAIN_ADDRESS, SmtpSender, dot_stuffed


def smtplib_payload(message: bytes) -> bytes:
    """What smtplib.SMTP.data puts on the wire for a bytes message (its own steps)."""
    quoted = re.sub(rb"(?m)^\.", b"..", message)
    if quoted[-2:] != b"\r\n":
        quoted += b"\r\n"
    return quoted + b".\r\n"


LINE_PIECES = st.sampled_from([b".", b"..", b"a", b" ", b"\r\n", b"\n", b"\r", b".\r\n", b"x."])


@given(st.lists(LINE_PIECES, max_size=40).map(b"".join))
def test_dot_stuffing_is_byte_for_byte_smtplib_s(message: bytes) -> None:
    assert dot_stuffed(message) == smtplib_payload(message)


ATOM = st.text(alphabet=string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-", min_size=1)
LABEL = st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=10)


@given(
    st.lists(ATOM, min_size=1, max_size=3).map(".".join),
    st.lists(LABEL, min_size=2, max_size=3).map(".".join),
)
def test_plain_addresses_are_quoted_as_smtplib_quotes_them(local: str, domain: str) -> None:
    address = f"{local}@{domain}"
    assert _PLAIN_ADDRESS.fullmatch(address)
    assert f"<{address}>" == smtplib.quoteaddr(address)


def test_anything_but_a_bare_address_goes_through_smtplib_s_own_quoting() -> None:
    for odd in ("Ann <ann@example.org>", "ann@example.org\r\nRCPT TO:<x@y.z>", "", "<>", "a b@c.d"):
        assert not _PLAIN_ADDRESS.fullmatch(odd)
    assert _PLAIN_ADDRESS.fullmatch(validate_address("Ann.Lee+digest@Example.ORG"))


def test_the_server_receives_dotted_lines_and_odd_endings_unchanged(sink: SmtpSink) -> None:
    messages = {
        "ann@example.org": b"Subject: a\r\n\r\n.starts with a dot\r\n..two\r\n.\r\nend\r\n",
        "bob@example.org": b"Subject: b\r\n\r\nno final line break",
        "cy@example.org": b".\r\nSubject: c\r\n\r\nbody\r\n",
    }
    settings = SmtpSettings(host="127.0.0.1", port=sink.port, security="plain", timeout=5)
    with SmtpSender(settings) as sender:
        for rcpt, data in messages.items():
            sender.send("Digest <digest@example.org>", rcpt, data)  # not bare: smtplib's path
            sender.send("digest@example.org", rcpt, data)  # bare: the lean path
    received = sink.handler.received
    assert [r.rcpt_tos[0] for r in received] == [r for r in messages for _ in range(2)]
    assert {r.mail_from for r in received} == {"digest@example.org"}
    for got in received:
        sent = messages[got.rcpt_tos[0]]
        assert got.data == (sent if sent.endswith(b"\r\n") else sent + b"\r\n")
