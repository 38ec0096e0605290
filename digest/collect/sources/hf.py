"""huggingface.co/api/daily_papers: Hugging Face Daily Papers as JSON.

Each item wraps a `paper` object whose id is the arXiv id; upvotes live only at
`paper.upvotes`. The 2024 shape has no ai_* fields and keeps arXiv's line breaks in titles;
the 2026 shape adds ai_summary, ai_keywords, githubRepo/githubStars, projectPage and an
organization. Every optional field is read defensively: the API is not versioned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from digest.collect.normalise import clean_text, parse_arxiv_id, tex_text
from digest.collect.sources._common import arxiv_abs_url, iso_date, load_json, log
from digest.errors import FeedErrorReported, ParseError
from digest.models import AnnounceType, HFSignals, Paper

HF_PAPER_URL = "https://huggingface.co/papers/{id}"


class _BadItem(Exception):
    """One item is unusable; it is logged and skipped."""


def parse(data: bytes, url: str) -> tuple[Paper, ...]:
    document = load_json(data, url, "JSON from the Hugging Face API")
    if isinstance(document, dict) and "error" in document:
        raise FeedErrorReported(f"Hugging Face API reports: {document['error']}", url=url)
    if not isinstance(document, list):
        raise ParseError(
            "expected a JSON list of daily papers from the Hugging Face API "
            f"but got a JSON {type(document).__name__}",
            url=url,
        )
    return papers_from_items(document, url)


def papers_from_items(items: Iterable[Any], url: str) -> tuple[Paper, ...]:
    """Papers from daily-papers items (shared with the HTML page parser)."""
    papers: list[Paper] = []
    for position, item in enumerate(items):
        try:
            papers.append(_paper(item))
        except _BadItem as err:
            log.warning("%s: skipped daily-papers item %d: %s", url, position, err)
    return tuple(papers)


def _str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return (value.strip() or None) if isinstance(value, str) else None


def _int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    # bool is an int subclass, and JSON true is no count
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _organization(item: Mapping[str, Any], paper: Mapping[str, Any]) -> str | None:
    for holder in (paper, item):
        org = holder.get("organization")
        if isinstance(org, dict):
            name = _str(org, "fullname") or _str(org, "name")
            if name:
                return name
    return None


def _authors(paper: Mapping[str, Any]) -> tuple[str, ...]:
    raw = paper.get("authors")
    if not isinstance(raw, list):
        return ()
    names = (tex_text(a.get("name")) for a in raw if isinstance(a, dict))
    return tuple(n for n in names if n)


def _keywords(paper: Mapping[str, Any]) -> tuple[str, ...]:
    raw = paper.get("ai_keywords")
    if not isinstance(raw, list):
        return ()
    return tuple(clean_text(k) for k in raw if isinstance(k, str) and k.strip())


def _paper(item: Any) -> Paper:
    if not isinstance(item, dict) or not isinstance(item.get("paper"), dict):
        raise _BadItem("no 'paper' object")
    paper: dict[str, Any] = item["paper"]
    raw_id = _str(paper, "id")
    identity = parse_arxiv_id(raw_id) if raw_id else None
    if identity is None:
        raise _BadItem(f"paper.id {paper.get('id')!r} is not an arXiv id")
    arxiv_id, version = identity
    title = _str(paper, "title") or _str(item, "title") or arxiv_id
    num_comments = _int(item, "numComments")
    signals = HFSignals(
        upvotes=_int(paper, "upvotes") or 0,
        num_comments=num_comments or 0,
        github_repo=_str(paper, "githubRepo"),
        github_stars=_int(paper, "githubStars"),
        project_page=_str(paper, "projectPage"),
        organization=_organization(item, paper),
        ai_summary=clean_text(_str(paper, "ai_summary") or "") or None,
        ai_keywords=_keywords(paper),
        url=HF_PAPER_URL.format(id=arxiv_id),
    )
    return Paper(
        id=arxiv_id,
        title=tex_text(title),
        abstract=tex_text(_str(paper, "summary") or _str(item, "summary")),
        authors=_authors(paper),
        url=arxiv_abs_url(arxiv_id),
        version=version,
        announce_type=AnnounceType.NEW,
        published=iso_date(paper.get("publishedAt")),
        hf=signals,
    )
