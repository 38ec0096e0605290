"""Signed links for the subscriber's pages: confirm, manage, vote. Pure, no I/O.

A token is `base64url(claims).base64url(tag)`: the claims say what the link is for (its
purpose), for which address, until when (expiry, where a link should expire) and what else
it is bound to (a confirmation nonce, a paper and a vote). The tag is HMAC-SHA256 over a
context string and the claims, cut to 128 bits to keep digest links short. Verifying tries
every key given, newest first: the previous key keeps links already mailed working after a
rotation. Unsubscribe links keep their own format (digest.compose.tokens): they never expire.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from digest.compose.hmacs import keyed_hmac
from digest.compose.tokens import TokenError

_CONTEXT = b"paper-digest/link/v1\x00"
_TAG_BYTES = 16
_MAX_TOKEN_CHARS = 1024
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
_SEPARATOR = "\n"  # no address, paper id or nonce holds a line break


class Purpose(StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    VOTE = "vote"


class TokenExpired(TokenError):
    """The link was ours but its time is up. `claims` says for whom (to offer a new one)."""

    def __init__(self, message: str, claims: LinkClaims) -> None:
        super().__init__(message)
        self.claims = claims


@dataclass(frozen=True, slots=True)
class LinkClaims:
    purpose: Purpose
    email: str
    expires: dt.datetime | None = None  # None: the link does not expire
    bound: tuple[str, ...] = ()  # a confirmation nonce; a paper id and a vote

    def encode(self) -> bytes:
        stamp = str(int(self.expires.timestamp())) if self.expires else ""
        fields = (self.purpose.value, self.email, stamp, *self.bound)
        joined = _SEPARATOR.join(fields)
        if joined.count(_SEPARATOR) != len(fields) - 1:  # one field holds a line break
            raise ValueError("a signed field holds a line break")
        return joined.encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> LinkClaims:
        purpose, email, stamp, *bound = data.decode("utf-8").split(_SEPARATOR)
        expires = dt.datetime.fromtimestamp(int(stamp), dt.UTC) if stamp else None
        return cls(Purpose(purpose), email, expires, tuple(bound))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:  # one spelling per token
        raise ValueError("non-canonical base64url")
    return data


def _tag(key: bytes, claims: bytes) -> bytes:
    return keyed_hmac(key, _CONTEXT).tag(claims)[:_TAG_BYTES]


def sign_link(key: bytes, claims: LinkClaims) -> str:
    data = claims.encode()
    return f"{_b64(data)}.{_b64(_tag(key, data))}"


def verify_link(
    keys: Sequence[bytes], token: str, purpose: Purpose, now: dt.datetime
) -> LinkClaims:
    """The claims of a token one of `keys` signed for `purpose`; TokenError otherwise
    (TokenExpired when it is genuine but past its expiry)."""
    if not token or len(token) > _MAX_TOKEN_CHARS or not token.isascii():
        raise TokenError("link token is empty, too long or not ASCII")
    data_part, dot, tag_part = token.partition(".")
    try:
        data, tag = _unb64(data_part), _unb64(tag_part)
    except (binascii.Error, ValueError) as err:
        raise TokenError("link token is malformed") from err
    if not dot or not any(hmac.compare_digest(tag, _tag(key, data)) for key in keys):
        raise TokenError("link token signature does not match")
    try:
        claims = LinkClaims.decode(data)
    except (UnicodeDecodeError, ValueError) as err:  # signed by us, so only a bug gets here
        raise TokenError("link token claims are malformed") from err
    if claims.purpose is not purpose:
        raise TokenError(f"link token is for {claims.purpose.value}, not {purpose.value}")
    if claims.expires is not None and now >= claims.expires:
        raise TokenExpired("link has expired", claims)
    return claims
