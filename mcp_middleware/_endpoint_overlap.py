"""The catalog's warnings about the app's routes the MCP endpoint's path takes over.

Part of :mod:`mcp_middleware.catalog`, which calls them when the tools are built. The endpoint
answers its path (``exclude_paths``: with and without the trailing slash) before the app's router
sees a request, so a route there is unreachable for plain HTTP clients (they get the endpoint's
JSON-RPC errors; a GET a 405), and each function names such routes, once (``warn_once``):

* :func:`warn_shadowed`: the document's operations at that very path (they are no tools either);
* :func:`warn_answered`: the document's templated operations that would answer it
  (``GET /{name}`` and ``path="/api"``), as the router would hand it (``RouteOrder.answers``);
* :func:`warn_hidden`: the routes the document does not list (FastAPI's ``/docs`` and
  ``/openapi.json``, ``include_in_schema=False`` routes, a mount of unknown routes, such as
  ``StaticFiles``, whose prefix the path is under), read from the app's routes as its router tries
  them (``RouteOrder.reached``); without them (a router that tries its routes its own way, a
  document given to ``build_catalog`` alone) nothing is said of them.

A catch-all (``/{full_path:path}``, a single-page app's fallback; a mount at the root) answers every
path: no path of the endpoint's own would keep it whole, so it is never named.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Final

from mcp_middleware._naming import _METHODS
from mcp_middleware._once import warn_once
from mcp_middleware._route_order import RouteOrder, _Node, template_answers

__all__ = ["warn_answered", "warn_hidden", "warn_shadowed"]

logger = logging.getLogger("mcp_middleware.catalog")

# a route that answers every path (a single-page app's fallback), as written: its one parameter a :path
_CATCH_ALL: Final = re.compile(r"/\{[^{}:]+:path\}")


def warn_shadowed(openapi: Mapping[str, Any], endpoint: frozenset[str]) -> None:
    """Warn about the app's operations at a path the MCP endpoint answers (``exclude_paths``: its
    path, with and without the trailing slash): the middleware takes them over, so plain HTTP
    clients get the endpoint's JSON-RPC errors, and they are no tools."""
    paths = openapi.get("paths")
    if not endpoint or not isinstance(paths, Mapping):
        return
    taken = [
        f"{method.upper()} {path}"
        for path in sorted(endpoint.intersection(key for key in paths if isinstance(key, str)))
        if isinstance(item := paths[path], Mapping)
        for method in _METHODS
        if isinstance(item.get(method), Mapping)
    ]
    if taken:
        warn_once(
            logger,
            "The MCP endpoint's path (MCPMiddleware's path option, %s) is also the app's route(s) %s: the "
            "endpoint answers there, so plain HTTP clients get its JSON-RPC errors and no tool is made of "
            "them; give the middleware a path of its own",
            " and ".join(repr(path) for path in sorted(endpoint)),
            ", ".join(taken),
        )


def warn_answered(
    openapi: Mapping[str, Any],
    endpoint: frozenset[str],
    route_paths: Mapping[tuple[str, str], str],
    order: RouteOrder | None,
    owners: Mapping[tuple[str, str], Any],
) -> None:
    """Warn about the app's templated operations that would answer a path the MCP endpoint answers
    (``GET /{name}`` and ``path="/api"``): plain HTTP clients get the endpoint's errors there. Each
    route is tested as the router would (``RouteOrder.answers``: its converters, its mounts, the
    routes tried before it); without the app's routes, its path template (``template_answers``).
    A catch-all (``/{full_path:path}``, a single-page app's fallback) is left out: it answers
    every path, so no path of the endpoint's own would keep it whole, and the advice to give the
    middleware one could not be followed."""
    paths = openapi.get("paths")
    if not endpoint or not isinstance(paths, Mapping):
        return

    def answers(path: str, method: str, target: str) -> bool:  # whether the operation answers ``target``
        known = order.answers(path, method, owners.get((path, method)), target) if order is not None else None
        return known if known is not None else template_answers(route_paths.get((path, method), path), target)

    answered = [
        f"{method} {path}"
        for path, item in paths.items()
        if isinstance(path, str) and "{" in path and isinstance(item, Mapping)
        for method in (m.upper() for m in _METHODS if isinstance(item.get(m), Mapping))  # as the routes name it
        if not _CATCH_ALL.fullmatch(route_paths.get((path, method), path))
        and any(answers(path, method, target) for target in endpoint)
    ]
    if answered:
        warn_once(
            logger,
            "The MCP endpoint's path (MCPMiddleware's path option, %s) is one the app's route(s) %s would answer: "
            "the endpoint answers it instead, so plain HTTP clients get its JSON-RPC errors there; give the "
            "middleware a path of its own",
            " and ".join(repr(path) for path in sorted(endpoint)),
            ", ".join(answered),
        )


def warn_hidden(openapi: Mapping[str, Any], endpoint: frozenset[str], order: RouteOrder | None) -> None:
    """Warn about the app's routes the document does not list that a request for a path the
    endpoint answers would have reached (:meth:`RouteOrder.reached`): a route (FastAPI's docs, one
    ``include_in_schema=False``), or a mount of unknown routes whose prefix the path is under. One
    the document lists (a mount: some operation under its prefix) is the other warnings'; a
    catch-all and a mount at the root are left out."""
    paths = openapi.get("paths")
    listed: Mapping[Any, Any] = paths if isinstance(paths, Mapping) else {}
    if order is None or not endpoint:
        return
    named: list[str] = []
    for target in sorted(endpoint):
        for node, methods in order.reached(target):
            label = _unlisted(node, methods, listed)
            if label and label not in named:
                named.append(label)
    if named:
        warn_once(
            logger,
            "The MCP endpoint's path (MCPMiddleware's path option, %s) is one the app's route(s) %s, which the "
            "app's OpenAPI document does not list, would answer: the endpoint answers it instead, so plain HTTP "
            "clients get its JSON-RPC errors there (GET: a 405); give the middleware a path of its own",
            " and ".join(repr(path) for path in sorted(endpoint)),
            ", ".join(named),
        )


def _unlisted(node: _Node, methods: frozenset[str] | None, listed: Mapping[Any, Any]) -> str:
    """How the warning names ``node`` taking requests for ``methods`` (None: any), or "" when the
    document lists it or it is a catch-all."""
    if node.mount:
        inside = any(isinstance(path, str) and path.startswith(node.path + "/") for path in listed)
        return f"Mount {node.path} ({type(_mounted(node.route)).__name__})" if node.path and not inside else ""
    if _CATCH_ALL.fullmatch(node.written):
        return ""
    if methods is None:
        return f"{node.path} (any method)"
    item = listed.get(node.path)
    shown = sorted(methods - {"HEAD"} if "GET" in methods else methods)  # HEAD goes with GET
    return ", ".join(
        f"{method} {node.path}" for method in shown if not (isinstance(item, Mapping) and method.lower() in item)
    )


def _mounted(mount: Any) -> Any:
    """What a mount serves, before the middleware it was given (Starlette keeps it as ``_base_app``)."""
    return getattr(mount, "_base_app", None) or mount.app
