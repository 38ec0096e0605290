"""One Paper per canonical id: the same paper from Hugging Face, the RSS feed and a journal
feed becomes one entry that keeps what each source knew.
"""

from __future__ import annotations

from collections.abc import Iterable

from digest.models import AnnounceType, Paper

# Lower rank wins: a paper that is new somewhere is new, whatever else lists it.
_ANNOUNCE_RANK = {
    AnnounceType.NEW: 0,
    AnnounceType.CROSS: 1,
    AnnounceType.REPLACE: 2,
    AnnounceType.REPLACE_CROSS: 3,
}


def merge_papers(papers: Iterable[Paper]) -> tuple[Paper, ...]:
    """Merge papers sharing an id, in order of first appearance."""
    merged: dict[str, Paper] = {}
    for paper in papers:
        seen = merged.get(paper.id)
        merged[paper.id] = paper if seen is None else merge_two(seen, paper)
    return tuple(merged.values())


def _union(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(first + second))


def _arxiv_url(a: Paper, b: Paper) -> str:
    for url in (a.url, b.url):
        if url.startswith("https://arxiv.org/abs/"):
            return url
    return a.url or b.url


def merge_two(a: Paper, b: Paper) -> Paper:
    """Combine two records of one paper; `a` is the one seen first."""
    if a.id != b.id:
        raise ValueError(f"cannot merge different papers {a.id!r} and {b.id!r}")
    # The primary category is the first one listed by whichever source gave categories.
    categories = _union(a.categories, b.categories) if a.categories else b.categories
    versions = [v for v in (a.version, b.version) if v is not None]
    newest = b if (b.version or 0) > (a.version or 0) else a
    announce = min(a.announce_type, b.announce_type, key=_ANNOUNCE_RANK.__getitem__)
    titled = newest if newest.title else (a if a.title else b)
    abstract = a if len(a.abstract) >= len(b.abstract) else b
    authors = a if len(a.authors) >= len(b.authors) else b
    # A field is marked cut when the record it was taken from had it cut.
    taken = (("title", titled), ("authors", authors), ("abstract", abstract))
    return Paper(
        id=a.id,
        title=titled.title,
        abstract=abstract.abstract,
        authors=authors.authors,
        url=_arxiv_url(a, b),
        version=max(versions) if versions else None,
        categories=categories,
        announce_type=announce,
        published=a.published or b.published,
        doi=a.doi or b.doi,
        journal_ref=a.journal_ref or b.journal_ref,
        comments=a.comments or b.comments,
        pdf_url=newest.pdf_url or a.pdf_url or b.pdf_url,
        hf=a.hf or b.hf,
        sources=_union(a.sources, b.sources),
        shortened=tuple(name for name, record in taken if name in record.shortened),
    )
