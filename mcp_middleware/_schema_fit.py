"""Whether every JSON value one schema describes surely satisfies another (:func:`fits`).

Used by :mod:`mcp_middleware.catalog` for an app made with ``separate_input_output_schemas=False``:
its document describes a response model as an input (pydantic's validation mode, or the
serialization mode for a model with computed fields), and the route's JSON is the model's
serialization-mode JSON. The route keeps its ``outputSchema`` when that JSON cannot fail the
documented schema: a ``Decimal`` (documented ``anyOf [number, string]``, written as a string) fits,
a ``Json[X]`` field (documented a string, written as ``X``) or a ``serialization_alias`` (another
property name) does not.

The check is structural and conservative (False when unsure): ``inner`` fits ``outer`` when each
keyword ``outer`` constrains with is matched in ``inner`` (its ``type`` a subset, its ``enum`` a
subset, another keyword equal, subschemas fitting recursively); ``anyOf`` and ``oneOf`` branches
are matched branch by branch. ``inner`` is pydantic's schema of a model's JSON, so an object in it
has only the properties it lists unless its ``additionalProperties`` says otherwise: a documented
property it lacks is fine if not required. Annotations (``title``, ``readOnly``, the ``content*``
keywords, ...) and OpenAPI's ``discriminator`` are ignored; references are followed in each schema's own definitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_middleware._schema_keywords import _ANNOTATIONS, pointer_name

__all__ = ["fits"]

_IGNORED = _ANNOTATIONS | {
    "discriminator",
    "$defs",
    "definitions",
    # annotations only in JSON Schema 2020-12: bytes are documented application/octet-stream
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
}
_OBJECT_KEYS = frozenset({"properties", "required", "additionalProperties"})
_DEPTH = 64


class _Side:
    """One schema's definitions: ``prefix`` + name resolves in ``defs``."""

    __slots__ = ("defs", "prefix")

    def __init__(self, defs: Any, prefix: str) -> None:
        self.defs: Mapping[str, Any] = defs if isinstance(defs, Mapping) else {}
        self.prefix = prefix

    def resolve(self, schema: Any, seen: list[str]) -> Any:
        """Follow ``$ref``s at the root of ``schema`` (the names followed are added to ``seen``);
        None for a dangling or foreign reference, or a cycle of references."""
        while isinstance(schema, Mapping) and isinstance(ref := schema.get("$ref"), str):
            if not ref.startswith(self.prefix):
                return None
            name = pointer_name(ref, self.prefix)
            if name in seen or name not in self.defs:
                return None
            seen.append(name)
            others = {k: v for k, v in schema.items() if k != "$ref" and k not in _IGNORED}
            schema = self.defs[name]
            if others:  # a $ref beside constraints: both apply
                schema = {"allOf": [schema, others]}
        return schema


def fits(inner: Any, inner_defs: tuple[Any, str], outer: Any, outer_defs: tuple[Any, str]) -> bool:
    """Whether every value ``inner`` describes surely satisfies ``outer``; each comes with its
    definitions and the reference prefix naming them (``(document components, "#/components/schemas/")``)."""
    return _Fit(_Side(*inner_defs), _Side(*outer_defs)).fits(inner, outer, 0)


class _Fit:
    __slots__ = ("_assumed", "_inner", "_outer")

    def __init__(self, inner: _Side, outer: _Side) -> None:
        self._inner, self._outer = inner, outer
        self._assumed: set[tuple[tuple[str, ...], tuple[str, ...]]] = set()

    def fits(self, inner: Any, outer: Any, depth: int) -> bool:
        if depth > _DEPTH:
            return False
        inner_refs: list[str] = []
        outer_refs: list[str] = []
        inner = self._inner.resolve(inner, inner_refs)
        outer = self._outer.resolve(outer, outer_refs)
        if inner is None or outer is None:
            return False
        key = (tuple(inner_refs), tuple(outer_refs))
        if not (inner_refs and outer_refs):
            return self._fits_resolved(inner, outer, depth + 1)
        if key in self._assumed:
            return True  # a recursive model, back where it began: fits if the rest of the comparison says so
        self._assumed.add(key)  # (only along the path compared: a failed branch assumes nothing)
        try:
            return self._fits_resolved(inner, outer, depth + 1)
        finally:
            self._assumed.discard(key)

    def _fits_resolved(self, inner: Any, outer: Any, depth: int) -> bool:
        if outer is True or inner is False:
            return True
        inner = {} if inner is True else inner
        if not isinstance(inner, Mapping) or not isinstance(outer, Mapping):
            return False
        outer_core = {k: v for k, v in outer.items() if k not in _IGNORED}
        inner_core = {k: v for k, v in inner.items() if k not in _IGNORED}
        for key in ("anyOf", "oneOf"):  # a value of inner is a value of one of its branches
            branches = inner_core.get(key)
            if not isinstance(branches, list) or not branches or set(inner_core) != {key}:
                continue
            if key == "anyOf" or "oneOf" not in outer_core:
                return all(self.fits(branch, outer, depth) for branch in branches)
        all_of = inner_core.get("allOf")
        if isinstance(all_of, list) and set(inner_core) == {"allOf"} and "allOf" not in outer_core:
            return any(self.fits(branch, outer, depth) for branch in all_of)
        if _OBJECT_KEYS & outer_core.keys() and not self._object_fits(inner_core, outer_core, depth):
            return False
        return all(
            self._keyword_fits(key, inner_core, value, depth)
            for key, value in outer_core.items()
            if key not in _OBJECT_KEYS
        )

    def _keyword_fits(self, key: str, inner: Mapping[str, Any], value: Any, depth: int) -> bool:
        if key == "type":
            return _types_fit(inner.get("type"), value)
        if key == "enum":
            values = _values(inner)
            return values is not None and isinstance(value, list) and all(v in value for v in values)
        if key == "const":
            return _values(inner) == [value]
        if key == "items":
            return "items" in inner and self.fits(inner["items"], value, depth)
        if key in ("anyOf", "oneOf") and key not in inner and isinstance(value, list):
            # (oneOf: a branch fits; that no other one does is not checked)
            return any(self.fits(inner, branch, depth) for branch in value)
        if key in ("allOf", "oneOf", "prefixItems"):
            # branch by branch: pydantic writes a tagged union (oneOf) alike in both modes
            theirs = inner.get(key)
            if not isinstance(theirs, list) or not isinstance(value, list) or len(theirs) != len(value):
                return False
            return all(self.fits(a, b, depth) for a, b in zip(theirs, value, strict=True))
        return key in inner and inner[key] == value and not _has_ref(value)

    def _object_fits(self, inner: Mapping[str, Any], outer: Mapping[str, Any], depth: int) -> bool:
        """``properties``, ``required`` and ``additionalProperties`` together: an inner object has
        only the properties it lists unless its ``additionalProperties`` says otherwise (it says
        nothing of a pydantic model's: closed), one listing none takes any."""
        mine = inner.get("properties")
        mine = mine if isinstance(mine, Mapping) else {}
        extra = inner.get("additionalProperties", "properties" not in inner)
        theirs = outer.get("properties", {})
        their_extra = outer.get("additionalProperties", True)
        needed, my_needed = outer.get("required", []), inner.get("required", [])
        if not isinstance(theirs, Mapping) or not isinstance(needed, list) or not isinstance(my_needed, list):
            return False
        if not set(needed) <= set(my_needed):
            return False  # a property the document requires may be missing
        for name, schema in theirs.items():
            if name in mine:
                if not self.fits(mine[name], schema, depth):
                    return False
            elif extra is not False and not self.fits(extra, schema, depth):
                return False
        if any(not self.fits(schema, their_extra, depth) for name, schema in mine.items() if name not in theirs):
            return False
        return extra is False or self.fits(extra, their_extra, depth)


def _types_fit(inner: Any, outer: Any) -> bool:
    mine = [inner] if isinstance(inner, str) else inner
    theirs = [outer] if isinstance(outer, str) else outer
    if not isinstance(mine, list) or not isinstance(theirs, list):
        return False
    return all(t in theirs or (t == "integer" and "number" in theirs) for t in mine)


def _values(schema: Mapping[str, Any]) -> list[Any] | None:
    """The values a schema's ``const`` or ``enum`` allows, None when it names none."""
    if "const" in schema:
        return [schema["const"]]
    enum = schema.get("enum")
    return list(enum) if isinstance(enum, list) else None


def _has_ref(value: Any) -> bool:
    if isinstance(value, Mapping):
        return "$ref" in value or any(_has_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_ref(v) for v in value)
    return False
