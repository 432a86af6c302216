"""A response's ``Content-Encoding`` ──▶ its decoded bytes, for :mod:`mcp_middleware._body`.

``gzip`` (and its alias ``x-gzip``) and ``deflate`` are decoded chunk by chunk as the body
arrives (a streaming route's too), never past the room the caller gives: a body that decodes to
more is cut there, the rest of its input not decoded, so a decompression bomb costs no more memory
than the result limit. ``deflate`` is the zlib format (RFC 9110 §8.4.1.2); some servers send raw
deflate under that name, which its first two bytes tell apart. A gzip body of several members is
read whole, as ``gzip -d`` reads it, in time linear in the body however many members it has.
``identity`` is no coding; any other one (``br``, ``zstd``,
``compress``, several codings in a row) is left to the caller to refuse.
"""

from __future__ import annotations

import zlib

__all__ = ["DECODED", "Inflater", "coding_of"]

DECODED = frozenset({"gzip", "x-gzip", "deflate"})

_GZIP, _ZLIB, _RAW = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS

# How much of the body zlib is handed at once: _FIRST bytes at a member's start, twice as much
# each time the member goes on. zlib copies what follows a member's end (``unused_data``), so
# handing it the rest of the body at each member made a body of many small members quadratic;
# this way the copy is at most about the member read so far, plus _FIRST.
_FIRST = 64


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
        out = bytearray()  # (bytes joined one member at a time would be copied each time)
        view, at, step = memoryview(data), 0, _FIRST
        while at < len(data):
            if z.eof:  # what follows the end of the data
                if not self._gzip:
                    raise zlib.error("data after the end of the deflate stream")
                if data[at] == 0 and data.count(0, at) == len(data) - at:
                    # zero padding after the last member, which gzip -d skips too (the rest is
                    # counted once at most: a NUL starts no member, so the next one raises)
                    break
                z = self._zlib = zlib.decompressobj(_GZIP)  # the next member of a gzip body
                step = _FIRST
            piece = view[at : at + step]
            out += z.decompress(piece, room + 1 - len(out))
            if len(out) > room:
                break  # the rest is not decoded
            at += len(piece) - len(z.unused_data)  # (all of it, unless the member ended in it)
            step *= 2
        if final and not z.eof and len(out) <= room and self.received:
            raise zlib.error("the compressed data ends early")
        self.total += len(out)
        return bytes(out)
