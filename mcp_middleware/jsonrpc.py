"""JSON-RPC framing: bytes in, messages out; results and errors out as bytes. The ONE serializer.

Envelopes are checked by hand (cheap, and each fault needs its own JSON-RPC code); method params
and results go through the official SDK's per-version wire types (``mcp_types.methods``), so a
2026-07-28 client gets ``resultType`` and friends. The SDK checks every earlier revision against
2025-11-25's schema: a 2024-11-05 or 2025-03-26 client's results are then reshaped to its own
revision (``_revisions``).

Deliberate differences from the SDK: the HTTP status of a JSON-RPC error depends on the era. In
2026-07-28 the spec's table applies (-32601 → 404 and so on); in the handshake era every error in a
well-formed request is answered with 200, because handshake clients read a 404 as "session
expired" and re-initialize. An error that answers no request (no id) is an HTTP error in both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType, UnionType
from typing import Any, Literal, NamedTuple, get_args

import orjson
from mcp_types import jsonrpc as codes
from mcp_types.jsonrpc import ErrorData, JSONRPCError
from mcp_types.methods import SERVER_RESULTS, serialize_server_result
from pydantic import BaseModel

from ._revisions import OLDER_REVISIONS, older

__all__ = [
    "Built",
    "ClientReply",
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

RequestId = str | int


class Request(NamedTuple):
    id: RequestId
    method: str
    params: dict[str, Any] | None


class Notification(NamedTuple):
    method: str
    params: dict[str, Any] | None


class ClientReply(NamedTuple):
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


# A run of digits long enough to be an integer orjson cannot keep exactly: it reads one outside
# [-2**63, 2**64 - 1] as a float (a 19-digit negative number may already be one). Found as
# ``_LONG_RUN in data.translate(_DIGITS_AS_ZEROS)``: two C passes, where ``re``'s ``\d{19}`` took
# 1.8 µs over a 220-byte request (~0.3 µs this way).
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19
_ROUNDED = float(2**63)  # every float orjson makes of an integer it cannot keep is at least this large


class _Exact(dict[str, Any]):
    """A message holding an integer beyond 64 bits that orjson rounded (see :func:`parse_message`),
    or, too deep for the standard parser to re-read, a float that large (it may have been written
    as a float: such a message is refused all the same). ``found``: that integer, for the error to
    name, or, too deep, orjson's float."""

    def __init__(self, message: dict[str, Any], found: float) -> None:
        super().__init__(message)
        self.found = found


def parse_payload(body: bytes) -> Any:
    """Decode JSON; invalid JSON or UTF-8 is a -32700 parse error. A message holding an integer
    beyond 64 bits comes back marked (``_Exact``), for :func:`parse_message` to refuse, as does one
    too deep for the standard parser that holds a float of 2**63 or more (it may be a float
    literal). A client's reply comes back read again by the standard parser, its integers exact;
    one whose id is beyond 64 bits comes back as orjson's reading (that id a float: refused as no
    id)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(codes.PARSE_ERROR, f"Parse error: {exc}") from None
    if _LONG_RUN in body.translate(_DIGITS_AS_ZEROS):  # rare: only then is the payload looked at again
        return _marked(body, payload)
    return payload


def _marked(body: bytes, payload: Any) -> Any:
    """``payload`` with each message that holds an integer beyond 64 bits marked, or (a reply) read
    exactly. orjson's floats of 2**63 or more say which messages may; the standard parser's reading
    tells integers from float literals, or, too deep for it, the floats alone decide."""
    messages = payload if isinstance(payload, list) else [payload]
    suspects = [_rounded(message) if isinstance(message, dict) else None for message in messages]
    if suspects.count(None) == len(suspects):
        return payload  # the digits were in a string, or an integer orjson keeps
    exact = _exact_reading(body)
    # the same text read again: a batch as long as orjson's; one message, or None (too deep), for each
    readings = exact if isinstance(exact, list) else [exact] * len(messages)
    marked = [
        message if rounded is None else _one(message, reading, rounded)
        for message, reading, rounded in zip(messages, readings, suspects, strict=True)
    ]
    return marked if isinstance(payload, list) else marked[0]


def _one(message: dict[str, Any], exact: Any, rounded: float) -> Any:
    """A message holding a float orjson may have made of an integer beyond 64 bits (``rounded``,
    the first such float)."""
    if isinstance(exact, dict):
        if "method" not in message:
            # a reply: for the route that asked, its integers exact; not with an id beyond 64 bits,
            # which no request of ours had (orjson's float of it is then refused as no id)
            return message if _beyond_64_bits(exact.get("id")) else exact
        found = _big(exact)
        if found is None:
            return message  # its large floats were written as floats
        return _Exact(message, found)  # the integer itself: ``rounded`` may be a float literal
    return _Exact(message, rounded)


def _exact_reading(body: bytes) -> Any:
    """The standard parser's reading (integers exact), or None when it is too deep for it."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _first(value: Any, wanted: Callable[[Any], bool]) -> Any:
    """The first scalar in ``value`` that ``wanted`` picks, or None (walked without recursion:
    orjson reads 1,024 levels, deeper than Python's stack goes)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif wanted(item):
            return item
    return None


def _rounded(value: Any) -> float | None:
    """The first float in orjson's reading that it may have made of an integer beyond 64 bits."""
    found: float | None = _first(value, lambda item: type(item) is float and abs(item) >= _ROUNDED)
    return found


def _big(value: Any) -> int | None:
    """The first integer beyond 64 bits in the standard parser's reading."""
    found: int | None = _first(value, _beyond_64_bits)
    return found


def _beyond_64_bits(value: Any) -> bool:
    """Whether ``value`` is an integer orjson can neither read nor write exactly."""
    return type(value) is int and not -(2**63) <= value < 2**64


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


def parse_message(obj: Any) -> Message:
    """Classify one decoded JSON value as a request, notification or client reply (-32600 if none)."""
    if not isinstance(obj, dict) or obj.get("jsonrpc") != "2.0":
        raise ProtocolError(codes.INVALID_REQUEST, "Invalid request: not a JSON-RPC 2.0 object")
    raw_id: Any = obj.get("id")  # shape checked just below
    has_id = "id" in obj
    if has_id and type(raw_id) not in _ID_TYPES:
        raise ProtocolError(codes.INVALID_REQUEST, "Invalid request: id must be a string or an integer")
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
        raise ProtocolError(
            codes.INVALID_PARAMS,
            f"Invalid params: an integer beyond 64 bits (about {float(obj.found):.6g}) would lose its "
            "precision; send it as a string",
            id=raw_id,
        )
    if has_id:
        return Request(raw_id, method, params)
    return Notification(method, params)


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
    """After ``orjson.dumps(message)`` raised ``error``: the one retry, with the integers beyond 64
    bits as ``Fragment`` objects; ``error`` again when orjson refused something else. For a caller whose
    usual path is a bare ``orjson.dumps`` (no Python call of ours per message)."""
    if "64-bit" not in str(error):
        raise error
    return orjson.dumps(_with_fragments(message, 0))


_DEPTH = 254  # orjson writes 254 nested containers and raises at the 255th


def _with_fragments(value: Any, depth: int) -> Any:
    """``value`` with its integers beyond 64 bits as digits orjson writes as they are (containers
    copied); deeper than orjson writes, the TypeError it raises for that."""
    if _beyond_64_bits(value):
        return orjson.Fragment(str(value).encode("ascii"))
    if isinstance(value, dict | list | tuple) and depth >= _DEPTH:  # ``depth`` containers around it
        raise TypeError("Recursion limit reached")
    if isinstance(value, dict):
        return {key: _with_fragments(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_with_fragments(item, depth + 1) for item in value]
    return value


def loads_exactly(text: str) -> Any:
    """The JSON value of a route's ``text`` (None when it is not JSON), its integers exact: orjson,
    or, for a text with a run of 19 digits, the standard parser, each integer beyond 64 bits as a
    ``Fragment`` of its digits (written back as they were). What orjson refuses to read or write
    (NaN, 1e400, a lone surrogate, over 254 levels) is refused on that path too, except an integer
    beyond a double's range: orjson refuses it, that path keeps its digits."""
    if _LONG_RUN not in text.encode("utf-8", "replace").translate(_DIGITS_AS_ZEROS):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return None
    try:
        value = json.loads(text, parse_int=_exact_int, parse_float=_finite, parse_constant=_refused)
        orjson.dumps(value)  # what orjson would not write (too deep, a lone surrogate) is no JSON for us either
    except (ValueError, RecursionError, TypeError):
        return None
    return value


def _exact_int(digits: str) -> Any:
    """An integer as the parser found it; one beyond 64 bits as a ``Fragment`` of its digits
    (made in the parse: copying the value afterwards took three times as long)."""
    value = int(digits)
    # JSON allows no leading zeros or "+", so ``digits`` is how str(value) writes it ("-0" is 0)
    return orjson.Fragment(digits.encode("ascii")) if _beyond_64_bits(value) else value


def _finite(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):  # 1e400
        raise ValueError(f"{digits} is beyond the range of a double")
    return value


def _refused(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")
