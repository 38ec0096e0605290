"""The subject-line template: a `str.format` string or a sandboxed Jinja one, checked when the
settings load and filled for every digest."""

from __future__ import annotations

import datetime as dt
import functools
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

from digest.errors import ConfigError

# count: papers listed; papers: the same as "1 new paper" / "5 new papers".
SUBJECT_FIELDS = (
    "count",
    "papers",
    "date",
    "seen",
    "matched",
    "shown",
    "title",
    "top_title",
    "topics",
)
_SUBJECT_SAMPLE: dict[str, Any] = {
    "count": 3,
    "papers": "3 new papers",
    "date": dt.date(2024, 3, 5),
    "seen": 120,
    "matched": 4,
    "shown": 3,
    "title": "Paper digest",
    "top_title": "A paper",
    "topics": "diffusion",
}


def _is_jinja(template: str) -> bool:
    return "{{" in template or "{%" in template


@functools.lru_cache(maxsize=16)
def _jinja_subject(template: str) -> jinja2.Template:
    # Imported only for a Jinja subject: reading the settings should not load a template
    # engine that the plain `str.format` default never needs.
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment

    # Sandboxed: the subject template comes from a config file, not from us.
    env = SandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string(template)


def check_subject_template(template: str) -> None:
    """Raise ConfigError unless the template renders with the documented fields only."""
    if not template.strip():
        raise ConfigError("the subject template is empty", key="subject")
    if not _is_jinja(template):
        try:
            parsed = list(string.Formatter().parse(template))
        except ValueError as err:
            raise ConfigError(f"subject template: {err}", key="subject") from err
        for _, field_name, spec, _ in parsed:
            if field_name is None:
                continue
            if field_name not in SUBJECT_FIELDS or (spec and "{" in spec):
                raise ConfigError(
                    f"unknown field {{{field_name}}} in the subject; "
                    f"use {', '.join('{' + f + '}' for f in SUBJECT_FIELDS)}",
                    key="subject",
                )
    failures: tuple[type[Exception], ...] = (ValueError, KeyError, IndexError, TypeError)
    if _is_jinja(template):
        import jinja2

        failures = (*failures, jinja2.TemplateError)
    try:
        render_subject(template, _SUBJECT_SAMPLE)
    except failures as err:
        raise ConfigError(f"subject template does not render: {err}", key="subject") from err


def render_subject(template: str, values: Mapping[str, Any]) -> str:
    """Fill the subject template and flatten it to one clean line (no CR/LF ever)."""
    if _is_jinja(template):
        raw = _jinja_subject(template).render(**values)
    else:
        raw = template.format_map(values)
    line = " ".join(raw.split())
    return "".join(ch for ch in line if ch.isprintable())[:200]
