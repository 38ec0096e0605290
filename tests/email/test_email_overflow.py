"""The compact list, the count of matches that did not fit, and the reader's own counts."""

from __future__ import annotations

import dataclasses

import jinja2
from email_helpers import make_digest, make_paper, make_ranked

from digest.compose.render import render_digest
from digest.config.settings import RenderSettings
from digest.models import Digest, Ranked, SourceOutcome, SourceState


def overflowing(full: int, compact: int, matched: int, *, long_titles: bool = False) -> Digest:
    def paper(i: int) -> Ranked:
        title = f"Paper {i} " + ("about diffusion " * 40 if long_titles else "")
        return make_ranked(make_paper(i, title=title), score=1000 - i)

    return make_digest(
        [paper(i) for i in range(1, full + 1)],
        overflow=[paper(i) for i in range(full + 1, full + compact + 1)],
        matched=matched,
    )


def test_the_compact_list_follows_the_full_papers_and_the_rest_is_counted(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    digest = overflowing(5, 20, 40)
    rendered = render_digest(digest, settings, env)
    assert rendered.html.count('class="paper text"') == 5
    assert rendered.html.count('class="more-item"') == 20
    assert rendered.full_count == 5 and len(rendered.paper_ids) == 25
    text = " ".join(rendered.text.split())
    assert "40 matched your profile · 5 shown, 20 more listed below." in text
    assert (
        "15 more papers matched your profile but did not fit in this email: they are "
        "offered again in your next digest." in text
    )


def test_over_budget_the_titles_go_before_any_paper_in_full(env: jinja2.Environment) -> None:
    digest = overflowing(3, 20, 23, long_titles=True)
    full_only = render_digest(
        dataclasses.replace(digest, overflow=()), RenderSettings(subject_template="x"), env
    )
    # A budget that holds the three in full and only part of the title list.
    budget = len(full_only.html.encode()) + 3_000
    rendered = render_digest(digest, RenderSettings(subject_template="x", size_budget=budget), env)
    assert len(rendered.html.encode()) <= budget
    assert rendered.full_count == 3
    compact = len(rendered.paper_ids) - 3
    assert 0 < compact < 20
    assert rendered.paper_ids == tuple(r.paper.id for r in digest.all_papers)[: 3 + compact]
    assert f"{20 - compact} more papers matched" in rendered.html


def test_the_header_counts_earlier_matches_and_updates_apart(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    papers = [make_ranked(make_paper(i)) for i in range(1, 5)]
    papers.append(make_ranked(make_paper(5), updated=True))
    digest = dataclasses.replace(
        make_digest(papers, seen=42, matched=5),
        held_count=2,
        updated_count=1,
        sources=(SourceOutcome("arxiv", SourceState.OK, papers=57),),
        source_counts=(("arxiv", 42, 1),),
    )
    rendered = render_digest(digest, settings, env)
    for body in (rendered.html, rendered.text):
        flat = " ".join(body.replace("&#183;", "·").split())
        assert (
            "42 new papers · 2 matched your profile · 2 matches from earlier days · "
            "1 updated · 5 shown." in flat
        )
        assert "arxiv: 42 new, 1 updated" in flat
    assert rendered.subject.startswith("4 new papers, 1 updated")
