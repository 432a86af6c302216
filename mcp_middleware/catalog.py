"""From an app's OpenAPI document to MCP tools, and from a tool call's arguments to an HTTP request.

Pure and synchronous: no I/O, no event loop, no FastAPI import. An app with ``openapi()``
(FastAPI) is described by its own document, with the operations of the FastAPI apps mounted in
it under their prefixes; for any other app with ``routes`` (plain Starlette) a document is made
from the routes (:mod:`mcp_middleware._route_document`). Everything a call
needs is precomputed when the catalog is built; :meth:`ToolSpec.build_request` only walks a
small per-argument table.

One tool per operation (``paths`` in document order, methods in the order get, put, post, delete,
options, head, patch, trace). Paths in ``exclude_paths`` are never exposed; a
:class:`ToolFilter` then selects among the rest. A route no call reaches with its values (under a
mount whose ``path`` parameter reads part of the route's path: :meth:`RouteOrder.stranded`) is no
tool, prompt or resource, and a warning says why. Default names are assigned before filtering, so a
tool keeps its default name whatever the filter (:class:`ToolFilter`, defined in
:mod:`mcp_middleware._tool_filter` and re-exported here); the filters match the operation id, the
default and the given names (a value that names routes by different ones matches those it names by
the strongest, in that order, warned), and only then is a given name settled among the routes
they keep (a route they leave out takes no name from a tool).

The rules live with the code that applies them: tool names in :mod:`mcp_middleware._naming`,
tools and their arguments (the ``inputSchema``) in :mod:`mcp_middleware._tool_builder` and the
modules it names, requests (and :class:`ToolSpec`, defined there and re-exported here) in
:mod:`mcp_middleware._requests` and the modules it names (:class:`ArgumentError`, re-exported
here, in :mod:`mcp_middleware._values`), what the app's routes say beside the document (their
``:path`` templates, the response-model options that change their JSON) in
:mod:`mcp_middleware._route_details`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mcp_middleware._endpoint_overlap import warn_answered, warn_hidden, warn_shadowed
from mcp_middleware._form_uploads import form_fields
from mcp_middleware._given_names import (
    check_tool_names,
    given_description,
    given_names,
    tool_names_of,
    warn_taken_defaults,
)
from mcp_middleware._goes_on import goes_on
from mcp_middleware._name_rules import LONGEST_NAME
from mcp_middleware._naming import _assign_names, _Op, _operations
from mcp_middleware._once import warn_once
from mcp_middleware._requests import ToolSpec
from mcp_middleware._route_details import _converter_paths, _response_options
from mcp_middleware._route_document import RouteDocument, app_document, route_document
from mcp_middleware._route_order import RouteOrder, readable_routes, route_order
from mcp_middleware._schema import Unportable
from mcp_middleware._shared_headers import warn_shared_headers
from mcp_middleware._token_routes import TokenRoute, token_routes
from mcp_middleware._tool_builder import _Builder, api_key_schemes, distinct_descriptions
from mcp_middleware._tool_filter import ToolFilter, matched_names
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
    # the tool of a name, or None: the name table's own ``get`` (a C call, no Python frame per call)
    get: Callable[[str], ToolSpec | None] = field(init=False, repr=False, compare=False)
    # whether any tool maps arguments to ``Mcp-Param-*`` headers (else that check is skipped)
    param_headers: bool = field(init=False, repr=False, compare=False, default=False)
    # the headers of the app's ``apiKey`` security schemes (FastAPI's ``APIKeyHeader``), lower case:
    # credentials, so forwarded from the MCP request like ``Authorization``
    credential_headers: frozenset[bytes] = frozenset()
    # the cookie names of the app's ``apiKey`` security schemes in a cookie (``APIKeyCookie``): of
    # the ``Cookie`` header, what names the caller (``mcp_middleware._identity``)
    credential_cookies: frozenset[str] = frozenset()
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
        object.__setattr__(self, "get", by_name.get)
        object.__setattr__(self, "param_headers", any(spec.param_headers for spec in tools))

    def tool_dicts(self) -> list[dict[str, Any]]:
        """The MCP ``Tool`` objects for ``tools/list`` (shared dicts: do not mutate)."""
        return [spec.tool for spec in self.tools]


def catalog_from_app(
    app: Any,
    *,
    tool_filter: ToolFilter = ToolFilter(),
    max_name_length: int = 40,
    exclude_paths: Collection[str] = (),
    forwarded: Collection[bytes] = frozenset(),
    tool_names: Mapping[str, str] | None = None,
) -> Catalog:
    """The catalog of an app with an ``openapi()`` method (FastAPI) and the apps with one mounted
    in it, else of its routes (Starlette). ``forwarded``: the headers (lower case) forwarded from
    the MCP request besides the credentials (the ``forward_headers`` option), which are no
    arguments; ``tool_names``: the names given to tools, by operation id or default name."""
    openapi = getattr(app, "openapi", None)
    if not callable(openapi):
        return _catalog_from_routes(
            app,
            tool_filter=tool_filter,
            max_name_length=max_name_length,
            exclude_paths=exclude_paths,
            forwarded=forwarded,
            tool_names=tool_names,
        )
    try:
        document = openapi()
    except Exception:
        logger.warning("%r.openapi() failed; the app exposes no MCP tools", app, exc_info=True)
        return Catalog(())
    if not isinstance(document, Mapping):
        warn_once(logger, "%r.openapi() did not return a mapping; the app exposes no MCP tools", app)
        return Catalog(())
    made = app_document(app, document)
    if not made.document.get("paths"):
        warn_once(
            logger,
            "%r's OpenAPI document (its openapi()) lists no operation to expose as MCP tools, so the MCP endpoint "
            "exposes no tools: the app has no routes, or only routes its document leaves out (include_in_schema="
            "False; FastAPI's /docs, /redoc and /openapi.json), WebSocket routes or mounts of apps without openapi()",
            app,
        )
    return _catalog_of(
        made,
        tool_filter=tool_filter,
        max_name_length=max_name_length,
        exclude_paths=exclude_paths,
        order=route_order(app),
        forwarded=forwarded,
        tool_names=tool_names,
    )


def _catalog_from_routes(
    app: Any,
    *,
    tool_filter: ToolFilter,
    max_name_length: int,
    exclude_paths: Collection[str],
    forwarded: Collection[bytes],
    tool_names: Mapping[str, str] | None,
) -> Catalog:
    """The catalog of an app without ``openapi()``, from a document made of its routes; a mounted
    app's own document (FastAPI's) brings its operations, under the mount's prefix."""
    made = route_document(app)
    if made is None:
        warn_once(logger, "%r has neither openapi() nor routes; the MCP endpoint exposes no tools", app)
        return Catalog(())
    if not made.document["paths"]:
        warn_once(
            logger,
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
        forwarded=forwarded,
        tool_names=tool_names,
    )


def _catalog_of(
    made: RouteDocument,
    *,
    tool_filter: ToolFilter,
    max_name_length: int,
    exclude_paths: Collection[str],
    order: RouteOrder | None,
    forwarded: Collection[bytes],
    tool_names: Mapping[str, str] | None,
) -> Catalog:
    """The catalog of a document, with what the routes of its apps with ``openapi()`` say beside
    it (their ``:path`` templates and response-model options), each under its prefix, and the
    order the app's router tries its routes in (``order``)."""
    route_paths = dict(made.route_paths)
    options: dict[str, set[tuple[str, str]]] = {"reshaped": set(), "nones_dropped": set()}
    for document_prefix, route_prefix, mounted in made.mounted:
        for (path, method), template in _converter_paths(mounted, route_prefix).items():
            route_paths.setdefault((document_prefix + path, method), template)
        for key, operations in _response_options(mounted, document_prefix).items():
            options.setdefault(key, set()).update((document_prefix + path, method) for path, method in operations)
    return build_catalog(
        made.document,
        tool_filter=tool_filter,
        max_name_length=max_name_length,
        exclude_paths=exclude_paths,
        route_paths=route_paths,
        route_order=order,
        route_owners=made.owners,
        token_apps=_token_apps(made),
        forwarded=forwarded,
        tool_names=tool_names,
        **options,
    )


def _token_apps(made: RouteDocument) -> dict[str, str]:
    """The document prefix of the app each path came from, for any method (review s11tok2: a
    mounted app's ``GET /token`` counted as the root app's), its ``POST``'s when apps share it."""
    owners = sorted(made.apps.items(), key=lambda entry: entry[0][1] == "POST")
    return {path: prefix for (path, _), prefix in owners}


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
    token_apps: Mapping[str, str] | None = None,
    forwarded: Collection[bytes] = frozenset(),
    tool_names: Mapping[str, str] | None = None,
) -> Catalog:
    """The tools of an OpenAPI 3.x document (see the module docstring for the rules).

    ``route_paths`` gives the app's own template of an operation (by path and method) where it
    says more than the document (Starlette's ``:path`` converter). The operations in
    ``reshaped`` answer JSON other than their documented response model (their tools get no
    ``outputSchema``); those in ``nones_dropped`` leave out the properties whose value is None
    (their ``outputSchema`` requires no property that may be null). ``route_order``: the app's
    routes as its router tries them, which give a tool that another route could answer for its
    guard (:mod:`mcp_middleware._route_order`); ``route_owners``: the route object each operation
    came from (by path and method), the tool's own route there (else the first of its path and method).
    ``token_apps``: the document prefix of the mounted app each path came from (none:
    the document's own app's; a relative ``tokenUrl`` names no route of a deeper mount's app:
    :mod:`mcp_middleware._token_routes`).
    ``forwarded``: the headers forwarded besides the credentials, which are no arguments (nor
    are the headers of the document's ``apiKey`` schemes, which are forwarded too).
    ``tool_names``: the tools' names given by operation id or default name
    (:mod:`mcp_middleware._given_names`; a bad value is a ``TypeError``/``ValueError``)."""
    if max_name_length < 8:
        raise ValueError("max_name_length must be at least 8")
    if max_name_length > LONGEST_NAME:
        raise ValueError(f"max_name_length must be at most {LONGEST_NAME} (the spec's longest tool name)")
    endpoint = frozenset(exclude_paths)
    warn_shadowed(openapi, endpoint)
    warn_answered(openapi, endpoint, route_paths or {}, route_order, route_owners or {})
    warn_hidden(openapi, endpoint, route_order)
    ops = _operations(openapi, endpoint)
    defaults = _assign_names(ops, max_name_length)
    given = given_names(ops, defaults, check_tool_names(tool_names or {}), max_name_length)
    # A route declared a resource or prompt is not also a tool unless it says so
    declares = [any(key in op.operation for key in DECLARATION_KEYS) for op in ops]
    candidates = [
        not is_declared or op.operation.get("x-mcp-tool") is True for op, is_declared in zip(ops, declares, strict=True)
    ]
    # the routes that would be tools: the candidates the tag, path and method filters keep and a
    # call reaches (a route no call reaches is left out, warned, so it takes no name from the routes
    # that are tools); worked out only for what might be built: it is linear in the routes
    passing = [
        candidate and tool_filter.keeps(method=op.method, path=op.path, tags=op.tags)
        for op, candidate in zip(ops, candidates, strict=True)
    ]
    owners = [route_owners.get((op.path, op.method)) if route_owners else None for op in ops]
    unreached = [
        route_order.stranded(op.path, op.method, owner) if route_order is not None and (passes or declared) else None
        for op, owner, passes, declared in zip(ops, owners, passing, declares, strict=True)
    ]
    # the names of a route that would be a tool: a filter value naming two of them by different
    # means matches the stronger only (an exclude of its default name still excludes it)
    routes = [(op.operation_id, default, name or "") for op, default, name in zip(ops, defaults, given, strict=True)]
    weighed = [passes and found is None for passes, found in zip(passing, unreached, strict=True)]
    matched = matched_names([names if is_weighed else () for names, is_weighed in zip(routes, weighed, strict=True)])
    kept = [
        passes and tool_filter.names_kept(op.operation_id, names)
        for op, names, passes in zip(ops, matched, passing, strict=True)
    ]
    # an OAuth2 scheme's token and refresh endpoints are no tools unless named: by the route itself
    # (declare.tool, x-mcp-tool), by tool_names, or by an include filter; a login route without a
    # form body stays, warned about
    tokens = token_routes(openapi, token_apps)
    if tokens:
        kept = [
            is_kept and not _token_route(op, names, default, own is not None, tokens, tool_filter)
            for op, names, default, own, is_kept in zip(ops, matched, defaults, given, kept, strict=True)
        ]
    stranded = [
        found is not None and (is_kept or is_declared) and _stranded(op, found)
        for op, found, is_kept, is_declared in zip(ops, unreached, kept, declares, strict=True)
    ]
    reachable = [is_kept and not is_stranded for is_kept, is_stranded in zip(kept, stranded, strict=True)]
    names = tool_names_of(ops, defaults, given, reachable, max_name_length)
    # the app's API-key headers are forwarded from the MCP request like the forward_headers: a
    # Header() parameter that reads one is that credential, no argument (its scheme's is none either)
    credential_headers = _api_key_headers(openapi)
    forwarded = frozenset(forwarded) | credential_headers
    builder = _Builder(openapi, route_paths or {}, frozenset(reshaped), frozenset(nones_dropped), forwarded)
    tools: list[ToolSpec] = []
    declared: list[Declared] = []
    named: list[tuple[_Op, str, str]] = []  # each tool's operation, default name and name
    built = zip(ops, owners, defaults, given, names, declares, stranded, strict=True)
    for op, owner, default, own, name, is_declared, is_stranded in built:
        is_tool = name is not None  # kept by the filters, reachable, and not given a bad or taken name
        if is_stranded or not (is_declared or is_tool):
            continue  # (its route guard, linear in the routes, is worked out only for what is built)
        guard = route_order.guard(op.path, op.method, owner) if route_order is not None else None
        uploads, text_parts = form_fields(owner)
        if is_declared:
            built_tool = builder.tool(op, name or own or default, guard, uploads=uploads, text_parts=text_parts)
            declared.append(Declared(op.operation, built_tool))
        if name is not None:
            tools.append(builder.tool(op, name, guard, given_description(op), goes_on(owner), uploads, text_parts))
            named.append((op, default, name))
        _warn_unportable(op, builder.schemas.take_unportable())
    warn_taken_defaults(named)
    _warn_overlaps(
        tool_filter, [(op, names) for op, names, is_weighed in zip(ops, routes, weighed, strict=True) if is_weighed]
    )
    _warn_filtered(
        tool_filter,
        [
            (op.path, op.method, op.operation_id, op.tags, (default, name or default))
            for op, default, name in zip(ops, defaults, given, strict=True)
        ],
        0 if any(kept) else sum(candidates),
    )
    for name, (method, path, unsent) in builder.unsent.items():
        warn_once(
            logger,
            "Tool %r (%s %s): its x-mcp-input-schema declares properties that no parameter or body field of "
            "the route maps, so the client may send them but they will not reach the route: %s",
            name,
            method.upper(),
            path,
            ", ".join(repr(prop) for prop in unsent),
        )
    for name, broken in builder.broken_headers.items():
        warn_once(
            logger,
            "Tool %r: x-mcp-header annotations that break the publishing rules (2026-07-28 clients would drop "
            "the tool) are left out of its input schema: %s",
            name,
            "; ".join(broken),
        )
    for name, proxied in builder.proxied.items():
        warn_once(
            logger,
            "Tool %r: header parameter(s) a proxy sets are no arguments, so that a model cannot forge them: %s; "
            "the route gets the MCP request's own header, or none when it carries none",
            name,
            ", ".join(map(repr, proxied)),
        )
    distinct_descriptions(tools)
    warn_shared_headers(tools, forwarded)
    return Catalog(
        tuple(tools),
        tuple(declared),
        credential_headers=credential_headers,
        credential_cookies=builder.key_cookies,
        query_keys=builder.query_names,
    )


def _token_route(
    op: _Op,
    names: Sequence[str],
    default: str,
    named: bool,
    tokens: Mapping[str, TokenRoute],
    tool_filter: ToolFilter,
) -> bool:
    """Whether ``op`` is the form-taking ``POST`` of a path an OAuth2 scheme names as its token or
    refresh URL (``tokens``: :func:`token_routes`) that nothing names as a tool: not the route
    itself (``declare.tool``'s ``x-mcp-name``/``x-mcp-description``, ``x-mcp-tool``), not
    ``tool_names`` (``named``: a name is given to it), not an include filter (``names``: those the
    filters match it by). Its tool would ask the model for a password or a client secret, and put
    the token it answers into the model's context. Warned once, with how to keep it and the other
    tools (an include filter would keep it alone). Such a route without a form body that asks for
    a password stays a tool, warned once with how to leave it out (review s10a4)."""
    found = tokens.get(op.path) if op.method == "POST" else None
    if (
        found is None
        or named
        or "x-mcp-description" in op.operation
        or op.operation.get("x-mcp-tool") is True
        or tool_filter.names_route(op.operation_id, names, op.path)
    ):
        return False
    if not found.form:
        warn_once(
            logger,
            "Route POST %s looks like a login route: the OAuth2 security scheme %r names it as its %s, and its "
            "tool asks the model for a password (argument %r), then puts the token it answers into the model's "
            "context; it stays a tool since it takes no form body, as a token endpoint does; to leave it out: "
            "MCPMiddleware(exclude_operations=[%r])",
            op.path,
            found.scheme,
            found.field,
            found.password,
            default,
        )
        return False
    warn_once(
        logger,
        "Route POST %s is no tool: the OAuth2 security scheme %r names it as its %s, and its tool would ask the "
        "model for credentials (a password, a client secret) and put the token it answers into the model's "
        "context; to make it a tool anyway, name its tool: on the route, openapi_extra=declare.tool(name=%r), "
        "or MCPMiddleware(tool_names={%r: %r})",
        op.path,
        found.scheme,
        found.field,
        default,
        default,
        default,
    )
    return True


def _stranded(op: _Op, found: tuple[str, str]) -> bool:
    """Warn that no call reaches the route of ``op`` with the values it was given (``found``: a
    mount whose ``path`` parameter reads part of the route's path, :meth:`RouteOrder.stranded`):
    it is left out, rather than a tool (prompt, resource) answering every call with the router's
    404, or another route's answer. True."""
    template, why = found
    warn_once(
        logger,
        "Route %s %s is left out (no tool, prompt or resource): no call would reach it with the values given: %s",
        op.method.upper(),
        template,
        why,
    )
    return True


# how the unportable-pattern warning ends its heading: about output schemas only, or input ones too
_OUTPUT_ONLY = "its output schema (the route's results are unchanged; clients check less of them)"
_WITH_INPUT = "its schemas (the route still checks its arguments)"


def _warn_unportable(op: _Op, left_out: Sequence[Unportable]) -> None:
    """Warn about the patterns the schemas of the route's tool (prompt, resource) left out for want of a portable form
    (:mod:`mcp_middleware._ecma_regex`), and the keywords left out or loosened for what they lost (an enclosing
    ``unevaluatedProperties``, a ``not`` or ``oneOf`` above it: :mod:`mcp_middleware._schema`), once per route (a
    component's with the first tool that uses it: :meth:`SchemaSet.take_unportable`), each said once (two keywords
    left out at one property read alike). A keyword loosened only for what an output schema leaves out by design,
    unsaid (a ``pattern``, an unsure ``format``), is said at DEBUG: the route's results are unchanged, and the app
    can do nothing about it. A warning about output schemas only says so (the route checks arguments, not results)."""
    loud = [dropped for dropped in left_out if not dropped.quiet]
    quiet = [dropped for dropped in left_out if dropped.quiet]
    if quiet:
        logger.debug(
            "Route %s %s: keywords loosened for what its output schema leaves out by design: %s",
            op.method,
            op.path,
            ", ".join(dict.fromkeys(dropped.said() for dropped in quiet)),
        )
    if loud:
        outputs_only = all(dropped.mode == "output" for dropped in loud)
        warn_once(
            logger,
            "Route %s %s: patterns with no portable form (ECMA-262 with and without the u flag and Python's re "
            "cannot read them alike: \\w, \\b, \\p{...}, a backreference, inline flags, ...) are left out of "
            "%s: %s",
            op.method,
            op.path,
            _OUTPUT_ONLY if outputs_only else _WITH_INPUT,
            ", ".join(dict.fromkeys(dropped.said() for dropped in loud)),
        )


def _warn_overlaps(tool_filter: ToolFilter, routes: Sequence[tuple[_Op, Sequence[str]]]) -> None:
    """Warn about each operation filter value that names ``routes`` (those that would be tools,
    each with its operation id, default and given name) by different means: it matches only
    those it names by the strongest (:meth:`ToolFilter.overlaps`)."""
    for overlap in tool_filter.overlaps([(f"{op.method} {op.path}", names) for op, names in routes]):
        warn_once(logger, "MCPMiddleware %s", overlap)


def _warn_filtered(
    tool_filter: ToolFilter, ops: Sequence[tuple[str, str, str, Sequence[str], Sequence[str]]], left_out: int
) -> None:
    """Warn about the filters that select nothing: an empty include filter; a value that matches
    none of ``ops`` ((path, method, operation id, tags, tool names) each); filters that together
    keep none of the ``left_out`` operations that would be tools without them, a route a bad or
    taken given name leaves out among them (0: they keep some)."""
    empty = tool_filter.empty_includes()
    if empty:
        warn_once(
            logger,
            "MCPMiddleware include filter %s selects nothing, so the endpoint exposes no tools (leave an "
            "include filter out, or None, to include everything)",
            ", ".join(f"{option}=[]" for option in empty),
        )
    unmatched = tool_filter.unmatched(ops)
    if unmatched:
        warn_once(
            logger,
            "MCPMiddleware filter values that match no route (paths are globs over path templates that "
            "start with '/', operations match an operation id or a tool name, methods a route's): %s",
            ", ".join(unmatched),
        )
    given = tool_filter.given()
    if left_out and given and not empty:
        warn_once(
            logger,
            "MCPMiddleware's tool filters %s leave none of the app's %d operations as tools, so the MCP "
            "endpoint exposes no tools",
            ", ".join(given),
            left_out,
        )


def _api_key_headers(openapi: Mapping[str, Any]) -> frozenset[bytes]:
    """The header names of the document's ``apiKey`` security schemes that live in a header."""
    return frozenset(
        name.lower().encode("latin-1") for name in api_key_schemes(openapi, "header").values() if name.isascii()
    )
