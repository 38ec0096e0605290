"""The pages' templates (templates/web/): one Jinja environment, autoescaped, strict, with
what every page needs (the CSRF token, the form's choices) passed in explicitly."""

from __future__ import annotations

import functools
import zoneinfo
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

from digest.config.categories import CATEGORY_GROUPS, CATEGORY_NAMES
from digest.config.settings import Settings

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "web"
STATIC = TEMPLATES / "static"
# Zones the browser may report that are links in the IANA database still load fine.
COMMON_ZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Tokyo")


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["marked"] = marked
    env.globals["zone_options"] = zone_options
    env.globals["category_boxes"] = category_boxes
    return env


# The two long lists of the form are built once per choice, not per request: rendering four
# hundred <option>s through the template was most of the landing page's cost.
@functools.lru_cache(maxsize=512)
def zone_options(selected: str) -> Markup:
    return Markup(
        "\n".join(
            f"<option selected>{escape(z)}</option>"
            if z == selected
            else f"<option>{escape(z)}</option>"
            for z in zones()
        )
    )


@functools.lru_cache(maxsize=512)
def category_boxes(selected: tuple[str, ...]) -> Markup:
    parts = []
    for group, entries in CATEGORY_GROUPS:
        parts.append(f'<fieldset class="group">\n<legend>{escape(group)}</legend>')
        for code, name in entries:
            ticked = " checked" if code in selected else ""
            parts.append(
                f'<label class="check"><input type="checkbox" name="categories" '
                f'value="{escape(code)}"{ticked}> <span class="code">{escape(code)}</span> '
                f"{escape(name)}</label>"
            )
        parts.append("</fieldset>")
    for code in selected:
        if code not in CATEGORY_NAMES:  # one from a profile file: kept, and can be unticked
            parts.append(
                f'<label class="check"><input type="checkbox" name="categories" '
                f'value="{escape(code)}" checked> <span class="code">{escape(code)}</span></label>'
            )
    return Markup("\n".join(parts))


@functools.lru_cache(maxsize=1)
def zones() -> tuple[str, ...]:
    names = {z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith("Etc/")}
    return ("UTC", *sorted(names))


def marked(segments: Any) -> Markup:
    """(text, highlighted) runs as escaped HTML, the matched ones in <mark>."""
    return Markup(
        "".join(f"<mark>{escape(t)}</mark>" if hit else str(escape(t)) for t, hit in segments)
    )


def page(
    settings: Settings,
    name: str,
    *,
    csrf: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = (
        environment().get_template(name).render(title=settings.render.title, csrf=csrf, **context)
    )
    response = HTMLResponse(html, status_code=status, headers=headers)
    # Pages behind a signed link hold the token in their forms: never cache them.
    response.headers["cache-control"] = "no-store"
    return response
