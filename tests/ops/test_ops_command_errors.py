"""What a user sees when a command cannot do its job, from a real `digest` process: one line
on stderr naming what and where, a non-zero exit status, never a traceback, nothing
overwritten or followed. (tests/e2e/test_e2e_cli_errors.py checks some of these through
`main()`; here the whole process is checked, exit status and all.)"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.children import REPO, child_env, digest_command, run_digest, serve_small
from support.http_server import ScriptedServer
from support.installation import ARXIV_PATH, installed, write_config

SNAPSHOT = str(REPO / "examples" / "snapshot")


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("digest: error: ")
    return line


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Path]:
    """An installation whose sources answer 404 to everything, and no mail server."""
    http = ScriptedServer()
    try:
        yield write_config(tmp_path, http.port, 1)
    finally:
        http.close()


def test_a_data_folder_that_cannot_be_made_is_one_line(config: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data folder should go", encoding="utf-8")
    data = blocker / "data"
    for command in (["subscribe", "ada@example.org", "-k", "x"], ["run"], ["tick"]):
        done = run_digest(config, *command, DIGEST_DATA_DIR=str(data))
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        line = one_error_line(done)
        assert f"{data / 'digest.sqlite3'}: cannot create the database: Not a directory" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["preview", "--from", SNAPSHOT, "-k", "x", "--out", "{file}"], "--out {file}: is a file"),
        (["fetch", "--save", "{file}"], "--save {file}: is a file, not a folder"),
        (["unsubscribe", "--token", ""], "--token is empty"),
        (["unsubscribe", "--token", "  "], "--token is empty"),
        (
            ["preview", "--from", SNAPSHOT, "-k", "x", "--out", "{folder}"],
            "{folder}/digest.html: cannot write: is a symbolic link; not followed",
        ),
        (
            ["fetch", "--save", "{folder}"],
            "--save {folder}: holds a symbolic link (digest.html); not followed",
        ),
    ],
)
def test_a_refused_argument_is_one_line_and_touches_nothing(
    config: Path, tmp_path: Path, args: list[str], expected: str
) -> None:
    existing = tmp_path / "mine.txt"
    existing.write_text("keep me", encoding="utf-8")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / "digest.html").symlink_to(existing)
    names = {"file": str(existing), "folder": str(folder)}
    done = run_digest(config, *(a.format(**names) for a in args))
    assert done.returncode == 2, done.stdout + done.stderr
    assert expected.format(**names) in one_error_line(done)
    assert existing.read_text(encoding="utf-8") == "keep me"
    assert (folder / "digest.html").is_symlink()


def test_status_into_a_pipe_its_reader_closed_says_nothing_more(
    config: Path, tmp_path: Path
) -> None:
    """`digest status | head -1`: the reader is gone before digest writes. The read end is
    closed before the child starts, so every write meets EPIPE, whatever the timing."""
    data = str(tmp_path / "data")
    subscribed = run_digest(config, "subscribe", "ada@example.org", "-k", "x", DIGEST_DATA_DIR=data)
    assert subscribed.returncode == 0, subscribed.stderr
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            digest_command(config, "status", "--runs", "50"),
            env=child_env(DIGEST_DATA_DIR=data),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 0 and done.stderr == ""


def test_a_preview_whose_every_source_failed_exits_non_zero(config: Path, tmp_path: Path) -> None:
    done = run_digest(
        config, "preview", "-k", "diffusion", "--out", str(tmp_path / "p"), DIGEST_DATA_DIR="d"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "huggingface FAILED" in done.stdout and "arxiv FAILED" in done.stdout
    assert "404" in done.stdout
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("digest: error:")]
    assert "every source failed (huggingface, arxiv): the preview has no papers" in line


def test_a_preview_with_one_source_left_exits_zero(tmp_path: Path) -> None:
    with installed(tmp_path) as inst:
        serve_small(inst, dt.datetime.now(dt.UTC).date())
        inst.http.routes.pop(ARXIV_PATH)  # arXiv answers 404 now; Hugging Face still answers
        done = run_digest(inst.config, "preview", "-k", "model", "--out", str(tmp_path / "p"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "arxiv FAILED" in done.stdout and "huggingface ok" in done.stdout
    assert "every source failed" not in done.stderr
