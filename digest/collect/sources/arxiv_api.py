"""export.arxiv.org/api/query: arXiv's Atom search API (the 2016 and the 2026 markup).

Both formats use the same element names; the old one repeats namespace declarations on
each element and wraps summaries at 80 columns, which namespace-aware lxml and
`clean_text` absorb. An API answer is not an announcement, so `announce_type` says NEW for
a first version and REPLACE for a later one (the pipeline uses that for catch-up runs).
"""

from __future__ import annotations

from lxml import etree

from digest.collect.normalise import normalise_doi, parse_arxiv_id, tex_text
from digest.collect.sources._common import (
    arxiv_abs_url,
    arxiv_pdf_url,
    iso_date,
    load_xml,
    log,
    unique,
)
from digest.errors import FeedErrorReported, ParseError
from digest.models import AnnounceType, Paper

_ATOM = "{http://www.w3.org/2005/Atom}"
_ARXIV = "{http://arxiv.org/schemas/atom}"
_ENTRY = _ATOM + "entry"
_ID = _ATOM + "id"
_TITLE = _ATOM + "title"
_SUMMARY = _ATOM + "summary"
_PUBLISHED = _ATOM + "published"
_AUTHOR = _ATOM + "author"
_NAME = _ATOM + "name"
_CATEGORY = _ATOM + "category"
_PRIMARY = _ARXIV + "primary_category"
_DOI = _ARXIV + "doi"
_JOURNAL_REF = _ARXIV + "journal_ref"
_COMMENT = _ARXIV + "comment"


class _BadEntry(Exception):
    """One entry is unusable; it is logged and skipped."""


def parse(data: bytes, url: str) -> tuple[Paper, ...]:
    root = load_xml(data, url, "an arXiv API Atom feed")
    if root.tag != _ATOM + "feed":
        raise ParseError(
            f"expected an arXiv API Atom feed but the document root is <{root.tag}>", url=url
        )
    papers: list[Paper] = []
    for entry in root.iterfind(_ENTRY):
        entry_id = (entry.findtext(_ID) or "").strip()
        if "/api/errors" in entry_id:
            # The API reports a bad query as a feed with one entry titled "Error".
            message = " ".join((entry.findtext(_SUMMARY) or "unspecified error").split())
            raise FeedErrorReported(f"arXiv API reports: {message}", url=url)
        try:
            papers.append(_paper(entry, entry_id))
        except _BadEntry as err:
            log.warning("%s: skipped an API entry: %s", url, err)
    return tuple(papers)


def _paper(entry: etree._Element, entry_id: str) -> Paper:
    identity = parse_arxiv_id(entry_id)
    if identity is None:
        raise _BadEntry(f"no arXiv id in <id>{entry_id!r}")
    arxiv_id, version = identity

    title = abstract = published = doi = journal = comment = None
    primary: str | None = None
    categories: list[str] = []
    authors: list[str] = []
    for child in entry:
        tag = child.tag
        if tag == _TITLE:
            title = child.text
        elif tag == _SUMMARY:
            abstract = child.text
        elif tag == _PUBLISHED:
            published = child.text
        elif tag == _AUTHOR:
            for part in child:  # <name> comes first; findtext() costs a path lookup
                if part.tag == _NAME:
                    name = tex_text(part.text)
                    if name:
                        authors.append(name)
                    break
        elif tag == _CATEGORY:
            categories.append(child.get("term") or "")
        elif tag == _PRIMARY:
            primary = child.get("term")
        elif tag == _DOI:
            doi = child.text
        elif tag == _JOURNAL_REF:
            journal = child.text
        elif tag == _COMMENT:
            comment = child.text

    return Paper(
        id=arxiv_id,
        title=tex_text(title) or arxiv_id,
        abstract=tex_text(abstract),
        authors=tuple(authors),
        url=arxiv_abs_url(arxiv_id),
        version=version,
        categories=unique([primary or "", *categories]),
        announce_type=AnnounceType.REPLACE if (version or 1) > 1 else AnnounceType.NEW,
        published=iso_date(published),
        doi=normalise_doi(doi) if doi else None,
        journal_ref=tex_text(journal) or None,
        comments=tex_text(comment) or None,
        pdf_url=arxiv_pdf_url(arxiv_id, version),
    )
