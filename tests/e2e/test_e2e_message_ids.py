"""Message-IDs are unique across installations and previews, and stable for one digest."""

from __future__ import annotations

from pathlib import Path

from support.installation import BOB, BOB_WORDS, installed
from test_e2e_cli import NOW, digest, serve_today


def test_two_installations_never_share_a_message_id(tmp_path: Path) -> None:
    ids = []
    for name in ("lab", "public"):
        (tmp_path / name).mkdir()
        with installed(tmp_path / name) as installation:
            # The same address, the same row number, the same day in both.
            assert (
                digest(installation, "subscribe", BOB, *[a for w in BOB_WORDS for a in ("-k", w)])
                == 0
            )
            serve_today(installation)
            assert digest(installation, "run", "--now", NOW.isoformat()) == 0
            (mail,) = installation.smtp.handler.to(BOB)
            ids.append(mail.message["Message-ID"])
    assert ids[0] != ids[1]


def test_two_previews_mailed_to_one_address_on_one_day_differ(tmp_path: Path) -> None:
    with installed(tmp_path) as installation:
        serve_today(installation)
        for keyword in ("reinforcement learning", "policy optimization"):
            out = tmp_path / keyword.replace(" ", "-")
            code = digest(
                installation,
                "preview",
                "--now",
                NOW.isoformat(),
                "-k",
                keyword,
                "--send-to",
                BOB,
                "--out",
                str(out),
            )
            assert code == 0
        first, second = installation.smtp.handler.to(BOB)
        assert first.message["Message-ID"] != second.message["Message-ID"]
