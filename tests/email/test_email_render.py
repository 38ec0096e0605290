"""render_digest: content, escaping, highlighting, text layout, subject and size budget."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import css_inline
import jinja2
import pytest
from email_helpers import (
    DAY,
    empty_digest,
    hostile_digest,
    make_digest,
    make_paper,
    make_ranked,
    many_papers_digest,
    readable,
    typical_digest,
)
from hypothesis import given
from hypothesis import strategies as st

from digest.compose.render import DEFAULT_TEMPLATE_DIR, render_digest
from digest.compose.text import cut_segments, format_authors, highlight_segments, safe_url
from digest.config.settings import DEFAULT_SUBJECT, RenderSettings
from digest.config.subject import render_subject
from digest.errors import ConfigError
from digest.models import Field, HFSignals, Match, Ranked

URL_LINE = re.compile(r"^\s*(\S+:\s+)?https?://\S+$")


class TagCollector(HTMLParser):
    """Collects tags, attributes and text of an HTML document, to assert on structure."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(html: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(html)
    return collector


# --- Pieces --------------------------------------------------------------------------------


def test_highlight_merges_overlaps_clips_and_collapses_whitespace() -> None:
    text = "Score  matching\n  for diffusion models"
    segments = highlight_segments(text, [(0, 5), (3, 15), (22, 31), (34, 99), (-5, 0)])
    assert segments == [
        ("Score matching", True),
        (" for ", False),
        ("diffusion", True),
        (" mo", False),
        ("dels", True),
    ]


def test_highlight_without_spans_is_one_plain_segment() -> None:
    assert highlight_segments("  A\ttitle \n", []) == [("A title", False)]


def test_cut_at_word_boundary_keeps_highlights() -> None:
    segments = [("We study ", False), ("score matching", True), (" on manifolds today", False)]
    cut, was_cut = cut_segments(segments, 20)
    assert was_cut
    assert cut == [("We study ", False), ("score", True), ("…", False)]
    assert cut_segments(segments, 1000) == (segments, False)


def test_cut_inside_a_giant_word() -> None:
    cut, _ = cut_segments([("x" * 50, False)], 20)
    assert "".join(t for t, _ in cut) == "x" * 20 + "…"


@given(st.text(max_size=300), st.lists(st.tuples(st.integers(-5, 320), st.integers(-5, 320))))
def test_highlight_never_loses_or_invents_words(text: str, spans: list[tuple[int, int]]) -> None:
    joined = "".join(t for t, _ in highlight_segments(text, spans))
    assert joined == " ".join(text.split())


def test_authors_et_al() -> None:
    assert format_authors(["A", "B"], 3) == "A, B"
    assert format_authors(["A", "B", "C", "D"], 3) == "A, B, C et al."
    assert format_authors([" Andr\u00e9\n M\u00fcller "], 3) == "Andr\u00e9 M\u00fcller"


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "data:text/html,x", 'https://x.org/" onclick="x', "ftp://x.org", ""],
)
def test_unsafe_urls_are_dropped(url: str) -> None:
    assert safe_url(url) is None


def test_subject_is_one_line_even_with_a_hostile_title() -> None:
    subject = render_subject(
        "{count} new: {top_title}", {"count": 2, "top_title": "X\r\nBcc: a@evil.example\u2028Y"}
    )
    assert subject == "2 new: X Bcc: a@evil.example Y"


def test_subject_template_may_be_jinja() -> None:
    settings = RenderSettings(subject_template="{{ count }} papers on {{ date.strftime('%d %b') }}")
    assert settings.subject_template.startswith("{{")
    assert (
        render_subject(
            settings.subject_template, {"count": 3, "date": __import__("datetime").date(2024, 3, 5)}
        )
        == "3 papers on 05 Mar"
    )


@pytest.mark.parametrize(
    "template",
    [
        "",
        "{nope}",
        "{count.__class__}",
        "{count:{x}}",
        "{date:%d",
        "{{ nope }}",
        "{{ ''.__class__.__mro__ }}",
    ],
)
def test_bad_subject_templates_are_config_errors(template: str) -> None:
    with pytest.raises(ConfigError):
        RenderSettings(subject_template=template)


# --- Whole digests -------------------------------------------------------------------------


def test_typical_digest_content(env: jinja2.Environment, settings: RenderSettings) -> None:
    rendered = render_digest(typical_digest(), settings, env)
    # The HTML is ASCII: non-ASCII characters are character references (as sent in 7 bits).
    assert rendered.html.isascii() and "&#183;" in rendered.html and "&#9650;" in rendered.html
    html, text = readable(rendered.html), rendered.text
    # One of the six is a new version of a paper already sent: not counted as new.
    assert rendered.subject == "5 new papers, 1 updated for you - Tue 05 Mar"
    assert rendered.paper_ids == (
        "2403.00001",
        "2403.00003",
        "2403.00002",
        "2403.00004",
        "2403.00005",
        "2403.00006",
    )
    for body in (html, text):
        assert "Tuesday 5 March 2024" in body
        assert "412 new papers · 9 matched your profile · 4 shown, 2 more listed below." in body
        # 9 matched, 6 listed: the other 3 are said to come again (they are not marked sent).
        assert (
            "3 more papers matched your profile but did not fit in this email: they are "
            "offered again in your next digest." in " ".join(body.split())
        )
        assert "Hugging Face: unreachable, will catch up" in body
        assert "arXiv: 380 new papers" in body
        assert "Zhuofeng Li, Haoxiang Zhang, Cong Wei, Pan Lu et al." in body
        assert "▲ 86 upvotes" in body
        assert "cross-list" in body and "updated v3" in body
        assert "matched: " in body or "matched:</span> " in body
        assert "Your profile: keywords: diffusion models, score matching, retrieval" in body
        assert "https://digest.example.org/unsubscribe/TOKEN123" in body
        assert "https://digest.example.org/manage/TOKEN123" in body
        assert "https://github.com/example/score-sde" in body
        assert "https://arxiv.org/pdf/2403.00003" in body
        assert "Schrödinger bridges" in body
    # Sections in order of their best paper; updated papers last; overflow compact.
    headings = (
        "Diffusion (2)\n---",
        "Retrieval (1)\n---",
        "Updated since you saw them (1)\n",
        "More papers (2)\n---",
    )
    order = [text.index(h) for h in headings]
    assert order == sorted(order)
    # Highlights sit exactly on the matched words.
    assert '<b style="background-color:' in html
    hits = re.findall(r'<b style="background-color:[^>]*>([^<]*)</b>', html)
    assert {h.lower() for h in hits} == {"score matching", "diffusion models", "retrieval"}


def test_html_is_inlined_and_has_no_scripts_or_images(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    html = render_digest(typical_digest(), settings, env).html
    doc = parse_html(html)
    tags = {t for t, _ in doc.tags}
    assert "script" not in tags and "img" not in tags and "link" not in tags
    # Only the dark-mode/phone block is a <style>; everything else is inline.
    assert [t for t, _ in doc.tags].count("style") == 1
    assert "@media (prefers-color-scheme:dark)" in html  # minified
    for tag, attrs in doc.tags:
        if tag in ("td", "p", "a", "h1", "h2") and attrs.get("class"):
            assert attrs.get("style"), f"<{tag} class={attrs['class']}> was not inlined"
    containers = [a for t, a in doc.tags if t == "table" and a.get("class") == "container"]
    assert containers and "max-width:640px" in (containers[0]["style"] or "")
    for tag, attrs in doc.tags:
        if tag == "a":
            assert (attrs["href"] or "").startswith("https://")


def four_sides(name: str, value: str) -> str:
    """'margin', '4px 0' -> 'margin:4px 0 4px 0' (CSS: a missing left is the right, a missing
    bottom the top, a missing right the top)."""
    sides = value.split()
    if name in ("margin", "padding") and 1 <= len(sides) <= 4:
        top = sides[0]
        right = sides[1] if len(sides) > 1 else top
        bottom = sides[2] if len(sides) > 2 else top
        left = sides[3] if len(sides) > 3 else right
        value = f"{top} {right} {bottom} {left}"
    return f"{name}:{value}"


def test_precomputed_styles_equal_a_full_css_inline_pass(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    """The per-path styles from digest/styles.py must be what inlining the whole document with
    css-inline would give (the slow, obvious way), for every element that carries the class
    its style was computed for (elements without one, such as highlights and links, are
    checked in a browser by test_email_looks.py). Margins and paddings are written in their
    shortest form: both sides are compared with all four sides spelled out."""
    html = render_digest(typical_digest(), settings, env).html
    css = (DEFAULT_TEMPLATE_DIR / "digest.css").read_text(encoding="utf-8")
    # A badge carries only its kind's class; its style is the path's with .badge as well.
    bare = re.sub(r' style="[^"]*"', "", html).replace('class="badge-', 'class="badge badge-')
    reference = css_inline.CSSInliner(load_remote_stylesheets=False).inline(
        bare.replace("</head>", f"<style>{css}</style></head>")
    )

    def styles(document: str) -> list[tuple[str, str]]:
        found = []
        for tag, attrs in parse_html(document).tags:
            declarations = re.sub(r",\s+", ",", (attrs.get("style") or "").replace('"', "'"))
            normalised = ";".join(
                four_sides(*(x.strip() for x in d.split(":", 1)))
                for d in declarations.split(";")
                if d.strip()
            )
            if attrs.get("class"):
                found.append((tag, normalised))
        return [(t, s) for t, s in found if t not in ("tbody", "style")]

    ours, theirs = styles(html), styles(reference)
    assert len(ours) == len(theirs)
    assert ours == theirs


def test_hostile_feed_data_is_escaped(env: jinja2.Environment, settings: RenderSettings) -> None:
    rendered = render_digest(hostile_digest(), settings, env)
    doc = parse_html(rendered.html)
    assert "script" not in {t for t, _ in doc.tags}
    assert "img" not in {t for t, _ in doc.tags}
    assert not any(k.startswith("on") for _, a in doc.tags for k in a)
    assert "&lt;script&gt;" in rendered.html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in rendered.html
    assert "javascript:" not in rendered.html and "javascript:" not in rendered.text
    assert "onmouseover" not in rendered.text  # the hostile project page was dropped
    text = "".join(doc.text)
    assert "Diffusion models Bcc: victim@evil.example <script>alert(1)</script>" in text
    assert "Eve X-Injected: yes" in text  # CR/LF in author names became a space
    # The matched term "<script>" is highlighted as text, not markup.
    assert re.search(r'<b style="background-color:[^>]*>&lt;script&gt;</b>', rendered.html)
    assert "\r" not in rendered.subject and "\n" not in rendered.subject


def test_text_part_is_wrapped_and_spells_out_links(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    text = render_digest(typical_digest(), settings, env).text
    for line in text.splitlines():
        assert len(line) <= 76 or URL_LINE.match(line), line
    assert "<" not in text.replace("<script>", "")
    assert "   Abstract:     https://arxiv.org/abs/2403.00001" in text
    assert "   Hugging Face: https://huggingface.co/papers/2403.00001" in text
    assert (
        "5. Score matching for diffusion models, part 5 [Diffusion]\n   https://arxiv.org/abs/2403.00005"
        in text
    )


def test_empty_day(env: jinja2.Environment, settings: RenderSettings) -> None:
    rendered = render_digest(empty_digest(), settings, env)
    assert "arXiv: no announcement today (holiday)" in rendered.text
    assert "Nothing matched your profile today." in rendered.text
    assert "Nothing matched your profile today." in rendered.html
    assert rendered.paper_ids == ()
    assert rendered.subject == "0 new papers for you - Tue 05 Mar"


def test_long_abstract_is_cut_at_a_word(env: jinja2.Environment) -> None:
    settings = RenderSettings(subject_template="{count}", abstract_chars=120)
    rendered = render_digest(typical_digest(), settings, env)
    html = readable(rendered.html)
    assert "Riemannian manifolds with…" in html or "manifolds…" in html
    assert re.search(r"\w…", rendered.text)


def test_spans_past_the_cut_do_not_break_markup(env: jinja2.Environment) -> None:
    paper = make_paper(1, abstract="word " * 100 + "score matching at the very end")
    spans = ((500, 514), (2, 400))
    ranked = Ranked(paper, 1.0, (Match("score matching", Field.ABSTRACT, spans=spans),), "T")
    settings = RenderSettings(subject_template="{count}", abstract_chars=50)
    html = render_digest(make_digest([ranked]), settings, env).html
    assert html.count('<b style="background-color:') == 1  # only the clipped part of the long span


def test_hf_only_paper_links(env: jinja2.Environment, settings: RenderSettings) -> None:
    paper = make_paper(
        1,
        paper_id="doi:10.1000/xyz",
        hf=HFSignals(
            upvotes=1, url="https://huggingface.co/papers/x", project_page="https://p.example.org"
        ),
    )
    text = render_digest(make_digest([make_ranked(paper)]), settings, env).text
    assert "▲ 1 upvote " in text or "▲ 1 upvote\n" in text
    assert "Project page: https://p.example.org" in text
    assert "arxiv.org/pdf" not in text


def test_render_is_deterministic(env: jinja2.Environment, settings: RenderSettings) -> None:
    assert render_digest(typical_digest(), settings, env) == render_digest(
        typical_digest(), settings, env
    )


# --- Size budget ---------------------------------------------------------------------------


def test_two_hundred_papers_fit_the_budget_with_a_compact_overflow(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    digest = many_papers_digest(200)
    rendered = render_digest(digest, settings, env)
    size = len(rendered.html.encode("utf-8"))
    assert size <= settings.size_budget
    full = rendered.html.count('class="paper text"')
    assert 5 < full < 200
    # Every paper is still listed, best first: the tail moved to "More papers".
    assert rendered.paper_ids == tuple(r.paper.id for r in digest.papers)
    assert f"({200 - full})</span></h2>" in rendered.html
    compact_links = re.findall(r'class="more-link"[^>]*>([^<]*)</a>', rendered.html)
    assert len(compact_links) == 200 - full
    assert compact_links[-1] == "Score matching for diffusion models, part 200"
    assert f"{full} shown, {200 - full} more listed below." in " ".join(rendered.text.split())
    # Adding back one more full paper would have broken the budget (it is the largest fit).
    bigger = RenderSettings(subject_template="{count}", size_budget=settings.size_budget + 8000)
    assert render_digest(digest, bigger, env).html.count('class="paper text"') > full


def test_huge_overflow_drops_the_tail_and_says_so(env: jinja2.Environment) -> None:
    settings = RenderSettings(subject_template="{count} papers", size_budget=20_000)
    digest = many_papers_digest(400)
    rendered = render_digest(digest, settings, env)
    assert len(rendered.html.encode("utf-8")) <= 20_000
    listed = len(rendered.paper_ids)
    assert 0 < listed < 400
    assert rendered.paper_ids == tuple(r.paper.id for r in digest.papers[:listed])
    assert f"{400 - listed} more papers matched your profile but did not fit" in rendered.html
    # What fits in full stays in full: only titles that do not fit are left out.
    assert rendered.html.count('class="paper text"') > 0
    assert rendered.subject == f"{listed} papers"


def test_the_hidden_preheader_is_not_coloured_like_the_background(
    env: jinja2.Environment, settings: RenderSettings
) -> None:
    # Text in the background's colour is a classic spam-filter signal, hidden or not.
    html = render_digest(typical_digest(), settings, env).html
    preheader = re.search(r'<div class="preheader" style="([^"]*)"', html)
    body = re.search(r'<body class="body" style="([^"]*)"', html)
    assert preheader and body
    colour = re.search(r"(?<![-\w])color:\s*(#[0-9a-fA-F]{3,6})", preheader.group(1))
    background = re.search(r"background-color:\s*(#[0-9a-fA-F]{3,6})", body.group(1))
    assert colour and background
    assert colour.group(1).lower() != background.group(1).lower()


def test_the_default_subject_says_paper_or_papers() -> None:

    one = render_subject(DEFAULT_SUBJECT, {"papers": "1 new paper", "date": DAY, "count": 1})
    assert one == "1 new paper for you - Tue 05 Mar"
