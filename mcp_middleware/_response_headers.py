"""A route's response headers as its own list holds them (names in any case, lower case first: apps
send lower case, Starlette does): the first value of a header, or all of them as one field value.
Part of :mod:`mcp_middleware._body`, whose ``Body.head`` reads the content type, the content coding,
a redirect's location and a refusal's challenge with them; :mod:`mcp_middleware._tool_run` reads a
streamed body's declared Content-Length with them.
"""

from __future__ import annotations

from collections.abc import Sequence


def _any_case(headers: Sequence[Sequence[bytes]]) -> tuple[bytes, bytes]:
    """A response's content type and content coding when its header names are not lower case
    (``Body.head`` reads lower-case names, as apps send them, in one pass)."""
    return _header(headers, b"content-type"), b", ".join(
        bytes(value) for key, value in headers if key.lower() == b"content-encoding"
    )


def _header(headers: Sequence[Sequence[bytes]], name: bytes) -> bytes:
    """The first value of header ``name`` (lower case) in a response's own list, names in any
    case; empty when absent. Apps send lower case (Starlette does): that is tried first."""
    for key, value in headers:
        if key == name:
            return bytes(value)
    for key, value in headers:
        if key.lower() == name:
            return bytes(value)
    return b""


def _all_values(headers: Sequence[Sequence[bytes]], name: bytes) -> str:
    """Every value of header ``name`` (lower case) in a response's own list, names in any case,
    joined as one field value (RFC 9110 §5.3); empty when absent."""
    return ", ".join(bytes(value).decode("latin-1") for key, value in headers if key.lower() == name)
