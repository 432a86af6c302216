"""An ``x-mcp-input-schema``'s properties that no parameter maps, where the route reads them.

Part of :mod:`mcp_middleware._route_document`. They are the route's query parameters (GET, DELETE,
HEAD) or its JSON body's properties (POST, PUT and PATCH without a YAML ``requestBody``; with one,
the catalog's rule: they go into a body that takes other properties), so they reach the route where
it reads them. A query one's ``$ref`` into the input schema's ``$defs`` is resolved (the document
has no ``$defs``), and one that may be an object (or an array of objects) is a parameter of
``application/json`` content: its value is sent as JSON text under its own name
(:func:`_query_parameter`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mcp_middleware._route_docstrings import _resolves

__all__ = ["_query_parameter", "_unmapped"]


def _unmapped(explicit: Any, names: set[Any]) -> dict[str, Any]:
    """The properties of an ``x-mcp-input-schema`` that no parameter of ``names`` maps (the
    schemas copied). A route reads its query string and body itself, so they go there: in the
    document, as query parameters or the JSON body's properties."""
    properties = explicit.get("properties") if isinstance(explicit, Mapping) else None
    if not isinstance(properties, Mapping):
        return {}
    return {
        str(name): copy.deepcopy(dict(schema)) if isinstance(schema, Mapping) else {}
        for name, schema in properties.items()
        if name not in names
    }


def _query_parameter(name: str, schema: dict[str, Any], explicit: Mapping[str, Any]) -> dict[str, Any]:
    """The query parameter of an ``x-mcp-input-schema`` property, its ``$ref`` (into the schema's
    own ``$defs``) resolved: one whose value may be an object is of JSON content, so it is sent
    under its name as JSON text (``?filter={"a":1}``), not exploded into parameters of other names."""
    schema = _dereferenced(schema, explicit)
    if _may_be_object(schema, explicit, 0):
        return {"name": name, "in": "query", "content": {"application/json": {"schema": schema}}}
    return {"name": name, "in": "query", "schema": schema}


def _dereferenced(schema: Any, root: Mapping[str, Any]) -> Any:
    """``schema`` with the local ``$ref`` at its root (``#/$defs/Item``, read in ``root``, the
    input schema) replaced by a copy of its target, its other keywords kept; as is when it points nowhere."""
    for _ in range(16):
        ref = schema.get("$ref") if isinstance(schema, Mapping) else None
        if not isinstance(ref, str) or not _resolves(root, ref):
            return schema
        target: Any = root
        for token in ref[2:].split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        if not isinstance(target, Mapping):
            return schema
        schema = {**copy.deepcopy(dict(target)), **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _may_be_object(schema: Any, root: Mapping[str, Any], depth: int) -> bool:
    """Whether ``schema`` says its value may be an object (or an array of them): its ``type``, or a
    branch of its ``anyOf``/``oneOf``/``allOf`` (``$ref``s read in ``root``)."""
    schema = _dereferenced(schema, root)
    if not isinstance(schema, Mapping) or depth > 8:
        return False
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types if isinstance(types, list) else []
    if "object" in types or (not types and isinstance(schema.get("properties"), Mapping)):
        return True
    if "array" in types and _may_be_object(schema.get("items"), root, depth + 1):
        return True
    return any(
        _may_be_object(branch, root, depth + 1)
        for key in ("anyOf", "oneOf", "allOf")
        if isinstance(branches := schema.get(key), list)
        for branch in branches
    )
