"""From an app's OpenAPI document to MCP tools, and from a tool call's arguments to an HTTP request.

Pure and synchronous: no I/O, no event loop, no FastAPI import (a plain Starlette app simply has
no ``openapi()`` and yields an empty catalog). Everything a call needs is precomputed when the
catalog is built; :meth:`ToolSpec.build_request` only walks a small per-argument table.

One tool per operation (``paths`` in document order, methods in the order get, put, post, delete,
options, head, patch, trace). Paths in ``exclude_paths`` are never exposed; a
:class:`ToolFilter` then selects among the rest. Names are assigned before filtering, so a tool
keeps its name whatever the filter.

Tool names
    1. FastAPI's generated operation id (``{function}{path with non-word chars as _}_{method}``,
       e.g. ``read_item_items__item_id__get``) is shortened to the function name (``read_item``).
       Any other operation id is kept verbatim if it is made of ``[A-Za-z0-9_-]`` only; otherwise
       runs of other characters become ``_``, repeated ``_`` collapse and ``_`` is stripped from
       both ends. An operation without (or with an empty sanitised) id is named
       ``{method}_{path}`` the same way (``get_items_item_id``).
    2. A shortened name that any other operation also wants gets ``_{method}`` appended
       (``item_get``/``item_delete``); if that still collides (same function and method on two
       paths) the whole sanitised operation id is used (``list_v1_items_get``).
    3. Names longer than ``max_name_length`` are cut (and trailing ``_`` dropped).
    4. Remaining duplicates, in document order: the first keeps the name, later ones get
       ``_2``, ``_3``… (cut further to stay within the limit), skipping names any tool uses.

Arguments (the ``inputSchema`` properties)
    Path, query, header and cookie parameters and the request body are merged into one object.
    An ``application/json`` (or ``+json``) body whose schema is an object with ``properties``
    contributes those properties at the top level (required if the body is required and they
    are); any other body is one argument named ``body``. Form bodies (urlencoded, then
    multipart) are used only when there is no JSON body, and only for object schemas.
    Name collisions: the first location in the order path, query, header, cookie, body keeps
    the plain name; a later one is prefixed with its location (``query_x``, ``header_x``,
    ``cookie_x``, ``body_x``), then ``_2``, ``_3``… if even that is taken. Header parameters
    ``authorization``, ``proxy-authorization``, ``cookie``, ``host``, ``content-type``,
    ``content-length``, ``transfer-encoding`` and ``connection`` are never arguments (credentials
    are forwarded from the MCP request; framing is ours). ``None`` means "omitted", except for a
    body property the body schema requires, or whose schema allows ``null`` and has another
    default, which is sent as ``null``.
    ``openapi_extra={"x-mcp-input-schema": {...}}`` replaces the generated input schema
    verbatim (arguments are still mapped as above); ``x-mcp-output-schema`` likewise, and
    ``x-mcp-annotations`` is merged over the default annotations.

Requests
    Path values are percent-encoded whole (``quote(value, safe="")``; ``.`` and ``..`` become
    ``%2E`` and ``%2E%2E``) and may not contain ``/``, except for a parameter with Starlette's
    ``:path`` converter (``{file:path}``), whose value is encoded segment by segment and may not
    have ``.`` or ``..`` segments; a missing, ``None`` or empty path value is an
    :class:`ArgumentError`. Other omitted arguments are simply not sent (the app's own
    validation answers). Query lists repeat the name; booleans are ``true``/``false``. Header
    and cookie values with CR, LF or NUL (cookies: also ``;``) are refused. Cookie arguments
    are merged with the forwarded ``cookie`` header into one. Forwarded ``content-type``,
    ``content-length`` and ``transfer-encoding`` are dropped: they described the MCP request.
    Unknown argument names are ignored.
"""

from __future__ import annotations

import copy
import fnmatch
import logging
import re
from collections import Counter
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote, quote_plus, urlencode

import orjson

from mcp_middleware._schema import SchemaSet, collapse_optional, is_object_schema, keeps_null
from mcp_middleware.dispatch import SubRequest
from mcp_middleware.param_headers import Annotation, annotations_of

__all__ = [
    "DECLARATION_KEYS",
    "ArgumentError",
    "Catalog",
    "Declared",
    "ToolFilter",
    "ToolSpec",
    "build_catalog",
    "catalog_from_app",
]

logger = logging.getLogger(__name__)

_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_NON_WORD: Final = re.compile(r"\W")
_INVALID: Final = re.compile(r"[^A-Za-z0-9_-]+")
_UNDERSCORES: Final = re.compile(r"_{2,}")
_VALID_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_WORDS: Final = re.compile(r"[_\-\s]+")
_TEMPLATE: Final = re.compile(r"\{([^{}]+)\}")
_BAD_HEADER: Final = re.compile(r"[\r\n\x00]")
_BAD_COOKIE: Final = re.compile(r"[;\r\n\x00]")
_NOT_ARGUMENTS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "host"}
    | {"content-type", "content-length", "transfer-encoding", "connection"}
)
_NOT_FORWARDED: Final = frozenset({b"content-type", b"content-length", b"transfer-encoding"})
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"

# argument locations, in collision-priority order
_PATH, _QUERY, _HEADER, _COOKIE, _BODY, _WHOLE_BODY = range(6)
_PREFIX: Final = {_QUERY: "query", _HEADER: "header", _COOKIE: "cookie", _BODY: "body", _WHOLE_BODY: "body"}
_PARAM_LOCATIONS: Final = {"path": _PATH, "query": _QUERY, "header": _HEADER, "cookie": _COOKIE}
# body encodings (_JSON_VALUE: the ``body`` argument is the whole JSON body)
_NO_BODY, _JSON, _FORM, _MULTIPART, _JSON_VALUE = range(5)
_MISSING: Final = object()


class ArgumentError(Exception):
    """The tool arguments cannot make a request; the message is meant for the model."""


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


@dataclass(frozen=True, slots=True)
class _Arg:
    name: str  # the tool argument
    where: int
    wire: str  # parameter or body property name
    header: bytes = b""  # lower-case header name
    keep_none: bool = False
    query_key: str = field(init=False, repr=False, compare=False)  # ``wire`` form-encoded, with its ``=``

    def __post_init__(self) -> None:
        object.__setattr__(self, "query_key", _form_encode(self.wire) + "=")


@dataclass(frozen=True, slots=True)
class _Plan:
    path: tuple[str, ...]  # literal, argument, literal, …, literal (literals already encoded)
    args: tuple[_Arg, ...] = ()  # everything but path parameters
    body: int = _NO_BODY
    content_type: bytes = b""
    body_required: bool = False
    files: frozenset[str] = frozenset()  # multipart fields sent as file parts
    slashes: frozenset[str] = frozenset()  # path arguments whose converter is Starlette's ``:path``


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: its wire-shaped MCP ``Tool`` object and how to turn a call into a request.

    ``tool`` is shared, not copied: treat it as read-only.
    """

    name: str
    method: str
    path: str
    tool: dict[str, Any]
    has_output_schema: bool
    _plan: _Plan | None = field(default=None, repr=False, compare=False)
    # ``x-mcp-header`` annotations of the input schema (2026-07-28 ``Mcp-Param-*`` headers)
    param_headers: tuple[Annotation, ...] = field(default=(), repr=False, compare=False)

    def build_request(self, arguments: Mapping[str, Any], forwarded: Sequence[tuple[bytes, bytes]] = ()) -> SubRequest:
        """The sub-request for a call. Raises :class:`ArgumentError` for unusable arguments."""
        plan = self._plan if self._plan is not None else _plan_for_template(self.path)
        parts = plan.path
        path = parts[0] if len(parts) == 1 else _render_path(plan, arguments)
        query: list[str] = []  # encoded ``key=value`` pairs
        headers: list[tuple[bytes, bytes]] = []
        cookies: list[str] = []
        fields: dict[str, Any] | None = None  # body properties (made for plans with a body)
        for arg in plan.args:
            value = arguments.get(arg.name, _MISSING)
            if value is _MISSING or (value is None and not arg.keep_none):
                continue
            where = arg.where
            if where == _QUERY:
                if type(value) is int:  # digits need no encoding
                    query.append(f"{arg.query_key}{value}")
                elif type(value) is str:
                    query.append(arg.query_key + _form_encode(value))
                else:
                    query.extend(arg.query_key + _form_encode(text) for text in _items(arg.name, value))
            elif where == _HEADER:
                _add_header(headers, arg, value)
            elif where == _COOKIE:
                cookies.append(f"{arg.wire}={_cookie_value(arg, value)}")
            else:
                if fields is None:
                    fields = {}
                fields[arg.wire] = value
        query_string = "&".join(query).encode("ascii") if query else b""
        if plan.body == _NO_BODY and not (forwarded or headers or cookies):
            return SubRequest(self.method, path, query_string)  # the usual GET: nothing else to build
        body = _encode_body(plan, fields or {})
        return SubRequest(
            self.method,
            path,
            query_string,
            _all_headers(forwarded, headers, cookies, body) if forwarded or headers or cookies or body[0] else (),
            body[1],
        )


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
    """The catalog of an app with an ``openapi()`` method (FastAPI); empty for any other app."""
    openapi = getattr(app, "openapi", None)
    if not callable(openapi):
        return Catalog(())
    try:
        document = openapi()
    except Exception:
        logger.warning("%r.openapi() failed; the app exposes no MCP tools", app, exc_info=True)
        return Catalog(())
    if not isinstance(document, Mapping):
        logger.warning("%r.openapi() did not return a mapping; the app exposes no MCP tools", app)
        return Catalog(())
    return build_catalog(
        document,
        tool_filter=tool_filter,
        max_name_length=max_name_length,
        exclude_paths=exclude_paths,
        route_paths=_converter_paths(app),
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


def _routes_of(app: Any) -> Iterator[Any]:
    """The app's routes with those of included routers: older FastAPI copies them into
    ``app.routes``; newer (0.165 here) keeps an included router as one entry that lists its routes,
    with the include's prefix, in ``effective_route_contexts()``."""
    for route in getattr(app, "routes", None) or ():
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
) -> Catalog:
    """The tools of an OpenAPI 3.x document (see the module docstring for the rules).

    ``route_paths`` gives the app's own template of an operation (by path and method) where it
    says more than the document (Starlette's ``:path`` converter)."""
    if max_name_length < 8:
        raise ValueError("max_name_length must be at least 8")
    ops = _operations(openapi, frozenset(exclude_paths))
    names = _assign_names(ops, max_name_length)
    builder = _Builder(openapi, route_paths or {})
    tools: list[ToolSpec] = []
    declared: list[Declared] = []
    for op, name in zip(ops, names, strict=True):
        if any(key in op.operation for key in DECLARATION_KEYS):
            # A route declared a resource or prompt is not also a tool unless it says so.
            declared.append(Declared(op.operation, builder.tool(op, name)))
            if op.operation.get("x-mcp-tool") is not True:
                continue
        if tool_filter.allows(method=op.method, path=op.path, operation_id=op.operation_id, tags=op.tags, name=name):
            tools.append(builder.tool(op, name))
    return Catalog(tuple(tools), tuple(declared), credential_headers=_api_key_headers(openapi))


def _api_key_headers(openapi: Mapping[str, Any]) -> frozenset[bytes]:
    """The header names of the document's ``apiKey`` security schemes that live in a header."""
    components = openapi.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, Mapping) else None
    if not isinstance(schemes, Mapping):
        return frozenset()
    return frozenset(
        scheme["name"].lower().encode("latin-1")
        for scheme in schemes.values()
        if isinstance(scheme, Mapping)
        and scheme.get("type") == "apiKey"
        and scheme.get("in") == "header"
        and isinstance(scheme.get("name"), str)
        and scheme["name"].isascii()
    )


# --- operations and names ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Op:
    path: str
    method: str  # upper case
    operation: Mapping[str, Any]
    path_item: Mapping[str, Any]
    operation_id: str
    function: str | None  # set when operation_id is FastAPI's generated one
    tags: tuple[str, ...]


def _operations(document: Mapping[str, Any], excluded: frozenset[str]) -> list[_Op]:
    paths = document.get("paths")
    ops: list[_Op] = []
    if not isinstance(paths, Mapping):
        return ops
    for path, item in paths.items():
        if not isinstance(path, str) or path in excluded or not isinstance(item, Mapping):
            continue
        for method in _METHODS:
            operation = item.get(method)
            if not isinstance(operation, Mapping):
                continue
            op_id = operation.get("operationId")
            op_id = op_id if isinstance(op_id, str) else ""
            tags = operation.get("tags")
            tags = tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()
            ops.append(_Op(path, method.upper(), operation, item, op_id, _generated_prefix(op_id, path), tags))
    return ops


def _generated_prefix(operation_id: str, path: str) -> str | None:
    """The function name in a FastAPI-generated operation id (any method suffix), else ``None``."""
    stem = _NON_WORD.sub("_", path) + "_"
    for method in _METHODS:
        tail = stem + method
        if len(operation_id) > len(tail) and operation_id.endswith(tail):
            return operation_id[: -len(tail)]
    return None


def _clean(text: str, *, keep_valid: bool = True) -> str:
    if keep_valid and _VALID_NAME.fullmatch(text):
        return text
    return _UNDERSCORES.sub("_", _INVALID.sub("_", text)).strip("_")


def _assign_names(ops: Sequence[_Op], limit: int) -> list[str]:
    names = [
        _clean(op.function if op.function is not None else op.operation_id)
        or _clean(f"{op.method.lower()}_{op.path}", keep_valid=False)
        for op in ops
    ]
    for step in (1, 2):  # 1: add the method, 2: use the whole generated operation id
        counts = Counter(names)
        for index, op in enumerate(ops):
            if op.function is not None and counts[names[index]] > 1:
                widened = f"{names[index]}_{op.method.lower()}" if step == 1 else op.operation_id
                names[index] = _clean(widened, keep_valid=False)
    names = [name if len(name) <= limit else (name[:limit].rstrip("_") or name[:limit]) for name in names]
    reserved = set(names)
    taken: set[str] = set()
    for index, name in enumerate(names):
        if name in taken:
            number = 2
            while (candidate := _numbered(name, number, limit)) in taken or candidate in reserved:
                number += 1
            names[index] = name = candidate
        taken.add(name)
    return names


def _numbered(name: str, number: int, limit: int) -> str:
    suffix = f"_{number}"
    return name[: limit - len(suffix)].rstrip("_") + suffix


def _humanize(name: str) -> str:
    return " ".join(word[:1].upper() + word[1:] for word in _WORDS.split(name) if word) or name


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# --- tools ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entry:
    """One argument before naming: where it goes and its (raw OpenAPI) schema."""

    where: int
    wire: str
    schema: Any
    required: bool
    description: str = ""
    deprecated: bool = False
    keep_none: bool = False


@dataclass(frozen=True, slots=True)
class _Body:
    kind: int
    content_type: str
    schema: Any
    required: bool
    description: str


class _Builder:
    """Builds the tools of one document, sharing the converted component schemas."""

    def __init__(self, document: Mapping[str, Any], route_paths: Mapping[tuple[str, str], str]) -> None:
        self.document = document
        self.route_paths = route_paths
        components = document.get("components")
        self.schemas = SchemaSet(components.get("schemas") if isinstance(components, Mapping) else None)

    def deref(self, value: Any) -> Any:
        """Follow local ``$ref``s (``#/components/parameters/…`` and the like) to their target."""
        for _ in range(16):
            ref = value.get("$ref") if isinstance(value, Mapping) else None
            if not isinstance(ref, str) or not ref.startswith("#/"):
                return value
            target: Any = self.document
            for token in ref[2:].split("/"):
                token = token.replace("~1", "/").replace("~0", "~")
                target = target.get(token) if isinstance(target, Mapping) else None
            value = target
        return value

    def tool(self, op: _Op, name: str) -> ToolSpec:
        operation = op.operation
        body = self.body(operation)
        entries = self.entries(op, body)
        arg_names = _argument_names(entries)
        title = _text(operation.get("summary")) or _text(op.path_item.get("summary")) or _humanize(name)
        tool: dict[str, Any] = {
            "name": name,
            "title": title,
            "description": _description(op),
            "inputSchema": self.input_schema(operation, entries, arg_names),
        }
        output = self.output_schema(operation)
        if output is not None:
            tool["outputSchema"] = output
        tool["annotations"] = _annotations(op, title)
        plan = self.plan(op, entries, arg_names, body)
        return ToolSpec(name, op.method, op.path, tool, output is not None, plan, annotations_of(tool["inputSchema"]))

    def entries(self, op: _Op, body: _Body | None) -> list[_Entry]:
        declared: dict[tuple[str, str], Mapping[str, Any]] = {}
        for source in (op.path_item.get("parameters"), op.operation.get("parameters")):
            for raw in source if isinstance(source, list) else ():
                param = self.deref(raw)
                if isinstance(param, Mapping) and isinstance(param.get("name"), str):
                    declared[(param["name"], str(param.get("in")))] = param
        entries = [_path_entry(name, declared.get((name, "path"))) for name in _template_names(op.path)]
        for (name, where), param in declared.items():
            location = _PARAM_LOCATIONS.get(where)
            if location is None or location == _PATH:
                continue
            if location == _HEADER and (name.lower() in _NOT_ARGUMENTS or not name.isascii()):
                continue
            required = param.get("required") is True
            entries.append(_Entry(location, name, param.get("schema", {}), required, *_param_notes(param)))
        entries.sort(key=lambda entry: entry.where)  # stable: document order within a location
        if body is not None:
            entries.extend(self.body_entries(body))
        return entries

    def body(self, operation: Mapping[str, Any]) -> _Body | None:
        request_body = self.deref(operation.get("requestBody"))
        if not isinstance(request_body, Mapping) or not isinstance(content := request_body.get("content"), Mapping):
            return None
        picked = _pick_media(content)
        if picked is None:
            return None
        kind, content_type, media = picked
        required = request_body.get("required") is True
        schema = media.get("schema", {}) if isinstance(media, Mapping) else {}
        return _Body(kind, content_type, schema, required, _text(request_body.get("description")))

    def body_entries(self, body: _Body) -> list[_Entry]:
        root = self.schemas.resolve(body.schema)
        if not is_object_schema(root):
            root = self.schemas.resolve(collapse_optional(root))
        if not is_object_schema(root):
            if body.kind != _JSON:
                return []  # a form needs fields
            return [_Entry(_WHOLE_BODY, "body", body.schema, body.required, body.description)]
        needed = root.get("required")
        needed = set(needed) if isinstance(needed, list) else set()
        return [
            _Entry(
                _BODY, prop, schema, body.required and prop in needed, keep_none=prop in needed or keeps_null(schema)
            )
            for prop, schema in root["properties"].items()
        ]

    def input_schema(self, operation: Mapping[str, Any], entries: list[_Entry], names: list[str]) -> Any:
        override = operation.get("x-mcp-input-schema")
        if isinstance(override, Mapping):
            return copy.deepcopy(dict(override))
        if not entries:
            return {"type": "object", "properties": {}, "additionalProperties": False}
        refs: set[str] = set()
        properties: dict[str, Any] = {}
        required: list[str] = []
        for entry, name in zip(entries, names, strict=True):
            prop = self.schemas.convert_property(
                entry.schema, refs, collapse=True, required=entry.required, null_sendable=entry.where == _BODY
            )
            prop = {} if prop is True else prop
            if isinstance(prop, dict) and (entry.description or entry.deprecated):
                prop = {**prop, "description": entry.description} if entry.description else dict(prop)
                if entry.deprecated:
                    prop["deprecated"] = True
            properties[name] = prop
            if entry.required:
                required.append(name)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = required
        if refs:
            schema["$defs"] = self.schemas.defs(refs, collapse=True)
        return schema

    def output_schema(self, operation: Mapping[str, Any]) -> dict[str, Any] | None:
        override = operation.get("x-mcp-output-schema")
        if isinstance(override, Mapping):
            return copy.deepcopy(dict(override))
        responses = self.deref(operation.get("responses"))
        if not isinstance(responses, Mapping):
            return None
        response = next((self.deref(r) for code, r in responses.items() if str(code).startswith("2")), None)
        content = response.get("content") if isinstance(response, Mapping) else None
        if not isinstance(content, Mapping):
            return None
        picked = _pick_media(content)
        if picked is None or picked[0] != _JSON or not isinstance(picked[2], Mapping):
            return None
        if not all(_is_json_media(_media_type(key)) for key in content):
            return None  # the route may answer with another media type, which has no structured content
        root = self.schemas.resolve(picked[2].get("schema"))
        if not is_object_schema(root):
            return None
        refs: set[str] = set()
        schema: dict[str, Any] = self.schemas.convert(root, refs, collapse=False)
        schema.setdefault("type", "object")
        if refs:
            schema["$defs"] = self.schemas.defs(refs, collapse=False)
        return schema

    def plan(self, op: _Op, entries: list[_Entry], names: list[str], body: _Body | None) -> _Plan:
        args = tuple(
            _Arg(
                name,
                e.where,
                e.wire,
                e.wire.lower().encode("ascii") if e.where == _HEADER else b"",
                e.keep_none,
            )
            for e, name in zip(entries, names, strict=True)
            if e.where != _PATH
        )
        files = frozenset(e.wire for e in entries if e.where == _BODY and _is_file(self.schemas.resolve(e.schema)))
        path = _plan_for_template(self.route_paths.get((op.path, op.method), op.path))
        template, slashes = path.path, path.slashes
        if body is None:
            return _Plan(template, args, slashes=slashes)
        content_type = body.content_type.encode("latin-1", "replace")
        kind = _NO_BODY
        if any(a.where == _WHOLE_BODY for a in args):
            kind = _JSON_VALUE
        elif any(a.where == _BODY for a in args):
            kind = body.kind
        return _Plan(template, args, kind, content_type, body.required, files, slashes)


def _path_entry(name: str, param: Mapping[str, Any] | None) -> _Entry:
    if param is None:
        return _Entry(_PATH, name, {"type": "string"}, True)
    return _Entry(_PATH, name, param.get("schema", {}), True, *_param_notes(param))


def _param_notes(param: Mapping[str, Any]) -> tuple[str, bool]:
    return _text(param.get("description")), param.get("deprecated") is True


def _template_names(path: str) -> list[str]:
    names = [match.split(":", 1)[0] for match in _TEMPLATE.findall(path)]
    return list(dict.fromkeys(names))


def _argument_names(entries: Sequence[_Entry]) -> list[str]:
    taken: set[str] = set()
    names: list[str] = []
    for entry in entries:
        name = entry.wire
        if name in taken:
            name = base = f"{_PREFIX[entry.where]}_{entry.wire}"
            number = 2
            while name in taken:
                name = f"{base}_{number}"
                number += 1
        taken.add(name)
        names.append(name)
    return names


def _media_type(key: Any) -> str:
    return str(key).split(";", 1)[0].strip().lower()


def _is_json_media(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _pick_media(content: Mapping[str, Any]) -> tuple[int, str, Any] | None:
    types = {_media_type(key): key for key in content}
    if "application/json" in types:
        return _JSON, "application/json", content[types["application/json"]]
    for media_type, key in types.items():
        if _is_json_media(media_type):
            return _JSON, media_type, content[key]
    for media_type, kind in (
        ("application/x-www-form-urlencoded", _FORM),
        ("multipart/form-data", _MULTIPART),
    ):
        if media_type in types:
            return kind, media_type, content[types[media_type]]
    return None


def _is_file(schema: Any) -> bool:
    schema = collapse_optional(schema)
    if not isinstance(schema, Mapping):
        return False
    if schema.get("type") == "array":
        return _is_file(schema.get("items"))
    return schema.get("format") == "binary" or "contentMediaType" in schema


def _description(op: _Op) -> str:
    summary = _text(op.operation.get("summary")) or _text(op.path_item.get("summary"))
    description = _text(op.operation.get("description")) or _text(op.path_item.get("description"))
    if summary and description and not description.startswith(summary):
        return f"{summary}\n\n{description}"
    return description or summary or f"{op.method} {op.path}"


def _annotations(op: _Op, title: str) -> dict[str, Any]:
    annotations: dict[str, Any] = {"title": title}
    if op.method in ("GET", "HEAD"):
        annotations["readOnlyHint"] = True
    elif op.method == "DELETE":
        annotations["destructiveHint"] = True
    elif op.method == "PUT":
        annotations["idempotentHint"] = True
    annotations["openWorldHint"] = False
    extra = op.operation.get("x-mcp-annotations")
    if isinstance(extra, Mapping):
        annotations.update(copy.deepcopy(dict(extra)))
    return annotations


# --- requests ------------------------------------------------------------------------------


def _plan_for_template(template: str) -> _Plan:
    pieces = _TEMPLATE.split(template)
    for index in range(0, len(pieces), 2):
        pieces[index] = quote(pieces[index], safe=_PATH_SAFE)
    slashes: set[str] = set()
    for index in range(1, len(pieces), 2):
        name, _, converter = pieces[index].partition(":")
        pieces[index] = name
        if converter == "path":
            slashes.add(name)
    return _Plan(tuple(pieces), slashes=frozenset(slashes))


def _render_path(plan: _Plan, arguments: Mapping[str, Any]) -> str:
    parts = plan.path
    out = [parts[0]]
    for index in range(1, len(parts), 2):
        name = parts[index]
        value = arguments.get(name)
        if type(value) is int:  # the usual id: digits (and a sign) need no checks or quoting
            out.append(str(value))
            out.append(parts[index + 1])
            continue
        if value is None:
            raise ArgumentError(f"missing required argument {name!r}")
        text = _scalar(name, value)
        if not text:
            raise ArgumentError(f"argument {name!r} must not be empty")
        if _UNRESERVED.fullmatch(text) and text not in (".", ".."):
            out.append(text)
        else:
            out.append(_path_segments(name, text) if name in plan.slashes else _path_segment(name, text))
        out.append(parts[index + 1])
    return "".join(out)


def _path_segment(name: str, text: str) -> str:
    """One encoded segment. ASGI servers decode %2F before routing, so a slash would address
    another route (``1/secret``); HTTP clients cannot send one in a path segment either."""
    if "/" in text:
        raise ArgumentError(f"argument {name!r} must not contain '/'")
    return "%2E" if text == "." else "%2E%2E" if text == ".." else quote(text, safe="")


def _path_segments(name: str, text: str) -> str:
    """A ``:path`` value: its segments, each encoded; ``.`` and ``..`` would climb out of it."""
    segments = text.split("/")
    if "." in segments or ".." in segments:
        raise ArgumentError(f"argument {name!r} must not contain '.' or '..' segments")
    return "/".join(quote(segment, safe="") for segment in segments)


def _scalar(name: str, value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    raise ArgumentError(f"argument {name!r} must be a string, number or boolean")


def _items(name: str, value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [_scalar(name, item) for item in value if item is not None]
    return [_scalar(name, value)]


_UNRESERVED: Final = re.compile(r"[A-Za-z0-9_.~-]*")


def _form_encode(text: str) -> str:
    """``quote_plus(text)``, without its per-character work for the usual plain values."""
    if (text.isascii() and text.isalnum()) or _UNRESERVED.fullmatch(text):
        return text
    return quote_plus(text)


def _add_header(headers: list[tuple[bytes, bytes]], arg: _Arg, value: Any) -> None:
    for text in _items(arg.name, value):
        if _BAD_HEADER.search(text):
            raise ArgumentError(f"argument {arg.name!r} must not contain line breaks or NUL characters")
        try:
            headers.append((arg.header, text.encode("latin-1")))
        except UnicodeEncodeError:
            raise ArgumentError(f"argument {arg.name!r} must only contain Latin-1 characters") from None


def _cookie_value(arg: _Arg, value: Any) -> str:
    text = _scalar(arg.name, value)
    if _BAD_COOKIE.search(text):
        raise ArgumentError(f"argument {arg.name!r} must not contain ';', line breaks or NUL characters")
    if not text.isascii():
        raise ArgumentError(f"argument {arg.name!r} must only contain ASCII characters (a cookie value)")
    return text


def _encode_body(plan: _Plan, fields: dict[str, Any]) -> tuple[bytes, bytes]:
    """``(content_type, body)``; ``fields`` holds body properties, or the whole body as ``body``."""
    kind = plan.body
    if kind == _NO_BODY:
        return b"", b""
    if not fields:
        if plan.body_required and kind == _JSON:
            return plan.content_type, b"{}"  # the app then names each missing field
        return b"", b""
    if kind in (_JSON, _JSON_VALUE):
        try:
            return plan.content_type, orjson.dumps(fields["body"] if kind == _JSON_VALUE else fields)
        except TypeError as exc:  # orjson.JSONEncodeError
            raise ArgumentError(f"the body arguments cannot be encoded as JSON: {exc}") from None
    pairs = [(key, _form_value(key, item)) for key, value in fields.items() for item in _form_items(value)]
    if kind == _FORM:
        return plan.content_type, urlencode(pairs).encode("ascii")
    return _multipart(pairs, plan.files)


def _form_items(value: Any) -> list[Any]:
    return [item for item in value if item is not None] if isinstance(value, (list, tuple)) else [value]


def _form_value(name: str, value: Any) -> str:
    if isinstance(value, (dict, list)):
        try:
            return orjson.dumps(value).decode()
        except TypeError as exc:  # orjson.JSONEncodeError: nested too deep, or an integer beyond 64 bits
            raise ArgumentError(f"argument {name!r} cannot be encoded as JSON: {exc}") from None
    return _scalar(name, value)


def _multipart(pairs: list[tuple[str, str]], files: frozenset[str]) -> tuple[bytes, bytes]:
    encoded = [(name, text.encode()) for name, text in pairs]
    boundary = b"mcp-middleware-form-boundary"
    number = 0
    while any(boundary in data for _, data in encoded):
        number += 1
        boundary = b"mcp-middleware-form-boundary-%d" % number
    chunks: list[bytes] = []
    for name, data in encoded:
        quoted = name.replace('"', "%22")
        disposition = f'form-data; name="{quoted}"' + (f'; filename="{quoted}"' if name in files else "")
        chunks.append(b"--%s\r\nContent-Disposition: %s\r\n\r\n%s\r\n" % (boundary, disposition.encode(), data))
    chunks.append(b"--%s--\r\n" % boundary)
    return b"multipart/form-data; boundary=" + boundary, b"".join(chunks)


def _all_headers(
    forwarded: Sequence[tuple[bytes, bytes]],
    own: list[tuple[bytes, bytes]],
    cookies: list[str],
    body: tuple[bytes, bytes],
) -> tuple[tuple[bytes, bytes], ...]:
    headers: list[tuple[bytes, bytes]] = []
    jar: list[bytes] = []
    for key, value in forwarded:
        lower = key.lower()
        if lower in _NOT_FORWARDED:
            continue
        if cookies and lower == b"cookie":
            jar.append(value)
        else:
            headers.append((lower, value))
    headers.extend(own)
    if cookies:
        jar.append("; ".join(cookies).encode("latin-1", "replace"))
        headers.append((b"cookie", b"; ".join(jar)))
    content_type, data = body
    if content_type:
        headers.append((b"content-type", content_type))
        headers.append((b"content-length", str(len(data)).encode("ascii")))
    return tuple(headers)
