"""The operations of a mounted app with ``openapi()`` (FastAPI), under the mount's prefix.

Part of :mod:`mcp_middleware._route_document`: the mounted app's own document is taken (its
components merged into the document's, a name already taken by another value renamed, its
``oauth2`` schemes with a relative URL marked with the mount's prefix first), each
operation with FastAPI's generated id made for the full path, the mount's path parameters added,
and the document's ``security`` made the operation's (none, ``[]``, when it has none: the
document it joins may have a top-level ``security`` that names other routes' schemes).

An app's own document leaves out the apps mounted in it, so the apps mounted in an app with
``openapi()`` (the middleware's own FastAPI app, or one mounted in a Starlette app) are taken
the same way, at any depth: under ``Mount``s of routes or of a ``Router``, in an included router
(newer FastAPI serves its mounts), in a mounted FastAPI app. An app's own operations are taken
before its mounts', but one of the same path and method as a mounted app's gives way to it when
the app's router tries the mount first (:meth:`~mcp_middleware._route_order.RouteOrder.mounted_first`):
the operation listed is the one a call reaches. An app or router mounted in itself is walked
once. A mounted app without ``openapi()`` there (``StaticFiles``, a Starlette app, a WSGI or
GraphQL app) is in no document: it gives no operation, and one INFO line names its mount.
"""

from __future__ import annotations

import copy
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from starlette.routing import Mount, compile_path

from mcp_middleware._naming import _generated_prefix
from mcp_middleware._once import warn_once
from mcp_middleware._route_endpoints import _ORDER, _path_parameter
from mcp_middleware._route_order import RouteOrder, app_routes, readable_routes, route_order
from mcp_middleware._token_routes import MOUNT_KEY, own_host

if TYPE_CHECKING:
    from mcp_middleware._route_document import RouteDocument

__all__ = ["_Mounts"]

logger = logging.getLogger("mcp_middleware.catalog")

_OPERATIONS: Final = frozenset({*_ORDER, "OPTIONS", "TRACE"})  # what a path item of a mounted document holds
_NON_WORD: Final = re.compile(r"\W")
_FLOW_URLS: Final = ("authorizationUrl", "tokenUrl", "refreshUrl")  # an oauth2 flow's URLs


class _Mounts:
    """Takes mounted apps' documents for :class:`~mcp_middleware._route_document._Walk`."""

    result: RouteDocument
    paths: dict[str, dict[str, Any]]
    components: dict[str, dict[str, Any]]
    # the apps whose operations are being taken, or whose mounts looked into (an app mounted in itself: once)
    taking: set[int]
    # where an operation from an app's own document came from: (its document prefix, the app), by path and method
    sources: dict[tuple[str, str], tuple[str, Any]]
    orders: dict[int, RouteOrder | None]  # each such app's routes, as its router tries them (when asked)

    def mounted(self, app: Any, prefix: str) -> None:
        """The operations of a mounted app's own document, under the mount's prefix, then those
        of the apps mounted in it."""
        if id(app) in self.taking:
            return
        try:
            _, prefix_format, convertors = compile_path(prefix) if prefix else (None, "", {})
        except (ValueError, AssertionError):  # a parameter in two mounts' paths
            warn_once(logger, "Mount %s: its path does not compile; its routes are no MCP tools", prefix)
            self.result.found.append(f"Mount {prefix} (its path does not compile)")
            return
        self.taking.add(id(app))
        self.document_of(app, prefix, prefix_format, convertors)
        self.mounts_in(app, prefix)
        self.taking.discard(id(app))

    def document_of(self, app: Any, prefix: str, prefix_format: str, convertors: Mapping[str, Any]) -> None:
        """The operations of ``app``'s own document, under the prefix (its route and document forms)."""
        try:
            inner = app.openapi()
        except Exception:
            logger.warning("%r.openapi() failed; its routes under %s are no MCP tools", app, prefix, exc_info=True)
            self.result.found.append(f"Mount {prefix} ({type(app).__name__}, openapi() failed)")
            return
        if not isinstance(inner, Mapping) or not isinstance(inner.get("paths"), Mapping):
            self.result.found.append(f"Mount {prefix} ({type(app).__name__}, no OpenAPI paths)")
            return
        inner = _renamed(copy.deepcopy(dict(inner)), self.take_components(inner.get("components"), prefix_format))
        security = inner.get("security")
        owners = _documented_routes(app, inner["paths"])
        for path, item in inner["paths"].items():
            if not isinstance(path, str) or not isinstance(item, Mapping):
                continue
            full = prefix_format + path
            target = self.paths.setdefault(full, {})
            for key, operation in item.items():
                if key in target and not self.reached_first(full, key, app):
                    continue
                if isinstance(operation, dict) and key.upper() in _OPERATIONS:
                    operation = _prefixed(operation, path, full, key, convertors, security)
                target[key] = operation
                self.sources[(full, key)] = (prefix_format, app)
                self.result.apps[(full, key.upper())] = prefix_format
                owner = owners.get((path, key.upper()))
                if owner is None:
                    self.result.owners.pop((full, key.upper()), None)
                else:
                    self.result.owners[(full, key.upper())] = owner
        self.result.mounted.append((prefix_format, prefix, app))

    def reached_first(self, full: str, key: str, app: Any) -> bool:
        """Whether ``app``'s operation of ``full`` and ``key`` replaces the one already there: the
        own operation of an app it is mounted in, whose router tries the mount first."""
        source = self.sources.get((full, key))
        if source is None:  # an earlier mount's, or a route walked in order: tried first
            return False
        prefix, outer = source
        if outer is app or id(outer) not in self.taking or not full.startswith(prefix):
            return False
        if id(outer) not in self.orders:
            self.orders[id(outer)] = route_order(outer)
        order = self.orders[id(outer)]
        return order is not None and order.mounted_first(full[len(prefix) :], key.upper())

    def mounts_in(self, app: Any, prefix: str) -> None:
        """The apps mounted in an app with ``openapi()``, which its document leaves out."""
        for mount in _mounts(readable_routes(app) or ()):
            self.documented(mount, prefix + mount.path)

    def documented(self, mount: Mount, path: str) -> None:
        """A mount in an app with ``openapi()``: an app with one of its own brings its
        operations; in routes or a router, the mounts are looked into; anything else is in no
        document, which one INFO line says."""
        inner = getattr(mount, "_base_app", mount.app)  # without the mount's own middleware
        if callable(getattr(inner, "openapi", None)):
            self.mounted(inner, path)
            return
        if id(inner) in self.taking:  # mounted in itself: looked into once
            return
        routes = readable_routes(mount) or []
        nested = list(_mounts(routes))
        self.taking.add(id(inner))
        for route in nested:
            self.documented(route, path + route.path)
        self.taking.discard(id(inner))
        if not routes or len(nested) < len(routes):
            what = f"Mount {path or '/'} ({type(inner).__name__})"
            logger.info(
                "%s has no openapi(): its routes are in no OpenAPI document of the app it is mounted in, so "
                "they are no MCP tools",
                what,
            )
            self.result.found.append(what)

    def take_components(self, components: Any, prefix: str) -> dict[str, str]:
        """Adds a mounted document's components to the document's, an OAuth2 scheme with a
        relative URL marked with the mount's ``prefix`` (:func:`_under_mount`); a name already taken by another
        value gets a number. Returns the references (and security scheme names, as
        ``securitySchemes:name``) so renamed."""
        renamed: dict[str, str] = {}
        added: list[tuple[dict[str, Any], str]] = []
        if not isinstance(components, Mapping):
            return renamed
        for section, entries in components.items():
            if not isinstance(entries, Mapping):
                continue
            target = self.components.setdefault(str(section), {})
            for name, value in entries.items():
                if section == "securitySchemes":
                    value = _under_mount(value, prefix)
                new, number = str(name), 2
                while new in target and target[new] != value:
                    new, number = f"{name}_{number}", number + 1
                if new != name:
                    renamed[f"#/components/{section}/{name}"] = f"#/components/{section}/{new}"
                    if section == "securitySchemes":
                        renamed[f"securitySchemes:{name}"] = new
                if new not in target:
                    target[new] = copy.deepcopy(value)
                    added.append((target, new))
        for target, name in added:  # their references to one another
            target[name] = _renamed(target[name], renamed)
        return renamed


def _under_mount(scheme: Any, prefix: str) -> Any:
    """A mounted document's security scheme, marked with the mount's ``prefix``
    (``MOUNT_KEY``) when an ``oauth2`` flow has a URL of the app's own: a relative URL
    (``tokenUrl="token"``) is read within the mount (review s10g;
    :mod:`~mcp_middleware._token_routes`), as the app alone would read it from its root, and an
    absolute path or a loopback URL (``"/token"``) too when it names no route of the whole app
    (review s11). The parent's scheme of the same URL is then another value (review s10f), and
    each names its own route."""
    flows = scheme.get("flows") if isinstance(scheme, Mapping) and scheme.get("type") == "oauth2" else None
    if not prefix or not isinstance(flows, Mapping):
        return scheme
    urls = [flow.get(field) for flow in flows.values() if isinstance(flow, Mapping) for field in _FLOW_URLS]
    if not any(isinstance(url, str) and _own_url(url) for url in urls):
        return scheme
    return {**scheme, MOUNT_KEY: prefix}


def _own_url(url: str) -> bool:
    """Whether ``url`` has a path of the app's: relative, absolute, or of a loopback host (not
    ``https://auth.example.com/token``, ``//host/...``)."""
    parts = urlsplit(url)
    return bool(parts.path) and (not parts.netloc or own_host(parts.hostname))


def _prefixed(
    operation: dict[str, Any],
    path: str,
    full: str,
    method: str,
    convertors: Mapping[str, Any],
    security: Any,
) -> dict[str, Any]:
    """A mounted app's operation under the mount: FastAPI's generated id made for the full path
    (as FastAPI would have made it, so the catalog still shortens it to the function's name),
    the mount's path parameters added, the document's ``security`` made the operation's."""
    operation_id = operation.get("operationId")
    if isinstance(operation_id, str) and (function := _generated_prefix(operation_id, path)) is not None:
        operation["operationId"] = f"{function}{_NON_WORD.sub('_', full)}_{method}"
    if convertors:
        params = operation.get("parameters")
        params = params if isinstance(params, list) else []
        named = {(p.get("name"), p.get("in")) for p in params if isinstance(p, Mapping)}
        added = [_path_parameter(n, c) for n, c in convertors.items() if (n, "path") not in named]
        operation["parameters"] = added + params
    if "security" not in operation:
        operation["security"] = copy.deepcopy(security) if isinstance(security, list) else []
    return operation


def _mounts(routes: Iterable[Any]) -> Iterator[Mount]:
    """The mounts among ``routes``, an included router's too: newer FastAPI keeps an included
    router as one entry whose ``effective_route_contexts()`` give a mount as ``starlette_route``,
    under the include's prefix."""
    for route in routes:
        if isinstance(route, Mount):
            yield route
        included = getattr(route, "effective_route_contexts", None)
        if not callable(included):
            continue
        try:
            contexts = list(included())
        except Exception:  # another FastAPI's internals: its mounts stay unknown
            logger.debug("could not list the routes of %r", route, exc_info=True)
            continue
        yield from (m for c in contexts if isinstance(m := getattr(c, "starlette_route", None), Mount))


def _documented_routes(app: Any, paths: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
    """The route each operation of ``paths`` (``app``'s own document's) came from, by path and
    method (upper case), as the router holds it: the last FastAPI route (one with a ``unique_id``)
    in the schema of that path and method whose operation id is the operation's (FastAPI's document
    keeps the last of a path and method). An operation none matches has no entry."""
    entries = list(app_routes(app))
    found: dict[tuple[str, str], Any] = {}
    for entry in entries:
        path, unique_id = getattr(entry, "path_format", None), getattr(entry, "unique_id", None)
        if getattr(entry, "include_in_schema", False) is not True or not isinstance(unique_id, str):
            continue
        item = paths.get(path) if isinstance(path, str) else None
        for method in getattr(entry, "methods", None) or ():
            operation = item.get(str(method).lower()) if isinstance(item, Mapping) else None
            if isinstance(operation, Mapping) and operation.get("operationId") == (
                getattr(entry, "operation_id", None) or unique_id
            ):
                found[(str(path), str(method).upper())] = entry
    return found


def _renamed(value: Any, renamed: Mapping[str, str]) -> Any:
    """``value`` with its ``$ref``s and security requirements renamed (in place where it can)."""
    if not renamed:
        return value
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                value[key] = renamed.get(item, item)
            elif key == "security" and isinstance(item, list):
                value[key] = [
                    {renamed.get(f"securitySchemes:{k}", k): v for k, v in need.items()}
                    if isinstance(need, Mapping)
                    else need
                    for need in item
                ]
            else:
                value[key] = _renamed(item, renamed)
    elif isinstance(value, list):
        value[:] = [_renamed(item, renamed) for item in value]
    return value
