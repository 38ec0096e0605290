"""The database and the outbox are the operator's alone, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from digest.deliver.smtp import OutboxDirSender
from digest.models import Profile, Subscriber, Term, Topic
from digest.store import open_store


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_folder_and_database_are_private(tmp_path: Path, loose_umask: None) -> None:
    data = tmp_path / "data"
    with closing(open_store(data / "digest.sqlite3")) as store:
        profile = Profile(topics=(Topic("t", (Term("x"),)),))
        store.save_subscriber(Subscriber("ada@example.org", profile))
        store.set_meta("secret", "kept")
        # While open: the write-ahead log and its index are there too.
        modes = {p.name: mode(p) for p in data.iterdir() if p.name.startswith("digest.sqlite3")}
    assert mode(data) == 0o700
    assert "digest.sqlite3-wal" in modes and set(modes.values()) == {0o600}, modes


def test_outbox_messages_are_private(tmp_path: Path, loose_umask: None) -> None:
    outbox = tmp_path / "outbox"
    with OutboxDirSender(outbox) as sender:
        sender.send("digest@example.org", "ada@example.org", b"Subject: x\r\n\r\nbody\r\n")
    (message,) = outbox.glob("*.eml")
    assert mode(outbox) == 0o700 and mode(message) == 0o600
