"""`digest serve`: the pages under uvicorn, with logs that hold no address and no token."""

from __future__ import annotations

import logging
import re

import uvicorn

from digest.config.settings import Settings
from digest.util.logs import ROOT_LOGGER, event
from digest.web.app import create_app

log = logging.getLogger("digest.web")
_ADDRESS = re.compile(r"[^\s<>\"'@,;:]+@[^\s<>\"'@,;:]+\.[A-Za-z0-9-]+")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}")


class Redact(logging.Filter):
    """Blanks anything shaped like an address or a signed token in a record, message and
    fields alike: the server's logs must not become a list of subscribers or of links."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {k: redact(v) if isinstance(v, str) else v for k, v in fields.items()}
        return True


def redact(text: str) -> str:
    return _TOKEN.sub("<token>", _ADDRESS.sub("<address>", text))


def install_redaction() -> None:
    """Every handler of the package's logger and uvicorn's gets the filter."""
    digest_logger = logging.getLogger(ROOT_LOGGER)
    handlers = list(digest_logger.handlers)
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in handlers]
        logger.propagate = False
    for handler in handlers:
        if not any(isinstance(f, Redact) for f in handler.filters):
            handler.addFilter(Redact())


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    web = settings.web
    install_redaction()
    chosen_host, chosen_port = host or web.host, port or web.port
    event(
        log,
        "serving",
        f"serving the pages on http://{chosen_host}:{chosen_port}",
        public=web.public_url,
    )
    uvicorn.run(
        create_app(settings),
        host=chosen_host,
        port=chosen_port,
        access_log=False,  # uvicorn's would log paths, and paths carry tokens
        log_config=None,
        proxy_headers=bool(web.trusted_proxies),
        forwarded_allow_ips=list(web.trusted_proxies) or None,
        server_header=False,
    )
