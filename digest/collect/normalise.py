"""Canonical paper ids and clean text: what makes the same paper look the same everywhere.

The ledger of what each subscriber was sent keys on `canonical_id`, so an arXiv paper seen
through Hugging Face, an RSS feed and the API, in any version, must get one id.

Fields also get a length cap here (`cap_fields`): a feed item is outside data, and one with
a 36 KB title must not crowd every other paper out of a digest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from urllib.parse import urlsplit, urlunsplit

from digest.collect.latex import latex_to_text
from digest.models import Paper

__all__ = [
    "canonical_id",
    "cap_fields",
    "clean_text",
    "latex_to_text",
    "normalise_doi",
    "parse_arxiv_id",
    "split_arxiv_version",
    "tex_text",
]

# New-style ids (0704.0001 onward: YYMM.NNNN, 5 digits since 2015) and old-style ids
# (archive[.SUBJECT-CLASS]/YYMMNNN). The old subject class is not part of the identity.
_ARXIV_ID = re.compile(
    r"(?:^|[/:\s])"
    r"(?P<id>\d{4}\.\d{4,5}|(?P<archive>[a-z][a-z-]*)(?:\.[a-z-]{2,})?/(?P<number>\d{7}))"
    r"(?:v(?P<version>\d+))?(?:\.pdf)?/?$",
    re.IGNORECASE,
)

_NEW_STYLE = re.compile(r"(\d{4}\.\d{4,5})(?:v(\d+))?")

_DOI_PREFIXES = re.compile(
    r"^(?:doi:\s*|https?://(?:dx\.)?doi\.org/|https?://doi\.org/)", re.IGNORECASE
)
_DOI = re.compile(r"\b(10\.\d{4,9}/\S+)", re.IGNORECASE)


def parse_arxiv_id(raw: str) -> tuple[str, int | None] | None:
    """(id without version, version) when `raw` names an arXiv paper, else None."""
    text = raw.strip()
    if not text:
        return None
    # Fast path for the common spellings: "2401.01234v3" and arXiv's OAI guids.
    if text.startswith("oai:arXiv.org:"):
        bare = text[14:]
    elif text.startswith(("http://arxiv.org/abs/", "https://arxiv.org/abs/")):
        bare = text[text.index("/abs/") + 5 :]
    else:
        bare = text
    quick = _NEW_STYLE.fullmatch(bare)
    if quick is not None:
        version = quick.group(2)
        return quick.group(1), int(version) if version else None
    if "://" in text:
        parts = urlsplit(text)
        host = parts.hostname or ""
        if not (host == "arxiv.org" or host.endswith(".arxiv.org")):
            return None
        text = parts.path
    match = _ARXIV_ID.search(text)
    if match is None:
        return None
    if match.group("archive"):
        arxiv_id = f"{match.group('archive').lower()}/{match.group('number')}"
    else:
        arxiv_id = match.group("id")
    version = match.group("version")
    return arxiv_id, int(version) if version else None


def split_arxiv_version(raw: str) -> tuple[str, int | None]:
    """Split "arXiv:2401.01234v3", an abs/pdf URL or an OAI id into ("2401.01234", 3).

    Raises ValueError when `raw` is not an arXiv identifier.
    """
    parsed = parse_arxiv_id(raw)
    if parsed is None:
        raise ValueError(f"not an arXiv identifier: {raw!r}")
    return parsed


def normalise_doi(raw: str) -> str | None:
    """The bare lower-cased DOI ("10.1103/physrevb.85.115117"), or None if there is none.

    DOIs are case-insensitive by definition, so lower case is their canonical spelling.
    """
    text = _DOI_PREFIXES.sub("", raw.strip())
    match = _DOI.search(text)
    if match is None:
        return None
    return match.group(1).rstrip(".,;)").lower()


def _normalise_link(link: str) -> str:
    """Scheme and host are case-insensitive and fragments are client-side: drop the noise."""
    parts = urlsplit(link.strip())
    scheme = (parts.scheme or "http").lower()
    if scheme == "http":
        scheme = "https"  # the same page served over both schemes is the same paper
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:  # "host:00:00Z" from a broken feed: not a port, keep it as written
        host, port = parts.netloc.rpartition("@")[2].lower(), None
    if port and port not in (80, 443):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((scheme, host, path, parts.query, ""))


def canonical_id(
    *, arxiv_id: str | None = None, doi: str | None = None, link: str | None = None
) -> str:
    """The version-free id a paper is known by across sources.

    Preference: the arXiv id ("2401.01234", "hep-th/9901001"); else "doi:<lower-cased DOI>";
    else "url:<16 hex digits of sha256 of the normalised link>". A link that is itself an
    arXiv or doi.org address yields the arXiv id or DOI. Raises ValueError if nothing usable
    is given.
    """
    if arxiv_id:
        parsed = parse_arxiv_id(arxiv_id)
        if parsed is not None:
            return parsed[0]
    if doi:
        bare = normalise_doi(doi)
        if bare:
            return f"doi:{bare}"
    if link and link.strip():
        parsed = parse_arxiv_id(link)
        if parsed is not None:
            return parsed[0]
        if re.match(r"https?://(?:dx\.)?doi\.org/", link.strip(), re.IGNORECASE):
            bare = normalise_doi(link)
            if bare:
                return f"doi:{bare}"
        digest = hashlib.sha256(_normalise_link(link).encode("utf-8")).hexdigest()
        return f"url:{digest[:16]}"
    raise ValueError("canonical_id needs an arXiv id, a DOI or a link")


def clean_text(s: str) -> str:
    """Collapse line breaks and runs of whitespace (arXiv wraps titles) into single spaces."""
    s = s.strip()
    # Most fields are already clean: a few substring scans (C speed, a fraction of a
    # microsecond each) prove it far faster than splitting and re-joining every word.
    if "  " in s:
        return " ".join(s.split())
    if s.isascii():
        # Line breaks, tabs and the control characters str.split() also treats as spaces.
        if not (
            "\n" in s
            or "\t" in s
            or "\r" in s
            or "\x0b" in s
            or "\x0c" in s
            or "\x1c" in s
            or "\x1d" in s
            or "\x1e" in s
            or "\x1f" in s
        ):
            return s
    elif s.isprintable():  # False for every whitespace character except the plain space
        return s
    return " ".join(s.split())


# Caps on what one feed item may carry, from the real listings in the fixtures (1,825
# papers from arXiv RSS, API and listing pages and Hugging Face): the longest title there has
# 218 characters, arXiv caps abstracts at 1,920 (the longest there), the longest author list
# has 207 names and the longest name 37 characters. Each cap leaves room for other feeds
# (journals, long collaboration lists) and stops only what is not a title, an abstract or a
# name at all.
TITLE_CHARS = 500
ABSTRACT_CHARS = 5_000
AUTHOR_NAMES = 500
AUTHOR_NAME_CHARS = 100
# Side fields the email does not show but the store keeps (longest in the fixtures: comments
# 414 characters, journal reference 182, Hugging Face's AI summary 296, 21 AI keywords).
# Cut quietly to the store, with a note in the log but no "shortened" mark, since no reader
# sees them; an optional link too long to be one (2,048 characters, what browsers and
# servers reliably accept) is dropped rather than cut into a broken one.
SIDE_TEXT_CHARS = 2_000
AI_KEYWORDS = 50
AI_KEYWORD_CHARS = 100
LINK_CHARS = 2_048
# Raw text handed to the LaTeX converter: converting 1 MB of math takes it 20 s, 50,000
# characters a fraction of a second, and 50,000 is 10x the longest field kept (an abstract)
# and the length of 500 names of 100 characters.
RAW_TEXT_CHARS = 50_000
ELLIPSIS = "…"


def tex_text(s: str | None) -> str:
    """A field as readers should see it: TeX rendered to Unicode, whitespace collapsed.
    Input past RAW_TEXT_CHARS is dropped first (what `cap_fields` keeps is far shorter)."""
    if not s:
        return ""
    return clean_text(latex_to_text(s[:RAW_TEXT_CHARS]))


def cut_text(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary when one is near, ending in "…"."""
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    cut = text.rfind(" ", 0, room + 1)
    if cut < room * 0.8:  # one giant word: cut inside it
        cut = room
    return text[:cut].rstrip(" ,;:-") + ELLIPSIS


def _length(text: str) -> str:
    # Near RAW_TEXT_CHARS, tex_text may have dropped the rest already: say "or more".
    return f"{len(text):,}" + (" or more" if len(text) >= RAW_TEXT_CHARS * 0.9 else "")


def cap_fields(paper: Paper) -> tuple[Paper, tuple[str, ...]]:
    """The paper with its title, abstract and authors within their caps, the cut fields
    named in `Paper.shortened`; and a note per field cut ("title: 36,000 -> 500
    characters") for the log. Fields the email does not show are capped too, with a note
    but no mark."""
    notes: list[str] = []
    cut: list[str] = []
    title, abstract, authors = paper.title, paper.abstract, paper.authors
    if len(title) > TITLE_CHARS:
        title = cut_text(title, TITLE_CHARS)
        cut.append("title")
        notes.append(f"title: {_length(paper.title)} -> {TITLE_CHARS:,} characters")
    too_long = sum(1 for a in authors[:AUTHOR_NAMES] if len(a) > AUTHOR_NAME_CHARS)
    if len(authors) > AUTHOR_NAMES or too_long:
        authors = tuple(cut_text(a, AUTHOR_NAME_CHARS) for a in authors[:AUTHOR_NAMES])
        cut.append("authors")
        if len(paper.authors) > AUTHOR_NAMES:
            notes.append(f"authors: {len(paper.authors):,} -> {AUTHOR_NAMES} names")
        if too_long:
            notes.append(f"authors: {too_long:,} names over {AUTHOR_NAME_CHARS} characters")
    if len(abstract) > ABSTRACT_CHARS:
        abstract = cut_text(abstract, ABSTRACT_CHARS)
        cut.append("abstract")
        notes.append(f"abstract: {_length(paper.abstract)} -> {ABSTRACT_CHARS:,} characters")
    paper = _cap_side_fields(paper, notes)
    if not cut:
        return paper, tuple(notes)
    shortened = tuple(dict.fromkeys((*paper.shortened, *cut)))
    changed = dataclasses.replace(
        paper, title=title, abstract=abstract, authors=authors, shortened=shortened
    )
    return changed, tuple(notes)


def _side_text(name: str, text: str | None, notes: list[str]) -> str | None:
    if text is None or len(text) <= SIDE_TEXT_CHARS:
        return text
    notes.append(f"{name}: {_length(text)} -> {SIDE_TEXT_CHARS:,} characters")
    return cut_text(text, SIDE_TEXT_CHARS)


def _side_link(name: str, link: str | None, notes: list[str]) -> str | None:
    if link is None or len(link) <= LINK_CHARS:
        return link
    notes.append(f"{name}: a link of {len(link):,} characters, dropped")
    return None


def _cap_side_fields(paper: Paper, notes: list[str]) -> Paper:
    """`paper` with its stored-only fields within their caps, a note per cut in `notes`."""
    before = len(notes)
    comments = _side_text("comments", paper.comments, notes)
    journal_ref = _side_text("journal reference", paper.journal_ref, notes)
    pdf_url = _side_link("PDF link", paper.pdf_url, notes)
    hf = paper.hf
    if hf is not None:
        keywords = tuple(cut_text(k, AI_KEYWORD_CHARS) for k in hf.ai_keywords[:AI_KEYWORDS])
        if len(hf.ai_keywords) > AI_KEYWORDS:
            notes.append(f"AI keywords: {len(hf.ai_keywords):,} -> {AI_KEYWORDS}")
        elif keywords != hf.ai_keywords:
            notes.append(f"AI keywords: cut to {AI_KEYWORD_CHARS} characters each")
        hf = dataclasses.replace(
            hf,
            ai_summary=_side_text("AI summary", hf.ai_summary, notes),
            ai_keywords=keywords,
            organization=_side_text("organization", hf.organization, notes),
            github_repo=_side_link("code link", hf.github_repo, notes),
            project_page=_side_link("project page", hf.project_page, notes),
            url=_side_link("Hugging Face link", hf.url, notes),
        )
    if len(notes) == before:
        return paper
    return dataclasses.replace(
        paper, comments=comments, journal_ref=journal_ref, pdf_url=pdf_url, hf=hf
    )
