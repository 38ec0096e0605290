"""The settings file's shape: which keys each table may hold.

The reader (digest.config.load) refuses any other key, naming file, line and key, and a test
checks that config/digest.example.toml documents exactly these.
"""

from __future__ import annotations

from collections.abc import Mapping

# Every key each table may hold: the reader refuses any other, and a test checks that
# config/digest.example.toml documents exactly these.
SCHEMA: Mapping[str, tuple[str, ...]] = {
    "": ("digest", "fetch", "source", "email", "smtp", "outbox", "schedule", "logging", "web"),
    "digest": (
        "data_dir",
        "database",
        "outbox_dir",
        "timezone",
        "lookback_days",
        "catchup_days",
        "arxiv_holidays",
        "templates_dir",
        "semantic",
        "compose_workers",
    ),
    "fetch": (
        "contact",
        "user_agent",
        "timeout",
        "deadline",
        "max_bytes",
        "max_attempts",
        "min_interval",
        "host_intervals",
    ),
    "source": ("name", "kind", "url", "announce_types", "categories", "enabled", "catchup_url"),
    "email": (
        "from",
        "subject",
        "title",
        "intro",
        "footer",
        "size_budget",
        "abstract_chars",
        "max_authors",
        "list_id",
        "unsubscribe_url",
        "unsubscribe_mailto",
        "manage_url",
        "send_empty",
        "operator",
    ),
    "smtp": (
        "host",
        "port",
        "security",
        "username",
        "password_env",
        "timeout",
        "ca_file",
        "connections",
        "ehlo_name",
        "max_per_second",
        "max_per_day",
    ),
    "outbox": ("keep_days",),
    "schedule": ("fetch_at", "fetch_timezone", "tick_minutes", "lease_seconds"),
    "logging": ("format", "level"),
    "web": (
        "host",
        "port",
        "base_url",
        "confirm_hours",
        "manage_days",
        "client_limit",
        "client_window",
        "address_limit",
        "address_window",
        "max_body_bytes",
        "trusted_proxies",
    ),
}
