"""What the run report and `digest status` say about the provider's daily window, and the
daily pruning of old message bodies."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Protocol

from digest.config.settings import Settings
from digest.store.roles import Operations, Outbox, PruneCount, SendWindow
from digest.util.logs import event

log = logging.getLogger("digest.sending")

PRUNED_META = "outbox_pruned_on"  # the day pruning last ran: it runs once a day


class _WindowStore(Outbox, SendWindow, Protocol):
    pass


class _PruneStore(Outbox, Operations, Protocol):
    pass


def window_notes(store: _WindowStore, settings: Settings, now: dt.datetime) -> tuple[str, ...]:
    """("N digests wait for the daily sending window (next slot at HH:MM ZONE)",) while the
    daily cap is reached and digests are pending; else nothing."""
    limits = settings.send_limits
    if limits.per_day <= 0:
        return ()
    full_until = store.send_window_full_until(limits, now)
    # Claimed ones are being sent in slots they hold: they do not wait.
    waiting = store.unclaimed_pending_count() if full_until is not None else 0
    if full_until is None or waiting <= 0:
        return ()
    local = full_until.astimezone(settings.zone)
    when = (
        f"{local:%H:%M %Z}"
        if local.date() == now.astimezone(settings.zone).date()
        else (f"{local:%a %d %b %H:%M %Z}")
    )
    noun = "digest waits" if waiting == 1 else "digests wait"
    return (f"{waiting} {noun} for the daily sending window (next slot at {when})",)


def prune_outbox(store: Outbox, keep_days: int, now: dt.datetime) -> PruneCount:
    """Empty the bodies of messages sent more than `keep_days` ago (0: keep every body)."""
    if keep_days <= 0:
        return PruneCount()
    pruned = store.prune_sent(now - dt.timedelta(days=keep_days))
    if pruned.messages:
        event(
            log,
            "outbox_pruned",
            f"emptied {pruned.messages} sent messages older than {keep_days} days "
            f"({pruned.bytes / 1e6:.1f} MB); who was sent what is kept",
            messages=pruned.messages,
            bytes=pruned.bytes,
        )
    return pruned


def prune_if_due(store: _PruneStore, settings: Settings, now: dt.datetime) -> PruneCount | None:
    """Prune once per day (at the end of a worker pass, a run or a tick); None if it ran today.
    Two processes pruning at once do the same harmless work."""
    today = now.date().isoformat()
    if settings.outbox_keep_days <= 0 or store.meta(PRUNED_META) == today:
        return None
    pruned = prune_outbox(store, settings.outbox_keep_days, now)
    store.set_meta(PRUNED_META, today)
    return pruned
