"""What a tool and its arguments are called and said to be: argument names, the tool's
description and its annotations.

Part of :mod:`mcp_middleware._tool_builder`; the tool names are made in :mod:`mcp_middleware._naming`.

Argument names
    An argument's name is its parameter's or property's name (the alias, in FastAPI), made to
    fit ``[A-Za-z0-9_.-]{1,64}`` when it does not (Claude's API refuses every request when one
    tool has another property key): accents dropped, runs of other characters as one ``_``, ``_``
    stripped from both ends (``filter[status]`` ─▶ ``filter_status``, ``$top`` ─▶ ``top``), cut
    to 64 characters, and its location (``query``, ...) when nothing is left. The request keeps
    the parameter's own name. Name collisions: a name that needed no cleaning belongs to the
    first parameter that has it (in the order path, query, header, cookie, body), whatever comes
    before it, so an argument named like a parameter always sets that parameter (``top`` is the
    route's ``top``, not ``$top`` cleaned); every other parameter whose name is taken is prefixed
    with its location (``query_x``, ``header_x``, ``cookie_x``, ``body_x``; ``path_x`` between
    path parameters), then ``_2``, ``_3``… if even that is taken. With an
    ``x-mcp-input-schema``, arguments keep their parameters' names as they are (the schema's
    author chose its keys).

Description and annotations
    The description is the operation's (or its path item's) summary and description, after
    ``Deprecated: `` for a deprecated operation; where two listed tools would have the same one,
    each says its method and path after its first line (``Ping (GET /a/ping)``). Titles likewise:
    where two listed tools would have the same ``title``, each says its method and path after it,
    in ``annotations.title`` too. The
    annotations say what the method implies (``GET``/``HEAD`` read-only, ``DELETE`` destructive,
    ``PUT`` idempotent; never open-world), and ``x-mcp-annotations`` is merged over them.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from mcp_middleware._naming import _cut, _first_free, _Op, _squeezed, _text
from mcp_middleware._operation_reader import _Entry
from mcp_middleware._plan import _BODY, _COOKIE, _HEADER, _PATH, _QUERY, _WHOLE_BODY

__all__ = ["_annotations", "_argument_names", "_description", "_distinct_descriptions"]

_DEPRECATED: Final = "Deprecated: "  # what a deprecated operation's description starts with

_PREFIX: Final = {
    _PATH: "path",
    _QUERY: "query",
    _HEADER: "header",
    _COOKIE: "cookie",
    _BODY: "body",
    _WHOLE_BODY: "body",
}
# what the Anthropic API accepts as a property key of a tool's input schema
_ARGUMENT_LIMIT: Final = 64
_VALID_ARGUMENT: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_NOT_IN_ARGUMENT: Final = re.compile(r"[^A-Za-z0-9_.-]+")


def _argument_names(entries: Sequence[_Entry], *, clean: bool = True) -> list[str]:
    """Each entry's argument name, unique; ``clean=False`` keeps the wire names as they are (a
    schema given in ``x-mcp-input-schema`` names its own keys).

    A wire name that is already valid is claimed first, by the first entry that has it, so no
    cleaned name (``$top`` ─▶ ``top``) or prefixed one takes the name of a parameter that has it
    already; the other entries are then named in order, prefixed and numbered when taken."""
    owners: dict[str, int] = {}  # a valid wire name ─▶ the first entry that has it
    for index, entry in enumerate(entries):
        if not clean or _VALID_ARGUMENT.fullmatch(entry.wire):
            owners.setdefault(entry.wire, index)
    taken = set(owners)
    names: list[str] = []
    for index, entry in enumerate(entries):
        if owners.get(entry.wire) == index:
            names.append(entry.wire)
        else:
            name = (_argument_name(entry.wire) or _PREFIX[entry.where]) if clean else entry.wire
            names.append(_free_name(entry, name, taken))
    return names


def _free_name(entry: _Entry, name: str, taken: set[str]) -> str:
    """``name``, or when taken, prefixed with ``entry``'s location (then numbered); added to ``taken``."""
    if name in taken:
        name = _first_free(_cut(f"{_PREFIX[entry.where]}_{name}", _ARGUMENT_LIMIT), _ARGUMENT_LIMIT, taken)
    taken.add(name)
    return name


def _argument_name(wire: str) -> str:
    """``wire`` as a property key every client accepts (empty when nothing of it is left)."""
    if _VALID_ARGUMENT.fullmatch(wire):
        return wire
    import unicodedata  # on first use: a name that is not an argument name as it is

    ascii_only = unicodedata.normalize("NFKD", wire).encode("ascii", "ignore").decode("ascii")
    return _cut(_squeezed(ascii_only, _NOT_IN_ARGUMENT), _ARGUMENT_LIMIT)


def _description(op: _Op) -> str:
    summary = _text(op.operation.get("summary")) or _text(op.path_item.get("summary"))
    description = _text(op.operation.get("description")) or _text(op.path_item.get("description"))
    if summary and description and not description.startswith(summary):
        text = f"{summary}\n\n{description}"
    else:
        text = description or summary or f"{op.method} {op.path}"
    return f"{_DEPRECATED}{text}" if op.operation.get("deprecated") is True else text


def _distinct_descriptions(tools: Iterable[tuple[dict[str, Any], str, str]]) -> None:
    """Give the method and path (``Ping (GET /a/ping)``), after the first line, to each tool whose
    description another has too (``tools``: each tool's dict, method and path, in catalog order);
    and likewise to each tool whose title another has too, in its ``title`` and its
    ``annotations.title`` (what clients show: "Ping" twice told the user nothing)."""
    listed = list(tools)
    seen = Counter(tool.get("description") for tool, _, _ in listed)
    titles = Counter(tool.get("title") for tool, _, _ in listed)
    for tool, method, path in listed:
        description = tool.get("description")
        if isinstance(description, str) and seen[description] > 1:
            first, newline, rest = description.partition("\n")
            tool["description"] = f"{first} ({method} {path}){newline}{rest}"
        title = tool.get("title")
        if isinstance(title, str) and titles[title] > 1:
            tool["title"] = f"{title} ({method} {path})"
            annotations = tool.get("annotations")
            if isinstance(annotations, dict) and annotations.get("title") == title:
                annotations["title"] = tool["title"]


def _annotations(op: _Op, title: str) -> dict[str, Any]:
    annotations: dict[str, Any] = {"title": title}
    if op.method in ("GET", "HEAD"):
        annotations["readOnlyHint"] = True
    elif op.method == "DELETE":
        annotations["destructiveHint"] = True
    elif op.method == "PUT":
        annotations["idempotentHint"] = True
    annotations["openWorldHint"] = False
    extra = op.operation.get("x-mcp-annotations")
    if isinstance(extra, Mapping):
        annotations.update(copy.deepcopy(dict(extra)))
    return annotations
