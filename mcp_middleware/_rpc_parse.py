"""A client's bytes ──▶ JSON ──▶ one message: a request, a notification or a client's reply.

Part of :mod:`mcp_middleware.jsonrpc`, which re-exports these names: :func:`parse_payload` (JSON,
or a -32700 parse error; integers beyond 64 bits looked at again by
:mod:`mcp_middleware._exact_json`), :func:`parse_message` (the envelope, checked by hand: cheap,
and each fault needs its own JSON-RPC code; -32600 or -32602), and the request id of a message
that failed (:func:`is_id`, :func:`id_of`, :func:`request_id_of`). Method params are checked
against the SDK's types later (``validation``).
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

import orjson
from mcp_types import jsonrpc as codes

from ._exact_json import _DIGITS_AS_ZEROS, _LONG_RUN, _Exact, _marked, _read_again, _WideArguments, _WideId, about
from ._rpc_messages import ClientReply, Message, Notification, ProtocolError, Request, RequestId

__all__ = ["id_of", "is_id", "parse_message", "parse_payload", "request_id_of"]


def parse_payload(body: bytes) -> Any:
    """Decode JSON; invalid JSON or UTF-8 is a -32700 parse error. A message holding an integer
    beyond 64 bits comes back marked (``_Exact``), for :func:`parse_message` to refuse, also one
    beyond a double's range, which orjson refuses to read (``_read_again``), as does one
    too deep for the standard parser that holds a float of 2**63 or more (it may be a float
    literal). A client's reply comes back read again by the standard parser, its integers exact;
    one whose id is beyond 64 bits comes back as orjson's reading (that id a float: refused as no
    id)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if body.translate(_DIGITS_AS_ZEROS).find(_LONG_RUN) >= 0:  # it may be an integer beyond a double's range
            try:
                return _read_again(body)
            except ValueError:
                pass
        raise ProtocolError(codes.PARSE_ERROR, f"Parse error: {exc}") from None
    if body.translate(_DIGITS_AS_ZEROS).find(_LONG_RUN) >= 0:  # rare: only then is the payload looked at again
        return _marked(body, payload)
    return payload


# A request id is a string or an integer, exactly: decoded JSON has no other subclasses of these
# than bool, which is not an id.
_ID_TYPES = (str, int)


def is_id(value: Any) -> bool:
    """Whether a decoded JSON value is a request id (a string or an integer; a boolean is not)."""
    return type(value) in _ID_TYPES


def id_of(obj: Any) -> RequestId | None:
    """The request id of a decoded message that failed to parse, if it has a usable one."""
    candidate = obj.get("id") if isinstance(obj, dict) else None
    return candidate if is_id(candidate) else None


def request_id_of(obj: Any) -> RequestId | None:
    """:func:`id_of` for a request only (a message with a method): an error refusing a reply
    answers no request, so it carries no id (a reply's id names a request of ours, not the client's)."""
    return id_of(obj) if isinstance(obj, dict) and "method" in obj else None


# A request's four members, read in one C call (a KeyError when one is missing, a TypeError when
# the value is not an object): :func:`parse_message`'s test of the usual case.
_REQUEST_FIELDS = itemgetter("jsonrpc", "id", "method", "params")


def parse_message(obj: Any) -> Message:
    """Classify one decoded JSON value as a request, notification or client reply (-32600 if none).
    Each error carries the request's id when it can be read (JSON-RPC 2.0 §5), whichever era's
    path, a lone message's or a batch item's, asked.

    The usual message, a request with all four members well typed, is recognised with one read of
    them; anything else (a notification, a reply, a request without params, any fault) is
    classified by :func:`_classified`, which applies every rule in order."""
    try:
        version, raw_id, method, params = _REQUEST_FIELDS(obj)
    except (KeyError, TypeError):
        return _classified(obj)
    if (
        version == "2.0"
        and type(raw_id) in _ID_TYPES
        and type(method) is str
        and type(params) is dict
        and type(obj) is dict  # not a marked message (_Exact)
    ):
        return Request(raw_id, method, params)
    return _classified(obj)


def _classified(obj: Any) -> Message:
    """:func:`parse_message`'s rules, in order."""
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
        raise ProtocolError(codes.INVALID_REQUEST, "Invalid request: not a JSON-RPC 2.0 object", id=request_id_of(obj))
    raw_id: Any = obj.get("id")  # shape checked just below
    has_id = "id" in obj
    if has_id and type(raw_id) not in _ID_TYPES:
        raise _not_an_id(raw_id)
    method = obj.get("method")
    if method is None:
        if has_id and ("result" in obj) != ("error" in obj):
            if type(obj) is _Exact:  # too deep to read its integers exactly: not handed on rounded
                raise ProtocolError(codes.INVALID_REQUEST, "Invalid request: a reply with an integer beyond 64 bits")
            return ClientReply(raw_id, obj)
        raise ProtocolError(codes.INVALID_REQUEST, "Invalid request: missing method", id=raw_id)
    if not isinstance(method, str):
        raise ProtocolError(codes.INVALID_REQUEST, "Invalid request: method must be a string", id=raw_id)
    params = obj.get("params")
    if params is not None and not isinstance(params, dict):
        raise ProtocolError(codes.INVALID_PARAMS, "Invalid params: params must be an object", id=raw_id)
    if type(obj) is _Exact:  # rare (parse_payload): not rounded to a float behind the caller's back
        if obj.argument is not None and has_id:  # in a tools/call's arguments only: the tool refuses them
            return Request(raw_id, method, _with_wide_arguments(params, *obj.argument))  # type: ignore[arg-type]
        raise ProtocolError(
            codes.INVALID_PARAMS,
            f"Invalid params: an integer beyond 64 bits ({about(obj.found)}) would lose its "
            "precision; send it as a string",
            id=raw_id,
        )
    if has_id:
        return Request(raw_id, method, params)
    return Notification(method, params)


def _with_wide_arguments(params: dict[str, Any], name: str, found: float, exact: dict[str, Any]) -> dict[str, Any]:
    """A tools/call's ``params`` whose argument ``name`` holds an integer beyond 64 bits (``found``):
    an input error, which the tool answers with an ``isError`` result (2025-11-25 server/tools,
    Error Handling: the model can correct it), not a -32602 error; its arguments (``exact``: their
    integers exact, for the Mcp-Param-* check) refuse to be read as arguments
    (:class:`~mcp_middleware._exact_json._WideArguments`)."""
    refusal = (
        f"argument {name!r} holds an integer beyond 64 bits ({about(found)}), which would lose its "
        "precision; send it as a string"
    )
    return {**params, "arguments": _WideArguments(exact, refusal)}


def _not_an_id(raw_id: Any) -> ProtocolError:
    """The refusal of an id that is no string or integer; an integer beyond 64 bits (orjson's
    float of it, marked by ``_exact_json``) is one, but refused for its precision, as such an
    integer elsewhere in a request is. Its error has no id: it cannot be echoed as it was sent."""
    if type(raw_id) is _WideId:
        return ProtocolError(
            codes.INVALID_REQUEST,
            f"Invalid request: an integer id beyond 64 bits ({about(raw_id)}) would lose its precision; "
            "send it as a string",
        )
    return ProtocolError(codes.INVALID_REQUEST, "Invalid request: id must be a string or an integer")
