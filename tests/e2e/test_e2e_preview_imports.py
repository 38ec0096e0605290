"""`digest preview --from SNAPSHOT` loads only what a preview uses: none of the modules that
fetch, store runs or send mail, not numpy's masked arrays, and (once pylatexenc's tables are
kept in the cache folder) not pylatexenc's parsers. It still writes the whole preview."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# What the other commands need and a preview never does.
NOT_FOR_A_PREVIEW = (
    "digest.deliver.delivery",
    "digest.deliver.sendpool",
    "digest.deliver.smtp",
    "smtplib",
    "httpx",
    "digest.collect.fetch",
    "digest.jobs.history",
    "digest.jobs.dead",
    "digest.jobs.schedule",
    "digest.jobs.service",
    "digest.store.sqlite",
    "numpy.ma",
)
# The meaning side, which a preview with `semantic = false` never uses (nor sqlite3, which
# only its vector file and the store need).
NOT_WITHOUT_SEMANTIC = (
    "digest.rank.semantic",
    "digest.rank.personal",
    "digest.rank.hybrid",
    "digest.rank.vectorfile",
    "sqlite3",
)

PREVIEW = (
    "import atexit, json, sys\n"
    "from digest.cli import main\n"
    "atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def preview_modules(tmp_path: Path) -> set[str]:
    config = tmp_path / "digest.toml"
    config.write_text(f'[digest]\nsemantic = false\ndata_dir = "{tmp_path / "data"}"\n', "utf-8")
    env = {**os.environ, "DIGEST_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("DIGEST_CONFIG", None)
    out = tmp_path / "out"
    snapshot = str(REPO / "examples" / "snapshot")
    arguments = ["--config", str(config), "preview", "--from", snapshot, "-k", "diffusion"]
    done = subprocess.run(
        [sys.executable, "-c", PREVIEW, *arguments, "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "matched" in done.stdout and "Nothing was sent" in done.stdout
    assert (out / "digest.html").stat().st_size and (out / "digest.eml").stat().st_size
    loaded: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return set(loaded)


def test_a_preview_loads_none_of_what_fetching_storing_and_sending_need(tmp_path: Path) -> None:
    first = preview_modules(tmp_path)
    assert "digest.cli.preview" in first and "jinja2" in first
    assert not first & set(NOT_FOR_A_PREVIEW), sorted(first & set(NOT_FOR_A_PREVIEW))
    assert "digest.cli.commands" not in first
    assert not first & set(NOT_WITHOUT_SEMANTIC), sorted(first & set(NOT_WITHOUT_SEMANTIC))
    # The first preview read pylatexenc's tables and kept them: the next one needs no parser.
    second = preview_modules(tmp_path)
    assert "pylatexenc.latex2text" not in second and "pylatexenc.latexwalker" not in second
    assert not second & set(NOT_FOR_A_PREVIEW)
