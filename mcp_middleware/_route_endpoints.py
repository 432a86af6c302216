"""A Starlette route's operations: each method's handler and operation id, and its path parameters.

Part of :mod:`mcp_middleware._route_document`:
    - methods: a function endpoint its ``methods`` (``GET`` by default), a ``HTTPEndpoint`` class
      the methods it defines (``get``, ``put``, ``post``, ``delete``, ``patch``, and ``head``),
      narrowed by ``methods=`` when given; another ASGI app as endpoint only the ``methods=`` it is
      given. ``HEAD`` is left out where ``GET`` is there (Starlette answers it with the GET
      handler), and ``OPTIONS`` always.
    - ``operationId``: the route's ``name`` (its function's name unless ``name=`` says
      otherwise), with ``_{method}`` appended for a class endpoint or a route of several methods
      (``Users_get``); none for a lambda, which the catalog then names ``{method}_{path}``.
    - path parameters from the route's converters, required (``int`` an integer at least 0,
      ``float`` a number at least 0, ``uuid`` a string of format ``uuid``, others a string; an
      app's own convertor's ``pattern`` is the tool's schema's, from its route guard:
      :func:`mcp_middleware._tool_schemas._path_text`).
"""

from __future__ import annotations

import functools
import inspect
import sys
from typing import Any, Final

from starlette.convertors import Convertor, FloatConvertor, IntegerConvertor, UUIDConvertor
from starlette.routing import Route

__all__ = ["_ORDER", "_endpoints", "_path_parameter"]

_ORDER: Final = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD")  # OPTIONS: never a tool


def _is_http_endpoint(endpoint: type) -> bool:
    """Whether ``endpoint`` is a ``starlette.endpoints.HTTPEndpoint`` class: never when that module
    was not imported (a class can only derive from it once it is), so it is not imported here."""
    module = sys.modules.get("starlette.endpoints")
    return module is not None and issubclass(endpoint, module.HTTPEndpoint)


def _endpoints(route: Route) -> list[tuple[str, Any, str | None]]:
    """(method, the handler whose docstring describes it, operation id) of each operation."""
    endpoint = route.endpoint
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    name = route.name if route.name and "<" not in route.name and route.name != "partial" else None
    if inspect.isclass(endpoint) and _is_http_endpoint(endpoint):
        defined = [m for m in _ORDER if callable(getattr(endpoint, m.lower(), None))]
        methods = [m for m in defined if route.methods is None or m in route.methods]
        if "GET" in methods and "HEAD" in methods:
            methods.remove("HEAD")
        return [(m, getattr(endpoint, m.lower()), f"{name}_{m.lower()}" if name else None) for m in methods]
    if not (inspect.isfunction(endpoint) or inspect.ismethod(endpoint)) and route.methods is None:
        return []  # an ASGI app: which methods it answers is its own business
    methods = [m for m in _ORDER if m in (route.methods or {"GET"})]
    if "GET" in methods and "HEAD" in methods:
        methods.remove("HEAD")
    several = len(methods) > 1
    return [(m, endpoint, f"{name}_{m.lower()}" if name and several else name) for m in methods]


def _path_parameter(name: str, convertor: Convertor[Any]) -> dict[str, Any]:
    schema: dict[str, Any]
    if isinstance(convertor, IntegerConvertor):
        schema = {"type": "integer", "minimum": 0}  # Starlette's pattern: digits only
    elif isinstance(convertor, FloatConvertor):
        schema = {"type": "number", "minimum": 0}
    elif isinstance(convertor, UUIDConvertor):
        schema = {"type": "string", "format": "uuid"}
    else:
        schema = {"type": "string"}
    return {"name": name, "in": "path", "required": True, "schema": schema}
