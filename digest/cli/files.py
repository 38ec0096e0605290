"""Files the command line writes (previews, saved listings): a clear error instead of a
traceback, and never through a link someone left in the folder."""

from __future__ import annotations

import os
from pathlib import Path

from digest.errors import DigestError


def output_folder(path: Path, option: str) -> Path:
    """`path` as a folder to write into, made if missing; DigestError naming the option when
    it is a file, or cannot be made."""
    if path.exists() and not path.is_dir():
        raise DigestError(f"{option} {path}: is a file, not a folder; name a folder to write into")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DigestError(f"{option} {path}: cannot make the folder: {err.strerror}") from err
    return path


def write_file(path: Path, data: bytes) -> None:
    """Write `path` anew; a symbolic link there is refused, not followed (a link planted in
    a shared preview folder must not make us overwrite its target)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    try:
        descriptor = os.open(path, flags, 0o644)
    except OSError as err:
        why = "is a symbolic link; not followed" if path.is_symlink() else err.strerror
        raise DigestError(f"{path}: cannot write: {why}") from err
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def without_links(folder: Path, option: str) -> Path:
    """`folder` if no symbolic link is in it: saved listings are written under names of the
    listing's choosing, and none of them may lead a write out of the folder."""
    links = sorted(entry.name for entry in folder.iterdir() if entry.is_symlink())
    if links:
        raise DigestError(
            f"{option} {folder}: holds a symbolic link ({links[0]}); not followed: "
            "name a folder without links"
        )
    return folder
