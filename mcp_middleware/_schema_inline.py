"""A converted tool schema made to stand alone: its components inlined, ``$defs`` only where needed.

Part of :mod:`mcp_middleware._schema`. Many clients refuse or mangle a tool schema with ``$ref`` and
``$defs`` (VS Code drops a tool whose schema is not draft-07, whose ``$ref`` ignores its siblings;
Copilot CLI, Gemini CLI, Cursor, Kiro and opencode fail on references; Claude Code failed to fetch
tools whose ``outputSchema`` had ``$defs``), so :func:`standalone` replaces each reference to a
component by a copy of its (converted, itself inlined) schema. Only these stay definitions:

* a recursive component (a ``Node`` whose ``children`` are ``Node``; each of mutually recursive
  ``A`` and ``B``): one that reaches itself. What it refers to that is not recursive is inlined in
  its definition;
* past :data:`SIZE_LIMIT` (the schema's compact JSON, inlined), the shared components whose copies
  cost most (a component referred to twice by one referred to twice... is copied exponentially
  often), one at a time until the schema fits or no component is copied more than once. A large
  schema without copies stays inlined: that is its size.

A reference's siblings (pydantic's ``{"$ref": ..., "description": ...}``, a ``default``) are merged
into the copy, theirs winning for annotations (:data:`~mcp_middleware._schema_keywords._ANNOTATIONS`).
A sibling that would change the copy's meaning (one of its validation keywords, or one that reads
the same object's keywords, :data:`_LINKED`: ``additionalProperties`` beside the copy's
``properties``) keeps both instead: ``{"allOf": [copy], ...siblings}``, as a reference kept to a
definition does with siblings (draft-07 would ignore them beside ``$ref``).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import orjson

from mcp_middleware._schema_keywords import (
    _ANNOTATIONS,
    _DEFS_PREFIX,
    _ONE_SCHEMA,
    _SCHEMA_LIST,
    _SCHEMA_MAP,
    defs_ref_name,
)

__all__ = ["SIZE_LIMIT", "standalone"]

SIZE_LIMIT: Final = 32_768  # characters of compact JSON past which shared components stay definitions
# keywords that read others of the same schema object: merged beside them, a sibling would read the copy's
_LINKED: Final = (
    frozenset({"properties", "patternProperties", "additionalProperties", "unevaluatedProperties"}),
    frozenset({"items", "prefixItems", "additionalItems", "unevaluatedItems"}),
    frozenset({"contains", "minContains", "maxContains"}),
    frozenset({"if", "then", "else"}),
)

_ROOT: Final = "\0"  # the schema itself, among the components' names
Definitions = Mapping[str, Any]  # each component reached, converted (its references to #/$defs/)


def standalone(schema: dict[str, Any], definitions: Definitions, recursive: Callable[[str], bool]) -> dict[str, Any]:
    """``schema`` with its references to ``definitions`` inlined, ``$defs`` holding those kept."""
    if not definitions:
        return schema
    keep = {name for name in definitions if recursive(name)}
    keep |= _Sizes(schema, definitions).too_copied(keep)
    inliner = _Inliner(definitions, keep)
    out: dict[str, Any] = inliner.inline(schema)
    if keep:
        out = {**out, "$defs": {name: copy.deepcopy(inliner.definition(name)) for name in sorted(keep)}}
    return out


def _children(schema: Mapping[str, Any]) -> Iterator[Any]:
    """The subschemas of a schema object."""
    for key, value in schema.items():
        if key in _ONE_SCHEMA:
            yield value
        elif key in _SCHEMA_LIST and isinstance(value, list):
            yield from value
        elif (key in _SCHEMA_MAP or key == "properties") and isinstance(value, Mapping):
            yield from value.values()


def _mapped(schema: Mapping[str, Any], convert: Callable[[Any], Any]) -> dict[str, Any]:
    """A copy of ``schema`` with ``convert`` applied to each of its subschemas."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _ONE_SCHEMA:
            out[key] = convert(value)
        elif key in _SCHEMA_LIST and isinstance(value, list):
            out[key] = [convert(item) for item in value]
        elif (key in _SCHEMA_MAP or key == "properties") and isinstance(value, Mapping):
            out[key] = {name: convert(item) for name, item in value.items()}
        else:
            out[key] = value
    return out


def _references(schema: Any, definitions: Definitions) -> Counter[str]:
    """How many times ``schema`` refers to each of ``definitions``."""
    found: Counter[str] = Counter()
    todo = [schema]
    while todo:
        node = todo.pop()
        if isinstance(node, Mapping):
            if (name := defs_ref_name(node, definitions)) is not None:
                found[name] += 1
            todo.extend(_children(node))
    return found


def _size(schema: Any) -> int:
    return len(orjson.dumps(schema, default=str))


class _Sizes:
    """The sizes of ``schema`` inlined, by which components stay definitions (references form a
    graph whose cycles are all kept, so what is inlined is a DAG, read in DFS post-order)."""

    __slots__ = ("_order", "_own", "_refs", "_root")

    def __init__(self, schema: Any, definitions: Definitions) -> None:
        self._root = _references(schema, definitions)
        self._refs = {name: _references(value, definitions) for name, value in definitions.items()}
        self._own = {name: _size(value) for name, value in definitions.items()}
        self._own[_ROOT] = _size(schema)
        self._order = self._post_order()

    def _post_order(self) -> list[str]:
        order: list[str] = []
        seen: set[str] = set()
        for start in sorted(self._refs):
            if start in seen:
                continue
            seen.add(start)
            stack: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(self._refs[start])))]
            while stack:
                name, pending = stack[-1]
                child = next(pending, None)
                if child is None:
                    stack.pop()
                    order.append(name)
                elif child not in seen:
                    seen.add(child)
                    stack.append((child, iter(sorted(self._refs[child]))))
        return order

    def too_copied(self, keep: set[str]) -> set[str]:
        """The components to keep as definitions, besides ``keep``, for the schema to fit."""
        kept = set(keep)
        while True:
            inlined = self._inlined(kept)
            total = inlined[_ROOT] + sum(inlined[name] for name in kept)
            if total <= SIZE_LIMIT:
                break
            copies = self._copies(kept)
            savings = {name: (n - 1) * inlined[name] for name, n in copies.items() if n > 1 and name not in kept}
            if not savings:
                break
            kept.add(max(sorted(savings), key=savings.__getitem__))
        return kept - keep

    def _inlined(self, kept: set[str]) -> dict[str, int]:
        """Each component's size with what is not ``kept`` inlined (the schema's, as :data:`_ROOT`)."""
        sizes: dict[str, int] = {}
        for name in [*self._order, _ROOT]:
            refs = self._root if name == _ROOT else self._refs[name]
            grown = sum(n * (sizes[r] - _size({"$ref": _DEFS_PREFIX + r})) for r, n in refs.items() if r not in kept)
            sizes[name] = self._own[name] + grown
        return sizes

    def _copies(self, kept: set[str]) -> Counter[str]:
        """How many copies of each component the schema, inlined but for ``kept``, holds."""
        copies: Counter[str] = Counter(self._root)
        for name in kept:
            copies.update(self._refs[name])
        for name in reversed(self._order):
            if name not in kept:
                for child, n in self._refs[name].items():
                    copies[child] += copies[name] * n
        return copies


class _Inliner:
    """Copies of schemas with their references to components not ``kept`` inlined."""

    __slots__ = ("_definitions", "_done", "_keep")

    def __init__(self, definitions: Definitions, keep: set[str]) -> None:
        self._definitions, self._keep = definitions, keep
        self._done: dict[str, Any] = {}

    def definition(self, name: str) -> Any:
        """A component's schema, inlined (computed once; the caller copies it)."""
        if name not in self._done:
            self._done[name] = self.inline(self._definitions[name])
        return self._done[name]

    def inline(self, schema: Any) -> Any:
        if not isinstance(schema, Mapping):
            return schema
        name = defs_ref_name(schema, self._definitions)
        out = _mapped(schema, self.inline)
        if name is None:
            return out
        siblings = {key: value for key, value in out.items() if key != "$ref"}
        if name in self._keep:
            return _wrapped({"$ref": out["$ref"]}, siblings) if siblings else out
        target = copy.deepcopy(self.definition(name))
        return _merged(target, siblings) if siblings else target


def _merged(target: Any, siblings: dict[str, Any]) -> Any:
    """The inlined ``target`` of a reference with its ``siblings``."""
    if target is True:
        return siblings
    if not isinstance(target, dict) or "$ref" in target or _conflicts(target, siblings):
        return _wrapped(target, siblings)
    return {**target, **siblings}


def _conflicts(target: Mapping[str, Any], siblings: Mapping[str, Any]) -> bool:
    """Whether a sibling, merged in, would change what ``target`` validates (one saying the same
    as ``target`` does not)."""
    for key, value in siblings.items():
        if key in _ANNOTATIONS or (key in target and target[key] == value):
            continue
        if key in target or any(key in group and not group.isdisjoint(target) for group in _LINKED):
            return True
    return False


def _wrapped(target: Any, siblings: dict[str, Any]) -> dict[str, Any]:
    """``{"allOf": [target], ...siblings}``: both apply, neither reads the other."""
    more = siblings.get("allOf")
    rest = {key: value for key, value in siblings.items() if key != "allOf"}
    return {"allOf": [target, *(more if isinstance(more, list) else ())], **rest}
