"""Whether the client's answer to a server→client request answers it (both eras alike), and
whether a handshake-era error answer is a JSON-RPC error object (:func:`error_problem`).

An answer is checked against the result type of the request it answers (``elicitation/create`` →
``ElicitResult``, ``sampling/createMessage`` → ``CreateMessageResult``, ``roots/list`` →
``ListRootsResult``), so a problem is told in that type's terms. An accepted form-mode elicitation's
``content`` is then checked against the ``requestedSchema`` (elicitation.mdx, security
considerations: servers SHOULD validate it; a declined or cancelled one's content, which the spec
has for accept only, is not checked and is left out of what the route gets: :func:`answered`), in
the spec's restricted subset: a flat object of string (``minLength``, ``maxLength``, ``pattern``,
``format`` email/uri/date/date-time), number and integer (``minimum``, ``maximum``), boolean and
enum properties (``enum``, ``oneOf`` consts, and arrays of those with ``minItems``/``maxItems``),
``required``, and no property the schema does not have (unless it says ``additionalProperties:
true``). Where clients commonly differ it is lenient:
an integer is a number, and a number without a fraction (3.0) an integer, as in JSON Schema; a
null value counts as left out (refused only for a required property); a date-time needs no UTC
offset (an HTML ``datetime-local`` input sends none), and a leap second in 23:59 UTC is one (as
ajv-formats takes it: :func:`_is_date_time`); a format the spec does not list and a
property of a type outside the subset are not checked. A ``pattern`` is run by pydantic's engine
(Rust's regex), in linear time, so that no client text brings backtracking to the event loop the
answer is checked on, with ECMA-262's meaning (:func:`._answer_pattern.rust_pattern`: its ``\\d``,
``\\w``, ``\\s``, their negations and ``.`` as ECMA-262's sets, its classes as ECMA-262 reads them):
it never refuses an answer the client's own ECMA-262 check accepts, with or without the ``u`` flag.
A pattern that cannot be said so exactly (``\\b``, ``\\B``, ``\\p``, a backreference...), or that
Rust cannot read (a lookaround), is not checked, nor is an answer holding an astral character
(two code units to ECMA-262 without ``u``).
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

from mcp_types import CreateMessageResult, ElicitResult, ListRootsResult
from mcp_types.jsonrpc import ErrorData
from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaError, SchemaValidator, core_schema

from ._answer_pattern import rust_pattern
from ._printable import printable

__all__ = ["answer_problem", "answered", "content_problem", "error_problem", "shape_problem"]

_RESULTS: Mapping[str, type[BaseModel]] = {
    "elicitation/create": ElicitResult,
    "sampling/createMessage": CreateMessageResult,
    "roots/list": ListRootsResult,
}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:\S+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_LEAP_SECOND = re.compile(r"\d{2}:\d{2}:60")  # a time of day's start, with RFC 3339's leap second
_UNACCEPTED = ("decline", "cancel")


def answer_problem(method: str, params: Mapping[str, Any], answer: object) -> str | None:
    """What is wrong with ``answer`` as the result of the ``method`` request sent with ``params``;
    None when nothing is. The text quotes what the client sent (a property name, a place in the
    answer), with line breaks and other control characters escaped (``printable``), wherever it
    ends up (the error that refuses the answer, a log record)."""
    problem = _shape_problem(method, answer)
    if problem is None and isinstance(answer, dict):
        answer = answered(method, answer)
        problem = _content_problem(method, params, answer)
        if problem is None and answer is not _envelope(method, answer):
            problem = _type_problem(method, answer)  # the content's values against the result type
    return None if problem is None else printable(problem)


def shape_problem(method: str, answer: object) -> str | None:
    """What makes ``answer`` no result of a ``method`` request at all, as :func:`answer_problem`
    says it; None when it is one, whatever its content. For an elicitation, that is its envelope:
    an ``action`` of the three, an accepted one's ``content`` an object when there is one; what the content
    holds (a value no ElicitResult has, as an object) is the content's problem, which fails the
    question rather than leave it open for an answer a client told 400 does not send."""
    problem = _shape_problem(method, answer)
    return None if problem is None else printable(problem)


def answered(method: str, answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` as the route gets it: a declined or cancelled elicitation without its content,
    which is the accepted form's data only (elicitation.mdx: omitted for decline and cancel), so a
    client that sends one anyway is neither refused for it nor has the route take it as the form's;
    ``answer`` itself otherwise."""
    if method == "elicitation/create" and answer.get("action") in _UNACCEPTED and "content" in answer:
        return {name: value for name, value in answer.items() if name != "content"}
    return answer


def _shape_problem(method: str, answer: object) -> str | None:
    if not isinstance(answer, dict):
        return "the result is not an object"
    return _type_problem(method, _envelope(method, answered(method, answer)))


def _envelope(method: str, answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` without what an elicitation's content holds (``answer`` itself when there is none)."""
    if method == "elicitation/create" and isinstance(answer.get("content"), dict) and answer["content"]:
        return {**answer, "content": {}}
    return answer


def _type_problem(method: str, answer: dict[str, Any]) -> str | None:
    """What makes ``answer`` no instance of the result type of a ``method`` request, or None."""
    model = _RESULTS[method]
    try:
        model.model_validate(answer)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join([model.__name__, *(str(part) for part in first["loc"])])
        return f"{where}: {first['msg']}"
    return None


def _content_problem(method: str, params: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    schema = params.get("requestedSchema")
    if method == "elicitation/create" and answer.get("action") == "accept" and isinstance(schema, Mapping):
        problem = content_problem(schema, answer.get("content") or {})
        if problem is not None:
            return f"the content does not fit the requestedSchema: {problem}"
    return None


def error_problem(error: object) -> str | None:
    """What is wrong with ``error``, the client's error answer to a request of ours, as a JSON-RPC
    error object (an integer ``code``, a string ``message``); None when nothing is. Strictly: a
    code of ``"5"``, ``true`` or ``1.0`` is no integer (the route would get it as the client's)."""
    if not isinstance(error, dict):
        return "the error is not a JSON-RPC error object"
    try:
        ErrorData.model_validate(error, strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        return f"the error is not a JSON-RPC error object: {'.'.join(map(str, first['loc']))}: {first['msg']}"
    return None


def content_problem(schema: Mapping[str, Any], content: Mapping[str, Any]) -> str | None:
    """The first thing in ``content`` that does not fit ``schema`` (a requested schema), or None."""
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    for name in required if isinstance(required, list) else ():
        if isinstance(name, str) and content.get(name) is None:
            return f'required property "{name}" is missing'
    for name, value in content.items():
        prop = properties.get(name)
        if prop is None:
            if schema.get("additionalProperties") is True:
                continue
            return f'"{name}" is not in the requestedSchema'
        if value is None or not isinstance(prop, Mapping):
            continue
        problem = _value_problem(prop, value)
        if problem is not None:
            return f'"{name}"{problem}'
    return None


def _value_problem(prop: Mapping[str, Any], value: Any) -> str | None:
    """What is wrong with ``value`` for the property ``prop``, as the rest of a sentence whose
    subject (the property's name) the caller puts first."""
    kind = prop.get("type")
    if kind == "string":
        return _string_problem(prop, value)
    if kind in ("number", "integer"):
        return _number_problem(prop, value, kind)
    if kind == "boolean":
        return None if isinstance(value, bool) else f" should be a boolean, not {_type_of(value)}"
    if kind == "array":
        return _array_problem(prop, value)
    return None  # outside the spec's subset: not checked


def _string_problem(prop: Mapping[str, Any], value: Any) -> str | None:
    if not isinstance(value, str):
        return f" should be a string, not {_type_of(value)}"
    choices = _choices(prop, "oneOf")
    if choices is not None:
        return None if value in choices else f" is not one of the choices: {_listed(choices)}"
    said = f" is {len(value)} characters long"
    bounds = _outside(prop, "minLength", "maxLength", len(value), said, "shorter than", "longer than")
    if bounds is not None:
        return bounds
    pattern = prop.get("pattern")
    if isinstance(pattern, str) and not _matches(pattern, value):
        return f" does not match the pattern {pattern}"
    return _format_problem(prop.get("format"), value)


def _outside(
    prop: Mapping[str, Any], low_key: str, high_key: str, measured: float, said: str, below: str, above: str
) -> str | None:
    """What is wrong with ``measured`` against the property's ``low_key``/``high_key`` bounds
    ("<said>, <below> <low_key> <low>"), or None."""
    low, high = prop.get(low_key), prop.get(high_key)
    if _is_number(low) and measured < low:
        return f"{said}, {below} {low_key} {low}"
    if _is_number(high) and measured > high:
        return f"{said}, {above} {high_key} {high}"
    return None


def _format_problem(form: Any, value: str) -> str | None:
    if form == "email" and not _EMAIL.fullmatch(value):
        return " is not an email address"
    if form == "uri" and not _URI.fullmatch(value):
        return " is not a URI (with a scheme, as https://...)"
    if form == "date" and not _is_date(value):
        return " is not a date (YYYY-MM-DD)"
    if form == "date-time" and not _is_date_time(value):
        return " is not a date-time (as 2024-05-31T14:30:00Z)"
    return None


def _is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_date_time(value: str) -> bool:
    """Whether ``value`` is a date-time: as ``datetime`` reads one (no offset needed), or a leap
    second (``hh:mm:60``, RFC 3339 section 5.6, which ``datetime`` has none of) in 23:59 UTC, as
    the client's own check (ajv-formats) and the JSON-Schema-Test-Suite take it."""
    if len(value) <= 10 or value[10] not in "Tt " or not _is_date(value[:10]):
        return False
    time = value[11:].upper()
    leap = _LEAP_SECOND.match(time) is not None
    try:
        moment = datetime.datetime.fromisoformat(value[:10] + "T" + (time[:6] + "59" + time[8:] if leap else time))
    except ValueError:
        return False
    return not leap or _in_the_last_utc_minute(moment)


def _in_the_last_utc_minute(moment: datetime.datetime) -> bool:
    """Whether ``moment``'s minute is 23:59 UTC (one without an offset read as UTC, as ajv-formats
    reads it), worked out from its time of day: its UTC date may be out of ``datetime``'s range."""
    offset = moment.utcoffset() or datetime.timedelta()
    return (moment.hour * 3600 + moment.minute * 60 - offset.total_seconds()) % 86400 == 86340


def _number_problem(prop: Mapping[str, Any], value: Any, kind: str) -> str | None:
    article = "an integer" if kind == "integer" else "a number"
    if not _is_number(value):
        return f" should be {article}, not {_type_of(value)}"
    if kind == "integer" and isinstance(value, float) and not value.is_integer():
        return " should be an integer, not a number with a fraction"
    return _outside(prop, "minimum", "maximum", value, f" is {value}", "below the", "above the")


def _array_problem(prop: Mapping[str, Any], value: Any) -> str | None:
    if not isinstance(value, list):
        return f" should be an array, not {_type_of(value)}"
    bounds = _outside(prop, "minItems", "maxItems", len(value), f" has {len(value)} items", "fewer than", "more than")
    if bounds is not None:
        return bounds
    items = prop.get("items")
    choices = _choices(items, "anyOf") if isinstance(items, Mapping) else None
    for index, item in enumerate(value):
        if not isinstance(item, str):
            return f"[{index}] should be a string, not {_type_of(item)}"
        if choices is not None and item not in choices:
            return f"[{index}] is not one of the choices: {_listed(choices)}"
    return None


def _choices(prop: Mapping[str, Any], titled: str) -> list[Any] | None:
    """The values an enum property allows: ``enum``, or the consts of ``titled`` (``oneOf`` for a
    single choice, ``anyOf`` for an array's items); None when it is not an enum."""
    enum = prop.get("enum")
    if isinstance(enum, list):
        return enum
    options = prop.get(titled)
    if isinstance(options, list):
        return [option.get("const") for option in options if isinstance(option, Mapping)]
    return None


def _listed(choices: list[Any]) -> str:
    return ", ".join(f'"{choice}"' for choice in choices)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, dict) else "null"


def _matches(pattern: str, value: str) -> bool:
    """Whether ``pattern`` is found in ``value`` (searched, as JSON Schema's ``pattern`` is), by a
    linear-time engine: the client's text never meets a backtracking one (``^(a+)+$`` would stall
    the event loop the answer is checked on). True when the engine cannot read the pattern: it is
    not checked."""
    validator = _validator(pattern)
    if validator is None or not _bmp(value):  # an astral character: two code units to ECMA-262 without u
        return True
    try:
        validator.validate_python(value)
    except ValidationError as exc:
        return exc.errors()[0]["type"] != "string_pattern_mismatch"  # (a lone surrogate: not checked)
    return True


def _bmp(value: str) -> bool:
    """Whether every character of ``value`` is one UTF-16 code unit (as ECMA-262 without the ``u``
    flag reads a text; with it, or in Rust's regex, an astral character is one character)."""
    return value.isascii() or max(value) <= "\uffff"


@functools.lru_cache(maxsize=256)
def _validator(pattern: str) -> SchemaValidator | None:
    """A validator of the texts ``pattern`` is found in, with pydantic's engine (Rust's regex: linear
    time, its compiled size bounded); None when that cannot read it (a lookaround, a
    backreference: a pattern is ECMA-262's, and JSON Schema lets a validator skip what it does not
    support)."""
    rust = rust_pattern(pattern)
    if rust is None:
        return None
    try:
        return SchemaValidator(core_schema.str_schema(pattern=rust))
    except SchemaError:
        return None
