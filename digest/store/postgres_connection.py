"""A psycopg 3 connection pool, used the few ways the store needs, every error a StoreError.

All SQL of the PostgreSQL backend goes through `Pool`: reads (`one`, `all`) and write
transactions (`transaction`). Each runs under `errors()`, the one place a psycopg or pool
error (a refused login, a lost connection, a constraint) becomes a StoreError that names the
database, without its password.

A connection is checked as it leaves the pool (`quick_check`), so after a server restart the
dead ones are replaced instead of failing the next statement; a statement that was running
when the server went away fails as a StoreError and its transaction is rolled back by the
server.
"""

from __future__ import annotations

import os
import select
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urlsplit

import psycopg
import psycopg_pool

from digest.errors import ConfigError, StoreError
from digest.util.dburl import display_url

POOL_SIZE_ENV = "DIGEST_DB_POOL_SIZE"
POOL_SIZE = 4  # connections per process: a worker uses one or two at a time
CONNECT_TIMEOUT = 10  # seconds to reach the server before a statement fails
# Seconds a statement waits for a free connection, or for the server to come back: long
# enough to ride out a restart of PostgreSQL in the middle of a run.
POOL_WAIT = 30.0

Row = tuple[Any, ...]


def pool_size_from_env(env: Mapping[str, str] = os.environ) -> int:
    text = env.get(POOL_SIZE_ENV, "").strip()
    if not text:
        return POOL_SIZE
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise ConfigError(f"{text!r} is not a pool size (1 to 100)", key=POOL_SIZE_ENV)
    return int(text)


class Pool:
    """Connections to one database, in autocommit mode, their session clock in UTC."""

    def __init__(
        self,
        url: str,
        *,
        readonly: bool = False,
        size: int | None = None,
        wait: float = POOL_WAIT,
    ) -> None:
        self.url = url
        self.name = display_url(url)
        self._secret = urlsplit(url).password
        options = "-c timezone=UTC"
        if readonly:
            # The server itself refuses every write, whatever the code above it does.
            options += " -c default_transaction_read_only=on"
        kwargs: dict[str, Any] = {
            "autocommit": True,
            "options": options,
            "connect_timeout": CONNECT_TIMEOUT,
            "application_name": "digest",
        }
        with self.errors("cannot open database"):
            # One direct connection first: the pool retries in the background and reports
            # only a timeout, while this says why (wrong password, no such database).
            psycopg.connect(url, **kwargs).close()
            self._pool = psycopg_pool.ConnectionPool(
                url,
                min_size=1,
                max_size=size or pool_size_from_env(),
                kwargs=kwargs,
                check=quick_check,
                timeout=wait,
                open=False,
                name="digest",
            )
            self._pool.open(wait=True, timeout=min(wait, CONNECT_TIMEOUT))

    def close(self) -> None:
        with self.errors():
            self._pool.close()

    def errors(self, doing: str = "") -> AbstractContextManager[None]:
        return translated(self.name, self._secret, doing)

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Row]]:
        """A write transaction: committed when the block ends, rolled back when it raises."""
        with self.errors(), self._pool.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Row]]:
        """One connection outside a transaction (each statement commits by itself)."""
        with self.errors(), self._pool.connection() as conn:
            yield conn

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self.connection() as conn:
            return conn.execute(sql.encode(), params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.connection() as conn:
            return conn.execute(sql.encode(), params).fetchall()


def quick_check(conn: psycopg.Connection[Any]) -> None:
    """The pool's check as a connection leaves it, without a round trip when it can: an idle
    connection has nothing to read, unless the server has said goodbye (a restart sends
    every session a FATAL notice and closes it); only then is it asked, and replaced when
    that fails. A round trip per checkout cost as much as the statement it was for."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        psycopg_pool.ConnectionPool.check_connection(conn)


@contextmanager
def translated(name: str, secret: str | None, doing: str = "") -> Iterator[None]:
    """Turn a psycopg (or pool) error raised inside into a StoreError naming the database."""
    try:
        yield
    except psycopg.Error as err:
        raise StoreError(f"{name}: {_describe(err, secret, doing)}") from err


def _describe(err: psycopg.Error, secret: str | None, doing: str) -> str:
    text = str(err).strip().replace("\n", " ")
    if secret:
        text = text.replace(secret, "***")  # a driver may echo the connection string
    if isinstance(err, psycopg_pool.PoolClosed):
        return "the store is closed"
    if isinstance(err, psycopg.errors.ReadOnlySqlTransaction):
        return f"the database is open read-only here, nothing was written ({text})"
    if isinstance(err, psycopg.OperationalError | psycopg_pool.PoolTimeout):
        return f"{doing or 'cannot reach the database'}: {text}"
    return f"{doing or 'database error'}: {text}"
