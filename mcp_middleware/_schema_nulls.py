"""What ``null`` means in a tool schema, for :mod:`mcp_middleware._schema` and the tool builder.

* :func:`collapse_optional`: pydantic's ``Optional[X] = None`` (``anyOf: [X, {"type": "null"}]``)
  as plain ``X``, and ``Optional[X | Y] = None`` as ``anyOf: [X, Y]``, where omitting the value
  means None (input schemas; :meth:`~mcp_middleware._schema.SchemaSet.convert_property` says where);
  :func:`keeps_null`: an ``Optional[X]`` whose default is not None, where ``null`` is a value of its own.
* :func:`nulls_not_required`: for a route that leaves out the properties whose value is None
  (FastAPI's ``response_model_exclude_none``), a copy of an output schema that requires none that
  may be null.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mcp_middleware._schema_keywords import (
    _ANNOTATIONS,
    _ONE_SCHEMA,
    _SCHEMA_LIST,
    _SCHEMA_MAP,
    defs_ref_name,
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
    such a schema, ...)."""
    copied: dict[str, Any] = copy.deepcopy(schema)  # the $defs are shared with other tools
    defs = copied.get("$defs")
    _drop_null_required(copied, defs if isinstance(defs, Mapping) else {})
    return copied


def _drop_null_required(schema: Any, defs: Mapping[str, Any]) -> None:
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        for prop in properties.values():
            _drop_null_required(prop, defs)
        required = schema.get("required")
        if isinstance(required, list):
            kept = [name for name in required if name not in properties or _refuses_null(properties[name], defs)]
            if kept:
                schema["required"] = kept
            else:
                del schema["required"]
    for key, value in schema.items():
        if key in _ONE_SCHEMA:
            _drop_null_required(value, defs)
        elif key in _SCHEMA_LIST and isinstance(value, list):
            for item in value:
                _drop_null_required(item, defs)
        elif key in _SCHEMA_MAP and isinstance(value, Mapping):
            for item in value.values():
                _drop_null_required(item, defs)


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
