"""pylatexenc's macro tables are read out of it once and kept in the cache folder: a later
process converts TeX exactly alike from the kept file, without importing pylatexenc's
parsers; a damaged file is read out of pylatexenc again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from digest.collect.latex import tables_path

SAMPLES = [
    r"$\alpha$-stable laws on $\mathbb{R}^d$ with $\epsilon \to 0$",
    r"Caf\'e na\"ive \textbf{bold} and \emph{emphasis} -- a ``quote''",
    r"See \cite{x} and \href{https://example.org}{the page}\footnote{a note}.",
    r"\item one \section{Two}",  # macros pylatexenc renders in code: its full parser
    r"$O(n \log n)$ \ldots \dagger \S 3",
]

CONVERT = (
    "import json, sys\n"
    "from digest.collect.latex import latex_to_text\n"
    f"samples = {SAMPLES!r}\n"
    "plain = [latex_to_text(s) for s in samples[:-2] + samples[-1:]]\n"
    "parsers = 'pylatexenc.latex2text' in sys.modules\n"
    "full = latex_to_text(samples[-2])\n"
    "print(json.dumps({'plain': plain, 'full': full, 'parsers': parsers}))\n"
)


def convert(cache: Path) -> dict[str, object]:
    env = {**os.environ, "DIGEST_CACHE_DIR": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", CONVERT], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_tables_are_kept_and_a_later_process_converts_alike_without_the_parsers(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "cache"
    path = tables_path({"DIGEST_CACHE_DIR": str(cache)})
    assert not path.exists()
    first = convert(cache)
    assert path.exists() and first["parsers"] is True  # read out of pylatexenc, then kept
    kept = json.loads(path.read_text("utf-8"))
    assert kept["symbols"]["alpha"] == "α" and "item" in kept["code_only"]
    second = convert(cache)
    assert second["parsers"] is False  # the kept tables: pylatexenc's parsers not imported
    assert second["plain"] == first["plain"]
    assert second["full"] == first["full"]
    assert "α-stable" in str(second["plain"])


def test_a_damaged_file_is_read_out_of_pylatexenc_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    reference = convert(tmp_path / "reference")
    path = tables_path({"DIGEST_CACHE_DIR": str(cache)})
    path.parent.mkdir(parents=True)
    path.write_text('{"symbols": {"alpha": ', "utf-8")  # cut off mid-write by a crash
    again = convert(cache)
    assert again["plain"] == reference["plain"] and again["full"] == reference["full"]
    assert json.loads(path.read_text("utf-8"))["symbols"]["alpha"] == "α"  # written whole


def test_without_a_home_folder_the_tables_are_read_and_nothing_is_kept(tmp_path: Path) -> None:
    """A service user with neither HOME nor a cache variable (Path.home() cannot answer)."""
    code = (
        "import json, pathlib\n"
        "def no_home(): raise RuntimeError('Could not determine home directory.')\n"
        "pathlib.Path.home = staticmethod(no_home)\n"
        "from digest.collect.latex import latex_to_text\n"
        f"print(json.dumps([latex_to_text(s) for s in {SAMPLES!r}]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DIGEST_CACHE_DIR", "XDG_CACHE_HOME")}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    converted = json.loads(done.stdout)
    reference = convert(tmp_path / "reference")
    assert converted[:3] + converted[4:] == reference["plain"]
    assert converted[3] == reference["full"]
