"""The guard a tool's calls pass when another route of the app could answer them: the routes the
router tries before the tool's own, level by level, that could take the path a call renders.

Part of :mod:`mcp_middleware._route_order`, whose :meth:`~mcp_middleware._route_order.RouteOrder.guard`
builds a :class:`RouteGuard` for a tool when the catalog is built; the request builder runs its
:meth:`RouteGuard.check` on each call's path, refusing one that would not reach the tool's route as
an :class:`~mcp_middleware._values.ArgumentError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from mcp_middleware._values import ArgumentError

__all__ = ["RouteGuard"]


def _answered(path: str) -> str:
    return f"the path {path} would be answered by another route of the app, not by this one"


@dataclass(frozen=True, slots=True)
class _Level:
    """What a request meets at one level of routes (the app's, then a mount's...)."""

    earlier: tuple[re.Pattern[str], ...]  # routes tried before, that could take the path
    # the mount holding the tool's route (the prefix and the rest), or at the last level the
    # route's own pattern when it may refuse the path; None: nothing to follow
    through: re.Pattern[str] | None = None
    later: tuple[re.Pattern[str], ...] = ()  # routes tried after, that could take a path ``through`` refuses
    mount: bool = False


class RouteGuard:
    """The routes a tool's request could reach instead of its own, level by level."""

    __slots__ = ("levels",)

    def __init__(self, levels: tuple[_Level, ...]) -> None:
        self.levels = levels

    def check(self, path: str) -> None:
        """Raises :class:`ArgumentError` when ``path`` (encoded, as sent) would not reach the route."""
        problem = self.problem(unquote(path) if "%" in path else path)
        if problem is not None:
            raise ArgumentError(problem.format(path=path))

    def problem(self, route_path: str) -> str | None:
        """What keeps a request for ``route_path`` (decoded, as the router sees it) from the tool's
        route, with ``{path}`` in it; None when nothing does."""
        for level in self.levels:
            if any(regex.match(route_path) for regex in level.earlier):
                return _answered("{path}")
            if level.through is None:
                return None
            match = level.through.match(route_path)
            if match is None:
                return _answered("{path}") if any(regex.match(route_path) for regex in level.later) else None
            if level.mount:
                if match.end("path") != len(route_path):
                    # a final line feed, before which ``$`` matches: the mount then gives its routes the
                    # whole path (Starlette's root_path arithmetic fails), and the tool's route sees none
                    return "the path {path} would not reach the route of this one"
                route_path = "/" + match["path"]
        return None
