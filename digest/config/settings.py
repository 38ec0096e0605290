"""The typed settings every stage reads: frozen records, built by digest.config.load.

The records live here, below the stages, so that a stage takes its own settings (fetching,
rendering, SMTP) without importing the configuration reader or another stage.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from digest import __version__
from digest.config.subject import check_subject_template
from digest.errors import ConfigError
from digest.models import AnnounceType
from digest.store.roles import SendLimits
from digest.util.dburl import display_url

# The listing kinds a source may name; digest.collect.sources has one parser for each.
SOURCE_KINDS = frozenset({"arxiv_api", "arxiv_list", "arxiv_rss", "feed", "hf_daily", "hf_page"})

CONFIG_ENV = "DIGEST_CONFIG"
DATA_DIR_ENV = "DIGEST_DATA_DIR"
# A postgresql:// URL (the password may be in it: it is the environment, not the file).
DATABASE_URL_ENV = "DIGEST_DATABASE_URL"
# With compose_workers = 0, this many digests to compose (or more) use every core: below it,
# forking and shipping messages back costs more than it saves.
AUTO_WORKERS_FROM = 200
SECRET_ENV = "DIGEST_SECRET"
# The key DIGEST_SECRET replaced: links it signed are still accepted (key rotation).
PREVIOUS_SECRET_ENV = "DIGEST_SECRET_PREVIOUS"
SMTP_PASSWORD_ENV = "DIGEST_SMTP_PASSWORD"

ARXIV_RSS_URL = "https://rss.arxiv.org/rss/{categories}"
HF_DAILY_URL = "https://huggingface.co/api/daily_papers?date={date}"
ARXIV_API_URL = "https://export.arxiv.org/api/query"
DEFAULT_CATEGORIES = ("cs.LG", "cs.CL", "cs.AI", "stat.ML")
# arXiv asks for one request every 3 s per operator; 15 s Crawl-delay for arxiv.org pages.
ARXIV_HOST_INTERVALS = {
    "rss.arxiv.org": 3.0,
    "export.arxiv.org": 3.0,
    "arxiv.org": 15.0,
}
DEFAULT_ANNOUNCE_TYPES = frozenset({AnnounceType.NEW, AnnounceType.CROSS})
DEFAULT_SUBJECT = "{papers} for you - {date:%a %d %b}"  # "1 new paper", "5 new papers"


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One listing to read. `url` may hold `{date}` (one fetch per day, used for catch-up) and
    `{categories}` (filled from `categories`, or from what subscribers follow when empty)."""

    name: str
    kind: str
    url: str
    announce_types: frozenset[AnnounceType] = DEFAULT_ANNOUNCE_TYPES
    categories: tuple[str, ...] = ()
    enabled: bool = True
    # arXiv RSS carries only the latest announcement; days missed while the tool was down are
    # read back from this arXiv API endpoint by submission date. None: no catch-up.
    catchup_url: str | None = None

    @property
    def per_day(self) -> bool:
        return "{date}" in self.url

    def resolve_url(self, day: dt.date, categories: tuple[str, ...] = ()) -> str:
        cats = self.resolve_categories(categories)
        return self.url.replace("{date}", day.isoformat()).replace("{categories}", "+".join(cats))

    def resolve_categories(self, followed: tuple[str, ...] = ()) -> tuple[str, ...]:
        """Its own list, else what subscribers follow, else the built-in default."""
        return self.categories or followed or DEFAULT_CATEGORIES


DEFAULT_SENDER = "Paper Digest <digest@localhost.localdomain>"


@dataclass(frozen=True, slots=True)
class EmailConfig:
    sender: str = DEFAULT_SENDER
    list_id: str | None = None
    unsubscribe_url: str | None = None  # with "{token}"
    unsubscribe_mailto: str | None = None
    manage_url: str | None = None
    send_empty: bool = False  # mail a digest even when nothing matched
    secret: str | None = None  # signs unsubscribe tokens; from DIGEST_SECRET
    previous_secret: str | None = None  # still accepted; from DIGEST_SECRET_PREVIOUS
    operator: str | None = None  # gets a short alert when a run has problems


# arXiv announces at 20:00 Eastern and rebuilds its RSS around midnight Eastern; Hugging Face
# adds papers through the day. Fetching shortly after those moments keeps digests fresh.
DEFAULT_FETCH_AT = (dt.time(0, 30), dt.time(6, 30), dt.time(12, 30), dt.time(18, 30))
DEFAULT_FETCH_TIMEZONE = "America/New_York"


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    fetch_at: tuple[dt.time, ...] = DEFAULT_FETCH_AT
    fetch_timezone: str = DEFAULT_FETCH_TIMEZONE
    tick_minutes: int = 5  # how often due digests are composed and pending ones sent
    lease_seconds: float = 900.0  # a worker's hold on a message; a crashed worker's expires

    @property
    def fetch_zone(self) -> ZoneInfo:
        return ZoneInfo(self.fetch_timezone)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """The subscriber's pages (`digest serve`), read from [web] by digest.config.web."""

    host: str = "127.0.0.1"
    port: int = 8080
    base_url: str | None = None  # the public address every email link uses
    confirm_hours: float = 48.0  # a confirmation link (and the pending sign-up) lasts this long
    manage_days: int = 30  # a manage link lasts this long; every digest carries a fresh one
    client_limit: int = 30  # form posts per client address per client_window seconds
    client_window: int = 600
    address_limit: int = 3  # mails (confirmation, manage link) to one address per window
    address_window: int = 3600
    max_body_bytes: int = 16_384
    trusted_proxies: tuple[str, ...] = ()  # reverse proxies whose X-Forwarded-For is believed

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    format: str = "text"  # text | json
    level: str = "info"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    database: Path
    outbox_dir: Path
    timezone: str
    sources: tuple[SourceConfig, ...]
    fetch: FetchSettings
    render: RenderSettings
    email: EmailConfig
    smtp: SmtpSettings | None
    schedule: ScheduleConfig
    lookback_days: int = 3
    catchup_days: int = 7
    semantic: bool = True  # use the [semantic] extra when it is installed
    # digests are composed (ranked, rendered, wrapped) in this many forked processes; 1: in
    # the running process; 0: one per CPU core once there are enough subscribers to gain
    compose_workers: int = 0
    arxiv_holidays: tuple[dt.date, ...] | None = None
    templates_dir: Path | None = None
    path: Path | None = None  # the file these settings came from
    extra: Mapping[str, Any] = field(default_factory=dict)
    logging: LoggingConfig = LoggingConfig()
    web: WebSettings = WebSettings()
    # Sent messages' bodies are emptied after this many days (the rows and ledger stay); 0:
    # kept forever.
    outbox_keep_days: int = 30

    @property
    def send_limits(self) -> SendLimits:
        return self.smtp.limits if self.smtp else SendLimits()

    # The shared store: a postgresql:// URL ($DIGEST_DATABASE_URL, or [digest] database
    # without a password); empty means the SQLite file `database`.
    database_url: str = ""

    @property
    def store_url(self) -> str:
        """What open_store opens: the PostgreSQL URL, else the SQLite file."""
        return self.database_url or str(self.database)

    @property
    def database_name(self) -> str:
        """The store as messages name it: without a password."""
        return display_url(self.store_url)

    @property
    def has_database(self) -> bool:
        """A store to read exists (a server is always there; a file may not be yet)."""
        return bool(self.database_url) or self.database.exists()

    def workers_for(self, jobs: int) -> int:
        """How many processes compose `jobs` digests: forking pays only for many of them."""
        if self.compose_workers:
            return self.compose_workers
        return (os.cpu_count() or 1) if jobs >= AUTO_WORKERS_FROM else 1

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def default_sources() -> tuple[SourceConfig, ...]:
    return (
        SourceConfig(name="huggingface", kind="hf_daily", url=HF_DAILY_URL),
        SourceConfig(name="arxiv", kind="arxiv_rss", url=ARXIV_RSS_URL, catchup_url=ARXIV_API_URL),
    )


def default_data_dir(env: Mapping[str, str]) -> Path:
    if env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "digest"


def user_agent(contact: str | None) -> str:
    # arXiv and HF both ask for a User-Agent that says who runs the tool and how to reach them.
    who = f" (+mailto:{contact})" if contact else ""
    return f"digest/{__version__}{who}"


def check_timezone(name: str) -> str:
    """Return `name` if it is an IANA zone we can load, else raise a ValueError saying so."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name like Europe/Berlin)"
        ) from err
    return name


def parse_moment(text: str, zone: ZoneInfo) -> dt.datetime:
    """'2024-11-28' (noon in `zone`) or an ISO date and time (UTC unless it has an offset)
    -> an aware UTC datetime. Raises ValueError with a plain message."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            return dt.datetime.combine(day, dt.time(12, 0), zone).astimezone(dt.UTC)
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"not a date or moment {text!r} (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[+HH:MM])"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def parse_clock(text: str) -> dt.time:
    """'07:30' -> time(7, 30). Raises ValueError with a plain message."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"not a time of day {text!r} (expected HH:MM, e.g. 07:30)")
    return dt.time(int(match.group(1)), int(match.group(2)))


# --- Fetching, rendering and SMTP: each stage's own settings ------------------------


@dataclass(frozen=True, slots=True)
class FetchSettings:
    """How politely and how patiently to fetch. Built by the caller from the configuration.

    `host_intervals` maps a host name to its minimum interval in seconds; a host not listed
    inherits the entry of its closest listed parent domain ("arxiv.org" covers
    "export.arxiv.org"), else `default_interval`.
    """

    user_agent: str
    timeout: float = 30.0  # for each connect and each read
    deadline: float = 120.0  # for one whole response: connect, headers and body
    max_bytes: int = 20_000_000
    max_attempts: int = 4
    backoff_base: float = 1.0
    max_retry_after: float = 300.0
    default_interval: float = 1.0
    host_intervals: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Wrong values here are a programming error in the caller, not a user's config typo.
        if not self.user_agent.strip():
            raise ValueError("user_agent must not be empty")
        if self.timeout <= 0 or self.deadline <= 0:
            raise ValueError("timeout and deadline must be positive")
        if self.max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.backoff_base < 0 or self.max_retry_after < 0 or self.default_interval < 0:
            raise ValueError("backoff_base, max_retry_after and default_interval must be >= 0")
        if any(seconds < 0 for seconds in self.host_intervals.values()):
            raise ValueError("host_intervals must be >= 0")

    def interval_for(self, host: str) -> float:
        """Minimum seconds between two requests to `host`."""
        labels = host.lower().split(".")
        for start in range(len(labels)):
            candidate = ".".join(labels[start:])
            if candidate in self.host_intervals:
                return self.host_intervals[candidate]
        return self.default_interval


@dataclass(frozen=True)
class RenderSettings:
    """How digests look; the same for every subscriber of one installation."""

    subject_template: str  # "{count} new papers for you - {date:%a %d %b}" or Jinja "{{ count }}"
    title: str = "Paper digest"
    intro_markdown: str = ""  # operator's note above the papers (trusted Markdown)
    footer_markdown: str = ""  # operator's note in the footer (trusted Markdown)
    size_budget: int = 90_000  # bytes of HTML; Gmail clips messages at about 102 KB
    abstract_chars: int = 600
    max_authors: int = 4

    def __post_init__(self) -> None:
        check_subject_template(self.subject_template)
        if self.size_budget < 10_000:
            raise ConfigError("size_budget must be at least 10000 bytes", key="size_budget")
        if self.abstract_chars < 0 or self.max_authors < 1:
            raise ConfigError("abstract_chars must be >= 0, max_authors >= 1", key="abstract_chars")


Security = Literal["ssl", "starttls", "plain"]
_SECURITY_MODES: tuple[str, ...] = ("ssl", "starttls", "plain")
DEFAULT_CONNECTIONS = 2
MAX_CONNECTIONS = 32


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    ca_file: str | None = None  # extra CA bundle (a private CA, or trustme in tests)
    # The name we greet the server with (EHLO); None: this machine's fully qualified name.
    # Some relays check it against the sending host's DNS.
    ehlo_name: str | None = None
    max_attempts: int = 4
    backoff_seconds: float = 2.0
    # Parallel connections for a batch (digest.sendpool): while one waits for the server's
    # reply, another sends. Two already overlap the waits; a remote relay with a long
    # round trip gains from more, if its operator allows that many.
    connections: int = DEFAULT_CONNECTIONS
    # The provider's limits, shared through the store by every worker (0 = unlimited).
    max_per_second: float = 0.0
    max_per_day: int = 0

    @property
    def limits(self) -> SendLimits:
        return SendLimits(per_second=self.max_per_second, per_day=self.max_per_day)

    def __post_init__(self) -> None:
        if self.max_per_second < 0 or self.max_per_day < 0:
            raise ConfigError("the sending limits are 0 (unlimited) or more", key="smtp")
        if self.security not in _SECURITY_MODES:
            raise ConfigError(
                f"security must be one of {', '.join(_SECURITY_MODES)}, not {self.security!r}",
                key="smtp.security",
            )
        if self.security == "plain" and not _is_loopback(self.host):
            raise ConfigError(
                f"security = 'plain' would send mail and passwords unencrypted to {self.host}; "
                "use 'starttls' (port 587) or 'ssl' (port 465), or a loopback relay",
                key="smtp.security",
            )
        if not 0 < self.port < 65536:
            raise ConfigError(f"port {self.port} is out of range", key="smtp.port")
        if (self.username is None) != (self.password is None):
            raise ConfigError("username and password must be given together", key="smtp.username")
        if self.max_attempts < 1:
            raise ConfigError("max_attempts must be at least 1", key="smtp.max_attempts")
        if not 1 <= self.connections <= MAX_CONNECTIONS:
            raise ConfigError(
                f"connections must be 1 to {MAX_CONNECTIONS}, not {self.connections}",
                key="smtp.connections",
            )
        if self.timeout <= 0 or self.backoff_seconds < 0:
            raise ConfigError("timeout must be > 0 and backoff >= 0", key="smtp.timeout")
