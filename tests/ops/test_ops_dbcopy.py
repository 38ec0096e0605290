"""`digest db copy` and `digest db upgrade`: an installation's state moved from its SQLite file
to PostgreSQL and back, verified table by table; copying twice is harmless; the copied
database carries on where the old one stopped."""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from pathlib import Path

import pytest
from support.children import run_digest
from support.installation import ALICE, ALICE_WORDS, BOB, BOB_WORDS, Installation, installed
from support.postgres import PASSWORD, Cluster
from support.stores import opened_store, sqlite_url

from digest.cli import main
from digest.collect.fetch import Fetcher
from digest.config.profiles import profile_from_options
from digest.jobs.context import RunContext
from digest.jobs.run import run_once
from digest.jobs.wiring import fetcher_reader, sender_factory
from digest.models import Subscriber
from digest.store import open_store
from digest.store.postgres_schema import SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION
from digest.store.roles import SendLimits
from digest.store.transfer import TABLES, Transfer

NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)


def serve(inst: Installation) -> None:
    for offset in (0, 1):
        inst.serve_day(NOW.date() - dt.timedelta(days=offset), "hf_day1.json", "arxiv_day1.xml")


def everything(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every copied table, in the neutral shape."""
    with closing(open_store(url, readonly=True)) as store:
        assert isinstance(store, Transfer)
        return {t.name: [row for rows in store.table_rows(t) for row in rows] for t in TABLES}


def used_installation(root: Path) -> tuple[Installation, str]:
    """An installation that ran once: subscribers, papers, sources, sent digests, a run."""
    root.mkdir(parents=True)
    with installed(root) as inst:
        inst.subscribe(ALICE, ALICE_WORDS)
        inst.subscribe(BOB, BOB_WORDS)
        serve(inst)
        report = inst.run(NOW)
        assert report.ok and len(inst.smtp.handler.received) == 2
        with opened_store(inst.database) as store:
            store.deactivate_subscriber(BOB)
            store.save_embeddings({"profile:abc": b"\x00\x01"}, "minilm")
        return inst, sqlite_url(inst.database)


def test_copy_to_postgresql_and_back_keeps_every_row_and_twice_is_harmless(
    tmp_path: Path, postgres: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    _, source = used_installation(tmp_path / "old")
    target = postgres.empty_database()
    assert main(["db", "copy", source, target]) == 0
    printed = capsys.readouterr().out
    assert f"-> postgresql://digest@127.0.0.1:{postgres.port}/" in printed
    assert PASSWORD not in printed and "MISMATCH" not in printed
    original = everything(source)
    assert all(original[name] for name in ("subscribers", "papers", "outbox", "ledger", "runs"))
    assert everything(target) == original

    assert main(["db", "copy", source, target]) == 0  # again: nothing new, still equal
    assert "        0 new" in capsys.readouterr().out
    assert everything(target) == original

    back = sqlite_url(tmp_path / "back" / "digest.sqlite3")
    assert main(["db", "copy", target, back]) == 0
    assert everything(back) == original


def test_the_copied_database_carries_on_without_sending_anything_twice(
    tmp_path: Path, postgres: Cluster
) -> None:
    _, source = used_installation(tmp_path / "old")
    with opened_store(source) as old:
        installation = old.meta("installation")
        last_id = max(s.id or 0 for s in old.subscribers(active_only=False))
    assert installation is not None
    target = postgres.empty_database()
    assert main(["db", "copy", source, target]) == 0
    (tmp_path / "new").mkdir()
    with installed(tmp_path / "new") as moved, opened_store(target) as store:
        serve(moved)
        settings = moved.settings
        with Fetcher(settings.fetch) as fetcher:
            ctx = RunContext(settings, store, sender_factory(settings), clock=lambda: NOW)
            assert run_once(ctx, fetcher_reader(fetcher)).ok
        assert moved.smtp.handler.received == []  # today's digests went out before the move
        assert store.meta("installation") == installation  # same Message-ID domain
        # A new row gets an id above the copied ones (the identity sequences moved on).
        carol = store.save_subscriber(Subscriber("carol@example.org", profile_from_options(["x"])))
        assert carol.id is not None and carol.id > last_id


def test_db_upgrade_migrates_an_empty_postgresql_and_a_sqlite_file(
    tmp_path: Path, postgres: Cluster
) -> None:
    url = postgres.empty_database()
    config = tmp_path / "digest.toml"
    config.write_text('[digest]\ndata_dir = "state"\n', encoding="utf-8")
    done = run_digest(
        config, "db", "upgrade", url.replace(f":{PASSWORD}@", "@"), PGPASSWORD=PASSWORD
    )
    assert done.returncode == 0, done.stderr
    expected = f"schema version {POSTGRES_SCHEMA_VERSION}, up to date"
    assert expected in done.stdout and PASSWORD not in done.stdout
    done = run_digest(config, "db", "upgrade")
    assert done.returncode == 0, done.stderr
    assert f"{tmp_path / 'state' / 'digest.sqlite3'}: schema version" in done.stdout


def test_the_sending_window_moves_along_so_the_daily_cap_holds_across_the_move(
    tmp_path: Path, postgres: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    capped = SendLimits(per_day=5)
    source = sqlite_url(tmp_path / "old" / "digest.sqlite3")
    with opened_store(source) as old:
        # Three sent in one minute, two in the next: the day's cap of five is reached.
        assert len(old.reserve_sends(3, capped, NOW).slots) == 3
        assert len(old.reserve_sends(2, capped, NOW + dt.timedelta(minutes=1)).slots) == 2
        full_until = old.send_window_full_until(capped, NOW + dt.timedelta(minutes=2))
    assert full_until is not None
    target = postgres.empty_database()
    assert main(["db", "copy", source, target]) == 0
    assert "MISMATCH" not in capsys.readouterr().out
    assert everything(target)["send_counts"] == everything(source)["send_counts"]
    later = NOW + dt.timedelta(minutes=2)
    with opened_store(target) as moved:
        assert moved.send_window_full_until(capped, later) == full_until
        assert moved.reserve_sends(1, capped, later).slots == ()  # no sixth message today
