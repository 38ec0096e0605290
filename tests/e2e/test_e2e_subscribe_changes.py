"""`digest subscribe` on an existing address changes only what is given; addresses match
whatever their case; `digest feedback` records votes; `digest subscribers` shows states;
`digest unsubscribe --mail` reads the mail a mailto unsubscribe link sends."""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
from contextlib import closing

import pytest
from support.installation import BOB, BOB_WORDS, Installation

from digest.cli import main
from digest.config.profiles import profile_from_options
from digest.models import Subscriber
from digest.store import open_store
from digest.store.roles import SubscriberState

NOW = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)


def digest(installation: Installation, *args: str) -> int:
    return main(["--config", str(installation.config), *args])


def test_subscribe_again_changes_only_what_is_given(
    installation: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    first = [
        "subscribe",
        "Bob@Example.org",
        "-k",
        "diffusion model",
        "-x",
        "medical",
        "-a",
        "Yang Song",
        "--at",
        "07:30",
        "--tz",
        "Europe/Berlin",
    ]
    assert digest(installation, *first) == 0
    assert "Subscribed Bob@example.org" in capsys.readouterr().out
    assert digest(installation, "subscribe", "bob@example.org", "--at", "08:00") == 0
    said = capsys.readouterr().out
    assert "Updated Bob@example.org: delivery time: 07:30 -> 08:00" in said
    assert "keywords" not in said
    assert digest(installation, "subscribe", "BOB@example.org", "-k", "score matching^2") == 0
    said = capsys.readouterr().out
    assert "keywords: diffusion model -> score matching^2" in said
    with closing(open_store(installation.database)) as store:
        (record,) = store.subscriber_records()
    bob = record.subscriber
    assert bob.email == "Bob@example.org"  # the spelling given first
    assert bob.profile.exclude == ("medical",) and bob.profile.authors == ("Yang Song",)
    assert (f"{bob.deliver_at:%H:%M}", bob.timezone) == ("08:00", "Europe/Berlin")
    assert digest(installation, "subscribe", "bob@example.org", "--at", "08:00") == 0
    assert "nothing changed" in capsys.readouterr().out

    assert digest(installation, "subscribe", "bob@example.org", "--replace", "-k", "ssm") == 0
    said = capsys.readouterr().out
    assert "exclusions: medical -> (none)" in said and "authors: Yang Song -> (none)" in said
    assert digest(installation, "unsubscribe", "BOB@EXAMPLE.ORG") == 0
    assert "Unsubscribed Bob@example.org." in capsys.readouterr().out
    assert digest(installation, "subscribers", "--all") == 0
    assert "Bob@example.org  unsubscribed" in capsys.readouterr().out


def test_subscribers_shows_each_state(
    installation: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    for email in ("a@example.org", "p@example.org"):
        assert digest(installation, "subscribe", email, "-k", "diffusion model") == 0
    with closing(open_store(installation.database)) as store:
        store.set_subscriber_state("p@example.org", SubscriberState.PAUSED, NOW)
        store.request_subscription(
            Subscriber("new@example.org", profile_from_options(["diffusion model"])),
            nonce="n",
            until=NOW + dt.timedelta(hours=1),
            now=NOW,
        )
    capsys.readouterr()
    assert digest(installation, "subscribers") == 0
    listing = capsys.readouterr().out
    assert "a@example.org  active" in listing
    assert "p@example.org  paused" in listing
    assert "new@example.org  pending" in listing


def test_feedback_records_and_undoes_a_vote(
    installation: Installation, capsys: pytest.CaptureFixture[str]
) -> None:
    installation.subscribe(BOB, BOB_WORDS)
    for offset in (0, 1):
        installation.serve_day(
            NOW.date() - dt.timedelta(days=offset), "hf_day1.json", "arxiv_day1.xml"
        )
    assert installation.run(NOW).ok
    text = installation.smtp.handler.to(BOB)[0].message.get_body(("plain",)).get_content()
    paper = re.findall(r"arxiv\.org/abs/(\d{4}\.\d{4,5})", text)[0]
    capsys.readouterr()
    assert digest(installation, "feedback", BOB.upper(), paper, "up") == 0
    assert "Recorded \u201cmore like this\u201d" in capsys.readouterr().out
    with closing(open_store(installation.database)) as store:
        bob = store.subscriber(BOB)
        assert bob is not None and bob.id is not None
        assert [(v.paper_id, v.vote.value) for v in store.votes(bob.id)] == [(paper, "up")]
    assert digest(installation, "feedback", BOB, paper, "down") == 0
    assert digest(installation, "feedback", BOB, paper, "undo") == 0
    assert "Removed the vote" in capsys.readouterr().out
    assert digest(installation, "feedback", BOB, "9999.99999", "up") == 2
    assert "no such paper" in capsys.readouterr().err
    assert digest(installation, "feedback", "nobody@example.org", paper, "up") == 2


def test_unsubscribe_mail_reads_the_token_from_the_subject(
    installation: Installation, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    installation.subscribe(BOB, BOB_WORDS)
    for offset in (0, 1):
        installation.serve_day(
            NOW.date() - dt.timedelta(days=offset), "hf_day1.json", "arxiv_day1.xml"
        )
    assert installation.run(NOW).ok
    header = installation.smtp.handler.to(BOB)[0].message["List-Unsubscribe"]
    token = re.search(r"subject=unsubscribe%20([A-Za-z0-9_.-]+)", header).group(1)
    mail = (
        "From: bob@example.org\r\nTo: unsubscribe@example.org\r\n"
        f"Subject: unsubscribe {token}\r\n\r\n\r\n"
    ).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(mail)))
    assert digest(installation, "unsubscribe", "--mail") == 0
    assert f"Unsubscribed {BOB}." in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"Subject: hello\r\n\r\n")))
    assert digest(installation, "unsubscribe", "--mail") == 2
