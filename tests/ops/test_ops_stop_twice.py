"""A second SIGTERM while the mail server sits on the messages in flight: the process gives
their claims back before it exits, so a rerun right after sends them at once (no lease to
wait out), and every digest arrives exactly once. For `digest run` and for the scheduler.

The SMTP server is real and holds each message in DATA until the test lets go; a message
whose client has gone is never accepted (aiosmtpd drops the session), as with a real server
that never sent its 250."""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from support.children import REPO, child_env, digest_command, serve_today
from support.http_server import ScriptedServer
from support.installation import ALICE_WORDS, Installation, write_config
from support.smtp_server import RecordingHandler, SmtpSink
from support.stores import opened_store

from digest.cli import main
from digest.config.profiles import profile_from_options
from digest.models import Subscriber

PEOPLE = [f"reader{n}@example.org" for n in range(4)]
WAIT = 30.0  # hang guard for every wait below


class Holding(RecordingHandler):
    """Holds every message in DATA while `holding` is set; counts the ones it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.holding.set()
        self.held = 0
        self.two_held = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.holding.is_set():
            self.held += 1
            if self.held >= 2:
                self.two_held.set()
            while self.holding.is_set():  # cancelled when the client goes away
                await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


class Lines:
    """Reads a child's stderr as it comes, so a test can wait for a line."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for(self, text: str) -> str:
        with self._changed:
            found = self._changed.wait_for(
                lambda: any(text in line for line in self.lines), timeout=WAIT
            )
        assert found, f"never logged {text!r}:\n{self.text()}"
        return next(line for line in self.lines if text in line)

    def text(self) -> str:
        self._thread.join(WAIT)
        return "".join(self.lines)


@pytest.fixture
def held_installation(tmp_path: Path) -> Iterator[tuple[Installation, Holding]]:
    """An installation whose SMTP server holds messages, with a lease far longer than the
    test: a claim left behind would keep its message from the rerun."""
    http, handler = ScriptedServer(), Holding()
    smtp = SmtpSink(handler)
    try:
        extra = "\n[schedule]\nlease_seconds = 900\n"
        config = write_config(tmp_path, http.port, smtp.port, extra=extra)
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("[smtp]\n", "[smtp]\nconnections = 2\n"))
        yield Installation(tmp_path, config, http, smtp), handler
    finally:
        http.close()
        smtp.close()


def outbox(database: Path) -> list[tuple[str, str, str | None]]:
    """(recipient, state, claimed_by) of every outbox row."""
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return db.execute("SELECT recipient, state, claimed_by FROM outbox ORDER BY id").fetchall()
    finally:
        db.close()


def subscribe_due(inst: Installation) -> None:
    """Four readers whose 00:00 UTC delivery time has passed today (subscribed days ago)."""
    profile = profile_from_options(list(ALICE_WORDS))
    created = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    with opened_store(inst.database) as store:
        for person in PEOPLE:
            store.save_subscriber(
                Subscriber(person, profile, dt.time(0, 0), "UTC", created=created)
            )


def start(command: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


COMMANDS = {
    "digest run": lambda inst: digest_command(inst.config, "run"),
    "scheduler": lambda inst: [
        sys.executable,
        str(REPO / "scheduler.py"),
        "--config",
        str(inst.config),
    ],
}


@pytest.mark.parametrize("which", list(COMMANDS))
def test_a_second_sigterm_gives_the_messages_in_flight_back(
    held_installation: tuple[Installation, Holding], which: str
) -> None:
    inst, holding = held_installation
    subscribe_due(inst)
    serve_today(inst)

    child = start(COMMANDS[which](inst))
    try:
        assert holding.two_held.wait(WAIT), "the messages never reached the server"
        log = Lines(child.stderr)  # type: ignore[arg-type]
        child.send_signal(signal.SIGTERM)
        first = log.wait_for("SIGTERM: stopping:")
        child.send_signal(signal.SIGTERM)
        child.wait(WAIT)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
    err = log.text()

    assert child.returncode == 130, err
    # The first signal named what it would finish; the second gave those back.
    assert "finishing the 2 messages in flight (to reader" in first
    assert "SIGTERM again: interrupting" in err
    assert "gave back 2 messages not sent" in err
    rows = outbox(inst.database)
    assert {state for _, state, _ in rows} == {"pending"}
    assert all(claim is None for _, _, claim in rows), rows  # no lease left to wait out
    assert holding.received == []  # the server never accepted the held ones

    # A rerun right away (the lease is far longer than this test) sends every digest.
    holding.holding.clear()
    assert main(["--config", str(inst.config), "run"]) == 0
    assert sorted(holding.recipients()) == sorted(PEOPLE)  # each exactly once
    assert {state for _, state, _ in outbox(inst.database)} == {"sent"}
