"""huggingface.co/papers (HTML): the Daily Papers page, for when the API is unavailable.

The page embeds the same items as the API, HTML-escaped, in the `data-props` attribute of
`<div class="SVELTE_HYDRATER contents" data-target="DailyPapers">`; the HTML parser unescapes
the attribute, and the items go through the API parser's item reader.
"""

from __future__ import annotations

import json

from bs4.filter import SoupStrainer

from digest.collect.sources._common import attribute, load_html, looks_like_html, snippet
from digest.collect.sources.hf import papers_from_items
from digest.errors import ParseError
from digest.models import Paper

_EXPECTED = "a Hugging Face papers page with DailyPapers data"
# Only the element holding the data is built, not the rest of the page.
_ONLY_HOLDER = SoupStrainer(attrs={"data-target": "DailyPapers", "data-props": True})


def parse(data: bytes, url: str) -> tuple[Paper, ...]:
    if not looks_like_html(data) and data.lstrip()[:1] in (b"[", b"{"):
        raise ParseError(f"expected {_EXPECTED} but got JSON: {snippet(data)!r}", url=url)
    soup = load_html(data, url, _EXPECTED, only=_ONLY_HOLDER)
    holder = soup.find(None, {"data-target": "DailyPapers", "data-props": True})
    if holder is None:
        raise ParseError(
            f'expected {_EXPECTED} but found no data-target="DailyPapers" element '
            f"(page starts {snippet(data)!r})",
            url=url,
        )
    raw = attribute(holder, "data-props")
    try:
        props = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise ParseError(
            f"the DailyPapers data-props attribute is not valid JSON ({err})", url=url
        ) from err
    items = props.get("dailyPapers") if isinstance(props, dict) else None
    if not isinstance(items, list):
        raise ParseError("the DailyPapers data-props JSON has no 'dailyPapers' list", url=url)
    return papers_from_items(items, url)
