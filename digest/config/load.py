"""The configuration file: TOML in, validated typed settings out.

Every key is checked (an unknown key is an error naming file, line and key, never a silent
default), paths are resolved relative to the config file, and secrets come from the
environment. With no file at all, embedded defaults give a working tool: SQLite in a data
directory, Hugging Face and arXiv as sources, and delivery into an outbox folder of .eml files.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from digest.config.addresses import (
    check_header_url,
    check_list_id,
    mailto_uri,
    parse_mailbox,
    validate_address,
)
from digest.config.schema import SCHEMA
from digest.config.settings import (
    ARXIV_API_URL,
    ARXIV_HOST_INTERVALS,
    CONFIG_ENV,
    DATA_DIR_ENV,
    DATABASE_URL_ENV,
    DEFAULT_ANNOUNCE_TYPES,
    DEFAULT_CONNECTIONS,
    DEFAULT_FETCH_AT,
    DEFAULT_FETCH_TIMEZONE,
    DEFAULT_SENDER,
    DEFAULT_SUBJECT,
    MAX_CONNECTIONS,
    PREVIOUS_SECRET_ENV,
    SECRET_ENV,
    SMTP_PASSWORD_ENV,
    SOURCE_KINDS,
    EmailConfig,
    FetchSettings,
    LoggingConfig,
    RenderSettings,
    ScheduleConfig,
    Settings,
    SmtpSettings,
    SourceConfig,
    check_timezone,
    default_data_dir,
    default_sources,
    parse_clock,
    user_agent,
)
from digest.config.tomlfile import KeyPath, TomlDocument, load_toml
from digest.config.web import read_web, with_web_links
from digest.errors import AddressError, ConfigError, DigestError
from digest.models import AnnounceType

# --- reading the file ---------------------------------------------------------------------


class _Reader:
    """Typed getters over one TOML table that raise ConfigError at the key's line."""

    def __init__(self, doc: TomlDocument, table: Mapping[str, Any], at: KeyPath) -> None:
        self.doc, self.table, self.at = doc, table, at

    def _get(self, key: str, kinds: tuple[type, ...], label: str) -> Any:
        value = self.table.get(key)
        if value is None:
            return None
        # bool is an int in Python; a `port = true` must not pass as 1.
        if isinstance(value, bool) and bool not in kinds:
            raise self.doc.error(f"expected {label}, got {value!r}", (*self.at, key))
        if not isinstance(value, kinds):
            raise self.doc.error(f"expected {label}, got {value!r}", (*self.at, key))
        return value

    def text(self, key: str, default: str | None = None) -> str | None:
        value = self._get(key, (str,), "a string")
        return default if value is None else value

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, (bool,), "true or false")
        return default if value is None else value is True

    def number(self, key: str, default: float, *, low: float, high: float) -> float:
        value = self._get(key, (int, float), "a number")
        if value is None:
            return default
        if not low <= value <= high:
            raise self.doc.error(f"{value} is out of range ({low} to {high})", (*self.at, key))
        return float(value)

    def whole(self, key: str, default: int, *, low: int, high: int) -> int:
        value = self._get(key, (int,), "a whole number")
        if value is None:
            return default
        if not low <= value <= high:
            raise self.doc.error(f"{value} is out of range ({low} to {high})", (*self.at, key))
        return int(value)

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key, (list,), "a list of strings")
        if value is None:
            return ()
        if not all(isinstance(v, str) for v in value):
            raise self.doc.error("expected a list of strings", (*self.at, key))
        return tuple(value)

    def subtable(self, key: str) -> Mapping[str, Any]:
        value = self._get(key, (dict,), "a table")
        return value or {}

    def checked(self, key: str, check: Any, default: Any) -> Any:
        raw = self.text(key)
        if raw is None:
            return default
        try:
            return check(raw)
        except ValueError as err:
            raise self.doc.error(str(err), (*self.at, key)) from err

    def path(self, key: str, default: Path, base: Path) -> Path:
        raw = self.text(key)
        if raw is None:
            return default
        path = Path(raw).expanduser()
        return path if path.is_absolute() else base / path


def load_settings(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from `path`, else $DIGEST_CONFIG, else embedded defaults."""
    env = os.environ if env is None else env
    chosen = path or env.get(CONFIG_ENV)
    if not chosen:
        return settings_from_document(None, env)
    return settings_from_document(load_toml(chosen), env)


def settings_from_document(doc: TomlDocument | None, env: Mapping[str, str]) -> Settings:
    if doc is None:
        doc = TomlDocument(path="<defaults>", data={}, lines=())
    data = doc.data
    doc.check_keys(data, SCHEMA[""], ())
    base = Path(doc.path).resolve().parent if doc.path != "<defaults>" else Path.cwd()

    top = _Reader(doc, data, ())
    main = _Reader(doc, top.subtable("digest"), ("digest",))
    doc.check_keys(main.table, SCHEMA["digest"], ("digest",))
    data_dir = main.path("data_dir", default_data_dir(env), base)
    if env.get(DATA_DIR_ENV):  # the environment wins, so one config can serve several setups
        data_dir = Path(env[DATA_DIR_ENV]).expanduser()
    holidays = None
    if "arxiv_holidays" in main.table:
        holidays = tuple(
            _date(doc, text, ("digest", "arxiv_holidays"))
            for text in main.strings("arxiv_holidays")
        )
    templates = main.text("templates_dir")
    web = read_web(doc, top.subtable("web"))

    database_url = _database_url(doc, main.text("database"), env)
    outbox = _Reader(doc, top.subtable("outbox"), ("outbox",))
    doc.check_keys(outbox.table, SCHEMA["outbox"], ("outbox",))

    return Settings(
        data_dir=data_dir,
        database=(
            data_dir / "digest.sqlite3"
            if database_url or _is_server_url(main.text("database"))
            else main.path("database", data_dir / "digest.sqlite3", data_dir)
        ),
        database_url=database_url,
        outbox_dir=main.path("outbox_dir", data_dir / "outbox", data_dir),
        timezone=main.checked("timezone", check_timezone, "UTC"),
        sources=_sources(doc, data.get("source")),
        fetch=_fetch(doc, top.subtable("fetch")),
        render=_render(doc, top.subtable("email")),
        email=with_web_links(_email(doc, top.subtable("email"), env), web),
        smtp=_smtp(doc, data.get("smtp"), env),
        schedule=_schedule(doc, top.subtable("schedule")),
        lookback_days=main.whole("lookback_days", 3, low=1, high=60),
        catchup_days=main.whole("catchup_days", 7, low=0, high=60),
        semantic=main.flag("semantic", True),
        compose_workers=main.whole("compose_workers", 0, low=0, high=64),
        arxiv_holidays=holidays,
        templates_dir=(base / Path(templates).expanduser()) if templates else None,
        path=None if doc.path == "<defaults>" else Path(doc.path),
        logging=_logging(doc, top.subtable("logging")),
        web=web,
        outbox_keep_days=outbox.whole("keep_days", 30, low=0, high=36_500),
    )


def _is_server_url(text: str | None) -> bool:
    return bool(text) and str(text).split("://", 1)[0] in ("postgresql", "postgres")


def _database_url(doc: TomlDocument, configured: str | None, env: Mapping[str, str]) -> str:
    """$DIGEST_DATABASE_URL, else a postgresql:// URL in [digest] database, else "" (SQLite).

    A password never comes from the file: the URL there names user, host and database, and
    the password comes from the environment ($PGPASSWORD, ~/.pgpass, or the variable's URL).
    """
    if env.get(DATABASE_URL_ENV, "").strip():
        return env[DATABASE_URL_ENV].strip()
    if configured is None or not _is_server_url(configured):
        return ""
    try:
        parts = urlsplit(configured)
        password, _ = parts.password, parts.port
    except ValueError as err:
        raise doc.error(f"not a database URL ({err})", ("digest", "database")) from err
    if password is not None:
        raise doc.error(
            "a password does not belong in the settings file: leave it out of the URL and "
            f"set PGPASSWORD (or {DATABASE_URL_ENV}) in the environment",
            ("digest", "database"),
        )
    return configured


def _date(doc: TomlDocument, text: str, at: KeyPath) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise doc.error(f"not a date {text!r} (expected YYYY-MM-DD)", at) from err


def _sources(doc: TomlDocument, raw: Any) -> tuple[SourceConfig, ...]:
    if raw is None:
        return default_sources()
    if not isinstance(raw, list) or not raw:
        raise doc.error("expected one or more [[source]] tables", ("source",))
    sources: list[SourceConfig] = []
    names: set[str] = set()
    for index, table in enumerate(raw):
        at: KeyPath = ("source", index)
        doc.check_keys(table, SCHEMA["source"], at)
        reader = _Reader(doc, table, at)
        name = reader.text("name")
        kind = reader.text("kind")
        url = reader.text("url")
        for key, value in (("name", name), ("kind", kind), ("url", url)):
            if not value:
                raise doc.error(f"[[source]] number {index + 1} needs a {key}", (*at, key))
        assert name and kind and url
        if name in names:
            raise doc.error(f"two sources are named {name!r}", (*at, "name"))
        names.add(name)
        if kind not in SOURCE_KINDS:
            known = ", ".join(sorted(SOURCE_KINDS))
            raise doc.error(f"unknown source kind {kind!r} (known: {known})", (*at, "kind"))
        if not url.startswith(("http://", "https://")):
            raise doc.error(f"source URL must be http(s): {url!r}", (*at, "url"))
        types = reader.strings("announce_types")
        try:
            announce = frozenset(AnnounceType(t) for t in types) if types else None
        except ValueError as err:
            valid = ", ".join(t.value for t in AnnounceType)
            raise doc.error(f"{err} (valid: {valid})", (*at, "announce_types")) from err
        sources.append(
            SourceConfig(
                name=name,
                kind=kind,
                url=url,
                announce_types=announce or DEFAULT_ANNOUNCE_TYPES,
                categories=reader.strings("categories"),
                enabled=reader.flag("enabled", True),
                catchup_url=_catchup_url(doc, reader, kind, at),
            )
        )
    return tuple(sources)


def _catchup_url(doc: TomlDocument, reader: _Reader, kind: str, at: KeyPath) -> str | None:
    raw = reader.text("catchup_url")
    if raw is None:
        return ARXIV_API_URL if kind == "arxiv_rss" else None
    if raw == "":
        return None  # catch-up switched off
    if kind != "arxiv_rss":
        raise doc.error(
            "catch-up through the arXiv API is for arxiv_rss sources", (*at, "catchup_url")
        )
    if not raw.startswith(("http://", "https://")):
        raise doc.error(f"catch-up URL must be http(s): {raw!r}", (*at, "catchup_url"))
    return raw


def _fetch(doc: TomlDocument, table: Mapping[str, Any]) -> FetchSettings:
    at: KeyPath = ("fetch",)
    doc.check_keys(table, SCHEMA["fetch"], at)
    reader = _Reader(doc, table, at)
    intervals = dict(ARXIV_HOST_INTERVALS)
    for host, seconds in reader.subtable("host_intervals").items():
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise doc.error("expected seconds >= 0", (*at, "host_intervals", host))
        intervals[host] = float(seconds)
    return FetchSettings(
        user_agent=reader.text("user_agent") or user_agent(reader.text("contact")),
        timeout=reader.number("timeout", 30.0, low=1, high=600),
        deadline=reader.number("deadline", 120.0, low=1, high=3600),
        max_bytes=reader.whole("max_bytes", 20_000_000, low=1_000, high=1_000_000_000),
        max_attempts=reader.whole("max_attempts", 4, low=1, high=10),
        default_interval=reader.number("min_interval", 1.0, low=0, high=600),
        host_intervals=intervals,
    )


def _render(doc: TomlDocument, table: Mapping[str, Any]) -> RenderSettings:
    at: KeyPath = ("email",)
    doc.check_keys(table, SCHEMA["email"], at)
    reader = _Reader(doc, table, at)
    defaults = RenderSettings(subject_template=DEFAULT_SUBJECT)
    try:
        return RenderSettings(
            subject_template=reader.text("subject", DEFAULT_SUBJECT) or DEFAULT_SUBJECT,
            title=reader.text("title", defaults.title) or defaults.title,
            intro_markdown=reader.text("intro", "") or "",
            footer_markdown=reader.text("footer", "") or "",
            size_budget=reader.whole(
                "size_budget", defaults.size_budget, low=10_000, high=10_000_000
            ),
            abstract_chars=reader.whole(
                "abstract_chars", defaults.abstract_chars, low=0, high=20_000
            ),
            max_authors=reader.whole("max_authors", defaults.max_authors, low=1, high=100),
        )
    except ConfigError as err:  # the renderer's own check, e.g. a subject template typo
        raise doc.error(err.reason, (*at, err.key or "subject")) from err


def _email(doc: TomlDocument, table: Mapping[str, Any], env: Mapping[str, str]) -> EmailConfig:
    at: KeyPath = ("email",)
    reader = _Reader(doc, table, at)
    sender = reader.text("from", DEFAULT_SENDER) or DEFAULT_SENDER
    unsubscribe_url = reader.text("unsubscribe_url")
    if unsubscribe_url and "{token}" not in unsubscribe_url:
        raise doc.error("unsubscribe_url must contain {token}", (*at, "unsubscribe_url"))
    list_id, mailto = reader.text("list_id"), reader.text("unsubscribe_mailto")
    manage_url = reader.text("manage_url")
    # Every value that ends up in a header is checked now, with its line, rather than when
    # the first digest is rendered.
    checks: list[tuple[str, Callable[[], object]]] = [("from", lambda: parse_mailbox(sender))]
    if list_id:
        checks.append(("list_id", lambda: check_list_id(list_id)))
    if unsubscribe_url:
        sample = unsubscribe_url.replace("{token}", "TOKEN")
        checks.append(
            ("unsubscribe_url", lambda: check_header_url(sample, "unsubscribe_url", _WEB))
        )
    if mailto:
        checks.append(("unsubscribe_mailto", lambda: mailto_uri(mailto)))
    if manage_url:
        checks.append(("manage_url", lambda: check_header_url(manage_url, "manage_url", _WEB)))
    for key, check in checks:
        try:
            check()
        except DigestError as err:
            raise doc.error(str(err), (*at, key)) from err
    return EmailConfig(
        sender=sender,
        list_id=list_id,
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=mailto,
        manage_url=manage_url,
        send_empty=reader.flag("send_empty", False),
        secret=_secret(env),
        previous_secret=_secret(env, PREVIOUS_SECRET_ENV),
        operator=_operator(doc, reader),
    )


_WEB = ("https", "http")
MIN_SECRET_BYTES = 16


def _secret(env: Mapping[str, str], name: str = SECRET_ENV) -> str | None:
    secret = env.get(name) or None
    if secret is not None and len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"the environment variable {name} holds {len(secret.encode())} bytes; "
            f"a signing key needs at least {MIN_SECRET_BYTES} (make one with: python3 -c "
            "'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return secret


def _operator(doc: TomlDocument, reader: _Reader) -> str | None:
    raw = reader.text("operator")
    if not raw:
        return None
    try:
        return validate_address(raw)
    except AddressError as err:
        raise doc.error(str(err), ("email", "operator")) from err


def _smtp(doc: TomlDocument, raw: Any, env: Mapping[str, str]) -> SmtpSettings | None:
    if raw is None:
        return None  # no server: messages go to the outbox folder as .eml files
    at: KeyPath = ("smtp",)
    if not isinstance(raw, dict):
        raise doc.error("expected a table", at)
    doc.check_keys(raw, SCHEMA["smtp"], at)
    reader = _Reader(doc, raw, at)
    host = reader.text("host")
    if not host:
        raise doc.error("[smtp] needs a host", (*at, "host"))
    security = reader.text("security", "starttls") or "starttls"
    if security not in ("ssl", "starttls", "plain"):
        raise doc.error("security must be ssl, starttls or plain", (*at, "security"))
    if security == "plain" and host not in ("localhost", "127.0.0.1", "::1"):
        raise doc.error("plain SMTP (no TLS) is only allowed to a loopback host", (*at, "security"))
    default_port = {"ssl": 465, "starttls": 587, "plain": 25}[security]
    password_env = reader.text("password_env", SMTP_PASSWORD_ENV) or SMTP_PASSWORD_ENV
    username = reader.text("username")
    password = env.get(password_env)
    if username and not password:
        raise doc.error(
            f"username is set but the environment variable {password_env} holding the password "
            "is empty",
            (*at, "username"),
        )
    ca_file = reader.text("ca_file")
    return SmtpSettings(
        host=host,
        port=reader.whole("port", default_port, low=1, high=65535),
        security=security,  # type: ignore[arg-type]
        username=username,
        password=password,
        timeout=reader.number("timeout", 30.0, low=1, high=600),
        ca_file=ca_file,
        connections=reader.whole("connections", DEFAULT_CONNECTIONS, low=1, high=MAX_CONNECTIONS),
        ehlo_name=_ehlo_name(doc, reader.text("ehlo_name"), (*at, "ehlo_name")),
        max_per_second=reader.number("max_per_second", 0.0, low=0, high=100_000),
        max_per_day=reader.whole("max_per_day", 0, low=0, high=1_000_000_000),
    )


_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)


def _ehlo_name(doc: TomlDocument, raw: str | None, at: KeyPath) -> str | None:
    if raw is None:
        return None
    if not _HOST_NAME.fullmatch(raw):
        raise doc.error(f"not a host name {raw!r} (e.g. mail.example.org)", at)
    return raw


def _schedule(doc: TomlDocument, table: Mapping[str, Any]) -> ScheduleConfig:
    at: KeyPath = ("schedule",)
    for old in ("run_at", "timezone"):
        if old in table:
            raise doc.error(
                "replaced: fetches run at [schedule] fetch_at (a list of HH:MM) in "
                "fetch_timezone, and each subscriber gets their digest at their own time "
                "(digest subscribe --at HH:MM --tz ZONE)",
                (*at, old),
            )
    doc.check_keys(table, SCHEMA["schedule"], at)
    reader = _Reader(doc, table, at)
    fetch_at: tuple[dt.time, ...] = DEFAULT_FETCH_AT
    if "fetch_at" in table:
        try:
            fetch_at = tuple(sorted({parse_clock(t) for t in reader.strings("fetch_at")}))
        except ValueError as err:
            raise doc.error(str(err), (*at, "fetch_at")) from err
        if not fetch_at:
            raise doc.error('give at least one time, e.g. ["00:30"]', (*at, "fetch_at"))
    return ScheduleConfig(
        fetch_at=fetch_at,
        fetch_timezone=reader.checked("fetch_timezone", check_timezone, DEFAULT_FETCH_TIMEZONE),
        tick_minutes=reader.whole("tick_minutes", 5, low=1, high=60),
        lease_seconds=reader.number("lease_seconds", 900.0, low=0.5, high=86_400),
    )


def _logging(doc: TomlDocument, table: Mapping[str, Any]) -> LoggingConfig:
    at: KeyPath = ("logging",)
    doc.check_keys(table, SCHEMA["logging"], at)
    reader = _Reader(doc, table, at)
    form = reader.text("format", "text") or "text"
    if form not in ("text", "json"):
        raise doc.error("format must be text or json", (*at, "format"))
    level = (reader.text("level", "info") or "info").lower()
    if level not in ("debug", "info", "warning", "error"):
        raise doc.error("level must be debug, info, warning or error", (*at, "level"))
    return LoggingConfig(format=form, level=level)
