"""What ``null`` means in a tool schema, for :mod:`mcp_middleware._schema` and the tool builder.

* :func:`collapse_optional`: pydantic's ``Optional[X] = None`` (``anyOf: [X, {"type": "null"}]``)
  as plain ``X``, and ``Optional[X | Y] = None`` as ``anyOf: [X, Y]``, where omitting the value
  means None (input schemas; :meth:`~mcp_middleware._schema.SchemaSet.convert_property` says where);
  :func:`keeps_null`: an ``Optional[X]`` whose default is not None, where ``null`` is a value of its own.
* :func:`nulls_not_required`: for a route that leaves out the properties whose value is None
  (FastAPI's ``response_model_exclude_none``), a copy of an output schema that requires none that
  may be null. A ``required`` loosened so under ``not``, ``oneOf``, ``if`` or a ``contains`` with a
  ``maxContains`` would make the whole refuse more, so that keyword goes or is loosened in turn
  (:func:`~mcp_middleware._schema_keywords.loosen_exclusive`), as conversion does for what it
  leaves out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mcp_middleware._schema_keywords import (
    _ANNOTATIONS,
    _EXCLUSIVE_PLACES,
    _ONE_SCHEMA,
    _SCHEMA_LIST,
    _SCHEMA_MAP,
    defs_ref_name,
    loosen_exclusive,
)

__all__ = ["collapse_optional", "keeps_null", "nulls_not_required"]


def _is_null(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("type") == "null" and "enum" not in schema


def collapse_optional(schema: Any) -> Any:
    """``{"anyOf": [X, {"type": "null"}], ...}`` -> ``X`` merged with the outer annotations;
    ``{"anyOf": [X, Y, ..., {"type": "null"}], ...}`` -> ``{"anyOf": [X, Y, ...], ...}``. Either
    loses a ``default`` of None (omitting the value means None).

    Anything else (no ``null`` branch, a branch that is no schema object, an outer keyword that
    would conflict with ``X``'s) is returned unchanged.
    """
    if not isinstance(schema, dict):
        return schema
    branches = schema.get("anyOf")
    if not isinstance(branches, list) or len(branches) < 2:
        return schema
    non_null = [b for b in branches if not _is_null(b)]
    if not non_null or len(non_null) == len(branches) or not all(isinstance(b, dict) for b in non_null):
        return schema
    if len(non_null) > 1:  # a union and None: the union
        union = {**schema, "anyOf": non_null}
        if "default" in union and union["default"] is None:
            del union["default"]
        return union
    inner: dict[str, Any] = non_null[0]
    outer = {k: v for k, v in schema.items() if k != "anyOf"}
    if any(k in inner and k not in _ANNOTATIONS for k in outer):
        return schema
    merged = {**inner, **outer}
    if "default" in merged and merged["default"] is None:
        del merged["default"]
    return merged


def keeps_null(schema: Any) -> bool:
    """``Optional[X]`` with a default other than None: omitting it is not the same as ``null``."""
    return isinstance(schema, dict) and schema.get("default") is not None and collapse_optional(schema) is not schema


def nulls_not_required(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a converted output ``schema`` (with its ``$defs``) whose objects require no property
    that may be null: the schema of a route that leaves out properties whose value is None
    (FastAPI's ``response_model_exclude_none``), however deep. A property may be null unless its
    schema surely refuses ``null`` (a ``type``, ``enum`` or ``const`` without it, a ``$ref`` to
    such a schema, ...). Where that loosened a subschema in a negative or exclusive place (through
    a ``$ref`` to a definition too), the place is loosened in turn (:func:`loosen_exclusive`)."""
    copied: dict[str, Any] = copy.deepcopy(schema)  # the $defs are shared with other tools
    defs = copied.get("$defs")
    defs = defs if isinstance(defs, Mapping) else {}
    _Dropping(defs, _losing(defs)).walk(copied)
    return copied


def _losing(defs: Mapping[str, Any]) -> frozenset[str]:
    """The definitions a required name is dropped from, or that refer to one that is (each walked
    dry, on a copy: what it drops and refers to does not depend on the others)."""
    refers: dict[str, list[str]] = {}
    losing: set[str] = set()
    for name, definition in defs.items():
        dry = _Dropping(defs, frozenset())
        if dry.walk(copy.deepcopy(definition)):
            losing.add(name)
        refers[name] = dry.met
    grown = True
    while grown:
        found = {name for name, met in refers.items() if name not in losing and losing.intersection(met)}
        losing |= found
        grown = bool(found)
    return frozenset(losing)


class _Dropping:
    """One walk of :func:`nulls_not_required`: ``losing``, the definitions that lose a required name
    (:func:`_losing`); ``met``, the definitions referred to on the way."""

    __slots__ = ("defs", "losing", "met")

    def __init__(self, defs: Mapping[str, Any], losing: frozenset[str]) -> None:
        self.defs, self.losing = defs, losing
        self.met: list[str] = []

    def walk(self, schema: Any) -> bool:
        """Drop the required names that may be null, from ``schema`` down; whether any was (or a
        definition it refers to loses one)."""
        if not isinstance(schema, dict):
            return False
        name = defs_ref_name(schema, self.defs)
        dropped = name is not None and name in self.losing
        if name is not None:
            self.met.append(name)
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            dropped = self._required(schema, properties) | dropped
        loosened: list[str] = []
        for key, value in schema.items():
            if key in _ONE_SCHEMA:
                below = self.walk(value)
            elif key in _SCHEMA_LIST and isinstance(value, list):
                below = any([self.walk(item) for item in value])  # (each walked)
            elif key in _SCHEMA_MAP and isinstance(value, Mapping):
                below = any([self.walk(item) for item in value.values()])
            else:
                continue
            dropped |= below
            if below and key in _EXCLUSIVE_PLACES:
                loosened.append(key)
        loosen_exclusive(schema, loosened)
        return dropped

    def _required(self, schema: dict[str, Any], properties: Mapping[str, Any]) -> bool:
        dropped = any([self.walk(prop) for prop in properties.values()])
        required = schema.get("required")
        if not isinstance(required, list):
            return dropped
        kept = [name for name in required if name not in properties or _refuses_null(properties[name], self.defs)]
        if kept:
            schema["required"] = kept
        else:
            del schema["required"]
        return dropped or len(kept) < len(required)


def _refuses_null(schema: Any, defs: Mapping[str, Any], seen: frozenset[str] = frozenset()) -> bool:
    """Whether ``schema`` surely refuses ``null`` (False when unsure)."""
    if schema is False:
        return True
    if not isinstance(schema, Mapping):
        return False
    if "const" in schema and schema["const"] is not None:
        return True
    enum, kind = schema.get("enum"), schema.get("type")
    if isinstance(enum, list) and None not in enum:
        return True
    if (isinstance(kind, str) and kind != "null") or (isinstance(kind, list) and "null" not in kind):
        return True
    name = defs_ref_name(schema, defs)
    if name is not None and name not in seen and _refuses_null(defs[name], defs, seen | {name}):
        return True
    all_of = schema.get("allOf")
    if isinstance(all_of, list) and any(_refuses_null(branch, defs, seen) for branch in all_of):
        return True
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches and all(_refuses_null(b, defs, seen) for b in branches):
            return True
    return False
