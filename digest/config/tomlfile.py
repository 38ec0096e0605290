"""Read TOML and point at the line a key lives on, so errors can say `file:line: key: ...`.

tomllib gives positions only for syntax errors; for semantic errors (unknown key, wrong
type, value out of range) we find the key's line by a light scan of the source text.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.errors import ConfigError

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_\-\.\"' ]+?)\s*=")
_SYNTAX_POS = re.compile(r"\(at line (\d+), column \d+\)")

KeyPath = tuple[str | int, ...]


def _split_dotted(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def _with_indices(
    names: tuple[str, ...], arrays: dict[tuple[str, ...], int]
) -> tuple[str | int, ...]:
    """('topics', 'weights') -> ('topics', 2, 'weights') when [[topics]] was seen 3 times."""
    path: list[str | int] = []
    for depth, name in enumerate(names, start=1):
        path.append(name)
        if names[:depth] in arrays:
            path.append(arrays[names[:depth]])
    return tuple(path)


@dataclass(frozen=True, slots=True)
class TomlDocument:
    path: str
    data: dict[str, Any]
    lines: tuple[str, ...]

    def line_of(self, keys: KeyPath) -> int | None:
        """The 1-based line where the key path is assigned, or its table's header.

        Array-of-tables indices count `[[name]]` headers; an index into an inline array
        points at the array's own line.
        """
        wanted = list(keys)
        while wanted and isinstance(wanted[-1], int):
            wanted.pop()
        target = tuple(wanted)
        seen_arrays: dict[tuple[str, ...], int] = {}
        table: tuple[str | int, ...] = ()
        header_line: int | None = None
        for number, line in enumerate(self.lines, start=1):
            header = _HEADER.match(line)
            if header:
                names = _split_dotted(header.group(1))
                if line.lstrip().startswith("[["):
                    seen_arrays[names] = seen_arrays.get(names, -1) + 1
                table = _with_indices(names, seen_arrays)
                if table == target and header_line is None:
                    header_line = number
                continue
            assign = _ASSIGN.match(line)
            if assign and table + _split_dotted(assign.group(1)) == target:
                return number
        return header_line

    def error(self, message: str, keys: KeyPath = ()) -> ConfigError:
        dotted = ".".join(str(k) if isinstance(k, str) else f"[{k}]" for k in keys)
        return ConfigError(
            message,
            path=self.path,
            line=self.line_of(keys) if keys else None,
            key=dotted.replace(".[", "[") or None,
        )

    def check_keys(self, table: Mapping[str, Any], allowed: Iterable[str], at: KeyPath) -> None:
        """Reject keys we don't know: a typo must not silently fall back to a default."""
        known = set(allowed)
        for key in table:
            if key not in known:
                hint = ", ".join(sorted(known))
                raise self.error(f"unknown key (expected one of: {hint})", (*at, key))


def parse_toml(text: str, path: str = "<string>") -> TomlDocument:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        pos = _SYNTAX_POS.search(str(err))
        line = int(pos.group(1)) if pos else None
        reason = _SYNTAX_POS.sub("", str(err)).strip()
        raise ConfigError(f"invalid TOML: {reason}", path=path, line=line) from err
    return TomlDocument(path=path, data=data, lines=tuple(text.splitlines()))


def load_toml(path: Path | str) -> TomlDocument:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read file: {err.strerror}", path=str(file)) from err
    except UnicodeDecodeError as err:
        raise ConfigError("file is not UTF-8 text", path=str(file)) from err
    return parse_toml(text, str(file))
