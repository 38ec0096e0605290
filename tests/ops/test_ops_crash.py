"""Crash safety with real processes: kill `digest run` between each pair of steps, rerun it,
and check that every subscriber got their digest exactly once (the one exception is spelled
out below). Also: SIGTERM in the middle of a batch, and two processes on one database.

The crash always happens in a child process (os._exit at a failpoint: no cleanup at all). The
rerun is `digest run` again, in this process to keep the suite fast: a fresh connection to
the same files, exactly what a restarted process would see."""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
from pathlib import Path

import pytest
from support.children import NOW, TEST_LEASE_SECONDS, run_digest, serve_small, start_digest
from support.installation import ALICE, ALICE_WORDS, BOB, BOB_WORDS, Installation, arxiv_ids

from digest.cli import main
from digest.store.sqlite_batches import SENT_AT
from digest.util.failpoints import EXIT_STATUS, POINTS

AT = NOW.isoformat()
RERUN_AT = (NOW + dt.timedelta(seconds=60 + TEST_LEASE_SECONDS)).isoformat()


def outbox(database: Path) -> list[tuple[str, str, str | None]]:
    """(recipient, state, claimed_by) of every outbox row, oldest first."""
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        return db.execute("SELECT recipient, state, claimed_by FROM outbox ORDER BY id").fetchall()
    finally:
        db.close()


def unsent_ledger_rows(database: Path) -> int:
    db = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    try:
        # A ledger row is sent when its outbox row is: SENT_AT says when.
        unsent = f"SELECT count(*) FROM ledger l WHERE {SENT_AT.format(ledger='l')} IS NULL"
        return int(db.execute(unsent).fetchone()[0])
    finally:
        db.close()


def use_connections(inst: Installation, connections: int) -> None:
    text = inst.config.read_text(encoding="utf-8")
    inst.config.write_text(
        text.replace("[smtp]\n", f"[smtp]\nconnections = {connections}\n"), encoding="utf-8"
    )


@pytest.mark.parametrize("point", POINTS)
def test_a_crash_at_any_step_then_a_rerun_delivers_each_digest_once(
    ops_installation: Installation, point: str
) -> None:
    inst = ops_installation
    use_connections(inst, 1)  # one message in flight: each step is a distinct moment
    inst.subscribe(ALICE, ALICE_WORDS)
    inst.subscribe(BOB, BOB_WORDS)
    serve_small(inst, NOW.date())

    crashed = run_digest(inst.config, "run", "--now", AT, DIGEST_FAILPOINT=point)
    assert crashed.returncode == EXIT_STATUS, crashed.stderr

    held = [row for row in outbox(inst.database) if row[2] is not None]
    if point in ("before-send", "after-send"):
        # The dead process still holds its claim on the message it was sending; the rerun,
        # on the same host, finds its process gone and takes it back without waiting.
        assert len(held) == 1
    elif point == "after-mark-sent":
        # One commit records the first message as sent and claims the next: the dead process
        # holds the second message, not yet sent, and the rerun takes it back as above.
        first_row, second_row = outbox(inst.database)
        assert first_row[1:] == ("sent", None)
        assert held == [second_row] and second_row[1] == "pending"
    else:
        assert held == []

    # The rerun comes a minute later by its clock: past any lease the dead process held.
    assert main(["--config", str(inst.config), "run", "--now", RERUN_AT]) == 0

    sink = inst.smtp.handler
    first, second = outbox(inst.database)[0][0], outbox(inst.database)[1][0]
    if point == "after-send":
        # The one unavoidable duplicate: the server accepted the message and the process died
        # before recording that, so the rerun cannot know it was delivered and sends it again.
        # It sends the SAME stored message (same bytes, same Message-ID), so mail clients and
        # servers can fold the copies into one. At-least-once here; never lost.
        copies = sink.to(first)
        assert len(copies) == 2
        assert copies[0].message["Message-ID"] == copies[1].message["Message-ID"]
        assert copies[0].data == copies[1].data
        assert len(sink.to(second)) == 1
    else:
        assert len(sink.to(ALICE)) == 1
        assert len(sink.to(BOB)) == 1
    assert arxiv_ids(sink.to(ALICE)[0]) and arxiv_ids(sink.to(BOB)[0])
    assert [(r, s) for r, s, _ in outbox(inst.database)] == [
        (first, "sent"),
        (second, "sent"),
    ]
    assert all(claim is None for _, _, claim in outbox(inst.database))
    assert unsent_ledger_rows(inst.database) == 0


SENDING_POINTS = ("before-send", "after-send", "after-mark-sent")


@pytest.mark.parametrize("point", POINTS)
def test_a_crash_with_two_connections_loses_nothing_and_resends_only_what_was_in_flight(
    ops_installation: Installation, point: str
) -> None:
    """With two connections two messages are in flight at once, so a crash while sending may
    find the server holding a message the database does not yet call sent; the rerun sends
    that one again (same bytes). Never more than one copy per connection, never lost."""
    inst = ops_installation
    use_connections(inst, 2)
    people = [f"reader{n}@example.org" for n in range(4)]
    for person in people:
        inst.subscribe(person, ALICE_WORDS)
    serve_small(inst, NOW.date())

    crashed = run_digest(inst.config, "run", "--now", AT, DIGEST_FAILPOINT=point)
    assert crashed.returncode == EXIT_STATUS, crashed.stderr
    held = [row for row in outbox(inst.database) if row[2] is not None]
    assert len(held) <= 2  # one claim per connection at most
    if point not in SENDING_POINTS:
        assert held == []
    received_before_rerun = len(inst.smtp.handler.received)

    assert main(["--config", str(inst.config), "run", "--now", RERUN_AT]) == 0

    sink = inst.smtp.handler
    copies = {person: sink.to(person) for person in people}
    assert all(len(c) >= 1 for c in copies.values())  # nothing lost
    duplicated = [person for person, c in copies.items() if len(c) > 1]
    if point in SENDING_POINTS:
        assert len(duplicated) <= 2 and all(len(copies[p]) == 2 for p in duplicated)
        assert len(duplicated) <= received_before_rerun
        for person in duplicated:
            assert copies[person][0].data == copies[person][1].data
    else:
        assert duplicated == []
    assert {state for _, state, _ in outbox(inst.database)} == {"sent"}
    assert all(claim is None for _, _, claim in outbox(inst.database))
    assert unsent_ledger_rows(inst.database) == 0


PEOPLE = [f"reader{n}@example.org" for n in range(6)]


def test_sigterm_mid_batch_leaves_every_digest_sent_once_or_pending(
    ops_installation: Installation,
) -> None:
    inst = ops_installation
    for person in PEOPLE:
        inst.subscribe(person, ALICE_WORDS)
    serve_small(inst, NOW.date())
    sink = inst.smtp.handler
    sink.data_delay = 0.4  # a slow server: the batch takes seconds

    child = start_digest(inst.config, "run", "--now", AT)
    sink.wait_for(1, timeout=20)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)

    assert child.returncode == 130, err
    assert "stay pending" in err
    rows = outbox(inst.database)
    sent = [r for r, state, _ in rows if state == "sent"]
    pending = [r for r, state, _ in rows if state == "pending"]
    assert len(rows) == len(PEOPLE)
    assert 1 <= len(sent) < len(PEOPLE)  # it stopped early...
    assert sorted(sent + pending) == sorted(PEOPLE)  # ...and nothing was lost
    assert sorted(r for m in sink.received for r in m.rcpt_tos) == sorted(sent)
    assert all(claim is None for _, _, claim in rows)  # claims released: no lease to wait out

    sink.data_delay = 0
    assert main(["--config", str(inst.config), "run", "--now", RERUN_AT]) == 0
    assert sorted(r for m in sink.received for r in m.rcpt_tos) == sorted(PEOPLE)
    assert {state for _, state, _ in outbox(inst.database)} == {"sent"}


def test_two_processes_on_one_database_send_each_digest_once(
    ops_installation: Installation,
) -> None:
    inst = ops_installation
    for person in PEOPLE:
        inst.subscribe(person, ALICE_WORDS)
    serve_small(inst, NOW.date())
    inst.smtp.handler.data_delay = 0.15  # long enough for the two to overlap

    children = [start_digest(inst.config, "run", "--now", AT) for _ in range(2)]
    results = [child.communicate(timeout=60) for child in children]

    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, out + err
    logs = "".join(err for _, err in results)
    # Between them the two composed each digest once and delivered each message once.
    assert logs.count("composed the digest for") == len(PEOPLE)
    assert logs.count("INFO digest.delivery: delivered") == len(PEOPLE)
    received = sorted(r for m in inst.smtp.handler.received for r in m.rcpt_tos)
    assert received == sorted(PEOPLE)
    ids = [m.message["Message-ID"] for m in inst.smtp.handler.received]
    assert len(set(ids)) == len(PEOPLE)
    assert {state for _, state, _ in outbox(inst.database)} == {"sent"}
