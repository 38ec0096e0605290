"""Matches beyond max_papers, and the header's counts, across days: real HTTP listings, a
real SMTP sink and a real SQLite store.

Day 1 matches far more papers than `max_papers` + the compact list: the email lists that
many (in full, then by title), says how many more matched, and the ledger holds exactly the
listed ones. The next days bring few new papers: the matches that did not fit come then, each
paper once. The header counts only what is new to the reader: replacements and papers seen
on earlier days are not "new", updates are counted apart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pytest
from support.http_server import Reply
from support.installation import ARXIV_PATH, DATA, HF_PATH, Installation, arxiv_ids
from support.smtp_server import Received
from support.stores import opened_store

from digest.cli import main
from digest.config.profiles import profile_from_options
from digest.jobs.digests import COMPACT_LIST
from digest.models import Subscriber

DAY1 = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)  # a Thursday: arXiv announces
ADA = "ada@example.org"
RSS = [("Content-Type", "application/rss+xml; charset=utf-8")]
JSON = [("Content-Type", "application/json; charset=utf-8")]


def feed_items(name: str) -> tuple[str, str, dict[str, str]]:
    """(head, tail, {arXiv id: item}) of a real RSS capture."""
    text = (DATA / name).read_text(encoding="utf-8")
    items = re.findall(r"<item>.*?</item>", text, re.S)
    head = text[: text.index("<item>")]
    tail = text[text.rindex("</item>") + len("</item>") :]
    by_id = {}
    for item in items:
        found = re.search(r"arxiv\.org/abs/(\d{4}\.\d{4,5})", item)
        assert found is not None
        by_id[found.group(1)] = item
    return head, tail, by_id


def as_replacement(item: str, arxiv_id: str) -> str:
    """The same paper announced again as its version 2."""
    item = item.replace(f"{arxiv_id}v1", f"{arxiv_id}v2")
    item = item.replace("Announce Type: new", "Announce Type: replace")
    return item.replace(
        "<arxiv:announce_type>new</arxiv:announce_type>",
        "<arxiv:announce_type>replace</arxiv:announce_type>",
    )


def serve(installation: Installation, day: dt.date, items: list[str], hf: str | None) -> None:
    head, tail, _ = feed_items("arxiv_day1.xml")
    body = (head + "\n".join(items) + tail).encode("utf-8")
    installation.http.script(ARXIV_PATH, Reply(200, body, RSS))
    hf_body = (DATA / hf).read_bytes() if hf else b"[]"
    for date in (day - dt.timedelta(days=1), day):
        installation.http.script(HF_PATH.format(date=date.isoformat()), Reply(200, hf_body, JSON))


def text_of(mail: Received) -> str:
    part = mail.message.get_body(("plain",))
    assert part is not None
    return " ".join(part.get_content().split())


def ledger(installation: Installation, email: str) -> dict[str, int]:
    with opened_store(installation.database, readonly=True) as store:
        subscriber = store.subscriber(email)
        assert subscriber is not None and subscriber.id is not None
        every = store.recent_papers(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        return store.ledger_versions(subscriber.id, [s.paper.id for s in every])


def unlisted_count(text: str) -> int:
    found = re.search(
        r"(\d+) more papers? matched your profile but did not fit in this email: "
        r"(?:they are|it is) offered again in your next digest\.",
        text,
    )
    assert found is not None, text[:400]
    return int(found.group(1))


def test_matches_that_did_not_fit_come_in_the_next_digests(installation: Installation) -> None:
    profile = dataclasses.replace(
        profile_from_options(["learning", "model", "language", "data", "network"]),
        max_papers=5,
        min_score=0.0,
        sources=("arxiv",),
    )
    with opened_store(installation.database) as store:
        store.save_subscriber(Subscriber(ADA, profile))
    _, _, day1_items = feed_items("arxiv_day1.xml")
    _, _, day2_items = feed_items("arxiv_day2.xml")
    room = profile.max_papers + COMPACT_LIST

    # Day 1: 72 new arXiv papers (both captures but three), most of them match.
    three = list(day2_items)[:3]
    later = {i: item for i, item in day2_items.items() if i not in three}
    serve(installation, DAY1.date(), [*day1_items.values(), *later.values()], None)
    assert installation.run(DAY1).ok
    (first,) = installation.smtp.handler.to(ADA)
    text1 = text_of(first)
    listed1 = arxiv_ids(first)
    assert len(listed1) == room
    html1 = first.message.get_body(("html",)).get_content()
    assert html1.count('class="paper text"') == profile.max_papers
    assert html1.count('class="more-item"') == COMPACT_LIST
    more1 = unlisted_count(text1)
    assert more1 > 5
    assert f"· {more1 + room} matched your profile · 5 shown, 20 more listed below." in text1
    assert set(ledger(installation, ADA)) == listed1  # exactly what the email lists

    # Day 2: three new papers. The day-1 matches that did not fit are ranked with them.
    day2 = DAY1 + dt.timedelta(days=1)
    serve(installation, day2.date(), [day2_items[i] for i in three], None)
    assert installation.run(day2).ok
    second = installation.smtp.handler.to(ADA)[1]
    text2 = text_of(second)
    listed2 = arxiv_ids(second)
    assert listed2.isdisjoint(listed1)
    held2 = listed2 - set(three)
    assert held2 and held2 <= (set(day1_items) | set(later)) - listed1
    # Every day-1 match that did not fit is offered again, and counted apart.
    header = re.search(rf"3 new papers · (\d) matched your profile · {more1} matches from", text2)
    assert header is not None, text2[:300]
    new_matched = int(header.group(1))
    assert 0 < new_matched <= 3
    assert len(listed2) == min(room, more1 + new_matched)
    assert set(ledger(installation, ADA)) == listed1 | listed2

    # Day 3: nothing new; what still did not fit comes now, and nothing comes twice.
    day3 = day2 + dt.timedelta(days=1)
    serve(installation, day3.date(), [day2_items[i] for i in three], None)
    assert installation.run(day3).ok
    third = installation.smtp.handler.to(ADA)[2]
    listed3 = arxiv_ids(third)
    left = more1 + new_matched - len(listed2)
    assert len(listed3) == min(room, left) and left > 0
    assert listed3.isdisjoint(listed1 | listed2)
    assert "0 new papers · 0 matched your profile · " in text_of(third)
    assert set(ledger(installation, ADA)) == listed1 | listed2 | listed3


def test_the_header_counts_only_what_is_new_to_the_reader(installation: Installation) -> None:
    profile = dataclasses.replace(
        profile_from_options(["language model", "reinforcement learning"]),
        include_updates=True,
    )
    with opened_store(installation.database) as store:
        store.save_subscriber(Subscriber(ADA, profile))
    _, _, day1_items = feed_items("arxiv_day1.xml")
    _, _, day2_items = feed_items("arxiv_day2.xml")
    day1_new = [i for i, item in day1_items.items() if "Announce Type: new" in item]

    serve(installation, DAY1.date(), list(day1_items.values()), "hf_day1.json")
    assert installation.run(DAY1).ok
    (first,) = installation.smtp.handler.to(ADA)
    text1 = text_of(first)
    hf_papers = 12
    # The day-1 feed's 5 replacements are not new papers; Hugging Face's 12 are.
    assert f"{len(day1_new) + hf_papers} new papers · " in text1
    assert f"arxiv: {len(day1_new)} new papers" in text1
    assert f"huggingface: {hf_papers} new papers" in text1
    sent1 = arxiv_ids(first) & set(day1_items)
    assert sent1

    # Day 2: four new papers, ten papers seen on day 1 again, and two of the papers sent on
    # day 1 in a new version; Hugging Face's list of day 1 again.
    updated = sorted(sent1)[:2]
    again = [i for i in day1_new if i not in updated][:10]
    four = list(day2_items)[:4]
    items = [day2_items[i] for i in four] + [day1_items[i] for i in again]
    items += [as_replacement(day1_items[i], i) for i in updated]
    day2 = DAY1 + dt.timedelta(days=1)
    serve(installation, day2.date(), items, "hf_day1.json")
    assert installation.run(day2).ok
    second = installation.smtp.handler.to(ADA)[1]
    text2 = text_of(second)
    assert text2.startswith("Paper digest - Friday 29 November 2024 4 new papers · ")
    assert "huggingface: 0 new papers; arxiv: 4 new, 2 updated." in text2
    assert "· 2 updated ·" in text2
    assert "Updated since you saw them (2)" in text2
    listed2 = arxiv_ids(second)
    assert set(updated) <= listed2
    assert ledger(installation, ADA)[updated[0]] == 2  # the version sent is recorded
    subject = second.message["Subject"]
    new_listed = len(listed2) - 2
    if new_listed:
        assert subject.startswith(f"{new_listed} new paper")
        assert ", 2 updated" in subject
    else:
        assert subject.startswith("2 updated papers")


def test_preview_says_what_is_listed_and_what_would_come_later(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_DATA_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("DIGEST_CONFIG", raising=False)
    out = tmp_path / "preview"
    snapshot = Path(__file__).resolve().parents[2] / "examples" / "snapshot"
    args = ["preview", "--from", str(snapshot), "-k", "language model", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    found = re.search(
        r"The email shows 25 in full, 20 by title; (\d+) more matched and would come in a "
        r"later digest\.",
        printed,
    )
    assert found is not None, printed
    more = int(found.group(1))
    assert more > 0
    matched = re.search(r"^(\d+) of (\d+) new papers matched\.$", printed, re.M)
    assert matched is not None and int(matched.group(1)) == 45 + more
    # The per-source line: what the listing carried, and what of it is new to this reader.
    assert re.search(r"arxiv ok \(\d+ papers\): \d+ new to you", printed)
    text = " ".join((out / "digest.txt").read_text(encoding="utf-8").split())
    assert f"{more} more papers matched your profile but did not fit in this email" in text
    assert text.count("arxiv.org/abs/") >= 45
