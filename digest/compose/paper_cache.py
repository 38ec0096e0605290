"""The paper cache (see PaperCache): a paper's view and rendered blocks made once and shared
by every digest that shows it, and the template globals that render a block from it."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import jinja2
from markupsafe import Markup

from digest.compose.views import PaperEntry, PaperView, paper_view
from digest.config.settings import RenderSettings
from digest.models import Ranked

# The number a paper has in one digest is the only thing its block does not share with the
# same paper in other digests: blocks are rendered with this stand-in of the same width and
# the real number is put in when a digest uses them.
_NUMBER_STAND_IN = "\x00"


def paper_block(env: jinja2.Environment, name: str, *, html: bool) -> Callable[[Any], str]:
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


class PaperCache:
    """Paper views and rendered blocks, shared by all digests rendered with one environment.

    On one day the same paper appears in many subscribers' digests, usually with the same
    highlights; its block is then rendered once. The key holds everything a block depends on
    (the paper itself, its matches, note and update flag, the settings that shape it), so a
    hit is always byte-identical to rendering afresh. Bounded: oldest entries go first.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: dict[Hashable, PaperEntry] = {}
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
            entry = self._entries[key] = PaperEntry(view)
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


def _numbered(view: PaperView, number: int, entry: PaperEntry | None) -> PaperView:
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
