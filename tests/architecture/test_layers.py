"""The package's layers, checked on every import statement (function-level ones included).

    shared records, errors, utilities  digest.models, .errors, .textmatch, .util,
                                       and the store's role protocols (digest.store.roles)
      <- configuration                 digest.config
      <- stages                        digest.collect, .store, .rank, .compose, .deliver
                                       (which never import each other)
      <- jobs                          digest.jobs
      <- entry points                  digest.cli, digest.web, scheduler.py

A module may import from its own layer's package and from any layer below; a stage never
imports another stage. A violation names the file, line and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "digest"

BASE = {"digest", "digest.models", "digest.errors", "digest.textmatch", "digest.util"}
# The store's role protocols and records: every stage may depend on the contract, none on a
# backend.
CONTRACTS = {"digest.store.roles"}
STAGES = {"collect", "store", "rank", "compose", "deliver"}
ENTRY_POINTS = {"cli", "web"}
# The one edge between entry points: `digest serve` starts the pages; web never imports cli.
ALLOWED_ENTRY_EDGES = {("cli", "web")}


def unit_of(module: str) -> tuple[int, str]:
    """(layer number, unit name) of a module: a unit is the folder (or base module) it is in."""
    parts = module.split(".")
    if module == "scheduler":
        return 4, "scheduler"
    if parts[0] != "digest":
        raise ValueError(module)
    second = parts[1] if len(parts) > 1 else ""
    if not second or f"digest.{second}" in BASE or module in CONTRACTS:
        return 0, "base"
    if second == "config":
        return 1, "config"
    if second in STAGES:
        return 2, second
    if second == "jobs":
        return 3, "jobs"
    if second in ENTRY_POINTS or second == "__main__":
        return 4, second
    raise AssertionError(f"{module}: not in any layer; add it to tests/architecture/test_layers.py")


def module_name(path: Path) -> str:
    relative = path.relative_to(REPO).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, module: str) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return [(line, name) for line, name in found if name.split(".")[0] == "digest"]


def sources() -> list[Path]:
    return [*sorted(PACKAGE.rglob("*.py")), REPO / "scheduler.py"]


def violations() -> list[str]:
    problems = []
    for path in sources():
        module = module_name(path)
        layer, unit = unit_of(module)
        for line, target in imported_modules(path, module):
            target_layer, target_unit = unit_of(target)
            where = f"{path.relative_to(REPO)}:{line}: imports {target}"
            if target_layer > layer:
                problems.append(f"{where} (a higher layer)")
            elif (
                target_layer == layer
                and target_unit != unit
                and layer in (2, 4)
                and (unit, target_unit) not in ALLOWED_ENTRY_EDGES
            ):
                problems.append(f"{where} (another {'stage' if layer == 2 else 'entry point'})")
    return problems


def test_no_module_imports_from_a_higher_layer_or_another_stage() -> None:
    assert violations() == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    # The walk itself must find imports, or the test above would pass on nothing.
    path = PACKAGE / "rank" / "select.py"
    names = [name for _, name in imported_modules(path, "digest.rank.select")]
    assert "digest.models" in names
    assert unit_of("digest.compose.render") == (2, "compose")
    assert unit_of("digest.jobs.pipeline")[0] > unit_of("digest.store.sqlite")[0]


def test_every_module_is_small() -> None:
    # A module over 500 lines holds more than one job; split it.
    long = [
        f"{path.relative_to(REPO)}: {count} lines"
        for path in sources()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 500
    ]
    assert long == []
