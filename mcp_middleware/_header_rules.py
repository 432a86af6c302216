"""The publishing rules of ``x-mcp-header`` (2026-07-28 server/tools, SEP-2243), applied before a tool is listed.

An ``x-mcp-header`` value MUST be a non-empty RFC 9110 token, unique case-insensitively in the
input schema, on an integer, string or boolean property (not ``number``) that is reachable from
the root through ``properties`` keys alone; and clients MUST drop a tool with any annotation that
breaks a rule (the official SDK: "dropping tool 'quote': invalid x-mcp-header"). A route's model
can say anything (``Field(json_schema_extra={"x-mcp-header": "Price"})`` on a float, two names
that differ only in case, a nested model's field in ``$defs``), so :func:`without_invalid_headers`
removes the annotations that break the rules from the published schema, keeping the valid ones
(then a valid set, which clients accept and :mod:`mcp_middleware.param_headers` checks), and says
why for each; the catalog logs that once per tool. Every schema position is visited (the JSON
Schema applicators; ``$ref`` is not followed, ``enum``/``const``/``default`` are data), as the
clients do, so an annotation off the ``properties`` chain is found too.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any, Final

from mcp_middleware._http_token import TOKEN_RE

__all__ = ["without_invalid_headers"]

KEY: Final = "x-mcp-header"
_TYPES: Final = frozenset({"string", "integer", "boolean"})
_SINGLE: Final = frozenset(
    {"items", "contains", "unevaluatedItems", "additionalProperties", "propertyNames", "unevaluatedProperties"}
    | {"not", "if", "then", "else", "contentSchema"}
)
_LISTS: Final = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_MAPS: Final = frozenset({"patternProperties", "dependentSchemas", "$defs", "definitions"})

Steps = tuple[str | int, ...]  # the keys and indexes from the root to a schema position


def _positions(root: Any) -> Iterator[tuple[Steps, tuple[str, ...] | None, Mapping[str, Any]]]:
    """Every schema position of ``root`` that carries an annotation: (its steps, its ``properties``
    path, None once another keyword was crossed, its schema), in document order."""
    stack: list[tuple[Steps, tuple[str, ...] | None, Any]] = [((), (), root)]
    while stack:
        steps, path, node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        if KEY in node:
            yield steps, path, node
        found: list[tuple[Steps, tuple[str, ...] | None, Any]] = []
        for key, value in node.items():
            if key == "properties" and isinstance(value, Mapping):
                for name, sub in value.items():
                    found.append(((*steps, key, name), None if path is None else (*path, str(name)), sub))
            elif key in _SINGLE:
                found.append(((*steps, key), None, value))
            elif key in _LISTS and isinstance(value, list):
                found.extend(((*steps, key, i), None, sub) for i, sub in enumerate(value))
            elif key in _MAPS and isinstance(value, Mapping):
                found.extend(((*steps, key, name), None, sub) for name, sub in value.items())
        stack.extend(reversed(found))


def _where(steps: Steps, path: tuple[str, ...] | None) -> str:
    if not steps:
        return "the schema's root"
    if path:
        return f"property {'.'.join(path)!r}"
    return "".join(f"/{step}" for step in steps)  # a JSON pointer (no escapes: for the log)


def _broken(token: Any, path: tuple[str, ...] | None, kind: Any) -> str | None:
    """Why one annotation breaks a rule of its own (uniqueness aside), None when it does not."""
    if not path:
        shown = repr(token) if isinstance(token, str) else f"(a {type(token).__name__})"
        return f"x-mcp-header {shown} is not on a property reachable from the root through 'properties' alone"
    if not isinstance(token, str):  # (no repr: an int's may be too long to write)
        return f"x-mcp-header must be a string, not {type(token).__name__}"
    if not TOKEN_RE.fullmatch(token):
        return f"x-mcp-header {token!r} is not an HTTP token (RFC 9110)"
    if not isinstance(kind, str) or kind not in _TYPES:
        only = "and only integer, string and boolean properties may carry one"
        return f"x-mcp-header {token!r} is on a property of type {kind!r}, {only}"
    return None


def without_invalid_headers(schema: Any) -> tuple[Any, tuple[str, ...]]:
    """``schema`` without the ``x-mcp-header`` annotations that break the publishing rules (a copy;
    ``schema`` itself when none does, the usual case), and one text per annotation removed: where
    it was and why."""
    problems: list[tuple[Steps, str]] = []
    valid: dict[str, list[tuple[Steps, str, str]]] = {}  # by lower-case token: (steps, where, token)
    for steps, path, node in _positions(schema):
        token = node[KEY]
        where = _where(steps, path)
        why = _broken(token, path, node.get("type"))
        if why is not None:
            problems.append((steps, f"{where}: {why}"))
        else:
            valid.setdefault(token.lower(), []).append((steps, where, token))
    for same in valid.values():
        if len(same) > 1:  # every one of them: which one was meant, nobody can say
            for steps, where, token in same:
                others = ", ".join(other for _, other, _ in same if other != where)
                problems.append(
                    (steps, f"{where}: x-mcp-header {token!r} is not unique, case aside (also on {others})")
                )
    if not problems:
        return schema, ()
    return _without(schema, [steps for steps, _ in problems]), tuple(text for _, text in problems)


def _without(schema: Any, positions: list[Steps]) -> Any:
    """``schema`` without the annotation at each of ``positions``, ``schema`` itself untouched (its
    parts may be shared with other tools' schemas): what leads to a position is copied, once per
    position it leads to, and the rest shared. One object met at two positions is two copies, each
    stripped for its own position (a deep copy kept the sharing: stripping one stripped both)."""
    root = copy.copy(schema)
    copies: dict[Steps, Any] = {(): root}
    for steps in positions:
        node = root
        for depth in range(1, len(steps) + 1):
            below = copies.get(steps[:depth])
            if below is None:
                below = copies[steps[:depth]] = copy.copy(node[steps[depth - 1]])
                node[steps[depth - 1]] = below
            node = below
        del node[KEY]
    return root
