"""[smtp] connections: its default, its range, and where a bad value is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.config.settings import DEFAULT_CONNECTIONS, SmtpSettings
from digest.errors import ConfigError

SMTP = '[smtp]\nhost = "127.0.0.1"\nsecurity = "plain"\n'


def settings_from(tmp_path: Path, text: str) -> SmtpSettings:
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    smtp = load_settings(path, env={}).smtp
    assert smtp is not None
    return smtp


def test_connections_default_to_two_and_can_be_set(tmp_path: Path) -> None:
    assert DEFAULT_CONNECTIONS == 2
    assert settings_from(tmp_path, SMTP).connections == 2
    assert settings_from(tmp_path, SMTP + "connections = 6\n").connections == 6


@pytest.mark.parametrize("value", ["0", "33", '"4"'])
def test_bad_connections_name_file_line_and_key(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, SMTP + f"connections = {value}\n")
    assert f"{tmp_path / 'digest.toml'}:4" in str(caught.value)
    assert "smtp.connections" in str(caught.value)


def test_settings_made_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="connections"):
        SmtpSettings(host="127.0.0.1", security="plain", connections=0)
