"""HMAC-SHA256 tags for many messages under one key, cheaply: the signed links of a digest
(two vote links per paper, the unsubscribe links) are all tagged with the same secret.

HMAC (RFC 2104) hashes the key padded to the hash's block and XORed with 0x36 (inner) or
0x5c (outer) before the message. Those two keyed states are computed once per key here;
each tag then copies them and hashes only the message, in C. The tags are exactly
`hmac.new(key, context + message, sha256).digest()`.
"""

from __future__ import annotations

import functools
import hashlib

_INNER = bytes(byte ^ 0x36 for byte in range(256))  # translation tables: key XOR pad
_OUTER = bytes(byte ^ 0x5C for byte in range(256))


class KeyedHmac:
    """HMAC-SHA256 under `key` of `context` followed by each message tagged."""

    def __init__(self, key: bytes, context: bytes = b"") -> None:
        block = hashlib.sha256().block_size
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(key.translate(_INNER))
        self._inner.update(context)
        self._outer = hashlib.sha256(key.translate(_OUTER))

    def tag(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


@functools.lru_cache(maxsize=16)
def keyed_hmac(key: bytes, context: bytes) -> KeyedHmac:
    """The KeyedHmac of a key and context (a run signs with one or two keys)."""
    return KeyedHmac(key, context)
