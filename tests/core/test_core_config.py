"""The settings file: defaults, file:line:key errors, secrets from the environment."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from digest.config.load import load_settings
from digest.errors import ConfigError
from digest.models import AnnounceType

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "digest.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_need_no_file_and_no_server(tmp_path: Path) -> None:
    settings = load_settings(None, env={"DIGEST_DATA_DIR": str(tmp_path)})
    assert settings.database == tmp_path / "digest.sqlite3"
    assert settings.outbox_dir == tmp_path / "outbox"
    assert settings.smtp is None
    assert [s.kind for s in settings.sources] == ["hf_daily", "arxiv_rss"]
    assert settings.fetch.host_intervals["rss.arxiv.org"] >= 3.0


def test_example_config_loads(tmp_path: Path) -> None:
    settings = load_settings(REPO / "config" / "digest.example.toml", env={})
    assert settings.database == REPO / "config" / "data" / "digest.sqlite3"
    assert settings.email.unsubscribe_url and "{token}" in settings.email.unsubscribe_url
    assert settings.schedule.fetch_at[0] == dt.time(0, 30)
    assert settings.schedule.fetch_timezone == "America/New_York"
    assert settings.schedule.tick_minutes == 5
    assert settings.email.operator == "ops@example.org"
    assert settings.logging.format == "text"
    arxiv = next(s for s in settings.sources if s.name == "arxiv")
    assert arxiv.announce_types == {AnnounceType.NEW, AnnounceType.CROSS}
    assert "you@example.org" in settings.fetch.user_agent


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[digest]\ntimezone = "UTC"\n\n[smtp]\nhost = "localhost"\nprot = 25\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    message = str(caught.value)
    assert f"{path}:6" in message
    assert "smtp.prot" in message
    assert "unknown key" in message


def test_syntax_error_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[digest]\ntimezone = "UTC\n')
    with pytest.raises(ConfigError, match=rf"{path}:2: invalid TOML"):
        load_settings(path, env={})


def test_wrong_type_and_range(tmp_path: Path) -> None:
    path = write(tmp_path, '[fetch]\ntimeout = "soon"\n')
    with pytest.raises(ConfigError, match=r":2: fetch.timeout: expected a number"):
        load_settings(path, env={})
    path = write(tmp_path, "[fetch]\nmax_attempts = 99\n")
    with pytest.raises(ConfigError, match=r"fetch.max_attempts: 99 is out of range"):
        load_settings(path, env={})


def test_unknown_time_zone(tmp_path: Path) -> None:
    path = write(tmp_path, '[schedule]\nfetch_timezone = "Mars/Olympus"\n')
    with pytest.raises(
        ConfigError, match=r":2: schedule.fetch_timezone: unknown time zone 'Mars/Olympus'"
    ):
        load_settings(path, env={})


def test_source_errors_point_at_the_source(tmp_path: Path) -> None:
    text = (
        '[[source]]\nname = "a"\nkind = "hf_daily"\nurl = "https://x/{date}"\n\n'
        '[[source]]\nname = "b"\nkind = "gopher"\nurl = "https://y"\n'
    )
    with pytest.raises(ConfigError, match=r":8: source\[1\].kind: unknown source kind 'gopher'"):
        load_settings(write(tmp_path, text), env={})


def test_smtp_password_from_environment(tmp_path: Path) -> None:
    text = '[smtp]\nhost = "mail.example.org"\nusername = "me"\n'
    with pytest.raises(ConfigError, match="DIGEST_SMTP_PASSWORD"):
        load_settings(write(tmp_path, text), env={})
    settings = load_settings(write(tmp_path, text), env={"DIGEST_SMTP_PASSWORD": "s3cret"})
    assert settings.smtp is not None
    assert settings.smtp.password == "s3cret"
    assert settings.smtp.port == 587  # starttls default


def test_plain_smtp_only_to_loopback(tmp_path: Path) -> None:
    text = '[smtp]\nhost = "mail.example.org"\nsecurity = "plain"\n'
    with pytest.raises(ConfigError, match="loopback"):
        load_settings(write(tmp_path, text), env={})


def test_config_from_environment_variable(tmp_path: Path) -> None:
    path = write(tmp_path, '[digest]\ndata_dir = "state"\n')
    settings = load_settings(None, env={"DIGEST_CONFIG": str(path)})
    assert settings.data_dir == tmp_path / "state"


def test_arxiv_catchup_defaults_to_the_api_and_can_be_switched_off(tmp_path: Path) -> None:
    default = load_settings(None, env={"DIGEST_DATA_DIR": str(tmp_path)})
    arxiv = next(s for s in default.sources if s.kind == "arxiv_rss")
    assert arxiv.catchup_url == "https://export.arxiv.org/api/query"
    text = (
        '[[source]]\nname = "a"\nkind = "arxiv_rss"\nurl = "https://x/{categories}"\n'
        'catchup_url = ""\n'
    )
    (off,) = load_settings(write(tmp_path, text), env={}).sources
    assert off.catchup_url is None
    text = (
        '[[source]]\nname = "h"\nkind = "hf_daily"\nurl = "https://x"\ncatchup_url = "https://y"\n'
    )
    with pytest.raises(ConfigError, match=r":5: source\[0\].catchup_url: catch-up .* arxiv_rss"):
        load_settings(write(tmp_path, text), env={})


def test_compose_workers_default_to_every_core_for_many_digests(tmp_path: Path) -> None:
    auto = load_settings(None, env={"DIGEST_DATA_DIR": str(tmp_path)})
    assert auto.compose_workers == 0
    assert auto.workers_for(5) == 1  # a handful of digests: composing here is cheaper
    assert auto.workers_for(5000) == (os.cpu_count() or 1)

    fixed = load_settings(write(tmp_path, "[digest]\ncompose_workers = 3\n"), env={})
    assert fixed.workers_for(5) == fixed.workers_for(5000) == 3

    path = write(tmp_path, "[digest]\n\ncompose_workers = 65\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path, env={})
    assert f"{path}:3" in str(err.value) and "compose_workers" in str(err.value)


@pytest.mark.parametrize(
    ("line", "key", "says"),
    [
        ('list_id = "no dots here"', "email.list_id", "dotted list id"),
        (
            'unsubscribe_url = "https://example.org/u?t={token} x"',
            "email.unsubscribe_url",
            "spaces",
        ),
        ('unsubscribe_url = "ftp://example.org/{token}"', "email.unsubscribe_url", "https or http"),
        ('unsubscribe_mailto = "not an address"', "email.unsubscribe_mailto", "stray spaces"),
        ('manage_url = "https:///no-host"', "email.manage_url", "no host"),
    ],
)
def test_header_values_are_checked_when_the_file_loads(
    tmp_path: Path, line: str, key: str, says: str
) -> None:
    path = write(tmp_path, f"[email]\nfrom = 'Digest <d@example.org>'\n{line}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={})
    assert str(caught.value).startswith(f"{path}:3: {key}: ")
    assert says in str(caught.value)


def test_a_short_signing_key_is_refused_at_start() -> None:
    with pytest.raises(ConfigError, match=r"DIGEST_SECRET holds 5 bytes; .* at least 16"):
        load_settings(None, env={"DIGEST_SECRET": "short"})
    assert load_settings(None, env={"DIGEST_SECRET": "x" * 16}).email.secret == "x" * 16


def test_sending_limits_and_outbox_keep_days(tmp_path: Path) -> None:
    settings = load_settings(None, env={"DIGEST_DATA_DIR": str(tmp_path)})
    assert settings.send_limits.unlimited and settings.outbox_keep_days == 30
    path = write(
        tmp_path,
        '[smtp]\nhost = "127.0.0.1"\nsecurity = "plain"\nmax_per_second = 14.5\n'
        "max_per_day = 2000\n\n[outbox]\nkeep_days = 0\n",
    )
    settings = load_settings(path, env={})
    assert (settings.send_limits.per_second, settings.send_limits.per_day) == (14.5, 2000)
    assert settings.outbox_keep_days == 0
    path = write(tmp_path, '[smtp]\nhost = "127.0.0.1"\nsecurity = "plain"\nmax_per_day = -1\n')
    with pytest.raises(ConfigError, match=r"digest\.toml:4: smtp\.max_per_day: -1 is out of range"):
        load_settings(path, env={})
    path = write(tmp_path, "[outbox]\nkeep = 3\n")
    with pytest.raises(ConfigError, match=r"digest\.toml:2: outbox\.keep: unknown key"):
        load_settings(path, env={})
