"""Crash points for tests: kill the process at a named step, exactly as a power cut would.

    DIGEST_FAILPOINT=after-send digest run      # dies with status 70 right after SMTP acceptance

`failpoint(name)` calls `os._exit(70)` when the environment variable DIGEST_FAILPOINT equals
`name`: no cleanup, no `finally`, no flushing, so a test that reruns the tool afterwards proves
what the database and the mail server look like after a real crash. The variable is read once
at import; with it unset a failpoint is a single comparison against None.

The points, in the order a run passes them (see `POINTS`):
    after-fetch       listings fetched, nothing stored yet
    after-store       papers and source states stored, no digest composed
    after-enqueue     one digest written to the outbox (each enqueue passes this point)
    before-send       a message claimed, not yet handed to the SMTP server
    after-send        the SMTP server accepted a message, not yet recorded as sent
    after-mark-sent   a message recorded as sent
"""

from __future__ import annotations

import os

FAILPOINT_ENV = "DIGEST_FAILPOINT"
EXIT_STATUS = 70  # EX_SOFTWARE: tells a test "died at the failpoint" from other failures
POINTS = (
    "after-fetch",
    "after-store",
    "after-enqueue",
    "before-send",
    "after-send",
    "after-mark-sent",
)

_ARMED: str | None = os.environ.get(FAILPOINT_ENV) or None


def failpoint(name: str) -> None:
    if _ARMED is not None and name == _ARMED:
        os._exit(EXIT_STATUS)
