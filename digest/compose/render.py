"""Render a Digest into a subject line, an HTML part and a plain-text part, under the size
budget.

`render_digest` is pure: the same digest, settings and templates give the same output. All
the deciding (which links, which badges, where to cut an abstract, what to highlight) is done
in Python on plain values (digest.compose.views); the templates in templates/ only lay those
values out. This module groups the papers into sections, fills the template context, and
finds the largest layout that fits the budget; it also hands on the environment
(`make_environment`, from digest.compose.environment), so callers import the renderer from
here.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import jinja2
from markupsafe import Markup

from digest.compose.environment import (
    DEFAULT_TEMPLATE_DIR,
    HTML_TEMPLATE,
    TEXT_TEMPLATE,
    make_environment,
)
from digest.compose.feedback import feedback_map, safe_mailto, with_feedback
from digest.compose.paper_cache import (
    Block,
    Listing,
    Meter,
    PaperCache,
    render_ascii,
    render_fast,
)
from digest.compose.styles import StyleSheet
from digest.compose.text import one_line, plural, safe_url
from digest.compose.views import SectionView, compact_view, paper_view, source_lines
from digest.config.settings import RenderSettings
from digest.config.subject import render_subject
from digest.models import Digest, Ranked, RenderedDigest

__all__ = ["DEFAULT_TEMPLATE_DIR", "PaperCache", "make_environment", "render_digest"]


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


@functools.lru_cache(maxsize=64)
def markdown_html(text: str) -> Markup:
    """Operator-written Markdown (trusted config, like the templates themselves)."""
    if not text.strip():
        return Markup("")
    import markdown  # only for an intro or footer that is set

    return Markup(markdown.markdown(text))


@functools.lru_cache(maxsize=64)
def date_label(day: dt.date) -> str:  # (strftime is slow, and a run has a day or two)
    return f"{day:%A} {day.day} {day:%B %Y}"


def stats_text(digest: Digest, shown: int, compact: int) -> str:
    """The header's counts, for this reader: papers new to them since their last digest,
    what of those matched, and apart from them the matches from earlier days (never sent to
    them: they did not fit in an earlier digest, or match only now) and updated papers."""
    parts = [
        plural(digest.seen_count, "new paper"),
        f"{digest.new_matched} matched your profile",
    ]
    if digest.held_count:
        held = digest.held_count
        parts.append(f"{held} {'match' if held == 1 else 'matches'} from earlier days")
    if digest.updated_count:
        parts.append(f"{digest.updated_count} updated")
    more = f", {compact} more listed below" if compact else ""
    return " · ".join(parts) + f" · {shown} shown{more}."


def unlisted_text(unlisted: int) -> str:
    they = "it is" if unlisted == 1 else "they are"
    return (
        f"{plural(unlisted, 'more paper')} matched your profile but did not fit in this "
        f"email: {they} offered again in your next digest."
    )


def papers_phrase(listed: Sequence[Ranked]) -> str:
    """'12 new papers', '12 new papers, 2 updated', '2 updated papers' (for the subject)."""
    updated = sum(1 for r in listed if r.updated)
    new = len(listed) - updated
    if updated and not new:
        return plural(updated, "updated paper")
    return plural(new, "new paper") + (f", {updated} updated" if updated else "")


@dataclass(frozen=True, slots=True)
class _Layout:
    """One candidate split: the first `full` papers in full, then up to `compact` listed."""

    full: int
    compact: int


def _fixed_context(digest: Digest, settings: RenderSettings) -> dict[str, Any]:
    """What the template context holds whatever the layout (made once per digest: an email
    over budget makes a context per layout it tries)."""
    profile = digest.subscriber.profile
    sources = source_lines(digest.sources, digest.source_counts)
    return {
        "title": one_line(settings.title),
        "date_label": date_label(digest.day),
        "seen": digest.seen_count,
        "matched": digest.matched_count,
        "sources": sources,
        "sources_text": "; ".join(f"{s.name}: {s.status}" for s in sources) + ".",
        "intro_html": markdown_html(settings.intro_markdown),
        "intro_text": settings.intro_markdown.strip(),
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
    }


def _context(
    digest: Digest,
    settings: RenderSettings,
    layout: _Layout,
    subject: str,
    cache: PaperCache | None,
    fixed: dict[str, Any] | None = None,
) -> dict[str, Any]:
    full = digest.papers[: layout.full]
    rest = (digest.papers[layout.full :] + digest.overflow)[: layout.compact]
    sections = build_sections(full, settings, cache)
    if cache is None:
        compact = [compact_view(r, layout.full + i + 1) for i, r in enumerate(rest)]
    else:
        compact = [cache.compact(r, layout.full + i + 1) for i, r in enumerate(rest)]
    unlisted = matched_total(digest) - layout.full - len(compact)
    first_title = sections[0].papers[0].title if sections else ""
    return {
        **(_fixed_context(digest, settings) if fixed is None else fixed),
        "subject": subject,
        "shown": layout.full,
        "compact_count": len(compact),
        "unlisted": unlisted,
        "stats_text": stats_text(digest, layout.full, len(compact)),
        "unlisted_text": unlisted_text(unlisted),
        "sections": sections,
        "compact": compact,
        "preheader": (f"Top: {first_title}" if first_title else subject)[:150],
        "paper_ids": tuple(p.id for s in sections for p in s.papers) + tuple(c.id for c in compact),
    }


def _render_html(env: jinja2.Environment, context: dict[str, Any]) -> tuple[str, int]:
    """The HTML (in ASCII: paper_cache.as_ascii) and its size in UTF-8 bytes."""
    return render_ascii(env, HTML_TEMPLATE, context)


def _largest_fitting(
    low: int, high: int, fits: Callable[[int], bool], guess: int | None = None
) -> int:
    """Largest n in [low, high] with fits(n), given fits is monotone and fits(low) holds.

    Each fits() renders the email, so with a guess (from the blocks' sizes, _Estimate) the
    search starts there and gallops outward to bracket the answer, which a good guess does
    in two calls; the bracket is then bisected. Same answer as bisecting [low, high]."""
    if guess is not None and low < high:
        probe = min(max(guess, low), high)
        step = 1
        if fits(probe):
            low = probe
            while low < high:
                probe = min(high, low + step)
                if not fits(probe):
                    high = probe - 1
                    break
                low, step = probe, step * 2
        else:
            high = probe - 1
            while low < high:
                probe = max(low, high - step + 1)
                if fits(probe):
                    low = probe
                    break
                high, step = probe - 1, step * 2
    while low < high:
        mid = (low + high + 1) // 2
        if fits(mid):
            low = mid
        else:
            high = mid - 1
    return low


class _Estimate:
    """What a layout's HTML would weigh, from the size of each paper's block (known exactly
    from the paper cache, without joining anything) plus the rest of the email, measured
    once in the first rendering. The rest changes a little with the layout (counts, a
    section heading, the line on what did not fit), so an estimate only guides the search;
    what is sent is always measured."""

    def __init__(
        self,
        digest: Digest,
        settings: RenderSettings,
        env: jinja2.Environment,
        cache: PaperCache,
        measured: tuple[_Layout, int],
    ) -> None:
        paper_html = cast(Block, env.globals["paper_html"])
        compact_html = cast(Block, env.globals["compact_html"])
        feedback = feedback_map(digest.feedback)
        css = cast(StyleSheet, env.globals["css"])
        full: list[int] = [0]
        for number, ranked in enumerate(digest.papers, 1):
            view = cache.view(ranked, number, settings)
            extra = feedback.get(view.id)
            line = with_feedback("", extra, css("p.feedback"), css("a.feedback-link"))
            full.append(full[-1] + paper_html.size(view) + len(line.encode("utf-8")))
        compact: list[int] = [0]
        for number, ranked in enumerate(digest.papers + digest.overflow, 1):
            compact.append(compact[-1] + compact_html.size(cache.compact(ranked, number)))
        self._full, self._compact = full, compact
        layout, size = measured
        self._rest = size - self._blocks(layout)

    def _blocks(self, layout: _Layout) -> int:
        end = layout.full + layout.compact
        return self._full[layout.full] + self._compact[end] - self._compact[layout.full]

    def size(self, layout: _Layout) -> int:
        return self._rest + self._blocks(layout)

    def largest(self, low: int, high: int, layout: Callable[[int], _Layout], budget: int) -> int:
        """The largest n in [low, high] whose layout(n) is estimated to fit."""
        return _largest_fitting(low, high, lambda n: self.size(layout(n)) <= budget)


def matched_total(digest: Digest) -> int:
    return max(digest.matched_count, len(digest.papers) + len(digest.overflow))


def _measure(env: jinja2.Environment, context: dict[str, Any]) -> int:
    """The UTF-8 size of the HTML that `context` renders to, without joining its blocks:
    the template is rendered with Meters in place of the HTML listings (a few kB of
    skeleton), and what the listings would return is added up from the blocks' sizes."""
    papers = Meter(cast(Listing, env.globals["paper_list_html"]))
    compact = Meter(cast(Listing, env.globals["compact_list_html"]))
    values = {**context, "paper_list_html": papers, "compact_list_html": compact}
    _skeleton, size = render_ascii(env, HTML_TEMPLATE, values)
    return size + papers.size + compact.size


def _choose_layout(
    digest: Digest,
    settings: RenderSettings,
    env: jinja2.Environment,
    papers: PaperCache | None,
    size_of: Callable[[_Layout], int],
    memo: dict[_Layout, int] | None = None,
) -> _Layout:
    """The layout of an email whose every paper in full is over the size budget (see
    render_digest). `size_of` gives a layout's size; each is asked for once."""
    known: dict[_Layout, int] = {} if memo is None else memo
    budget = settings.size_budget

    def fits(layout: _Layout) -> bool:
        if layout not in known:
            known[layout] = size_of(layout)
        return known[layout] <= budget

    full = len(digest.papers)
    total = full + len(digest.overflow)
    whole = _Layout(full, total - full)
    estimate = None
    if papers is not None:
        estimate = _Estimate(digest, settings, env, papers, (whole, size_of(whole)))

    def search(
        low: int, high: int, fits: Callable[[int], bool], at: Callable[[int], _Layout]
    ) -> int:
        guess = None if estimate is None else estimate.largest(low, high, at, budget)
        return _largest_fitting(low, high, fits, guess)

    keep = full  # listed at least, in full or compactly, when that fits
    if fits(_Layout(full, 0)):
        pass  # the papers in full fit: the compact list loses its tail
    elif fits(_Layout(0, full)):
        # Not all in full: the tail of the full listing moves into the compact list.
        full = search(0, full, lambda n: fits(_Layout(n, keep - n)), lambda n: _Layout(n, keep - n))
    else:
        # Not even as titles: fewer in full, then as many titles as fit. If nothing fits,
        # the fixed parts alone exceed the budget: the smallest version is sent.
        full = search(0, full, lambda n: n == 0 or fits(_Layout(n, 0)), lambda n: _Layout(n, 0))
        keep = full
    shown = full
    listed = search(
        keep - shown,
        total - shown,
        lambda n: n == keep - shown or fits(_Layout(shown, n)),
        lambda n: _Layout(shown, n),
    )
    return _Layout(full, listed)


def render_digest(
    digest: Digest, settings: RenderSettings, env: jinja2.Environment
) -> RenderedDigest:
    """Subject, HTML (inlined CSS, under the size budget) and text parts of one digest.

    When the HTML is over budget, the compact list loses its tail first; if the papers in
    full alone are over it, papers move from the tail of the full listing into the compact
    list (and if even their titles are, fewer are listed). What is dropped is counted in
    the email and, not being in `RenderedDigest.paper_ids` (exactly the papers the email
    lists), is not recorded as sent: it is offered again next time.
    """
    total = len(digest.papers) + len(digest.overflow)
    topics = list(dict.fromkeys(one_line(r.topic) for r in digest.papers if r.topic.strip()))
    top = one_line(digest.papers[0].paper.title) if digest.papers else ""
    everything = digest.papers + digest.overflow

    def subject_for(layout: _Layout) -> str:
        listed = everything[: layout.full + layout.compact]
        return render_subject(
            settings.subject_template,
            {
                "count": len(listed),
                "papers": papers_phrase(listed),
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
    contexts: dict[_Layout, dict[str, Any]] = {}
    fixed = _fixed_context(digest, settings)
    sizes: dict[_Layout, int] = {}  # each layout's HTML size in UTF-8 bytes, once known

    def context_for(layout: _Layout) -> dict[str, Any]:
        if layout not in contexts:
            subject = subject_for(layout)
            contexts[layout] = _context(digest, settings, layout, subject, papers, fixed)
        return contexts[layout]

    def measured(layout: _Layout) -> int:
        if layout not in sizes:
            sizes[layout] = _measure(env, context_for(layout))
        return sizes[layout]

    full = len(digest.papers)
    first = _Layout(full, total - full)
    # Most digests fit whole: render that layout and count its bytes (encoding a whole email
    # costs about as much as joining it, so it is done once).
    html, sizes[first] = _render_html(env, context_for(first))
    layout = first
    if sizes[first] > settings.size_budget:
        # Over budget: the layouts tried on the way are measured, not rendered (_measure),
        # and only the chosen one is rendered, and its size checked against the measure.
        layout = _choose_layout(digest, settings, env, papers, measured)
        html, size = _render_html(env, context_for(layout))
        expected = sizes.get(layout)  # (the smallest layout is sent unmeasured)
        if expected is not None and size != expected:
            # A template that changes what a listing returns (not ours) makes the measure
            # wrong: every candidate is then rendered, which is always right.
            sizes.clear()
            rendered: dict[_Layout, str] = {}

            def rendered_size(candidate: _Layout) -> int:
                rendered[candidate], size = _render_html(env, context_for(candidate))
                return size

            layout = _choose_layout(digest, settings, env, papers, rendered_size, sizes)
            html = rendered.get(layout) or _render_html(env, context_for(layout))[0]
    context = context_for(layout)
    text = render_fast(env, TEXT_TEMPLATE, context)
    return RenderedDigest(
        subject=context["subject"],
        html=html,
        text=text,
        paper_ids=context["paper_ids"],
        full_count=layout.full,
    )
