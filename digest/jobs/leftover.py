"""What a run leaves undelivered, read from the outbox when it ends: every pending digest
(nobody is sending it, or the server was unreachable), every digest another live process is
sending (held: in someone's hands), and today's digests that were given up on. A run that
leaves a digest pending or given up on today is not ok, and the command exits non-zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from digest.jobs.schedule import latest_delivery_day
from digest.models import DeliveryState, Subscriber, Undelivered
from digest.store.roles import Outbox


def undelivered(
    store: Outbox,
    subscribers: Sequence[Subscriber],
    now: dt.datetime,
    *,
    unreachable: str = "",
) -> tuple[tuple[Undelivered, ...], int]:
    """(the digests left undelivered, how many older ones were given up on before today).
    `unreachable`: why this run stopped sending (the server kept failing), if it did."""
    held = {claim.outbox_id: claim for claim in store.claims() if claim.until > now}
    people = {s.id: s for s in subscribers if s.id is not None}
    left: list[Undelivered] = []
    for item in store.pending():
        claim = held.get(item.id)
        if claim is not None:
            detail = f"being sent by {claim.owner} (its claim ends {claim.until:%H:%M:%S} UTC)"
        elif unreachable:
            detail = f"server unreachable ({unreachable}); sent at the next run"
        else:
            detail = "pending: " + (
                f"the last attempt failed ({item.last_error}); sent at the next run"
                if item.last_error
                else "not sent yet; sent at the next run"
            )
        left.append(
            Undelivered(item.recipient, item.day, DeliveryState.PENDING, detail, claim is not None)
        )
    older = 0
    for item in store.failed():
        person = people.get(item.subscriber_id)
        if person is None:
            continue  # no longer subscribed: nothing is owed
        if item.day >= latest_delivery_day(person, now):
            reason = f"gave up: {item.last_error}; `digest retry` sends it again"
            left.append(Undelivered(item.recipient, item.day, DeliveryState.FAILED, reason))
        else:
            older += 1
    return tuple(left), older


def older_note(older: int) -> tuple[str, ...]:
    if not older:
        return ()
    return (
        f"{older} digest(s) of earlier days were given up on; `digest status` lists them and "
        "`digest retry` sends them again",
    )
