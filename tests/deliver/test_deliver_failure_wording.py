"""What a failed delivery says about what comes next, once and truly: a temporary failure
failed for this run and the next run tries again; a refusal, or a message that failed in too
many runs, is given up (until `digest retry`). Real SQLite outbox, real SMTP server."""

from __future__ import annotations

from deliver_handlers import FROM, queue_digest, smtp
from support.smtp_server import SmtpSink

from digest.deliver.delivery import MAX_DELIVERY_ATTEMPTS, deliver_pending
from digest.deliver.smtp import SmtpSender
from digest.models import DeliveryState
from digest.store import Store


def send_all(store: Store, sink: SmtpSink) -> dict[str, str]:
    outcomes = deliver_pending(store, lambda: SmtpSender(smtp(sink.port)), FROM)
    return {o.recipient: o.detail for o in outcomes if o.state is DeliveryState.FAILED}


def test_a_temporary_failure_says_it_failed_this_run_and_the_next_run_tries_again(
    store: Store, sink: SmtpSink
) -> None:
    busy = queue_digest(store, 0)
    sink.handler.reject[busy] = "451 4.2.1 mailbox busy"

    details = send_all(store, sink)

    assert details == {
        busy: "3 attempts failed, the last: recipient refused: 451 4.2.1 mailbox busy; "
        "the next run tries again"
    }
    assert [item.recipient for item in store.pending()] == [busy]  # true: still pending


def test_a_refusal_says_it_gave_up_and_nothing_about_a_next_run(
    store: Store, sink: SmtpSink
) -> None:
    unknown = queue_digest(store, 0)
    sink.handler.reject[unknown] = "550 5.1.1 no such mailbox"

    detail = send_all(store, sink)[unknown]

    assert detail == (
        "recipient refused: 550 5.1.1 no such mailbox; "
        "gave up: the server refused it for good (`digest retry` sends it again)"
    )
    assert "next run" not in detail
    assert [item.recipient for item in store.failed()] == [unknown]


def test_the_last_allowed_run_says_it_gave_up(store: Store, sink: SmtpSink) -> None:
    busy = queue_digest(store, 0)
    sink.handler.reject[busy] = "451 4.2.1 mailbox busy"
    for _ in range(MAX_DELIVERY_ATTEMPTS - 1):
        assert send_all(store, sink)[busy].endswith("; the next run tries again")

    detail = send_all(store, sink)[busy]

    assert detail.endswith(
        f"; gave up after failing in {MAX_DELIVERY_ATTEMPTS} runs (`digest retry` sends it again)"
    )
    assert store.pending() == [] and [i.recipient for i in store.failed()] == [busy]
