"""A prompt's arguments as listed, from its route's input schema.

Part of :mod:`mcp_middleware.features`. A prompt's arguments are strings: one whose schema takes
no string (a JSON body, a number...) is read as JSON (``PromptEntry.arguments``), and its
description says so; one that is a file's bytes in base64 (``UploadFile``) says "base64" (an array
of files, "JSON: array of base64 strings").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .catalog import ToolSpec

__all__ = ["_SCALARS", "_prompt_arguments"]

# JSON types whose values FastAPI also reads from a query's text ("007", "yes")
_SCALARS = frozenset({"integer", "number", "boolean", "null"})


def _json_types(schema: Any, defs: Mapping[str, Any]) -> list[str] | None:
    """The JSON types of an argument whose schema takes no string (a local ``$ref``, ``type`` or
    each branch of ``anyOf``/``oneOf``), or None when it takes a string or says nothing."""
    if not isinstance(schema, Mapping):
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _json_types(defs.get(ref.removeprefix("#/$defs/")), defs)
    kind = schema.get("type")
    if isinstance(kind, str | list):
        kinds = [kind] if isinstance(kind, str) else [str(k) for k in kind]
        return kinds if kinds and "string" not in kinds else None
    branches = schema.get("anyOf") or schema.get("oneOf")
    if not isinstance(branches, list) or not branches:
        return None
    found = [_json_types(branch, defs) for branch in branches]
    if any(types is None for types in found):
        return None
    return list(dict.fromkeys(kind for types in found if types is not None for kind in types))


def _base64(schema: Any) -> bool:
    """Whether an argument's string is base64 (``contentEncoding: base64``, as the tool's schema
    says of a file's bytes), alone or as an optional's branch."""
    if not isinstance(schema, Mapping):
        return False
    encoding = schema.get("contentEncoding")
    if isinstance(encoding, str) and encoding.lower() == "base64":
        return True
    branches = schema.get("anyOf") or schema.get("oneOf")
    return isinstance(branches, list) and any(_base64(branch) for branch in branches)


def _items(schema: Any) -> Any:
    """The items of an array argument's schema (or of an optional array's branch), or None."""
    if not isinstance(schema, Mapping):
        return None
    if "items" in schema:
        return schema["items"]
    branches = schema.get("anyOf") or schema.get("oneOf")
    found = [_items(branch) for branch in branches] if isinstance(branches, list) else []
    return next((items for items in found if items is not None), None)


def _prompt_arguments(spec: ToolSpec) -> tuple[list[dict[str, Any]], dict[str, tuple[str, ...]]]:
    """The prompt's arguments as listed, and the JSON types of those that take no string (their
    description says "JSON: <types>", after the route's own)."""
    schema = spec.tool["inputSchema"]
    required = set(schema.get("required", ()))
    defs = schema.get("$defs") or {}
    out: list[dict[str, Any]] = []
    json_arguments: dict[str, tuple[str, ...]] = {}
    for name, prop in schema.get("properties", {}).items():
        argument: dict[str, Any] = {"name": name, "required": name in required}
        described = prop.get("description") if isinstance(prop, Mapping) else None
        hint = None
        if (types := _json_types(prop, defs)) is not None:
            json_arguments[name] = tuple(types)
            hint = f"JSON: {' or '.join(types)}"
            if _base64(_items(prop)):
                hint += " of base64 strings"
        elif _base64(prop):  # a file's bytes (UploadFile, bytes = File()), as the tool's schema says
            hint = "base64"
        if hint is not None:
            described = f"{described} ({hint})" if isinstance(described, str) else hint
        if isinstance(described, str):
            argument["description"] = described
        out.append(argument)
    return out, json_arguments
