"""Which routes of the app could answer a tool's request instead of the tool's own route.

Part of :mod:`mcp_middleware.catalog`. Starlette's router (FastAPI's too) tries its routes in order
and takes the first whose path and method match; a route whose path matches but not its method
is kept aside, used only when no route matches both; a ``Mount`` takes every request under its
prefix, whatever the method. A tool's path argument can therefore spell the path of a route listed
before the tool's own (``get_item(item_id="export-all")`` and ``/items/export-all``): a route that
is no tool (``include_in_schema=False``, a filtered operation, a mount) then answers the call, and
its result is taken for the tool's. :class:`~mcp_middleware._route_guard.RouteGuard` refuses such
a call before it runs, as an
:class:`~mcp_middleware._values.ArgumentError` (the tool's ``isError`` result, -32602 for a
resource or a prompt). The guard is in :mod:`mcp_middleware._route_guard`, and what rules a route
out, compared as text, in :mod:`mcp_middleware._route_overlap`; this module reads the routes and
finds each tool's.

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
text and number of segments do not rule it out
(:func:`~mcp_middleware._route_overlap._could_take`). A tool whose route, or a mount on its way,
has a typed convertor (any but ``str`` and ``path``, which take every value the request builder
sends) gets a :class:`~mcp_middleware._route_guard.RouteGuard` that first tests those values
against their convertors (``{id:int}`` given ``"seven"``: an argument error naming ``id`` and what
the path accepts, where the router would go on to the routes after it, a 404 or another route's
answer); with every value taken, the route's own pattern matches, so the routes after it never
answer. A tool whose path has a segment with two parameters or more (``/{left}-{right}``), or a
``path`` parameter (any but the one-segment convertors) with another after it, gets a guard that
also matches each call's path with
the patterns of its mounts and route, as the router does, and refuses the call when the values
read back are not the arguments (the router splits such a segment greedily). A tool with none of
these (no typed convertor, no such segment), no mount on its way and no route before its own that
could take its path has no guard: its calls pay one attribute test. A tool whose path has no
parameter (and neither of those) is decided once: refused every time (no request reaches its
route), or no guard. A route under a mount whose ``path`` parameter always reads part of the
route's path (``Mount("/p/{p:path}")`` and ``/q/r``) is reached by no call with its values
(:meth:`RouteOrder.stranded`): the catalog leaves it out.

The same order tells which route a request for the MCP endpoint's own path would have reached
(:meth:`RouteOrder.answers`, for the catalog's warning about templated routes the endpoint takes
that path from; :func:`template_answers` where the order is unknown), and every route that would
have had a request for it, by method (:meth:`RouteOrder.reached`, for the warning about the routes
the document does not list: :mod:`mcp_middleware._endpoint_overlap`).

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

from starlette.convertors import FloatConvertor, IntegerConvertor, StringConvertor, UUIDConvertor
from starlette.routing import Host, Mount, Router, WebSocketRoute, compile_path

from mcp_middleware._route_guard import (
    RouteGuard,
    _Level,
    split_reading,
    stranded,
    typed_values,
)
from mcp_middleware._route_overlap import _could_take

__all__ = ["RouteOrder", "app_routes", "readable_routes", "route_entries", "route_order", "template_answers"]

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


@dataclass(frozen=True, slots=True, eq=False)
class _Node:
    """A route (or mount) as its router tries it."""

    route: Any  # the route object the router holds (FastAPI's context of an included route), or the mount
    regex: re.Pattern[str]  # what the router matches the path with (a mount's: its prefix, then the rest)
    path: str  # the path format from the app's root (a mount's: its prefix)
    methods: frozenset[str] | None  # None: any method
    segments: tuple[str, ...] | None  # ``path`` split at "/"; None when a parameter may span several
    written: str  # its own path as written (``/items/{id:int}``), under its mount
    convertors: dict[str, Any]  # its parameters' convertors
    children: tuple[_Node, ...] | None = None  # a mount's routes, when known
    mount: bool = False


class RouteOrder:
    """An app's routes, as its router tries them."""

    __slots__ = ("_takers", "nodes")

    def __init__(self, nodes: tuple[_Node, ...]) -> None:
        self.nodes = nodes
        self._takers: dict[tuple[str, str], _Node | None] = {}  # (request path, method) ─▶ its route

    def guard(self, path: str, method: str, route: Any = None) -> RouteGuard | None:
        """The guard of the tool of ``path`` (a path format from the app's root) and ``method``,
        whose own route is ``route`` (the object the router holds; None: the first of its path and
        method); None when its calls need no check (no typed convertor, no segment of two
        parameters, no mount on its way, no route before its own that could take its path; or a path
        without parameters whose one request reaches the route), or its route is not found."""
        chain = _find(self.nodes, path, method.upper(), route)
        if chain is None:
            return None
        own = chain[-1][1]
        levels: list[_Level] = []
        for siblings, node in chain:
            index = next(i for i, sibling in enumerate(siblings) if sibling is node)
            earlier = tuple(n.regex for n in siblings[:index] if _could_take(n, own, method))
            levels.append(_Level(earlier, node.regex if node.mount else None))
        if not levels[-1].earlier:  # the route's own level, with nothing tried before it
            levels.pop()
        # a mount's level stays, routes tried before it or not: a value its pattern stops at (a line
        # feed) would send the request past it, to the routes after it
        template = "".join(node.written for _, node in chain)  # the path as written, convertors and all
        values = typed_values(template, (node.convertors for _, node in chain))
        convertors = [convertor for _, node in chain for convertor in node.convertors.values()]
        spanning = any(not isinstance(convertor, _ONE_SEGMENT) for convertor in convertors[:-1])  # one after it
        split = split_reading(template, own.regex, spanning)
        if values is not None or split is not None:  # its values checked first, then the levels, then the split
            return RouteGuard(tuple(levels), values, split)
        if not levels:
            return None
        guard = RouteGuard(tuple(levels))
        if "{" not in path:  # one request only: decided now
            return guard if guard.problem(path, path) is not None else None
        return guard

    def stranded(self, path: str, method: str, route: Any = None) -> tuple[str, str] | None:
        """The route of ``path`` and ``method`` (``route`` itself, when given), when no call
        reaches it with the values it was given (:func:`~mcp_middleware._route_guard.stranded`):
        its path as written, from the app's root, and why; None when some could, or it is not found."""
        chain = _find(self.nodes, path, method.upper(), route)
        if chain is None:
            return None
        why = stranded((node.written, node.convertors, node.mount) for _, node in chain)
        return None if why is None else ("".join(node.written for _, node in chain), why)

    def answers(self, path: str, method: str, route: Any, request_path: str) -> bool | None:
        """Whether the router hands a request for ``request_path`` (of ``method``) to the route of
        ``path`` (a path format from the app's root) and ``method``, ``route`` itself when given
        (else the first of that path and method); None when it goes to a mount of unknown routes
        that ``path`` is under. Each request's route is found once (:meth:`_taker`)."""
        method = method.upper()
        key = (request_path, method)
        if key not in self._takers:
            self._takers[key] = self._taker(*key)
        node = self._takers[key]
        if node is None:
            return False
        if node.mount:
            return None if path.startswith(node.path) else False
        return node.route is route if route is not None else node.path == path

    def _taker(self, request_path: str, method: str) -> _Node | None:
        """The route the router hands a request for ``request_path`` and ``method`` to (a mount,
        when its routes are unknown); None when no route takes it."""
        nodes = self.nodes
        while True:
            for node in nodes:
                if node.methods is not None and method not in node.methods:
                    continue  # (a route that matches the path only is used when none matches both: a 405)
                match = node.regex.match(request_path)
                if match is None:
                    continue
                if not node.mount or node.children is None:
                    return node
                nodes, request_path = node.children, "/" + match["path"]
                break
            else:
                return None

    def reached(self, request_path: str) -> list[tuple[_Node, frozenset[str] | None]]:
        """The routes the router hands a request for ``request_path`` to, each with the methods it
        takes it for (None: any, a mount or a route of a bare ASGI app, which ends the list): a
        route whose method is taken by one tried before it gets none of those requests."""
        found: list[tuple[_Node, frozenset[str] | None]] = []
        taken: frozenset[str] = frozenset()
        nodes = self.nodes
        while True:
            for node in nodes:
                match = node.regex.match(request_path)
                if match is None:
                    continue
                if node.mount and node.children is not None:
                    nodes, request_path = node.children, "/" + match["path"]
                    break
                if node.methods is None:
                    return [*found, (node, None)]
                if node.methods - taken:
                    found.append((node, node.methods - taken))
                    taken |= node.methods
            else:
                return found

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


def template_answers(template: str, request_path: str) -> bool:
    """Whether a route of ``template`` (a path as Starlette writes it, converters and all) would
    match ``request_path``; False for a template Starlette refuses (an unknown converter, a
    parameter twice)."""
    try:
        regex = compile_path(template)[0]
    except (AssertionError, KeyError, ValueError):
        return False
    return regex.match(request_path) is not None


def _router_of(app: Any) -> Router | None:
    router = app if isinstance(app, Router) else getattr(app, "router", None)
    if not isinstance(router, Router):
        return None
    routing = type(router).app
    return router if f"{routing.__module__}.{routing.__qualname__}" in _IN_ORDER else None


def _nodes(routes: Iterable[Any], prefix: str, depth: int) -> tuple[_Node, ...]:
    nodes: list[_Node] = []
    for entry in route_entries(routes):
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
            written = getattr(route, "path", None)
            nodes.append(
                _Node(
                    route,
                    regex,
                    prefix + path,
                    frozenset(methods) if methods else None,
                    _segments(prefix + path, convertors.values()),
                    written if isinstance(written, str) else path,
                    convertors,
                )
            )
    return tuple(nodes)


def route_entries(routes: Iterable[Any]) -> Iterator[Any]:
    """``routes`` with those of included routers in their place: older FastAPI copies them into
    ``app.routes``; newer (0.165 here) keeps an included router as one entry that lists its routes,
    with the include's prefix, in ``effective_route_contexts()``. The one reading of a router's
    entries (its order here, :mod:`._mounted_documents`, :mod:`._route_details`)."""
    for route in routes:
        included = getattr(route, "effective_route_contexts", None)
        if not callable(included):
            yield route
            continue
        try:
            yield from list(included())
        except Exception:  # another FastAPI's internals: its routes are not followed
            logger.debug("could not list the routes of %r", route, exc_info=True)


def app_routes(app: Any) -> Iterator[Any]:
    """The routes of ``app`` as its router lists them, included routers' in their place
    (:func:`route_entries` of :func:`readable_routes`); none when they cannot be read."""
    return route_entries(readable_routes(app) or ())


def _mount(mount: Mount, prefix: str, depth: int) -> _Node:
    # Mount compiles its path with ``/{path:path}`` (the rest) after it: its own part, without that
    path = prefix + mount.path_format.removesuffix("/{path}")
    convertors = {name: convertor for name, convertor in mount.param_convertors.items() if name != "path"}
    inner = _router_of(getattr(mount, "_base_app", mount.app))
    routes = readable_routes(mount) if inner is not None and depth < _DEPTH else None
    children = _nodes(routes, path, depth + 1) if routes is not None else None
    segments = _segments(path, convertors.values())
    return _Node(mount, mount.path_regex, path, None, segments, mount.path, convertors, children, mount=True)


def _segments(path: str, convertors: Iterable[Any]) -> tuple[str, ...] | None:
    return tuple(path.split("/")) if all(isinstance(c, _ONE_SEGMENT) for c in convertors) else None


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
