"""One oversized feed item (a 36 KB title, a 1 MB abstract) is cut at parse time and says
so; every other paper of the digest is shown as usual. Real HTTP server, SMTP sink, SQLite."""

from __future__ import annotations

import datetime as dt
import html as htmlmod
import logging
import re

import pytest
from support.http_server import Reply
from support.installation import ARXIV_PATH, DATA, Installation, arxiv_ids
from support.stores import opened_store

from digest.collect.normalise import ABSTRACT_CHARS, TITLE_CHARS
from digest.collect.sources import arxiv_rss
from digest.config.profiles import profile_from_options
from digest.models import Subscriber

DAY = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)  # a Thursday: arXiv announces
LONG_ID = "2411.17708"
LONG_TITLE_UNIT = "Towards Efficient Neurally-Guided Program Induction for ARC-AGI "


def oversized_feed() -> tuple[bytes, str, str]:
    """The real day-1 feed with its first item given a 36 KB title and a 1 MB abstract."""
    feed = (DATA / "arxiv_day1.xml").read_text(encoding="utf-8")
    start = feed.index("<item>")
    end = feed.index("</item>", start)
    item = feed[start:end]
    title = (LONG_TITLE_UNIT * (36_000 // len(LONG_TITLE_UNIT) + 1))[:36_000]
    abstract_unit = re.search(r"Abstract: (.*?)</description>", item, re.S)
    assert abstract_unit is not None
    abstract = (abstract_unit.group(1) + " ") * (1_000_000 // len(abstract_unit.group(1)) + 1)
    abstract = abstract[:1_000_000]
    item = re.sub(r"<title>.*?</title>", f"<title>{title}</title>", item, count=1)
    item = item.replace(abstract_unit.group(1), abstract, 1)
    return (feed[:start] + item + feed[end:]).encode("utf-8"), title, abstract


def test_an_oversized_item_is_cut_and_the_others_shown_as_usual(
    installation: Installation, caplog: pytest.LogCaptureFixture
) -> None:
    body, long_title, long_abstract = oversized_feed()
    assert len(body) > 1_000_000
    rss = [("Content-Type", "application/rss+xml; charset=utf-8")]
    for day in (DAY.date() - dt.timedelta(days=1), DAY.date()):
        installation.serve_day(day, "hf_day1.json", "arxiv_day1.xml")
    installation.http.script(ARXIV_PATH, Reply(200, body, rss))
    profile = profile_from_options(["program induction", "reinforcement learning", "language"])
    with opened_store(installation.database) as store:
        store.save_subscriber(Subscriber("ada@example.org", profile))

    with caplog.at_level(logging.WARNING, logger="digest.sources"):
        report = installation.run(DAY)

    assert report.ok, report
    (mail,) = installation.smtp.handler.to("ada@example.org")
    html_part = mail.message.get_body(("html",)).get_content()
    text_part = mail.message.get_body(("plain",)).get_content()
    listed = arxiv_ids(mail)
    assert LONG_ID in listed

    # The long item: shown in full, its title cut with an ellipsis and marked as shortened.
    links = re.findall(
        r'<a\s+class="paper-link"\s+href="https://arxiv.org/abs/([\d.]+)"[^>]*>(.*?)</a>',
        html_part,
        re.S,
    )
    titles = {
        pid: " ".join(htmlmod.unescape(re.sub(r"<[^>]+>", "", t)).split()) for pid, t in links
    }
    assert LONG_ID in titles, sorted(titles)
    cut = titles[LONG_ID]
    assert cut.endswith("…") and len(cut) <= TITLE_CHARS
    assert long_title.startswith(cut[:-1].rstrip())
    assert "title, abstract shortened" in html_part and "title, abstract shortened" in text_part

    # The others: in full, titled exactly as the real feed titles them.
    real = {p.id: p.title for p in arxiv_rss.parse((DATA / "arxiv_day1.xml").read_bytes(), "x")}
    others = {pid: t for pid, t in titles.items() if pid != LONG_ID and pid in real}
    assert len(others) >= 3
    assert all(title == real[pid] for pid, title in others.items())
    assert len(mail.data) < 200_000  # the 1 MB of abstract stayed out of the message

    # The store keeps the cut text and the mark.
    with opened_store(installation.database, readonly=True) as store:
        paper = store.papers_by_id([LONG_ID])[LONG_ID]
    assert paper.shortened == ("title", "abstract")
    assert len(paper.title) <= TITLE_CHARS and len(paper.abstract) <= ABSTRACT_CHARS
    assert long_abstract.startswith(paper.abstract[:-1].rstrip())

    # One warning names the source URL and the item, and what was cut.
    (line,) = [r.getMessage() for r in caplog.records if LONG_ID in r.getMessage()]
    assert f"http://127.0.0.1:{installation.http.port}{ARXIV_PATH}" in line
    assert "title: 36,000 -> 500 characters" in line
    assert "abstract: 49,999 or more -> 5,000 characters" in line  # read up to 50,000
