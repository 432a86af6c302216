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

import json
from collections.abc import Mapping
from types import MappingProxyType, UnionType
from typing import Any, get_args

import orjson
from mcp_types.jsonrpc import ErrorData, JSONRPCError
from mcp_types.methods import SERVER_RESULTS, serialize_server_result
from pydantic import BaseModel

from ._exact_json import _beyond_64_bits, loads_exactly
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
    """A message with what a route put in it (log data, a question): orjson, with each integer
    beyond 64 bits, which it cannot write, as a ``Fragment`` of its digits."""
    try:
        return orjson.dumps(message)
    except TypeError as exc:  # orjson.JSONEncodeError
        return dumps_again(message, exc)


def dumps_again(message: Any, error: TypeError) -> bytes:
    """After ``orjson.dumps(message)`` raised ``error``: the one retry, for what orjson refuses by
    its own limits alone, an integer beyond 64 bits and nesting deeper than the 254 containers it
    writes (a route's result echoing a client's deep value): orjson again, with such integers as
    ``Fragment`` objects of their digits and what lies deeper than it writes as a ``Fragment`` of
    the standard encoder's JSON (:func:`_with_fragments`). ``error`` again when orjson refused
    something else; :class:`NestedTooDeep` when the standard encoder cannot go that deep either.
    For a caller whose usual path is a bare ``orjson.dumps`` (no Python call of ours per message)."""
    reason = str(error)
    if "64-bit" not in reason and "Recursion limit" not in reason:
        raise error
    return orjson.dumps(_with_fragments(message, 0))


class NestedTooDeep(TypeError):
    """A message nested deeper than any of our encoders writes (:func:`dumps_again`)."""


_DEPTH = 254  # orjson writes 254 nested containers and raises at the 255th
_READ = 1024  # and reads 1,024: no message of ours is deeper than a reader like it (or we) reads


def _with_fragments(value: Any, depth: int) -> Any:
    """``value`` with its integers beyond 64 bits as digits orjson writes as they are, and each
    container deeper than orjson writes as its JSON by the standard encoder (containers copied);
    :class:`NestedTooDeep` for one deeper than orjson reads."""
    if _beyond_64_bits(value):
        return orjson.Fragment(str(value).encode("ascii"))
    if isinstance(value, dict | list | tuple) and depth >= _DEPTH:  # ``depth`` containers around it
        if _deeper_than(value, _READ - depth):
            raise NestedTooDeep(f"nested more than {_READ} levels deep")
        return orjson.Fragment(_standard(value))
    if isinstance(value, dict):
        return {key: _with_fragments(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_with_fragments(item, depth + 1) for item in value]
    return value


def _deeper_than(value: Any, levels: int) -> bool:
    """Whether ``value`` nests containers more than ``levels`` deep (walked without recursion; a
    value that holds itself is, whatever ``levels``)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = item.values()
        elif not isinstance(item, list | tuple):
            continue
        if depth > levels:
            return True
        stack.extend((member, depth + 1) for member in item)
    return False


def _standard(value: Any) -> bytes:
    """``value`` written by the standard encoder in orjson's conventions (compact, UTF-8 unescaped,
    integers exact, what only orjson knows as it writes it); :class:`NestedTooDeep` past the
    encoder's recursion limit (Python 3.11's counts the frames of the caller's stack too)."""
    try:
        text = json.dumps(
            value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False, default=_as_orjson
        )
    except RecursionError:
        raise NestedTooDeep("nested too deep to be written as JSON") from None
    return text.encode()


def _as_orjson(value: Any) -> Any:
    """A value the standard encoder does not know (a route's ``Fragment``, a datetime), as orjson
    writes it, read back exactly."""
    return json.loads(orjson.dumps(value))
