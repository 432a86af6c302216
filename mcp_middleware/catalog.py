"""From an app's OpenAPI document to MCP tools, and from a tool call's arguments to an HTTP request.

Pure and synchronous: no I/O, no event loop, no FastAPI import. An app with ``openapi()``
(FastAPI) is described by its own document, with the operations of the FastAPI apps mounted in
it under their prefixes; for any other app with ``routes`` (plain Starlette) a document is made
from the routes (:mod:`mcp_middleware._route_document`). Everything a call
needs is precomputed when the catalog is built; :meth:`ToolSpec.build_request` only walks a
small per-argument table.

One tool per operation (``paths`` in document order, methods in the order get, put, post, delete,
options, head, patch, trace). Paths in ``exclude_paths`` are never exposed; a
:class:`ToolFilter` then selects among the rest. Names are assigned before filtering, so a tool
keeps its name whatever the filter.

The rules live with the code that applies them: tool names in :mod:`mcp_middleware._naming`,
tools and their arguments (the ``inputSchema``) in :mod:`mcp_middleware._tool_builder` and the
modules it names, requests (and :class:`ToolSpec`, defined there and re-exported here) in
:mod:`mcp_middleware._requests` and the modules it names (:class:`ArgumentError`, re-exported
here, in :mod:`mcp_middleware._values`).
"""

from __future__ import annotations

import fnmatch
import logging
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import TypeAdapter

from mcp_middleware._naming import _assign_names, _operations
from mcp_middleware._requests import ToolSpec
from mcp_middleware._route_document import RouteDocument, app_document, route_document
from mcp_middleware._route_order import RouteOrder, readable_routes, route_order
from mcp_middleware._schema_fit import fits
from mcp_middleware._tool_builder import _Builder, api_key_schemes
from mcp_middleware._values import ArgumentError

__all__ = [
    "DECLARATION_KEYS",
    "ArgumentError",
    "Catalog",
    "Declared",
    "ToolFilter",
    "ToolSpec",
    "build_catalog",
    "catalog_from_app",
    "readable_routes",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ToolFilter:
    """Which operations become tools. Glob patterns (:func:`fnmatch.fnmatchcase`) match the path
    template, and ``*`` also crosses ``/``. Operations match by operation id or tool name."""

    include_tags: frozenset[str] | None = None
    exclude_tags: frozenset[str] = frozenset()
    include_operations: frozenset[str] | None = None
    exclude_operations: frozenset[str] = frozenset()
    include_paths: tuple[str, ...] | None = None
    exclude_paths: tuple[str, ...] = ()
    methods: frozenset[str] | None = None

    def __post_init__(self) -> None:  # accept any collection, store the declared types
        for name in ("include_tags", "exclude_tags", "include_operations", "exclude_operations"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, frozenset(value))
        for name in ("include_paths", "exclude_paths"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, (value,) if isinstance(value, str) else tuple(value))
        if self.methods is not None:
            object.__setattr__(self, "methods", frozenset(m.upper() for m in self.methods))

    def allows(
        self, *, method: str, path: str, operation_id: str, tags: Sequence[str], name: str | None = None
    ) -> bool:
        """``name`` (optional) is the tool name, matched by the operation sets like the id."""
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if (self.include_tags is not None and self.include_tags.isdisjoint(tags)) or not (
            self.exclude_tags.isdisjoint(tags)
        ):
            return False
        ids = (operation_id,) if name is None else (operation_id, name)
        if self.include_operations is not None and self.include_operations.isdisjoint(ids):
            return False
        if not self.exclude_operations.isdisjoint(ids):
            return False
        if self.include_paths is not None and not any(fnmatch.fnmatchcase(path, p) for p in self.include_paths):
            return False
        return not any(fnmatch.fnmatchcase(path, p) for p in self.exclude_paths)

    def unmatched(self, ops: Sequence[tuple[str, str, Sequence[str], str]]) -> list[str]:
        """The filter values that match none of ``ops`` ((path, operation id, tags, tool name)
        each), as ``option 'value'``: a value that can never match is a mistake (a path without
        its leading "/", an operation named by neither its id nor its tool name)."""
        tags = {tag for _, _, op_tags, _ in ops for tag in op_tags}
        ids = {key for _, op_id, _, name in ops for key in (op_id, name)}
        paths = [path for path, _, _, _ in ops]
        found: list[str] = []
        for option, values, known in (
            ("include_tags", self.include_tags, tags),
            ("exclude_tags", self.exclude_tags, tags),
            ("include_operations", self.include_operations, ids),
            ("exclude_operations", self.exclude_operations, ids),
        ):
            found += [f"{option} {value!r}" for value in sorted(values or ()) if value not in known]
        for option, patterns in (("include_paths", self.include_paths), ("exclude_paths", self.exclude_paths)):
            found += [
                f"{option} {pattern!r}"
                for pattern in patterns or ()
                if not any(fnmatch.fnmatchcase(path, pattern) for path in paths)
            ]
        return found


DECLARATION_KEYS: Final = ("x-mcp-resource", "x-mcp-resource-template", "x-mcp-prompt")


@dataclass(frozen=True, slots=True)
class Declared:
    """An operation declared as an MCP resource, resource template or prompt."""

    operation: Mapping[str, Any]
    spec: ToolSpec


@dataclass(frozen=True, slots=True)
class Catalog:
    """The tools of one app, in catalog order, with O(1) lookup by name.

    ``declared`` holds the operations declared as resources, resource templates or prompts
    (``openapi_extra`` keys in :data:`DECLARATION_KEYS`), each with a request builder.
    """

    tools: tuple[ToolSpec, ...] = ()
    declared: tuple[Declared, ...] = ()
    _by_name: dict[str, ToolSpec] = field(init=False, repr=False, compare=False)
    # whether any tool maps arguments to ``Mcp-Param-*`` headers (else that check is skipped)
    param_headers: bool = field(init=False, repr=False, compare=False, default=False)
    # the headers of the app's ``apiKey`` security schemes (FastAPI's ``APIKeyHeader``), lower case:
    # credentials, so forwarded from the MCP request like ``Authorization``
    credential_headers: frozenset[bytes] = frozenset()
    # the query parameters of the app's ``apiKey`` security schemes in the query (``APIKeyQuery``):
    # credentials too, forwarded from the MCP request's URL under these pseudo-header names
    # (``mcp_middleware.query_keys``)
    query_keys: Mapping[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        tools = tuple(self.tools)
        by_name: dict[str, ToolSpec] = {}
        for spec in tools:
            if spec.name in by_name:
                raise ValueError(f"duplicate tool name {spec.name!r}")
            by_name[spec.name] = spec
        object.__setattr__(self, "tools", tools)
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "param_headers", any(spec.param_headers for spec in tools))

    def get(self, name: str) -> ToolSpec | None:
        return self._by_name.get(name)

    def tool_dicts(self) -> list[dict[str, Any]]:
        """The MCP ``Tool`` objects for ``tools/list`` (shared dicts: do not mutate)."""
        return [spec.tool for spec in self.tools]


def catalog_from_app(
    app: Any,
    *,
    tool_filter: ToolFilter = ToolFilter(),
    max_name_length: int = 40,
    exclude_paths: Collection[str] = (),
) -> Catalog:
    """The catalog of an app with an ``openapi()`` method (FastAPI) and the apps with one mounted
    in it, else of its routes (Starlette)."""
    openapi = getattr(app, "openapi", None)
    if not callable(openapi):
        return _catalog_from_routes(
            app, tool_filter=tool_filter, max_name_length=max_name_length, exclude_paths=exclude_paths
        )
    try:
        document = openapi()
    except Exception:
        logger.warning("%r.openapi() failed; the app exposes no MCP tools", app, exc_info=True)
        return Catalog(())
    if not isinstance(document, Mapping):
        logger.warning("%r.openapi() did not return a mapping; the app exposes no MCP tools", app)
        return Catalog(())
    return _catalog_of(
        app_document(app, document),
        tool_filter=tool_filter,
        max_name_length=max_name_length,
        exclude_paths=exclude_paths,
        order=route_order(app),
    )


def _catalog_from_routes(
    app: Any, *, tool_filter: ToolFilter, max_name_length: int, exclude_paths: Collection[str]
) -> Catalog:
    """The catalog of an app without ``openapi()``, from a document made of its routes; a mounted
    app's own document (FastAPI's) brings its operations, under the mount's prefix."""
    made = route_document(app)
    if made is None:
        logger.warning("%r has neither openapi() nor routes; the MCP endpoint exposes no tools", app)
        return Catalog(())
    if not made.document["paths"]:
        logger.warning(
            "%r has no openapi() and no HTTP route to expose as MCP tools (found: %s)",
            app,
            ", ".join(made.found) or "no routes",
        )
    return _catalog_of(
        made,
        tool_filter=tool_filter,
        max_name_length=max_name_length,
        exclude_paths=exclude_paths,
        order=route_order(app),
    )


def _catalog_of(
    made: RouteDocument,
    *,
    tool_filter: ToolFilter,
    max_name_length: int,
    exclude_paths: Collection[str],
    order: RouteOrder | None,
) -> Catalog:
    """The catalog of a document, with what the routes of its apps with ``openapi()`` say beside
    it (their ``:path`` templates and response-model options), each under its prefix, and the
    order the app's router tries its routes in (``order``)."""
    route_paths = dict(made.route_paths)
    options: dict[str, set[tuple[str, str]]] = {"reshaped": set(), "nones_dropped": set()}
    for document_prefix, route_prefix, mounted in made.mounted:
        for (path, method), template in _converter_paths(mounted).items():
            route_paths.setdefault((document_prefix + path, method), route_prefix + template)
        for key, operations in _response_options(mounted).items():
            options.setdefault(key, set()).update((document_prefix + path, method) for path, method in operations)
    return build_catalog(
        made.document,
        tool_filter=tool_filter,
        max_name_length=max_name_length,
        exclude_paths=exclude_paths,
        route_paths=route_paths,
        route_order=order,
        route_owners=made.owners,
        **options,
    )


def _converter_paths(app: Any) -> dict[tuple[str, str], str]:
    """The templates of routes with a ``:path`` parameter, by document path and method: the
    OpenAPI document drops Starlette's converters (``/files/{name:path}`` is ``/files/{name}``)."""
    found: dict[tuple[str, str], str] = {}
    for route in _routes_of(app):
        path, path_format = getattr(route, "path", None), getattr(route, "path_format", None)
        if isinstance(path, str) and isinstance(path_format, str) and ":path}" in path:
            for method in getattr(route, "methods", None) or ():
                found[(path_format, method)] = path
    return found


def _response_options(app: Any) -> dict[str, frozenset[tuple[str, str]]]:
    """The operations (by document path and method) whose route's JSON is not the response model's
    as the OpenAPI document describes it: ``reshaped`` (``response_model_include``,
    ``response_model_exclude``, ``response_model_by_alias=False``: other properties, other names;
    ``response_model_exclude_unset``, ``response_model_exclude_defaults``: a property the schema
    requires, or the defaulted tag that tells a union's members apart, may be left out; in an app
    made with ``separate_input_output_schemas=False``, whose document describes a response model
    as an input, a model whose JSON may not fit that, :func:`_json_may_not_fit`) and
    ``nones_dropped`` (``response_model_exclude_none``: a property whose value is None is left
    out, though required)."""
    reshaped: set[tuple[str, str]] = set()
    nones_dropped: set[tuple[str, str]] = set()
    document = _one_schema_document(app)
    for route in _routes_of(app):
        path = getattr(route, "path_format", None)
        if not isinstance(path, str):
            continue
        keys = {(path, method) for method in getattr(route, "methods", None) or ()}
        if (
            getattr(route, "response_model_include", None) is not None
            or getattr(route, "response_model_exclude", None) is not None
            or getattr(route, "response_model_by_alias", True) is False
            or getattr(route, "response_model_exclude_unset", False) is True
            or getattr(route, "response_model_exclude_defaults", False) is True
            or (document is not None and _json_may_not_fit(route, path, document))
        ):
            reshaped |= keys
        if getattr(route, "response_model_exclude_none", False) is True:
            nones_dropped |= keys
    return {"reshaped": frozenset(reshaped), "nones_dropped": frozenset(nones_dropped)}


def _one_schema_document(app: Any) -> Mapping[str, Any] | None:
    """The OpenAPI document of an app made with ``separate_input_output_schemas=False`` (None for
    another app, or when it has none: its routes are then not described, and there is nothing to check)."""
    if getattr(app, "separate_input_output_schemas", True) is not False:
        return None
    try:
        document = app.openapi()  # (FastAPI keeps it: the catalog has already asked)
    except Exception:  # logged where the catalog asks for it
        return None
    return document if isinstance(document, Mapping) else None


def _json_may_not_fit(route: Any, path: str, document: Mapping[str, Any]) -> bool:
    """Whether the JSON of a route's response model (its pydantic serialization-mode JSON schema)
    may fail a 2xx JSON body schema its operations document (the validation-mode one, for an app
    without separate input and output schemas): ``Json[X]`` is documented a string, a
    ``serialization_alias`` names a field the document does not; a ``Decimal`` (a number or a
    string, written as a string) or a computed field fits (:func:`~mcp_middleware._schema_fit.fits`).
    True when the model has no serialization-mode schema."""
    model = getattr(route, "response_model", None)
    if model is None:
        return False
    documented = _documented_bodies(document, path, getattr(route, "methods", None) or ())
    if not documented:
        return False
    try:
        written = TypeAdapter(model).json_schema(mode="serialization")
    except Exception:  # a type pydantic cannot describe: its JSON is unknown
        logger.debug("no JSON schema for the response model %r", model, exc_info=True)
        return True
    components = document.get("components")
    schemas = components.get("schemas") if isinstance(components, Mapping) else None
    mine, theirs = (written.get("$defs"), "#/$defs/"), (schemas, "#/components/schemas/")
    return not all(fits(written, mine, body, theirs) for body in documented)


def _documented_bodies(document: Mapping[str, Any], path: str, methods: Iterable[str]) -> list[Any]:
    """The JSON body schemas the 2xx responses of a path's operations of these methods document."""
    paths = document.get("paths")
    item = paths.get(path) if isinstance(paths, Mapping) else None
    found: list[Any] = []
    for method in methods:
        operation = item.get(method.lower()) if isinstance(item, Mapping) else None
        responses = operation.get("responses") if isinstance(operation, Mapping) else None
        for code, response in responses.items() if isinstance(responses, Mapping) else ():
            content = response.get("content") if isinstance(response, Mapping) else None
            if not str(code).startswith("2") or not isinstance(content, Mapping):
                continue
            for media_type, media in content.items():
                if "json" in str(media_type) and isinstance(media, Mapping) and "schema" in media:
                    found.append(media["schema"])
    return found


def _routes_of(app: Any) -> Iterator[Any]:
    """The app's routes with those of included routers: older FastAPI copies them into
    ``app.routes``; newer (0.165 here) keeps an included router as one entry that lists its routes,
    with the include's prefix, in ``effective_route_contexts()``."""
    for route in readable_routes(app) or ():
        included = getattr(route, "effective_route_contexts", None)
        if callable(included):
            try:
                yield from included()
            except Exception:  # another FastAPI's internals: its :path routes stay unknown
                logger.debug("could not list the routes of %r", route, exc_info=True)
        else:
            yield route


def build_catalog(
    openapi: Mapping[str, Any],
    *,
    tool_filter: ToolFilter = ToolFilter(),
    max_name_length: int = 40,
    exclude_paths: Collection[str] = (),
    route_paths: Mapping[tuple[str, str], str] | None = None,
    reshaped: Collection[tuple[str, str]] = (),
    nones_dropped: Collection[tuple[str, str]] = (),
    route_order: RouteOrder | None = None,
    route_owners: Mapping[tuple[str, str], Any] | None = None,
) -> Catalog:
    """The tools of an OpenAPI 3.x document (see the module docstring for the rules).

    ``route_paths`` gives the app's own template of an operation (by path and method) where it
    says more than the document (Starlette's ``:path`` converter). The operations in
    ``reshaped`` answer JSON other than their documented response model (their tools get no
    ``outputSchema``); those in ``nones_dropped`` leave out the properties whose value is None
    (their ``outputSchema`` requires no property that may be null). ``route_order``: the app's
    routes as its router tries them, which give a tool that another route could answer for its
    guard (:mod:`mcp_middleware._route_order`); ``route_owners``: the route object each operation
    came from (by path and method), the tool's own route there (else the first of its path and method)."""
    if max_name_length < 8:
        raise ValueError("max_name_length must be at least 8")
    ops = _operations(openapi, frozenset(exclude_paths))
    names = _assign_names(ops, max_name_length)
    builder = _Builder(openapi, route_paths or {}, frozenset(reshaped), frozenset(nones_dropped))
    tools: list[ToolSpec] = []
    declared: list[Declared] = []
    for op, name in zip(ops, names, strict=True):
        owner = route_owners.get((op.path, op.method)) if route_owners else None
        guard = route_order.guard(op.path, op.method, owner) if route_order is not None else None
        if any(key in op.operation for key in DECLARATION_KEYS):
            # A route declared a resource or prompt is not also a tool unless it says so.
            declared.append(Declared(op.operation, builder.tool(op, name, guard)))
            if op.operation.get("x-mcp-tool") is not True:
                continue
        if tool_filter.allows(method=op.method, path=op.path, operation_id=op.operation_id, tags=op.tags, name=name):
            tools.append(builder.tool(op, name, guard))
    unmatched = tool_filter.unmatched(
        [(op.path, op.operation_id, op.tags, name) for op, name in zip(ops, names, strict=True)]
    )
    if unmatched:
        logger.warning(
            "MCPMiddleware filter values that match no route (paths are globs over path templates that "
            "start with '/', operations match an operation id or a tool name): %s",
            ", ".join(unmatched),
        )
    for name, (method, path, unsent) in builder.unsent.items():
        logger.warning(
            "Tool %r (%s %s): its x-mcp-input-schema declares properties that no parameter or body field of "
            "the route maps, so the client may send them but they will not reach the route: %s",
            name,
            method.upper(),
            path,
            ", ".join(repr(prop) for prop in unsent),
        )
    return Catalog(
        tuple(tools),
        tuple(declared),
        credential_headers=_api_key_headers(openapi),
        query_keys=builder.query_names,
    )


def _api_key_headers(openapi: Mapping[str, Any]) -> frozenset[bytes]:
    """The header names of the document's ``apiKey`` security schemes that live in a header."""
    return frozenset(
        name.lower().encode("latin-1") for name in api_key_schemes(openapi, "header").values() if name.isascii()
    )
