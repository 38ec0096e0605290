"""Which store the settings name: a SQLite file by default, a PostgreSQL URL from the
environment or (without its password) from the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_is_the_sqlite_file(tmp_path: Path) -> None:
    settings = load_settings(None, env={"DIGEST_DATA_DIR": str(tmp_path)})
    assert settings.database_url == ""
    assert settings.store_url == str(tmp_path / "digest.sqlite3")
    assert not settings.has_database


def test_a_postgresql_url_in_the_file_without_password(tmp_path: Path) -> None:
    config = write(tmp_path, '[digest]\ndatabase = "postgresql://digest@db.example.org/digest"\n')
    settings = load_settings(config, env={})
    assert settings.store_url == "postgresql://digest@db.example.org/digest"
    assert settings.has_database  # a server: nothing to look for on disk


def test_a_password_in_the_file_is_refused_at_its_line(tmp_path: Path) -> None:
    text = '[digest]\ndata_dir = "x"\ndatabase = "postgresql://digest:hunter2@db/digest"\n'
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), env={})
    message = str(caught.value)
    assert "digest.toml:3: digest.database: a password does not belong in the settings file" in (
        message
    )
    assert "hunter2" not in message


def test_the_environment_url_wins_and_its_password_is_never_shown(tmp_path: Path) -> None:
    config = write(tmp_path, '[digest]\ndatabase = "elsewhere.sqlite3"\n')
    url = "postgresql://digest:hunter2@127.0.0.1:5433/digest"
    settings = load_settings(config, env={"DIGEST_DATABASE_URL": url})
    assert settings.store_url == url
    assert settings.database_name == "postgresql://digest@127.0.0.1:5433/digest"
