"""Mistakes at the command line get one clear line and exit status 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.cli import main

REPO = Path(__file__).resolve().parents[2]
PREVIEW = ["preview", "--from", str(REPO / "examples" / "snapshot"), "-k", "diffusion"]


@pytest.fixture(autouse=True)
def defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)


def test_preview_out_naming_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "notes.txt"
    existing.write_text("mine", encoding="utf-8")
    assert main([*PREVIEW, "--out", str(existing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"digest: error: --out {existing}: is a file") and "Traceback" not in err
    assert existing.read_text(encoding="utf-8") == "mine"


def test_preview_never_writes_through_a_link_in_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, target = tmp_path / "out", tmp_path / "precious.txt"
    folder.mkdir()
    target.write_text("keep me", encoding="utf-8")
    (folder / "digest.txt").symlink_to(target)
    assert main([*PREVIEW, "--out", str(folder)]) == 2
    assert "digest.txt: cannot write: is a symbolic link; not followed" in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "keep me"


def test_fetch_save_naming_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "listings"
    existing.write_text("x", encoding="utf-8")
    assert main(["fetch", "--save", str(existing)]) == 2
    assert f"--save {existing}: is a file, not a folder" in capsys.readouterr().err


def test_an_empty_unsubscribe_token_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["unsubscribe", "--token", ""]) == 2
    assert "--token is empty" in capsys.readouterr().err
