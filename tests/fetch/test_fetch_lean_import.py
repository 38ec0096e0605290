"""The fetcher imports httpx without httpx's command-line client (click, rich, pygments)."""

from __future__ import annotations

import subprocess
import sys

CLI_MODULES = ("click", "rich", "pygments")


def loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint(' '.join(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def test_the_fetcher_leaves_httpx_command_line_client_unloaded() -> None:
    plain = loaded_after("import httpx")
    lean = loaded_after("import digest.collect.fetch")
    assert "httpx" in lean and "httpx._client" in lean
    assert not lean & set(CLI_MODULES), sorted(lean & set(CLI_MODULES))
    # With the semantic extra installed, plain httpx does load them: what the lean import saves.
    if "rich" in plain:
        assert "click" in plain or "pygments" in plain


def test_httpx_still_answers_main_after_the_lean_import() -> None:
    lean = loaded_after(
        "from digest.collect.lean_httpx import httpx\nassert callable(httpx.main)\n"
        "assert httpx.Client().headers['user-agent'].startswith('python-httpx')"
    )
    assert "httpx" in lean
