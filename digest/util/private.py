"""Files only the operator may read: the database holds every address and profile, and the
signing key that makes unsubscribe links; an outbox .eml holds a reader's digest. Created
0700 (folders) and 0600 (files) whatever the umask."""

from __future__ import annotations

import os
from pathlib import Path


def private_folder(path: Path) -> Path:
    """Make `path` (and missing parents) if needed; a folder made here is 0700. A folder
    that was there already keeps the mode its owner gave it."""
    missing = not path.exists()
    path.mkdir(parents=True, exist_ok=True)
    if missing:
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Make `path` empty and 0600 if it does not exist yet (before SQLite or anyone else
    creates it with the umask's mode)."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        path.chmod(0o600)
    return path
