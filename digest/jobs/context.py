"""What every job runs with: one small, explicit context instead of long parameter lists.

A job reads its settings, store, clock, stop event, templates and signing secret from here;
nothing is global. Progress goes to a sink the caller chose (a terminal counter for the CLI,
nothing for the scheduler and tests), so no stage needs to know whether anyone is watching.
"""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jinja2 import Environment

from digest.compose.render import make_environment
from digest.config.settings import Settings
from digest.store.roles import Operations, Store
from digest.util.clock import Clock, utc_now
from digest.util.progress import Progress, silent

if TYPE_CHECKING:  # the SMTP client and the outbox's delivery: only for jobs that send
    from digest.deliver.smtp import Sender

__all__ = [
    "Clock",
    "ProgressSink",
    "RunContext",
    "SenderFactory",
    "no_progress",
    "signing_keys",
    "signing_secret",
    "terminal_progress",
    "utc_now",
]

SenderFactory = Callable[[], "Sender"]  # as digest.deliver.delivery calls it

# label ("fetching", "sending"), total if known -> a counter for that step
ProgressSink = Callable[[str, int | None], Progress]


def no_progress(label: str, total: int | None) -> Progress:
    return silent()


def terminal_progress(label: str, total: int | None) -> Progress:
    """A counter on stderr when stderr is a terminal (Progress draws nothing otherwise)."""
    return Progress(label, total) if total != 0 else silent()


@dataclass(frozen=True)
class RunContext:
    """One job's world. `clock` is read once per job for its moment, and again for the time
    it finished; tests pin it."""

    settings: Settings
    store: Store
    make_sender: SenderFactory
    clock: Clock = utc_now
    stop: threading.Event = field(default_factory=threading.Event)
    progress: ProgressSink = no_progress

    @property
    def stopping(self) -> bool:
        return self.stop.is_set()

    @functools.cached_property
    def templates(self) -> Environment:
        return make_environment(self.settings.templates_dir)

    @functools.cached_property
    def secret(self) -> bytes:
        return signing_secret(self.settings, self.store)

    @functools.cached_property
    def installation(self) -> str:
        return installation_id(self.store)


def signing_secret(settings: Settings, store: Operations | None) -> bytes:
    """The key that signs links: from the environment, else one made once and kept in the
    store. Without a store (a preview) a throwaway key: its links are shown, never honoured."""
    if settings.email.secret:
        return settings.email.secret.encode()
    if store is None:
        return secrets.token_bytes(32)
    kept = store.meta("secret")
    if kept is None:
        kept = secrets.token_urlsafe(32)
        store.set_meta("secret", kept)
    return kept.encode()


def installation_id(store: Operations) -> str:
    """A random id made once per database: Message-IDs of two installations never meet."""
    kept = store.meta("installation")
    if kept is None:
        kept = secrets.token_hex(8)
        store.set_meta("installation", kept)
    return kept


def signing_keys(settings: Settings, store: Operations | None) -> tuple[bytes, ...]:
    """Every key a link may be signed with, the current one first: DIGEST_SECRET_PREVIOUS
    (the key before a rotation), and the key kept in the store when DIGEST_SECRET replaced
    it, so links already mailed keep working."""
    keys = [signing_secret(settings, store)]
    if settings.email.previous_secret:
        keys.append(settings.email.previous_secret.encode())
    if settings.email.secret and store is not None:
        kept = store.meta("secret")
        if kept:
            keys.append(kept.encode())
    return tuple(dict.fromkeys(keys))
