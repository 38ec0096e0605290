"""Helpers every parser shares: safe XML/HTML/JSON loading with human error messages,
author splitting, dates, and arXiv URLs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from lxml import etree

from digest.errors import ParseError

if TYPE_CHECKING:  # BeautifulSoup is imported by the HTML parsers only, when they parse
    from bs4 import BeautifulSoup, Tag
    from bs4.filter import SoupStrainer

log = logging.getLogger("digest.sources")

# No entity expansion, no network, no DTD: a feed must not be able to read files or
# blow up memory (billion laughs).
_XML_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    remove_comments=True,
    remove_pis=True,
    huge_tree=False,
    remove_blank_text=True,  # indentation between elements: ~30% less parsing work
)


def snippet(data: bytes, limit: int = 60) -> str:
    """The start of a response, quoted in error messages so a human sees what came back."""
    text = data[: limit * 4].decode("utf-8", errors="replace")
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")


def looks_like_html(data: bytes) -> bool:
    head = data[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:200]


def describe_unexpected(data: bytes, expected: str) -> str:
    """'expected X but got an HTML page: ...' / '... an empty response' / '... : <start>'."""
    if not data.strip():
        return f"expected {expected} but got an empty response"
    if looks_like_html(data):
        return f"expected {expected} but got an HTML page: {snippet(data)!r}"
    return f"expected {expected} but got: {snippet(data)!r}"


def load_xml(data: bytes, url: str, expected: str) -> etree._Element:
    """Parse XML bytes; anything that is not well-formed XML becomes a ParseError."""
    if not data.strip() or looks_like_html(data):
        raise ParseError(describe_unexpected(data, expected), url=url)
    try:
        root = etree.fromstring(data, parser=_XML_PARSER)
    except (etree.XMLSyntaxError, ValueError) as err:
        raise ParseError(
            f"expected {expected} but the XML is malformed ({err}): {snippet(data)!r}", url=url
        ) from err
    if root is None:
        raise ParseError(describe_unexpected(data, expected), url=url)
    return root


def load_html(
    data: bytes, url: str, expected: str, only: SoupStrainer | None = None
) -> BeautifulSoup:
    """Parse an HTML page with BeautifulSoup on lxml's forgiving parser, keeping only what
    `only` matches (and everything inside it) when given. Empty input, input with no tag at
    all and XML documents are ParseErrors: none of them is a page.
    """
    # The sites we read serve UTF-8 and rarely say so in the page: decode it ourselves rather
    # than let the encoding be guessed. Invalid bytes become U+FFFD instead of stopping it.
    text = data.decode("utf-8", errors="replace")
    if not text.strip() or "<" not in text or _looks_like_xml(text):
        # (BeautifulSoup would also warn on these: "looks like a filename", "XML as HTML".)
        raise ParseError(describe_unexpected(data, expected), url=url)
    from bs4 import BeautifulSoup, ParserRejectedMarkup

    try:
        return BeautifulSoup(text, "lxml", parse_only=only)
    except (ParserRejectedMarkup, ValueError) as err:
        raise ParseError(
            f"expected {expected} but could not read it as HTML ({err})", url=url
        ) from err


def _looks_like_xml(text: str) -> bool:
    """An XML document that is not XHTML: an RSS or Atom feed, say."""
    head = text[:500].lstrip()
    return head.startswith("<?xml") and "<html" not in head.lower()


def load_json(data: bytes, url: str, expected: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as err:  # JSONDecodeError and bad UTF-8 are ValueErrors
        raise ParseError(describe_unexpected(data, expected), url=url) from err


def text_of(element: Tag | None) -> str:
    """All text inside an element (children included), or "" for a missing element.

    Comments and the code of <script> and <style> are not text.
    """
    if element is None:
        return ""
    return element.get_text()


def attribute(element: Tag, name: str) -> str:
    """An attribute's value, "" when absent; a multi-valued one (class) joined by spaces."""
    value = element.get(name)
    if value is None:
        return ""
    return value if isinstance(value, str) else " ".join(value)


def classes(element: Tag) -> list[str]:
    value = element.get("class")
    if value is None:
        return []
    return value.split() if isinstance(value, str) else list(value)


def has_class(element: Tag, css_class: str) -> bool:
    return css_class in classes(element)


# --- authors ------------------------------------------------------------------------------

_SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})


def split_authors(names: str) -> tuple[str, ...]:
    """Split "A. One (Univ. X, Y), B. Two and C. Three" into names, affiliations dropped.

    arXiv puts affiliations in parentheses after a name and they contain commas and "and"
    ("Andrew and Peggy Cherng Department"), so only separators outside parentheses count.
    """
    if "(" not in names and " and " not in names:
        # The common case, no affiliations: a plain comma split. When every name is
        # non-empty, longer than a suffix like "Jr." and the text has no stray whitespace,
        # the split is the answer (C-speed checks, no per-name Python work).
        simple = [part.strip() for part in names.split(",")]
        if simple and min(map(len, simple)) > 4 and "  " not in names and "\n" not in names:
            return tuple(simple)
        return _tidy_names(simple)
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for piece in re.split(r"([(),]| and )", names):
        if piece == "(":
            depth += 1
        elif piece == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            if piece in (",", " and "):
                parts.append("".join(current))
                current = []
            else:
                current.append(piece)
    parts.append("".join(current))
    return _tidy_names(parts)


def _tidy_names(parts: list[str]) -> tuple[str, ...]:
    authors: list[str] = []
    for part in parts:
        name = part.strip()
        if "  " in name or "\n" in name or "\t" in name:
            name = " ".join(name.split())
        if name.startswith(("and ", "And ")):
            name = name[4:].strip()
        if not name:
            continue
        if authors and len(name) <= 4 and name.lower() in _SUFFIXES:
            authors[-1] = f"{authors[-1]}, {name}"  # "John Smith, Jr." is one person
            continue
        authors.append(name)
    return tuple(authors)


# --- dates --------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def rfc822_date(value: str) -> dt.date | None:
    """The calendar date of an RSS pubDate, in the feed's own offset (arXiv: US Eastern)."""
    try:
        return parsedate_to_datetime(value.strip()).date()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def iso_date(value: object) -> dt.date | None:
    """The date part of an ISO 8601 timestamp ("2024-10-22T17:59:30.000Z")."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


# --- arXiv links --------------------------------------------------------------------------


def arxiv_abs_url(arxiv_id: str) -> str:
    return f"https://arxiv.org/abs/{arxiv_id}"


def arxiv_pdf_url(arxiv_id: str, version: int | None) -> str:
    return (
        f"https://arxiv.org/pdf/{arxiv_id}v{version}"
        if version
        else (f"https://arxiv.org/pdf/{arxiv_id}")
    )


def unique(values: list[str]) -> tuple[str, ...]:
    """Drop blanks and repeats, keep the first occurrence's position (primary stays first)."""
    seen: dict[str, None] = {}
    for value in values:
        value = value.strip()
        if value:
            seen.setdefault(value, None)
    return tuple(seen)
