"""The Jinja environment the digest templates render in: where the templates are, the
filters and globals they use, the stylesheet inlined once, and the paper cache."""

from __future__ import annotations

from pathlib import Path

import jinja2

from digest.compose.feedback import feedback_text, with_feedback
from digest.compose.paper_cache import Block, Listing, PaperCache
from digest.compose.styles import InlineStyleLoader, StyleSheet
from digest.compose.text import highlight_html, text_heading, wrap_paragraphs, wrap_text

DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates"
HTML_TEMPLATE = "digest.html.j2"
TEXT_TEMPLATE = "digest.txt.j2"
PAPER_HTML_TEMPLATE = "partials/paper.html.j2"
PAPER_TEXT_TEMPLATE = "partials/paper.txt.j2"
COMPACT_HTML_TEMPLATE = "partials/compact.html.j2"
COMPACT_TEXT_TEMPLATE = "partials/compact.txt.j2"
STYLESHEET = "digest.css"


def _no_votes(block: str, _view: object, _links: object) -> str:
    return block


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
        # Compiling the templates costs more than a preview's ranking: keep the compiled
        # code (keyed by each template's source) in the user's private temp folder.
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
    )
    env.filters["wrap"] = wrap_text
    env.filters["wrap_paragraphs"] = wrap_paragraphs
    env.filters["heading"] = text_heading
    env.filters["highlight"] = highlight_html
    env.filters["with_feedback"] = with_feedback
    # The light-mode stylesheet is inlined per element path once, when templates load, not
    # per message (see digest/compose/styles.py).
    sheet = StyleSheet(files.get_source(env, STYLESHEET)[0])
    env.loader = InlineStyleLoader(files, sheet)
    env.globals["css"] = sheet
    env.filters["inline_css"] = sheet.fragment
    cache = PaperCache()
    env.extend(paper_cache=cache)
    # Each paper's block (partials/), rendered once per paper and day and shared; the lists
    # of them, one call per list (see Listing); the vote links' styles looked up once here.
    paper_html = Block(env, PAPER_HTML_TEMPLATE, "p", html=True)
    paper_text = Block(env, PAPER_TEXT_TEMPLATE, "p", html=False)
    compact_html = Block(env, COMPACT_HTML_TEMPLATE, "c", html=True)
    compact_text = Block(env, COMPACT_TEXT_TEMPLATE, "c", html=False)
    p_style, a_style = sheet("p.feedback"), sheet("a.feedback-link")
    env.globals.update(
        paper_html=paper_html,
        paper_text=paper_text,
        compact_html=compact_html,
        compact_text=compact_text,
        paper_list_html=Listing(
            paper_html, lambda block, _view, links: with_feedback(block, links, p_style, a_style)
        ),
        paper_list_text=Listing(
            paper_text, lambda block, view, links: block + feedback_text(view.number, links)
        ),
        compact_list_html=Listing(compact_html, _no_votes),
        compact_list_text=Listing(compact_text, _no_votes),
    )
    return env
