"""Inline CSS without running an inliner on every message.

Mail clients drop <style>, so every element needs its own `style` attribute. Running
css-inline over each rendered digest costs milliseconds per message; instead the templates
ask `css("td.paper.text")` and get the declarations css-inline computes for that element
path from templates/digest.css, once per path. The result is the same inlining, cached.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import css_inline
import jinja2
from markupsafe import Markup

# html5 fragment parsing drops table tags outside a table; the stylesheet uses classes (and
# p/a inside Markdown fragments), never table tag selectors, so a div computes the same.
_TABLE_TAGS = frozenset({"table", "tbody", "thead", "tr", "td", "th"})
_TARGET = re.compile(r"<[^>]*\bdata-css-target\b[^>]*>")
_STYLE = re.compile(r'\bstyle="([^"]*)"')
_LIST_SPACE = re.compile(r",\s+")


_BOX_SIDES = frozenset({"margin", "padding"})


def _shortest_sides(value: str) -> str:
    """'12px 24px 14px 24px' -> '12px 24px 14px', '0 0 0 0' -> '0': the same four sides in
    the shortest form CSS defines (left defaults to right, bottom to top, right to top)."""
    sides = value.split()
    if len(sides) != 4:
        return value
    top, right, bottom, left = sides
    if left == right:
        sides.pop()
        if bottom == top:
            sides.pop()
            if right == top:
                sides.pop()
    return " ".join(sides)


def _compact(declarations: str) -> str:
    """'color: red;padding: 4px 0 4px 0;' -> 'color:red;padding:4px 0' with single quotes
    only: every byte of a style is repeated in every digest that uses it."""
    parts = []
    for declaration in html.unescape(declarations).split(";"):
        name, colon, value = declaration.partition(":")
        if colon:
            name, value = name.strip(), _LIST_SPACE.sub(",", value.strip())
            if name in _BOX_SIDES:
                value = _shortest_sides(value)
            parts.append(f"{name}:{value}")
    return ";".join(parts).replace('"', "'")


_CSS_SPACE = re.compile(r"\s*([{};:,>])\s*|\s+(!important)|\s{2,}|\n")


def minify_css(css: str) -> str:
    """A stylesheet without what CSS ignores (white space around braces, colons, semicolons
    and commas or before !important; a rule's last semicolon); white space between selector
    parts, which means "descendant", stays as one space. For the <style> block every
    message carries."""
    packed = _CSS_SPACE.sub(lambda m: m.group(1) or m.group(2) or " ", css)
    return packed.replace(";}", "}").strip()


def _open_tags(path: str, target: bool) -> tuple[str, str]:
    """'td.paper.text a.link' -> ('<div class="paper text"><a class="link" ...>', '</a></div>')."""
    opened, closed = [], []
    steps = path.split()
    for index, step in enumerate(steps):
        tag, *classes = step.split(".")
        tag = "div" if not tag or tag in _TABLE_TAGS else tag
        attrs = f' class="{" ".join(classes)}"' if classes else ""
        if target and index == len(steps) - 1:
            attrs += " data-css-target"
        opened.append(f"<{tag}{attrs}>")
        closed.append(f"</{tag}>")
    return "".join(opened), "".join(reversed(closed))


class StyleSheet:
    """Computed inline styles for element paths of one stylesheet, memoised."""

    def __init__(self, css: str) -> None:
        self.css = css
        self._inliner = css_inline.CSSInliner(load_remote_stylesheets=False)
        self._styles: dict[str, Markup] = {}
        self._fragments: dict[tuple[str, str], Markup] = {}

    def __call__(self, path: str) -> Markup:
        """The style attribute value for the element at `path` (space-separated steps)."""
        style = self._styles.get(path)
        if style is None:
            opened, closed = _open_tags(path, target=True)
            inlined = self._inliner.inline_fragment(opened + closed, self.css)
            element = _TARGET.search(inlined)
            found = _STYLE.search(element.group(0)) if element else None
            text = _compact(found.group(1)) if found else ""
            if "<" in text or '"' in text:
                raise ValueError(f"unexpected characters in computed style for {path!r}")
            style = self._styles[path] = Markup(text)
        return style

    def fragment(self, fragment: str, container: str) -> Markup:
        """Inline a trusted HTML fragment (operator Markdown) as if placed inside `container`."""
        key = (fragment, container)
        cached = self._fragments.get(key)
        if cached is None:
            opened, closed = _open_tags(container, target=False)
            inlined = self._inliner.inline_fragment(f"{opened}{fragment}{closed}", self.css)
            # Strip the wrappers again: keep what follows the N-th '>' and precedes the last
            # N closing tags.
            depth = len(container.split())
            inner = inlined.split(">", depth)[-1]
            for _ in range(depth):
                inner = inner[: inner.rfind("</")]
            cached = self._fragments[key] = Markup(inner)
        return cached


_STATIC_CSS_CALL = re.compile(r"\{\{\s*css\(\s*'([^'{}]+)'\s*\)\s*\}\}")


class InlineStyleLoader(jinja2.BaseLoader):
    """Wraps a loader and replaces every `{{ css('path') }}` with its computed style text
    when a template is loaded, so rendering a message does no style work at all. Calls with
    a computed path (`css('a.badge-' ~ kind)`) stay calls to the StyleSheet global. A
    stylesheet included as a <style> block (templates/digest-dark.css) loads minified."""

    def __init__(self, base: jinja2.BaseLoader, sheet: StyleSheet) -> None:
        self.base = base
        self.sheet = sheet

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = self.base.get_source(environment, template)
        if template.endswith(".css"):  # a <style> block's text, included into a message
            return minify_css(source), filename, uptodate
        folded = _STATIC_CSS_CALL.sub(lambda m: str(self.sheet(m.group(1))), source)
        return folded, filename, uptodate

    def list_templates(self) -> list[str]:
        return self.base.list_templates()
