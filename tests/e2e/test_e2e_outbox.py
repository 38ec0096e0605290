"""With no [smtp] section, digests land as .eml files in the outbox folder; an unreachable
source (nothing listening) is reported and the other source still delivers."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from pathlib import Path

import pytest
from support.http_server import ScriptedServer
from support.installation import BOB, BOB_WORDS, Installation, write_config
from support.smtp_server import free_port

from digest.cli import main

NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)  # a Thursday: arXiv announces


def test_no_mail_server_means_eml_files_in_the_outbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    http = ScriptedServer()
    try:
        config = write_config(tmp_path, http.port, smtp_port=1)
        text = config.read_text(encoding="utf-8")
        config.write_text(text[: text.index("[smtp]")], encoding="utf-8")  # no mail server
        installation = Installation(tmp_path, config, http, smtp=None)  # type: ignore[arg-type]
        for offset in (0, 1):
            day = NOW.date() - dt.timedelta(days=offset)
            installation.serve_day(day, "hf_day1.json", "arxiv_day1.xml")
        args = ["--config", str(config)]
        assert main([*args, "subscribe", BOB, *[a for w in BOB_WORDS for a in ("-k", w)]]) == 0
        assert main([*args, "run", "--now", NOW.isoformat()]) == 0
        assert "delivered 1 digests" in capsys.readouterr().out
        (eml,) = (tmp_path / "state" / "outbox").glob("*.eml")
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert message["To"] == BOB
        assert message.get_content_type() == "multipart/alternative"
        assert main([*args, "run", "--now", NOW.isoformat()]) == 0  # nothing new: no second file
        assert len(list((tmp_path / "state" / "outbox").glob("*.eml"))) == 1
    finally:
        http.close()


def test_source_with_nothing_listening_is_reported_by_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    http = ScriptedServer()
    try:
        config = write_config(tmp_path, http.port, smtp_port=1)
        text = config.read_text(encoding="utf-8")
        dead = f"http://127.0.0.1:{free_port()}/rss/{{categories}}"
        text = re.sub(
            r'url = "http://127\.0\.0\.1:\d+/rss/\{categories\}"', f'url = "{dead}"', text
        )
        config.write_text(text[: text.index("[smtp]")], encoding="utf-8")
        installation = Installation(tmp_path, config, http, smtp=None)  # type: ignore[arg-type]
        for offset in (0, 1):
            day = NOW.date() - dt.timedelta(days=offset)
            installation.serve_day(day, "hf_day1.json", "arxiv_day1.xml")
        args = ["--config", str(config)]
        assert main([*args, "subscribe", BOB, *[a for w in BOB_WORDS for a in ("-k", w)]]) == 0
        assert main([*args, "run", "--now", NOW.isoformat()]) == 1  # a source failed: non-zero exit
        out = capsys.readouterr().out
        assert "arxiv FAILED" in out and dead.replace("{categories}", "cs.LG") in out
        assert "delivered 1 digests" in out  # Hugging Face's papers still went out
    finally:
        http.close()
