"""A route's path template ─▶ the plan's path (when the catalog is built) ─▶ a call's path.

Part of :mod:`mcp_middleware._requests`. :func:`_plan_for_template` splits a template into
literals (already percent-encoded) and arguments once; :func:`_render_path` fills the arguments in
per call.

    Path values are percent-encoded whole (``quote(value, safe="")``; ``.`` and ``..`` become
    ``%2E`` and ``%2E%2E``) and may not contain ``/``, except for a parameter with Starlette's
    ``:path`` converter (``{file:path}``), whose value is encoded segment by segment and may not
    have ``.`` or ``..`` segments, nor a line break (Starlette's ``.*`` stops there); a missing,
    ``None`` (null: "is required and cannot be null") or empty path value is an
    :class:`~mcp_middleware._values.ArgumentError`. A float
    path value is written in plain decimal notation, as Starlette's ``:float`` convertor needs
    (``0.0000001``, not ``1e-07``); one of an integer-typed parameter (``{id:int}``, FastAPI's
    ``int``: ``_Plan.integers``) as its digits when it is integral (5.0, which JSON Schema's
    ``integer`` takes: ``5``), else an ArgumentError naming it (``5.0`` missed the ``:int``
    converter, and was refused as "answered by another route").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

from mcp_middleware._plan import _Plan
from mcp_middleware._values import _UNRESERVED, ArgumentError, _integral, _not_null, _scalar

__all__ = ["_TEMPLATE", "_path_text", "_plan_for_template", "_render_path"]

_TEMPLATE: Final = re.compile(r"\{([^{}]+)\}")
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"


def _plan_for_template(template: str, names: Mapping[str, str] | None = None) -> _Plan:
    """The path of ``template``; ``names`` maps a parameter to its argument, when they differ."""
    pieces = _TEMPLATE.split(template)
    for index in range(0, len(pieces), 2):
        pieces[index] = quote(pieces[index], safe=_PATH_SAFE)
    slashes: set[str] = set()
    for index in range(1, len(pieces), 2):
        name, _, converter = pieces[index].partition(":")
        pieces[index] = name = names.get(name, name) if names else name
        if converter == "path":
            slashes.add(name)
    return _Plan(tuple(pieces), slashes=frozenset(slashes))


def _render_path(plan: _Plan, arguments: Mapping[str, Any]) -> str:
    path = plan.path[0]
    for name, after in plan.segments:
        value = arguments.get(name)
        if type(value) is int:  # the usual id: digits (and a sign) need no checks or quoting
            path = f"{path}{value}{after}"
            continue
        if value is None:
            raise ArgumentError(_not_null([name]) if name in arguments else f"missing required argument {name!r}")
        if type(value) is float:
            text = _integral(name, value) if name in plan.integers else _decimal(value)
        else:
            text = _scalar(name, value)
        if not text:
            raise ArgumentError(f"argument {name!r} must not be empty")
        if _UNRESERVED.fullmatch(text) and text not in (".", ".."):
            path += text + after
        else:
            path += (_path_segments(name, text) if name in plan.slashes else _path_segment(name, text)) + after
    return path


def _path_text(name: str, value: Any, integer: bool) -> str:
    """The text of a path value (not None) as :func:`_render_path` writes it before encoding it,
    which is what the router sees once the server decodes the path; ``integer``: the argument's
    numbers are integers only (``_Plan.integers``). For a route guard's convertor test, which runs
    after the render: :func:`_render_path` keeps its own inline copy (no call per value)."""
    if type(value) is int:
        return str(value)
    if type(value) is float:
        return _integral(name, value) if integer else _decimal(value)
    return _scalar(name, value)


def _decimal(value: float) -> str:
    """``value`` in plain decimal notation, exactly: Starlette's ``:float`` convertor matches
    ``[0-9]+(\\.[0-9]+)?``, so ``1e-07`` would be a 404 where ``0.0000001`` is routed."""
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text else text


def _path_segment(name: str, text: str) -> str:
    """One encoded segment. ASGI servers decode %2F before routing, so a slash would address
    another route (``1/secret``); HTTP clients cannot send one in a path segment either."""
    if "/" in text:
        raise ArgumentError(f"argument {name!r} must not contain '/'")
    return "%2E" if text == "." else "%2E%2E" if text == ".." else quote(text, safe="")


def _path_segments(name: str, text: str) -> str:
    """A ``:path`` value: its segments, each encoded; ``.`` and ``..`` would climb out of it."""
    segments = text.split("/")
    if "." in segments or ".." in segments:
        raise ArgumentError(f"argument {name!r} must not contain '.' or '..' segments")
    if "\n" in text:
        # Starlette's ``:path`` pattern is ``.*``, which stops at a line break: the request would go
        # to another route or a redirect, or (a final one, before which ``$`` matches) lose it
        raise ArgumentError(f"argument {name!r} must not contain a line break")
    return "/".join(quote(segment, safe="") for segment in segments)
