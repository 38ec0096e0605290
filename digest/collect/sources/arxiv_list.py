"""arxiv.org/list/<cat>/new and /list/<cat>/recent: arXiv's listing pages (2024+ markup).

Each `<dl id='articles'>` holds a `<h3>` heading then `<dt>`/`<dd>` pairs. On /recent the
heading is a day ("Mon, 27 Jul 2026 (showing 47 of 47 entries )"); on /new it names the
section ("New submissions", "Cross submissions", "Replacement submissions") and the day is
in "Showing new listings for Monday, 27 July 2026". A `<dt>` says "(cross-list from cs.LG)"
or "(replaced)". The pages carry no version numbers, so `Paper.version` stays None.

Read with BeautifulSoup (lxml's parser underneath), keeping only the `dlpage` section.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from bs4 import Tag
from bs4.filter import SoupStrainer

from digest.collect.normalise import clean_text, normalise_doi, parse_arxiv_id, tex_text
from digest.collect.sources._common import (
    arxiv_abs_url,
    arxiv_pdf_url,
    attribute,
    classes,
    has_class,
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
# Everything the parser reads is inside it: the header, menus and footer are not built.
_DLPAGE = SoupStrainer(id="dlpage")


class _BadEntry(Exception):
    """One entry is unusable; it is logged and skipped."""


def parse(data: bytes, url: str) -> tuple[Paper, ...]:
    if (
        not looks_like_html(data)
        and data.lstrip()[:1] in (b"<", b"[", b"{")
        and (b"<dl" not in data)
    ):
        raise ParseError(f"expected {_EXPECTED} (HTML) but got: {snippet(data)!r}", url=url)
    page = load_html(data, url, _EXPECTED, only=_DLPAGE).find(id="dlpage")
    if page is None:
        raise ParseError(
            f"expected {_EXPECTED} but the page has no 'dlpage' section: {snippet(data)!r}",
            url=url,
        )
    match = _LIST_CATEGORY.search(url)
    listed_category = match.group(1) if match else None
    page_day = _page_day(page)
    papers: list[Paper] = []
    for listing in page.find_all("dl"):
        heading = clean_text(text_of(listing.find("h3", recursive=False)))
        section = _section_type(heading)
        day = _day(heading, _DAY_SHORT, "%d %b %Y") or page_day
        term = None
        for child in listing.find_all(["dt", "dd"], recursive=False):
            if child.name == "dt":
                term = child
            elif term is not None:
                try:
                    papers.append(_paper(term, child, section, day, listed_category))
                except _BadEntry as err:
                    log.warning("%s: skipped a listing entry: %s", url, err)
                term = None
    return tuple(papers)


def _page_day(page: Tag) -> dt.date | None:
    for heading in page.find_all("h3"):
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


# (tag name, class) -> the first such element of an entry
_Index = dict[tuple[str, str], Tag]


def _tags(element: Tag, name: str | None = None) -> Iterator[Tag]:
    """The elements inside `element` (only those named `name`), in document order."""
    for node in element.descendants:
        if isinstance(node, Tag) and (name is None or node.name == name):
            yield node


def _index(dd: Tag) -> _Index:
    """The first element of each (name, class) in an entry: one walk serves every field,
    where a BeautifulSoup find() per field costs about twenty times more."""
    index: _Index = {}
    for node in _tags(dd):
        for css_class in classes(node):
            index.setdefault((node.name, css_class), node)
    return index


def _field(index: _Index, css_class: str) -> str:
    """A meta field's text without its "Title:" / "Comments:" descriptor."""
    div = index.get(("div", css_class))
    if div is None:
        return ""
    return "".join(
        "" if isinstance(node, Tag) and has_class(node, "descriptor") else node.get_text()
        for node in div.children
    )


def _identity(term: Tag) -> tuple[str, int | None]:
    for anchor in _tags(term, "a"):  # <a href ="/abs/2607.22529" title="Abstract" id="...">
        href = attribute(anchor, "href")
        if attribute(anchor, "title") == "Abstract" or "/abs/" in href:
            identity = parse_arxiv_id(attribute(anchor, "id") or href.split("/abs/")[-1])
            if identity is not None:
                return identity
    raise _BadEntry(f"no arXiv id in {clean_text(text_of(term))[:80]!r}")


def _categories(index: _Index) -> tuple[str, ...]:
    """The primary subject first, then every "(cs.XX)" of the subjects line."""
    subjects = index.get(("div", "list-subjects"))
    if subjects is None:
        return ()
    primary = ""
    for span in _tags(subjects, "span"):
        if has_class(span, "primary-subject"):
            found = _CATEGORY_IN_PARENS.search(text_of(span))
            primary = found.group(1) if found else ""
    return unique([primary, *_CATEGORY_IN_PARENS.findall(text_of(subjects))])


def _announce_type(
    term: Tag, section: AnnounceType | None, categories: tuple[str, ...], listed: str | None
) -> AnnounceType:
    marker = text_of(term).lower()
    if section is None:
        section = AnnounceType.NEW
        if "(replaced)" in marker:
            section = AnnounceType.REPLACE
        elif "cross-list" in marker:
            section = AnnounceType.CROSS
    if section is AnnounceType.REPLACE and _is_cross(marker, categories, listed):
        return AnnounceType.REPLACE_CROSS
    return section


def _authors(index: _Index) -> tuple[str, ...]:
    div = index.get(("div", "list-authors"))
    if div is None:
        return ()
    return tuple(name for name in (tex_text(text_of(a)) for a in _tags(div, "a")) if name)


def _paper(
    term: Tag,
    dd: Tag,
    section: AnnounceType | None,
    day: dt.date | None,
    listed_category: str | None,
) -> Paper:
    arxiv_id, version = _identity(term)
    index = _index(dd)
    categories = _categories(index)
    journal = tex_text(_field(index, "list-journal-ref"))
    doi_text = _field(index, "list-doi")
    return Paper(
        id=arxiv_id,
        title=tex_text(_field(index, "list-title")) or arxiv_id,
        abstract=tex_text(text_of(index.get(("p", "mathjax")))),  # /new pages only
        authors=_authors(index),
        url=arxiv_abs_url(arxiv_id),
        version=version,
        categories=categories,
        announce_type=_announce_type(term, section, categories, listed_category),
        published=day,
        doi=normalise_doi(doi_text) if doi_text else None,
        journal_ref=journal or None,
        comments=tex_text(_field(index, "list-comments")) or None,
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
