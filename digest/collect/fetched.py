"""What a successful download is, apart from the Fetcher that makes one (digest.collect.fetch),
so that code reading saved or served listings does not load the HTTP client."""

from __future__ import annotations

from dataclasses import dataclass

from digest.models import Validators


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful download. `url` is where the body was finally served (after redirects)."""

    url: str
    status: int  # a 2xx status, or 304
    body: bytes  # b"" for 304
    validators: Validators
    content_type: str | None
    retries: int = 0  # failed attempts retried before this one succeeded

    @property
    def not_modified(self) -> bool:
        return self.status == 304
