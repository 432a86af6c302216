"""An OpenAPI 3 document made from a Starlette app's routes, for an app without ``openapi()``;
for an app with one (FastAPI), its own document with the operations of the apps mounted in it.

Part of :mod:`mcp_middleware.catalog`, which hands the document to ``build_catalog`` like any
other: names, filters, annotations, requests and results are the same code as for FastAPI.

An app with ``openapi()`` (:func:`app_document`): its document leaves out the apps mounted in it,
whose own documents (FastAPI's) are added under their prefixes by the same code as for a FastAPI
app mounted in a Starlette app (:mod:`mcp_middleware._mounted_documents`), into a copy (FastAPI
caches its document); without such a mount, the document is the app's own, untouched.

The walk (:func:`route_document`) follows ``app.routes`` in order, as Starlette matches them:
    - a ``Route`` (``include_in_schema`` true) gives one operation per method
      (:mod:`mcp_middleware._route_endpoints` says which). The first route of a path and method
      wins, as in Starlette.
    - a ``Mount`` adds its prefix (parameters included) to what it holds: its routes (a
      ``Router``, a Starlette app), walked the same way; or an app with ``openapi()`` (FastAPI),
      whose own operations are taken under the prefix, and those of the apps mounted in it
      (:mod:`mcp_middleware._mounted_documents`).
    - ``WebSocketRoute``, ``Host`` (the sub-request carries the MCP request's ``Host``), a mount
      of anything else (``StaticFiles``, a bare ASGI app) and hidden routes give nothing; they
      are listed in :attr:`RouteDocument.found` for the log of an app that gives no operation.

Each operation:
    - ``operationId`` and path parameters from the route (:mod:`mcp_middleware._route_endpoints`;
      ``path`` keeps its converter through ``route_paths``), unless the YAML declares them.
    - the endpoint's docstring: its prose the ``description``, merged with the operation its YAML
      part declares (:mod:`mcp_middleware._route_docstrings`).
    - without a query parameter in the YAML, a free ``query`` object (OpenAPI's default ``form``
      style with ``explode``: each property is a query parameter), so a route reading
      ``request.query_params`` can be called; POST, PUT and PATCH without a YAML
      ``requestBody`` take a free JSON object as ``body`` (not DELETE, whose body HTTP leaves
      undefined). Both are :mod:`mcp_middleware._free_arguments`', which also settles, once the
      document is complete, what of the YAML it cannot read: an unresolved ``$ref`` as the
      ``requestBody`` or a parameter (the free ``body``; the free ``query`` object), one in a
      schema (any value), a body method's ``requestBody`` without ``content`` (the free ``body``).
    - an ``x-mcp-input-schema``'s properties that no parameter maps are the route's query
      parameters or its JSON body's properties (:mod:`mcp_middleware._route_input_schema`).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import Mount, Route, compile_path

from mcp_middleware._free_arguments import BODY_METHODS, FREE_BODY, FREE_QUERY, free_declared
from mcp_middleware._mounted_documents import _documented_routes, _Mounts
from mcp_middleware._route_docstrings import _Docstrings
from mcp_middleware._route_endpoints import _endpoints, _path_parameter
from mcp_middleware._route_input_schema import _query_parameter, _unmapped
from mcp_middleware._route_order import RouteOrder, readable_routes

__all__ = ["FREE_BODY", "FREE_QUERY", "RouteDocument", "app_document", "route_document"]

logger = logging.getLogger("mcp_middleware.catalog")


@dataclass(slots=True)
class RouteDocument:
    """The document of an app's routes, and what the catalog needs beside it."""

    document: dict[str, Any]
    # the template of a route with a ``:path`` parameter, by document path and method
    route_paths: dict[tuple[str, str], str] = field(default_factory=dict)
    # the apps with ``openapi()`` whose operations are in the document, the app itself first when
    # it has one: (document prefix, route prefix with its converters, app)
    mounted: list[tuple[str, str, Any]] = field(default_factory=list)
    found: list[str] = field(default_factory=list)  # what gave no operation, for the log
    # the route object each operation came from, by document path and method (upper case): the
    # tool's own route, which its guard finds by identity (:mod:`mcp_middleware._route_order`)
    owners: dict[tuple[str, str], Any] = field(default_factory=dict)
    # the document prefix of the mounted app with ``openapi()`` each operation came from, by
    # document path and method (upper case); one not there is the app's own (prefix ""): whose
    # routes an OAuth2 scheme's relative URL is read among (:mod:`mcp_middleware._token_routes`)
    apps: dict[tuple[str, str], str] = field(default_factory=dict)


def route_document(app: Any) -> RouteDocument | None:
    """The document of ``app``'s routes; None when it has no ``routes``."""
    routes = getattr(app, "routes", None)
    if not isinstance(routes, Iterable):
        return None
    title = getattr(app, "title", None)
    walk = _Walk(
        {
            "openapi": "3.1.0",
            "info": {"title": str(title) if title else type(app).__name__, "version": "0.0.0"},
            "paths": {},
        }
    )
    walk.taking.add(id(app))
    walk.routes(routes, "")
    if walk.components:
        walk.result.document["components"] = walk.components
    for (name, declared), (method, operation) in zip(walk.declared, walk.operations, strict=True):
        free_declared(walk.result.document, name, method, declared, operation)
    if walk.unread:
        logger.info(
            "PyYAML is not installed: the YAML part of the docstrings of %s is ignored (pip install pyyaml)",
            ", ".join(walk.unread),
        )
    return walk.result


def app_document(app: Any, document: Mapping[str, Any]) -> RouteDocument:
    """``document`` (``app``'s own, from its ``openapi()``) with the operations of the apps with
    ``openapi()`` mounted in ``app``, under their prefixes."""
    paths = document.get("paths")
    walk = _Walk(
        {
            **document,
            "paths": {p: dict(i) if isinstance(i, Mapping) else i for p, i in paths.items()}
            if isinstance(paths, Mapping)
            else {},
        }
    )
    components = document.get("components")
    if isinstance(components, Mapping):  # taken first: a mounted app's other value of a name is renamed
        walk.components = {str(s): dict(e) for s, e in components.items() if isinstance(e, Mapping)}
    walk.result.mounted.append(("", "", app))
    walk.sources = {(str(p), str(k)): ("", app) for p, i in walk.paths.items() if isinstance(i, Mapping) for k in i}
    walk.result.owners.update(_documented_routes(app, walk.paths))
    walk.taking.add(id(app))
    walk.mounts_in(app, "")
    if len(walk.result.mounted) == 1:
        return RouteDocument(dict(document), mounted=walk.result.mounted, owners=walk.result.owners)
    walk.result.document["components"] = walk.components
    return walk.result


class _Walk(_Docstrings, _Mounts):
    def __init__(self, document: dict[str, Any]) -> None:
        self.result = RouteDocument(document)
        self.paths: dict[str, dict[str, Any]] = document["paths"]
        self.components: dict[str, dict[str, Any]] = {}
        self.unread: list[str] = []  # endpoints whose YAML went unread (no PyYAML)
        self.declared: list[tuple[str, dict[str, Any]]] = []  # each endpoint's YAML operation
        self.operations: list[tuple[str, dict[str, Any]]] = []  # the operation made of each, and its method
        self.taking: set[int] = set()
        self.sources: dict[tuple[str, str], tuple[str, Any]] = {}
        self.orders: dict[int, RouteOrder | None] = {}

    def routes(self, routes: Iterable[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Route):
                if route.include_in_schema:
                    self.route(route, prefix)
                else:
                    self.result.found.append(f"Route {prefix}{route.path} (include_in_schema=False)")
            elif isinstance(route, Mount):
                self.mount(route, prefix)
            else:
                where = getattr(route, "path", None) or getattr(route, "host", None) or ""
                self.result.found.append(f"{type(route).__name__} {prefix}{where}".rstrip())

    def mount(self, mount: Mount, prefix: str) -> None:
        path = prefix + mount.path
        inner = getattr(mount, "_base_app", mount.app)  # without the mount's own middleware
        if callable(getattr(inner, "openapi", None)):
            self.mounted(inner, path)
            return
        if id(inner) in self.taking:  # mounted in itself: walked once
            return
        routes = readable_routes(mount)
        if routes is None:
            self.result.found.append(f"Mount {path or '/'} ({type(inner).__name__}, its routes cannot be read)")
        elif routes:
            self.taking.add(id(inner))
            self.routes(routes, path)
            self.taking.discard(id(inner))
        else:
            self.result.found.append(f"Mount {path or '/'} ({type(inner).__name__})")

    def route(self, route: Route, prefix: str) -> None:
        template = prefix + route.path
        try:
            _, path_format, convertors = compile_path(template)
        except (ValueError, AssertionError):  # a parameter in both the mount and the route
            self.result.found.append(f"Route {template} (its path does not compile)")
            return
        endpoints = _endpoints(route)
        if not endpoints:
            self.result.found.append(f"Route {template} (an ASGI app without methods=[...])")
            return
        item = self.paths.setdefault(path_format, {})
        for method, handler, operation_id in endpoints:
            key = method.lower()
            if key in item:
                continue  # Starlette routes the first match
            item[key] = self.operation(method, handler, operation_id, convertors, template)
            self.result.owners[(path_format, method)] = route
            if ":path}" in template:
                self.result.route_paths[(path_format, method)] = template

    def operation(
        self, method: str, handler: Any, operation_id: str | None, convertors: Mapping[str, Any], template: str
    ) -> dict[str, Any]:
        operation: dict[str, Any] = {}
        if operation_id:
            operation["operationId"] = operation_id
        prose, declared = self.docstring(handler, template)
        if prose:
            operation["description"] = prose
        operation.update(declared)
        if isinstance(operation.get("responses"), Mapping):  # YAML reads ``200:`` as an integer
            operation["responses"] = {str(code): value for code, value in operation["responses"].items()}
        params = operation.get("parameters")
        params = [p for p in params if isinstance(p, Mapping)] if isinstance(params, list) else []
        named = {(p.get("name"), p.get("in")) for p in params}
        path_params = [_path_parameter(n, c) for n, c in convertors.items() if (n, "path") not in named]
        explicit = operation.get("x-mcp-input-schema", {})
        unmapped = _unmapped(explicit, {*convertors, *(n for n, _ in named)})
        if unmapped and method in BODY_METHODS:
            if "requestBody" not in operation:  # else it is the document's rule: into an open body
                schema = {"type": "object", "properties": unmapped}
                operation["requestBody"] = {"content": {"application/json": {"schema": schema}}}
        elif unmapped:
            params += [_query_parameter(n, s, explicit) for n, s in unmapped.items()]
        if not any(p.get("in") == "query" for p in params):
            params.append(copy.deepcopy(dict(FREE_QUERY)))
        operation["parameters"] = path_params + params
        if method in BODY_METHODS and "requestBody" not in operation:
            operation["requestBody"] = copy.deepcopy(dict(FREE_BODY))
        if declared:
            self.operations.append((method, operation))
        return operation
