"""config/digest.example.toml documents every key the settings reader accepts, and no other."""

from __future__ import annotations

import re
from pathlib import Path

from digest.config.load import load_settings
from digest.config.schema import SCHEMA

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "digest.example.toml"
# `[table]`, `[[table]]`, or a commented-out `# [table]` header; a key line, commented or not.
HEADER = re.compile(r"^#?\s*\[\[?([a-z_.]+)\]\]?\s*(#.*)?$")
KEY = re.compile(r"^#?\s*([a-z_]+)\s*=")


def documented_keys() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {"": set()}
    table = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        if header := HEADER.match(line):
            name = header.group(1)
            table = name.partition(".")[0]
            found[""].add(table)
            if "." in name:  # a subtable such as [fetch.host_intervals] is a key of its parent
                found.setdefault(table, set()).add(name.partition(".")[2])
                table = name  # its own keys are free-form (host names)
            found.setdefault(table, set())
        elif (key := KEY.match(line)) and "." not in table:
            found[table].add(key.group(1))
    return {name: keys for name, keys in found.items() if "." not in name}


def test_the_example_documents_exactly_the_keys_of_the_schema() -> None:
    documented = documented_keys()
    for table, keys in SCHEMA.items():
        missing = set(keys) - documented.get(table, set())
        unknown = documented.get(table, set()) - set(keys)
        assert not missing, f"[{table}] keys not in the example: {sorted(missing)}"
        assert not unknown, f"[{table}] keys in the example the reader refuses: {sorted(unknown)}"
    assert set(documented) <= set(SCHEMA)


def test_the_example_loads() -> None:
    settings = load_settings(EXAMPLE, env={})
    assert settings.email.list_id == "digest.example.org"
