"""Which routes of the app could answer a tool's request instead of the tool's own route.

Part of :mod:`mcp_middleware.catalog`. Starlette's router (FastAPI's too) tries its routes in order
and takes the first whose path and method match; a route whose path matches but not its method
is kept aside, used only when no route matches both; a ``Mount`` takes every request under its
prefix, whatever the method. A tool's path argument can therefore spell the path of a route listed
before the tool's own (``get_item(item_id="export-all")`` and ``/items/export-all``): a route that
is no tool (``include_in_schema=False``, a filtered operation, a mount) then answers the call, and
its result is taken for the tool's. :class:`RouteGuard` refuses such a call before it runs, as an
:class:`~mcp_middleware._values.ArgumentError` (the tool's ``isError`` result, -32602 for a
resource or a prompt).

When the catalog is built, :func:`route_order` reads the app's routes as its router tries them: an
included router's in its place (newer FastAPI keeps one as a single entry, whose
``effective_route_contexts()`` list its routes in order), a mount's routes under its prefix (a
mounted app's or ``Router``'s). For each tool, :meth:`RouteOrder.guard` finds its own route by
identity: the route object the document's operation came from (``RouteDocument.owners``: the
Starlette route the walk described, the FastAPI route whose operation the app's document holds),
wherever it is, so a route of the same path and method tried before it (a plain Starlette app's,
in a mount that contributes no operation) is one of the routes that could answer instead; only a
tool whose route is not known (a document given to ``build_catalog`` alone) takes the first route
of its path and method. The guard keeps the compiled patterns of the routes tried before
it, at each level (the app's, then the mount's it is in...), that could take a path the tool
renders: of the tool's method or of any (a mount, a route of a bare ASGI app), and whose literal
text and number of segments do not rule it out (:func:`_could_take`). A tool with none has no
guard: its calls pay one attribute test. A route whose own pattern may refuse a value its tool
renders (``{id:int}`` given ``"seven"``; a ``str`` or ``path`` parameter takes any value the
request builder sends) also keeps the patterns of the routes after it that could take the path:
the router goes on to them. A tool whose path has no parameter is decided once: refused every time
(no request reaches its route), or no guard.

Not followed (no call is refused for them): a router with its own ``app`` (it may not try its
routes in order) or a mount of anything but a router or an app with one, whose routes are then
unknown; ``Host`` routes (they match the MCP request's ``Host``, not the path the model made);
route classes of other kinds; middleware that rewrites paths, in the app or a mounted one.

A mount whose routes cannot be read (its app's ``routes`` raises; Starlette's ``Mount.routes``
passes the error on) is read through :func:`readable_routes`, as by the document walks and the
served app's check for changed routes (an app's own routes, where the walks read them, too): a
warning names it once, and it contributes nothing (no operation; here a mount of unknown routes,
still tried in its place).
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

from starlette.convertors import FloatConvertor, IntegerConvertor, PathConvertor, StringConvertor, UUIDConvertor
from starlette.routing import Host, Mount, Router, WebSocketRoute, compile_path

from mcp_middleware._values import ArgumentError

__all__ = ["RouteGuard", "RouteOrder", "readable_routes", "route_order"]

logger = logging.getLogger("mcp_middleware.catalog")

_DEPTH: Final = 8  # mounts within mounts, at most
_ONE_SEGMENT: Final = (StringConvertor, IntegerConvertor, FloatConvertor, UUIDConvertor)  # no "/" in a value
# the routers whose ``app`` tries the routes in order (FastAPI's adds the low-priority routes, last)
_IN_ORDER: Final = frozenset({"starlette.routing.Router.app", "fastapi.routing.APIRouter.app"})
# the mounts and apps already logged, by id (a Mount is not hashable); an entry goes with its object
_UNREADABLE: Final[weakref.WeakValueDictionary[int, Any]] = weakref.WeakValueDictionary()


def readable_routes(holder: Any) -> list[Any] | None:
    """The routes of ``holder`` (a mount, its app's or router's; or an app); None when reading them
    fails (an app's own ``routes`` property raises, which ``Mount.routes`` passes on), which a
    warning says once for each holder. An object without ``routes`` has none."""
    try:
        return list(getattr(holder, "routes", None) or ())
    except Exception:
        if _UNREADABLE.get(id(holder)) is not holder:
            _UNREADABLE[id(holder)] = holder
            if isinstance(holder, Mount):
                what = f"Mount {holder.path or '/'} ({type(getattr(holder, '_base_app', holder.app)).__name__})"
            else:
                what = type(holder).__name__
            logger.warning("the routes of %s cannot be read; they are no MCP tools", what, exc_info=True)
        return None


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


@dataclass(frozen=True, slots=True, eq=False)
class _Node:
    """A route (or mount) as its router tries it."""

    route: Any  # the route object the router holds (FastAPI's context of an included route), or the mount
    regex: re.Pattern[str]  # what the router matches the path with (a mount's: its prefix, then the rest)
    path: str  # the path format from the app's root (a mount's: its prefix)
    methods: frozenset[str] | None  # None: any method
    segments: tuple[str, ...] | None  # ``path`` split at "/"; None when a parameter may span several
    refuses: bool  # its pattern may refuse a value its tool renders (a converter other than str and path)
    children: tuple[_Node, ...] | None = None  # a mount's routes, when known
    mount: bool = False


class RouteOrder:
    """An app's routes, as its router tries them."""

    __slots__ = ("nodes",)

    def __init__(self, nodes: tuple[_Node, ...]) -> None:
        self.nodes = nodes

    def guard(self, path: str, method: str, route: Any = None) -> RouteGuard | None:
        """The guard of the tool of ``path`` (a path format from the app's root) and ``method``,
        whose own route is ``route`` (the object the router holds; None: the first of its path and
        method); None when no other route could answer its requests (or its route is not found)."""
        chain = _find(self.nodes, path, method.upper(), route)
        if chain is None:
            return None
        route = chain[-1][1]
        levels: list[_Level] = []
        for siblings, node in chain:
            index = next(i for i, sibling in enumerate(siblings) if sibling is node)
            earlier = tuple(n.regex for n in siblings[:index] if _could_take(n, route, method))
            after = siblings[index + 1 :] if node.refuses else ()
            later = tuple(n.regex for n in after if _could_take(n, route, method))
            through = node.regex if node.mount or later else None
            levels.append(_Level(earlier, through, later, node.mount))
        while levels and not levels[-1].earlier and not levels[-1].later:  # nothing to check from there on
            levels.pop()
        if not levels:
            return None
        if not levels[-1].later:
            levels[-1] = _Level(levels[-1].earlier)
        guard = RouteGuard(tuple(levels))
        if "{" not in path:  # one request only: decided now
            return guard if guard.problem(path) is not None else None
        return guard

    def mounted_first(self, path: str, method: str) -> bool:
        """Whether the route the router reaches first for ``path`` (a path format from the app's
        root) and ``method`` is in a mount."""
        chain = _find(self.nodes, path, method.upper())
        return chain is not None and len(chain) > 1


def route_order(app: Any) -> RouteOrder | None:
    """The routes of ``app`` (a Starlette or FastAPI app, or a ``Router``); None when its router
    does not try its routes in order, or it has none."""
    router = _router_of(app)
    return None if router is None else RouteOrder(_nodes(router.routes, "", 0))


def _router_of(app: Any) -> Router | None:
    router = app if isinstance(app, Router) else getattr(app, "router", None)
    if not isinstance(router, Router):
        return None
    routing = type(router).app
    return router if f"{routing.__module__}.{routing.__qualname__}" in _IN_ORDER else None


def _nodes(routes: Iterable[Any], prefix: str, depth: int) -> tuple[_Node, ...]:
    nodes: list[_Node] = []
    for entry in _entries(routes):
        route = getattr(entry, "starlette_route", None) or entry  # FastAPI's context of a route it includes
        if isinstance(route, Mount):
            nodes.append(_mount(route, prefix, depth))
        elif isinstance(route, (Host, WebSocketRoute)):
            continue  # decided by the Host header; never an HTTP request
        elif isinstance(regex := getattr(route, "path_regex", None), re.Pattern):
            path, convertors = getattr(route, "path_format", None), getattr(route, "param_convertors", None)
            if not isinstance(path, str) or not isinstance(convertors, dict):
                continue
            methods = getattr(route, "methods", None)
            nodes.append(
                _Node(
                    route,
                    regex,
                    prefix + path,
                    frozenset(methods) if methods else None,
                    _segments(prefix + path, convertors.values()),
                    _refuses(convertors.values()),
                )
            )
    return tuple(nodes)


def _entries(routes: Iterable[Any]) -> Iterator[Any]:
    """``routes``, an included router's in its place (newer FastAPI, as ``_route_details._routes_of``)."""
    for route in routes:
        included = getattr(route, "effective_route_contexts", None)
        if not callable(included):
            yield route
            continue
        try:
            yield from list(included())
        except Exception:  # another FastAPI's internals: its routes are not followed
            continue


def _mount(mount: Mount, prefix: str, depth: int) -> _Node:
    _, path, convertors = compile_path(mount.path) if mount.path else (None, "", {})  # compiled by Mount too
    path = prefix + path
    inner = _router_of(getattr(mount, "_base_app", mount.app))
    routes = readable_routes(mount) if inner is not None and depth < _DEPTH else None
    children = _nodes(routes, path, depth + 1) if routes is not None else None
    segments, refuses = _segments(path, convertors.values()), _refuses(convertors.values())
    return _Node(mount, mount.path_regex, path, None, segments, refuses, children, mount=True)


def _segments(path: str, convertors: Iterable[Any]) -> tuple[str, ...] | None:
    return tuple(path.split("/")) if all(isinstance(c, _ONE_SEGMENT) for c in convertors) else None


def _refuses(convertors: Iterable[Any]) -> bool:
    """Whether a pattern with these converters may refuse a value the request builder sends (any
    text without "/" for a ``str``, segments for a ``path``)."""
    return not all(isinstance(c, (StringConvertor, PathConvertor)) for c in convertors)


def _find(
    nodes: tuple[_Node, ...], path: str, method: str, route: Any = None
) -> list[tuple[tuple[_Node, ...], _Node]] | None:
    """The route of ``path`` and ``method`` (``route`` itself, when given; else the one the
    router reaches first), with each mount on the way, each with the routes beside it."""
    for node in nodes:
        if node.children is not None:
            found = _find(node.children, path, method, route) if path.startswith(node.path) else None
            if found is not None:
                return [(nodes, node), *found]
        elif (
            not node.mount
            and (route is None or node.route is route)
            and node.path == path
            and (node.methods is None or method in node.methods)
        ):
            return [(nodes, node)]
    return None


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
