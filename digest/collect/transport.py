"""The HTTP transport of the Fetcher: TLS set up on the first https:// request, not before.

httpx's default transport loads the CA bundle (about 0.1 s) when the client is made, even
when every URL fetched is http:// (a local mirror, the tests, the peer benchmark). Here plain
http:// goes through a transport whose TLS context holds no CA at all (it is never used for
TLS; were it ever, every certificate would fail to verify, never pass unchecked), and the
verifying one (httpx's defaults: certifi, or $SSL_CERT_FILE / $SSL_CERT_DIR) is made once,
when an https:// URL is first fetched.
"""

from __future__ import annotations

import ssl
import threading

from digest.collect.lean_httpx import httpx


class TlsSetupError(httpx.TransportError):
    """The verifying TLS context could not be made (say, $SSL_CERT_FILE names no file):
    no retry will fix it."""


class LazyTlsTransport(httpx.BaseTransport):
    """http:// now, https:// (verified) from its first request; safe to share between
    threads, as the Fetcher's client is."""

    def __init__(self) -> None:
        no_ca = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, trusting nobody
        self._plain = httpx.HTTPTransport(verify=no_ca)
        self._tls: httpx.HTTPTransport | None = None
        self._lock = threading.Lock()

    @property
    def tls_ready(self) -> bool:
        """Whether the verifying TLS side has been made (an https:// URL was fetched)."""
        return self._tls is not None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            return self._verifying().handle_request(request)
        return self._plain.handle_request(request)

    def _verifying(self) -> httpx.HTTPTransport:
        with self._lock:
            if self._tls is None:
                try:
                    self._tls = httpx.HTTPTransport(verify=True)
                except (OSError, ssl.SSLError) as exc:
                    raise TlsSetupError(f"cannot load the trusted certificates: {exc}") from exc
            return self._tls

    def close(self) -> None:
        with self._lock:
            self._plain.close()
            if self._tls is not None:
                self._tls.close()
