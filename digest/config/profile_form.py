"""A profile as the fields of a web form: text in, the same validation as files and the
command line (digest.config.profiles) out, every bad field named with the CLI's message.

    keywords    one per line or comma-separated, a weight after '^'; a line "[name]" starts
                a topic of that name (how a profile file's [topics.NAME] shows)
    exclude     one per line or comma-separated          authors   one per line
    categories  arXiv categories (a list of checkboxes)   sources   configured source names
    description, max_papers, min_score, popularity_weight: one value each
    include_updates, require_categories: checkboxes ("on" when ticked)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from digest.config.profiles import (
    DEFAULT_TOPIC,
    merge_profile_data,
    profile_to_data,
    validate_profile_data,
)
from digest.config.tomlfile import KeyPath
from digest.errors import ConfigError
from digest.models import Profile

TEXT_FIELDS = ("keywords", "exclude", "authors", "description")
NUMBER_FIELDS = ("max_papers", "min_score", "popularity_weight")
FLAG_FIELDS = ("include_updates", "require_categories")
LIST_FIELDS = ("categories", "sources")
FIELDS = TEXT_FIELDS + NUMBER_FIELDS + FLAG_FIELDS + LIST_FIELDS
_TOPIC_HEADER = re.compile(r"^\[\s*(.+?)\s*\]$")
FormValue = str | tuple[str, ...]


class ProfileFormError(ConfigError):
    """Bad fields of a profile form: `errors` maps each field name to its message."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()), key="form")


def _items(text: str, *, commas: bool) -> list[str]:
    parts = re.split(r"[\n,]" if commas else r"\n", text.replace("\r", ""))
    return [part.strip() for part in parts if part.strip()]


def _number(text: str) -> int | float | str:
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text  # the validator names it: "expected a number, got a string"


def field_data(name: str, value: FormValue) -> dict[str, Any]:
    """One form field as the profile-file keys it sets."""
    text = value if isinstance(value, str) else "\n".join(value)
    if name == "keywords":
        topics: dict[str, list[str]] = {}
        current = DEFAULT_TOPIC
        for line in _items(text, commas=False):
            header = _TOPIC_HEADER.match(line)
            if header:
                current = header.group(1)
                continue
            topics.setdefault(current, []).extend(_items(line, commas=True))
        data: dict[str, Any] = {}
        if DEFAULT_TOPIC in topics:
            data["keywords"] = topics.pop(DEFAULT_TOPIC)
        if topics:
            data["topics"] = {name: {"keywords": words} for name, words in topics.items()}
        return data or {"keywords": []} if text.strip() else {"topics": {}}
    if name == "exclude":
        return {name: _items(text, commas=True)}
    if name == "authors":
        return {name: _items(text, commas=False)}
    if name == "description":
        return {name: text.strip()}
    if name in NUMBER_FIELDS:
        return {name: _number(text.strip())} if text.strip() else {}
    if name in FLAG_FIELDS:
        return {name: text.strip() not in ("", "off", "false", "0")}
    values = [v.strip() for v in (value if isinstance(value, tuple) else (value,)) if v.strip()]
    return {name: values}


def form_values(profile: Profile) -> dict[str, FormValue]:
    """What the form shows for a stored profile (and compares a submission against)."""
    values: dict[str, FormValue] = {}
    lines: list[str] = []
    for topic in profile.topics:
        if topic.name != DEFAULT_TOPIC or len(profile.topics) > 1:
            lines.append(f"[{topic.name}]")
        for term in topic.terms:
            weight = "" if term.weight == 1.0 else f"^{term.weight:g}"
            lines.append(term.text + weight)
    values["keywords"] = "\n".join(lines)
    values["exclude"] = "\n".join(profile.exclude)
    values["authors"] = "\n".join(profile.authors)
    values["description"] = profile.description
    values["max_papers"] = str(profile.max_papers)
    values["min_score"] = f"{profile.min_score:g}"
    values["popularity_weight"] = f"{profile.popularity_weight:g}"
    values["include_updates"] = "on" if profile.include_updates else ""
    values["require_categories"] = "on" if profile.require_categories else ""
    values["categories"] = profile.categories
    values["sources"] = profile.sources
    return values


def _field_of(at: KeyPath) -> str:
    if not at or at[0] == "topics":
        return "keywords"
    return str(at[0])


def profile_from_form(submitted: Mapping[str, FormValue], base: Profile | None = None) -> Profile:
    """The profile a form describes. With `base` (the manage page), only the fields whose
    text differs from what the form showed for `base` change; the rest stay exactly as they
    were, including what the form cannot show (a keyword's explicit case sensitivity)."""
    shown = form_values(base) if base is not None else {}
    changes: dict[str, Any] = {}
    for name in FIELDS:
        value = submitted.get(name, () if name in LIST_FIELDS else "")
        if base is not None and _same(value, shown[name]):
            continue
        changes.update(field_data(name, value))
    data = merge_profile_data(profile_to_data(base), changes) if base else changes
    errors: dict[str, str] = {}

    def fail(message: str, at: KeyPath) -> ConfigError:
        return ConfigError(message, key=_field_of(at))

    # One bad field at a time comes back from the validator: drop it and look again, so
    # every bad field is named at once.
    for _ in FIELDS:
        try:
            profile = validate_profile_data(data, fail)
        except ConfigError as err:
            field = err.key or "keywords"
            if field in errors:
                break
            errors[field] = err.reason
            for key in (field, "topics") if field == "keywords" else (field,):
                data.pop(key, None)
            continue
        if not errors:
            return profile
        break
    raise ProfileFormError(errors)


def _same(value: FormValue, shown: FormValue) -> bool:
    if isinstance(shown, tuple):
        values = value if isinstance(value, tuple) else (value,)
        return tuple(v for v in values if v) == shown
    text = value if isinstance(value, str) else "\n".join(value)
    return text.replace("\r", "").strip() == shown.strip()
