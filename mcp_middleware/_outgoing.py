"""What a route sends the client through its context, checked against the SDK's wire types for the
call's revision before anything goes out.

A route's questions (``Elicit``, ``Sample``, ``ListRoots``) and progress reports are built from
what the route hands over, and nothing else looked at their shape: a handshake-era question that
did not fit its method went out as it was, and the route waited for an answer until
``ask_timeout``; in 2026-07-28 the ``input_required`` result holding it failed to encode, and the
whole call failed as if the route's result were at fault; a progress report of ``True`` went out as
``"progress": true``. Now the route gets the error where it asks:

- :func:`check_question` (``ValueError``): the params against the revision's request type, the
  same ones that write the request: ``mcp_types.methods.SERVER_REQUESTS`` in the handshake era,
  and in 2026-07-28 the ``InputRequiredResult`` the question is sent in
  (``jsonrpc.INPUT_REQUIRED_RESULTS``, what encodes that result). A form's ``requestedSchema``
  properties are then checked as the revision's ``PrimitiveSchemaDefinition`` (a flat object of
  primitive properties: its wire type leaves them ``Any``), and a string property that lists its
  values (``enum``, or ``oneOf`` titled values) as the revision's single-select enum schema its
  keys say (the plain ``StringSchema`` takes any other keys, so ``"enum": ["a", 3]`` passed it;
  ``enum`` and ``oneOf`` together are refused);
- :func:`check_progress` (``TypeError``): ``progress``/``total`` numbers, ``message`` a string,
  against the revision's ``ProgressNotification``;
- :func:`check_log_data` (``TypeError``): log data the middleware cannot write as JSON (orjson's
  reason), whether or not the message goes out (the client's log level decides that).

A question :func:`check_question` refuses raises :class:`QuestionRefused` (a ``ValueError``):
nothing was sent, and ``LiveContext.ask`` takes its keys back (and raises a plain ``ValueError``
with the same message), so the route can ask it again, corrected, under the same key.

Both validate in pydantic's strict mode (the schema's JSON types: a bool is no number, a string no
integer; lax mode took ``True`` for a number and wrote a 2026-07-28 ``maxTokens: true`` as 1); what
it accepts, the lax mode that writes a 2026-07-28 result accepts too. Strict mode takes no tuple
for an array, which orjson writes as one and which went out before: a question it refuses is
checked again as written (JSON). The message names each field by its path in the params
(``messages[0].role``) and the value given. Of a union (a content block, elicitation's form or
URL params, a form property), pydantic lists every member's errors; the message keeps those of
the members meant: not one whose tag (``type``, ``method``, ``mode``) does not match, nor one that
refused the value's kind when another looked inside it (a content list, for one block), nor one
that only misses fields the value lacks when another found a wrong value (the enum schemas, for a
string property with an unknown ``format``). Where no member's tag matches, the message says the
values it may take; a number's type error stands for an integer's at the same place.

Nothing here runs for a call whose route does not use its context, a progress report of plain
``int``/``float``/``str`` values is let through before pydantic (``type()`` checks), and log data
that is a plain scalar (a ``str``, say) before orjson.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

import orjson
from mcp_types.methods import SERVER_NOTIFICATIONS, SERVER_REQUESTS
from mcp_types.version import LATEST_HANDSHAKE_VERSION
from pydantic import BaseModel, TypeAdapter, ValidationError

from .jsonrpc import INPUT_REQUIRED_RESULTS, dumps_exactly

__all__ = ["QuestionRefused", "check_log_data", "check_progress", "check_question", "primitive_schema"]

_TAGS = frozenset({"type", "method", "mode"})  # the fields that tell a union's members apart
_SHOWN = 3  # fields named in one message at most
_LONGEST = 60  # characters of a value's repr in a message
_ABSENT: Any = object()
_PROPERTIES = ("requestedSchema", "properties")


class QuestionRefused(ValueError):
    """A question :func:`check_question` refused: nothing was sent, so its key is not used up
    (``LiveContext.ask`` takes it back)."""


def check_question(key: str, method: str, params: Mapping[str, Any], version: str) -> None:
    """Raise ``ValueError`` (:class:`QuestionRefused`) naming what of ``params`` does not fit
    ``method``'s request in ``version`` (both eras), before the question is sent."""
    problems = _request_problems(key, method, params, version)
    if not problems and method == "elicitation/create":
        problems = _form_problems(params, version)
    if problems:
        raise QuestionRefused(f"{method} request {key!r} does not fit protocol revision {version}: {problems}")


def check_progress(version: str, token: str | int | None, progress: object, total: object, message: object) -> None:
    """Raise ``TypeError`` naming what of a progress report does not fit ``notifications/progress``
    (numbers, and a string). The usual report (``int``/``float`` values, a ``str`` or no message)
    is taken as it is, without pydantic."""
    if type(progress) in _NUMBERS and type(total) in _OPTIONAL_NUMBERS and type(message) in _OPTIONAL_TEXT:
        return
    model = SERVER_NOTIFICATIONS.get(("notifications/progress", version))
    if model is None:
        model = SERVER_NOTIFICATIONS[("notifications/progress", LATEST_HANDSHAKE_VERSION)]
    params = {"progressToken": 0 if token is None else token, "progress": progress}
    params.update((name, value) for name, value in (("total", total), ("message", message)) if value is not None)
    frame = {"jsonrpc": "2.0", "method": "notifications/progress", "params": params}
    try:
        model.model_validate(frame, strict=True, by_name=False)
    except ValidationError as exc:
        raise TypeError(f"report_progress: {_described(exc, frame, ('params',))}") from None


def check_log_data(data: object) -> None:
    """Raise ``TypeError`` if the middleware cannot write ``data`` as JSON (what writes the log
    message: orjson, with integers beyond 64 bits as their digits)."""
    try:
        dumps_exactly(data)
    except TypeError as exc:  # orjson.JSONEncodeError
        raise TypeError(f"log: data is not JSON: {exc}") from None


_NUMBERS = (int, float)
_OPTIONAL_NUMBERS = (int, float, type(None))
_OPTIONAL_TEXT = (str, type(None))


def _request_problems(key: str, method: str, params: Mapping[str, Any], version: str) -> str:
    surface = SERVER_REQUESTS.get((method, version))
    if surface is not None:
        frame: dict[str, Any] = {"jsonrpc": "2.0", "id": 0, "method": method, "params": params}
        return _validated(surface, frame, ("params",))
    result = INPUT_REQUIRED_RESULTS.get(("tools/call", version))
    if not isinstance(result, type):  # not a revision with input_required results: the channel refuses it
        return ""
    frame = {"resultType": "input_required", "inputRequests": {key: {"method": method, "params": params}}}
    return _validated(result, frame, ("inputRequests", key, "params"))


def _validated(model: type[BaseModel], frame: Mapping[str, Any], root: tuple[Any, ...]) -> str:
    return _checked(lambda value: model.model_validate(value, strict=True, by_name=False), frame, root)


def _checked(validate: Callable[[Any], object], frame: Any, root: tuple[Any, ...], shown: tuple[Any, ...] = ()) -> str:
    """The problems ``validate`` finds in ``frame`` ("" for none). Strict mode takes no tuple for an
    array, which the wire has as one: a frame it refuses is checked again as written (JSON), when
    orjson writes it (else, an integer beyond 64 bits, say, the first problems stand)."""
    try:
        validate(frame)
    except ValidationError as exc:
        problems = exc
    else:
        return ""
    try:
        written = orjson.loads(orjson.dumps(frame))
    except (TypeError, ValueError):  # orjson's JSONEncodeError, JSONDecodeError
        return _described(problems, frame, root, shown)
    try:
        validate(written)
    except ValidationError as exc:
        return _described(exc, written, root, shown)
    return ""


def _form_problems(params: Mapping[str, Any], version: str) -> str:
    """What of a (valid) form's ``requestedSchema.properties`` is not a primitive property."""
    adapter = primitive_schema(version)
    if adapter is None:
        return ""
    properties = params["requestedSchema"]["properties"]
    problems = _checked(lambda value: adapter.validate_python(value, strict=True), properties, (), _PROPERTIES)
    schemas = select_schema(version) if not problems else None
    if schemas is None:
        return problems
    groups: dict[str, dict[str, Any]] = {}
    for name, prop in properties.items():
        member = _select_member(prop)
        if member == _BOTH:
            return f"{_where((*_PROPERTIES, name))}{_BOTH_SAID}"
        if member == "TitledSingleSelectEnumSchema" and member not in schemas:
            return f"{_where((*_PROPERTIES, name))}{_NO_ONE_OF.format(version=version)}"
        if member:
            groups.setdefault(member, {})[name] = prop
    found = (
        _checked(functools.partial(schemas[member].validate_python, strict=True), group, (), _PROPERTIES)
        for member, group in groups.items()
        if member in schemas
    )
    return "; ".join(problem for problem in found if problem)


_BOTH = "both"
_NO_ONE_OF = (
    " has oneOf: protocol revision {version} has no titled oneOf enums (2025-11-25 and later): "
    "give enum, with enumNames for titles"
)
_BOTH_SAID = " has both enum and oneOf: give enum (with enumNames for titles) or oneOf (titled values), not both"


def _select_member(prop: Any) -> str:
    """The single-select enum schema a string property that lists its values is meant as, by the
    keys it has (checking them all: a union member ignores the keys it lacks, so a valid ``enum``
    let a non-string ``oneOf`` or ``enumNames`` through): ``enum`` with ``enumNames`` the legacy
    titled one, ``oneOf`` the titled one, ``enum`` alone the untitled one; ``enum`` and ``oneOf``
    together, :data:`_BOTH` (refused: the client cannot tell which values are offered); "" for
    any other property."""
    if not isinstance(prop, Mapping) or prop.get("type") != "string":
        return ""
    if "enum" in prop and "oneOf" in prop:
        return _BOTH
    if "oneOf" in prop:
        return "TitledSingleSelectEnumSchema"
    if "enum" in prop:
        return "LegacyTitledEnumSchema" if "enumNames" in prop else "UntitledSingleSelectEnumSchema"
    return ""


def _elicitation_type(version: str) -> Any:
    """The type ``version``'s elicitation request goes out in (whose module has its schema types)."""
    return SERVER_REQUESTS.get(("elicitation/create", version)) or INPUT_REQUIRED_RESULTS.get(("tools/call", version))


# A revision whose request type the SDK shares with a later one, by the schema types its own
# elicitation.mdx has: 2025-06-18's are string, number, boolean and enum (enum, enumNames) properties;
# titled oneOf and multi-select enums came with 2025-11-25 (SEP-1330). Its EnumSchema is the later
# LegacyTitledEnumSchema, whose enumNames are optional: an enum alone is that one too.
_OWN_TYPES: dict[str, tuple[str, ...]] = {
    "2025-06-18": ("StringSchema", "NumberSchema", "BooleanSchema", "LegacyTitledEnumSchema"),
}
_OWN_SELECTS: dict[str, dict[str, str]] = {
    "2025-06-18": {
        "UntitledSingleSelectEnumSchema": "LegacyTitledEnumSchema",
        "LegacyTitledEnumSchema": "LegacyTitledEnumSchema",
    },
}


def _types_module(version: str) -> Any:
    """The SDK module of ``version``'s elicitation request type (which has its schema types)."""
    return sys.modules.get(getattr(_elicitation_type(version), "__module__", ""))


@functools.cache
def primitive_schema(version: str) -> TypeAdapter[Any] | None:
    """The properties of a requested schema as ``version`` types them (``dict[str,
    PrimitiveSchemaDefinition]``), from the module of its elicitation request type (for a revision
    that shares it with a later one, only the members its own spec has: :data:`_OWN_TYPES`); None
    when that has no such type (a revision without elicitation, or an SDK that moved it)."""
    module = _types_module(version)
    own = _OWN_TYPES.get(version)
    if own is not None:
        members = tuple(getattr(module, name, None) for name in own)
        return None if None in members else TypeAdapter(dict[str, Union[members]])  # type: ignore[valid-type]  # noqa: UP007
    primitive = getattr(module, "PrimitiveSchemaDefinition", None)
    return None if primitive is None else TypeAdapter(dict[str, primitive])  # type: ignore[valid-type]


_SELECTS = ("UntitledSingleSelectEnumSchema", "TitledSingleSelectEnumSchema", "LegacyTitledEnumSchema")


@functools.cache
def select_schema(version: str) -> dict[str, TypeAdapter[Any]] | None:
    """The string properties that list their values (``enum``, titled ``oneOf``) as ``version``
    types them, beside :func:`primitive_schema` (whose ``StringSchema`` takes any other key, so a
    non-string value there passed it): by the name of each of its single-select enum schemas
    (:func:`_select_member` picks one), ``dict[str, <that schema>]``; None when its module has
    none of them. A revision that shares its module with a later one has only its own
    (:data:`_OWN_SELECTS`: no titled ``oneOf`` in 2025-06-18)."""
    module = _types_module(version)
    names = _OWN_SELECTS.get(version, {name: name for name in _SELECTS})
    members = {kind: getattr(module, name) for kind, name in names.items() if hasattr(module, name)}
    return {kind: TypeAdapter(dict[str, member]) for kind, member in members.items()} or None  # type: ignore[valid-type]


def _described(exc: ValidationError, frame: Any, root: tuple[Any, ...], shown: tuple[Any, ...] = ()) -> str:
    """The problems of ``exc`` as "<field> is <value>: <what it should be>", by field path (under
    ``root``, written after ``shown``), at most ``_SHOWN`` of them: those of the union members meant
    (:func:`_not_meant`), and where none is, that the tag fits no member (:func:`_tag_mismatches`)."""
    found = [_located(error, frame) for error in exc.errors(include_url=False)]
    out = _not_meant(found)
    kept = [item for item in found if not out.intersection(item[1])]
    covered = {member[0] for _, members, _ in found for member in members if member not in out}
    unmatched = [
        item
        for item in found
        if _is_tag_mismatch(*item) and item[1][-1][0] not in covered and not out.intersection(item[1][:-1])
    ]
    merged = _tag_mismatches(unmatched)
    first: dict[tuple[Any, ...], int] = {}
    for index, (path, _, _) in enumerate(found):
        first.setdefault(path, index)
    said: dict[tuple[Any, ...], str] = {}
    for path, _, error in sorted(_general(kept + merged), key=lambda item: first[item[0]]):
        relative = path[len(root) :] if path[: len(root)] == root else path
        said.setdefault(relative, _said(shown + relative, error))
    return "; ".join(list(said.values())[:_SHOWN])


Member = tuple[tuple[Any, ...], str]  # where in the frame a union was tried, and the member's name
Located = tuple[tuple[Any, ...], list[Member], dict[str, Any]]


def _located(error: Any, frame: Any) -> Located:
    """The error's path in the frame (its ``loc`` without the union members' names) and the union
    members it belongs to."""
    path: list[Any] = []
    members: list[Member] = []
    node, loc = frame, error["loc"]  # pydantic's own ``input`` is the value there (the parent, if missing)
    for index, part in enumerate(loc):
        child = _child(node, part)
        if child is not _ABSENT:
            path.append(part)
            node = child
        elif index == len(loc) - 1 and error["type"] == "missing":
            path.append(part)
        else:
            members.append((tuple(path), str(part)))
    return tuple(path), members, dict(error)


def _child(node: Any, part: Any) -> Any:
    if isinstance(node, Mapping) and isinstance(part, str):
        return node.get(part, _ABSENT)
    if isinstance(node, Sequence) and not isinstance(node, str) and isinstance(part, int) and part < len(node):
        return node[part]
    return _ABSENT


def _is_tag_mismatch(path: tuple[Any, ...], members: list[Member], error: dict[str, Any]) -> bool:
    """A union member's own tag field (``type``, ``method``, ``mode``) that has another value:
    that member is not the one meant."""
    if error["type"] != "literal_error" or not members or not path or path[-1] not in _TAGS:
        return False
    return members[-1][0] == path[:-1]


def _not_meant(found: list[Located]) -> set[Member]:
    """The union members the value was not meant for, as the errors show, member by member of each
    union: one whose tag field (``type``, ``method``, ``mode``) has another value; one that refused
    the value's kind outright (a list where the value is an object) when another member took it and
    looked inside; and, of the members left, one that only misses fields the value lacks (the enum
    schemas' ``enum``/``oneOf``) when another found a field it has with a wrong value."""
    errors: dict[Member, list[Located]] = {}
    for item in found:
        for member in item[1]:
            errors.setdefault(member, []).append(item)
    out = {item[1][-1] for item in found if _is_tag_mismatch(*item)}
    for site in {member[0] for member in errors}:
        members = [member for member in errors if member[0] == site]
        inside = {member for member in members if any(len(path) > len(site) for path, _, _ in errors[member])}
        if inside:
            out.update(member for member in members if member not in inside)
        left = [member for member in members if member not in out]
        wrong = {member for member in left if any(error["type"] != "missing" for _, _, error in errors[member])}
        if wrong:
            out.update(member for member in left if member not in wrong)
    return out


def _general(items: list[Located]) -> list[Located]:
    """``items`` without an integer's type error where a number's stands at the same path (a union
    of ``int`` and ``float``: an integer is a number)."""
    numbers = {path for path, _, error in items if error["type"] == "float_type"}
    return [item for item in items if not (item[2]["type"] == "int_type" and item[0] in numbers)]


def _tag_mismatches(found: list[Located]) -> list[Located]:
    """No member's tag matched: one error per tag field, saying every value the members take."""
    merged: dict[tuple[Any, ...], Located] = {}
    for path, members, error in found:
        if path in merged:
            expected = merged[path][2]["ctx"]["expected"]
            if error["ctx"]["expected"] not in expected:
                merged[path][2]["ctx"]["expected"] = f"{expected} or {error['ctx']['expected']}"
        else:
            merged[path] = (path, members, {**error, "ctx": dict(error["ctx"])})
    for _, _, error in merged.values():
        error["msg"] = f"Input should be {error['ctx']['expected']}"
    return list(merged.values())


def _where(path: tuple[Any, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(".") or "params"


def _said(path: tuple[Any, ...], error: dict[str, Any]) -> str:
    where = _where(path)
    if error["type"] == "missing":
        return f"{where} is missing"
    value = repr(error["input"])
    value = value if len(value) <= _LONGEST else f"{value[: _LONGEST - 3]}..."
    message = str(error["msg"])
    message = "should" + message[len("Input should") :] if message.startswith("Input should") else message
    return f"{where} is {value}: {message}"
