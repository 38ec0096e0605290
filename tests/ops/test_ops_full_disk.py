"""The crash matrix's full-disk case, on a real file system that fills up.

The data folder is a 2 MiB tmpfs mounted in a private mount namespace (support.small_disk):
the kernel answers ENOSPC exactly as a full disk does, nothing outside the namespace sees it,
and it needs no image file or loop device. That needs root, which the suite has in CI (.ci/run
runs as root). RLIMIT_FSIZE was the other candidate; it is refused because a process over
that limit gets EFBIG ("file too large") for its own writes only, a different error on a
disk that is not full, so it would test a message nobody meets. Every `digest` here runs in
the namespace as a child process; this test reads the same files through /proc/<pid>/root.

The disk fills while the SMTP server holds the reply to the first message (an event, not a
delay), so the run meets the full disk at a known step: recording that message as sent.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.children import child_env, digest_command, serve_today
from support.held_smtp import HoldingHandler
from support.http_server import ScriptedServer
from support.installation import Installation, write_config
from support.small_disk import SmallDisk, small_disk
from support.smtp_server import SmtpSink

PEOPLE = ["ada@example.org", "bob@example.org", "carol@example.org"]
WAIT = 60.0


@dataclass
class FullDisk:
    disk: SmallDisk
    inst: Installation
    handler: HoldingHandler
    data: Path  # the data folder, as digest inside the namespace sees it

    def command(self, *args: str) -> list[str]:
        return self.disk.inside(digest_command(self.inst.config, *args))

    def env(self) -> dict[str, str]:
        return child_env(DIGEST_DATA_DIR=str(self.data))

    def digest(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[FullDisk]:
    handler = HoldingHandler(held_reply="250 OK")  # the server takes the held message
    http, smtp = ScriptedServer(), SmtpSink(handler)
    try:
        config = write_config(tmp_path, http.port, smtp.port)
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("[smtp]\n", "[smtp]\nconnections = 1\n"), encoding="utf-8")
        inst = Installation(tmp_path, config, http, smtp)
        with small_disk(tmp_path / "disk") as disk:
            setup = FullDisk(disk, inst, handler, disk.mount / "state")
            for person in PEOPLE:
                done = setup.digest("subscribe", person, "-k", "time series")
                assert done.returncode == 0, done.stderr
            serve_today(inst)
            yield setup
    finally:
        handler.release.set()
        http.close()
        smtp.close()


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("digest: error:")]
    return line


def test_a_run_that_meets_a_full_disk_stops_with_one_line_and_is_recorded_once_space_returns(
    full_disk: FullDisk,
) -> None:
    setup, handler = full_disk, full_disk.handler
    database = setup.data / "digest.sqlite3"
    child = subprocess.Popen(
        setup.command("run"),
        env=setup.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert handler.arrived.wait(WAIT), "the run never sent its first message"
    setup.disk.fill()
    handler.release.set()
    _, err = child.communicate(timeout=WAIT)

    done = subprocess.CompletedProcess(child.args, child.returncode, "", err)
    assert child.returncode == 2, err
    line = error_line(done)
    assert f"{database}: the disk is full (0 KiB free in {setup.data})" in line
    assert "kept the reason for the next run" in err  # the run note took it

    # While the disk is full, every write command says so in one line.
    refused = setup.digest("subscribe", "dan@example.org", "-k", "x")
    assert refused.returncode == 2
    assert f"{database}: the disk is full" in error_line(refused)

    setup.disk.free()
    shown = setup.digest("status")
    assert shown.returncode == 0, shown.stderr
    (failed,) = [x for x in shown.stdout.splitlines() if " run  " in x]
    assert "FAILED: " in failed and "the disk is full" in failed
    assert "(recorded so at the next run)" in failed

    rerun = setup.digest("run")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    # The held message reached the server but the full disk kept it from being recorded:
    # the rerun sends that same message again (the at-least-once case); the rest once.
    (first,) = handler.held_recipients
    copies = handler.to(first)
    assert len(copies) == 2 and copies[0].data == copies[1].data
    assert sorted(handler.recipients()) == sorted([*PEOPLE, first])
    after = setup.digest("status").stdout
    assert "Pending deliveries: 0; failed: 0" in after
    history = after.splitlines()
    newest, older = history[1], history[2]
    assert " run  " in newest and " ok " in newest
    assert "FAILED: " in older and "the disk is full" in older and "next run" not in older
    assert not setup.disk.outside(setup.data / "runs").exists() or not list(
        setup.disk.outside(setup.data / "runs").iterdir()
    )  # the note is gone once recorded
