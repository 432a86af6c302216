"""The app a server serves: its catalog and identity, built from the app that serves the first MCP
request, rebuilt when its routes change, and its list changes published.

Part of :mod:`mcp_middleware.handlers`: :class:`ServedApp` is the base of
:class:`~mcp_middleware.handlers.Server`, whose ``__init__`` sets the attributes declared here;
the methods moved unchanged, so a call of one is still one method lookup on the server.

* ``prepare``: from the app found by :func:`_served` (the app we wrap, directly or inside other
  middlewares, or the application whose stack we are in), the catalog (tools, declared features,
  the app's API-key headers and the credentials a call forwards), the server's name, version and
  instructions; the endpoint calls it while ``prepared`` is False, so a build that raised is tried
  again on the next request;
* ``refresh``: rebuilds it when a route was added or taken off anywhere in the app (checked on list
  requests, when a listen stream names URIs and while listen streams are open, not on every call:
  the check walks the route table, ``_routers``), and tells the listen streams which lists changed;
* ``list_changed`` and ``resource_updated``: what a route announces through its context.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from starlette.types import ASGIApp, Scope

from ._error_handler import AppErrorHandler, error_handler_of
from ._identity import Identity
from ._result_shapes import declared_size
from .catalog import Catalog, ToolFilter, catalog_from_app, readable_routes
from .config import CREDENTIALS, FORWARDED, Settings
from .features import Features
from .listen import Listeners
from .query_keys import QueryKeys

__all__ = ["ServedApp", "endpoint_below"]

logger = logging.getLogger("mcp_middleware.handlers")

_DEPTH = 16  # the longest ``.app`` chain followed to the app (_served)

# every tool declares the size of its results (``_result_shapes.declared_size``)
_RESULT_SIZE = "anthropic/maxResultSizeChars"


class ServedApp:
    """The app's side of a :class:`~mcp_middleware.handlers.Server`: what it serves, and when that
    is built again."""

    app: ASGIApp
    route_app: ASGIApp
    settings: Settings
    _tool_filter: ToolFilter
    prepared: bool
    catalog: Catalog
    features: Features
    _app_ref: Any
    _below: bool  # whether the app served is below us: its own stack runs for a call (_served)
    _seen_routes: object
    reply_cache: dict[tuple[str, str, str], bytes]
    listeners: Listeners
    info: dict[str, str]
    memo: dict[object, Any]
    _instructions: str | None
    forward_names: frozenset[bytes]
    credentials: tuple[bytes, ...]
    identity: Identity
    callers: tuple[bytes, ...]
    query_keys: Mapping[str, bytes]

    # -- identity and catalog: built once, from the app that serves the first MCP request ----------
    def prepare(self, scope: Scope) -> None:
        """Build the catalog and identity; the endpoint calls it while ``prepared`` is False."""
        app, self._below = _served(self.app, scope)
        self._app_ref = app
        self.memo.clear()
        self._seen_routes = self._routes_version()
        self._load_catalog()
        name = self.settings.name or getattr(app, "title", None) or "mcp-middleware"
        version = self.settings.version or getattr(app, "version", None) or "0.0.0"
        self.info = {"name": str(name), "version": str(version)}
        if self._instructions is None:
            description = getattr(app, "description", None)
            self._instructions = str(description) if description else None
        if len(self.catalog.tools) > 40:
            logger.warning(
                "MCP endpoint exposes %d tools; Cursor handles about 40 and Copilot caps at 128 (with its "
                "own tools): consider tool filters",
                len(self.catalog.tools),
            )
        self.prepared = True  # last: a build that raised is tried again on the next request

    def _load_catalog(self) -> None:
        """The tools and features of the app's routes, and the headers its calls forward."""
        self.catalog = catalog_from_app(
            self._app_ref,
            tool_filter=self._tool_filter,
            max_name_length=self.settings.max_tool_name_length,
            exclude_paths=self.settings.paths,
            forwarded=self.settings.forward_headers,
            tool_names=dict(self.settings.tool_names),
        )
        declared = {_RESULT_SIZE: declared_size(self.settings.max_result_chars)}
        for spec in self.catalog.tools:  # (before tools/list is first serialised: see _http._LISTS)
            spec.tool["_meta"] = dict(declared)
        self.features = Features.from_catalog(self.catalog)
        # API keys in the MCP request's query string travel as pseudo-headers (see query_keys)
        self.query_keys = self.catalog.query_keys
        keys = self.catalog.credential_headers | frozenset(self.query_keys.values())
        self.forward_names = FORWARDED | self.settings.forward_headers | keys
        self._hide_headers(frozenset(name.lower() for name in self.forward_names))
        self._know_credentials(keys, self.catalog.credential_cookies)
        app = self.app
        # the app's 500 handler, which its ServerErrorMiddleware above us never calls for a call
        handler = None if self._below else error_handler_of(self._app_ref)
        if handler is not None:
            app = AppErrorHandler(app, handler)
        self.route_app = QueryKeys(app) if self.query_keys else app

    def _hide_headers(self, names: frozenset[bytes]) -> None:
        """No result of this app's shows a header of these names (its credential headers): the
        server's call limits carry them (``handlers.Server``), its own, never another app's in the
        process."""

    def _know_credentials(self, keys: frozenset[bytes], cookies: frozenset[str] = frozenset()) -> None:
        """``credentials``: every credential a call may carry (``keys``: the app's API keys; the
        ``forward_headers``), in a fixed order, which makes a result private; ``identity``: what of
        them names the caller (``cookies``: the app's cookie schemes' names; :mod:`._identity`);
        ``callers``: what tells handshake-era callers apart (``caller_key``), the identity's headers
        and, with ``session_ids``, the session id (the handshake era refuses one it did not sign
        before any caller key is made), the identity's cookie after them."""
        self.credentials = tuple(sorted(CREDENTIALS | keys | self.settings.forward_headers))
        # Authorization and the API keys name a user; a forwarded header may be shared by all
        self.identity = Identity(self.credentials, cookies, CREDENTIALS | keys)
        self.callers = self.identity.headers + ((b"mcp-session-id",) if self.settings.session_ids else ())

    # -- list changes ------------------------------------------------------------------------------
    async def list_changed(self, kind: str) -> None:
        """A route said its list changed: rebuild what is served, then tell listening clients."""
        if self.prepared:
            self._rebuild()
        self.listeners.publish(kind)

    def resource_updated(self, uri: str) -> None:
        """Tell the listen streams that subscribed to ``uri`` (2026-07-28) that it changed."""
        self.listeners.resource_updated(uri)

    def refresh(self) -> None:
        """Notice routes added or removed at run time (checked on list requests, when a listen
        stream names URIs and while listen streams are open, not on every call: the check walks
        the route table)."""
        if not self.prepared or self._routes_version() == self._seen_routes:
            return
        before = self._lists()
        self._rebuild()
        after = self._lists()
        for kind in ("tools", "prompts", "resources"):
            if before[kind] != after[kind]:
                self.listeners.publish(kind)

    def _routes_version(self) -> object:
        """What changes when a route is added or taken off anywhere in the app: for the app and
        each router and app mounted in it, the number of its routes (also a route taken off a
        list, or added to a Router) and FastAPI's version (what its routers' methods add)."""
        marks: list[object] = []
        for node, routes in _routers(self._app_ref, 0):
            version = getattr(getattr(node, "router", None), "_get_routes_version", None)
            marks.append((len(routes), version() if callable(version) else None))
        return tuple(marks)

    def _rebuild(self) -> None:
        self.reply_cache.clear()
        for node, _ in _routers(self._app_ref, 0):
            if hasattr(node, "openapi_schema"):
                node.openapi_schema = None  # FastAPI caches the document, a mounted FastAPI app too
        self._seen_routes = self._routes_version()
        self._load_catalog()

    def _lists(self) -> dict[str, object]:
        features = self.features
        return {
            "tools": [spec.tool for spec in self.catalog.tools],
            "prompts": [e.wire for e in features.prompts.values()],
            "resources": ([e.wire for e in features.resources.values()], [e.wire for e in features.templates.values()]),
        }


def _served(app: Any, scope: Scope) -> tuple[Any, bool]:
    """The app whose routes are served, and whether it is below us (its ``ServerErrorMiddleware``
    runs for a call). From ``app``, what we wrap, the ``.app`` that Starlette's middlewares keep is
    followed (at most ``_DEPTH`` steps, which also ends a cycle, never into another
    MCPMiddleware, which answers its own endpoint) to the first object with routes or
    ``openapi()``: an app wrapped directly (``MCPMiddleware(app)``) or by hand in other middlewares
    (``MCPMiddleware(CORSMiddleware(app))``), served as it is or mounted in another app. When that
    is the router of ``scope["app"]``, we are in that application's stack (``add_middleware``): it
    is the app served, and its stack is above us. Without either, ``scope["app"]``, else ``app``
    itself, which the catalog's warning then names."""
    outer = scope.get("app")
    node = app
    for _ in range(_DEPTH):  # (a cycle of ``.app`` ends here too)
        if _has_routes(node):
            if node is getattr(outer, "router", None):
                return outer, False
            return node, True
        node = getattr(node, "app", None)
        if node is None or isinstance(getattr(node, "server", None), ServedApp):
            break
    return (app, True) if outer is None else (outer, False)


def endpoint_below(app: Any) -> Any:
    """Where the way :func:`_served` follows from ``app`` (the ``.app`` chain, at most ``_DEPTH``
    steps) ends: the first MCPMiddleware on it, else the app with routes (whose own
    ``add_middleware`` list Starlette builds later; its mounted apps' endpoints have paths of their
    own); None without either. Asked once, when a middleware is built (not per request)."""
    node = app
    for _ in range(_DEPTH):  # (a cycle of ``.app`` ends here too)
        if node is None or _has_routes(node) or isinstance(getattr(node, "server", None), ServedApp):
            return node
        node = getattr(node, "app", None)
    return None


def _has_routes(node: Any) -> bool:
    """Whether ``node`` is an app or router: it has routes or ``openapi()`` (a ``routes`` property
    that raises counts: the catalog says so)."""
    try:
        return getattr(node, "routes", None) is not None or callable(getattr(node, "openapi", None))
    except Exception:
        return True


def _routers(app: Any, depth: int) -> Iterator[tuple[Any, list[Any]]]:
    """``app`` and the routers and apps mounted in it (a bounded walk), each with its routes."""
    routes = readable_routes(app)  # (an app's own property may raise: logged once)
    if routes is None:
        return
    yield app, routes
    if depth < 8:
        for route in routes:
            if readable_routes(route):  # a Mount (of a Router or an app with routes)
                yield from _routers(getattr(route, "_base_app", route), depth + 1)
