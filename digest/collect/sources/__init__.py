"""Source parsers: one module per listing format, picked by the source's `kind`.

Every parser is a pure function `parse(data: bytes, url: str) -> tuple[Paper, ...]`: the
bytes a fetch returned in, normalised papers out (`Paper.sources` left empty for the
pipeline to stamp). Malformed or wrong-format bytes raise ParseError; a service's own error
document raises FeedErrorReported; an empty listing returns (). Each parser in PARSERS has
its papers' fields capped (digest.collect.normalise.cap_fields), and logs what it cut.
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Iterator, Mapping

from digest.collect.normalise import cap_fields
from digest.errors import ConfigError
from digest.models import Paper
from digest.util.logs import event

Parser = Callable[[bytes, str], tuple[Paper, ...]]

log = logging.getLogger("digest.sources")


def capped(parse: Parser) -> Parser:
    """`parse`, with every paper's fields cut to their caps (digest.collect.normalise): one
    oversized item is shortened (and says so), the others are untouched."""

    @functools.wraps(parse)
    def parse_capped(data: bytes, url: str) -> tuple[Paper, ...]:
        papers = parse(data, url)
        out = []
        for paper in papers:
            kept, notes = cap_fields(paper)
            if notes:
                title = kept.title[:60] + ("..." if len(kept.title) > 60 else "")
                event(
                    log,
                    "fields_cut",
                    f"{url}: item {paper.id} ({title!r}) shortened: {'; '.join(notes)}",
                    level=logging.WARNING,
                    url=url,
                    paper=paper.id,
                    fields=list(kept.shortened),
                )
            out.append(kept)
        return tuple(out)

    return parse_capped


# kind -> the module of its parser
_MODULES = {
    "hf_daily": "hf",
    "hf_page": "hf_page",
    "arxiv_rss": "arxiv_rss",
    "arxiv_list": "arxiv_list",
    "arxiv_api": "arxiv_api",
    "feed": "feed",
}


@functools.cache
def _capped_parser(parse: Parser) -> Parser:
    return capped(parse)  # one wrapper per parser, however often it is looked up


class _Parsers(Mapping[str, Parser]):
    """Kind -> parser, each parser's module imported when it is first asked for: a run
    reading RSS and JSON never loads BeautifulSoup or feedparser."""

    def __getitem__(self, kind: str) -> Parser:
        module = importlib.import_module(f"digest.collect.sources.{_MODULES[kind]}")
        return _capped_parser(module.parse)

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


PARSERS: Mapping[str, Parser] = _Parsers()


def get_parser(kind: str) -> Parser:
    """The parser for a source kind; ConfigError naming the known kinds if there is none."""
    try:
        return PARSERS[kind]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise ConfigError(f"unknown source kind {kind!r}; known kinds: {known}") from None


__all__ = ["PARSERS", "Parser", "get_parser"]
