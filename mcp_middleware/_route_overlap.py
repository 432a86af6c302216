"""Whether a route could take a request another route's tool makes: the literal text of their path
formats and their numbers of segments, compared without the values (never False when it could).

Part of :mod:`mcp_middleware._route_order`, whose :meth:`~mcp_middleware._route_order.RouteOrder.guard`
keeps the patterns of the routes that could (:func:`_could_take`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcp_middleware._route_order import _Node


def _could_take(node: _Node, route: _Node, method: str) -> bool:
    """Whether a request the tool of ``route`` makes could be taken by ``node`` (never False when
    it could: literal text and numbers of segments that rule it out)."""
    if node is route or (node.methods is not None and method not in node.methods):
        return False
    if not _compatible(_before_parameter(node.path), _before_parameter(route.path), str.startswith):
        return False
    mine, theirs = node.segments, route.segments
    if node.mount:  # its prefix, a "/", then anything
        if mine is None or theirs is None:
            return True
        return len(theirs) > len(mine) and all(map(_segment_could_take, mine, theirs))
    if not _compatible(_after_parameter(node.path), _after_parameter(route.path), str.endswith):
        return False
    if mine is None or theirs is None:
        return True
    return len(mine) == len(theirs) and all(map(_segment_could_take, mine, theirs))


def _segment_could_take(mine: str, theirs: str) -> bool:
    if "{" not in mine and "{" not in theirs:
        return mine == theirs
    return _compatible(_before_parameter(mine), _before_parameter(theirs), str.startswith) and _compatible(
        _after_parameter(mine), _after_parameter(theirs), str.endswith
    )


def _compatible(a: str, b: str, test: Any) -> bool:
    """Whether one text can begin (``str.startswith``) or end (``str.endswith``) like the other."""
    return bool(test(a, b) or test(b, a))


def _before_parameter(text: str) -> str:
    return text.split("{", 1)[0]


def _after_parameter(text: str) -> str:
    return text.rsplit("}", 1)[-1] if "{" in text else text
