"""A run's note: where a run keeps why it failed when the store cannot take it (a full disk).

When a run starts, a small file is written for it in the data folder, its bytes reserved.
If the run then fails and the store refuses to record that, the reason is written over those
reserved bytes, which needs no free space; the next run (or the next job of a service) finds
the run unfinished, its process gone, and records it as failed with that reason. A run that
ends normally removes its note.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from digest.util.private import private_folder

NOTE_BYTES = 1024  # reserved per running run: room for a one-line reason


@dataclass(frozen=True, slots=True)
class RunNotes:
    folder: Path  # <data_dir>/runs

    def path(self, run_id: int) -> Path:
        return self.folder / f"{run_id}.note"

    def reserve(self, run_id: int) -> int | None:
        """Write the note's reserved bytes; an open descriptor to write the reason into, or
        None when even that is impossible (then a failure is only logged)."""
        try:
            private_folder(self.folder)
            fd = os.open(
                self.path(run_id), os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600
            )
        except OSError:
            return None
        try:
            # No fsync: the file system takes the space at write() (tmpfs, ext4's delayed
            # allocation reserves it), which is all the note needs; a run pays no disk flush.
            os.write(fd, b" " * NOTE_BYTES)
        except OSError:
            os.close(fd)
            self.discard(run_id)
            return None
        return fd

    @staticmethod
    def write(fd: int, reason: str) -> bool:
        """The reason over the reserved bytes (cut to fit); False if even that failed."""
        data = reason.encode("utf-8", "replace")[:NOTE_BYTES].ljust(NOTE_BYTES)
        try:
            os.pwrite(fd, data, 0)
            os.fsync(fd)
        except OSError:
            return False
        return True

    def read(self, run_id: int) -> str:
        """The reason a run kept, "" when it kept none."""
        try:
            data = self.path(run_id).read_bytes()
        except OSError:
            return ""
        return data.decode("utf-8", "replace").strip()

    def discard(self, run_id: int) -> None:
        with contextlib.suppress(OSError):
            self.path(run_id).unlink()


def close_note(fd: int | None) -> None:
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)
