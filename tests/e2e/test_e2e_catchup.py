"""After days of downtime, the next run reads the missed arXiv days back from the API, once."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

from support.http_server import Reply
from support.installation import ARXIV_API_PATH, BOB, DATA, Installation, arxiv_ids

from digest.models import SourceState

THURSDAY = dt.datetime(2024, 11, 28, 12, 0, tzinfo=dt.UTC)
NEXT_WEDNESDAY = dt.datetime(2024, 12, 4, 12, 0, tzinfo=dt.UTC)
# Papers only the API capture has (submitted while we were down), matching "language model".
CAUGHT_UP = {"2607.28627", "2607.28617"}


def api_queries(installation: Installation) -> list[str]:
    return [
        parse_qs(urlsplit(seen.path).query)["search_query"][0]
        for seen in installation.http.seen
        if seen.path.startswith(ARXIV_API_PATH)
    ]


def test_missed_arxiv_days_come_back_through_the_api(installation: Installation) -> None:
    installation.subscribe(BOB, ("language model",))
    for offset in (0, 1):
        day = THURSDAY.date() - dt.timedelta(days=offset)
        installation.serve_day(day, "hf_day1.json", "arxiv_day1.xml")
    assert installation.run(THURSDAY).ok
    assert api_queries(installation) == []  # nothing was missed yet

    # Down from Friday to Tuesday; back on Wednesday with a fresh feed.
    api_body = (DATA / "arxiv_api_catchup.xml").read_bytes()
    installation.http.script(ARXIV_API_PATH + "*", Reply(200, api_body))
    for offset in range(7):
        day = NEXT_WEDNESDAY.date() - dt.timedelta(days=offset)
        installation.serve_day(day, "hf_day1.json", "arxiv_day2.xml")
    report = installation.run(NEXT_WEDNESDAY)

    assert report.ok, report
    arxiv = next(s for s in report.sources if s.name == "arxiv")
    assert arxiv.state is SourceState.OK
    queries = api_queries(installation)
    # Feeds dated Fri 29 Nov, Mon 2 and Tue 3 Dec were missed: submissions from three days
    # before the first of them up to yesterday are read, one UTC day per query.
    days = [q.split("submittedDate:[")[1][:8] for q in queries]
    assert days == [f"202411{d}" for d in (26, 27, 28, 29, 30)] + [
        "20241201",
        "20241202",
        "20241203",
    ]
    assert all(q.startswith("(cat:cs.LG) AND ") for q in queries)
    mails = installation.smtp.handler.to(BOB)
    assert len(mails) == 2
    assert arxiv_ids(mails[1]) >= CAUGHT_UP

    # The day after, nothing is missing any more: no API query, nothing sent twice. Hugging
    # Face lists new papers that day, so a third digest comes, with only those.
    thursday = NEXT_WEDNESDAY + dt.timedelta(days=1)
    installation.serve_day(thursday.date(), "hf_day2.json", "arxiv_day2.xml")
    again = installation.run(thursday)
    assert again.ok, again
    assert len(api_queries(installation)) == len(queries)
    first, second, third = installation.smtp.handler.to(BOB)
    assert arxiv_ids(third)
    assert arxiv_ids(third).isdisjoint(arxiv_ids(first) | arxiv_ids(second))
