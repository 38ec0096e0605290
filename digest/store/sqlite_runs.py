"""The run history on SQLite (part of the Operations role): a run is written when it starts,
RUNNING with its host and pid, and ended with its report, so a run whose process was killed
stays visible instead of vanishing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from digest.models import RunReport
from digest.store import sqlite_rows as rows
from digest.store.roles import RunRecord, RunState
from digest.store.sqlite_connection import Connection


class RunsMixin:
    """Mixed into SqliteStore, which provides `_db`."""

    _db: Connection

    def record_run(self, report: RunReport, *, kind: str = "run", alert: str = "") -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO runs (started, finished, day, ok, report, kind, alert) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows.run_values(report, kind, alert),
            )

    def start_run(
        self, *, kind: str, started: dt.datetime, day: dt.date, host: str, pid: int
    ) -> int:
        stamp = rows.stamp(started)
        with self._db.transaction() as tx:
            (run_id,) = tx.execute(
                "INSERT INTO runs (started, finished, day, ok, report, kind, state, host, pid) "
                "VALUES (?, ?, ?, 0, '{}', ?, 'running', ?, ?) RETURNING id",
                (stamp, stamp, day.isoformat(), kind, host, pid),
            ).fetchone()
        return int(run_id)

    def end_run(self, run_id: int, report: RunReport, *, state: RunState, alert: str = "") -> bool:
        _, finished, _, ok, body, _, _ = rows.run_values(report, "", alert)
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE runs SET finished = ?, ok = ?, report = ?, alert = ?, state = ? "
                "WHERE id = ? AND state = 'running'",
                (finished, ok, body, alert, state.value, run_id),
            )
            return cursor.rowcount > 0

    def discard_run(self, run_id: int) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM runs WHERE id = ? AND state = 'running'", (run_id,))

    def unfinished_runs(self) -> list[RunRecord]:
        found = self._db.all(
            f"SELECT {rows.RUN_COLUMNS} FROM runs WHERE state = 'running' ORDER BY id"
        )
        return [rows.run_record(row) for row in found]

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        found = self._db.all(
            f"SELECT {rows.RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [rows.run_record(row) for row in found]

    def last_run_started(self, kinds: Sequence[str]) -> dt.datetime | None:
        # The latest of each chunk's latest: any number of kinds, one IN helper.
        found = self._db.rows_in(
            "SELECT id, started FROM runs WHERE state = 'finished' AND kind IN ({marks}) "
            "ORDER BY id DESC LIMIT 1",
            kinds,
        )
        return rows.moment(max(found)[1]) if found else None
