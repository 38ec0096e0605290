"""What `digest preview` makes of the profile options: --describe is kept with --profile
FILE, and --top lifts a keyword profile's max_papers (25) so more papers can be listed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.cli import build_parser, main
from digest.cli.options import profile_from_args

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "profiles" / "example.toml"


def test_describe_is_kept_with_a_profile_file() -> None:
    args = build_parser().parse_args(
        ["preview", "--profile", str(EXAMPLE), "--describe", "Fast samplers for diffusion."]
    )
    profile = profile_from_args(args)
    assert profile is not None and profile.description == "Fast samplers for diffusion."


def test_describe_goes_with_keywords_and_top_lifts_max_papers() -> None:
    args = build_parser().parse_args(
        ["preview", "-k", "diffusion", "--describe", "Samplers.", "--top", "40"]
    )
    profile = profile_from_args(args)
    assert profile is not None
    assert profile.description == "Samplers." and profile.max_papers == 40


def test_a_keyword_preview_with_top_lists_more_than_25(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "digest.toml"
    config.write_text(f'[digest]\ndata_dir = "{tmp_path / "data"}"\nsemantic = false\n', "utf-8")
    out = tmp_path / "preview"
    snapshot = str(ROOT / "examples" / "snapshot")
    command = ["--config", str(config), "preview", "--from", snapshot, "--out", str(out)]
    assert main([*command, "-k", "learning", "--top", "40"]) == 0
    printed = capsys.readouterr().out
    matched = re.search(r"(\d+) of \d+ new papers matched", printed)
    assert matched is not None and int(matched[1]) > 40
    # the size budget may move the last few from full to title-only, and the title list
    # takes what room is left: at least 40 listed, most in full
    shown = re.search(r"The email shows (\d+) in full(?:, (\d+) by title)?", printed)
    assert shown is not None and int(shown[1]) > 25
    assert int(shown[1]) + int(shown[2] or 0) >= 40
