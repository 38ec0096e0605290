"""The crash matrix's stuck-claim case, through the command line with real processes: a
`digest run` SIGKILLed while the SMTP server holds its message, then a rerun at once.

The lease is the real default (15 minutes), so nothing here passes by waiting it out: the
rerun must release the dead process's claim itself. The SMTP server holds its reply to the
first message until the test lets it go (support.held_smtp), so the kill lands exactly while
that message is in flight; every wait is on an event or a process, none on a clock.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.children import run_digest, serve_today, start_digest
from support.held_smtp import HoldingHandler, RefusingHandler
from support.http_server import ScriptedServer
from support.installation import ALICE_WORDS, Installation, write_config
from support.smtp_server import RecordingHandler, SmtpSink

PEOPLE = ["ada@example.org", "bob@example.org", "carol@example.org"]
HOLD_WAIT = 60.0  # seconds a test waits for an event before it fails


@dataclass
class Rows:
    recipient: str
    state: str
    claimed_by: str | None


def outbox(database: Path) -> list[Rows]:
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        found = db.execute("SELECT recipient, state, claimed_by FROM outbox ORDER BY id")
        return [Rows(*row) for row in found.fetchall()]
    finally:
        db.close()


def installation(root: Path, handler: RecordingHandler) -> Installation:
    http, smtp = ScriptedServer(), SmtpSink(handler)
    config = write_config(root, http.port, smtp.port)
    text = config.read_text(encoding="utf-8")
    # One connection: one message in flight. The lease stays the default 900 s. The client
    # waits for a held reply longer than the server holds it (no timeout, no second try).
    text = text.replace("[smtp]\n", "[smtp]\nconnections = 1\n")
    text = text.replace('security = "plain"\ntimeout = 5\n', 'security = "plain"\ntimeout = 120\n')
    assert "timeout = 120" in text
    config.write_text(text, encoding="utf-8")
    inst = Installation(root, config, http, smtp)
    for person in PEOPLE:
        inst.subscribe(person, ALICE_WORDS)
    serve_today(inst)
    return inst


@pytest.fixture
def held(tmp_path: Path) -> Iterator[tuple[Installation, HoldingHandler]]:
    handler = HoldingHandler()
    inst = installation(tmp_path, handler)
    try:
        yield inst, handler
    finally:
        handler.release.set()
        inst.http.close()
        inst.smtp.close()


def kill_mid_send(inst: Installation, handler: HoldingHandler) -> subprocess.Popen[str]:
    child = start_digest(inst.config, "run")
    assert handler.arrived.wait(HOLD_WAIT), "the run never sent its first message"
    # Composing goes on while the first message is out: let every digest reach the outbox,
    # so a rerun that only sends (tick, retry) has them all to send.
    deadline = time.monotonic() + HOLD_WAIT
    while len(outbox(inst.database)) < len(PEOPLE):
        assert time.monotonic() < deadline and child.poll() is None, "digests never composed"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.communicate(timeout=HOLD_WAIT)
    assert child.returncode == -signal.SIGKILL
    handler.release.set()  # the held message is answered to a dead client and not kept
    return child


def status(inst: Installation) -> str:
    shown = run_digest(inst.config, "status")
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


@pytest.mark.parametrize("rerun_with", ["run", "tick", "retry"])
def test_a_rerun_right_after_a_sigkill_mid_send_delivers_the_rest_at_once(
    held: tuple[Installation, HoldingHandler], rerun_with: str
) -> None:
    inst, handler = held
    child = kill_mid_send(inst, handler)

    # The dead process still holds the message it was sending, for 15 more minutes.
    (stuck,) = [row for row in outbox(inst.database) if row.claimed_by]
    assert f":{child.pid}:" in stuck.claimed_by and stuck.recipient in handler.held_recipients
    before = status(inst)
    assert "No runs yet" not in before
    assert f"killed (process {child.pid} on host " in before and "is gone)" in before

    rerun = run_digest(inst.config, rerun_with)

    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "left undelivered" not in rerun.stdout and "failed:" not in rerun.stdout
    assert sorted(handler.recipients()) == sorted(PEOPLE)  # each exactly once
    assert [(r.state, r.claimed_by) for r in outbox(inst.database)] == [("sent", None)] * 3
    after = status(inst).splitlines()
    runs = after[1:3]
    assert f" {rerun_with:5} " in runs[0] and " ok " in runs[0]
    assert f"interrupted: process {child.pid} on host " in runs[1]
    assert "ended without finishing" in runs[1]


def test_a_digest_still_undelivered_after_the_rerun_is_named_and_fails_the_command(
    held: tuple[Installation, HoldingHandler],
) -> None:
    inst, handler = held
    kill_mid_send(inst, handler)
    left = handler.held_recipients[0]
    handler.reject[left] = "451 4.7.1 greylisted, try again later"

    rerun = run_digest(inst.config, "run")

    assert rerun.returncode == 1, rerun.stdout + rerun.stderr
    lines = rerun.stdout.splitlines()
    assert "finished with problems" in lines[0]
    assert "  1 digest(s) left undelivered:" in lines
    (named,) = [line for line in lines if line.startswith(f"    {left} (")]
    assert "pending: the last attempt failed" in named and "451 4.7.1" in named
    assert sorted(handler.recipients()) == sorted(p for p in PEOPLE if p != left)
    assert "1 left undelivered" in status(inst)

    del handler.reject[left]
    again = run_digest(inst.config, "run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert sorted(handler.recipients()) == sorted(PEOPLE)


def test_a_digest_another_live_process_is_sending_is_named_but_not_a_failure(
    held: tuple[Installation, HoldingHandler],
) -> None:
    inst, handler = held
    first = start_digest(inst.config, "run")
    try:
        assert handler.arrived.wait(HOLD_WAIT)
        sending = handler.held_recipients[0]
        second = run_digest(inst.config, "run")
        assert second.returncode == 0, second.stdout + second.stderr
        (named,) = [line for line in second.stdout.splitlines() if sending in line]
        assert "being sent by " in named and f":{first.pid}:" in named
        assert sorted(handler.recipients()) == sorted(p for p in PEOPLE if p != sending)
        handler.held_reply = "250 OK"
        handler.release.set()
        out, err = first.communicate(timeout=HOLD_WAIT)
        assert first.returncode == 0, out + err
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert sorted(handler.recipients()) == sorted(PEOPLE)


def test_a_server_gone_mid_run_leaves_one_line_and_the_rest_pending(tmp_path: Path) -> None:
    """The server takes one message, then answers 421 to everything. Each message is tried
    with the sender's own retries (about 14 s of backoff), three connections at once, so the
    three failures in a row that stop the sending come in one such wait."""
    handler = RefusingHandler(accepted=1)
    people = [f"reader{n}@example.org" for n in range(8)]
    inst = installation(tmp_path, handler)
    use_connections(inst, 3)
    try:
        for person in people:
            inst.subscribe(person, ALICE_WORDS)
        ran = run_digest(inst.config, "run", timeout=120)

        assert ran.returncode == 1, ran.stdout + ran.stderr
        lines = ran.stdout.splitlines()
        everyone = PEOPLE + people
        pending = len(everyone) - 1
        assert "not attempted" not in ran.stdout
        (gone,) = [line for line in lines if "server unreachable" in line]
        assert f": {pending} left pending, sent at the next run (" in gone
        assert "421 4.3.2" in gone and f"and {pending - 5} more)" in gone
        tried = [line for line in lines if line.startswith("  delivery to ")]
        assert 3 <= len(tried) <= 5  # what was in flight; the rest was never tried
        assert f"delivered 1 digests, {len(tried)} failed" in ran.stdout
        # Header, two sources, the count, what was tried, and two lines for all the rest.
        assert len(lines) == 4 + len(tried) + 2
        assert f"Pending deliveries: {pending}; failed: 0" in status(inst)

        handler.down.clear()
        handler.accepted = 100
        again = run_digest(inst.config, "run")
        assert again.returncode == 0, again.stdout + again.stderr
        assert sorted(handler.recipients()) == sorted(everyone)
    finally:
        inst.http.close()
        inst.smtp.close()


def use_connections(inst: Installation, connections: int) -> None:
    text = inst.config.read_text(encoding="utf-8")
    inst.config.write_text(
        text.replace("connections = 1\n", f"connections = {connections}\n"), encoding="utf-8"
    )
