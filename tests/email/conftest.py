"""Fixtures for the email tests: Jinja environment, render settings, TLS material, golden flag."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest
import trustme

from digest.render import RenderSettings, make_environment

GOLDEN_DIR = Path(__file__).parent / "golden"


@pytest.fixture
def regen_golden(request: pytest.FixtureRequest) -> bool:
    flag = request.config.getoption("--regen-golden", default=False)
    return bool(flag) or os.environ.get("DIGEST_REGEN_GOLDEN") == "1"


@pytest.fixture(scope="session")
def env() -> jinja2.Environment:
    return make_environment()


@pytest.fixture(scope="session")
def settings() -> RenderSettings:
    return RenderSettings(
        subject_template="{papers} for you - {date:%a %d %b}",
        intro_markdown="Good morning! Today's picks from **arXiv** and Hugging Face.",
        footer_markdown="Sent by the [ML lab digest](https://lab.example.org).",
    )


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


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tls]:
    yield Tls(tmp_path_factory.mktemp("tls"))
