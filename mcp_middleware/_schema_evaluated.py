"""Which object properties a converted schema no longer evaluates, for :mod:`mcp_middleware._schema`.

Conversion leaves out a ``patternProperties`` key with no portable form (``_schema._portable_key``,
which it hands to :class:`Evaluations`). The properties it matched are then evaluated by nothing
there, and two keywords refuse what nothing evaluated: ``additionalProperties`` beside the key (it
reads only ``properties`` and ``patternProperties`` beside it), and ``unevaluatedProperties`` beside
it or above it, up through the in-place applicators (JSON Schema 2020-12, core 11.3): ``allOf``,
``anyOf``, ``oneOf``, ``if``/``then``/``else``, ``dependentSchemas`` and ``$ref``. Not through
``not`` (a subschema that must fail keeps no annotations, core 7.7.1.2; nor does ``jsonschema``
read it), nor ``properties``, ``items`` or the like, whose subschemas evaluate other instances.
Conversion drops such a keyword where it may refuse (not ``true``, not ``{}``): the schema is never
stricter than the app. :class:`Evaluations` reads the *raw* schemas (what conversion will do to
them, not what it did: a ``$defs`` may come after the ``$ref`` that points into it), and so
agrees with :meth:`~mcp_middleware._schema.SchemaSet.convert` by construction: both ask the same
key test and :func:`~mcp_middleware._schema_keywords.refuses_nothing`.

A ``$ref`` is followed to a document component (``#/components/schemas/X``) or, for any other
local pointer (``#/$defs/P``, ``#/definitions/P``, ``#/properties/a``), to what it points to from
each schema that encloses it (JSON Pointer; which one ``#`` means depends on where the schema ends
up, so each is asked, and one that loses evaluations is enough). A schema met again while its own
answer is worked out (an in-place cycle, which no validator finishes) adds nothing.

:func:`followed` (where a ``$ref`` leads, by the rule above) is shared with
:meth:`~mcp_middleware._schema.SchemaSet.convert`, which follows a reference below a ``not``, ``oneOf``,
``if`` or ``contains`` alike to learn whether what it points to loses a keyword.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from mcp_middleware._schema_keywords import _COMPONENT_PREFIX, pointer_name, refuses_nothing

__all__ = ["Evaluations", "followed"]

_IN_PLACE_ONE = ("if", "then", "else")
_IN_PLACE_LIST = ("allOf", "anyOf", "oneOf")


def pointed(root: Any, ref: str) -> Any:
    """What a local JSON Pointer ``#/a/b`` points to from ``root`` (None where nothing is)."""
    node = root
    for step in ref[2:].split("/"):
        name = pointer_name(step, "")
        if isinstance(node, Mapping):
            node = node.get(name)
        elif isinstance(node, list) and name.isdigit() and int(name) < len(node):
            node = node[int(name)]
        else:
            return None
    return node


def followed(
    ref: str, roots: Sequence[Any], components: Mapping[str, Any]
) -> Iterator[tuple[str | None, Any, Sequence[Any]]]:
    """Where a ``$ref`` leads, inside ``roots`` (the raw schemas enclosing it), as both
    :class:`Evaluations` and :meth:`~mcp_middleware._schema.SchemaSet.convert` follow it: a
    component of ``components`` (``#/components/schemas/X``) as its name, itself, and itself as
    the one root its own local references read; any other local pointer as None, what it points
    to from each of ``roots`` (where that is something), and ``roots``. Nothing for a reference
    to no component, or an external one."""
    if ref.startswith(_COMPONENT_PREFIX):
        name = pointer_name(ref, _COMPONENT_PREFIX)
        if name in components:
            yield name, components[name], (components[name],)
    elif ref.startswith("#/"):
        for root in roots:
            if (target := pointed(root, ref)) is not None:
                yield None, target, roots


class Evaluations:
    """Reads raw schemas of one document, whose ``components.schemas`` is ``components``;
    ``portable``: whether a ``patternProperties`` key stays (conversion's own test)."""

    __slots__ = ("_components", "_portable")

    def __init__(self, components: Mapping[str, Any], portable: Callable[[Any], bool]) -> None:
        self._components, self._portable = components, portable

    def lost_within(self, schema: Mapping[str, Any], roots: Sequence[Any]) -> bool:
        """Whether conversion leaves a property that an in-place subschema of ``schema`` evaluated
        unevaluated there; ``roots``: the raw schemas enclosing ``schema`` (itself too), from which
        a local ``$ref`` may point."""
        known: dict[tuple[int, ...], bool] = {}
        return any(self._loses(sub, sub_roots, known) for sub, sub_roots in self._in_place(schema, roots))

    def _loses(self, schema: Any, roots: Sequence[Any], known: dict[tuple[int, ...], bool]) -> bool:
        """Whether ``schema``, converted, evaluates fewer of an object's properties than it did:
        a key left out, or a subschema that loses some, and nothing kept beside them that
        evaluates every property (an ``additionalProperties`` or ``unevaluatedProperties``).
        ``known``: the answers so far, by schema and roots (False while one is being worked out)."""
        if not isinstance(schema, Mapping):
            return False
        key = (id(schema), *map(id, roots))
        if key not in known:
            known[key] = False
            known[key] = self._worked_out(schema, roots, known)
        return known[key]

    def _worked_out(self, schema: Mapping[str, Any], roots: Sequence[Any], known: dict[tuple[int, ...], bool]) -> bool:
        keys = schema.get("patternProperties")
        own = isinstance(keys, Mapping) and not all(self._portable(key) for key in keys)
        if not own and not any(self._loses(sub, sub_roots, known) for sub, sub_roots in self._in_place(schema, roots)):
            return False
        additional = schema.get("additionalProperties")
        kept = isinstance(additional, (Mapping, bool)) and (not own or refuses_nothing(additional))
        return not kept and not refuses_nothing(schema.get("unevaluatedProperties", False))

    def _in_place(self, schema: Mapping[str, Any], roots: Sequence[Any]) -> Iterator[tuple[Any, Sequence[Any]]]:
        """The in-place subschemas of ``schema``, each with the roots its local references read."""
        for key in _IN_PLACE_ONE:
            if key in schema:
                yield schema[key], roots
        for key in _IN_PLACE_LIST:
            if isinstance(branches := schema.get(key), list):
                yield from ((branch, roots) for branch in branches)
        if isinstance(dependent := schema.get("dependentSchemas"), Mapping):
            yield from ((sub, roots) for sub in dependent.values())
        if isinstance(ref := schema.get("$ref"), str):
            yield from ((target, reads) for _, target, reads in followed(ref, roots, self._components))
