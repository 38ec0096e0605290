"""A real, tiny file system for full-disk tests: a tmpfs mounted in a private mount namespace.

`unshare --mount` gives a holder process its own mount table and mounts a tmpfs of a few
hundred KiB on a folder; nothing outside that namespace sees the mount, and it vanishes with
the holder, so a crashed test leaves nothing mounted on the machine. Child `digest` processes
run inside the namespace (`nsenter --mount`); this process reaches the same files through
/proc/<holder>/root. Filling it gives every writer the kernel's own ENOSPC.

It needs root (CAP_SYS_ADMIN), which the test suite has in CI (.ci/run runs as root).
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

READY = "mounted"


@dataclass
class SmallDisk:
    holder: subprocess.Popen[str]
    mount: Path  # the path as processes inside the namespace see it

    def outside(self, path: Path) -> Path:
        """`path` (under the mount) as this process reaches it."""
        return Path(f"/proc/{self.holder.pid}/root") / path.relative_to("/")

    def inside(self, command: list[str]) -> list[str]:
        """`command` run in the namespace, where the tmpfs is mounted."""
        return ["nsenter", f"--target={self.holder.pid}", "--mount", "--", *command]

    @property
    def filler(self) -> Path:
        return self.outside(self.mount / "filler")

    def fill(self) -> None:
        """Take every free byte: the next write of anyone on it fails with ENOSPC."""
        chunk = b"\0" * 65536
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                os.write(descriptor, chunk)  # a short write first, then ENOSPC
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
        finally:
            os.close(descriptor)

    def free(self) -> None:
        self.filler.unlink()


@contextlib.contextmanager
def small_disk(mount: Path, size: str = "2m") -> Iterator[SmallDisk]:
    mount.mkdir(parents=True, exist_ok=True)
    script = f"mount -t tmpfs -o size={size},mode=0755 tmpfs '{mount}' && echo {READY} && exec cat"
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline().strip()  # blocks until mounted (or the holder failed)
        assert line == READY, (
            f"tmpfs not mounted: {line!r} {holder.stderr.read() if holder.stderr else ''}"
        )
        yield SmallDisk(holder, mount)
    finally:
        if holder.stdin is not None:
            holder.stdin.close()  # cat ends, and the namespace with its mount goes with it
        holder.wait(timeout=30)
