"""Throwaway TLS certificates (trustme) for servers on 127.0.0.1."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


class Tls:
    """A throwaway CA and a server certificate for localhost / 127.0.0.1."""

    def __init__(self, tmp: Path) -> None:
        self.ca = trustme.CA()
        self.server_cert = self.ca.issue_cert("localhost", "127.0.0.1")
        self.ca_file = tmp / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_cert.configure_cert(context)
        return context
