"""Addresses, Message-IDs and build_message: structure, headers and injection resistance."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import jinja2
import pytest
from email_helpers import (
    hostile_digest,
    html_as_received,
    html_as_sent,
    parse_message,
    part_text,
    typical_digest,
)

from digest.compose.mail import Envelope, HeaderValueError, build_message, make_message_id
from digest.compose.render import render_digest
from digest.config.addresses import validate_address
from digest.config.settings import RenderSettings
from digest.deliver.smtp import OutboxDirSender
from digest.errors import AddressError, DeliveryError
from digest.models import RenderedDigest

DATE = dt.datetime(2024, 3, 5, 7, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))


def envelope(**overrides: object) -> Envelope:
    values: dict[str, object] = {
        "sender": "Paper Digest <digest@example.org>",
        "recipient": "reader@example.org",
        "message_id": make_message_id("example.org", "7/2024-03-05"),
        "date": DATE,
        "list_id": "papers.example.org",
        "unsubscribe_mailto": "unsubscribe@example.org",
        "unsubscribe_url": "https://digest.example.org/unsubscribe/TOKEN?x=1&y=2",
    }
    values.update(overrides)
    return Envelope(**values)  # type: ignore[arg-type]


# --- Addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Reader@Example.ORG", "Reader@example.org"),
        ("  a.b+tag@sub.example.co.uk ", "a.b+tag@sub.example.co.uk"),
        ("user@bücher.de", "user@xn--bcher-kva.de"),
    ],
)
def test_valid_addresses_are_normalised(raw: str, normalised: str) -> None:
    assert validate_address(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "plainaddress",
        "user@",
        "@example.org",
        "user@localhost",
        "a@example.org, b@example.org",
        "a@example.org;b@example.org",
        "a@example.org\r\nBcc: x@evil.example",
        "a@example.org\nBcc: x@evil.example",
        "Name <a@example.org>",
        "a b@example.org",
        "a@@example.org",
        "a@b@example.org",
        ".a@example.org",
        "a..b@example.org",
        "a@exa_mple.org",
        "a@-example.org",
        "a@192.168.0.1",
        "ü@example.org",
        "x" * 65 + "@example.org",
    ],
)
def test_invalid_addresses_raise_naming_the_address(raw: str) -> None:
    with pytest.raises(AddressError) as info:
        validate_address(raw)
    assert info.value.address == raw
    assert repr(raw) in str(info.value)


def test_message_id_is_deterministic_and_well_formed() -> None:
    first = make_message_id("Example.ORG", "subscriber 7 / 2024-03-05")
    assert first == make_message_id("example.org", "subscriber 7 / 2024-03-05")
    assert first != make_message_id("example.org", "subscriber 7 / 2024-03-06")
    assert first.startswith("<digest.") and first.endswith("@example.org>")
    with pytest.raises(HeaderValueError):
        make_message_id("", "k")


# --- The message ---------------------------------------------------------------------------


def test_message_structure_and_headers(env: jinja2.Environment, settings: RenderSettings) -> None:
    rendered = render_digest(typical_digest(), settings, env)
    data = build_message(rendered, envelope(reply_to="Lab <lab@example.org>"))
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert data.isascii()
    message = parse_message(data)
    assert message.defects == []
    assert message["MIME-Version"] == "1.0"
    assert message["Date"] == "Tue, 05 Mar 2024 07:00:00 +0100"
    assert message["Message-ID"] == make_message_id("example.org", "7/2024-03-05")
    assert message["Reply-To"] == "Lab <lab@example.org>"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe"] == (
        "<mailto:unsubscribe@example.org?subject=unsubscribe>, "
        "<https://digest.example.org/unsubscribe/TOKEN?x=1&y=2>"
    )
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert part_text(message, "plain") == rendered.text
    assert html_as_received(part_text(message, "html")) == html_as_sent(rendered.html)
    # Same inputs, same bytes: a retried render is indistinguishable.
    assert build_message(rendered, envelope(reply_to="Lab <lab@example.org>")) == data


def test_non_ascii_subject_and_sender_are_rfc2047_encoded() -> None:
    rendered = RenderedDigest(subject="Schrödinger — 3 papers", html="<p>x</p>", text="x")
    data = build_message(rendered, envelope(sender="Papier Café <digest@example.org>"))
    assert b"=?utf-8?" in data
    message = parse_message(data)
    assert message["Subject"] == "Schrödinger — 3 papers"
    assert message["From"].addresses[0].display_name == "Papier Café"


def test_hostile_subject_cannot_add_headers(
    env: jinja2.Environment,
) -> None:
    settings = RenderSettings(subject_template="{top_title}")
    rendered = render_digest(hostile_digest(), settings, env)
    forced = RenderedDigest(subject=rendered.subject + "\r\nBcc: x@evil.example", html="", text="")
    for candidate in (rendered, forced):
        message = parse_message(build_message(candidate, envelope()))
        assert message["Bcc"] is None
        assert message.get_all("To") == ["reader@example.org"]
        assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
        assert message["Subject"].startswith("Diffusion models Bcc: victim@evil.example")


def test_without_https_url_there_is_no_one_click_header() -> None:
    rendered = RenderedDigest(subject="s", html="h", text="t")
    message = parse_message(
        build_message(rendered, envelope(unsubscribe_url="http://digest.example.org/u/T"))
    )
    assert message["List-Unsubscribe"] == (
        "<mailto:unsubscribe@example.org?subject=unsubscribe>, <http://digest.example.org/u/T>"
    )
    assert message["List-Unsubscribe-Post"] is None
    bare = parse_message(
        build_message(
            rendered, envelope(unsubscribe_url=None, unsubscribe_mailto=None, list_id=None)
        )
    )
    assert bare["List-Unsubscribe"] is None and bare["List-Id"] is None


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"recipient": "a@example.org\r\nBcc: x@evil.example"}, AddressError),
        ({"recipient": "a@example.org, b@example.org"}, AddressError),
        ({"sender": "x <a@example.org>, y <b@example.org>"}, AddressError),
        ({"sender": "Evil\r\nBcc: x@evil.example <a@example.org>"}, AddressError),
        ({"unsubscribe_url": "https://x.org/a\r\nBcc: x@evil.example"}, HeaderValueError),
        ({"unsubscribe_url": "https://x.org/a>, <https://evil.example"}, HeaderValueError),
        ({"unsubscribe_url": "javascript:alert(1)"}, HeaderValueError),
        ({"unsubscribe_mailto": "mailto:a@example.org\nBcc: x@evil.example"}, HeaderValueError),
        ({"list_id": "papers\r\nBcc: x@evil.example"}, HeaderValueError),
        ({"message_id": "<abc@example.org>\r\nBcc: x@evil.example"}, HeaderValueError),
        ({"date": dt.datetime(2024, 3, 5, 7, 0)}, HeaderValueError),
    ],
)
def test_bad_envelope_values_are_refused(overrides: dict[str, object], error: type) -> None:
    rendered = RenderedDigest(subject="s", html="h", text="t")
    with pytest.raises(error):
        build_message(rendered, envelope(**overrides))


# --- Outbox directory ----------------------------------------------------------------------


def test_outbox_dir_writes_unique_safe_eml_files(tmp_path: Path) -> None:
    rendered = RenderedDigest(subject="s", html="<p>h</p>", text="t")
    data = build_message(rendered, envelope())
    out = tmp_path / "outbox"
    with OutboxDirSender(out) as sender:
        sender.send("digest@example.org", "reader@example.org", data)
        sender.send("digest@example.org", "reader@example.org", data)
        sender.send("digest@example.org", "../../etc/passwd@evil.example", data)
    files = sorted(out.iterdir())
    assert len(files) == 3
    assert all(f.suffix == ".eml" and f.parent == out for f in files)
    assert all("/" not in f.name and not f.name.startswith(".") for f in files)
    assert len({f.name for f in files}) == 3
    assert all(f.read_bytes() == data for f in files)
    assert parse_message(files[0].read_bytes())["To"] == "reader@example.org"


def test_outbox_dir_failure_is_a_delivery_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    sender = OutboxDirSender(blocker / "outbox")
    with pytest.raises(DeliveryError) as info:
        sender.send("digest@example.org", "reader@example.org", b"x")
    assert info.value.recipient == "reader@example.org"


def test_html_part_is_7bit_ascii_in_few_long_lines(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    rendered = render_digest(typical_digest(), settings, env)
    message = parse_message(build_message(rendered, envelope()))
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    assert html_part["Content-Transfer-Encoding"] == "7bit"
    raw = html_part.get_payload()
    assert isinstance(raw, str) and raw.isascii()
    lines = raw.split("\r\n") if "\r\n" in raw else raw.split("\n")
    assert max(len(line) for line in lines) <= 998
    assert len(lines) < len(rendered.html.splitlines())
    assert "Schr&#246;dinger bridges" in raw


@pytest.mark.parametrize(
    "html",
    [
        "<p>code:</p><pre>line one\n    line two</pre>",
        "<p>" + "x" * 2000 + "</p>",
    ],
)
def test_html_that_cannot_be_folded_losslessly_goes_quoted_printable(html: str) -> None:
    data = build_message(RenderedDigest(subject="s", html=html, text="t"), envelope())
    message = parse_message(data)
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    assert html_part["Content-Transfer-Encoding"] == "quoted-printable"
    assert part_text(message, "html") == html
    payload = html_part.get_payload()
    assert isinstance(payload, str)
    assert all(len(line) <= 76 for line in payload.splitlines())


def test_long_header_lines_are_folded_and_read_back_whole() -> None:
    long_subject = " ".join(["Attention is all you need"] * 7)  # ASCII, 181 characters
    rendered = RenderedDigest(subject=long_subject, html="<p>x</p>", text="x")
    raw = build_message(
        rendered,
        envelope(unsubscribe_url="https://example.org/digest/unsubscribe?token=" + "A" * 20),
    )
    head = raw.partition(b"\r\n\r\n")[0].decode("ascii")

    assert all(len(line) <= 78 for line in head.split("\r\n")), head
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == long_subject
    unsubscribe = message["List-Unsubscribe"]
    assert "<mailto:unsubscribe@example.org?subject=unsubscribe>" in unsubscribe
    assert "<https://example.org/digest/unsubscribe?token=" + "A" * 20 + ">" in unsubscribe
