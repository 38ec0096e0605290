"""One root error; each subclass says where the problem is (file and line, URL, recipient).

Code that catches errors to keep a batch going catches `DigestError`, records `str(err)`
and moves on; anything else is a bug and is allowed to surface.
"""

from __future__ import annotations


class DigestError(Exception):
    """Root of every error this package raises on purpose."""


class ConfigError(DigestError):
    """A configuration or profile file is wrong. Names the file, line and key when known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.key = key
        self.reason = message
        where = path or ""
        if path and line:
            where = f"{path}:{line}"
        prefix = f"{where}: " if where else ""
        keypart = f"{key}: " if key else ""
        super().__init__(f"{prefix}{keypart}{message}")


class SourceError(DigestError):
    """Fetching or reading a listing failed. Names the source URL."""

    def __init__(self, message: str, *, url: str) -> None:
        self.url = url
        self.reason = message
        super().__init__(f"{url}: {message}")


class FetchError(SourceError):
    """The listing could not be downloaded (network, HTTP status, size, timeout)."""

    retries = 0  # failed attempts that were retried before this one ended the fetch


class ParseError(SourceError):
    """The bytes downloaded are not the listing they claim to be, or are malformed."""


class FeedErrorReported(ParseError):
    """The service answered with an error document (arXiv 'Feed error for query', API error)."""


class AddressError(DigestError):
    """An email address is not acceptable. Names the address."""

    def __init__(self, message: str, *, address: str) -> None:
        self.address = address
        self.reason = message
        super().__init__(f"{address!r}: {message}")


class DeliveryError(DigestError):
    """SMTP refused or failed. `permanent` is true for 5xx replies that retrying won't fix."""

    def __init__(self, message: str, *, recipient: str, permanent: bool = False) -> None:
        self.recipient = recipient
        self.permanent = permanent
        self.reason = message
        super().__init__(f"{recipient}: {message}")


class StoreError(DigestError):
    """The database is unusable (wrong schema version, locked beyond patience)."""
