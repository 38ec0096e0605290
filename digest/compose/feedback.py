"""Per-subscriber pieces of a digest that the shared paper blocks must not hold: the
"more like this / not for me" links under each paper, and the unsubscribe-by-mail link.

A paper's block is rendered once per day and shared by every digest that lists it
(digest.compose.render.PaperCache); the vote links are signed for one subscriber, so they
are added to a copy of the finished block instead of to the cached template output.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from markupsafe import Markup, escape

_MAILTO = re.compile(r"mailto:[^\x00-\x20\x7f\"'<>\\`]+")
_URL = re.compile(r"https?://[^\x00-\x20\x7f\"'<>\\`]+")


def safe_mailto(uri: str | None) -> str | None:
    return uri if uri and _MAILTO.fullmatch(uri) else None


def feedback_map(links: tuple[tuple[str, str, str], ...]) -> Mapping[str, tuple[str, str]]:
    """paper id -> (more like this URL, not for me URL), only URLs safe in an href."""
    return {
        paper: (up, down)
        for paper, up, down in links
        if _URL.fullmatch(up) and _URL.fullmatch(down)
    }


def with_feedback(block: str, links: tuple[str, str] | None, p_style: str, a_style: str) -> Markup:
    """The paper's HTML block with its vote links as a last line inside its cell."""
    if not links:
        return Markup(block)
    up, down = (escape(url) for url in links)
    line = (
        f'<p style="{escape(p_style)}">'
        f'<a href="{up}" style="{escape(a_style)}">More like this</a>'
        f' &middot; <a href="{down}" style="{escape(a_style)}">'
        "Not for me</a></p>\n"
    )
    head, cut, tail = str(block).rpartition("</td>")
    return Markup(head + line + cut + tail) if cut else Markup(str(block) + line)


def feedback_text(number: int, links: tuple[str, str]) -> str:
    """The vote links under a paper in the text part, indented to its number."""
    pad = " " * (len(str(number)) + 2)
    return f"{pad}More like this: {links[0]}\n{pad}Not for me:     {links[1]}\n"
