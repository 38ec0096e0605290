"""The shortcuts that make composing cheap give exactly what the plain way gives.

- Paper blocks cached across digests (render.PaperCache) render byte-identical digests to
  rendering every block afresh, whatever the number, highlights or settings.
- The line-by-line MIME encoders equal a straightforward whole-text encoding (the oracles
  below restate the plain algorithms).
"""

from __future__ import annotations

import binascii
import dataclasses
import re
from collections.abc import Callable

import jinja2
import pytest
from email_helpers import (
    hostile_digest,
    make_digest,
    make_paper,
    make_ranked,
    many_papers_digest,
    readable,
    typical_digest,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from digest.compose import mail, render
from digest.compose.render import PaperCache, make_environment, render_digest
from digest.compose.text import wrap_text
from digest.config.settings import RenderSettings
from digest.config.subject import render_subject
from digest.models import Digest, Ranked


def uncached_environment() -> jinja2.Environment:
    env = make_environment()
    env.extend(paper_cache=None)  # render_digest then renders every block afresh
    return env


PLAIN = uncached_environment()


def assert_same(digest: Digest, settings: RenderSettings, env: jinja2.Environment) -> None:
    assert render_digest(digest, settings, env) == render_digest(digest, settings, PLAIN)


def with_votes(digest: Digest) -> Digest:
    links = tuple(
        (r.paper.id, f"https://d.example.org/vote/{i}u", f"https://d.example.org/vote/{i}d")
        for i, r in enumerate(digest.papers)
    )
    return dataclasses.replace(digest, feedback=links)


# --- Paper cache ---------------------------------------------------------------------------


def test_cached_blocks_render_like_fresh_ones(settings: RenderSettings) -> None:
    env = make_environment()
    long_list = make_digest(
        [make_ranked(make_paper(i), score=100 - i) for i in range(1, 8)],
        overflow=[make_ranked(make_paper(i), score=50 - i, topic="") for i in range(8, 20)],
    )
    digests = (typical_digest(), hostile_digest(), many_papers_digest(14), long_list)
    for digest in (*digests, with_votes(long_list)):
        assert_same(digest, settings, env)
        assert_same(digest, settings, env)  # the second time every block comes from the cache
    cache = env.paper_cache  # type: ignore[attr-defined]
    assert cache.hits > 0 and cache.misses > 0


def test_same_paper_at_other_positions_gets_its_own_number(settings: RenderSettings) -> None:
    """Numbers 3 and 12 (another width: the text part indents by it) from one cached paper."""
    env = make_environment()
    shared = make_ranked(make_paper(99, title="A shared paper on diffusion models"), score=50)
    fillers = [make_ranked(make_paper(i), score=100 - i) for i in range(1, 12)]
    early = make_digest([*fillers[:2], shared])
    late = make_digest([*fillers, shared])
    for digest in (early, late, early):
        assert_same(digest, settings, env)
    text = render_digest(late, settings, env).text
    assert "\n12. A shared paper on diffusion models\n" in text
    assert "\n    Ada Lovelace, Alan Turing\n" in text  # indented to the two-digit number
    # The same in the compact list, as the 12th and as the 3rd.
    listed = make_digest(fillers[:3], overflow=[*fillers[3:], shared])  # 12th, by title only
    assert_same(listed, settings, env)
    assert_same(make_digest(fillers[:2], overflow=[shared]), settings, env)  # 3rd, by title
    compact_text = render_digest(listed, settings, env).text
    assert "\n12. A shared paper on diffusion models [Diffusion]\n    https://" in compact_text


def test_other_highlights_or_settings_are_other_entries(settings: RenderSettings) -> None:
    env = make_environment()
    paper = make_paper(1)
    by_diffusion = make_digest([make_ranked(paper, terms=("diffusion models",))])
    by_sampling = make_digest([make_ranked(paper, terms=("sampling",))])
    updated = make_digest([make_ranked(paper, terms=("sampling",), updated=True)])
    short = RenderSettings(subject_template="{count}", abstract_chars=60, max_authors=1)
    for digest in (by_diffusion, by_sampling, updated):
        for chosen in (settings, short):
            assert_same(digest, chosen, env)
    html = render_digest(by_sampling, settings, env).html
    assert re.search(r'<b style="background-color:[^>]*>sampling</b>', html)
    assert not re.search(r'<b style="background-color:[^>]*>diffusion models</b>', html)
    assert len(env.paper_cache) == 6  # type: ignore[attr-defined]


def test_a_paper_holding_the_number_stand_in_is_rendered_uncached(
    settings: RenderSettings,
) -> None:
    env = make_environment()
    odd = make_ranked(make_paper(1, title="Diffusion models\x00\x00 with NULs"))
    digest = make_digest([make_ranked(make_paper(2), score=5), odd])
    assert_same(digest, settings, env)
    assert_same(digest, settings, env)
    assert "2. Diffusion models\x00\x00 with NULs" in render_digest(digest, settings, env).text


def test_cache_is_bounded(settings: RenderSettings) -> None:
    cache = PaperCache(max_entries=5)
    papers: list[Ranked] = [make_ranked(make_paper(i)) for i in range(1, 20)]
    for number, ranked in enumerate(papers, 1):
        view = cache.view(ranked, number, settings)
        assert view.number == number and view.id == ranked.paper.id
    assert len(cache) == 5


def test_over_budget_the_guided_search_picks_what_bisecting_picks() -> None:
    """The layout search starts from the blocks' sizes (render._Estimate) instead of
    bisecting from scratch: for every budget it must land on the same layout, so the same
    email, as rendering every candidate does (the uncached environment bisects)."""
    env = make_environment()
    full = [make_ranked(make_paper(i), score=100 - i) for i in range(1, 13)]
    extra = [make_ranked(make_paper(i, title=f"Also {i}"), score=50 - i) for i in range(13, 30)]
    digest = make_digest(full, overflow=extra, matched=40)
    whole = len(render_digest(digest, RenderSettings(subject_template="x"), PLAIN).html.encode())
    for case in (digest, with_votes(digest)):
        for budget in range(10_000, whole + 2_000, 997):
            chosen = RenderSettings(subject_template="{count} papers", size_budget=budget)
            rendered = render_digest(case, chosen, env)
            assert rendered == render_digest(case, chosen, PLAIN), budget
            assert len(readable(rendered.html).encode()) <= budget or rendered.full_count == 0


def layout_size(digest: Digest, settings: RenderSettings, full: int, compact: int) -> int:
    """A layout's HTML size the plain way: every block rendered afresh and joined."""
    listed = len((digest.papers + digest.overflow)[: full + compact])
    subject = render_subject(settings.subject_template, {"count": listed})
    layout = render._Layout(full, compact)
    context = render._context(digest, settings, layout, subject, None)
    html, _size = render._render_html(PLAIN, context)
    return len(readable(html).encode("utf-8"))  # the characters as they are, in UTF-8


def exhaustive_layout(digest: Digest, settings: RenderSettings) -> tuple[int, int]:
    """render_digest's rule, every candidate rendered and the largest fitting one taken by
    trying them all (no bisection, no estimate, no measuring)."""
    sizes: dict[tuple[int, int], int] = {}

    def fits(full: int, compact: int) -> bool:
        if (full, compact) not in sizes:
            sizes[full, compact] = layout_size(digest, settings, full, compact)
        return sizes[full, compact] <= settings.size_budget

    def largest(low: int, high: int, ok: Callable[[int], bool]) -> int:
        return max(n for n in range(low, high + 1) if n == low or ok(n))

    full, total = len(digest.papers), len(digest.papers) + len(digest.overflow)
    if fits(full, total - full):
        return full, total - full
    keep = full
    if not fits(full, 0):
        if fits(0, full):
            full = largest(0, full, lambda n: fits(n, keep - n))
        else:
            full = keep = largest(0, full, lambda n: fits(n, 0))
    return full, largest(keep - full, total - full, lambda n: fits(full, n))


@pytest.mark.parametrize("sizes", [(3, 4), (12, 17), (25, 20)])
def test_over_budget_the_measured_search_picks_what_trying_every_layout_picks(
    sizes: tuple[int, int],
) -> None:
    """Over budget, the layouts on the way are measured (blocks' sizes plus the template
    without them) and only the chosen one is rendered: for digests of several sizes, with
    and without vote links, and budgets from nothing fitting to everything fitting, the email
    is the one that trying every layout rendered in full would choose."""
    shown, more = sizes
    full = [
        make_ranked(make_paper(i, abstract=make_paper(i).abstract * (1 + i % 3)), score=99 - i)
        for i in range(1, shown + 1)
    ]
    extra = [
        make_ranked(make_paper(i, title=f"Also number {i}"), score=40 - i / 100, topic="")
        for i in range(shown + 1, shown + more + 1)
    ]
    digest = make_digest(full, overflow=extra, matched=shown + more + 7)
    plain = RenderSettings(subject_template="{count} papers")
    whole = layout_size(digest, plain, shown, more)
    env = make_environment()
    for case in (digest, with_votes(digest)):
        for budget in range(10_000, whole + 3_000, max(1, whole // 9)):
            chosen = dataclasses.replace(plain, size_budget=budget)
            rendered = render_digest(case, chosen, env)
            listed = len(rendered.paper_ids) - rendered.full_count
            assert (rendered.full_count, listed) == exhaustive_layout(case, chosen), budget
            assert rendered == render_digest(case, chosen, PLAIN), budget


def test_a_measured_size_is_the_rendered_size(settings: RenderSettings) -> None:
    """What the search compares with the budget is exactly the size of the email it would
    send, for every layout (votes, hostile text, the compact list, no paper at all)."""
    env = make_environment()
    for digest in (with_votes(typical_digest()), hostile_digest(), many_papers_digest(6)):
        total = len(digest.papers) + len(digest.overflow)
        for full in range(len(digest.papers) + 1):
            for compact in range(total - full + 1):
                layout = render._Layout(full, compact)
                cache = env.paper_cache  # type: ignore[attr-defined]
                context = render._context(digest, settings, layout, "A subject", cache)
                html, size = render._render_html(env, context)
                assert size == len(readable(html).encode("utf-8"))
                assert render._measure(env, context) == size


# --- MIME encoders -------------------------------------------------------------------------


def html_7bit_oracle(html_text: str) -> str | None:
    """The plain algorithm: encode, then pack words greedily into lines of at most 990.
    A <pre>-like tag is looked for in the encoded text (tag names are ASCII; one followed
    by a non-ASCII character, `<preé`, is taken for one: the safe side, quoted-printable)."""
    text = html_text.encode("ascii", "xmlcharrefreplace").decode("ascii")
    if re.search(r"<(pre|textarea|plaintext|xmp)\b", text, re.IGNORECASE):
        return None
    lines: list[str] = []
    current = ""
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        for word in line.split(" ") if len(line) > 990 else [line]:
            if len(word) > 990:
                return None
            if current and len(current) + 1 + len(word) > 990:
                lines.append(current)
                current = word
            else:
                current = f"{current} {word}" if current else word
    lines.append(current)
    return "\r\n".join(lines)


def qp_oracle(text: str) -> str:
    unix = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(unix.encode("utf-8"), istext=True).decode("ascii").replace("\n", "\r\n")


PIECES = st.sampled_from(
    ["a", "bc", " ", "  ", "\n", "\n\n", "\r\n", "\r", "é", "★", "=", ".", "\t", "<PrE>", "<pre"]
)
LONG = st.integers(min_value=1, max_value=1100).map(lambda n: "x" * n)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(PIECES, LONG, PIECES), max_size=40))
def test_html_7bit_matches_the_plain_packing(parts: list[str]) -> None:
    html_text = "".join(parts)
    assert mail._html_7bit(html_text) == html_7bit_oracle(html_text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(PIECES, LONG), max_size=40))
def test_quoted_printable_matches_whole_text_encoding(parts: list[str]) -> None:
    text = "".join(parts)
    assert mail._qp_body(text) == qp_oracle(text)
    assert mail._qp_body(text) == qp_oracle(text)


@pytest.mark.parametrize("digest", [typical_digest(), hostile_digest(), many_papers_digest(20)])
def test_real_digests_encode_like_the_oracles(
    digest: Digest, settings: RenderSettings, env: jinja2.Environment
) -> None:
    rendered = render_digest(digest, settings, env)
    assert mail._html_7bit(rendered.html) == html_7bit_oracle(rendered.html)
    assert mail._qp_body(rendered.text) == qp_oracle(rendered.text)


def test_memos_are_bounded_and_keep_giving_the_same_bytes() -> None:
    for rounds in range(3):
        lines = (f"line {i} é" + "\n" * (i % 3) for i in range(rounds, mail._MEMO_ENTRIES * 3))
        text = "\n".join(lines)
        assert mail._qp_body(text) == qp_oracle(text)
        assert mail._html_7bit(text) == html_7bit_oracle(text)
    for memo in (mail._qp_memo, mail._qp_older):
        assert len(memo) <= mail._MEMO_ENTRIES


# --- Wrapping ------------------------------------------------------------------------------


def wrap_oracle(text: str, width: int, indent: str, first: str | None) -> str:
    """The plain greedy fill, word by word."""
    lines: list[str] = []
    current, empty = (indent if first is None else first), True
    for word in text.split():
        if not empty and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = indent + word
        else:
            current = current + word if empty else current + " " + word
        empty = False
    return "" if empty else "\n".join([*lines, current])


WORDS = st.sampled_from(["a", "bb", "word", "x" * 30, "y" * 90, " ", "  ", "\n", "\t", "é★"])


@settings(max_examples=500, deadline=None)
@given(
    st.lists(WORDS, max_size=60),
    st.integers(min_value=1, max_value=100),
    st.sampled_from(["", "  ", "     ", " " * 80]),
    st.sampled_from([None, "", "1. ", "12. ", "Sources: ", "z" * 90]),
)
def test_wrap_text_fills_like_the_word_by_word_fill(
    parts: list[str], width: int, indent: str, first: str | None
) -> None:
    text = "".join(parts)
    assert wrap_text(text, width, indent, first) == wrap_oracle(text, width, indent, first)
