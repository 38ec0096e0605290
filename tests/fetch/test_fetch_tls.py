"""TLS is set up on the first https:// fetch, and verifies: real servers on 127.0.0.1, one
plain and one TLS with a throwaway CA (trustme)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.http_server import MakeFetcher, Reply, ScriptedServer
from support.tls import Tls

from digest.errors import FetchError


@pytest.fixture
def tls(tmp_path: Path) -> Tls:
    return Tls(tmp_path)


@pytest.fixture
def tls_server(tls: Tls) -> Iterator[ScriptedServer]:
    scripted = ScriptedServer(tls=tls.server_context())
    yield scripted
    scripted.close()


@pytest.fixture(autouse=True)
def no_ca_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx reads these for its trusted certificates; each test says what it trusts
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def test_one_fetcher_fetches_http_and_verified_https(
    server: ScriptedServer,
    tls_server: ScriptedServer,
    tls: Tls,
    make_fetcher: MakeFetcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
    server.script("/plain", Reply(body=b"plain"))
    tls_server.script("/secure", Reply(body=b"secure"))
    fetcher = make_fetcher()
    assert tls_server.url("/secure").startswith("https://127.0.0.1:")
    assert fetcher.fetch(server.url("/plain")).body == b"plain"
    assert fetcher.fetch(tls_server.url("/secure")).body == b"secure"
    assert fetcher.fetch(server.url("/plain")).body == b"plain"
    assert len(tls_server.requests_to("/secure")) == 1


def test_https_with_an_untrusted_certificate_is_refused(
    tls_server: ScriptedServer, make_fetcher: MakeFetcher
) -> None:
    # the default trust store (certifi) does not hold the throwaway CA
    tls_server.script("/secure", Reply(body=b"secure"))
    with pytest.raises(FetchError) as caught:
        make_fetcher(max_attempts=1).fetch(tls_server.url("/secure"))
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value), str(caught.value)
    assert caught.value.url == tls_server.url("/secure")
    assert tls_server.requests_to("/secure") == []


def test_plain_http_never_loads_the_trusted_certificates(
    server: ScriptedServer,
    tls_server: ScriptedServer,
    make_fetcher: MakeFetcher,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CA setting that cannot be read only matters once an https:// URL is fetched: making
    the fetcher and fetching http:// never read it (they did when the client loaded the CA
    bundle at once), and the https:// fetch fails at once, saying why."""
    missing = tmp_path / "no-such-ca.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(missing))
    server.script("/plain", Reply(body=b"plain"))
    tls_server.script("/secure", Reply(body=b"secure"))
    fetcher = make_fetcher()
    assert fetcher.fetch(server.url("/plain")).body == b"plain"
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(tls_server.url("/secure"))
    message = str(caught.value)
    assert "cannot load the trusted certificates" in message, message
    assert caught.value.url == tls_server.url("/secure")
    assert caught.value.retries == 0  # no retry fixes a missing file
    assert fetcher.fetch(server.url("/plain")).body == b"plain"
