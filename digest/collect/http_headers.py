"""Read HTTP response headers: Retry-After (seconds or an HTTP date), Content-Length, and
the caching validators (ETag, Last-Modified) to send next time."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime

from digest.collect.lean_httpx import httpx
from digest.models import Validators


def content_length(response: httpx.Response) -> int | None:
    """The declared Content-Length, or None when absent or not a plain number."""
    value = response.headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def merge_validators(previous: Validators, headers: httpx.Headers) -> Validators:
    """Validators from the response, keeping the previous ones the response does not repeat."""
    return Validators(
        etag=headers.get("etag") or previous.etag,
        last_modified=headers.get("last-modified") or previous.last_modified,
    )


def parse_retry_after(
    value: str | None,
    server_date: str | None = None,
    *,
    now: Callable[[], float] = time.time,
) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), None if absent.

    An HTTP-date is measured against the response's own Date header when it has one, so a
    skewed local clock does not matter; otherwise against `now()` (Unix time).
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    target = _parse_http_date(text)
    if target is None:
        return None
    reference = _parse_http_date(server_date) if server_date else None
    base = reference.timestamp() if reference is not None else now()
    return max(0.0, target.timestamp() - base)


def _parse_http_date(text: str) -> dt.datetime | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed
