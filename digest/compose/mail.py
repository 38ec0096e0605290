"""MIME: turn a RenderedDigest plus an Envelope into RFC 5322 bytes.

Pure functions, no I/O. Every header value is checked or re-encoded here, so nothing that
came from a feed (titles in the subject) or from configuration can add a header line.
"""

from __future__ import annotations

import binascii
import datetime as dt
import functools
import hashlib
import re
from dataclasses import dataclass
from email.header import Header
from email.utils import format_datetime, formataddr

from digest.config.addresses import (
    HeaderValueError,
    check_header_url,
    check_list_id,
    clean_header_text,
    mailto_uri,
    normalise_domain,
    parse_mailbox,
    validate_address,
)
from digest.models import RenderedDigest

_MESSAGE_ID = re.compile(r"<[!-;=?-~]+@[A-Za-z0-9.-]+>")  # printable ASCII, no < > or space
_MAX_SUBJECT_CHARS = 200
_FOLD_AT = 78  # RFC 5322: lines SHOULD be at most 78 characters


def make_message_id(domain: str, key: str) -> str:
    """A Message-ID that depends only on `key` (e.g. "subscriber 17, 2024-03-05").

    Re-rendering the same digest gives the same id, so receivers and our outbox can tell a
    retry from a new message.
    """
    host = normalise_domain(domain.strip(), domain) if domain.strip() else ""
    if not host:
        raise HeaderValueError("a domain is required", header="Message-ID", value=domain)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
    return f"<digest.{digest}@{host}>"


@dataclass(frozen=True, slots=True)
class Envelope:
    """Who the message is from and to, plus the per-message headers the renderer can't know."""

    sender: str  # "Paper Digest <digest@example.org>" or a bare address
    recipient: str
    message_id: str  # from make_message_id
    date: dt.datetime  # timezone-aware
    list_id: str | None = None  # e.g. "papers.example.org" (RFC 2919)
    unsubscribe_mailto: str | None = None  # "mailto:unsub@example.org?subject=..." or address
    unsubscribe_url: str | None = None  # https one-click endpoint (RFC 8058)
    reply_to: str | None = None


# --- The message --------------------------------------------------------------------------
#
# The header block and the two-part body are written by hand: the set of headers is small
# and fixed, every value is checked above, and the email package's generator would refold
# long List-Unsubscribe URLs into RFC 2047 encoded-words, which breaks them.

_CRLF = "\r\n"


def _encode_unstructured(name: str, value: str) -> str:
    """`Name: value` for free text; RFC 2047 encoded-words only when the text needs them."""
    if value.isascii() and "=?" not in value:
        return f"{name}: {value}"
    return f"{name}: " + Header(value, "utf-8", header_name=name).encode(linesep=_CRLF)


def fold(line: str, limit: int = _FOLD_AT) -> str:
    """Fold one header line (RFC 5322 2.2.3) before `limit` columns where it has a space to
    fold at; a single word longer than that (a long URL) stays whole (allowed up to 998)."""
    if len(line) <= limit or " " not in line or _CRLF in line:  # short, unbreakable, or done
        return line
    words = line.split(" ")
    lines, current = [], words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) > limit:
            lines.append(current)
            current = " " + word  # the folding white space starts the continuation line
        else:
            current += " " + word
    lines.append(current)
    return _CRLF.join(lines)


def _mailbox(name: str, address: str) -> str:
    return formataddr((name, address), charset="utf-8") if name else address


# A run sends every message from one sender, with one reply address and one Date: their
# header values are checked and formatted once, not per message.
@functools.lru_cache(maxsize=16)
def _mailbox_of(value: str) -> str:
    return _mailbox(*parse_mailbox(value))


@functools.lru_cache(maxsize=16)
def _date_value(date: dt.datetime, offset: dt.timedelta | None) -> str:
    # The offset is part of the key: 07:00 UTC and 08:00+01:00 are equal datetimes (one
    # hash) but are written differently.
    return format_datetime(date)


# Digests of one day share most of their text (each paper's block is the same in every
# digest that lists it), and quoted-printable works paragraph by paragraph, so each
# distinct paragraph is encoded once. Bounded: when the memo reaches this many pieces it
# starts afresh, keeping only the pieces used since the previous fresh start (those of one
# message alone, such as its recipient's, soon drop out; those of the day's papers stay).
_MEMO_ENTRIES = 8_000
_qp_memo: dict[str, str] = {}
_qp_older: dict[str, str] = {}


def _remember(memo: dict[str, str], older: dict[str, str], piece: str, value: str) -> None:
    if len(memo) >= _MEMO_ENTRIES:
        older.clear()
        older.update(memo)
        memo.clear()
    memo[piece] = value


def _unix(text: str) -> str:
    # Searching for "\r" is much cheaper than replacing it in text that is not pure ASCII.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _qp_paragraph(paragraph: str) -> str:
    """Lines that a line break follows. binascii looks one character ahead (whitespace at
    a line's end is encoded, and may then fit without a soft break), so the text is
    encoded with its break and the break taken off again."""
    encoded = _qp_older.get(paragraph)
    if encoded is None:
        encoded = binascii.b2a_qp(paragraph.encode("utf-8") + b"\n", istext=True).decode("ascii")
        encoded = encoded[:-1].replace("\n", _CRLF)
    _remember(_qp_memo, _qp_older, paragraph, encoded)
    return encoded


def _qp_body(content: str) -> str:
    """UTF-8 quoted-printable with CRLF line ends, encoded by binascii (C) rather than the
    email package's pure-Python encoder, which would dominate the cost of an HTML part.
    binascii's state starts afresh after each line break, so encoding paragraph by
    paragraph (cut at blank lines: a wrapped paragraph is one look-up, not one per line)
    gives the same bytes as encoding the whole text at once."""
    paragraphs = _unix(content).split("\n\n")
    last = paragraphs.pop()  # no line break follows it
    encoded = list(map(_qp_memo.get, paragraphs))
    if None in encoded:  # only the pieces not seen lately (a recipient's own) are encoded
        for at in [at for at, known in enumerate(encoded) if known is None]:
            encoded[at] = _qp_paragraph(paragraphs[at])
    encoded.append(
        binascii.b2a_qp(last.encode("utf-8"), istext=True).decode("ascii").replace("\n", _CRLF)
    )
    return (_CRLF + _CRLF).join(encoded)  # type: ignore[arg-type]  # no None left


_HTML_LINE = 990  # under SMTP's 998-octet limit
# Tag names are ASCII: looked for in the encoded bytes, lowered (cheaper than ignoring case;
# a find per tag name costs more than this one pass, which stops at every '<').
_WHITESPACE_SENSITIVE = re.compile(rb"<(?:pre|textarea|plaintext|xmp)\b")


_SPACES = re.compile(rb" +")
_Line = tuple[int, int]  # a line's start and end (its newline, or the end of the text)


def _line_at(data: bytes, pos: int, known: _Line) -> _Line:
    """The line holding data[pos]: `known` again while pos is in it (a long line's end is
    searched for once, not at each of its output lines)."""
    if known[0] <= pos <= known[1]:
        return known
    end = data.find(b"\n", pos)
    return data.rfind(b"\n", 0, pos) + 1, len(data) if end < 0 else end


def _last_break(data: bytes, pos: int, end: int, line: _Line) -> tuple[int, _Line]:
    """The last word break in data[pos:end] (-1 if none): a newline, or a space of a line
    over the limit (where else would such a line be cut?); and the window's last line."""
    cut = data.rfind(b"\n", pos, end)
    if cut == end - 1:
        return cut, line  # a break at the window's last byte: none can be later
    line = _line_at(data, end - 1, line)
    if line[1] - line[0] > _HTML_LINE:
        cut = max(cut, data.rfind(b" ", max(line[0], pos), end))
    return cut, line


def _html_7bit(html_text: str) -> str | None:
    """The HTML as pure ASCII in long lines, or None if that would change its meaning.

    Non-ASCII becomes character references (&#233;) and lines are packed up to 990 octets,
    joining and splitting only at whitespace, which HTML treats alike (newline = space)
    outside <pre>-like elements. Compared with quoted-printable this avoids '=3D' for every
    attribute and cuts the line count ~15x, which is what SMTP servers pay for per message.

    Packing is greedy over words: the words are the lines, and in a line longer than 990
    octets also its space-separated pieces. An output line holds as many words as fit,
    joined by single spaces; empty words at the start of an output line are dropped.

    Only the encoding and the joining pass over the whole message: each output line is
    found by a few searches around its end (_last_break), so a message costs C calls per
    output line (about 70), not Python steps per input line (about 350).
    """
    data = html_text.encode("ascii", "xmlcharrefreplace")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if _WHITESPACE_SENSITIVE.search(data.lower()):
        return None
    packed: list[bytes] = []
    size = len(data)
    pos = 0
    line: _Line = (-1, -1)
    while True:
        while pos < size:  # empty words at the start of a line are dropped
            if data[pos] == 10:
                pos += 1
                continue
            if data[pos] == 32:
                line = _line_at(data, pos, line)
                if line[1] - line[0] > _HTML_LINE:  # spaces there are word breaks
                    pos = _SPACES.match(data, pos).end()  # type: ignore[union-attr]
                    continue
            break
        if size - pos <= _HTML_LINE:
            packed.append(data[pos:].replace(b"\n", b" "))
            return b"\r\n".join(packed).decode("ascii")
        cut, line = _last_break(data, pos, pos + _HTML_LINE + 1, line)
        if cut < 0:
            return None  # one unbreakable run (a monster URL): leave it to QP
        packed.append(data[pos:cut].replace(b"\n", b" "))
        pos = cut + 1


def _list_unsubscribe(envelope: Envelope) -> tuple[str | None, bool]:
    """The List-Unsubscribe value and whether one-click (RFC 8058) applies."""
    uris: list[str] = []
    if envelope.unsubscribe_mailto:
        uris.append(mailto_uri(envelope.unsubscribe_mailto))
    one_click = False
    if envelope.unsubscribe_url:
        uris.append(
            check_header_url(envelope.unsubscribe_url, "List-Unsubscribe", ("https", "http"))
        )
        # RFC 8058 one-click requires an HTTPS URI; plain http only gets the classic header.
        one_click = envelope.unsubscribe_url.lower().startswith("https://")
    if not uris:
        return None, False
    return ", ".join(f"<{uri}>" for uri in uris), one_click


def _boundary(message_id: str) -> str:
    # "=_" can never occur in quoted-printable bodies, so the boundary cannot collide with
    # content; deriving it from the Message-ID keeps re-rendered bytes identical.
    return "=_digest_" + hashlib.sha256(message_id.encode("ascii")).hexdigest()[:24]


def _headers(rendered: RenderedDigest, envelope: Envelope) -> list[str]:
    if envelope.date.tzinfo is None or envelope.date.utcoffset() is None:
        raise HeaderValueError("must be timezone-aware", header="Date", value=str(envelope.date))
    if not _MESSAGE_ID.fullmatch(envelope.message_id):
        raise HeaderValueError("is not <id@domain>", header="Message-ID", value=envelope.message_id)
    sender = _mailbox_of(envelope.sender)
    recipient = validate_address(envelope.recipient)
    unsubscribe, one_click = _list_unsubscribe(envelope)

    lines = ["From: " + sender, "To: " + recipient]
    if envelope.reply_to:
        lines.append("Reply-To: " + _mailbox_of(envelope.reply_to))
    lines += [
        _encode_unstructured("Subject", clean_header_text(rendered.subject, _MAX_SUBJECT_CHARS)),
        "Date: " + _date_value(envelope.date, envelope.date.utcoffset()),
        "Message-ID: " + envelope.message_id,
    ]
    if envelope.list_id:
        check_list_id(envelope.list_id)
        lines.append(f"List-Id: <{envelope.list_id}>")
    if unsubscribe:
        lines.append("List-Unsubscribe: " + unsubscribe)
        if one_click:
            lines.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click")
    # Keeps out-of-office robots from answering a digest.
    lines += ["Auto-Submitted: auto-generated", "Precedence: bulk", "MIME-Version: 1.0"]
    return [fold(line) for line in lines]


def build_message(rendered: RenderedDigest, envelope: Envelope) -> bytes:
    """multipart/alternative (text, then HTML), CRLF line ends, with List-Id,
    List-Unsubscribe and the RFC 8058 one-click header. The text part is UTF-8
    quoted-printable; the HTML part is 7bit ASCII with character references when that is
    lossless (see _html_7bit), else quoted-printable too."""
    boundary = _boundary(envelope.message_id)
    lines = _headers(rendered, envelope)
    lines.append(fold(f'Content-Type: multipart/alternative; boundary="{boundary}"'))
    lines.append("")
    html_body = _html_7bit(rendered.html)
    parts = [("plain", "quoted-printable", _qp_body(rendered.text))]
    if html_body is None:
        parts.append(("html", "quoted-printable", _qp_body(rendered.html)))
    else:
        parts.append(("html", "7bit", html_body))
    for subtype, encoding, body in parts:
        lines += [
            f"--{boundary}",
            f'Content-Type: text/{subtype}; charset="utf-8"',
            f"Content-Transfer-Encoding: {encoding}",
            "",
            body,
        ]
    lines += [f"--{boundary}--", ""]
    return _CRLF.join(lines).encode("ascii")
