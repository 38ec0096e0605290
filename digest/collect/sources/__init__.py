"""Source parsers: one module per listing format, picked by the source's `kind`.

Every parser is a pure function `parse(data: bytes, url: str) -> tuple[Paper, ...]`: the
bytes a fetch returned in, normalised papers out (`Paper.sources` left empty for the
pipeline to stamp). Malformed or wrong-format bytes raise ParseError; a service's own error
document raises FeedErrorReported; an empty listing returns ().
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from digest.collect.sources import arxiv_api, arxiv_list, arxiv_rss, feed, hf, hf_page
from digest.errors import ConfigError
from digest.models import Paper

Parser = Callable[[bytes, str], tuple[Paper, ...]]

PARSERS: Mapping[str, Parser] = MappingProxyType(
    {
        "hf_daily": hf.parse,
        "hf_page": hf_page.parse,
        "arxiv_rss": arxiv_rss.parse,
        "arxiv_list": arxiv_list.parse,
        "arxiv_api": arxiv_api.parse,
        "feed": feed.parse,
    }
)


def get_parser(kind: str) -> Parser:
    """The parser for a source kind; ConfigError naming the known kinds if there is none."""
    try:
        return PARSERS[kind]
    except KeyError:
        known = ", ".join(sorted(PARSERS))
        raise ConfigError(f"unknown source kind {kind!r}; known kinds: {known}") from None


__all__ = ["PARSERS", "Parser", "get_parser"]
