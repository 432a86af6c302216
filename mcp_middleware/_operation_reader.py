"""One OpenAPI operation ─▶ its arguments, before naming: a row (:class:`_Entry`) for each
parameter, and for the request body or each of its properties.

Part of :mod:`mcp_middleware._tool_builder`; media types are read by
:mod:`mcp_middleware._request_media`.

Arguments (the ``inputSchema`` properties)
    Path, query, header and cookie parameters and the request body are merged into one object.
    An ``application/json`` (or ``+json``) body whose schema is an object with ``properties``
    contributes those properties at the top level (required if the body is required and they
    are), and those of its ``allOf`` members (FastAPI's form model beside other form fields;
    :func:`object_root`: members first, a property declared differently by two of them, not in
    annotations alone, the ``allOf`` of both; a member of ``additionalProperties: false`` keeps
    only what it declares; a member that is no object's part leaves a JSON body unflattened, a form
    with its own properties); any other body is one argument named ``body``: a
    body of another media type than JSON or a form is a string, its text or, when the body is
    binary (its schema says ``format: binary`` or ``contentEncoding: base64``, or its media type
    is no text), its bytes in base64.
    Form bodies are used only for object schemas; an urlencoded one whose route's ``UploadFile``
    fields have a file's schema is sent as multipart, those fields file parts, and a route's
    ``bytes`` field that is no ``File()`` is a text part in a multipart one (:meth:`_Reader.with_uploads`).
    Header parameters a proxy sets (``Forwarded``,
    ``X-Forwarded-*``, ``X-Real-IP``, ...: :func:`~mcp_middleware._option_lists.proxy_set`) are
    no arguments (:meth:`_Reader.proxied_headers`: the route gets the MCP request's own, the plan's
    ``taken``); any other header argument the MCP request's header of that name replaces
    (:func:`~mcp_middleware._option_lists.request_wins`) says so in its description. Header
    parameters ``authorization``,
    ``proxy-authorization``, ``cookie``, ``host``, ``traceparent``, ``tracestate``,
    ``content-type``, ``content-length``, ``transfer-encoding`` and ``connection`` are never
    arguments (credentials, the host and trace context are forwarded from the MCP request, which
    wins over an argument; framing is ours), nor are the headers named by the ``forward_headers`` option
    or by the app's ``apiKey`` header schemes (forwarded too: a ``Header()`` parameter reading
    an ``APIKeyHeader``'s header is that credential; the catalog passes both in); nor is a query
    parameter named exactly as an ``apiKey`` query scheme's on a route whose ``security`` names
    that scheme (the route gets the MCP request's URL key; elsewhere the parameter merely shares
    the name, stays an argument, and the key is withheld), nor a cookie parameter named exactly as
    an ``apiKey`` cookie scheme's (the route gets it from the MCP request's ``Cookie`` header). A cookie
    parameter is never required (the client's own ``Cookie`` header may carry it), and its
    description says that a cookie the client sends wins over the argument
    (:mod:`mcp_middleware._requests`). ``None`` means "omitted" (models send it
    for optional arguments they leave out), except for a body property the body schema requires,
    or whose schema allows ``null`` and has another default, or a JSON body's property whose
    schema allows ``null`` (``Optional[X] = None``, a plain ``X`` in the input schema), which is
    sent as ``null``: a PATCH route applying ``exclude_unset`` clears it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

from mcp_middleware._naming import _Op, _text
from mcp_middleware._option_lists import proxy_set, request_wins
from mcp_middleware._paths import _TEMPLATE
from mcp_middleware._plan import (
    _BODY,
    _COOKIE,
    _EXPLODED,
    _FORM,
    _HEADER,
    _JSON,
    _MULTIPART,
    _PATH,
    _QUERY,
    _RAW,
    _SCALARS,
    _WHOLE_BODY,
)
from mcp_middleware._request_media import (
    _file_field,
    _is_text_media,
    _media_type,
    _param_content,
    _pick_media,
    _text_charset,
)
from mcp_middleware._schema import SchemaSet
from mcp_middleware._schema_keywords import is_object_schema, refuses_nothing, says_object
from mcp_middleware._schema_nulls import collapse_optional, keeps_null

__all__ = ["_NOT_ARGUMENTS", "_Body", "_Entry", "_Reader", "_explicit_input", "object_root"]

_NOT_ARGUMENTS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "host", "traceparent", "tracestate"}
    | {"content-type", "content-length", "transfer-encoding", "connection"}
)
_COOKIE_NOTE: Final = (
    "Sent as the cookie {!r}; when the MCP client sends that cookie itself, its value is used instead."
)
_HEADER_NOTE: Final = (
    "Sent as the header {!r}; when the MCP client sends that header itself, its value is used instead."
)
_PARAM_LOCATIONS: Final = {"path": _PATH, "query": _QUERY, "header": _HEADER, "cookie": _COOKIE}


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
    # a multipart file field or a raw body: its media type, if base64, and the charset of its text
    file: tuple[str, bool, str] | None = None
    shape: int = _SCALARS  # how a query parameter is written (_EXPLODED, _JSON_TEXT)


@dataclass(frozen=True, slots=True)
class _Body:
    kind: int
    content_type: str
    schema: Any
    required: bool
    description: str
    charset: str = "utf-8"  # a raw body's: the codec its text is sent in (_text_charset)


class _Reader:
    """Reads the operations of one document (``document``), its component schemas converted once
    (``schemas``); :class:`~mcp_middleware._tool_builder._Builder` sets these and the fields below."""

    document: Mapping[str, Any]
    schemas: SchemaSet
    not_arguments: frozenset[str]  # header parameters (lower case) that are no arguments
    # the parameters of the app's query API-key schemes, by scheme name, and its cookie schemes'
    # cookies (names exact): credentials forwarded from the MCP request, no arguments either (a
    # query key only on the routes its scheme guards, :meth:`guarded_queries`)
    query_schemes: Mapping[str, str]
    key_cookies: frozenset[str]

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

    def guarded_queries(self, op: _Op) -> set[str]:
        """The query parameters of the ``apiKey`` query schemes that the operation's ``security``
        (or the document's) names: the route gets them from the MCP request's URL."""
        if not self.query_schemes:
            return set()
        security = op.operation.get("security", self.document.get("security"))
        if not isinstance(security, list):
            return set()
        named = {key for need in security if isinstance(need, Mapping) for key in need}
        return {name for key, name in self.query_schemes.items() if key in named}

    def parameters(self, op: _Op) -> dict[tuple[str, str], Mapping[str, Any]]:
        """The operation's parameters (its path item's, then its own), by name and location."""
        declared: dict[tuple[str, str], Mapping[str, Any]] = {}
        for source in (op.path_item.get("parameters"), op.operation.get("parameters")):
            for raw in source if isinstance(source, list) else ():
                param = self.deref(raw)
                if isinstance(param, Mapping) and isinstance(param.get("name"), str):
                    declared[(param["name"], str(param.get("in")))] = param
        return declared

    def proxied_headers(self, op: _Op) -> tuple[str, ...]:
        """The operation's header parameters that a proxy sets (``X-Forwarded-For``, ...:
        :func:`~mcp_middleware._option_lists.proxy_set`), unless forwarded anyway: no arguments,
        the route gets the MCP request's own header (the plan's ``taken``)."""
        return tuple(
            name
            for name, where in self.parameters(op)
            if where == "header" and name.isascii() and proxy_set(name) and name.lower() not in self.not_arguments
        )

    def entries(self, op: _Op, body: _Body | None) -> list[_Entry]:
        declared = self.parameters(op)
        entries = [_path_entry(name, declared.get((name, "path"))) for name in _template_names(op.path)]
        keys = self.guarded_queries(op)
        for (name, where), param in declared.items():
            location = _PARAM_LOCATIONS.get(where)
            if location is None or location == _PATH:
                continue
            if location == _HEADER and (name.lower() in self.not_arguments or not name.isascii() or proxy_set(name)):
                continue
            if (location == _QUERY and name in keys) or (location == _COOKIE and name in self.key_cookies):
                continue
            required = param.get("required") is True and location != _COOKIE
            description, deprecated = _param_notes(param)
            if location == _COOKIE:
                description = "\n\n".join(filter(None, (description, _COOKIE_NOTE.format(name))))
            elif location == _HEADER and request_wins(name):
                description = "\n\n".join(filter(None, (description, _HEADER_NOTE.format(name))))
            schema = param.get("schema", {})
            shape = _SCALARS
            if location == _QUERY:
                if "schema" not in param and (media := _param_content(param)) is not None:
                    schema, shape = media
                elif self.exploded(param, schema):
                    shape = _EXPLODED
            entries.append(_Entry(location, name, schema, required, description, deprecated, shape=shape))
        entries.sort(key=lambda entry: entry.where)  # stable: document order within a location
        if body is not None:
            entries.extend(self.body_entries(body))
        return entries

    def exploded(self, param: Mapping[str, Any], schema: Any) -> bool:
        """Whether a query parameter is an object in OpenAPI's default style (``form``, exploded):
        its properties go into the query string as parameters of their own."""
        if param.get("style", "form") != "form" or param.get("explode", True) is not True:
            return False
        resolved = self.schemas.resolve(schema)
        return isinstance(resolved, Mapping) and resolved.get("type") == "object"

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
        charset = "utf-8"
        if kind == _RAW:
            content_type, charset = _text_charset(content_type)
        return _Body(kind, content_type, schema, required, _text(request_body.get("description")), charset)

    def body_root(self, body: _Body) -> Mapping[str, Any] | None:
        """The object schema of a body whose properties are arguments (its ``allOf`` members
        merged in: :meth:`object_root`), else None."""
        if body.kind == _RAW:
            return None
        root = self.object_root(body.schema)
        if root is None:
            root = self.object_root(collapse_optional(self.schemas.resolve(body.schema)))
        if root is None and body.kind != _JSON:
            # a form has no ``body`` argument: its own properties, when its members cannot be merged
            # (FastAPI's optional form model beside a Form() field, an ``anyOf`` member)
            own = self.schemas.resolve(body.schema)
            root = own if is_object_schema(own) else None
        return root

    def object_root(self, schema: Any) -> Mapping[str, Any] | None:
        """:func:`object_root` of ``schema`` in this document."""
        return object_root(schema, self.schemas.resolve)

    def other_properties(self, body: _Body | None) -> Any:
        """The ``additionalProperties`` of a body whose properties are arguments (None if unsaid)."""
        root = None if body is None else self.body_root(body)
        return None if root is None else root.get("additionalProperties")

    def body_entries(self, body: _Body) -> list[_Entry]:
        if body.kind == _RAW:
            return [self.raw_entry(body)]
        root = self.body_root(body)
        if root is None:
            if body.kind != _JSON:
                return []  # a form needs fields
            # a required JSON body whose schema takes null (``Any``) is sent as ``null`` when given it
            takes_null = body.required and (keeps_null(body.schema) or self.schemas.allows_null(body.schema))
            return [_Entry(_WHOLE_BODY, "body", body.schema, body.required, body.description, keep_none=takes_null)]
        needed = root.get("required")
        needed = set(needed) if isinstance(needed, list) else set()
        return [
            _Entry(
                _BODY,
                prop,
                schema,
                body.required and prop in needed,
                # a JSON body sends null where the field takes it: "clear it" to a route reading the
                # fields set (a PATCH's ``exclude_unset``), where omitting it would keep the old value;
                # a form cannot carry null: there it is "omitted", whatever the field's default
                keep_none=body.kind == _JSON
                and (prop in needed or keeps_null(schema) or self.schemas.allows_null(schema)),
                file=_file_field(self.schemas.resolve(schema)) if body.kind == _MULTIPART else None,
            )
            for prop, schema in root["properties"].items()
        ]

    def raw_entry(self, body: _Body) -> _Entry:
        """The ``body`` argument of a body of another media type: a string, its declared schema's
        if that is one; the body's bytes in base64 when it is binary (a ``format: binary`` or
        ``contentEncoding: base64`` schema, or a media type that is no text), else its text."""
        node = self.schemas.resolve(body.schema)
        node = node if isinstance(node, Mapping) else {}
        schema = body.schema if node.get("type") == "string" else {"type": "string"}
        encoding = node.get("contentEncoding")
        if isinstance(encoding, str):
            binary = encoding.lower() == "base64"
        else:
            binary = node.get("format") == "binary" or not _is_text_media(_media_type(body.content_type))
        file = (body.content_type, binary, body.charset)
        return _Entry(_WHOLE_BODY, "body", schema, body.required, body.description, file=file)

    def with_uploads(
        self, body: _Body | None, entries: list[_Entry], uploads: frozenset[str], texts: frozenset[str]
    ) -> _Body | None:
        """A form ``body`` as the route reads it (:mod:`mcp_middleware._form_uploads`): its fields
        ``texts`` (``bytes`` fields that are no ``File()``) text parts, not files, in a multipart
        body; an urlencoded one as ``multipart/form-data`` where its fields ``uploads`` (the route's
        ``UploadFile`` fields) have a file's schema: their ``entries`` then are file parts, as a
        multipart body's are; else ``body`` as it is."""
        if body is None or body.kind not in (_FORM, _MULTIPART):
            return body
        files = False
        for entry in entries:
            if entry.where != _BODY:
                continue
            if entry.wire in texts:
                entry.file = None
            elif body.kind == _FORM and entry.wire in uploads:
                entry.file = _file_field(self.schemas.resolve(entry.schema))
                files = files or entry.file is not None
        return replace(body, kind=_MULTIPART, content_type="multipart/form-data") if files else body


_DONE: Final = object()  # a schema's members all read (object_pieces)
_MOST_STEPS: Final = 512  # object_pieces gives up (the body stays unflattened) past this many steps
# keywords that only annotate: two declarations of a property differing in them alone are one
_ANNOTATIONS: Final = frozenset(
    {"title", "description", "default", "examples", "example", "deprecated", "readOnly", "writeOnly", "$comment"}
)


def object_root(schema: Any, resolve: Callable[[Any], Any]) -> Mapping[str, Any] | None:
    """``schema`` (``$ref``s followed by ``resolve``) when it is an object schema with properties;
    one with an ``allOf`` is the object of it and all its :func:`object_pieces` (:func:`_merged`),
    if each is an object's part (:func:`_piece`) and one has properties. None for any other.
    :mod:`mcp_middleware._token_routes` reads a login body's properties through it too."""
    root = resolve(schema)
    if not isinstance(root, Mapping) or not isinstance(root.get("allOf"), list):
        return root if is_object_schema(root) else None
    pieces = object_pieces(root, resolve) if _piece(root) else None
    if pieces is None or not any("properties" in piece for piece in pieces):
        return None
    return _merged(pieces)


def object_pieces(root: Mapping[str, Any], resolve: Callable[[Any], Any]) -> list[Mapping[str, Any]] | None:
    """``root`` and what its ``allOf`` members hold, ``$ref``s resolved and nested ``allOf``s
    followed, members before the schema holding them (the order of the arguments: a form
    model's fields, then the ``Form()`` parameters beside it); each schema once, so a cycle
    ends. A ``true`` member says nothing; None when a member is no object's (:func:`_piece`), or
    past ``_MOST_STEPS`` steps (a guard: no document needs that many)."""
    pieces: list[Mapping[str, Any]] = []
    seen = {id(root)}
    stack = [(root, iter(_members(root)))]
    for _ in range(_MOST_STEPS):
        if not stack:
            return pieces
        node, members = stack[-1]
        member = next(members, _DONE)
        if member is _DONE:
            pieces.append(node)
            stack.pop()
            continue
        member = resolve(member)
        if member is True or id(member) in seen:
            continue
        if not _piece(member):
            return None
        seen.add(id(member))
        stack.append((member, iter(_members(member))))
    return None


def _members(schema: Mapping[str, Any]) -> list[Any]:
    """A schema's ``allOf`` members (none when it is no list)."""
    members = schema.get("allOf")
    return members if isinstance(members, list) else []


def _piece(member: Any) -> bool:
    """Whether a schema with an ``allOf``, or a member of it (resolved), is an object's part: an
    object schema or one that says no other type, its ``properties`` (if any) a mapping; not one
    whose properties may be in ``anyOf``/``oneOf`` branches (one that has none of its own or in an
    ``allOf``), nor a ``$ref`` that resolves nowhere (what it holds is unknown)."""
    if not isinstance(member, Mapping) or "$ref" in member or not says_object(member):
        return False
    properties = member.get("properties")
    if properties is not None:
        return isinstance(properties, Mapping)
    return bool(_members(member)) or ("anyOf" not in member and "oneOf" not in member)


def _merged(pieces: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The object of all ``pieces`` (:func:`object_pieces`): their properties, in order; a
    property that several declare differently (not in annotations alone, ``_ANNOTATIONS``: the
    first is kept, with the other's description if it has none) takes each schema (``allOf``: all
    of them apply); required where any says so; their ``additionalProperties``
    (:func:`_other_properties`). A piece saying ``additionalProperties: false`` refuses what it does
    not declare: only properties it declares are kept (what FastAPI's ``extra="forbid"`` model
    accepts; another field beside it is refused by the route over HTTP too)."""
    found: dict[str, list[Any]] = {}
    required: list[Any] = []
    others: list[Any] = []
    for piece in pieces:
        for name, schema in piece.get("properties", {}).items():
            _add_declaration(found.setdefault(name, []), schema)
        needed = piece.get("required")
        required += [name for name in needed if name not in required] if isinstance(needed, list) else []
        if isinstance(other := piece.get("additionalProperties"), (bool, Mapping)):
            others.append(other)
    closed = [piece.get("properties", {}) for piece in pieces if piece.get("additionalProperties") is False]
    properties = {
        name: each[0] if len(each) == 1 else {"allOf": each}
        for name, each in found.items()
        if all(name in declared for declared in closed)
    }
    merged: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": [name for name in required if name in properties] if closed else required,
    }
    if others:
        merged["additionalProperties"] = _other_properties(others)
    return merged


def _add_declaration(schemas: list[Any], schema: Any) -> None:
    """Adds a property's ``schema`` to those declared for it, unless one differs from it in
    annotations only (then that one takes its description if it has none)."""
    checked = _unannotated(schema)
    for index, kept in enumerate(schemas):
        if _unannotated(kept) == checked:
            if isinstance(schema, Mapping) and "description" in schema and "description" not in kept:
                schemas[index] = {**kept, "description": schema["description"]}
            return
    schemas.append(schema)


def _unannotated(schema: Any) -> Any:
    """A schema without its annotation keywords (``_ANNOTATIONS``)."""
    if not isinstance(schema, Mapping):
        return schema
    return {key: value for key, value in schema.items() if key not in _ANNOTATIONS}


def _other_properties(others: list[Any]) -> Any:
    """The ``additionalProperties`` of an object whose pieces say ``others`` (each ``true``,
    ``false`` or a schema): ``false`` if one says so (that piece refuses other properties); else
    the schemas that take less than every value (``allOf`` of them, if several), ``true`` if none."""
    if False in others:
        return False
    kept: list[Any] = []
    for other in others:
        if not refuses_nothing(other) and other not in kept:
            kept.append(other)
    if not kept:
        return True
    return kept[0] if len(kept) == 1 else {"allOf": kept}


def _explicit_input(operation: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, tuple[str, ...]]:
    """The operation's ``x-mcp-input-schema`` (None without one) and the properties it declares."""
    schema = operation.get("x-mcp-input-schema")
    if not isinstance(schema, Mapping):
        return None, ()
    properties = schema.get("properties")
    return schema, tuple(properties) if isinstance(properties, Mapping) else ()


def _path_entry(name: str, param: Mapping[str, Any] | None) -> _Entry:
    if param is None:
        return _Entry(_PATH, name, {"type": "string"}, True)
    return _Entry(_PATH, name, param.get("schema", {}), True, *_param_notes(param))


def _param_notes(param: Mapping[str, Any]) -> tuple[str, bool]:
    return _text(param.get("description")), param.get("deprecated") is True


def _template_names(path: str) -> list[str]:
    names = [match.split(":", 1)[0] for match in _TEMPLATE.findall(path)]
    return list(dict.fromkeys(names))
