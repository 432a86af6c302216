"""The tool names and descriptions the user gives, beside the operation ids: the ``tool_names``
option and a route's ``x-mcp-name``/``x-mcp-description`` (``declare.tool``, or a Starlette YAML
docstring).

Part of :mod:`mcp_middleware.catalog`, after :func:`~mcp_middleware._naming._assign_names` has
made every operation's default name (the name the keys of ``tool_names`` may use, as the filters
do). A given name (``tool_names`` first: by operation id, else by default name; then
``x-mcp-name``) is the tool's; a default name it takes is numbered (``_2``, ...) as a sanitised id
is against a verbatim one; the other tools keep their default names. A given name longer than
``max_tool_name_length`` is kept, warned (``tool_names`` and ``x-mcp-name`` alike: both are
checked as ``declare.tool`` checks a name at import, at most the spec's 128 characters). A bad
``x-mcp-name`` (read with the routes), or one a tool earlier in the document
is given already (or one alike in its first ``max_tool_name_length`` characters, which clients
may cut it to), leaves its route out of the tools with a warning, as a hand-written ``x-mcp-*``
declaration that breaks the rules or a prompt name declared twice is: no tool then answers to a
name its author did not give. ``tool_names`` itself is checked when the middleware is built
(:func:`check_tool_names`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from mcp_middleware._declared import shown
from mcp_middleware._name_rules import name_problem
from mcp_middleware._naming import _first_free, _Op
from mcp_middleware._once import warn_once

__all__ = ["check_tool_names", "given_description", "given_names", "tool_names_of", "warn_taken_defaults"]

logger = logging.getLogger("mcp_middleware.catalog")

_LEFT_OUT = ""  # a given name that leaves its route out (never a valid name)


def check_tool_names(names: Any) -> dict[str, str]:
    """``names`` (the ``tool_names`` option) as a dict, or a ``TypeError``/``ValueError`` naming
    the bad key or value: a value is held to the rules ``declare.tool`` holds a name to (at most
    the spec's 128 characters; one longer than ``max_tool_name_length`` is warned about with the
    routes, :func:`_given`)."""
    if not isinstance(names, Mapping):
        raise TypeError(f"tool_names must be a mapping of strings to strings, not {shown(names)}")
    checked: dict[str, str] = {}
    for key, name in names.items():
        if not isinstance(key, str):
            raise TypeError(f"tool_names keys must be strings, not {shown(key)}")
        problem = name_problem(name)
        if problem is not None:
            raise (TypeError if not isinstance(name, str) else ValueError)(f"tool_names[{key!r}]: {problem}")
        checked[key] = name
    return checked


def given_names(
    ops: Sequence[_Op], defaults: Sequence[str], tool_names: Mapping[str, str], limit: int
) -> list[str | None]:
    """Each operation's given name (:func:`_given`): None when none is given, "" for a bad
    ``x-mcp-name`` that leaves its route out (warned). What the filters match besides the default
    name; which route owns a name is settled among the tools only (:func:`tool_names_of`)."""
    given = [_given(op, default, tool_names, limit) for op, default in zip(ops, defaults, strict=True)]
    _warn_unmatched(ops, defaults, tool_names)
    return given


def tool_names_of(
    ops: Sequence[_Op], defaults: Sequence[str], given: Sequence[str | None], kept: Sequence[bool], limit: int
) -> list[str | None]:
    """Each ``kept`` operation's tool name (the operations the filters keep that a call reaches,
    ``given`` from :func:`given_names`): the one given, else its default (numbered where a given
    name took it); None for a route left out (not kept, or its given name bad or taken, warned).
    Only a tool takes a name, so a route the filters leave out, or one no call reaches (the
    catalog's ``_stranded``), takes none from the tools. A given name is
    taken when an earlier tool's has the same first ``limit`` characters: a long one is kept whole,
    but clients may cut it to fit, and the two would be one name then (a default name is numbered
    away from those characters too)."""
    names: list[str | None] = [None] * len(ops)
    owners: dict[str, tuple[_Op, str]] = {}  # by its first ``limit`` characters, what clients may cut it to
    for index, (op, name) in enumerate(zip(ops, given, strict=True)):
        if not kept[index] or not name:  # no tool, none given (None), or left out already
            continue
        if name[:limit] in owners:
            _warn_taken(op, name, *owners[name[:limit]], limit)
            continue
        owners[name[:limit]] = op, name
        names[index] = name
    taken, reserved = set(owners), set(defaults)
    for index, name in enumerate(given):
        if kept[index] and name is None:  # the default name, unless a given one took it
            names[index] = free = _first_free(defaults[index], limit, taken, reserved)
            taken.add(free)
    return names


def _warn_taken(op: _Op, name: str, first: _Op, first_name: str, limit: int) -> None:
    """Warn that ``op`` is no tool: ``first``, earlier, is given ``name`` or one alike in its first
    ``limit`` characters (a long given name is kept whole, but a client may cut it to fit)."""
    if name == first_name:
        warn_once(
            logger,
            "Route %s %s is no tool: the tool name %r it is given is %s %s's already",
            op.method,
            op.path,
            name,
            first.method,
            first.path,
        )
        return
    warn_once(
        logger,
        "Route %s %s is no tool: the tool name %r it is given starts with the same %d characters "
        "(max_tool_name_length) as %s %s's %r, so clients that cut names to fit would make them one",
        op.method,
        op.path,
        name,
        limit,
        first.method,
        first.path,
        first_name,
    )


def warn_taken_defaults(tools: Sequence[tuple[_Op, str, str]]) -> None:
    """Warn about each tool whose given name is another tool's default name (``tools``: the tools
    built, as (operation, default name, name)): that tool is numbered, and a filter value naming
    the name matches the other route only (:func:`~mcp_middleware._tool_filter.matched_names`: an
    operation id or default name before a given name). A route that is no tool (a resource, one the
    filters leave out, one no call reaches) is nothing to mistake, and numbers no tool."""
    by_default = {default: (op, name) for op, default, name in tools}
    for op, default, name in tools:
        other = by_default.get(name) if name != default else None
        if other is None:
            continue
        warn_once(
            logger,
            "Tool name %r given to %s %s is also %s %s's default name (its tool is %r now); a filter value "
            "naming %r matches %s %s only (by its %s)",
            name,
            op.method,
            op.path,
            other[0].method,
            other[0].path,
            other[1],
            name,
            other[0].method,
            other[0].path,
            "operation id" if other[0].operation_id == name else "default tool name",
        )


def given_description(op: _Op) -> str | None:
    """The operation's ``x-mcp-description``, the tool's description in ``tools/list``; one that is
    no string is warned about and ignored."""
    description = op.operation.get("x-mcp-description")
    if description is None or isinstance(description, str):
        return description
    warn_once(
        logger,
        "Route %s %s: its x-mcp-description must be a string, not %s; it is ignored",
        op.method,
        op.path,
        shown(description),
    )
    return None


def _given(op: _Op, default: str, tool_names: Mapping[str, str], limit: int) -> str | None:
    """The name given to ``op``: ``tool_names``' (by operation id, else by default name), else its
    ``x-mcp-name``; :data:`_LEFT_OUT` for a bad ``x-mcp-name`` (warned); None when none is given."""
    by_id = tool_names.get(op.operation_id) if op.operation_id else None
    by_name = tool_names.get(default)
    if by_id is not None and by_name is not None and by_id != by_name:
        warn_once(
            logger,
            "MCPMiddleware tool_names gives %s %s two names, %r (by its operation id) and %r (by its tool "
            "name %r): %r is used",
            op.method,
            op.path,
            by_id,
            by_name,
            default,
            by_id,
        )
    option = by_id if by_id is not None else by_name
    if option is not None:
        return _kept(op, option, limit)
    if "x-mcp-name" not in op.operation:
        return None
    declared = op.operation["x-mcp-name"]
    problem = name_problem(declared)
    if problem is None:
        return _kept(op, str(declared), limit)
    warn_once(logger, "Route %s %s is no tool: its x-mcp-name %s", op.method, op.path, problem)
    return _LEFT_OUT


def _kept(op: _Op, name: str, limit: int) -> str:
    """``name``, given to ``op`` (by ``tool_names`` or ``x-mcp-name`` alike), warned about when it
    is longer than ``limit`` (``max_tool_name_length``), which only derived names are cut to."""
    if len(name) > limit:
        warn_once(
            logger,
            "Tool %r (%s %s): its given name is longer than max_tool_name_length (%d) characters, which "
            "derived names are cut to; it is kept, but clients that prefix tool names within a 60-64 "
            "character budget (VS Code, Claude Code, Cursor) may cut or refuse it",
            name,
            op.method,
            op.path,
            limit,
        )
    return name


def _warn_unmatched(ops: Sequence[_Op], defaults: Sequence[str], tool_names: Mapping[str, str]) -> None:
    known = {op.operation_id for op in ops} | set(defaults)
    unmatched = [key for key in tool_names if key not in known]
    if unmatched:
        warn_once(
            logger,
            "MCPMiddleware tool_names keys that match no route (a key is an operation id or a default tool name): %s",
            ", ".join(repr(key) for key in unmatched),
        )
