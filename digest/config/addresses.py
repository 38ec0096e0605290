"""Email addresses and header values: the one set of rules for subscribers, senders and operators.

Pure functions, shared by the configuration reader, the command line, the web pages and the
MIME writer, so an address accepted in one place is accepted everywhere.
"""

from __future__ import annotations

import functools
import re
from email.utils import getaddresses
from urllib.parse import quote, urlsplit

from digest.errors import AddressError, DigestError

_LOCAL_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
ANY_LINE_BREAK = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
_WHITESPACE_RUN = re.compile(r"\s+")
_LIST_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)+")
# Characters that must never reach a header or a URL inside one.
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f<>,\"\\]")


def normalise_domain(domain: str, address: str) -> str:
    if not domain:
        raise AddressError("missing domain after '@'", address=address)
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError as err:
        raise AddressError(f"domain {domain!r} is not a valid host name", address=address) from err
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise AddressError(f"domain {domain!r} has no dot (not a public address)", address=address)
    if len(ascii_domain) > 253 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise AddressError(f"domain {domain!r} is not a valid host name", address=address)
    if labels[-1].isdigit():
        raise AddressError(f"domain {domain!r} looks like an IP address", address=address)
    return ascii_domain


def validate_address(address: str) -> str:
    """Return one bare address (`local@domain`) normalised; raise AddressError otherwise.

    Accepts only the plain dot-atom form: no display names, comments, quoted local parts,
    lists or IP literals. The domain is lower-cased and IDNA-encoded; the local part keeps
    its case (RFC 5321 lets servers treat it case-sensitively).
    """
    if ANY_LINE_BREAK.search(address):
        raise AddressError("contains a line break", address=address)
    candidate = address.strip()
    if not candidate:
        raise AddressError("is empty", address=address)
    if any(ch in candidate for ch in ",;") or len(candidate.split()) > 1:
        raise AddressError("holds more than one address or stray spaces", address=address)
    if any(ch in candidate for ch in '<>()[]"\\:') or not candidate.isprintable():
        raise AddressError("must be a bare address like name@example.org", address=address)
    local, at, domain = candidate.rpartition("@")
    if not at:
        raise AddressError("missing '@' and domain", address=address)
    if not local:
        raise AddressError("missing the part before '@'", address=address)
    if "@" in local:
        raise AddressError("holds more than one '@'", address=address)
    if not local.isascii():
        raise AddressError("non-ASCII local parts need SMTPUTF8, not supported", address=address)
    if len(local) > 64 or not all(_LOCAL_ATOM.fullmatch(atom) for atom in local.split(".")):
        raise AddressError(f"local part {local!r} is not a valid dot-atom", address=address)
    normalised = f"{local}@{normalise_domain(domain, address)}"
    if len(normalised) > 254:
        raise AddressError("is longer than 254 characters", address=address)
    return normalised


@functools.lru_cache(maxsize=64)  # the sender is the same for every message of a run
def parse_mailbox(value: str) -> tuple[str, str]:
    """Split `Display Name <addr>` (or a bare address) into (display name, valid address)."""
    if ANY_LINE_BREAK.search(value):
        raise AddressError("contains a line break", address=value)
    mailboxes = getaddresses([value])
    if len(mailboxes) != 1 or not mailboxes[0][1]:
        raise AddressError("is not one mailbox like 'Name <name@example.org>'", address=value)
    name, addr = mailboxes[0]
    return clean_header_text(name), validate_address(addr)


def clean_header_text(text: str, limit: int | None = None) -> str:
    """One line of text safe for an unstructured header: every whitespace run becomes a space."""
    line = _WHITESPACE_RUN.sub(" ", ANY_LINE_BREAK.sub(" ", text)).strip()
    line = "".join(ch for ch in line if ch.isprintable())
    if limit is not None and len(line) > limit:
        line = line[: limit - 1].rstrip() + "…"
    return line


# --- Header values ------------------------------------------------------------------------


class HeaderValueError(DigestError):
    """A value meant for a header (URL, list id, Message-ID, date) is unusable."""

    def __init__(self, message: str, *, header: str, value: str) -> None:
        self.header = header
        self.value = value
        self.reason = message
        super().__init__(f"{header}: {value!r}: {message}")


# --- Header values ------------------------------------------------------------------------


def check_header_url(url: str, header: str, schemes: tuple[str, ...]) -> str:
    if _UNSAFE_IN_URL.search(url) or len(url) > 900:
        raise HeaderValueError(
            "has spaces, control or reserved characters", header=header, value=url
        )
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes:
        raise HeaderValueError(f"must use {' or '.join(schemes)}", header=header, value=url)
    if parts.scheme.lower() != "mailto" and not parts.netloc:
        raise HeaderValueError("has no host", header=header, value=url)
    return url


def mailto_uri(value: str) -> str:
    """Accept `mailto:addr?subject=...` or a bare address; return a checked mailto URI."""
    if value.lower().startswith("mailto:"):
        uri = check_header_url(value, "List-Unsubscribe", ("mailto",))
        validate_address(urlsplit(uri).path)
        return uri
    return "mailto:" + quote(validate_address(value), safe="@") + "?subject=unsubscribe"


def check_list_id(value: str) -> str:
    if not _LIST_ID.fullmatch(value):
        raise HeaderValueError("is not a dotted list id", header="List-Id", value=value)
    return value
