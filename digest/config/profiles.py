"""Profiles: what a subscriber wants, read from TOML or command-line options, validated.

The file format is documented by example in config/profiles/example.toml. In short:

    description = "one sentence"          min_score = 1.0      max_papers = 25
    include_updates = false               popularity_weight = 0.0
    sources = ["arxiv", "hf"]             exclude = ["medical imaging"]
    authors = ["Yang Song"]               categories = ["cs.LG"]   require_categories = false
    keywords = ["diffusion model"]        # shorthand for one topic named "keywords"
    [topics.generative]
    keywords = ["score matching^2", "quantiz*", "LLM", { text = "Adam", case_sensitive = true }]

A keyword's weight follows a caret ("score matching^2"); it must be in (0, 10]. A keyword in
capitals ("LLM", "GPT4") is matched case-sensitively unless the inline table says otherwise.
Every error is a ConfigError naming the file, line and key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from digest.config.tomlfile import KeyPath, TomlDocument, load_toml, parse_toml
from digest.errors import ConfigError
from digest.models import Profile, Term, Topic
from digest.textmatch import compile_term, looks_like_acronym

MAX_WEIGHT = 10.0
# A lone generic word ("model", "learning") scores under 1; anything distinctive, a followed
# author or a primary category scores at least 1. So by default passing mentions stay out.
DEFAULT_MIN_SCORE = 1.0
MAX_PAPERS = 500
MAX_MIN_SCORE = 1000.0
MAX_POPULARITY_WEIGHT = 10.0
MAX_DESCRIPTION = 500
DEFAULT_TOPIC = "keywords"
_WEIGHT_SUFFIX = re.compile(r"^(?P<text>.*?)\s*\^\s*(?P<weight>[^\s^]+)\s*$")
_MIN_PREFIX = 3  # "a*" would match half the dictionary

_TOP_KEYS = (
    "description",
    "min_score",
    "max_papers",
    "include_updates",
    "popularity_weight",
    "sources",
    "exclude",
    "authors",
    "categories",
    "require_categories",
    "keywords",
    "topics",
)
_TOPIC_KEYS = ("keywords", "weight")
_TERM_KEYS = ("text", "weight", "case_sensitive")
_CATEGORY = re.compile(r"^[A-Za-z][A-Za-z\-]*(\.[A-Za-z][A-Za-z\-]*)?$")


class _Reader:
    """Validation shared by TOML files, option lists and stored dicts: `fail` says where."""

    def __init__(self, fail: Callable[[str, KeyPath], ConfigError]) -> None:
        self.fail = fail

    def string(self, value: Any, at: KeyPath) -> str:
        if not isinstance(value, str):
            raise self.fail(f"expected a string, got {_kind(value)}", at)
        return value.strip()

    def strings(self, value: Any, at: KeyPath) -> tuple[str, ...]:
        if not isinstance(value, list | tuple):
            raise self.fail(f"expected a list of strings, got {_kind(value)}", at)
        items = tuple(self.string(item, (*at, i)) for i, item in enumerate(value))
        for i, item in enumerate(items):
            if not item:
                raise self.fail("empty string", (*at, i))
        return tuple(dict.fromkeys(items))

    def boolean(self, value: Any, at: KeyPath) -> bool:
        if not isinstance(value, bool):
            raise self.fail(f"expected true or false, got {_kind(value)}", at)
        return value

    def number(self, value: Any, at: KeyPath, low: float, high: float, *, open_low: bool) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"expected a number, got {_kind(value)}", at)
        number = float(value)
        too_low = number <= low if open_low else number < low
        if too_low or number > high or number != number:
            bracket = "(" if open_low else "["
            raise self.fail(f"{value} is out of range {bracket}{low:g}, {high:g}]", at)
        return number

    def integer(self, value: Any, at: KeyPath, low: int, high: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(f"expected an integer, got {_kind(value)}", at)
        if not low <= value <= high:
            raise self.fail(f"{value} is out of range [{low}, {high}]", at)
        return value

    def keyword_text(self, text: str, at: KeyPath) -> str:
        text = text.strip().strip('"').strip()
        if "*" in text.replace("*", "", 1) or ("*" in text and not _star_ends_word(text)):
            raise self.fail(f"{text!r}: '*' is allowed only once, at the end of a word", at)
        try:
            compiled = compile_term(text)
        except ValueError as err:
            raise self.fail(str(err), at) from None
        for sequence in compiled.alternatives:
            for pattern in sequence:
                if pattern.kind == "prefix" and len(pattern.value) < _MIN_PREFIX:
                    raise self.fail(
                        f"{text!r}: a wildcard needs at least {_MIN_PREFIX} letters before '*'",
                        at,
                    )
        return text

    def term(self, value: Any, at: KeyPath, topic_weight: float) -> Term:
        if isinstance(value, str):
            text, weight = self.split_weight(value, at)
            text = self.keyword_text(text, at)
            return Term(text, round(weight * topic_weight, 6), looks_like_acronym(text))
        if isinstance(value, Mapping):
            self.check_keys(value, _TERM_KEYS, at)
            if "text" not in value:
                raise self.fail("missing key 'text'", at)
            text = self.keyword_text(self.string(value["text"], (*at, "text")), (*at, "text"))
            weight = 1.0
            if "weight" in value:
                weight = self.number(value["weight"], (*at, "weight"), 0, MAX_WEIGHT, open_low=True)
            case = looks_like_acronym(text)
            if "case_sensitive" in value:
                case = self.boolean(value["case_sensitive"], (*at, "case_sensitive"))
            return Term(text, round(weight * topic_weight, 6), case)
        raise self.fail(f"expected a keyword string or table, got {_kind(value)}", at)

    def split_weight(self, value: str, at: KeyPath) -> tuple[str, float]:
        found = _WEIGHT_SUFFIX.match(value)
        if not found:
            return value, 1.0
        try:
            weight = float(found.group("weight"))
        except ValueError:
            raise self.fail(f"{value!r}: the weight after '^' must be a number", at) from None
        self.number(weight, at, 0, MAX_WEIGHT, open_low=True)
        return found.group("text"), weight

    def terms(self, value: Any, at: KeyPath, topic_weight: float = 1.0) -> tuple[Term, ...]:
        if not isinstance(value, list | tuple):
            raise self.fail(f"expected a list of keywords, got {_kind(value)}", at)
        if not value:
            raise self.fail("a topic needs at least one keyword", at)
        terms = [self.term(item, (*at, i), topic_weight) for i, item in enumerate(value)]
        return tuple({(t.text, t.case_sensitive): t for t in terms}.values())

    def categories(self, value: Any, at: KeyPath) -> tuple[str, ...]:
        items = self.strings(value, at)
        for i, item in enumerate(items):
            if not _CATEGORY.match(item):
                raise self.fail(f"{item!r} is not an arXiv category like 'cs.LG'", (*at, i))
        return items

    def check_keys(self, table: Mapping[str, Any], allowed: Sequence[str], at: KeyPath) -> None:
        for key in table:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                raise self.fail(f"unknown key (expected one of: {hint})", (*at, key))


def _star_ends_word(text: str) -> bool:
    at = text.index("*")
    return at > 0 and text[at - 1].isalnum() and (at + 1 == len(text) or not text[at + 1].isalnum())


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    for cls, name in names.items():
        if type(value) is cls:
            return name
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def _profile(reader: _Reader, data: Mapping[str, Any]) -> Profile:
    reader.check_keys(data, _TOP_KEYS, ())
    topics: list[Topic] = []
    if "keywords" in data:
        topics.append(Topic(DEFAULT_TOPIC, reader.terms(data["keywords"], ("keywords",))))
    raw_topics = data.get("topics", {})
    if not isinstance(raw_topics, Mapping):
        raise reader.fail("expected tables like [topics.NAME]", ("topics",))
    for name, table in raw_topics.items():
        at: KeyPath = ("topics", name)
        if not isinstance(table, Mapping):
            raise reader.fail("expected a table with 'keywords'", at)
        reader.check_keys(table, _TOPIC_KEYS, at)
        if "keywords" not in table:
            raise reader.fail("missing key 'keywords'", at)
        weight = 1.0
        if "weight" in table:
            weight = reader.number(table["weight"], (*at, "weight"), 0, MAX_WEIGHT, open_low=True)
        topics.append(Topic(name, reader.terms(table["keywords"], (*at, "keywords"), weight)))

    def opt(key: str, read: Callable[[Any, KeyPath], Any], default: Any) -> Any:
        return read(data[key], (key,)) if key in data else default

    profile = Profile(
        topics=tuple(topics),
        exclude=tuple(
            reader.keyword_text(text, ("exclude", i))
            for i, text in enumerate(opt("exclude", reader.strings, ()))
        ),
        authors=opt("authors", reader.strings, ()),
        categories=opt("categories", reader.categories, ()),
        require_categories=opt("require_categories", reader.boolean, False),
        sources=opt("sources", reader.strings, ()),
        min_score=opt(
            "min_score",
            lambda v, at: reader.number(v, at, 0, MAX_MIN_SCORE, open_low=False),
            DEFAULT_MIN_SCORE,
        ),
        max_papers=opt("max_papers", lambda v, at: reader.integer(v, at, 1, MAX_PAPERS), 25),
        include_updates=opt("include_updates", reader.boolean, False),
        popularity_weight=opt(
            "popularity_weight",
            lambda v, at: reader.number(v, at, 0, MAX_POPULARITY_WEIGHT, open_low=False),
            0.0,
        ),
        description=opt("description", reader.string, ""),
    )
    if len(profile.description) > MAX_DESCRIPTION:
        raise reader.fail(f"longer than {MAX_DESCRIPTION} characters", ("description",))
    if profile.require_categories and not profile.categories:
        raise reader.fail("require_categories needs a list of categories", ("require_categories",))
    if not profile.all_terms and not profile.authors and not profile.categories:
        raise reader.fail("the profile is empty: give keywords, authors or categories", ())
    return profile


def parse_profile(text: str, path: str = "<string>") -> Profile:
    return _from_document(parse_toml(text, path))


def load_profile(path: Path | str) -> Profile:
    return _from_document(load_toml(path))


def load_profile_data(data: dict[str, Any], path: str) -> Profile:
    """A profile from file-shaped data (a file's keys merged over a stored profile)."""
    return _from_document(TomlDocument(path=path, data=data, lines=()))


def _from_document(document: TomlDocument) -> Profile:
    def fail(message: str, at: KeyPath) -> ConfigError:
        err = document.error(message, at)
        # A key inside an inline table ({text = "x", weight = 0}) has no line of its own:
        # point at the line of the nearest enclosing key instead.
        for depth in range(len(at) - 1, 0, -1):
            if err.line is not None:
                break
            err = ConfigError(
                message, path=err.path, line=document.line_of(at[:depth]), key=err.key
            )
        return err

    return _profile(_Reader(fail), document.data)


def profile_from_options(
    keywords: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    authors: Sequence[str] = (),
    categories: Sequence[str] = (),
    base: Profile | None = None,
) -> Profile:
    """A one-topic profile from `--keyword "score matching^2" --exclude ... --author ...`.

    With `base`, the options given change only their own part of that profile: keywords
    replace all of its keywords (every topic), the others their own list."""
    options = {"keywords": "--keyword", "exclude": "--exclude", "authors": "--author"}
    options["categories"] = "--category"

    def fail(message: str, at: KeyPath) -> ConfigError:
        key = options.get(str(at[0]), str(at[0])) if at else None
        if len(at) > 1 and isinstance(at[1], int):
            key = f"{key} {_option_value(at[0], at[1])!r}"
        return ConfigError(message, path="command line", key=key)

    def _option_value(name: str | int, i: int) -> str:
        values = {"keywords": keywords, "exclude": exclude, "authors": authors}
        return str({**values, "categories": categories}[str(name)][i])

    data: dict[str, Any] = {}
    if keywords:
        data["keywords"] = list(keywords)
    for key, values in (("exclude", exclude), ("authors", authors), ("categories", categories)):
        if values:
            data[key] = list(values)
    if base is not None:
        data = merge_profile_data(profile_to_data(base), data)
    return _profile(_Reader(fail), data)


def validate_profile_data(
    data: Mapping[str, Any], fail: Callable[[str, KeyPath], ConfigError]
) -> Profile:
    """The one validator behind files, options and web forms; `fail` says where it failed."""
    return _profile(_Reader(fail), data)


def merge_profile_data(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with the keys of `changes` replaced; new keywords replace every topic."""
    merged = dict(base)
    if "keywords" in changes or "topics" in changes:
        merged.pop("keywords", None)
        merged.pop("topics", None)
    merged.update(changes)
    return merged


def profile_to_data(profile: Profile) -> dict[str, Any]:
    """The profile as the TOML file would say it: validates back to the same profile."""
    data: dict[str, Any] = {}
    topics: dict[str, Any] = {}
    for topic in profile.topics:
        words = [_term_data(t) for t in topic.terms]
        if topic.name == DEFAULT_TOPIC and "keywords" not in data:
            data["keywords"] = words
        else:
            topics[topic.name] = {"keywords": words}
    if topics:
        data["topics"] = topics
    for key in ("exclude", "authors", "categories", "sources"):
        if getattr(profile, key):
            data[key] = list(getattr(profile, key))
    data.update(
        require_categories=profile.require_categories,
        min_score=profile.min_score,
        max_papers=profile.max_papers,
        include_updates=profile.include_updates,
        popularity_weight=profile.popularity_weight,
    )
    if profile.description:
        data["description"] = profile.description
    return data


def _term_data(term: Term) -> str | dict[str, Any]:
    if term.weight == 1.0 and term.case_sensitive == looks_like_acronym(term.text):
        return term.text
    return {"text": term.text, "weight": term.weight, "case_sensitive": term.case_sensitive}


# --- Storage form -------------------------------------------------------------------------


def profile_to_dict(profile: Profile) -> dict[str, Any]:
    return {
        "topics": [
            {
                "name": topic.name,
                "terms": [
                    {"text": t.text, "weight": t.weight, "case_sensitive": t.case_sensitive}
                    for t in topic.terms
                ],
            }
            for topic in profile.topics
        ],
        "exclude": list(profile.exclude),
        "authors": list(profile.authors),
        "categories": list(profile.categories),
        "require_categories": profile.require_categories,
        "sources": list(profile.sources),
        "min_score": profile.min_score,
        "max_papers": profile.max_papers,
        "include_updates": profile.include_updates,
        "popularity_weight": profile.popularity_weight,
        "description": profile.description,
    }


def profile_from_dict(data: Mapping[str, Any]) -> Profile:
    """The inverse of profile_to_dict, value for value; a damaged record raises ConfigError."""

    def fail(message: str, at: KeyPath) -> ConfigError:
        dotted = ".".join(str(k) for k in at) or None
        return ConfigError(message, path="<stored profile>", key=dotted)

    def text(value: Any, at: KeyPath) -> str:
        if not isinstance(value, str):
            raise fail(f"expected a string, got {_kind(value)}", at)
        return value

    def texts(key: str) -> tuple[str, ...]:
        values = data[key]
        if not isinstance(values, list | tuple):
            raise fail(f"expected a list, got {_kind(values)}", (key,))
        return tuple(text(v, (key, i)) for i, v in enumerate(values))

    def flag(value: Any, at: KeyPath) -> bool:
        if not isinstance(value, bool):
            raise fail(f"expected true or false, got {_kind(value)}", at)
        return value

    def number(value: Any, at: KeyPath) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise fail(f"expected a number, got {_kind(value)}", at)
        return float(value)

    try:
        topics = tuple(
            Topic(
                text(topic["name"], ("topics", i, "name")),
                tuple(
                    Term(
                        text(term["text"], ("topics", i, "terms", j, "text")),
                        number(term["weight"], ("topics", i, "terms", j, "weight")),
                        flag(term["case_sensitive"], ("topics", i, "terms", j, "case_sensitive")),
                    )
                    for j, term in enumerate(topic["terms"])
                ),
            )
            for i, topic in enumerate(data["topics"])
        )
        max_papers = data["max_papers"]
        if isinstance(max_papers, bool) or not isinstance(max_papers, int):
            raise fail(f"expected an integer, got {_kind(max_papers)}", ("max_papers",))
        return Profile(
            topics=topics,
            exclude=texts("exclude"),
            authors=texts("authors"),
            categories=texts("categories"),
            require_categories=flag(data["require_categories"], ("require_categories",)),
            sources=texts("sources"),
            min_score=number(data["min_score"], ("min_score",)),
            max_papers=max_papers,
            include_updates=flag(data["include_updates"], ("include_updates",)),
            popularity_weight=number(data["popularity_weight"], ("popularity_weight",)),
            description=text(data["description"], ("description",)),
        )
    except (KeyError, TypeError) as err:
        raise fail(f"malformed stored profile: missing or wrong {err}", ()) from err
