"""What a JSON-RPC message is once read, and the fault that answers one.

Part of :mod:`mcp_middleware.jsonrpc`, which re-exports these names: the message types
(:class:`Request`, :class:`Notification`, :class:`ClientReply`, ``RequestId``),
:class:`ProtocolError` (a fault answered with a JSON-RPC error), and :func:`error_status`, the HTTP
status that carries such an error (the one place it is decided).

Deliberate differences from the SDK: the HTTP status of a JSON-RPC error depends on the era. In
2026-07-28 the spec's table applies (-32601 → 404 and so on); in the handshake era every error in a
well-formed request is answered with 200, because handshake clients read a 404 as "session
expired" and re-initialize. An error that answers no request (no id) is an HTTP error in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mcp_types import jsonrpc as codes

__all__ = ["ClientReply", "Message", "Notification", "ProtocolError", "Request", "RequestId", "error_status"]

RequestId = str | int


# Slotted dataclasses, not named tuples: on CPython 3.11 a named tuple's field is read through its
# descriptor (~220 machine instructions a read, against ~80 for a slot) and made by a Python
# ``__new__`` over ``tuple.__new__`` (~1,000 more than a slotted class's ``__init__``); a request's
# fields are read a dozen times per tools/call.
@dataclass(slots=True)
class Request:
    id: RequestId
    method: str
    params: dict[str, Any] | None


@dataclass(slots=True)
class Notification:
    method: str
    params: dict[str, Any] | None


@dataclass(slots=True)
class ClientReply:
    """A response the client sends to a server-initiated request (result or error)."""

    id: RequestId
    body: dict[str, Any]


Message = Request | Notification | ClientReply


class ProtocolError(Exception):
    """A fault answered with a JSON-RPC error. ``id`` is filled in by whoever knows it."""

    def __init__(self, code: int, message: str, data: Any = None, *, id: RequestId | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data
        self.id = id


# -32020..-32022 are 2026-07-28 codes; the handshake era never sees them.
_MODERN_STATUS: Mapping[int, int] = {
    codes.PARSE_ERROR: 400,
    codes.INVALID_REQUEST: 400,
    codes.INVALID_PARAMS: 400,
    codes.HEADER_MISMATCH: 400,
    codes.MISSING_REQUIRED_CLIENT_CAPABILITY: 400,
    codes.UNSUPPORTED_PROTOCOL_VERSION: 400,
    codes.METHOD_NOT_FOUND: 404,
}
_HANDSHAKE_STATUS: Mapping[int, int] = {codes.PARSE_ERROR: 400, codes.INVALID_REQUEST: 400}


def error_status(code: int, era: Literal["handshake", "modern"], request: bool = True) -> int:
    """The HTTP status that carries a JSON-RPC error with ``code`` (the one place this is decided).

    ``request``: the error answers a well-formed request (it carries the request's id). One that
    does not (a notification or client response refused, transports.mdx §Sending Messages: 202 if
    accepted, else an HTTP error status) is never a 200.
    """
    table = _MODERN_STATUS if era == "modern" else _HANDSHAKE_STATUS
    status = table.get(code, 200)
    return status if request or status != 200 else 400
