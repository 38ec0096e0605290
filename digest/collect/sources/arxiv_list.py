"""arxiv.org/list/<cat>/new and /list/<cat>/recent: arXiv's listing pages (2024+ markup).

Each `<dl id='articles'>` holds a `<h3>` heading then `<dt>`/`<dd>` pairs. On /recent the
heading is a day ("Mon, 27 Jul 2026 (showing 47 of 47 entries )"); on /new it names the
section ("New submissions", "Cross submissions", "Replacement submissions") and the day is
in "Showing new listings for Monday, 27 July 2026". A `<dt>` says "(cross-list from cs.LG)"
or "(replaced)". The pages carry no version numbers, so `Paper.version` stays None.
"""

from __future__ import annotations

import datetime as dt
import re

from lxml import html as lxml_html

from digest.collect.normalise import clean_text, normalise_doi, parse_arxiv_id, tex_text
from digest.collect.sources._common import (
    arxiv_abs_url,
    arxiv_pdf_url,
    load_html,
    log,
    looks_like_html,
    snippet,
    text_of,
    unique,
)
from digest.errors import ParseError
from digest.models import AnnounceType, Paper

_EXPECTED = "an arXiv listing page"
_CATEGORY_IN_PARENS = re.compile(r"\(([a-z-]+(?:\.[A-Za-z-]+)?)\)")
_LIST_CATEGORY = re.compile(r"/list/([^/?#]+)/")
_DAY_SHORT = re.compile(r"\b(\d{1,2} [A-Z][a-z]{2} \d{4})\b")
_DAY_LONG = re.compile(r"\b(\d{1,2} [A-Z][a-z]+ \d{4})\b")


class _BadEntry(Exception):
    """One entry is unusable; it is logged and skipped."""


def parse(data: bytes, url: str) -> tuple[Paper, ...]:
    if (
        not looks_like_html(data)
        and data.lstrip()[:1] in (b"<", b"[", b"{")
        and (b"<dl" not in data)
    ):
        raise ParseError(f"expected {_EXPECTED} (HTML) but got: {snippet(data)!r}", url=url)
    document = load_html(data, url, _EXPECTED)
    page = document.get_element_by_id("dlpage", None)
    if page is None:
        raise ParseError(
            f"expected {_EXPECTED} but the page has no 'dlpage' section: {snippet(data)!r}",
            url=url,
        )
    match = _LIST_CATEGORY.search(url)
    listed_category = match.group(1) if match else None
    page_day = _page_day(page)
    papers: list[Paper] = []
    for listing in page.iter("dl"):
        heading = clean_text(text_of(listing.find("h3")))
        section = _section_type(heading)
        day = _day(heading, _DAY_SHORT, "%d %b %Y") or page_day
        term = None
        for child in listing:
            if child.tag == "dt":
                term = child
            elif child.tag == "dd" and term is not None:
                try:
                    papers.append(_paper(term, child, section, day, listed_category))
                except _BadEntry as err:
                    log.warning("%s: skipped a listing entry: %s", url, err)
                term = None
    return tuple(papers)


def _page_day(page: lxml_html.HtmlElement) -> dt.date | None:
    for heading in page.iter("h3"):
        text = clean_text(text_of(heading))
        if text.lower().startswith("showing new listings for"):
            return _day(text, _DAY_LONG, "%d %B %Y")
    return None


def _day(text: str, pattern: re.Pattern[str], fmt: str) -> dt.date | None:
    match = pattern.search(text)
    if match is None:
        return None
    try:
        return dt.datetime.strptime(match.group(1), fmt).date()
    except ValueError:
        return None


def _section_type(heading: str) -> AnnounceType | None:
    lowered = heading.lower()
    if lowered.startswith("new submissions"):
        return AnnounceType.NEW
    if lowered.startswith("cross submissions") or lowered.startswith("cross-list"):
        return AnnounceType.CROSS
    if lowered.startswith("replacement"):
        return AnnounceType.REPLACE
    return None  # a /recent day heading: the <dt> decides


def _div(dd: lxml_html.HtmlElement, css_class: str) -> lxml_html.HtmlElement | None:
    for div in dd.iter("div"):
        if css_class in (div.get("class") or "").split():
            return div
    return None


def _field(dd: lxml_html.HtmlElement, css_class: str) -> str:
    """A meta field's text without its "Title:" / "Comments:" descriptor."""
    div = _div(dd, css_class)
    if div is None:
        return ""
    parts: list[str] = [div.text or ""]
    for child in div:
        if "descriptor" not in (child.get("class") or ""):
            parts.append(text_of(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _paper(
    term: lxml_html.HtmlElement,
    dd: lxml_html.HtmlElement,
    section: AnnounceType | None,
    day: dt.date | None,
    listed_category: str | None,
) -> Paper:
    identity = None
    for anchor in term.iter("a"):  # <a href ="/abs/2607.22529" title="Abstract" id="...">
        href = anchor.get("href") or ""
        if anchor.get("title") == "Abstract" or "/abs/" in href:
            identity = parse_arxiv_id(anchor.get("id") or href.split("/abs/")[-1])
            if identity is not None:
                break
    if identity is None:
        raise _BadEntry(f"no arXiv id in {clean_text(text_of(term))[:80]!r}")
    arxiv_id, version = identity

    subjects_div = _div(dd, "list-subjects")
    primary = ""
    if subjects_div is not None:
        for span in subjects_div.iter("span"):
            if "primary-subject" in (span.get("class") or ""):
                found = _CATEGORY_IN_PARENS.search(text_of(span))
                primary = found.group(1) if found else ""
    categories = unique([primary, *_CATEGORY_IN_PARENS.findall(text_of(subjects_div))])

    marker = text_of(term).lower()
    if section is None:
        section = AnnounceType.NEW
        if "(replaced)" in marker:
            section = AnnounceType.REPLACE
        elif "cross-list" in marker:
            section = AnnounceType.CROSS
    if section is AnnounceType.REPLACE and _is_cross(marker, categories, listed_category):
        section = AnnounceType.REPLACE_CROSS

    authors_div = _div(dd, "list-authors")
    authors = (
        tuple(n for n in (tex_text(text_of(a)) for a in authors_div.iter("a")) if n)
        if authors_div is not None
        else ()
    )
    abstract = ""
    for paragraph in dd.iter("p"):
        if "mathjax" in (paragraph.get("class") or ""):
            abstract = text_of(paragraph)
            break
    journal = tex_text(_field(dd, "list-journal-ref"))
    doi_text = _field(dd, "list-doi")
    return Paper(
        id=arxiv_id,
        title=tex_text(_field(dd, "list-title")) or arxiv_id,
        abstract=tex_text(abstract),
        authors=authors,
        url=arxiv_abs_url(arxiv_id),
        version=version,
        categories=categories,
        announce_type=section,
        published=day,
        doi=normalise_doi(doi_text) if doi_text else None,
        journal_ref=journal or None,
        comments=tex_text(_field(dd, "list-comments")) or None,
        pdf_url=arxiv_pdf_url(arxiv_id, version),
    )


def _is_cross(marker: str, categories: tuple[str, ...], listed: str | None) -> bool:
    """A replacement is a cross-list replacement when the paper's home is elsewhere."""
    if "cross-list" in marker:
        return True
    if not listed or not categories or "+" in listed:
        return False
    primary = categories[0]
    return primary != listed and not primary.startswith(listed + ".")
