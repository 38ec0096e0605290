"""The user's cache folder for what digest keeps only to save time (paper vectors of
previews, pylatexenc's tables): deleting it loses nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

CACHE_DIR_ENV = "DIGEST_CACHE_DIR"


def default_cache_dir(env: Mapping[str, str]) -> Path:
    """$DIGEST_CACHE_DIR, else $XDG_CACHE_HOME/digest, else ~/.cache/digest. RuntimeError
    when neither variable is set and there is no home folder."""
    if env.get(CACHE_DIR_ENV):
        return Path(env[CACHE_DIR_ENV]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "digest"
