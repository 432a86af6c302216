"""The JSON Schema vocabulary :mod:`mcp_middleware._schema`, :mod:`mcp_middleware._schema_nulls`
and :mod:`mcp_middleware._schema_fit` share: where a schema's subschemas sit (one schema, a list, a
map of them), which keywords only annotate, the reference prefixes of a document's components and
of a tool schema's local ``$defs``, how a ``$ref`` names its definition (:func:`pointer_name`), and
what an object schema with properties looks like (:func:`is_object_schema`, :func:`says_object`), and whether an
``additionalProperties`` takes every value (:func:`refuses_nothing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

__all__ = ["is_object_schema", "loosen_exclusive", "pointer_name", "refuses_nothing", "says_object"]

_COMPONENT_PREFIX = "#/components/schemas/"
_DEFS_PREFIX = "#/$defs/"
_ONE_SCHEMA = frozenset(
    {
        "items",
        "additionalItems",
        "additionalProperties",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "propertyNames",
        "unevaluatedItems",
        "unevaluatedProperties",
        "contentSchema",
    }
)
_SCHEMA_LIST = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SCHEMA_MAP = frozenset({"patternProperties", "dependentSchemas", "$defs", "definitions"})
# where a subschema that takes more may make the whole take less (loosen_exclusive)
_EXCLUSIVE_PLACES = frozenset({"not", "oneOf", "if", "contains"})
# keywords that only annotate; a collapsed Optional may take them from the outer schema
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "example",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$comment",
    }
)


def is_object_schema(schema: Any) -> bool:
    """``True`` for ``{"type": "object", "properties": {...}}``-like schemas."""
    return isinstance(schema, Mapping) and isinstance(schema.get("properties"), Mapping) and says_object(schema)


def says_object(schema: Mapping[str, Any]) -> bool:
    """Whether a schema's ``type`` is ``object`` (or ``["object"]``), or it says none."""
    kind = schema.get("type", "object")
    return kind == "object" or (isinstance(kind, list) and kind == ["object"])


def defs_ref_name(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> str | None:
    """The name of the definition ``schema``'s ``$ref`` points to (``#/$defs/...``), when ``defs``
    has it; None for no such reference."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith(_DEFS_PREFIX):
        return None
    name = pointer_name(ref, _DEFS_PREFIX)
    return name if name in defs else None


def refuses_nothing(schema: Any) -> bool:
    """Whether an ``additionalProperties`` or ``unevaluatedProperties`` value takes every value
    (``true``, ``{}``): one beside a ``patternProperties`` key left out may stay."""
    return schema is True or schema == {}


def pointer_name(ref: str, prefix: str) -> str:
    """The definition name a ``$ref`` of ``prefix`` points to: percent- and JSON-Pointer-decoded
    (RFC 6901: ``~1`` is "/", ``~0`` is "~")."""
    return unquote(ref[len(prefix) :]).replace("~1", "/").replace("~0", "~")


def loosen_exclusive(out: dict[str, Any], loosened: list[str]) -> list[str]:
    """``out`` never stricter than it was, where the subschemas of ``loosened`` (keywords of
    :data:`_EXCLUSIVE_PLACES`) were made to take more, which there makes the whole take less: a
    ``not`` goes; a ``oneOf`` is an ``anyOf`` (a value may now match two branches); an ``if`` (a
    value may now take ``then`` instead of ``else``) beside a ``then`` or an ``else`` is ``anyOf:
    [{allOf: [if, then]}, else]``, which keeps what each evaluated (for an ``unevaluated*``); a
    ``contains`` (which may now count more items) drops its ``maxContains``. The keywords that
    went or changed."""
    said: list[str] = []
    for key in loosened:
        if key == "not":
            del out["not"]
        elif key == "oneOf":
            _add_any_of(out, out.pop("oneOf"))
        elif key == "if" and ("then" in out or "else" in out):
            first = out.pop("if")
            taken = {"allOf": [first, out.pop("then")]} if "then" in out else first
            _add_any_of(out, [taken, out.pop("else", True)])
        elif key == "contains" and "maxContains" in out:
            del out["maxContains"]
            key = "maxContains"
        else:
            continue
        said.append(key)
    return said


def _add_any_of(out: dict[str, Any], branches: Any) -> None:
    """``anyOf: branches`` into ``out``; beside an ``anyOf`` already there, as a member of its
    ``allOf``. Where both are taken by values that are no list, the branches go (looser still)."""
    if "anyOf" not in out:
        out["anyOf"] = branches
    elif isinstance(out.get("allOf", []), list):
        out["allOf"] = [*out.get("allOf", []), {"anyOf": branches}]
