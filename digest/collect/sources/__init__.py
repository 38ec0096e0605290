"""Source parsers: one module per listing format, picked by the source's `kind`.

Every parser is a pure function `parse(data: bytes, url: str) -> tuple[Paper, ...]`: the
bytes a fetch returned in, normalised papers out (`Paper.sources` left empty for the
pipeline to stamp). Malformed or wrong-format bytes raise ParseError; a service's own error
document raises FeedErrorReported; an empty listing returns (). Each parser in PARSERS has
its papers' fields capped (digest.collect.normalise.cap_fields), and logs what it cut.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType

from digest.collect.normalise import cap_fields
from digest.collect.sources import arxiv_api, arxiv_list, arxiv_rss, feed, hf, hf_page
from digest.errors import ConfigError
from digest.models import Paper
from digest.util.logs import event

Parser = Callable[[bytes, str], tuple[Paper, ...]]

log = logging.getLogger("digest.sources")


def capped(parse: Parser) -> Parser:
    """`parse`, with every paper's title, abstract and authors cut to their caps: one
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


PARSERS: Mapping[str, Parser] = MappingProxyType(
    {
        kind: capped(parse)
        for kind, parse in {
            "hf_daily": hf.parse,
            "hf_page": hf_page.parse,
            "arxiv_rss": arxiv_rss.parse,
            "arxiv_list": arxiv_list.parse,
            "arxiv_api": arxiv_api.parse,
            "feed": feed.parse,
        }.items()
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
