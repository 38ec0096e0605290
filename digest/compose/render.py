"""Render a Digest into a subject line, an HTML part and a plain-text part.

`render_digest` is pure: the same digest, settings and templates give the same output. All
the deciding (which links, which badges, where to cut an abstract, what to highlight) is done
here in Python on plain values; the templates in templates/ only lay those values out.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import markdown
from markupsafe import Markup, escape

from digest.compose.feedback import feedback_map, safe_mailto, with_feedback
from digest.compose.styles import InlineStyleLoader, StyleSheet
from digest.config.settings import RenderSettings
from digest.config.subject import render_subject
from digest.models import (
    AnnounceType,
    Digest,
    Field,
    Ranked,
    RenderedDigest,
    SourceOutcome,
    SourceState,
)

DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"
HTML_TEMPLATE = "digest.html.j2"
TEXT_TEMPLATE = "digest.txt.j2"
PAPER_HTML_TEMPLATE = "partials/paper.html.j2"
PAPER_TEXT_TEMPLATE = "partials/paper.txt.j2"
STYLESHEET = "digest.css"
TEXT_WIDTH = 76


# --- Environment ---------------------------------------------------------------------------


def wrap_text(
    text: str, width: int = TEXT_WIDTH, indent: str = "", first: str | None = None
) -> str:
    """Fill one paragraph greedily; a word longer than the line (a URL) gets a line of its own
    and is never broken. (textwrap does the same but costs ~10x more per call.)"""
    lines: list[str] = []
    current = indent if first is None else first
    empty = True  # no word on the current line yet
    for word in text.split():
        if not empty and len(current) + 1 + len(word) > width:
            lines.append(current)
            current, empty = indent + word, False
        else:
            current, empty = (current + word, False) if empty else (current + " " + word, False)
    if empty:
        return ""
    lines.append(current)
    return "\n".join(lines)


def wrap_paragraphs(text: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    """Fill each blank-line-separated paragraph of (Markdown) text on its own."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n\n".join(wrap_text(p, width, indent) for p in paragraphs)


def text_heading(title: str, count: int, width: int = TEXT_WIDTH) -> str:
    """A section title underlined with dashes, for the text part ('=' would cost 3 bytes each
    in quoted-printable)."""
    head = wrap_text(f"{title} ({count})", width)
    return head + "\n" + "-" * min(width, max(len(line) for line in head.splitlines()))


def make_environment(template_dir: Path | None = None) -> jinja2.Environment:
    """The Jinja environment for the digest templates: HTML autoescaped, undefined is an error."""
    files = jinja2.FileSystemLoader(str(template_dir or DEFAULT_TEMPLATE_DIR))
    env = jinja2.Environment(
        loader=files,
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["wrap"] = wrap_text
    env.filters["wrap_paragraphs"] = wrap_paragraphs
    env.filters["heading"] = text_heading
    env.filters["highlight"] = highlight_html
    env.filters["with_feedback"] = with_feedback
    # The light-mode stylesheet is inlined per element path once, when templates load, not
    # per message (see digest/styles.py).
    sheet = StyleSheet(files.get_source(env, STYLESHEET)[0])
    env.loader = InlineStyleLoader(files, sheet)
    env.globals["css"] = sheet
    env.filters["inline_css"] = sheet.fragment
    cache = PaperCache()
    env.extend(paper_cache=cache)
    env.globals["paper_html"] = _paper_block(env, PAPER_HTML_TEMPLATE, html=True)
    env.globals["paper_text"] = _paper_block(env, PAPER_TEXT_TEMPLATE, html=False)
    return env


# The number a paper has in one digest is the only thing its block does not share with the
# same paper in other digests: blocks are rendered with this stand-in of the same width and
# the real number is put in when a digest uses them.
_NUMBER_STAND_IN = "\x00"


def _paper_block(env: jinja2.Environment, name: str, *, html: bool) -> Callable[[Any], str]:
    """A template global rendering one paper's block (partial `name`, given `p` and its
    `number` as text), from the paper cache when the view came from it."""

    def block(p: PaperView) -> str:
        number = str(p.number)
        entry = p.entry
        if entry is None:
            out = env.get_template(name).render(p=p, number=number)
            return Markup(out) if html else out
        blocks = entry.html if html else entry.text
        pieces = blocks.get(len(number))
        if pieces is None:
            stand_in = _NUMBER_STAND_IN * len(number)
            out = env.get_template(name).render(p=entry.view, number=stand_in)
            pieces = blocks[len(number)] = tuple(out.split(stand_in))
        return Markup(number.join(pieces)) if html else number.join(pieces)

    return block


# --- Subject -------------------------------------------------------------------------------

# --- Text pieces ---------------------------------------------------------------------------

Segment = tuple[str, bool]  # (text, highlighted)
_WHITESPACE_RUN = re.compile(r"\s+")
_ODD_WHITESPACE = re.compile(r"\s\s|[^\S ]")  # two in a row, or anything but a plain space


def merge_spans(spans: Iterable[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """Clip spans to [0, length], drop empty ones, merge overlapping and touching ones."""
    clipped = sorted((max(0, s), min(length, e)) for s, e in spans if min(length, e) > max(0, s))
    merged: list[tuple[int, int]] = []
    for start, end in clipped:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def highlight_segments(text: str, spans: Iterable[tuple[int, int]]) -> list[Segment]:
    """Split text into plain and highlighted runs, then collapse whitespace across them.

    Spans index the original text, so whitespace is collapsed only after splitting.
    """
    raw: list[Segment] = []
    pos = 0
    for start, end in merge_spans(spans, len(text)):
        if start > pos:
            raw.append((text[pos:start], False))
        raw.append((text[start:end], True))
        pos = end
    if pos < len(text):
        raw.append((text[pos:], False))

    # Normalised feeds have single spaces only; then the per-piece collapsing can be skipped.
    messy = _ODD_WHITESPACE.search(text) is not None
    out: list[Segment] = []
    previous_ends_space = True  # also strips leading whitespace
    for piece, hit in raw:
        if messy:
            piece = _WHITESPACE_RUN.sub(" ", piece)
        if previous_ends_space:
            piece = piece.lstrip(" ")
        if piece:
            out.append((piece, hit))
            previous_ends_space = piece.endswith(" ")
    if out and out[-1][0].endswith(" "):
        last, hit = out.pop()
        if last.rstrip(" "):
            out.append((last.rstrip(" "), hit))
    return out


def cut_segments(segments: Sequence[Segment], limit: int) -> tuple[list[Segment], bool]:
    """Cut to at most `limit` characters at a word boundary, ending in an ellipsis."""
    total = sum(len(t) for t, _ in segments)
    if total <= limit:
        return list(segments), False
    joined = "".join(t for t, _ in segments)
    cut = joined.rfind(" ", 0, limit + 1)
    if cut < limit * 0.6:  # one giant word: cut inside it rather than lose most of the text
        cut = limit
    out: list[Segment] = []
    pos = 0
    for piece, hit in segments:
        if pos >= cut:
            break
        out.append((piece[: cut - pos], hit))
        pos += len(piece)
    while out:
        piece, hit = out.pop()
        piece = piece.rstrip(" ,;:-–—(")
        if piece:
            out.append((piece, hit))
            break
    out.append(("…", False))
    return out, True


def highlight_html(segments: Iterable[Segment], style: str) -> Markup:
    """Escaped text with the highlighted runs in <b class="hit" style="...">."""
    opening = f'<b class="hit" style="{escape(style)}">'
    return Markup(
        "".join(f"{opening}{escape(t)}</b>" if hit else str(escape(t)) for t, hit in segments)
    )


def one_line(text: str) -> str:
    return " ".join(text.split())


def format_authors(authors: Sequence[str], limit: int) -> str:
    names = [one_line(a) for a in authors if a.strip()]
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + " et al."


_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\"'<>\\`]")


def safe_url(url: str | None) -> str | None:
    """The URL if it is a plain http(s) link we can print and put in href; else None."""
    if not url:
        return None
    url = url.strip()
    if not url.lower().startswith(("https://", "http://")) or _URL_FORBIDDEN.search(url):
        return None
    return url


# --- View model ----------------------------------------------------------------------------


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
    entry: _PaperEntry | None = field(default=None, compare=False, repr=False)

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


@dataclass(frozen=True, slots=True)
class SectionView:
    title: str
    papers: tuple[PaperView, ...]


@dataclass(frozen=True, slots=True)
class SourceLine:
    name: str
    status: str
    ok: bool


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
    return tuple(badges)


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


def _numbered(view: PaperView, number: int, entry: _PaperEntry | None) -> PaperView:
    return PaperView(
        id=view.id,
        number=number,
        title=view.title,
        title_segments=view.title_segments,
        url=view.url,
        authors=view.authors,
        categories=view.categories,
        badges=view.badges,
        matched=view.matched,
        abstract=view.abstract,
        abstract_segments=view.abstract_segments,
        links=view.links,
        entry=entry,
    )


@dataclass(slots=True)
class _PaperEntry:
    """One paper as shown with one set of highlights: its view (numbered 0) and its rendered
    HTML and text blocks, split where the number goes, per width of the number."""

    view: PaperView
    html: dict[int, tuple[str, ...]] = field(default_factory=dict)
    text: dict[int, tuple[str, ...]] = field(default_factory=dict)


class PaperCache:
    """Paper views and rendered blocks, shared by all digests rendered with one environment.

    On one day the same paper appears in many subscribers' digests, usually with the same
    highlights; its block is then rendered once. The key holds everything a block depends on
    (the paper itself, its matches, note and update flag, the settings that shape it), so a
    hit is always byte-identical to rendering afresh. Bounded: oldest entries go first.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: dict[Hashable, _PaperEntry] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def view(self, ranked: Ranked, number: int, settings: RenderSettings) -> PaperView:
        key = (
            ranked.paper,
            ranked.matches,
            ranked.note,
            ranked.updated,
            settings.abstract_chars,
            settings.max_authors,
        )
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            view = paper_view(ranked, 0, settings)
            if _NUMBER_STAND_IN in _view_text(view):
                return _numbered(view, number, None)  # cannot be split safely: no cache
            entry = self._entries[key] = _PaperEntry(view)
            if len(self._entries) > self.max_entries:
                del self._entries[next(iter(self._entries))]
        else:
            self.hits += 1
        return _numbered(entry.view, number, entry)


def _view_text(view: PaperView) -> str:
    """All the text a paper block may print, to check for the number stand-in."""
    return "".join(
        [
            view.id,
            view.title,
            view.url or "",
            view.authors,
            *view.categories,
            *(b.label + b.kind + (b.url or "") for b in view.badges),
            view.matched,
            view.abstract,
            *(link.label + link.url for link in view.links),
        ]
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


def build_sections(
    papers: Sequence[Ranked], settings: RenderSettings, cache: PaperCache | None = None
) -> list[SectionView]:
    """Group by topic in order of each topic's best paper; updated papers come last."""
    groups: dict[str, list[Ranked]] = {}
    updated: list[Ranked] = []
    for ranked in papers:
        if ranked.updated:
            updated.append(ranked)
        else:
            groups.setdefault(one_line(ranked.topic), []).append(ranked)
    ordered = [(topic or "Other matches", items) for topic, items in groups.items()]
    if updated:
        ordered.append(("Updated since you saw them", updated))
    sections: list[SectionView] = []
    number = 1
    for title, items in ordered:
        if cache is None:
            views = tuple(paper_view(r, number + i, settings) for i, r in enumerate(items))
        else:
            views = tuple(cache.view(r, number + i, settings) for i, r in enumerate(items))
        number += len(items)
        sections.append(SectionView(title, views))
    return sections


_SOURCE_STATUS: dict[SourceState, Callable[[SourceOutcome], str]] = {
    SourceState.OK: lambda o: f"{o.papers} new paper{'s' if o.papers != 1 else ''}",
    SourceState.NOT_MODIFIED: lambda o: "no change since the last check",
    SourceState.NO_ANNOUNCEMENT: lambda o: "no announcement today",
    SourceState.EMPTY: lambda o: "listing came back empty, will check again",
    SourceState.FAILED: lambda o: "unreachable, will catch up",
}


def source_lines(outcomes: Iterable[SourceOutcome]) -> list[SourceLine]:
    lines = []
    for outcome in outcomes:
        status = _SOURCE_STATUS[outcome.state](outcome)
        # A note such as "holiday" helps the reader; a failure's detail is for the operator.
        if outcome.detail and outcome.state is not SourceState.FAILED:
            status += f" ({one_line(outcome.detail)})"
        ok = outcome.state not in (SourceState.FAILED, SourceState.EMPTY)
        lines.append(SourceLine(one_line(outcome.name), status, ok))
    return lines


@functools.lru_cache(maxsize=64)
def markdown_html(text: str) -> Markup:
    """Operator-written Markdown (trusted config, like the templates themselves)."""
    return Markup(markdown.markdown(text)) if text.strip() else Markup("")


def date_label(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def stats_text(seen: int, matched: int, shown: int, compact: int) -> str:
    more = f", {compact} more listed below" if compact else ""
    return (
        f"{plural(seen, 'new paper')} seen · {matched} matched your profile · {shown} shown{more}."
    )


def unlisted_text(unlisted: int) -> str:
    return f"…and {plural(unlisted, 'more matching paper')} not listed, to keep this email small."


# --- Rendering -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    """One candidate split: the first `full` papers in full, then up to `compact` listed."""

    full: int
    compact: int


def _context(
    digest: Digest,
    settings: RenderSettings,
    layout: _Layout,
    subject: str,
    cache: PaperCache | None,
) -> dict[str, Any]:
    full = digest.papers[: layout.full]
    rest = (digest.papers[layout.full :] + digest.overflow)[: layout.compact]
    sections = build_sections(full, settings, cache)
    compact = [compact_view(r, layout.full + i + 1) for i, r in enumerate(rest)]
    unlisted = len(digest.papers) + len(digest.overflow) - layout.full - len(compact)
    first_title = sections[0].papers[0].title if sections else ""
    profile = digest.subscriber.profile
    sources = source_lines(digest.sources)
    return {
        "title": one_line(settings.title),
        "subject": subject,
        "date_label": date_label(digest.day),
        "seen": digest.seen_count,
        "matched": digest.matched_count,
        "shown": layout.full,
        "compact_count": len(compact),
        "unlisted": unlisted,
        "sources": sources,
        "sources_text": "; ".join(f"{s.name}: {s.status}" for s in sources) + ".",
        "stats_text": stats_text(
            digest.seen_count, digest.matched_count, layout.full, len(compact)
        ),
        "unlisted_text": unlisted_text(unlisted),
        "intro_html": markdown_html(settings.intro_markdown),
        "intro_text": settings.intro_markdown.strip(),
        "sections": sections,
        "compact": compact,
        "recipient": digest.subscriber.email,
        "profile_summary": one_line(profile.summary()),
        "manage_url": safe_url(digest.manage_url),
        "unsubscribe_url": safe_url(digest.unsubscribe_url),
        "unsubscribe_mailto": None
        if safe_url(digest.unsubscribe_url)
        else safe_mailto(digest.unsubscribe_mailto),
        "feedback": feedback_map(digest.feedback),
        "footer_html": markdown_html(settings.footer_markdown),
        "footer_text": settings.footer_markdown.strip(),
        "preheader": (f"Top: {first_title}" if first_title else subject)[:150],
        "paper_ids": tuple(p.id for s in sections for p in s.papers) + tuple(c.id for c in compact),
    }


def _render_html(env: jinja2.Environment, context: dict[str, Any]) -> str:
    return env.get_template(HTML_TEMPLATE).render(context)


def _fits(html: str, budget: int) -> bool:
    return len(html.encode("utf-8")) <= budget


def _largest_fitting(low: int, high: int, fits: Callable[[int], bool]) -> int:
    """Largest n in [low, high] with fits(n), given fits is monotone and fits(low) holds."""
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


def render_digest(
    digest: Digest, settings: RenderSettings, env: jinja2.Environment
) -> RenderedDigest:
    """Subject, HTML (inlined CSS, under the size budget) and text parts of one digest.

    When the HTML is over budget, papers move from the tail of the full listing into the
    compact "more papers" list; if even the compact list is too long, its tail is dropped and
    counted. `RenderedDigest.paper_ids` lists exactly the papers the email shows.
    """
    total = len(digest.papers) + len(digest.overflow)
    topics = list(dict.fromkeys(one_line(r.topic) for r in digest.papers if r.topic.strip()))
    top = one_line(digest.papers[0].paper.title) if digest.papers else ""

    def subject_for(layout: _Layout) -> str:
        return render_subject(
            settings.subject_template,
            {
                "count": layout.full + layout.compact,
                "papers": plural(layout.full + layout.compact, "new paper"),
                "date": digest.day,
                "seen": digest.seen_count,
                "matched": digest.matched_count,
                "shown": layout.full,
                "title": one_line(settings.title),
                "top_title": top,
                "topics": ", ".join(topics),
            },
        )

    papers: PaperCache | None = getattr(env, "paper_cache", None)
    cache: dict[_Layout, tuple[str, dict[str, Any]]] = {}

    def html_for(layout: _Layout) -> str:
        if layout not in cache:
            context = _context(digest, settings, layout, subject_for(layout), papers)
            cache[layout] = (_render_html(env, context), context)
        return cache[layout][0]

    layout = _Layout(len(digest.papers), total - len(digest.papers))
    if not _fits(html_for(layout), settings.size_budget):
        all_compact = _Layout(0, total)
        if _fits(html_for(all_compact), settings.size_budget):
            full = _largest_fitting(
                0,
                len(digest.papers),
                lambda n: _fits(html_for(_Layout(n, total - n)), settings.size_budget),
            )
            layout = _Layout(full, total - full)
        else:
            # Fits with nothing listed? If not, the fixed parts alone exceed the budget and we
            # send the smallest version we can.
            listed = _largest_fitting(
                0, total, lambda n: n == 0 or _fits(html_for(_Layout(0, n)), settings.size_budget)
            )
            layout = _Layout(0, listed)
    html_for(layout)
    html, context = cache[layout]
    text = env.get_template(TEXT_TEMPLATE).render(context)
    return RenderedDigest(
        subject=context["subject"], html=html, text=text, paper_ids=context["paper_ids"]
    )
