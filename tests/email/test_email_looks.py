"""The smaller HTML looks the same as the larger one it replaced, in a real browser.

tests/email/looks/ holds the HTML the renderer made for three digests before the message was
made smaller (commit e4e473b: a class on every element, every highlight `<b class="hit">`, a
dark-mode stylesheet with its white space, four-value paddings). Debian's headless Chromium
(driven by Playwright, as tests/web does) loads that and today's rendering of the same digests,
in light and dark mode, at a desktop and a phone width, and finds the same computed style on
every element, in the same order, and the same pixels.

If a test helper's digest changes on purpose, the reference no longer matches: render it again
with the old templates, not the new ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import jinja2
import pytest
from email_helpers import empty_digest, hostile_digest, typical_digest
from playwright.sync_api import Browser, Page
from support.chromium import chromium

from digest.compose.render import render_digest
from digest.config.settings import RenderSettings
from digest.models import Digest

LOOKS = Path(__file__).parent / "looks"


def with_votes(digest: Digest) -> Digest:
    links = tuple(
        (r.paper.id, f"https://d.example.org/vote/{i}u", f"https://d.example.org/vote/{i}d")
        for i, r in enumerate(digest.papers)
    )
    return dataclasses.replace(digest, feedback=links)


CASES: dict[str, Callable[[], Digest]] = {
    "typical": lambda: with_votes(typical_digest()),
    "hostile": hostile_digest,
    "empty": empty_digest,
}

# Every element of the body in document order: its tag, its text of its own (not its
# children's) and every computed property. Class names and style attributes are left out:
# they are what changed.
ELEMENTS = """() => [...document.body.querySelectorAll('*')].concat([document.body]).map(el => {
    const style = getComputedStyle(el);
    const props = {};
    for (const name of style) props[name] = style.getPropertyValue(name);
    const own = [...el.childNodes].filter(n => n.nodeType === 3).map(n => n.data).join('');
    return {tag: el.tagName, text: own.replace(/\\s+/g, ' '), props};
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def look(page: Page, html: str) -> tuple[list[dict[str, object]], bytes]:
    page.set_content(html)
    return page.evaluate(ELEMENTS), page.screenshot(full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_the_smaller_html_looks_like_the_one_before(
    name: str,
    scheme: str,
    browser: Browser,
    env: jinja2.Environment,
    settings: RenderSettings,
) -> None:
    before = (LOOKS / f"{name}.html").read_text(encoding="utf-8")
    now = render_digest(CASES[name](), settings, env).html
    assert len(now.encode("utf-8")) < len(before.encode("utf-8"))
    for width in (640, 390):
        context = browser.new_context(
            viewport={"width": width, "height": 800},
            color_scheme=scheme,  # type: ignore[arg-type]
        )
        try:
            page = context.new_page()
            old_elements, old_pixels = look(page, before)
            new_elements, new_pixels = look(page, now)
        finally:
            context.close()
        assert len(new_elements) == len(old_elements), f"{name}: elements added or lost"
        for at, (old, new) in enumerate(zip(old_elements, new_elements, strict=True)):
            where = f"{name}, {scheme}, {width}px, element {at} <{old['tag']}> {old['text']!r}"
            assert (new["tag"], new["text"]) == (old["tag"], old["text"]), where
            old_props, new_props = old["props"], new["props"]
            assert isinstance(old_props, dict) and isinstance(new_props, dict)
            changed = {
                k: (v, new_props.get(k)) for k, v in old_props.items() if new_props.get(k) != v
            }
            assert not changed, f"{where}: computed style differs: {changed}"
        assert new_pixels == old_pixels, f"{name}, {scheme}, {width}px: the screenshots differ"
