"""A snapshot's manifest can only name files inside the snapshot folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from digest.cli import main

REPO = Path(__file__).resolve().parents[2]
SECRET = "do-not-print-this-line"


def snapshot_naming(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "snapshot"
    shutil.copytree(REPO / "examples" / "snapshot", folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["listings"][0]["file"] = name
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


@pytest.mark.parametrize("how", ["parent", "absolute", "link"])
def test_a_manifest_naming_a_file_outside_the_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    monkeypatch.setenv("DIGEST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    outside = tmp_path / "private.txt"
    outside.write_text(SECRET + "\n", encoding="utf-8")
    name = {"parent": "../private.txt", "absolute": str(outside), "link": "inside-link.json"}[how]
    folder = snapshot_naming(tmp_path, name)
    if how == "link":
        (folder / "inside-link.json").symlink_to(outside)

    code = main(["preview", "--from", str(folder), "-k", "diffusion", "--out", str(tmp_path / "o")])

    captured = capsys.readouterr()
    assert code == 2
    assert "manifest.json" in captured.err and "outside the snapshot folder" in captured.err
    assert SECRET not in captured.out + captured.err
    assert not (tmp_path / "o").exists()


def test_a_manifest_naming_files_inside_still_previews(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    folder = snapshot_naming(tmp_path, "./huggingface-2024-10-25.json")

    code = main(["preview", "--from", str(folder), "-k", "diffusion", "--out", str(tmp_path / "o")])

    assert code == 0
    assert "huggingface ok" in capsys.readouterr().out
