"""Any RSS or Atom feed (journals, preprint servers, blogs) through feedparser.

feedparser copes with every dialect (RSS 0.9x/1.0/2.0, Atom, PRISM and Dublin Core
extensions) at the cost of speed, which is fine for the few dozen items a journal feed has.
The paper id is the arXiv id when the entry points at arXiv, else the DOI (PRISM, Dublin
Core, the entry id or a doi.org link), else a hash of the link.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping
from typing import Any

import feedparser

from digest.collect.normalise import canonical_id, normalise_doi, parse_arxiv_id, tex_text
from digest.collect.sources._common import (
    arxiv_abs_url,
    arxiv_pdf_url,
    describe_unexpected,
    log,
    looks_like_html,
    split_authors,
    unique,
)
from digest.errors import FeedErrorReported, ParseError
from digest.models import AnnounceType, Paper

_BLOCK_TAG = re.compile(
    r"<\s*/?\s*(?:p|div|br|li|ul|ol|h[1-6]|tr|td|table|blockquote)\b[^>]*>", re.I
)
_TAG = re.compile(r"<[^>]*>")
# arXiv's own RSS read through this generic parser: "arXiv:IDvN Announce Type: new Abstract:"
_ARXIV_HEADER = re.compile(
    r"^\s*arXiv:\S+\s+Announce Type:\s*(?P<type>[\w-]+)\s*(?:Abstract:)?", re.I
)
_ANNOUNCE_TYPES = {t.value: t for t in AnnounceType}
_DOI_IN_TEXT = re.compile(r"\b(?:doi:\s*|https?://(?:dx\.)?doi\.org/)(10\.\d{4,9}/\S+)", re.I)


class _BadEntry(Exception):
    """One entry is unusable; it is logged and skipped."""


def parse(data: bytes, url: str) -> tuple[Paper, ...]:
    if not data.strip() or looks_like_html(data):
        raise ParseError(describe_unexpected(data, "an RSS or Atom feed"), url=url)
    try:
        result = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=False)
    except Exception as err:  # feedparser is lenient but not total; its failures are ours
        raise ParseError(
            f"expected an RSS or Atom feed but it could not be read ({err})", url=url
        ) from err
    feed: Mapping[str, Any] = result.get("feed", {})
    entries: list[Any] = list(result.get("entries", []))
    if not result.get("version") and not entries:
        problem = result.get("bozo_exception")
        detail = f" ({problem})" if problem else ""
        raise ParseError(describe_unexpected(data, "an RSS or Atom feed") + detail, url=url)
    title = str(feed.get("title", ""))
    if title.lower().startswith("feed error for query"):
        message = str(feed.get("subtitle") or feed.get("description") or title)
        raise FeedErrorReported(f"arXiv reports: {message}", url=url)
    papers: list[Paper] = []
    for entry in entries:
        try:
            papers.append(_paper(entry))
        except _BadEntry as err:
            log.warning("%s: skipped a feed entry: %s", url, err)
    return tuple(papers)


def _text(value: object) -> str:
    """Feed text with markup removed: summaries are HTML in most journal feeds."""
    if not isinstance(value, str):
        return ""
    return html.unescape(_TAG.sub("", _BLOCK_TAG.sub(" ", value)))


def _find_doi(entry: Mapping[str, Any], link: str) -> str | None:
    """A DOI the publisher states (PRISM, Dublin Core), else one spelled out in id or link."""
    for key in ("prism_doi", "dc_identifier"):
        value = entry.get(key)
        if isinstance(value, str):
            doi = normalise_doi(value)
            if doi:
                return doi
    entry_id = entry.get("id")
    if isinstance(entry_id, str) and entry_id.strip().startswith("10."):
        return normalise_doi(entry_id)
    for value in (entry_id, link):
        if isinstance(value, str):
            found = _DOI_IN_TEXT.search(value)
            if found:
                return normalise_doi(found.group(1))
    return None


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names: list[str] = []
    raw = entry.get("authors")
    if isinstance(raw, list):
        for author in raw:
            if isinstance(author, Mapping) and isinstance(author.get("name"), str):
                names.extend(split_authors(tex_text(_text(author["name"]))))
    if not names and isinstance(entry.get("author"), str):
        names.extend(split_authors(tex_text(_text(entry["author"]))))
    return unique(names)


def _published(entry: Mapping[str, Any]) -> dt.date | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            try:
                return dt.date(value.tm_year, value.tm_mon, value.tm_mday)
            except (AttributeError, ValueError, TypeError):
                continue
    return None


def _journal(entry: Mapping[str, Any]) -> str | None:
    name = entry.get("prism_publicationname")
    if not isinstance(name, str) or not name.strip():
        return None
    parts = [name.strip()]
    volume = entry.get("prism_volume")
    if isinstance(volume, str) and volume.strip():
        parts.append(volume.strip())
    return " ".join(parts)


def _paper(entry: Mapping[str, Any]) -> Paper:
    raw_link, raw_id = entry.get("link"), entry.get("id")
    link: str = raw_link.strip() if isinstance(raw_link, str) else ""
    entry_id: str = raw_id.strip() if isinstance(raw_id, str) else ""
    title = tex_text(_text(entry.get("title")))
    arxiv = parse_arxiv_id(link) or parse_arxiv_id(entry_id)
    doi = _find_doi(entry, link)
    if arxiv is None and doi is None and not (link or entry_id):
        raise _BadEntry(f"no link, id or DOI for {title[:60]!r}")
    tags = entry.get("tags")
    categories = [
        str(tag.get("term"))
        for tag in (tags if isinstance(tags, list) else [])
        if isinstance(tag, Mapping) and tag.get("term")
    ]
    summary = _text(entry.get("summary"))
    announce_type = AnnounceType.NEW
    header = _ARXIV_HEADER.match(summary)
    if header is not None:
        summary = summary[header.end() :]
        announce_type = _ANNOUNCE_TYPES.get(header.group("type").lower(), AnnounceType.NEW)
    if arxiv is not None:
        arxiv_id, version = arxiv
        url, pdf_url = arxiv_abs_url(arxiv_id), arxiv_pdf_url(arxiv_id, version)
        paper_id = arxiv_id
    else:
        version = None
        paper_id = canonical_id(doi=doi, link=link or entry_id)
        url = link or (f"https://doi.org/{doi}" if doi else entry_id)
        pdf_url = None
    return Paper(
        id=paper_id,
        title=title or paper_id,
        abstract=tex_text(summary),
        authors=_authors(entry),
        url=url,
        version=version,
        categories=unique(categories),
        announce_type=announce_type,
        published=_published(entry),
        doi=doi,
        journal_ref=_journal(entry),
        pdf_url=pdf_url,
    )
