"""Details a mail operator sets: the EHLO name, checked when the settings load."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.installation import BOB, BOB_WORDS, installed
from test_e2e_cli import NOW, digest, serve_today


def test_the_ehlo_name_is_the_configured_one(tmp_path: Path) -> None:
    with installed(tmp_path, extra='ehlo_name = "mail.example.org"\n') as installation:
        words = [a for w in BOB_WORDS for a in ("-k", w)]
        assert digest(installation, "subscribe", BOB, *words) == 0
        serve_today(installation)
        assert digest(installation, "run", "--now", NOW.isoformat()) == 0
        (mail,) = installation.smtp.handler.to(BOB)
        assert mail.helo == "mail.example.org"


def test_a_bad_ehlo_name_is_refused_with_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with installed(tmp_path, extra='ehlo_name = "not a host"\n') as installation:
        assert digest(installation, "status") == 2
        error = capsys.readouterr().err
        assert f"{installation.config}:" in error and "smtp.ehlo_name" in error
        assert "not a host name" in error
