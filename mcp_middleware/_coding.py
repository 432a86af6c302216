"""A response's ``Content-Encoding`` ──▶ its decoded bytes, for :mod:`mcp_middleware._body`.

``gzip`` (and its alias ``x-gzip``) and ``deflate`` are decoded chunk by chunk as the body
arrives (a streaming route's too), never past the room the caller gives: a body that decodes to
more is cut there, the rest of its input not decoded, so a decompression bomb costs no more memory
than the result limit. ``deflate`` is the zlib format (RFC 9110 §8.4.1.2); some servers send raw
deflate under that name, which its first two bytes tell apart. A gzip body of several members is
read whole, as ``gzip -d`` reads it. ``identity`` is no coding; any other one (``br``, ``zstd``,
``compress``, several codings in a row) is left to the caller to refuse.
"""

from __future__ import annotations

import zlib

__all__ = ["DECODED", "Inflater", "coding_of"]

DECODED = frozenset({"gzip", "x-gzip", "deflate"})

_GZIP, _ZLIB, _RAW = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS


def coding_of(raw: bytes) -> str:
    """The codings a ``Content-Encoding`` value names, lower case, joined by ", "; "" for none
    (``identity`` is none)."""
    names = (name.strip().lower() for name in raw.decode("latin-1").split(","))
    return ", ".join(name for name in names if name and name != "identity")


def _zlib_wrapped(start: bytes) -> bool:
    """Whether a ``deflate`` body starts with a zlib header (RFC 1950 §2.2: method 8, and a check
    making the first two bytes a multiple of 31), rather than raw deflate data."""
    return start[0] & 0x0F == 8 and (start[0] << 8 | start[1]) % 31 == 0


class Inflater:
    """Decodes one body in ``gzip`` or ``deflate``; raises ``zlib.error`` when it is not valid."""

    total = 0  # bytes decoded so far
    received = 0  # bytes of the coded body so far

    def __init__(self, coding: str) -> None:
        self._gzip = coding != "deflate"
        self._zlib = zlib.decompressobj(_GZIP) if self._gzip else None
        self._start = b""  # deflate: its first bytes, until two of them tell the format

    def inflate(self, data: bytes, room: int, final: bool) -> bytes:
        """What ``data`` decodes to, ``room + 1`` bytes at most: more than ``room`` means the body
        decodes to more than that, and nothing past it was decoded. ``final``: the body ends here."""
        self.received += len(data)
        z = self._zlib
        if z is None:
            data = self._start + data
            if len(data) < 2:
                if final and data:
                    raise zlib.error("a deflate stream of one byte")
                self._start = data
                return b""
            z = self._zlib = zlib.decompressobj(_ZLIB if _zlib_wrapped(data) else _RAW)
        out = b""
        while data:
            if z.eof:  # what follows the end of the data
                if not self._gzip:
                    raise zlib.error("data after the end of the deflate stream")
                if not data.strip(b"\0"):
                    break  # zero padding after the last member, which gzip -d skips too
                z = self._zlib = zlib.decompressobj(_GZIP)  # the next member of a gzip body
            out += z.decompress(data, room + 1 - len(out))
            if len(out) > room:
                break  # the rest is not decoded
            data = z.unused_data if z.eof else b""
        if final and not z.eof and len(out) <= room and self.received:
            raise zlib.error("the compressed data ends early")
        self.total += len(out)
        return out
