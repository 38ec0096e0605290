"""View models: a ranked paper (or a source's outcome) turned into the plain values the
templates lay out, with every decision made here (which links, which badges, what to
highlight, where to cut the abstract)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import quote

from digest.compose.text import (
    Segment,
    cut_segments,
    format_authors,
    highlight_segments,
    one_line,
    safe_url,
)
from digest.config.settings import RenderSettings
from digest.models import AnnounceType, Field, Paper, Ranked, SourceOutcome, SourceState


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Badge:
    label: str
    kind: str  # "hf", "code", "cross", "updated": picks the style
    url: str | None = None


@dataclass(frozen=True, slots=True)
class PaperView:
    id: str
    number: int
    title: str
    title_segments: tuple[Segment, ...]
    url: str | None
    authors: str
    categories: tuple[str, ...]
    badges: tuple[Badge, ...]
    matched: str
    abstract: str
    abstract_segments: tuple[Segment, ...]
    links: tuple[Link, ...]
    # Set on views from a PaperCache: where this paper's rendered blocks are kept.
    entry: BlockEntry | None = field(default=None, compare=False, repr=False)

    def numbered(self, number: int, entry: BlockEntry | None) -> PaperView:
        """This view at position `number`, its blocks kept in `entry`."""
        return PaperView(
            self.id,
            number,
            self.title,
            self.title_segments,
            self.url,
            self.authors,
            self.categories,
            self.badges,
            self.matched,
            self.abstract,
            self.abstract_segments,
            self.links,
            entry,
        )

    @property
    def meta_text(self) -> str:
        """Categories and badges on one line, for the text part."""
        return " | ".join(
            filter(None, [", ".join(self.categories), *(b.label for b in self.badges)])
        )


@dataclass(frozen=True, slots=True)
class CompactView:
    id: str
    number: int
    title: str
    url: str | None
    topic: str
    entry: BlockEntry | None = field(default=None, compare=False, repr=False)

    def numbered(self, number: int, entry: BlockEntry | None) -> CompactView:
        return CompactView(self.id, number, self.title, self.url, self.topic, entry)


@dataclass(frozen=True, slots=True)
class SectionView:
    title: str
    papers: tuple[PaperView, ...]


@dataclass(frozen=True, slots=True)
class SourceLine:
    name: str
    status: str
    ok: bool


@dataclass(slots=True)
class BlockEntry:
    """One paper as shown with one set of highlights (or as one line of the compact list):
    its view (numbered 0) and its rendered HTML and text blocks, split where the number
    goes, per width of the number, with their sizes in UTF-8 bytes per (html, width).
    Defined beside the views, whose `entry` it is; digest.compose.paper_cache fills it."""

    paper: Paper  # held, so the id the cache keys it by stays this paper's
    view: PaperView | CompactView
    html: dict[int, tuple[str, ...]] = field(default_factory=dict)
    text: dict[int, tuple[str, ...]] = field(default_factory=dict)
    sizes: dict[tuple[bool, int], int] = field(default_factory=dict)
    # Per width: how many bytes the HTML block's character references (it is kept in
    # ASCII) outweigh its characters in UTF-8.
    excess: dict[int, int] = field(default_factory=dict)
    # The view at each position it has had (a digest's positions are few), made once.
    at: dict[int, PaperView | CompactView] = field(default_factory=dict)

    def view_at(self, number: int) -> PaperView | CompactView:
        view = self.at.get(number)
        if view is None:
            view = self.at[number] = self.view.numbered(number, self)
        return view


_FIELD_ORDER = {f: i for i, f in enumerate(Field)}


def matched_line(ranked: Ranked) -> str:
    """'diffusion models (title, abstract), Yang Song (authors)' plus the ranker's note."""
    fields: dict[str, list[str]] = {}
    for match in ranked.matches:
        bucket = fields.setdefault(one_line(match.term), [])
        if match.field.value not in bucket:
            bucket.append(match.field.value)
    parts = [
        f"{term} ({', '.join(sorted(fs, key=lambda f: _FIELD_ORDER[Field(f)]))})"
        for term, fs in fields.items()
    ]
    if ranked.note:
        parts.append(one_line(ranked.note))
    return ", ".join(parts)


def paper_links(ranked: Ranked) -> tuple[Link, ...]:
    paper = ranked.paper
    hf = paper.hf
    arxiv_id = quote(paper.id, safe="/.") if paper.is_arxiv else None
    candidates: list[tuple[str, str | None]] = [
        ("Abstract", paper.url or (f"https://arxiv.org/abs/{arxiv_id}" if arxiv_id else None)),
        ("PDF", paper.pdf_url or (f"https://arxiv.org/pdf/{arxiv_id}" if arxiv_id else None)),
        (
            "Hugging Face",
            (hf.url or (f"https://huggingface.co/papers/{arxiv_id}" if arxiv_id else None))
            if hf
            else None,
        ),
        ("Code", hf.github_repo if hf else None),
        ("Project page", hf.project_page if hf else None),
    ]
    if paper.doi and "doi.org" not in (paper.url or ""):
        candidates.append(("DOI", "https://doi.org/" + quote(paper.doi, safe="/.():;-_")))
    links: list[Link] = []
    for label, url in candidates:
        checked = safe_url(url)
        if checked and all(link.url != checked for link in links):
            links.append(Link(label, checked))
    return tuple(links)


def paper_badges(ranked: Ranked) -> tuple[Badge, ...]:
    paper, hf = ranked.paper, ranked.paper.hf
    badges: list[Badge] = []
    if hf and hf.upvotes > 0:
        badges.append(Badge(f"▲ {hf.upvotes} upvote{'s' if hf.upvotes != 1 else ''}", "hf"))
    code_url = safe_url(hf.github_repo) if hf else None
    if hf and code_url:
        stars = f" ★ {hf.github_stars}" if hf.github_stars else ""
        badges.append(Badge(f"code{stars}", "code", code_url))
    if paper.announce_type in (AnnounceType.CROSS, AnnounceType.REPLACE_CROSS):
        badges.append(Badge("cross-list", "cross"))
    if ranked.updated:
        badges.append(Badge(f"updated v{paper.version}" if paper.version else "updated", "updated"))
    if paper.shortened:
        # Cut at parse time (digest.collect.normalise): the feed's text was longer.
        names = [_SHORTENED.get(name, one_line(name)) for name in paper.shortened]
        badges.append(Badge(", ".join(names) + " shortened", "cut"))
    return tuple(badges)


_SHORTENED = {"title": "title", "abstract": "abstract", "authors": "author list"}


def paper_view(ranked: Ranked, number: int, settings: RenderSettings) -> PaperView:
    paper = ranked.paper
    title_spans = [s for m in ranked.matches if m.field is Field.TITLE for s in m.spans]
    abstract_spans = [s for m in ranked.matches if m.field is Field.ABSTRACT for s in m.spans]
    title_segments = highlight_segments(paper.title, title_spans) or [("(untitled)", False)]
    abstract_segments, _ = cut_segments(
        highlight_segments(paper.abstract, abstract_spans), settings.abstract_chars
    )
    links = paper_links(ranked)
    return PaperView(
        id=paper.id,
        number=number,
        title="".join(t for t, _ in title_segments),
        title_segments=tuple(title_segments),
        url=links[0].url if links else None,
        authors=format_authors(paper.authors, settings.max_authors),
        categories=tuple(one_line(c) for c in paper.categories[:5]),
        badges=paper_badges(ranked),
        matched=matched_line(ranked),
        abstract="".join(t for t, _ in abstract_segments),
        abstract_segments=tuple(abstract_segments),
        links=links,
    )


def compact_view(ranked: Ranked, number: int) -> CompactView:
    links = paper_links(ranked)
    return CompactView(
        id=ranked.paper.id,
        number=number,
        title=one_line(ranked.paper.title) or "(untitled)",
        url=links[0].url if links else None,
        topic=one_line(ranked.topic),
    )


_SOURCE_STATUS: dict[SourceState, Callable[[SourceOutcome], str]] = {
    SourceState.OK: lambda o: f"{o.papers} new paper{'s' if o.papers != 1 else ''}",
    SourceState.NOT_MODIFIED: lambda o: "no change since the last check",
    SourceState.NO_ANNOUNCEMENT: lambda o: "no announcement today",
    SourceState.EMPTY: lambda o: "listing came back empty, will check again",
    SourceState.FAILED: lambda o: "unreachable, will catch up",
    SourceState.STOPPED: lambda o: "not read this time, will catch up",
}


def source_lines(
    outcomes: Iterable[SourceOutcome], counts: Iterable[tuple[str, int, int]] = ()
) -> list[SourceLine]:
    """One line per source. With `counts` (source, new, updated) for one reader, a source
    that answered says what it brought that reader, not everything its listing carried."""
    mine = {name: (new, updated) for name, new, updated in counts}
    lines = []
    for outcome in outcomes:
        if outcome.name in mine and outcome.state is SourceState.OK:
            status = reader_count(*mine[outcome.name])
        else:
            status = _SOURCE_STATUS[outcome.state](outcome)
        # A note such as "holiday" helps the reader; a failure's detail is for the operator.
        if outcome.detail and outcome.state is not SourceState.FAILED:
            status += f" ({one_line(outcome.detail)})"
        ok = outcome.state not in (SourceState.FAILED, SourceState.EMPTY)
        lines.append(SourceLine(one_line(outcome.name), status, ok))
    return lines


def reader_count(new: int, updated: int) -> str:
    """'12 new papers', '12 new, 2 updated'."""
    if not updated:
        return f"{new} new paper{'s' if new != 1 else ''}"
    return f"{new} new, {updated} updated"
