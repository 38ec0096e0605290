"""The I/O edges a job is wired to: how listings are read and how messages leave."""

from __future__ import annotations

from collections.abc import Callable

from digest.collect.fetch import Fetcher, FetchResult
from digest.collect.listings import ListingRequest
from digest.config.settings import Settings
from digest.deliver.smtp import OutboxDirSender, Sender, SmtpSender


def fetcher_reader(fetcher: Fetcher) -> Callable[[ListingRequest], FetchResult]:
    return lambda request: fetcher.fetch(request.url, request.validators)


def sender_factory(settings: Settings) -> Callable[[], Sender]:
    if settings.smtp is not None:
        smtp = settings.smtp
        return lambda: SmtpSender(smtp)
    outbox = settings.outbox_dir
    return lambda: OutboxDirSender(outbox)
