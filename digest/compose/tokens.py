"""Signed unsubscribe tokens: the email address plus an HMAC-SHA256 tag, URL-safe.

The token carries the address itself, so the unsubscribe endpoint needs no lookup table,
and the tag proves the operator issued it. Nothing here expires: an unsubscribe link in an
old digest must keep working.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re

from digest.compose.hmacs import keyed_hmac
from digest.errors import ConfigError, DigestError

# A fixed context string keeps these tags from being valid for any other use of the secret.
_CONTEXT = b"paper-digest/unsubscribe/v1\x00"
_MIN_SECRET_BYTES = 16
_MAX_TOKEN_CHARS = 1024
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class TokenError(DigestError):
    """An unsubscribe token is malformed, forged, or signed with another secret."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    """Decode unpadded base64url, refusing anything but its one canonical spelling."""
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    # Several spellings can decode to the same bytes (unused trailing bits): one token per email.
    if _b64encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data


def _check_secret(secret: bytes) -> None:
    if len(secret) < _MIN_SECRET_BYTES:
        raise ConfigError(
            f"the unsubscribe secret must be at least {_MIN_SECRET_BYTES} bytes long",
            key="unsubscribe_secret",
        )


def _tag(secret: bytes, email_bytes: bytes) -> bytes:
    return keyed_hmac(secret, _CONTEXT).tag(email_bytes)


def make_unsubscribe_token(secret: bytes, email: str) -> str:
    """Return `<base64url(email)>.<base64url(tag)>`, safe in a URL path or query."""
    _check_secret(secret)
    email_bytes = email.encode("utf-8")
    return f"{_b64encode(email_bytes)}.{_b64encode(_tag(secret, email_bytes))}"


def verify_unsubscribe_token(secret: bytes, token: str) -> str:
    """Return the email the token was made for; raise TokenError if it was not made by us."""
    _check_secret(secret)
    if not token or len(token) > _MAX_TOKEN_CHARS or not token.isascii():
        raise TokenError("unsubscribe token is empty, too long or not ASCII")
    email_part, dot, tag_part = token.partition(".")
    if not dot or not email_part or not tag_part:
        raise TokenError("unsubscribe token is malformed")
    try:
        email_bytes = _b64decode(email_part)
        tag = _b64decode(tag_part)
    except (binascii.Error, ValueError) as err:
        raise TokenError("unsubscribe token is not valid base64url") from err
    if not hmac.compare_digest(tag, _tag(secret, email_bytes)):
        raise TokenError("unsubscribe token signature does not match")
    try:
        return email_bytes.decode("utf-8")
    except UnicodeDecodeError as err:  # only reachable with the real secret; still refuse
        raise TokenError("unsubscribe token does not hold a UTF-8 address") from err
