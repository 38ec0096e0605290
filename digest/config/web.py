"""The [web] section: where `digest serve` listens, the public address links use, and the
limits that protect subscribers and the server. Read apart from load.py, which it extends.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from digest.config.schema import SCHEMA
from digest.config.settings import EmailConfig, WebSettings
from digest.config.tomlfile import KeyPath, TomlDocument

WEB_KEYS = SCHEMA["web"]
UNSUBSCRIBE_PATH = "/unsubscribe/{token}"
MANAGE_PATH = "/manage/{token}"


def read_web(doc: TomlDocument, table: Mapping[str, Any]) -> WebSettings:
    at: KeyPath = ("web",)
    doc.check_keys(table, WEB_KEYS, at)
    defaults = WebSettings()

    def whole(key: str, low: int, high: int) -> int:
        value = table.get(key, getattr(defaults, key))
        if isinstance(value, bool) or not isinstance(value, int):
            raise doc.error(f"expected a whole number, got {value!r}", (*at, key))
        if not low <= value <= high:
            raise doc.error(f"{value} is out of range ({low} to {high})", (*at, key))
        return value

    host = table.get("host", defaults.host)
    if not isinstance(host, str) or not host.strip():
        raise doc.error("expected a host name or address", (*at, "host"))
    hours = table.get("confirm_hours", defaults.confirm_hours)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0.1 <= hours <= 720:
        raise doc.error("expected hours from 0.1 to 720", (*at, "confirm_hours"))
    proxies = table.get("trusted_proxies", [])
    if not isinstance(proxies, list) or not all(isinstance(p, str) for p in proxies):
        raise doc.error("expected a list of addresses", (*at, "trusted_proxies"))
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError as err:
            raise doc.error(f"{proxy!r} is not an IP address", (*at, "trusted_proxies")) from err
    return WebSettings(
        host=host.strip(),
        port=whole("port", 1, 65535),
        base_url=_base_url(doc, table.get("base_url"), (*at, "base_url")),
        confirm_hours=float(hours),
        manage_days=whole("manage_days", 1, 365),
        client_limit=whole("client_limit", 1, 100_000),
        client_window=whole("client_window", 1, 86_400),
        address_limit=whole("address_limit", 1, 1000),
        address_window=whole("address_window", 1, 7 * 86_400),
        max_body_bytes=whole("max_body_bytes", 1024, 1_000_000),
        trusted_proxies=tuple(proxies),
    )


def _base_url(doc: TomlDocument, raw: Any, at: KeyPath) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise doc.error(f"expected a URL, got {raw!r}", at)
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.query or parts.fragment:
        raise doc.error("expected an http(s) address like https://papers.example.org", at)
    if any(ch in raw for ch in " <>\"'\\"):
        raise doc.error("has spaces or quotes", at)
    return raw.strip().rstrip("/")


def with_web_links(email: EmailConfig, web: WebSettings) -> EmailConfig:
    """With a public address, digests link to the pages unless [email] names other URLs."""
    if not web.base_url:
        return email
    return dataclasses.replace(
        email,
        unsubscribe_url=email.unsubscribe_url or web.base_url + UNSUBSCRIBE_PATH,
        manage_url=email.manage_url or web.base_url + MANAGE_PATH,
    )
