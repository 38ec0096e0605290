"""Decode a response body's Content-Encoding (gzip, deflate) chunk by chunk, never inflating
past a byte budget: a small compressed body cannot grow past the fetcher's `max_bytes`."""

from __future__ import annotations

import zlib


class IncompleteStream(Exception):
    """A compressed body ended before its end-of-stream marker."""


class Decoder:
    """Decodes a Content-Encoding chunk by chunk without ever inflating past a byte budget."""

    def __init__(self, coding: str) -> None:
        self.identity = coding == "identity"
        self._coding = coding
        self._inflater: zlib._Decompress | None = None

    def feed(self, data: bytes, *, room: int) -> bytes:
        """Decode `data`; output stops just past `room` bytes so the caller can see it overflow."""
        if self.identity:
            return data
        out: list[bytes] = []
        produced = 0
        while data:
            inflater = self._inflater or self._start(data)
            # max_length bounds the inflated size: one past the budget is enough to tell overflow.
            piece = inflater.decompress(data, max(room - produced, 0) + 1)
            out.append(piece)
            produced += len(piece)
            if produced > room:
                break
            if inflater.eof:
                data = inflater.unused_data
                self._inflater = None
                if not data.startswith(b"\x1f\x8b"):
                    break  # junk after the last gzip member: ignore it, as browsers do
            else:
                data = inflater.unconsumed_tail
        return b"".join(out)

    def finish(self) -> bytes:
        if self.identity or self._inflater is None:
            return b""
        if not self._inflater.eof:
            raise IncompleteStream
        return self._inflater.flush()

    def _start(self, data: bytes) -> zlib._Decompress:
        if self._coding == "deflate":
            # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate data.
            wbits = zlib.MAX_WBITS if _looks_like_zlib(data) else -zlib.MAX_WBITS
        else:
            wbits = zlib.MAX_WBITS | 16  # gzip wrapper
        self._inflater = zlib.decompressobj(wbits)
        return self._inflater


def decoder_for(content_encoding: str | None) -> Decoder | None:
    """A decoder for the response's Content-Encoding, or None if we can't decode it."""
    codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings:
        return Decoder("identity")
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return Decoder("deflate" if codings[0] == "deflate" else "gzip")
    return None


def _looks_like_zlib(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
