"""Read every configured listing: fetch (or read a snapshot), parse, apply the source's policy.

One failing listing is recorded and never stops the others. Whether an empty listing is
"no announcement today" or suspicious is decided here with arXiv's calendar.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from digest.collect.arxiv_calendar import DEFAULT_HOLIDAYS, expects_rss_items
from digest.collect.download import FetchStopped
from digest.collect.fetched import FetchResult
from digest.collect.merge import merge_papers
from digest.collect.sources import get_parser
from digest.config.settings import SourceConfig
from digest.errors import DigestError, FetchError
from digest.models import AnnounceType, Paper, SourceOutcome, SourceState, Validators


@dataclass(frozen=True, slots=True)
class ListingRequest:
    source: SourceConfig
    url: str
    day: dt.date  # the day this listing stands for
    validators: Validators | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    request: ListingRequest
    result: FetchResult | None  # None when fetching failed
    papers: tuple[Paper, ...] = ()
    error: str = ""
    stopped: bool = False  # not read because a stop was requested: not the source's fault
    retries: int = 0  # failed requests retried before it was read (or failed)


@dataclass(frozen=True, slots=True)
class Collected:
    papers: tuple[Paper, ...]  # merged across listings, one per canonical id
    outcomes: tuple[SourceOutcome, ...]  # one per source
    listings: tuple[Listing, ...]


ReadListing = Callable[[ListingRequest], FetchResult]


def listing_requests(
    sources: Iterable[SourceConfig],
    day: dt.date,
    *,
    categories: tuple[str, ...] = (),
    last_ok: Callable[[str], dt.date | None] = lambda name: None,
    validators: Callable[[str, str], Validators | None] = lambda name, url: None,
    catchup_days: int = 7,
    holidays: Collection[dt.date] | None = None,
) -> list[ListingRequest]:
    """What to fetch today. A per-day source (`{date}` in its URL) is read for every day since
    its last good fetch, so days missed while the tool was down are caught up; the last good
    day is read again because Hugging Face keeps adding papers to a day after it starts.
    An arXiv RSS source whose last good day is older than the last announcement gets its
    missed days from the arXiv API first (see `arxiv_catchup_requests`)."""
    requests: list[ListingRequest] = []
    for source in sources:
        if not source.enabled:
            continue
        requests += arxiv_catchup_requests(
            source,
            day,
            last_ok(source.name),
            categories=categories,
            catchup_days=catchup_days,
            holidays=DEFAULT_HOLIDAYS if holidays is None else holidays,
        )
        if source.per_day:
            oldest = day - dt.timedelta(days=catchup_days)
            start = last_ok(source.name) or day - dt.timedelta(days=1)
            start = max(start, oldest)
            days = [start + dt.timedelta(days=n) for n in range((day - start).days + 1)]
        else:
            days = [day]
        for listing_day in days:
            url = source.resolve_url(listing_day, categories)
            requests.append(ListingRequest(source, url, listing_day, validators(source.name, url)))
    return requests


ARXIV_API_PAGE = 2000  # the most results the arXiv API returns for one query


def arxiv_catchup_requests(
    source: SourceConfig,
    today: dt.date,
    last_ok: dt.date | None,
    *,
    categories: tuple[str, ...],
    catchup_days: int,
    holidays: Collection[dt.date],
) -> list[ListingRequest]:
    """API queries for the arXiv feed dates missed between the last good fetch and today.

    A feed dated D lists what was submitted in roughly the two days before it (the 14:00
    Eastern cut-off, weekends folded into Monday), so whole UTC days of submissions are read
    from three days before the first missed feed up to yesterday. The overlap with listings
    already read is intended: papers merge by canonical id and the ledger never resends.
    One query per day keeps each answer far under the API's 2000-result page.
    """
    if source.kind != "arxiv_rss" or not source.catchup_url or last_ok is None:
        return []
    oldest = today - dt.timedelta(days=catchup_days)
    first = max(last_ok + dt.timedelta(days=1), oldest)
    missed = [
        first + dt.timedelta(days=n)
        for n in range((today - first).days)
        if expects_rss_items(first + dt.timedelta(days=n), holidays)
    ]
    if not missed:
        return []
    cats = source.resolve_categories(categories)
    api_source = dataclasses.replace(source, kind="arxiv_api", url=source.catchup_url)
    start = missed[0] - dt.timedelta(days=3)
    requests = []
    for n in range((today - start).days):
        day = start + dt.timedelta(days=n)
        stamp = day.strftime("%Y%m%d")
        query = "(" + " OR ".join(f"cat:{c}" for c in cats) + ")"
        query += f" AND submittedDate:[{stamp}0000 TO {stamp}2359]"
        params = {
            "search_query": query,
            "start": 0,
            "max_results": ARXIV_API_PAGE,
            "sortBy": "submittedDate",
            "sortOrder": "ascending",
        }
        url = f"{source.catchup_url}?{urlencode(params)}"
        requests.append(ListingRequest(api_source, url, day))
    return requests


def read_listing(request: ListingRequest, read: ReadListing) -> Listing:
    result = None
    try:
        result = read(request)
        if result.not_modified:
            return Listing(request, result, retries=result.retries)
        parse = get_parser(request.source.kind)
        papers = parse(result.body, request.url)
    except FetchStopped as err:
        return Listing(request, None, error=str(err), stopped=True)
    except DigestError as err:
        retries = err.retries if isinstance(err, FetchError) else result.retries if result else 0
        return Listing(request, None, error=str(err), retries=retries)
    policy = apply_policy(papers, request.source)
    return Listing(request, result, policy, retries=result.retries)


def apply_policy(papers: Iterable[Paper], source: SourceConfig) -> tuple[Paper, ...]:
    """Stamp the source's name and keep what its announce-type policy admits.

    Replacements the policy does not admit are kept as replacements: they can only reach a
    subscriber as an "updated" entry for a paper that subscriber was already sent. A policy
    that admits them turns them into ordinary announcements.
    """
    kept: list[Paper] = []
    for paper in papers:
        kind = paper.announce_type
        if kind in source.announce_types:
            if kind.is_replacement:
                paper = dataclasses.replace(paper, announce_type=AnnounceType.NEW)
        elif not kind.is_replacement:
            continue
        kept.append(dataclasses.replace(paper, sources=(source.name,)))
    return tuple(kept)


def collect(
    requests: Sequence[ListingRequest],
    read: ReadListing,
    *,
    today: dt.date,
    holidays: Collection[dt.date] | None = None,
) -> Collected:
    listings = tuple(read_listing(request, read) for request in requests)
    outcomes = tuple(
        _outcome(name, [x for x in listings if x.request.source.name == name], today, holidays)
        for name in dict.fromkeys(r.source.name for r in requests)
    )
    papers = merge_papers(p for listing in listings for p in listing.papers)
    return Collected(papers=papers, outcomes=outcomes, listings=listings)


def _outcome(
    name: str, listings: list[Listing], today: dt.date, holidays: Collection[dt.date] | None
) -> SourceOutcome:
    outcome = _state(name, listings, today, holidays)
    retries = sum(x.retries for x in listings)
    return dataclasses.replace(outcome, retries=retries) if retries else outcome


def _state(
    name: str, listings: list[Listing], today: dt.date, holidays: Collection[dt.date] | None
) -> SourceOutcome:
    failures = [x.error for x in listings if x.error and not x.stopped]
    stopped = [x.error for x in listings if x.stopped]
    count = len({p.id for x in listings for p in x.papers})
    if failures and len(failures) == len(listings):
        return SourceOutcome(name, SourceState.FAILED, 0, failures[-1])
    if failures:
        detail = f"{len(failures)} of {len(listings)} listings failed: {failures[-1]}"
        return SourceOutcome(name, SourceState.FAILED, count, detail)
    if stopped:
        read = f"{len(listings) - len(stopped)} of {len(listings)} listings read; "
        detail = (read if len(listings) > 1 else "") + stopped[0]
        return SourceOutcome(name, SourceState.STOPPED, count, detail)
    if all(x.result is not None and x.result.not_modified for x in listings):
        return SourceOutcome(name, SourceState.NOT_MODIFIED, 0, "unchanged since the last fetch")
    if count:
        return SourceOutcome(name, SourceState.OK, count)
    source = listings[0].request.source
    if source.kind in ("arxiv_rss", "arxiv_list") and not expects_rss_items(
        today, holidays if holidays is not None else DEFAULT_HOLIDAYS
    ):
        return SourceOutcome(name, SourceState.NO_ANNOUNCEMENT, 0, "no announcement today")
    return SourceOutcome(name, SourceState.EMPTY, 0, "the listing was empty")
