"""httpx without its command-line tool.

httpx's package imports its command-line client (click, rich and pygments: about 0.1 s of
every start) whenever those are installed, as the semantic extra's dependencies install them.
A None entry in sys.modules makes that one import raise ImportError, which httpx catches and
answers with a stub `httpx.main`; the HTTP client itself is untouched.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

__all__ = ["httpx"]
