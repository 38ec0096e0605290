"""The daily job end to end: HTTP listings in, one email per subscriber out, never twice."""

from __future__ import annotations

import datetime as dt

from support.http_server import Reply
from support.installation import (
    ALICE,
    ALICE_STEMS,
    ALICE_WORDS,
    BOB,
    BOB_STEMS,
    BOB_WORDS,
    Installation,
    arxiv_ids,
)
from support.stores import opened_store

from digest.models import DeliveryState, SourceState

DAY1 = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)  # a Thursday: arXiv announces
DAY2 = DAY1 + dt.timedelta(days=1)


def mentions(paper_text: str, stems: tuple[str, ...]) -> bool:
    text = paper_text.lower()
    return any(stem in text for stem in stems)


def sent_papers(installation: Installation, email: str) -> dict[str, str]:
    """Paper id -> title + abstract, for what the ledger says was sent to `email`."""
    with opened_store(installation.database, readonly=True) as store:
        subscriber = store.subscriber(email)
        assert subscriber is not None and subscriber.id is not None
        seen = {
            s.paper.id: s.paper for s in store.recent_papers(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        }
        sent = store.ledger_versions(subscriber.id, seen)
        return {pid: f"{seen[pid].title} {seen[pid].abstract}" for pid in sent}


def test_two_subscribers_each_get_their_own_papers_once(installation: Installation) -> None:
    installation.subscribe(ALICE, ALICE_WORDS)
    installation.subscribe(BOB, BOB_WORDS)
    day1 = DAY1.date()
    installation.serve_day(day1 - dt.timedelta(days=1), "hf_day1.json", "arxiv_day1.xml")
    installation.serve_day(day1, "hf_day1.json", "arxiv_day1.xml")

    report = installation.run(DAY1)

    assert report.ok, report
    assert {s.name: s.state for s in report.sources} == {
        "huggingface": SourceState.OK,
        "arxiv": SourceState.OK,
    }
    received = installation.smtp.handler
    (alice_mail,) = received.to(ALICE)
    (bob_mail,) = received.to(BOB)
    alice_ids, bob_ids = arxiv_ids(alice_mail), arxiv_ids(bob_mail)
    assert alice_ids and bob_ids
    assert alice_ids.isdisjoint(bob_ids)
    # Every paper in a digest matches that subscriber's own words.
    alice_sent = sent_papers(installation, ALICE)
    bob_sent = sent_papers(installation, BOB)
    assert set(alice_sent) == alice_ids and set(bob_sent) == bob_ids
    assert all(mentions(text, ALICE_STEMS) for text in alice_sent.values())
    assert all(mentions(text, BOB_STEMS) for text in bob_sent.values())
    assert alice_mail.message["To"] == ALICE
    assert alice_mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # The same day again: nothing new, nothing sent.
    again = installation.run(DAY1 + dt.timedelta(hours=2))
    assert again.ok
    assert len(received.received) == 2
    assert again.deliveries == ()

    # The next day brings a new listing: only its papers are sent.
    day2 = DAY2.date()
    installation.serve_day(day1, "hf_day1.json", "arxiv_day2.xml")
    installation.serve_day(day2, "hf_day2.json", "arxiv_day2.xml")
    later = installation.run(DAY2)
    assert later.ok, later
    alice_day2 = received.to(ALICE)[1:]
    bob_day2 = received.to(BOB)[1:]
    assert len(alice_day2) == 1 and len(bob_day2) == 1
    new_alice, new_bob = arxiv_ids(alice_day2[0]), arxiv_ids(bob_day2[0])
    assert new_alice and new_bob
    assert new_alice.isdisjoint(alice_ids) and new_bob.isdisjoint(bob_ids)
    assert all(d.state is DeliveryState.SENT for d in later.deliveries)


def test_unreachable_source_is_reported_and_the_rest_delivered(
    installation: Installation,
) -> None:
    installation.subscribe(BOB, BOB_WORDS)
    day = DAY1.date()
    # Only the Hugging Face answers; nothing is scripted for arXiv, which answers 404.
    installation.serve_day(day, "hf_day1.json", "arxiv_day1.xml")
    installation.http.routes.pop("/rss/cs.LG")
    installation.serve_day(day - dt.timedelta(days=1), "hf_day1.json", "arxiv_day1.xml")
    installation.http.routes.pop("/rss/cs.LG")

    report = installation.run(DAY1)

    outcomes = {s.name: s for s in report.sources}
    assert outcomes["arxiv"].state is SourceState.FAILED
    assert "/rss/cs.LG" in outcomes["arxiv"].detail and "404" in outcomes["arxiv"].detail
    assert outcomes["huggingface"].state is SourceState.OK
    assert not report.ok  # the command exits non-zero
    (mail,) = installation.smtp.handler.to(BOB)
    assert arxiv_ids(mail)  # Hugging Face's papers still arrived
    # The reader is told which source was missing, in both parts of the mail.
    plain = " ".join(mail.message.get_body(("plain",)).get_content().split())
    assert "Sources: huggingface: 12 new papers; arxiv: unreachable, will catch up." in plain
    assert "arxiv: unreachable, will catch up" in mail.message.get_body(("html",)).get_content()


def test_html_error_page_instead_of_json_is_a_clear_failure(installation: Installation) -> None:
    installation.subscribe(BOB, BOB_WORDS)
    day = DAY1.date()
    installation.serve_day(day, "hf_day1.json", "arxiv_day1.xml")
    installation.serve_day(day - dt.timedelta(days=1), "hf_day1.json", "arxiv_day1.xml")
    page = b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>"
    for offset in (0, 1):
        path = f"/api/daily_papers?date={day - dt.timedelta(days=offset)}"
        installation.http.script(path, Reply(200, page, [("Content-Type", "text/html")]))

    report = installation.run(DAY1)

    hf = next(s for s in report.sources if s.name == "huggingface")
    assert hf.state is SourceState.FAILED
    assert "daily_papers" in hf.detail and "HTML" in hf.detail
    assert next(s for s in report.sources if s.name == "arxiv").state is SourceState.OK
    assert len(installation.smtp.handler.to(BOB)) == 1
