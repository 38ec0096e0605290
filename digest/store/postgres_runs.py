"""The run history on PostgreSQL (part of the Operations role), as SQLite's (see
digest.store.sqlite_runs): written RUNNING with host and pid when a run starts, ended with
its report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from digest.models import RunReport
from digest.store import postgres_rows as rows
from digest.store.postgres_connection import Pool
from digest.store.roles import RunRecord, RunState


class PostgresRuns:
    """Mixed into PostgresStore, which provides `_db`."""

    _db: Pool

    def record_run(self, report: RunReport, *, kind: str = "run", alert: str = "") -> None:
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO runs (started, finished, day, ok, report, kind, alert) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                rows.run_values(report, kind, alert),
            )

    def start_run(
        self, *, kind: str, started: dt.datetime, day: dt.date, host: str, pid: int
    ) -> int:
        moment = rows.utc(started)
        with self._db.transaction() as tx:
            row = tx.execute(
                "INSERT INTO runs (started, finished, day, ok, report, kind, state, host, pid) "
                "VALUES (%s, %s, %s, false, '{}', %s, 'running', %s, %s) RETURNING id",
                (moment, moment, day, kind, host, pid),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def end_run(self, run_id: int, report: RunReport, *, state: RunState, alert: str = "") -> bool:
        _, finished, _, ok, body, _, _ = rows.run_values(report, "", alert)
        with self._db.transaction() as tx:
            cursor = tx.execute(
                "UPDATE runs SET finished = %s, ok = %s, report = %s, alert = %s, state = %s "
                "WHERE id = %s AND state = 'running'",
                (finished, ok, body, alert, state.value, run_id),
            )
            return cursor.rowcount > 0

    def discard_run(self, run_id: int) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM runs WHERE id = %s AND state = 'running'", (run_id,))

    def unfinished_runs(self) -> list[RunRecord]:
        found = self._db.all(
            f"SELECT {rows.RUN_COLUMNS} FROM runs WHERE state = 'running' ORDER BY id"
        )
        return [rows.run_record(row) for row in found]

    def recent_runs(self, limit: int = 10) -> list[RunRecord]:
        found = self._db.all(
            f"SELECT {rows.RUN_COLUMNS} FROM runs ORDER BY id DESC LIMIT %s", (limit,)
        )
        return [rows.run_record(row) for row in found]

    def last_run_started(self, kinds: Sequence[str]) -> dt.datetime | None:
        row = self._db.one(
            "SELECT started FROM runs WHERE state = 'finished' AND kind = ANY(%s) "
            "ORDER BY id DESC LIMIT 1",
            (list(kinds),),
        )
        return rows.utc(row[0]) if row else None
