"""From one OpenAPI operation to its MCP ``Tool`` object and its request plan (a :class:`ToolSpec`).

Part of :mod:`mcp_middleware.catalog`; the schemas themselves are converted by
:mod:`mcp_middleware._schema`.

Arguments (the ``inputSchema`` properties)
    Path, query, header and cookie parameters and the request body are merged into one object.
    An ``application/json`` (or ``+json``) body whose schema is an object with ``properties``
    contributes those properties at the top level (required if the body is required and they
    are); any other body is one argument named ``body``: a body of another media type than JSON
    or a form (``text/plain``, XML, ``application/octet-stream``) is a string, sent as is with
    the declared ``Content-Type`` (a range such as ``text/*`` as ``text/plain``), its text encoded
    in the declared ``charset`` (one Python has no text codec for: in UTF-8, the ``Content-Type``
    then saying ``charset=utf-8``, :func:`_text_charset`), or given in base64 when the body is
    binary (its schema says ``format: binary`` or ``contentEncoding: base64``, or its media type
    is no text), which its schema then says (``contentEncoding: base64``). Form bodies
    (urlencoded, then multipart) are used only when there is no JSON body, and only for object schemas. A
    multipart field whose schema is a file (``format: binary`` or a ``contentMediaType``, as
    FastAPI writes ``UploadFile`` and ``bytes = File()``, alone, in a list or optional) is a file
    part; unless it is declared as ``text/*`` (whatever its parameters, ``; charset=utf-8``)
    without an encoding, its argument is the file's bytes in base64, which its schema says
    (``contentEncoding: base64``).
    A query parameter given as ``content`` (``application/json``) instead of ``schema`` takes the
    content's schema, and its value is sent as its JSON text (:mod:`mcp_middleware._requests`).
    An argument's name is its parameter's or property's name (the alias, in FastAPI), made to
    fit ``[A-Za-z0-9_.-]{1,64}`` when it does not (Claude's API refuses every request when one
    tool has another property key): accents dropped, runs of other characters as one ``_``, ``_``
    stripped from both ends (``filter[status]`` ─▶ ``filter_status``, ``$top`` ─▶ ``top``), cut
    to 64 characters, and its location (``query``, ...) when nothing is left. The request keeps
    the parameter's own name. Name collisions: a name that needed no cleaning belongs to the
    first parameter that has it (in the order path, query, header, cookie, body), whatever comes
    before it, so an argument named like a parameter always sets that parameter (``top`` is the
    route's ``top``, not ``$top`` cleaned); every other parameter whose name is taken is prefixed
    with its location (``query_x``, ``header_x``, ``cookie_x``, ``body_x``; ``path_x`` between
    path parameters), then ``_2``, ``_3``… if even that is taken. Header parameters
    ``authorization``, ``proxy-authorization``, ``cookie``, ``host``, ``content-type``,
    ``content-length``, ``transfer-encoding`` and ``connection`` are never arguments (credentials
    are forwarded from the MCP request; framing is ours). A cookie parameter is never required
    (the client's own ``Cookie`` header may carry it), and its description says that a cookie the
    client sends wins over the argument (:mod:`mcp_middleware._requests`). ``None`` means
    "omitted" (models send it for optional arguments they leave out), except for a body property
    the body schema requires, or whose schema allows ``null`` and has another default, or a JSON
    body's property whose schema allows ``null`` (``Optional[X] = None``, a plain ``X`` in the
    input schema), which is sent as ``null``: a PATCH route applying ``exclude_unset`` clears it.
    A flattened body's ``additionalProperties`` (pydantic's ``extra="forbid"`` or ``"allow"``)
    becomes the input schema's; where it allows other properties, arguments of other names go
    into the body (any other unknown argument is refused, :mod:`mcp_middleware._requests`). No
    other schema but a tool's without arguments says ``additionalProperties: false``, though
    unknown arguments are refused: clients backed by Gemini have rejected schemas that use it.
    ``openapi_extra={"x-mcp-input-schema": {...}}`` replaces the generated input schema
    verbatim (arguments are still mapped as above, but keep their parameters' names as they are:
    the schema's author chose its keys, and a property it declares that nothing maps is accepted:
    it goes into a body that takes other properties, and is not sent otherwise);
    ``x-mcp-output-schema`` likewise, and
    ``x-mcp-annotations`` is merged over the default annotations.
"""

from __future__ import annotations

import codecs
import copy
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mcp_middleware._media import _NOT_CHARSETS
from mcp_middleware._naming import _cut, _first_free, _humanize, _Op, _squeezed, _text
from mcp_middleware._requests import (
    _BODY,
    _COOKIE,
    _EXPLODED,
    _FORM,
    _HEADER,
    _JSON,
    _JSON_TEXT,
    _JSON_VALUE,
    _MULTIPART,
    _NO_BODY,
    _NOT_FORWARDED,
    _PATH,
    _QUERY,
    _RAW,
    _SCALARS,
    _TEMPLATE,
    _WHOLE_BODY,
    ToolSpec,
    _Arg,
    _FilePart,
    _Plan,
    _plan_for_template,
)
from mcp_middleware._schema import SchemaSet, collapse_optional, is_object_schema, keeps_null, nulls_not_required
from mcp_middleware.param_headers import annotations_of
from mcp_middleware.query_keys import pseudo_names

__all__ = ["_Builder", "api_key_schemes"]

_NOT_ARGUMENTS: Final = frozenset(
    {"authorization", "proxy-authorization", "cookie", "host"}
    | {"content-type", "content-length", "transfer-encoding", "connection"}
)
_PREFIX: Final = {
    _PATH: "path",
    _QUERY: "query",
    _HEADER: "header",
    _COOKIE: "cookie",
    _BODY: "body",
    _WHOLE_BODY: "body",
}
# what the Anthropic API accepts as a property key of a tool's input schema
_ARGUMENT_LIMIT: Final = 64
_VALID_ARGUMENT: Final = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_NOT_IN_ARGUMENT: Final = re.compile(r"[^A-Za-z0-9_.-]+")
_MEDIA_TYPE: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+/[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_PRINTABLE: Final = re.compile(r"[ -~]*")  # what a part's Content-Type may hold: no line breaks
_COOKIE_NOTE: Final = (
    "Sent as the cookie {!r}; when the MCP client sends that cookie itself, its value is used instead."
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


def api_key_schemes(document: Mapping[str, Any], where: str) -> dict[str, str]:
    """The document's ``apiKey`` security schemes that live ``in`` ``where``: their parameter
    names, by scheme name."""
    components = document.get("components")
    schemes = components.get("securitySchemes") if isinstance(components, Mapping) else None
    if not isinstance(schemes, Mapping):
        return {}
    return {
        key: scheme["name"]
        for key, scheme in schemes.items()
        if isinstance(scheme, Mapping)
        and scheme.get("type") == "apiKey"
        and scheme.get("in") == where
        and isinstance(scheme.get("name"), str)
        and scheme["name"]
    }


class _Builder:
    """Builds the tools of one document, sharing the converted component schemas."""

    def __init__(
        self,
        document: Mapping[str, Any],
        route_paths: Mapping[tuple[str, str], str],
        reshaped: frozenset[tuple[str, str]] = frozenset(),
        nones_dropped: frozenset[tuple[str, str]] = frozenset(),
    ) -> None:
        self.document = document
        self.route_paths = route_paths
        self.reshaped = reshaped  # operations (path, method) that answer other JSON than documented
        self.nones_dropped = nones_dropped  # operations that leave out properties whose value is None
        components = document.get("components")
        self.schemas = SchemaSet(components.get("schemas") if isinstance(components, Mapping) else None)
        # the pseudo-header name of each query API key (query_keys), by its parameter's name (what
        # the catalog hands on) and by its scheme's name (what an operation's ``security`` names)
        names = api_key_schemes(document, "query")
        self.query_names: dict[str, bytes] = pseudo_names(names.values())
        self.query_keys: dict[str, bytes] = {key: self.query_names[name] for key, name in names.items()}
        # what a route whose operation names none of those schemes does not get
        self.all_withheld = _NOT_FORWARDED | frozenset(self.query_names.values())

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
        explicit, declared = _explicit_input(operation)
        arg_names = _argument_names(entries, clean=explicit is None)
        others = self.other_properties(body)
        title = _text(operation.get("summary")) or _text(op.path_item.get("summary")) or _humanize(name)
        tool: dict[str, Any] = {
            "name": name,
            "title": title,
            "description": _description(op),
            "inputSchema": self.input_schema(explicit, entries, arg_names, others),
        }
        output = self.output_schema(op)
        if output is not None:
            tool["outputSchema"] = output
        tool["annotations"] = annotations = _annotations(op, title)
        if isinstance(annotations.get("title"), str):  # an x-mcp-annotations title names the tool too:
            tool["title"] = annotations["title"]  # clients show ``title`` before ``annotations.title``
        plan = self.plan(op, entries, arg_names, body, others is True or isinstance(others, Mapping), declared)
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
            required = param.get("required") is True and location != _COOKIE
            description, deprecated = _param_notes(param)
            if location == _COOKIE:
                description = "\n\n".join(filter(None, (description, _COOKIE_NOTE.format(name))))
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
        """The object schema of a body whose properties are arguments, else None."""
        if body.kind == _RAW:
            return None
        root = self.schemas.resolve(body.schema)
        if not is_object_schema(root):
            root = self.schemas.resolve(collapse_optional(root))
        return root if is_object_schema(root) else None

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
            return [_Entry(_WHOLE_BODY, "body", body.schema, body.required, body.description)]
        needed = root.get("required")
        needed = set(needed) if isinstance(needed, list) else set()
        return [
            _Entry(
                _BODY,
                prop,
                schema,
                body.required and prop in needed,
                # a JSON body sends null where the field takes it: "clear it" to a route reading the
                # fields set (a PATCH's ``exclude_unset``), where omitting it would keep the old value
                keep_none=prop in needed
                or keeps_null(schema)
                or (body.kind == _JSON and self.schemas.allows_null(schema)),
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

    def input_schema(
        self, explicit: Mapping[str, Any] | None, entries: list[_Entry], names: list[str], others: Any
    ) -> Any:
        """``explicit``: the operation's ``x-mcp-input-schema``, if any; ``others``: the flattened
        body's ``additionalProperties``, None when it says nothing."""
        if explicit is not None:
            return copy.deepcopy(dict(explicit))
        if not entries and others is None:
            return {"type": "object", "properties": {}, "additionalProperties": False}
        refs: set[str] = set()
        properties: dict[str, Any] = {}
        required: list[str] = []
        for entry, name in zip(entries, names, strict=True):
            prop = self.schemas.convert_property(
                entry.schema, refs, collapse=True, required=entry.required, null_sendable=entry.where == _BODY
            )
            prop = {} if prop is True else prop
            if entry.file is not None and entry.file[1]:
                prop = _as_base64(prop)
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
        if isinstance(others, (bool, Mapping)):
            schema["additionalProperties"] = self.schemas.convert(others, refs, collapse=True)
        if refs:
            schema["$defs"] = self.schemas.defs(refs, collapse=True)
        return schema

    def output_schema(self, op: _Op) -> dict[str, Any] | None:
        """The operation's ``x-mcp-output-schema``, else its documented success body's schema when
        that is an object, and the route's JSON is sure to fit it: None when the route reshapes
        its response model (``reshaped``), or when its 2xx responses document more than one body
        (another schema, another media type, none)."""
        override = op.operation.get("x-mcp-output-schema")
        if isinstance(override, Mapping):
            return copy.deepcopy(dict(override))
        if (op.path, op.method) in self.reshaped:
            return None  # other properties or other names than the document says
        responses = self.deref(op.operation.get("responses"))
        if not isinstance(responses, Mapping):
            return None
        bodies = [self.json_body(self.deref(r)) for code, r in responses.items() if str(code).startswith("2")]
        if not bodies or any(body != bodies[0] for body in bodies[1:]):
            return None  # a 2xx answer that may not fit the schema of another
        root = bodies[0]
        if not is_object_schema(root):
            return None
        refs: set[str] = set()
        schema: dict[str, Any] = self.schemas.convert(root, refs, collapse=False)
        schema.setdefault("type", "object")
        if refs:
            schema["$defs"] = self.schemas.defs(refs, collapse=False)
        if (op.path, op.method) in self.nones_dropped:
            schema = nulls_not_required(schema)
        return schema

    def json_body(self, response: Any) -> Any:
        """The (resolved) schema of a response's JSON body; None when it documents no content,
        no JSON, or another media type besides (which has no structured content)."""
        content = response.get("content") if isinstance(response, Mapping) else None
        if not isinstance(content, Mapping):
            return None
        picked = _pick_media(content)
        if picked is None or picked[0] != _JSON or not isinstance(picked[2], Mapping):
            return None
        if not all(_is_json_media(_media_type(key)) for key in content):
            return None
        return self.schemas.resolve(picked[2].get("schema"))

    def plan(
        self,
        op: _Op,
        entries: list[_Entry],
        names: list[str],
        body: _Body | None,
        open_body: bool,
        declared: tuple[str, ...],
    ) -> _Plan:
        """``declared``: the properties of the operation's ``x-mcp-input-schema``, if any."""
        args = tuple(
            _Arg(
                name,
                e.where,
                e.wire,
                e.wire.lower().encode("ascii") if e.where == _HEADER else b"",
                e.keep_none,
                e.where in (_QUERY, _HEADER) and not self.schemas.may_be_array(e.schema),
                e.shape,
            )
            for e, name in zip(entries, names, strict=True)
            if e.where != _PATH
        )
        files = {
            e.wire: _FilePart(e.file[0].encode("ascii"), name, e.file[1], e.file[2])
            for e, name in zip(entries, names, strict=True)
            if e.file is not None
        }
        renamed = {e.wire: name for e, name in zip(entries, names, strict=True) if e.where == _PATH and e.wire != name}
        path = _plan_for_template(self.route_paths.get((op.path, op.method), op.path), renamed)
        template, slashes = path.path, path.slashes
        withheld = self.withheld(op)
        if body is None:
            return _Plan(template, args, slashes=slashes, withheld=withheld, declared=declared)
        content_type = body.content_type.encode("latin-1", "replace")
        kind = _NO_BODY
        if any(a.where == _WHOLE_BODY for a in args):
            kind = _RAW if body.kind == _RAW else _JSON_VALUE
        elif open_body or any(a.where == _BODY for a in args):
            kind = body.kind
        singles = (
            {
                e.wire: name
                for e, name in zip(entries, names, strict=True)
                if e.where == _BODY and not self.schemas.may_be_array(e.schema)
            }
            if body.kind in (_FORM, _MULTIPART)
            else {}
        )
        return _Plan(
            template, args, kind, content_type, body.required, files, singles, slashes, withheld, open_body, declared
        )

    def withheld(self, op: _Op) -> frozenset[bytes]:
        """What the route does not get of the forwarded headers: framing, and the URL's API keys
        whose scheme its ``security`` (or the document's) does not name, so a key reaches only the
        routes it guards (a public route echoing ``request.url`` would show it to the model)."""
        if not self.query_keys:
            return _NOT_FORWARDED
        security = op.operation.get("security", self.document.get("security"))
        named = (
            {key for need in security if isinstance(need, Mapping) for key in need}
            if isinstance(security, list)
            else set()
        )
        wanted = {pseudo for key, pseudo in self.query_keys.items() if key in named}
        # (two schemes may read one parameter: it is withheld only if none of the named ones reads it)
        return self.all_withheld - wanted


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


def _argument_names(entries: Sequence[_Entry], *, clean: bool = True) -> list[str]:
    """Each entry's argument name, unique; ``clean=False`` keeps the wire names as they are (a
    schema given in ``x-mcp-input-schema`` names its own keys).

    A wire name that is already valid is claimed first, by the first entry that has it, so no
    cleaned name (``$top`` ─▶ ``top``) or prefixed one takes the name of a parameter that has it
    already; the other entries are then named in order, prefixed and numbered when taken."""
    owners: dict[str, int] = {}  # a valid wire name ─▶ the first entry that has it
    for index, entry in enumerate(entries):
        if not clean or _VALID_ARGUMENT.fullmatch(entry.wire):
            owners.setdefault(entry.wire, index)
    taken = set(owners)
    names: list[str] = []
    for index, entry in enumerate(entries):
        if owners.get(entry.wire) == index:
            names.append(entry.wire)
        else:
            name = (_argument_name(entry.wire) or _PREFIX[entry.where]) if clean else entry.wire
            names.append(_free_name(entry, name, taken))
    return names


def _free_name(entry: _Entry, name: str, taken: set[str]) -> str:
    """``name``, or when taken, prefixed with ``entry``'s location (then numbered); added to ``taken``."""
    if name in taken:
        name = _first_free(_cut(f"{_PREFIX[entry.where]}_{name}", _ARGUMENT_LIMIT), _ARGUMENT_LIMIT, taken)
    taken.add(name)
    return name


def _argument_name(wire: str) -> str:
    """``wire`` as a property key every client accepts (empty when nothing of it is left)."""
    if _VALID_ARGUMENT.fullmatch(wire):
        return wire
    ascii_only = unicodedata.normalize("NFKD", wire).encode("ascii", "ignore").decode("ascii")
    return _cut(_squeezed(ascii_only, _NOT_IN_ARGUMENT), _ARGUMENT_LIMIT)


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
    for media_type, key in types.items():  # another: the first usable one, sent as is
        declared = str(key).strip()
        if _MEDIA_TYPE.fullmatch(media_type) and _PRINTABLE.fullmatch(declared):
            if "*" in media_type:  # a range: what it stands for, plainly
                declared = "text/plain" if media_type.startswith("text/") else "application/octet-stream"
            return _RAW, declared, content[key]
    return None


# media types other than text/* whose bodies are text (a ``body`` argument given as is, not base64)
_TEXT_MEDIA: Final = frozenset(
    {"application/xml", "application/yaml", "application/x-yaml", "application/javascript"}
    | {"application/graphql", "application/sql", "application/x-ndjson", "application/csv"}
)


def _is_text_media(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type in _TEXT_MEDIA or media_type.endswith(("+xml", "+yaml"))


def _file_node(schema: Any) -> Mapping[str, Any] | None:
    """The schema of the file a field holds (alone, in a list, or optional), or None."""
    schema = collapse_optional(schema)
    if not isinstance(schema, Mapping):
        return None
    if schema.get("type") == "array":
        return _file_node(schema.get("items"))
    return schema if schema.get("format") == "binary" or "contentMediaType" in schema else None


def _file_field(schema: Any) -> tuple[str, bool, str] | None:
    """A multipart field's file: its part's media type (as declared, parameters included), and
    whether its argument is base64 (every file but one declared as ``text/*`` without an
    encoding); None for other fields."""
    node = _file_node(schema)
    if node is None:
        return None
    declared = node.get("contentMediaType")
    media = declared if isinstance(declared, str) and _PRINTABLE.fullmatch(declared) else ""
    essence = _media_type(media)  # without its parameters
    if not _MEDIA_TYPE.fullmatch(essence):
        media = essence = "application/octet-stream"
    encoding = node.get("contentEncoding")
    if isinstance(encoding, str):
        return media, encoding.lower() == "base64", "utf-8"
    return media, node.get("format") == "binary" or not essence.startswith("text/"), "utf-8"


def _param_content(param: Mapping[str, Any]) -> tuple[Any, int] | None:
    """The schema of a query parameter given as ``content`` (OpenAPI's alternative to ``schema``:
    one media type), and how it is written: its JSON text when the media type is JSON."""
    content = param.get("content")
    if not isinstance(content, Mapping) or not content:
        return None
    key, media = next(iter(content.items()))
    schema = media.get("schema", {}) if isinstance(media, Mapping) else {}
    return schema, _JSON_TEXT if _is_json_media(_media_type(key)) else _SCALARS


def _text_charset(content_type: str) -> tuple[str, str]:
    """A raw body's ``Content-Type`` and the charset its text is encoded in: the declared one when
    Python has a text codec of that name, else UTF-8 (then also the ``Content-Type``'s, for the
    route to decode what it gets: an unknown charset, or a codec of no text, ``base64``)."""
    media, *params = content_type.split(";")
    for index, param in enumerate(params):
        key, equals, value = param.partition("=")
        if not equals or key.strip().lower() != "charset":
            continue
        label = value.strip().strip('"')
        try:
            codec = codecs.lookup(label)
        except (LookupError, ValueError):  # (ValueError: a NUL in the name)
            codec = None
        if codec is not None and codec._is_text_encoding and codec.name not in _NOT_CHARSETS:
            return content_type, label
        params[index] = " charset=utf-8"
        return ";".join([media, *params]), "utf-8"
    return content_type, "utf-8"


def _as_base64(schema: Any) -> Any:
    """A converted file field's schema, its file's string saying ``contentEncoding: base64``."""
    if not isinstance(schema, dict):
        return schema
    if isinstance(branches := schema.get("anyOf"), list):
        return {**schema, "anyOf": [_as_base64(branch) for branch in branches]}
    if schema.get("type") == "array":
        return {**schema, "items": _as_base64(schema.get("items"))}
    if schema.get("type") == "string":
        return {**schema, "contentEncoding": "base64"}
    return schema


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
