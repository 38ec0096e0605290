"""Text pieces for the digest: wrapping lines for the text part, highlighted runs of a
title or abstract (and cutting them short), and small formatters that make feed data safe to
print (one line, author lists, checked URLs)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from markupsafe import Markup, escape

TEXT_WIDTH = 76


def wrap_text(
    text: str, width: int = TEXT_WIDTH, indent: str = "", first: str | None = None
) -> str:
    """Fill one paragraph greedily; a word longer than the line (a URL) gets a line of its own
    and is never broken. (textwrap does the same but costs ~10x more per call.)

    Greedy filling puts on each line the longest run of whole words that fits, so each
    line is cut at the last space within reach (str.rfind, in C) rather than word by word;
    a line with no space within reach takes its first word alone."""
    words = text.split()
    if not words:
        return ""
    rest = " ".join(words)
    prefix = indent if first is None else first
    lines: list[str] = []
    while True:
        room = width - len(prefix)
        if len(rest) <= room:
            lines.append(prefix + rest)
            return "\n".join(lines)
        cut = rest.rfind(" ", 0, room + 1) if room > 0 else -1
        if cut <= 0:  # the first word alone is longer than the room left
            cut = rest.find(" ")
            if cut < 0:
                lines.append(prefix + rest)
                return "\n".join(lines)
        lines.append(prefix + rest[:cut])
        rest = rest[cut + 1 :]
        prefix = indent


def wrap_paragraphs(text: str, width: int = TEXT_WIDTH, indent: str = "") -> str:
    """Fill each blank-line-separated paragraph of (Markdown) text on its own."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n\n".join(wrap_text(p, width, indent) for p in paragraphs)


def text_heading(title: str, count: int, width: int = TEXT_WIDTH) -> str:
    """A section title underlined with dashes, for the text part ('=' would cost 3 bytes each
    in quoted-printable)."""
    head = wrap_text(f"{title} ({count})", width)
    return head + "\n" + "-" * min(width, max(len(line) for line in head.splitlines()))


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
    """Escaped text with the highlighted runs in <b style="...">: no class, the dark-mode
    rules find them as the only <b> of a paper's cell."""
    opening = f'<b style="{escape(style)}">'
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


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
