"""What a tool's JSON object must be to be its ``structuredContent``: the output schema's top level, cheaply.

A server with an ``outputSchema`` MUST return structured results that conform to it, and the
official clients refuse one that does not. A route's response model usually sees to it, but not
when the route returns its own ``JSONResponse`` (FastAPI does not validate a ``Response`` returned
directly). :func:`output_shape` reads, once per tool, what :mod:`mcp_middleware.results` checks on
every call:

* the names the schema's top level ``required`` lists;
* the JSON types of its top-level ``properties`` whose schema says them simply: a ``type`` (a name
  or a list of names), or an ``anyOf``/``oneOf`` whose every branch has one (pydantic's
  ``Optional[int]``: ``anyOf: [{"type": "integer"}, {"type": "null"}]``). A ``type`` beside other
  keywords is checked (it holds whatever they add); the rest is not: a ``$ref``, an ``enum`` or
  ``const`` without a ``type``, an ``allOf``, a branch without a ``type``, and everything nested
  (an object's properties, an array's items), where the response model is trusted;
* the JSON types of its top-level ``additionalProperties``, when that schema says them simply (the
  same forms): FastAPI's ``dict[str, int]`` is ``additionalProperties: {"type": "integer"}``, so
  every value of a key ``properties`` does not name (typed simply or not) is checked against them.
  One that is not simple (``true``/``false``, a ``$ref``, a nested object's schema), or one beside
  ``patternProperties``, is not checked.

The check per call is one loop over the checked names (``OutputShape.fits``): the Python type of
each one's value (:data:`ABSENT`'s type for a missing one) must be among those its JSON types
allow. The required names are among the checked ones (a required name not typed simply allows the
type of every parsed JSON value), and :data:`ABSENT`'s type is allowed for the others only: the
one check also says that none is missing, and what it refuses goes to the exact reading, which
names what is missing. (A loop, not ``frozenset.issuperset`` over ``zip``/``map`` of the pairs:
on CPython 3.11 that C-level pipeline ran about 10,000 machine instructions for five names, the
loop about 4,300: ``map`` calls ``dict.get`` and ``type`` through the generic call path, the loop's
``type()`` is specialised.)
JSON semantics: a boolean is no integer or number; an integer is a number;
an integral float is an integer (JSON Schema 2020-12), which the fast check sends to
:meth:`OutputShape.mismatches`, the exact reading that also words the error. A shape with
``additionalProperties`` types (``OutputShape.extra``) has no fast check (its ``fits`` is always
false: the keys to check are the object's own), so every such object takes the exact reading; a
shape without them pays nothing for it.

A tool whose JSON body is no object (``OutputShape.wrapped``: a list, a number, ``Optional[Item]``)
has an output schema whose required ``result`` holds the body's schema; its ``structuredContent``
is the body wrapped so, which the exact reading checks as any object's (the body's JSON type
against ``result``'s simple types). Its ``fits`` is always false too: every body of such a tool,
an object or not, is wrapped first, off the fast path of a tool whose body is an object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

__all__ = ["ABSENT", "NO_SHAPE", "OutputShape", "json_type", "output_shape"]


class _Absent:
    """The value of a property a JSON object does not have (its own type, allowed for every checked name
    but a required one)."""


ABSENT: Final = _Absent()

# the Python types of each JSON type's values as the middleware parses them (an integer beyond 64
# bits is an ``orjson.Fragment`` of its digits: _exact_json)
_PYTHON_TYPES: Final[Mapping[str, tuple[type, ...]]] = {
    "string": (str,),
    "integer": (int, orjson.Fragment),
    "number": (int, float, orjson.Fragment),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}

# the Python type of every value the middleware parses JSON to (what a required name not typed
# simply allows: it must only be there)
_PARSED_TYPES: Final = frozenset(python for pythons in _PYTHON_TYPES.values() for python in pythons)


def json_type(value: Any) -> str:
    """The JSON type of a parsed value, as an error names it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | orjson.Fragment):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "array" if isinstance(value, list) else "object"


def _fits(value: Any, kinds: tuple[str, ...]) -> bool:
    """Whether ``value`` is of one of the JSON types ``kinds`` (exactly: an integral float is an integer)."""
    kind = json_type(value)
    return (
        kind in kinds
        or (kind == "integer" and "number" in kinds)
        or (kind == "number" and "integer" in kinds and value.is_integer())
    )


@dataclass(frozen=True, slots=True)
class OutputShape:
    """The output schema's ``required`` names and its top-level properties' JSON types (by name,
    in the schema's order), and ``extra``, the JSON types of every other key's value (its
    ``additionalProperties``; () for none checked), ``named`` the keys ``properties`` names (typed
    simply or not), which ``extra`` does not apply to. ``checks``: each checked name (the typed
    ones, in the schema's order, then the other required ones, sorted) with the Python types its
    value may have (:data:`ABSENT`'s for an optional one); ``fast``: whether :meth:`fits` checks
    anything (not with ``extra``, not for a wrapped body)."""

    required: frozenset[str] = frozenset()
    types: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extra: tuple[str, ...] = ()
    named: frozenset[str] = frozenset()
    wrapped: bool = False  # the schema's ``result`` holds the JSON body, which is wrapped in it
    checks: tuple[tuple[str, frozenset[type]], ...] = field(init=False)
    fast: bool = field(init=False)

    def __post_init__(self) -> None:
        untyped = sorted(self.required - self.types.keys())  # required, of any JSON type
        checks = [
            (name, frozenset(python for kind in kinds for python in _PYTHON_TYPES[kind]) | _absent_for(self, name))
            for name, kinds in self.types.items()
        ]
        checks += [(name, _PARSED_TYPES) for name in untyped]
        object.__setattr__(self, "checks", tuple(checks))
        object.__setattr__(self, "fast", not self.extra and not self.wrapped)  # (a wrapped body is wrapped first)

    def fits(self, value: Mapping[str, Any]) -> bool:
        """Whether the checked names of ``value`` (a JSON object) are all of an allowed type, which
        also says that no required name is missing; always false without a fast check (``fast``:
        the exact reading, :meth:`mismatches`, decides)."""
        if not self.fast:
            return False
        for name, allowed in self.checks:  # noqa: SIM110 (all() over a generator: ~75 % more instructions)
            if type(value.get(name, ABSENT)) not in allowed:
                return False
        return True

    def mismatches(self, value: Mapping[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
        """The checked properties of ``value`` whose value is of none of the schema's types: (name,
        the value's JSON type, the schema's types); those ``properties`` names first, in the
        schema's order, then the others ``extra`` checks, in the object's."""
        wrong = [
            (name, json_type(value[name]), kinds)
            for name, kinds in self.types.items()
            if name in value and not _fits(value[name], kinds)
        ]
        if self.extra:
            kinds = self.extra
            wrong += [
                (name, json_type(item), kinds)
                for name, item in value.items()
                if name not in self.named and not _fits(item, kinds)
            ]
        return wrong


def _absent_for(shape: OutputShape, name: str) -> frozenset[type]:
    """:data:`ABSENT`'s type for a name the shape does not require (it may be missing), else none."""
    return frozenset() if name in shape.required else _ABSENT_TYPE


_ABSENT_TYPE: Final = frozenset({_Absent})


NO_SHAPE: Final = OutputShape()


def output_shape(schema: Any, *, wrapped: bool = False) -> OutputShape:
    """The :class:`OutputShape` of an output schema (an empty one for none, or one not a mapping);
    ``wrapped``: one whose ``result`` holds the tool's JSON body (its ``structuredContent`` is
    ``{"result": <the body>}``), which has no fast check."""
    if not isinstance(schema, Mapping):
        return NO_SHAPE
    required = _required_names(schema)
    properties = schema.get("properties")
    types: dict[str, tuple[str, ...]] = {}
    if isinstance(properties, Mapping):
        for name, prop in properties.items():
            kinds = _kinds(prop)
            if kinds and isinstance(name, str):
                types[name] = kinds
    # additionalProperties applies to the keys properties does not name, and patternProperties
    # does not match: with patternProperties, the extras are not checked
    extra = () if "patternProperties" in schema else _kinds(schema.get("additionalProperties"))
    named = frozenset(n for n in properties if isinstance(n, str)) if isinstance(properties, Mapping) else frozenset()
    if wrapped:
        return OutputShape(required, types, extra, named, wrapped=True)
    return OutputShape(required, types, extra, named) if required or types or extra else NO_SHAPE


def _required_names(schema: Any) -> frozenset[str]:
    """The property names a schema's top level requires (its ``required`` list's strings); none
    for a schema without one, or one whose requirements are in ``anyOf``, ``allOf`` or a ``$ref``
    (not followed: the checks they serve, of a structured result here and of a call's arguments
    in :class:`mcp_middleware._requests.ToolSpec`, read the top level only)."""
    names = schema.get("required") if isinstance(schema, Mapping) else None
    if not isinstance(names, list):
        return frozenset()
    return frozenset(name for name in names if isinstance(name, str))


def _kinds(prop: Any) -> tuple[str, ...]:
    """The JSON types a property schema allows, when it says them simply (see the module
    docstring); () when it does not."""
    if not isinstance(prop, Mapping):
        return ()
    if "type" in prop:  # (an OpenAPI 3.0 ``nullable`` the conversion left: null too)
        kinds = _type_names(prop["type"])
        return (*kinds, "null") if kinds and prop.get("nullable") is True else kinds
    for key in ("anyOf", "oneOf"):
        branches = prop.get(key)
        if isinstance(branches, list) and branches:
            found = [_type_names(b.get("type")) if isinstance(b, Mapping) else () for b in branches]
            if all(found):
                return tuple(dict.fromkeys(kind for kinds in found for kind in kinds))
            return ()
    return ()


def _type_names(value: Any) -> tuple[str, ...]:
    """A ``type`` keyword's names, when it is one known name or a list of them; () otherwise."""
    names = [value] if isinstance(value, str) else value if isinstance(value, list) and value else []
    if all(isinstance(n, str) and n in _PYTHON_TYPES for n in names):
        return tuple(names)
    return ()
