"""Golden emails: the full message (scrubbed) and its decoded parts, for three digests.

Regenerate after an intended change with `pytest tests/email --regen-golden` and review the
diff: the .txt and .html files are the decoded parts, readable in any diff tool.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import jinja2
import pytest
from email_helpers import empty_digest, hostile_digest, parse_message, part_text, typical_digest

from digest.compose.mail import Envelope, build_message, make_message_id
from digest.compose.render import render_digest
from digest.config.settings import RenderSettings
from digest.models import Digest

CASES: dict[str, Callable[[], Digest]] = {
    "typical": typical_digest,
    "hostile": hostile_digest,
    "empty": empty_digest,
}

GOLDEN_DIR = Path(__file__).parent / "golden"


def scrub(message: str) -> str:
    """Replace what legitimately changes between runs or machines with placeholders."""
    message = re.sub(r"(?m)^Message-ID: .*$", "Message-ID: <MESSAGE-ID>", message)
    message = re.sub(r"(?m)^Date: .*$", "Date: <DATE>", message)
    return re.sub(r"=_digest_[0-9a-f]+", "<BOUNDARY>", message)


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_email(
    name: str, env: jinja2.Environment, settings: RenderSettings, regen_golden: bool
) -> None:
    digest = CASES[name]()
    rendered = render_digest(digest, settings, env)
    envelope = Envelope(
        sender="Paper Digest <digest@example.org>",
        recipient=digest.subscriber.email,
        message_id=make_message_id("example.org", f"{digest.subscriber.email}/{digest.day}"),
        date=dt.datetime(2024, 3, 5, 7, 0, tzinfo=dt.UTC),  # scrubbed below anyway
        list_id="papers.example.org",
        unsubscribe_mailto="unsubscribe@example.org",
        unsubscribe_url=digest.unsubscribe_url,
    )
    data = build_message(rendered, envelope)
    message = parse_message(data)
    outputs = {
        f"{name}.eml": scrub(data.decode("ascii").replace("\r\n", "\n")),
        f"{name}.txt": part_text(message, "plain"),
        f"{name}.html": part_text(message, "html"),
    }
    for filename, actual in outputs.items():
        path = GOLDEN_DIR / filename
        if regen_golden:
            path.write_text(actual, encoding="utf-8", newline="\n")
        assert path.exists(), f"{path} missing: run pytest tests/email --regen-golden"
        expected = path.read_text(encoding="utf-8")
        assert actual == expected, f"{filename} differs from the golden file"
