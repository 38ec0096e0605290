"""Source parsers: one module per listing format, picked by the source's `kind`.

Every parser is a pure function `parse(data: bytes, url: str) -> tuple[Paper, ...]`: the
bytes a fetch returned in, normalised papers out (`Paper.sources` left empty for the
pipeline to stamp). Malformed or wrong-format bytes raise ParseError; a service's own error
document raises FeedErrorReported; an empty listing returns ().
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping

from digest.errors import ConfigError
from digest.models import Paper

Parser = Callable[[bytes, str], tuple[Paper, ...]]

# kind -> the module of its parser
_MODULES = {
    "hf_daily": "hf",
    "hf_page": "hf_page",
    "arxiv_rss": "arxiv_rss",
    "arxiv_list": "arxiv_list",
    "arxiv_api": "arxiv_api",
    "feed": "feed",
}


class _Parsers(Mapping[str, Parser]):
    """Kind -> parser, each parser's module imported when it is first asked for: a run
    reading RSS and JSON never loads BeautifulSoup or feedparser."""

    def __getitem__(self, kind: str) -> Parser:
        module = importlib.import_module(f"digest.collect.sources.{_MODULES[kind]}")
        parse: Parser = module.parse
        return parse

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
