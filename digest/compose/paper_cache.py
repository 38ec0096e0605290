"""The paper cache (see PaperCache): a paper's views and rendered blocks made once and shared
by every digest that shows it, and the template globals (Block) that render a block from it."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import jinja2
from markupsafe import Markup

from digest.compose.views import BlockEntry, CompactView, PaperView, compact_view, paper_view
from digest.config.settings import RenderSettings
from digest.models import Ranked

# The number a paper has in one digest is the only thing its block does not share with the
# same paper in other digests: blocks are rendered with this stand-in of the same width and
# the real number is put in when a digest uses them.
_NUMBER_STAND_IN = "\x00"


def render_fast(env: jinja2.Environment, name: str, values: dict[str, Any]) -> str:
    """`env.get_template(name).render(values)`, the same output, for the renders done per
    message and per paper: Jinja's render copies the template's globals out of a ChainMap
    key by key in Python on every call; here they are merged into `values` as a plain dict
    (in C) and passed as the whole context (shared=True means: nothing is added)."""
    template = env.get_template(name)
    context = template.new_context({**env.globals, **values}, shared=True)
    try:
        return env.concat(template.root_render_func(context))
    except Exception:
        env.handle_exception()  # raises, with the template's line in the traceback


def as_ascii(html: str) -> str:
    """HTML text with every non-ASCII character as a numeric character reference (&#183;),
    the form the 7-bit part of the message sends it in (digest.compose.mail). A digest's
    HTML is made so from its pieces: Python's str operations (joins, encoding, searches)
    are several times faster on a str that is all ASCII, and one `·` in 65 kB of HTML
    would make the whole email a wide str, which the MIME step then converted again."""
    return html.encode("ascii", "xmlcharrefreplace").decode("ascii")


# While render_ascii runs: how many bytes the references made so far outweigh their
# characters in UTF-8. The size budget counts the HTML in UTF-8, as before it was written
# in ASCII; the blocks add what their cached references outweigh.
_EXCESS: ContextVar[list[int] | None] = ContextVar("digest_html_excess", default=None)


def _add_excess(bytes_: int) -> None:
    excess = _EXCESS.get()
    if excess is not None:
        excess[0] += bytes_


def render_ascii(env: jinja2.Environment, name: str, values: dict[str, Any]) -> tuple[str, int]:
    """render_fast for HTML, written in ASCII (as_ascii, piece by piece), and the size in
    UTF-8 bytes of the same HTML with its characters as they were."""
    template = env.get_template(name)
    context = template.new_context({**env.globals, **values}, shared=True)
    excess = [0]
    token = _EXCESS.set(excess)
    try:
        pieces = []
        for piece in template.root_render_func(context):
            if not piece.isascii():
                written = as_ascii(piece)
                excess[0] += len(written) - len(piece.encode("utf-8"))
                piece = written
            pieces.append(piece)
    except Exception:
        env.handle_exception()  # raises, with the template's line in the traceback
    finally:
        _EXCESS.reset(token)
    html = "".join(pieces)
    return html, len(html) - excess[0]


class Block:
    """A template global rendering one block (the partial `name`, given the view as `var`
    and its `number` as text), from the paper cache when the view came from it; an HTML
    block in ASCII (as_ascii). `size` tells the block's UTF-8 length without joining it:
    what the size budget adds up."""

    def __init__(self, env: jinja2.Environment, name: str, var: str, *, html: bool) -> None:
        self.env = env
        self.name = name
        self.var = var
        self.html = html

    def _render(self, view: Any, number: str) -> str:
        return render_fast(self.env, self.name, {self.var: view, "number": number})

    def _pieces(self, entry: BlockEntry, width: int) -> tuple[str, ...]:
        blocks = entry.html if self.html else entry.text
        pieces = blocks.get(width)
        if pieces is None:
            stand_in = _NUMBER_STAND_IN * width
            block = self._render(entry.view, stand_in)
            size = len(block.encode("utf-8"))  # a number weighs what its stand-in does
            entry.sizes[self.html, width] = size
            if self.html:
                block = as_ascii(block)
                entry.excess[width] = len(block) - size
            pieces = blocks[width] = tuple(block.split(stand_in))
        return pieces

    def plain(self, view: PaperView | CompactView) -> str:
        """The block as a plain str (what __call__ returns, not yet marked safe)."""
        number = str(view.number)
        entry = view.entry
        if entry is None:
            block = self._render(view, number)
            if self.html and not block.isascii():
                written = as_ascii(block)
                _add_excess(len(written) - len(block.encode("utf-8")))
                block = written
            return block
        pieces = (entry.html if self.html else entry.text).get(len(number))
        block = number.join(pieces or self._pieces(entry, len(number)))
        if self.html:
            _add_excess(entry.excess[len(number)])
        return block

    def __call__(self, view: PaperView | CompactView) -> str:
        out = self.plain(view)
        return Markup(out) if self.html else out

    def size(self, view: PaperView | CompactView) -> int:
        entry = view.entry
        if entry is None:
            return len(self._render(view, str(view.number)).encode("utf-8"))
        width = len(str(view.number))
        size = entry.sizes.get((self.html, width))
        if size is None:
            self._pieces(entry, width)
            size = entry.sizes[self.html, width]
        return size


class Listing:
    """A template global: the blocks of a list of views one after another, as the template
    would lay them out with a loop, and under each paper its vote links when `feedback`
    (paper id -> links) holds them. One call per section instead of a template loop calling
    a block per paper: Jinja's call machinery costs more than joining cached blocks."""

    def __init__(
        self, block: Block, votes: Callable[[str, PaperView, tuple[str, str]], str]
    ) -> None:
        self.block = block
        self.votes = votes

    def __call__(
        self,
        views: Sequence[PaperView | CompactView],
        feedback: Mapping[str, tuple[str, str]] | None = None,
    ) -> str:
        block = self.block
        html = block.html
        # Block.plain inlined for the cached views (a call per block costs about what the
        # join does); marked safe once, as a whole, not block by block.
        out = []
        excess = 0
        for view in views:
            entry = view.entry
            if entry is not None:
                number = str(view.number)
                pieces = (entry.html if html else entry.text).get(len(number))
                if pieces is not None:
                    out.append(number.join(pieces))
                    if html:
                        excess += entry.excess[len(number)]
                    continue
            out.append(block.plain(view))
        if feedback:
            for at, view in enumerate(views):
                links = feedback.get(view.id)
                if links is not None:
                    out[at] = self.votes(out[at], view, links)  # type: ignore[arg-type]
                    if html and not out[at].isascii():
                        written = as_ascii(out[at])
                        excess += len(written) - len(out[at].encode("utf-8"))
                        out[at] = written
        if excess:
            _add_excess(excess)
        if not html:
            return "".join(out)
        return Markup("\n".join(out) + "\n") if out else Markup("")

    def size(
        self,
        views: Sequence[PaperView | CompactView],
        feedback: Mapping[str, tuple[str, str]] | None = None,
    ) -> int:
        """The UTF-8 length of what an HTML listing of `views` returns, without joining it:
        each block's size, a newline after each, and each vote line (inserted whole)."""
        size = sum(map(self.block.size, views)) + len(views)
        if feedback:
            for view in views:
                links = feedback.get(view.id)
                if links is not None:
                    line = self.votes("", view, links)  # type: ignore[arg-type]
                    size += len(line.encode("utf-8"))
        return size


class Meter:
    """Stands in for an HTML Listing when only the size of an email is wanted: it returns
    nothing and adds up what the listing would have returned (Listing.size). The email's
    size is then the skeleton's (the template without its blocks, a few kB) plus `size`:
    exact, at a fraction of joining and encoding every block."""

    def __init__(self, listing: Listing) -> None:
        self.listing = listing
        self.size = 0

    def __call__(
        self,
        views: Sequence[PaperView | CompactView],
        feedback: Mapping[str, tuple[str, str]] | None = None,
    ) -> Markup:
        self.size += self.listing.size(views, feedback)
        return Markup("")


class PaperCache:
    """Paper views and rendered blocks, shared by all digests rendered with one environment.

    On one day the same paper appears in many subscribers' digests, usually with the same
    highlights; its block is then rendered once. The key holds everything a block depends on
    (the paper itself, its matches, note and update flag, the settings that shape it), so a
    hit is always byte-identical to rendering afresh. The paper is keyed by identity (every
    digest of a run shares the day index's Paper objects; hashing a whole paper per use
    would cost more than the look-up saves), and each entry holds its paper, so an id in
    the cache is never reused. Bounded: oldest entries go first.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: dict[Hashable, BlockEntry] = {}
        # The same entries found by the identity of the paper and its Match objects (the
        # ranking hands every digest the same ones: rank/hits.py), which is cheaper than
        # hashing the matches by value; each holds its matches, so their ids stay theirs.
        self._by_identity: dict[Hashable, tuple[tuple[object, ...], BlockEntry]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def view(self, ranked: Ranked, number: int, settings: RenderSettings) -> PaperView:
        matches = ranked.matches
        identity = (
            id(ranked.paper),
            *map(id, matches),
            ranked.note,
            ranked.updated,
            settings.abstract_chars,
            settings.max_authors,
        )
        known = self._by_identity.get(identity)
        if known is not None and known[1].paper is ranked.paper:
            self.hits += 1
            return known[1].view_at(number)  # type: ignore[return-value]
        view = self._view_by_value(ranked, number, settings)
        if view.entry is not None:
            self._by_identity[identity] = (matches, view.entry)
            if len(self._by_identity) > 2 * self.max_entries:
                del self._by_identity[next(iter(self._by_identity))]
        return view

    def _view_by_value(self, ranked: Ranked, number: int, settings: RenderSettings) -> PaperView:
        key = (
            id(ranked.paper),
            ranked.matches,
            ranked.note,
            ranked.updated,
            settings.abstract_chars,
            settings.max_authors,
        )
        entry = self._entries.get(key)
        if entry is None or entry.paper is not ranked.paper:
            self.misses += 1
            view = paper_view(ranked, 0, settings)
            if _NUMBER_STAND_IN in _view_text(view):
                return view.numbered(number, None)  # cannot be split safely: no cache
            entry = self._store(key, BlockEntry(ranked.paper, view))
        else:
            self.hits += 1
        return entry.view_at(number)  # type: ignore[return-value]

    def compact(self, ranked: Ranked, number: int) -> CompactView:
        """The paper as one line of the compact list (it depends on the paper and topic)."""
        key = (id(ranked.paper), ranked.topic)
        entry = self._entries.get(key)
        if entry is None or entry.paper is not ranked.paper:
            view = compact_view(ranked, 0)
            if _NUMBER_STAND_IN in view.title + view.topic + (view.url or ""):
                return compact_view(ranked, number)
            entry = self._store(key, BlockEntry(ranked.paper, view))
        return entry.view_at(number)  # type: ignore[return-value]

    def _store(self, key: Hashable, entry: BlockEntry) -> BlockEntry:
        self._entries[key] = entry
        if len(self._entries) > self.max_entries:
            del self._entries[next(iter(self._entries))]
        return entry


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
