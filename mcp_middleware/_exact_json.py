"""Integers beyond 64 bits, read exactly: the JSON orjson would round.

Part of :mod:`mcp_middleware.jsonrpc`. orjson reads an integer outside [-2**63, 2**64 - 1] as a
float. A client's message (:func:`_marked`, which ``parse_payload`` calls only for a body with a
run of 19 digits) comes back marked (:class:`_Exact`) for ``parse_message`` to refuse, or, a
reply, read again by the standard parser with its integers exact; a body orjson refuses for an
integer beyond a double's range is read by the standard parser instead (:func:`_read_again`) and
marked the same way; a route's JSON
(:func:`loads_exactly`, re-exported by ``jsonrpc``) keeps such an integer as an
``orjson.Fragment`` of its digits. Reading only: writing them is the serializer's
(``jsonrpc.dumps_again``, which takes :func:`_beyond_64_bits` from here); ``loads_exactly``'s
``orjson.dumps`` only checks that orjson could write the value, and its bytes are dropped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import orjson

__all__ = [
    "_DIGITS_AS_ZEROS",
    "_LONG_RUN",
    "WideArgument",
    "_Exact",
    "_LongInt",
    "_WideArguments",
    "_WideId",
    "_beyond_64_bits",
    "_marked",
    "_read_again",
    "about",
    "loads_exactly",
]

# A run of digits long enough to be an integer orjson cannot keep exactly: it reads one outside
# [-2**63, 2**64 - 1] as a float (a 19-digit negative number may already be one). Found as
# ``data.translate(_DIGITS_AS_ZEROS).find(_LONG_RUN) >= 0``: two C passes, where ``re``'s ``\d{19}`` took
# 1.8 µs over a 220-byte request (~0.3 µs this way). ``find``, not ``in``: ``bytes.__contains__``
# first tries its operand as an integer, and the ``TypeError`` it formats and drops cost ~1,900
# machine instructions per test (callgrind), twice per ``tools/call``.
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19
_ROUNDED = float(2**63)  # every float orjson makes of an integer it cannot keep is at least this large


class _Exact(dict[str, Any]):
    """A message holding an integer beyond 64 bits that orjson rounded (see :func:`parse_message`),
    or, too deep for the standard parser to re-read, a float that large (it may have been written
    as a float: such a message is refused all the same). ``found``: that integer, for the error to
    name, or, too deep, orjson's float. ``argument``: for a ``tools/call`` that holds them in its
    ``params.arguments`` only, the first argument holding one, what it holds (an input error, the
    tool's to refuse: :class:`_WideArguments`), and the arguments as read exactly (orjson's, too
    deep), else None."""

    def __init__(
        self, message: dict[str, Any], found: float, argument: tuple[str, float, dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.found = found
        self.argument = argument


class WideArgument(Exception):
    """A tool argument holding an integer beyond 64 bits; the message is meant for the model (the
    tool's error result, as an ``ArgumentError``'s is)."""


class _WideArguments(dict[str, Any]):
    """A ``tools/call``'s arguments that hold an integer beyond 64 bits (``parse_message`` makes
    them, for a tools/call refused for no other reason): read as arguments, by the request building
    (``ToolSpec.build_request``, whose first read is ``keys()``), they raise :class:`WideArgument`
    with ``refusal``, which the tool's run answers with an ``isError`` result, as a bad argument.
    They hold the arguments as the standard parser read them, each integer exact (orjson's reading
    only when too deep for it): what reads them with ``get`` before that, the ``Mcp-Param-*`` check
    (``param_headers.check_param_headers``), compares a header with the exact integer, not orjson's
    rounded float. Nothing else tells them apart from a dict: the usual call pays nothing."""

    __slots__ = ("refusal",)

    def __init__(self, arguments: dict[str, Any], refusal: str) -> None:
        super().__init__(arguments)
        self.refusal = refusal

    def keys(self) -> Any:
        raise WideArgument(self.refusal)


def _argument_holding(message: dict[str, Any], finder: Callable[[Any], Any]) -> tuple[str, Any, dict[str, Any]] | None:
    """For a ``tools/call`` whose params' ``arguments`` (an object) hold what ``finder`` finds (an
    integer beyond 64 bits) while the rest of the message holds none: the first such argument, what
    ``finder`` found in it, and ``message``'s arguments. None otherwise (another method, or one
    elsewhere: refused whole)."""
    params = message.get("params")
    if message.get("method") != "tools/call" or type(params) is not dict or type(params.get("arguments")) is not dict:
        return None
    if finder({**message, "params": {**params, "arguments": None}}) is not None:
        return None
    for name, value in params["arguments"].items():
        found = finder(value)
        if found is not None:
            return name, found, params["arguments"]
    return None


class _WideId(float):
    """The id of a message, an integer beyond 64 bits, as orjson read it (a float: rounded), marked
    so that ``parse_message`` refuses it for that, not as an id of the wrong type; a float
    written as such (``1e19``) stays a plain float."""


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


def _read_again(body: bytes) -> Any:
    """A body orjson refused, read by the standard parser when an integer beyond a double's range
    is all orjson refused it for (it reads an integer beyond 64 bits as a float, and such a one as
    infinity, which it refuses): each message holding an integer beyond 64 bits marked, as
    :func:`_marked` marks them. Raises ``ValueError`` when it is no JSON for orjson either.

    An integer of at most 308 digits is read exactly (for a reply); a longer one becomes an
    infinity (:func:`_bounded_int`): it is refused whatever its value, and converting its digits
    is quadratic in their number (Python refuses past 4,300)."""
    try:
        # text, not bytes: the standard parser would skip a BOM, which orjson refuses
        value = json.loads(body.decode("utf-8"), parse_int=_bounded_int, parse_float=_finite, parse_constant=_refused)
    except (ValueError, RecursionError):
        raise ValueError("not JSON") from None
    if not _orjson_reads(value):
        raise ValueError("not JSON for orjson")
    if isinstance(value, list):
        return [_settled(message) if isinstance(message, dict) else message for message in value]
    return _settled(value) if isinstance(value, dict) else value


_DEPTH = 1024  # orjson reads arrays and objects nested this deep, no deeper


def _orjson_reads(value: Any) -> bool:
    """Whether orjson reads what the standard parser read, its integers aside: no more than
    ``_DEPTH`` levels, and no string or key holding a lone surrogate (``"\\ud800"``). Walked
    without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > _DEPTH or any(not key.isascii() and _lone_surrogate(key) for key in item):
                return False
            stack.extend((member, depth + 1) for member in item.values())
        elif isinstance(item, list):
            if depth > _DEPTH:
                return False
            stack.extend((member, depth + 1) for member in item)
        elif type(item) is str and not item.isascii() and _lone_surrogate(item):
            return False
    return True


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _settled(message: dict[str, Any]) -> Any:
    """One message of :func:`_read_again`'s reading, as :func:`_one` makes orjson's: an id beyond
    64 bits as orjson reads it (a float: no id), marked (:class:`_WideId`), a request holding an
    integer beyond 64 bits marked, a reply holding one read exactly unless it is beyond 308 digits
    (then marked: refused)."""
    huge = _first(message, _is_infinite)
    found = _big(message)
    if huge is None and found is None:
        return message
    if _beyond_64_bits(message.get("id")) or _is_infinite(message.get("id")):
        message["id"] = _WideId(message["id"])
    if "method" in message or huge is not None:
        return _Exact(message, found if found is not None else huge, _argument_holding(message, _wide_or_infinite))
    return message


def _wide_or_infinite(value: Any) -> Any:
    """The first integer beyond 64 bits in :func:`_read_again`'s reading, one beyond 308 digits
    included (an infinity there)."""
    return _first(value, lambda item: _beyond_64_bits(item) or _is_infinite(item))


def _is_infinite(value: Any) -> bool:
    """An integer of more than 308 digits in :func:`_read_again`'s reading (its only infinities)."""
    return type(value) is _LongInt


def _one(message: dict[str, Any], exact: Any, rounded: float) -> Any:
    """A message holding a float orjson may have made of an integer beyond 64 bits (``rounded``,
    the first such float)."""
    if isinstance(exact, dict):
        wide_id = _beyond_64_bits(exact.get("id"))
        if wide_id:
            message["id"] = _WideId(message["id"])
        if "method" not in message:
            # a reply: for the route that asked, its integers exact; not with an id beyond 64 bits,
            # which no request of ours had (orjson's float of it, marked, is then refused)
            return message if wide_id else exact
        found = _big(exact)
        if found is None:
            return message  # its large floats were written as floats
        # the integer itself: ``rounded`` may be a float literal
        return _Exact(message, found, _argument_holding(exact, _big))
    return _Exact(message, rounded, _argument_holding(message, _rounded))  # too deep: the floats decide


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


def loads_exactly(text: str) -> Any:
    """The JSON value of a route's ``text`` (None when it is not JSON), its integers exact: orjson,
    or, for a text with a run of 19 digits, the standard parser, each integer beyond 64 bits as a
    ``Fragment`` of its digits (written back as they were). What orjson refuses to read or write
    (NaN, 1e400, a lone surrogate, over 254 levels) is refused on that path too, except an integer
    beyond a double's range: orjson refuses it, that path keeps its digits."""
    if text.encode("utf-8", "replace").translate(_DIGITS_AS_ZEROS).find(_LONG_RUN) < 0:
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


_EXACT_DIGITS = 308  # the longest integer _read_again converts: every one is below a double's limit


class _LongInt(float):
    """An integer of more than ``_EXACT_DIGITS`` digits as :func:`_read_again` reads it: an
    infinity of its sign, known by its length alone (refused whatever its value), that keeps its
    ``digits`` for what must compare it exactly, an ``Mcp-Param-*`` header
    (``param_headers.check_param_headers``), without converting them to an int."""

    __slots__ = ("digits",)
    digits: str

    def __new__(cls, digits: str) -> _LongInt:
        self = super().__new__(cls, "-inf" if digits[0] == "-" else "inf")
        self.digits = digits
        return self


def _bounded_int(digits: str) -> int | float:
    """An integer as the standard parser found it, for :func:`_read_again`: exact up to
    ``_EXACT_DIGITS`` digits, else a :class:`_LongInt`."""
    if len(digits) - (digits[0] == "-") <= _EXACT_DIGITS:
        return int(digits)
    return _LongInt(digits)


def about(found: float) -> str:
    """How an error names an integer beyond 64 bits (``_Exact.found``)."""
    return "of 309 digits or more" if math.isinf(found) else f"about {float(found):.6g}"


def _finite(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):  # 1e400
        raise ValueError(f"{digits} is beyond the range of a double")
    return value


def _refused(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")
