"""The unsubscribe link of a real digest works; a preview can be mailed to one address."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from support.installation import BOB, BOB_WORDS, Installation, arxiv_ids, matched_lines

from digest.cli import main

NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)


def serve(installation: Installation, now: dt.datetime) -> None:
    for offset in (0, 1):
        day = now.date() - dt.timedelta(days=offset)
        installation.serve_day(day, "hf_day1.json", "arxiv_day1.xml")


def test_token_from_the_list_unsubscribe_header_unsubscribes(
    installation: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    installation.subscribe(BOB, BOB_WORDS)
    serve(installation, NOW)
    assert installation.run(NOW).ok
    (mail,) = installation.smtp.handler.to(BOB)
    header = mail.message["List-Unsubscribe"]
    https = re.search(r"<(https://[^>]+)>", header)
    assert https is not None
    token = parse_qs(urlsplit(https.group(1)).query)["token"][0]
    assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"subject=unsubscribe%20{token}" in header  # the mailto link carries the same token

    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    config = ["--config", str(installation.config)]
    assert main([*config, "unsubscribe", "--token", forged]) == 2
    assert "digest: error:" in capsys.readouterr().err
    assert main([*config, "unsubscribe", "--token", token]) == 0
    assert f"Unsubscribed {BOB}." in capsys.readouterr().out

    serve(installation, NOW + dt.timedelta(days=1))
    installation.serve_day(NOW.date() + dt.timedelta(days=1), "hf_day2.json", "arxiv_day2.xml")
    assert installation.run(NOW + dt.timedelta(days=1)).ok
    assert len(installation.smtp.handler.to(BOB)) == 1  # nothing after unsubscribing


def test_preview_send_to_mails_one_address_and_records_nothing(
    installation: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    installation.subscribe(BOB, BOB_WORDS)
    serve(installation, NOW)
    database = installation.database
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    config = ["--config", str(installation.config)]
    code = main(
        [
            *config,
            "preview",
            "--email",
            BOB,
            "--now",
            NOW.isoformat(),
            "--send-to",
            "me@example.org",
            "--out",
            str(installation.root / "pv"),
        ]
    )
    assert code == 0
    assert "Sent the preview to me@example.org" in capsys.readouterr().out
    (mail,) = installation.smtp.handler.to("me@example.org")
    assert mail.message["To"] == "me@example.org"
    # Bob's digest: every paper listed matched one of his words (not only his footer).
    why = matched_lines(mail)
    assert why and set(why) == arxiv_ids(mail)
    assert all(any(word in line for word in BOB_WORDS) for line in why.values()), why
    assert installation.smtp.handler.to(BOB) == []
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before
