"""A throwaway PostgreSQL 15 cluster for the tests: initdb and pg_ctl on a temporary folder,
listening on a free port of 127.0.0.1, stopped and removed at the end of the session.

The server binaries come from $DIGEST_PG_BIN, else /usr/lib/postgresql/15/bin (Debian's
postgresql-15 package; `.ci/run` installs it when it is missing). Missing binaries fail the
tests with a message saying so: the PostgreSQL tests never skip.

initdb and postgres refuse to run as root. Under root (CI), the cluster runs as an
unprivileged user: $DIGEST_PG_USER, else `nobody`, through `runuser`; its folder is made in
/tmp (pytest's own tmp folders are private to root) and handed to that user.

The cluster is tuned for tests, not durability (fsync off). Each test gets a fresh database
cloned from a template with `CREATE DATABASE ... TEMPLATE`, which is a file copy.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from support.smtp_server import free_port

BIN_ENV = "DIGEST_PG_BIN"
USER_ENV = "DIGEST_PG_USER"
DEFAULT_BIN = Path("/usr/lib/postgresql/15/bin")
ROLE = "digest"
PASSWORD = "test-password-not-secret"
TEMPLATE = "digest_template"
# Fast and small: a test cluster holds nothing worth keeping. fsync off still survives a
# killed server (the OS has the WAL); synchronous_commit stays on so a restart mid-test
# loses no committed transaction, as on a real server.
SERVER_OPTIONS = (
    "-c fsync=off -c full_page_writes=off "
    "-c max_connections=200 -c shared_buffers=32MB -c unix_socket_directories=''"
)

_names = itertools.count(1)


class PostgresMissing(RuntimeError):
    """The server binaries are not installed where the tests look for them."""


def server_bin() -> Path:
    folder = Path(os.environ.get(BIN_ENV) or DEFAULT_BIN)
    if not (folder / "initdb").exists():
        raise PostgresMissing(
            f"PostgreSQL server binaries not found in {folder} (no initdb): install them "
            f"(`apt-get install -y postgresql-15`) or point ${BIN_ENV} at their folder"
        )
    return folder


@dataclass
class Cluster:
    """A running server; `url(database)` names one of its databases (password included)."""

    bin: Path
    folder: Path
    port: int
    run_as: str | None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres", *, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{ROLE}{secret}@127.0.0.1:{self.port}/{database}"

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self.bin / tool), *args]
        if self.run_as is None:
            return command
        return ["runuser", "-u", self.run_as, "--", *command]

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            self._command(tool, *args), capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def init(self) -> None:
        pwfile = self.folder / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        self._own(pwfile)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            ROLE,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
        log = self.folder / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop (dropping every connection) and start again on the same port."""
        self.stop("immediate")
        self.start()

    def sql(self, statement: str, database: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def fresh_database(self) -> str:
        """A new, empty-but-migrated database cloned from the template; its URL."""
        name = f"test_{os.getpid()}_{next(_names)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    def empty_database(self) -> str:
        """A new database with no tables at all (to test migrations from nothing)."""
        name = f"empty_{os.getpid()}_{next(_names)}"
        self.sql(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.url(name)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def _own(self, path: Path) -> None:
        if self.run_as is not None:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)


def start_cluster() -> Cluster:
    """initdb, start, and make the migrated template every test database is cloned from."""
    binaries = server_bin()
    run_as = None
    if os.geteuid() == 0:
        run_as = os.environ.get(USER_ENV) or "nobody"
    # /tmp, not pytest's tmp_path: that one is private to the user running the tests.
    folder = Path(tempfile.mkdtemp(prefix="digest-pg-"))
    cluster = Cluster(binaries, folder, free_port(), run_as)
    try:
        cluster._own(folder)
        cluster.init()
        cluster.start()
        cluster.sql(f"CREATE DATABASE {TEMPLATE}")
        # Migrated once here, so each test's clone starts at the current schema.
        from support.stores import opened_store

        with opened_store(cluster.url(TEMPLATE)):
            pass
    except BaseException:
        cluster.remove()
        raise
    return cluster
