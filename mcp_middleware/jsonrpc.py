"""JSON-RPC framing: bytes in, messages out; results and errors out as bytes. The ONE serializer.

Envelopes are checked by hand (cheap, and each fault needs its own JSON-RPC code); method params
and results go through the official SDK's per-version wire types (``mcp_types.methods``), so a
2026-07-28 client gets ``resultType`` and friends. The SDK checks every earlier revision against
2025-11-25's schema: a 2024-11-05 or 2025-03-26 client's results are then reshaped to its own
revision (``_revisions``).

The HTTP status of an error depends on the era (``error_status``: see its module).

The reading side is in three private modules, whose names this one re-exports (importers use
``jsonrpc``): :mod:`~mcp_middleware._rpc_messages` (the message types, ``ProtocolError``,
``error_status``), :mod:`~mcp_middleware._rpc_parse` (bytes ──▶ one message) and
:mod:`~mcp_middleware._exact_json` (integers beyond 64 bits, read exactly; ``loads_exactly``).
Encoding stays here: results, errors and notifications, and what a route hands us to write
(``dumps_exactly``), each its one function; the reading modules write nothing (the transport
splices a cached list result into a reply around ``dumps`` of its id, ``_http._splice``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType, UnionType
from typing import Any, get_args

import orjson
from mcp_types.jsonrpc import ErrorData, JSONRPCError
from mcp_types.methods import SERVER_RESULTS, serialize_server_result
from pydantic import BaseModel

from ._exact_json import WideArgument, _beyond_64_bits, loads_exactly
from ._revisions import OLDER_REVISIONS, older
from ._rpc_messages import ClientReply, Message, Notification, ProtocolError, Request, RequestId, error_status
from ._rpc_parse import id_of, is_id, parse_message, parse_payload, request_id_of

__all__ = [
    "Built",
    "ClientReply",
    "Message",
    "NestedTooDeep",
    "Notification",
    "ProtocolError",
    "Request",
    "RequestId",
    "WideArgument",
    "dumps",
    "dumps_again",
    "dumps_exactly",
    "encode_error",
    "encode_notification",
    "error_status",
    "id_of",
    "is_id",
    "loads_exactly",
    "parse_message",
    "parse_payload",
    "request_id_of",
]


dumps = orjson.dumps


class Built(dict[str, Any]):
    """A result this package assembled itself from fixed shapes (text, image, blob, isError,
    a JSON object as ``structuredContent``): already in wire form for every revision, so it skips
    the SDK's validation round trip (tests/unit/test_jsonrpc.py holds that equivalence)."""


Surface = Mapping[tuple[str, str], type[BaseModel] | UnionType]
INPUT_REQUIRED_TYPE = "InputRequiredResult"


def _narrowed(input_required: bool) -> Surface:
    """The SDK's result types with each ``X | InputRequiredResult`` union narrowed to one member.

    Every field of ``InputRequiredResult`` is optional and unknown fields are dropped, so a
    complete result that fails its own type (a message with an unknown role, a bogus content
    block) would validate as an ``InputRequiredResult`` and come out as ``{"resultType":
    "complete"}``, its payload silently gone. Each result is therefore checked against the member
    its ``resultType`` names (tests/unit/test_jsonrpc.py pins the unions' shape).
    """
    out: dict[tuple[str, str], type[BaseModel] | UnionType] = {}
    for key, target in SERVER_RESULTS.items():
        members = get_args(target) if isinstance(target, UnionType) else ()
        chosen = [m for m in members if (m.__name__ == INPUT_REQUIRED_TYPE) == input_required]
        out[key] = chosen[0] if len(chosen) == 1 else target
    return MappingProxyType(out)


COMPLETE_RESULTS = _narrowed(input_required=False)
INPUT_REQUIRED_RESULTS = _narrowed(input_required=True)


def result_message(request_id: RequestId, method: str, version: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``result`` against ``version``'s wire type for ``method`` and wrap it in a response;
    for a revision before 2025-06-18, in that revision's shapes (the SDK checks them all against
    2025-11-25's: ``_revisions``)."""
    if isinstance(result, Built):
        wire: Mapping[str, Any] = result
    else:
        surface = INPUT_REQUIRED_RESULTS if result.get("resultType") == "input_required" else COMPLETE_RESULTS
        wire = serialize_server_result(method, version, result, surface=surface)
    if version in OLDER_REVISIONS:
        wire = older(method, version, wire)
    return {"jsonrpc": "2.0", "id": request_id, "result": wire}


def error_message(error: ProtocolError) -> dict[str, Any]:
    envelope = JSONRPCError(
        jsonrpc="2.0", id=error.id, error=ErrorData(code=error.code, message=error.message, data=error.data)
    )
    return envelope.model_dump(mode="json", exclude={"error": {"data"}} if error.data is None else None)


def encode_error(error: ProtocolError) -> bytes:
    return orjson.dumps(error_message(error))


def encode_notification(method: str, params: Mapping[str, Any]) -> bytes:
    return dumps_exactly({"jsonrpc": "2.0", "method": method, "params": params})


def dumps_exactly(message: Any) -> bytes:
    """A message with what a route put in it (log data, a question): orjson, and for what it
    refuses by its own limits (an integer beyond 64 bits, nesting deeper than 254 containers) the
    one retry, :func:`dumps_again`."""
    try:
        return orjson.dumps(message)
    except TypeError as exc:  # orjson.JSONEncodeError
        return dumps_again(message, exc)


def dumps_again(message: Any, error: TypeError) -> bytes:
    """After ``orjson.dumps(message)`` raised ``error``: the one retry, for what orjson refuses by
    its own limits alone, an integer beyond 64 bits and nesting deeper than the 254 containers it
    writes (a route's result echoing a client's deep value): the message written piece by piece,
    each piece orjson's, such an integer as its digits (:func:`_json_pieces`). ``error`` again when
    orjson refused something else; :class:`NestedTooDeep` for a message deeper than orjson reads.
    For a caller whose usual path is a bare ``orjson.dumps`` (no Python call of ours per message)."""
    reason = str(error)
    if "64-bit" not in reason and "Recursion limit" not in reason:
        raise error
    return b"".join(_json_pieces(message, _READ))


class NestedTooDeep(TypeError):
    """A message nested more than 1,024 levels deep, which no reader like orjson (or the
    middleware itself) reads: never written (:func:`dumps_again`)."""


_READ = 1024  # orjson reads 1,024 levels: no message of ours is deeper than a reader like it (or we) reads


def _json_pieces(value: Any, levels: int) -> list[bytes]:
    """``value``'s JSON in pieces, exactly as orjson writes it (each key and each other value is
    orjson's: null for NaN, "Dict key must be str", ...), walked without recursion, so that how
    deep it goes is no matter of Python's stack; :class:`NestedTooDeep` for containers nested more
    than ``levels`` deep (a value that holds itself is, whatever ``levels``)."""
    pieces: list[bytes] = []
    todo: list[bytes | tuple[Any, int]] = [(value, 1)]  # what to write, last first: JSON or (value, depth)
    while todo:
        item = todo.pop()
        if isinstance(item, bytes):
            pieces.append(item)
            continue
        value, depth = item
        if not isinstance(value, dict | list | tuple):
            pieces.append(str(value).encode("ascii") if _beyond_64_bits(value) else orjson.dumps(value))
            continue
        if depth > levels:
            raise NestedTooDeep(f"nested more than {_READ} levels deep")
        if isinstance(value, dict):
            todo.append(b"}")
            for index, (key, member) in reversed(list(enumerate(value.items()))):
                if not isinstance(key, str):
                    raise TypeError("Dict key must be str")  # orjson's words
                todo += ((member, depth + 1), (b"," if index else b"") + orjson.dumps(key) + b":")
            todo.append(b"{")
        else:
            todo.append(b"]")
            for index in range(len(value) - 1, -1, -1):
                todo.append((value[index], depth + 1))
                if index:
                    todo.append(b",")
            todo.append(b"[")
    return pieces
