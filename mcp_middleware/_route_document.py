"""An OpenAPI 3 document made from a Starlette app's routes, for an app without ``openapi()``.

Part of :mod:`mcp_middleware.catalog`, which hands the document to ``build_catalog`` like any
other: names, filters, annotations, requests and results are the same code as for FastAPI.

The walk (:func:`route_document`) follows ``app.routes`` in order, as Starlette matches them:
    - a ``Route`` (``include_in_schema`` true) gives one operation per method: a function
      endpoint its ``methods`` (``GET`` by default), a ``HTTPEndpoint`` class the methods it
      defines (``get``, ``put``, ``post``, ``delete``, ``patch``, and ``head``), narrowed by
      ``methods=`` when given; another ASGI app as endpoint only the ``methods=`` it is given.
      ``HEAD`` is left out where ``GET`` is there (Starlette answers it with the GET handler),
      and ``OPTIONS`` always. The first route of a path and method wins, as in Starlette.
    - a ``Mount`` adds its prefix (parameters included) to what it holds: its routes (a
      ``Router``, a Starlette app), walked the same way; or an app with ``openapi()`` (FastAPI),
      whose own operations are taken under the prefix (:meth:`_Walk.mounted`).
    - ``WebSocketRoute``, ``Host`` (the sub-request carries the MCP request's ``Host``), a mount
      of anything else (``StaticFiles``, a bare ASGI app) and hidden routes give nothing; they
      are listed in :attr:`RouteDocument.found` for the log of an app that gives no operation.

Each operation:
    - ``operationId``: the route's ``name`` (its function's name unless ``name=`` says
      otherwise), with ``_{method}`` appended for a class endpoint or a route of several methods
      (``Users_get``); none for a lambda, which the catalog then names ``{method}_{path}``.
    - the endpoint's docstring is the ``description``. A YAML part as Starlette's
      ``SchemaGenerator`` reads it (after the last ``---``, or the whole docstring) is parsed with
      ``BaseSchemaGenerator.parse_docstring`` and, when it is an operation mapping, merged over
      the prose before it: ``summary``, ``description``, ``parameters``, ``requestBody``,
      ``responses``, ``tags``, any ``x-mcp-*`` key... When it is not (a NumPy section's
      ``-------``, a Markdown rule), the whole docstring is the description, silently. That needs
      PyYAML, which is no dependency of ours: without it, a part whose first line is an operation
      key (``responses:``...) is taken for unread YAML, so only the prose before it is used
      (logged once per build at INFO), and any other docstring is prose, whole. So is a part that
      does not parse, except that one starting with such a key is warned about. A ``$ref`` in
      it that the document cannot resolve (the components of the app's own ``SchemaGenerator``,
      which the middleware cannot see) is warned about and becomes a schema of any value naming
      it (:func:`_free_unresolved`).
    - path parameters from the route's converters, required (``int`` an integer at least 0,
      ``float`` a number at least 0, ``uuid`` a string of format ``uuid``, others a string;
      ``path`` keeps its converter through ``route_paths``), unless the YAML declares them.
    - without a query parameter in the YAML, a free ``query`` object (OpenAPI's default ``form``
      style with ``explode``: each property is a query parameter), so a route reading
      ``request.query_params`` can be called; POST, PUT and PATCH without a YAML
      ``requestBody`` take a free JSON object as ``body`` (not DELETE, whose body HTTP leaves
      undefined).
    - an ``x-mcp-input-schema``'s properties that no parameter maps are the route's query
      parameters (GET, DELETE, HEAD) or its JSON body's properties (POST, PUT and PATCH without
      a YAML ``requestBody``; with one, the catalog's rule: they go into a body that takes other
      properties), so they reach the route where it reads them. A query one's ``$ref`` into the
      input schema's ``$defs`` is resolved (the document has no ``$defs``), and one that may be an
      object (or an array of objects) is a parameter of ``application/json`` content: its value is
      sent as JSON text under its own name (:func:`_query_parameter`).
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from starlette.convertors import Convertor, FloatConvertor, IntegerConvertor, UUIDConvertor
from starlette.endpoints import HTTPEndpoint
from starlette.routing import Mount, Route, compile_path

from mcp_middleware._naming import _generated_prefix

__all__ = ["FREE_BODY", "FREE_QUERY", "RouteDocument", "route_document"]

logger = logging.getLogger("mcp_middleware.catalog")

_ORDER: Final = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD")  # OPTIONS: never a tool
_OPERATIONS: Final = frozenset({*_ORDER, "OPTIONS", "TRACE"})  # what a path item of a mounted document holds
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_NON_WORD: Final = re.compile(r"\W")
# keys that make a parsed docstring an operation (else it is prose that YAML happens to read:
# "Note: ..." is a mapping)
_OPERATION_KEYS: Final = frozenset(
    {"summary", "description", "operationId", "tags", "parameters", "requestBody", "responses", "deprecated"}
    | {"security", "externalDocs", "callbacks", "servers"}
)
# the first line of a YAML operation (comments and blank lines before it aside): what tells the YAML
# part of a docstring from prose without parsing it
_OPERATION_LINE: Final = re.compile(
    rf"(?:\s*#[^\n]*)*\s*(?:{'|'.join(sorted(_OPERATION_KEYS))}|x-[\w-]+)[ \t]*:(?:\s|$)"
)
_ABSENT: Final = object()
FREE_QUERY: Final[Mapping[str, Any]] = {
    "name": "query",
    "in": "query",
    "description": (
        "Query string parameters, by name: each value a string, number or boolean, or a list of them (the name "
        "repeated)."
    ),
    "schema": {"type": "object"},
}
FREE_BODY: Final[Mapping[str, Any]] = {
    "description": "The request's JSON body.",
    "content": {"application/json": {"schema": {"type": "object"}}},
}


@dataclass(slots=True)
class RouteDocument:
    """The document of an app's routes, and what the catalog needs beside it."""

    document: dict[str, Any]
    # the template of a route with a ``:path`` parameter, by document path and method
    route_paths: dict[tuple[str, str], str] = field(default_factory=dict)
    # the mounted apps with ``openapi()`` whose operations are in the document: (document prefix,
    # route prefix with its converters, app)
    mounted: list[tuple[str, str, Any]] = field(default_factory=list)
    found: list[str] = field(default_factory=list)  # what gave no operation, for the log


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
    walk.routes(routes, "")
    if walk.components:
        walk.result.document["components"] = walk.components
    for name, declared in walk.declared:
        missing: list[str] = []
        for key in ("parameters", "requestBody", "responses"):  # not the x-mcp-* schemas, with their $defs
            _free_unresolved(walk.result.document, declared.get(key), missing)
        if missing:
            logger.warning(
                "the docstring of %s refers to %s, which the middleware cannot see (the components of a "
                "SchemaGenerator are no part of its document): taken as any value. Inline the schema in the "
                "docstring, or give an x-mcp-input-schema",
                name,
                ", ".join(dict.fromkeys(missing)),
            )
    if walk.unread:
        logger.info(
            "PyYAML is not installed: the YAML part of the docstrings of %s is ignored (pip install pyyaml)",
            ", ".join(walk.unread),
        )
    return walk.result


class _Walk:
    def __init__(self, document: dict[str, Any]) -> None:
        self.result = RouteDocument(document)
        self.paths: dict[str, dict[str, Any]] = document["paths"]
        self.components: dict[str, dict[str, Any]] = {}
        self.unread: list[str] = []  # endpoints whose YAML went unread (no PyYAML)
        self.declared: list[tuple[str, dict[str, Any]]] = []  # each endpoint's YAML operation

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
        routes = mount.routes
        if routes:
            self.routes(routes, path)
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
        if unmapped and method in _BODY_METHODS:
            if "requestBody" not in operation:  # else it is the document's rule: into an open body
                schema = {"type": "object", "properties": unmapped}
                operation["requestBody"] = {"content": {"application/json": {"schema": schema}}}
        elif unmapped:
            params += [_query_parameter(n, s, explicit) for n, s in unmapped.items()]
        if not any(p.get("in") == "query" for p in params):
            params.append(copy.deepcopy(dict(FREE_QUERY)))
        operation["parameters"] = path_params + params
        if method in _BODY_METHODS and "requestBody" not in operation:
            operation["requestBody"] = copy.deepcopy(dict(FREE_BODY))
        return operation

    def docstring(self, handler: Any, template: str) -> tuple[str, dict[str, Any]]:
        """The prose of ``handler``'s docstring, and the operation its YAML part declares.

        The YAML part is what Starlette's ``parse_docstring`` reads: what follows the last
        ``---`` (wherever it is: ``-------`` under a NumPy section holds one), or the whole
        docstring. It is one only when it is an operation mapping; otherwise (a NumPy or Markdown
        docstring's prose) the whole docstring is the description and nothing is logged. A part
        that does not parse, or that PyYAML is not there to read, counts as YAML when its first
        line is an operation key (``responses:``...)."""
        raw = getattr(handler, "__doc__", None)
        if not isinstance(raw, str) or not raw.strip():
            return "", {}
        text = inspect.cleandoc(raw)
        part = text.split("---")[-1]
        before = text[: len(text) - len(part) - 3].strip() if len(part) < len(text) else ""
        name = getattr(handler, "__qualname__", None) or template
        import starlette.schemas  # PyYAML, if installed, is imported there

        if getattr(starlette.schemas, "yaml", None) is None:
            if not _looks_like_operation(part):
                return text, {}
            self.unread.append(str(name))
            return before, {}
        try:
            parsed = starlette.schemas.BaseSchemaGenerator().parse_docstring(handler)
        except Exception as exc:  # yaml.YAMLError: not imported here (PyYAML is optional)
            if not _looks_like_operation(part):
                return text, {}
            logger.warning("the YAML part of %s's docstring does not parse, so it is ignored: %s", name, exc)
            return before, {}
        if isinstance(parsed, dict) and any(key in _OPERATION_KEYS or str(key).startswith("x-") for key in parsed):
            self.declared.append((str(name), parsed))
            return before, parsed
        return text, {}

    def mounted(self, app: Any, prefix: str) -> None:
        """The operations of a mounted app's own document, under the mount's prefix."""
        try:
            inner = app.openapi()
        except Exception:
            logger.warning("%r.openapi() failed; its routes under %s are no MCP tools", app, prefix, exc_info=True)
            self.result.found.append(f"Mount {prefix} ({type(app).__name__}, openapi() failed)")
            return
        if not isinstance(inner, Mapping) or not isinstance(inner.get("paths"), Mapping):
            self.result.found.append(f"Mount {prefix} ({type(app).__name__}, no OpenAPI paths)")
            return
        _, prefix_format, convertors = compile_path(prefix) if prefix else (None, "", {})
        inner = _renamed(copy.deepcopy(dict(inner)), self.take_components(inner.get("components")))
        security = inner.get("security")
        for path, item in inner["paths"].items():
            if not isinstance(path, str) or not isinstance(item, Mapping):
                continue
            full = prefix_format + path
            target = self.paths.setdefault(full, {})
            for key, operation in item.items():
                if key in target:
                    continue
                if isinstance(operation, dict) and key.upper() in _OPERATIONS:
                    operation = _prefixed(operation, path, full, key, convertors, security)
                target[key] = operation
        self.result.mounted.append((prefix_format, prefix, app))

    def take_components(self, components: Any) -> dict[str, str]:
        """Adds a mounted document's components to the document's; a name already taken by
        another value gets a number. Returns the references (and security scheme names, as
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


def _unmapped(explicit: Any, names: set[Any]) -> dict[str, Any]:
    """The properties of an ``x-mcp-input-schema`` that no parameter of ``names`` maps (the
    schemas copied). A route reads its query string and body itself, so they go there: in the
    document, as query parameters or the JSON body's properties."""
    properties = explicit.get("properties") if isinstance(explicit, Mapping) else None
    if not isinstance(properties, Mapping):
        return {}
    return {
        str(name): copy.deepcopy(dict(schema)) if isinstance(schema, Mapping) else {}
        for name, schema in properties.items()
        if name not in names
    }


def _query_parameter(name: str, schema: dict[str, Any], explicit: Mapping[str, Any]) -> dict[str, Any]:
    """The query parameter of an ``x-mcp-input-schema`` property, its ``$ref`` (into the schema's
    own ``$defs``) resolved: one whose value may be an object is of JSON content, so it is sent
    under its name as JSON text (``?filter={"a":1}``), not exploded into parameters of other names."""
    schema = _dereferenced(schema, explicit)
    if _may_be_object(schema, explicit, 0):
        return {"name": name, "in": "query", "content": {"application/json": {"schema": schema}}}
    return {"name": name, "in": "query", "schema": schema}


def _dereferenced(schema: Any, root: Mapping[str, Any]) -> Any:
    """``schema`` with the local ``$ref`` at its root (``#/$defs/Item``, read in ``root``, the
    input schema) replaced by a copy of its target, its other keywords kept; as is when it points nowhere."""
    for _ in range(16):
        ref = schema.get("$ref") if isinstance(schema, Mapping) else None
        if not isinstance(ref, str) or not _resolves(root, ref):
            return schema
        target: Any = root
        for token in ref[2:].split("/"):
            target = target[token.replace("~1", "/").replace("~0", "~")]
        if not isinstance(target, Mapping):
            return schema
        schema = {**copy.deepcopy(dict(target)), **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _may_be_object(schema: Any, root: Mapping[str, Any], depth: int) -> bool:
    """Whether ``schema`` says its value may be an object (or an array of them): its ``type``, or a
    branch of its ``anyOf``/``oneOf``/``allOf`` (``$ref``s read in ``root``)."""
    schema = _dereferenced(schema, root)
    if not isinstance(schema, Mapping) or depth > 8:
        return False
    types = schema.get("type")
    types = [types] if isinstance(types, str) else types if isinstance(types, list) else []
    if "object" in types or (not types and isinstance(schema.get("properties"), Mapping)):
        return True
    if "array" in types and _may_be_object(schema.get("items"), root, depth + 1):
        return True
    return any(
        _may_be_object(branch, root, depth + 1)
        for key in ("anyOf", "oneOf", "allOf")
        if isinstance(branches := schema.get(key), list)
        for branch in branches
    )


def _free_unresolved(document: Mapping[str, Any], value: Any, missing: list[str]) -> None:
    """Makes each ``$ref`` in ``value`` (in place) that points nowhere in ``document`` a schema of
    any value that names it, and adds it to ``missing``. A YAML docstring may refer to the
    components of the app's own ``SchemaGenerator``, which this document has not: unresolved,
    the reference would be an argument taking anything, with nothing to tell the model why."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and not _resolves(document, ref):
            missing.append(ref)
            del value["$ref"]
            note = f"Free-form: its schema, {ref}, is not published."
            value["description"] = f"{value['description']}\n\n{note}" if _is_text(value.get("description")) else note
            return
        for item in value.values():
            _free_unresolved(document, item, missing)
    elif isinstance(value, list):
        for item in value:
            _free_unresolved(document, item, missing)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _resolves(document: Mapping[str, Any], ref: str) -> bool:
    if not ref.startswith("#/"):
        return False  # another document's: nothing here can read it
    target: Any = document
    for token in ref[2:].split("/"):
        if not isinstance(target, Mapping):
            return False
        target = target.get(token.replace("~1", "/").replace("~0", "~"), _ABSENT)
    return target is not _ABSENT


def _looks_like_operation(text: str) -> bool:
    """Whether ``text`` starts (comments aside) with a key of an OpenAPI operation."""
    return _OPERATION_LINE.match(text) is not None


def _endpoints(route: Route) -> list[tuple[str, Any, str | None]]:
    """(method, the handler whose docstring describes it, operation id) of each operation."""
    endpoint = route.endpoint
    while isinstance(endpoint, functools.partial):
        endpoint = endpoint.func
    name = route.name if route.name and "<" not in route.name and route.name != "partial" else None
    if inspect.isclass(endpoint) and issubclass(endpoint, HTTPEndpoint):
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
    if security is not None and "security" not in operation:
        operation["security"] = copy.deepcopy(security)
    return operation


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
