"""The ONE Server-Sent Events encoder (WHATWG HTML §9.2): one JSON-RPC message per ``data:`` event.

Our payloads are compact JSON (orjson never emits raw newlines), so one ``data:`` line suffices; the
encoder still splits on line breaks so it stays correct for any payload.
"""

from __future__ import annotations

__all__ = ["KEEPALIVE", "SSE_HEADERS", "encode_event"]

KEEPALIVE = b": keep-alive\n\n"

SSE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    # nginx and friends otherwise buffer the stream and the tokens arrive in one lump.
    (b"x-accel-buffering", b"no"),
)


_MESSAGE = b"event: message\ndata: "


def encode_event(data: bytes, *, event: str | None = "message") -> bytes:
    if event == "message" and b"\n" not in data and b"\r" not in data:
        return _MESSAGE + data + b"\n\n"  # the usual one-line JSON message
    parts: list[bytes] = []
    if event is not None:
        parts.append(b"event: " + event.encode() + b"\n")
    for line in data.splitlines() or [b""]:
        parts.append(b"data: " + line + b"\n")
    parts.append(b"\n")
    return b"".join(parts)
