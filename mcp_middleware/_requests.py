"""From a tool call's arguments to the pieces of its HTTP sub-request: :class:`ToolSpec` and its plan.

Part of :mod:`mcp_middleware.catalog` (which re-exports :class:`ToolSpec` and
:class:`ArgumentError`). Everything a call needs is precomputed when the catalog is built (a
:class:`_Plan` per tool); :meth:`ToolSpec.build_request` only walks its small per-argument table.

Requests
    Path values are percent-encoded whole (``quote(value, safe="")``; ``.`` and ``..`` become
    ``%2E`` and ``%2E%2E``) and may not contain ``/``, except for a parameter with Starlette's
    ``:path`` converter (``{file:path}``), whose value is encoded segment by segment and may not
    have ``.`` or ``..`` segments, nor a line break (Starlette's ``.*`` stops there); a missing,
    ``None`` or empty path value is an :class:`ArgumentError`. A float path value is written in
    plain decimal notation, as Starlette's ``:float`` convertor needs (``0.0000001``, not
    ``1e-07``). Other omitted arguments are simply not sent (the app's own validation answers).
    Query lists repeat the name; booleans are ``true``/``false``. A query parameter of JSON content
    (``content: {application/json: ...}``) is its value's compact JSON text (``_JSON_TEXT``), whatever
    its type (a string is quoted, an array is one parameter); an object for one in OpenAPI's default
    style is its properties, each a parameter (``_EXPLODED``).
    An array for a query, header or form parameter whose schema is no array (``_Arg.single``,
    ``_Plan.singles``) is an :class:`ArgumentError`: sent repeated, the route would use one value.
    A body of another media type than JSON or a form (``text/plain``, XML, ``application/octet-stream``)
    is the ``body`` argument, a string, sent as is with the declared ``Content-Type``, encoded in
    its ``charset`` (``_FilePart.charset``: UTF-8 when it names none Python can encode text with,
    which the catalog then makes the ``Content-Type`` say; a character it cannot encode is an
    :class:`ArgumentError`), or decoded from base64 when the body is binary (``_RAW``, its
    ``_FilePart`` in ``_Plan.files``).
    A file field of a multipart body is a file part (its filename the field's name, its
    ``Content-Type`` the declared media type, ``application/octet-stream`` when none is); a
    binary one's argument is the file's content in base64 (whitespace ignored), decoded here, and
    anything else is an :class:`ArgumentError`. Header
    and cookie values with CR, LF or NUL (cookies: also ``;``) are refused. Cookie arguments
    are merged with the forwarded ``cookie`` headers into one, except those the client sent a
    cookie of the same name for: the user's cookie (a session, say) wins over a model-made value.
    Forwarded ``content-type``, ``content-length`` and ``transfer-encoding`` are dropped: they
    described the MCP request.
    So is an API key from the MCP URL (a ``?name`` pseudo-header, :mod:`mcp_middleware.query_keys`)
    whose scheme the operation's ``security`` does not name: the plan lists both (``_Plan.withheld``).
    An argument the tool does not have is an :class:`ArgumentError` naming it and the valid ones
    (SEP-1303: the model can correct itself), one set test per call (``_Plan.known``); unless the
    body flattened into the arguments takes other properties (its schema's ``additionalProperties``
    is ``true`` or a schema: pydantic's ``extra="allow"``), where they go, the arguments first; or
    the tool takes no arguments at all, which ignores any it is given (some clients put a
    placeholder into every call of such a tool: Cursor sends ``{"random_string": "dummy"}``). A
    property an explicit input schema declares is an argument even when nothing maps it (its
    author's choice): it goes into a body that takes other properties, and is not sent otherwise.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote, quote_plus, urlencode

import orjson

from mcp_middleware.dispatch import SubRequest
from mcp_middleware.param_headers import Annotation
from mcp_middleware.query_keys import MARK

__all__ = [
    "_BODY",
    "_COOKIE",
    "_EXPLODED",
    "_FORM",
    "_HEADER",
    "_JSON",
    "_JSON_TEXT",
    "_JSON_VALUE",
    "_MULTIPART",
    "_NOT_FORWARDED",
    "_NO_BODY",
    "_PATH",
    "_QUERY",
    "_RAW",
    "_SCALARS",
    "_TEMPLATE",
    "_WHOLE_BODY",
    "ArgumentError",
    "ToolSpec",
    "_Arg",
    "_FilePart",
    "_Plan",
    "_plan_for_template",
]

_TEMPLATE: Final = re.compile(r"\{([^{}]+)\}")
_BAD_HEADER: Final = re.compile(r"[\r\n\x00]")
_BAD_COOKIE: Final = re.compile(r"[;\r\n\x00]")
_NOT_FORWARDED: Final = frozenset({b"content-type", b"content-length", b"transfer-encoding"})
_PATH_SAFE: Final = "/:@!$&'()*+,;=-._~"

# argument locations, in collision-priority order
_PATH, _QUERY, _HEADER, _COOKIE, _BODY, _WHOLE_BODY = range(6)
# body encodings (_JSON_VALUE: the ``body`` argument is the whole JSON body; _RAW: the ``body``
# argument, a string, is the whole body of another media type, in its charset or decoded from base64)
_NO_BODY, _JSON, _FORM, _MULTIPART, _JSON_VALUE, _RAW = range(6)
# how a query argument is written: its scalars (a list repeats the name); an object's properties
# as parameters of their own (OpenAPI's default style, form and exploded: a plain Starlette route's
# free ``query``); its compact JSON text (a parameter of ``application/json`` content)
_SCALARS, _EXPLODED, _JSON_TEXT = range(3)
_MISSING: Final = object()
# an array for a parameter that takes one value: sent repeated, the route would use one of them
_SINGLE: Final = "argument {!r} takes a single value, not an array"


class ArgumentError(Exception):
    """The tool arguments cannot make a request; the message is meant for the model."""


@dataclass(frozen=True, slots=True)
class _Arg:
    name: str  # the tool argument
    where: int
    wire: str  # parameter or body property name
    header: bytes = b""  # lower-case header name
    keep_none: bool = False
    single: bool = False  # a query or header parameter whose schema is no array: an array is refused
    shape: int = _SCALARS  # how a query argument is written (_EXPLODED, _JSON_TEXT: not its scalars)
    query_key: str = field(init=False, repr=False, compare=False)  # ``wire`` form-encoded, with its ``=``

    def __post_init__(self) -> None:
        object.__setattr__(self, "query_key", _form_encode(self.wire) + "=")


@dataclass(frozen=True, slots=True)
class _FilePart:
    """A multipart field sent as a file part."""

    content_type: bytes
    argument: str  # the tool argument, for error messages
    base64: bool  # the argument is the file's bytes in base64 (else text, encoded in ``charset``)
    charset: str = "utf-8"  # a text codec's name (a raw body's declared charset)


@dataclass(frozen=True, slots=True)
class _Plan:
    path: tuple[str, ...]  # literal, argument, literal, …, literal (literals already encoded)
    args: tuple[_Arg, ...] = ()  # everything but path parameters
    body: int = _NO_BODY
    content_type: bytes = b""
    body_required: bool = False
    files: Mapping[str, _FilePart] = field(default_factory=dict)  # multipart file fields, by wire name
    # form fields whose schema is no array (an array is refused): their arguments, by wire name
    singles: Mapping[str, str] = field(default_factory=dict)
    slashes: frozenset[str] = frozenset()  # path arguments whose converter is Starlette's ``:path``
    # forwarded headers this route does not get: framing, and the URL's API keys (query_keys) of
    # schemes its operation's ``security`` does not name
    withheld: frozenset[bytes] = _NOT_FORWARDED
    open_body: bool = False  # the body takes properties of other names: unknown arguments go there
    # an explicit input schema's properties: arguments, mapped or not (those nothing maps go into an
    # open body, and are accepted and not sent otherwise)
    declared: tuple[str, ...] = ()
    # ``path`` as (argument, the literal after it) pairs: walked without a range per call
    segments: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)
    # every argument's name, in schema order (an open body's declared properties are no argument:
    # they go into the body with its other properties)
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    known: frozenset[str] = field(init=False, repr=False, compare=False)  # ``names``, for the call's set test

    def __post_init__(self) -> None:
        parts = self.path
        object.__setattr__(self, "segments", tuple(zip(parts[1::2], parts[2::2], strict=True)))
        names = (*(() if self.open_body else self.declared), *parts[1::2], *(arg.name for arg in self.args))
        object.__setattr__(self, "names", tuple(dict.fromkeys(names)))
        object.__setattr__(self, "known", frozenset(self.names))


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
    _plan: InitVar[_Plan | None] = None  # the request plan; None: one of ``path`` alone (a hand-made spec)
    # ``x-mcp-header`` annotations of the input schema (2026-07-28 ``Mcp-Param-*`` headers)
    param_headers: tuple[Annotation, ...] = field(default=(), repr=False, compare=False)
    plan: _Plan = field(init=False, repr=False, compare=False)

    def __post_init__(self, _plan: _Plan | None) -> None:
        object.__setattr__(self, "plan", _plan if _plan is not None else _plan_for_template(self.path))

    def accepts(self, name: str) -> bool:
        """Whether a call may have the argument ``name``: one of the tool's, or another property
        of a body that takes them."""
        return name in self.plan.known or self.plan.open_body

    def build_request(self, arguments: Mapping[str, Any], forwarded: Sequence[tuple[bytes, bytes]] = ()) -> SubRequest:
        """The sub-request for a call. Raises :class:`ArgumentError` for unusable arguments."""
        plan = self.plan
        others = None if arguments.keys() <= plan.known else _other_properties(plan, arguments)
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
                if arg.shape:  # an object's properties, or JSON text
                    query.extend(_shaped(arg, value))
                elif type(value) is int:  # digits need no encoding
                    query.append(f"{arg.query_key}{value}")
                elif type(value) is str:
                    query.append(arg.query_key + _form_encode(value))
                else:
                    query.extend(arg.query_key + _form_encode(text) for text in _items(arg, value))
            elif where == _HEADER:
                _add_header(headers, arg, value)
            elif where == _COOKIE:
                cookies.append(f"{arg.wire}={_cookie_value(arg, value)}")
            else:
                if fields is None:
                    fields = {}
                fields[arg.wire] = value
        if others:
            fields = {**others, **fields} if fields else others
        query_string = "&".join(query).encode("ascii") if query else b""
        if plan.body == _NO_BODY and not (forwarded or headers or cookies):
            return SubRequest(self.method, path, query_string)  # the usual GET: nothing else to build
        body = _encode_body(plan, fields or {})
        return SubRequest(
            self.method,
            path,
            query_string,
            _all_headers(forwarded, headers, cookies, body, plan.withheld)
            if forwarded or headers or cookies or body[0]
            else (),
            body[1],
        )


def _plan_for_template(template: str, names: Mapping[str, str] | None = None) -> _Plan:
    """The path of ``template``; ``names`` maps a parameter to its argument, when they differ."""
    pieces = _TEMPLATE.split(template)
    for index in range(0, len(pieces), 2):
        pieces[index] = quote(pieces[index], safe=_PATH_SAFE)
    slashes: set[str] = set()
    for index in range(1, len(pieces), 2):
        name, _, converter = pieces[index].partition(":")
        pieces[index] = name = names.get(name, name) if names else name
        if converter == "path":
            slashes.add(name)
    return _Plan(tuple(pieces), slashes=frozenset(slashes))


def _other_properties(plan: _Plan, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments ``plan`` does not know, for a body that takes them; none for a tool without
    arguments (they are ignored); else ArgumentError."""
    others = {key: value for key, value in arguments.items() if key not in plan.known}
    if plan.open_body:
        return others
    if not plan.known:
        return {}
    unknown = ", ".join(map(repr, others))
    valid = ", ".join(map(repr, plan.names))
    raise ArgumentError(f"unknown argument{'s' if len(others) > 1 else ''} {unknown}; valid arguments: {valid}")


def _render_path(plan: _Plan, arguments: Mapping[str, Any]) -> str:
    path = plan.path[0]
    for name, after in plan.segments:
        value = arguments.get(name)
        if type(value) is int:  # the usual id: digits (and a sign) need no checks or quoting
            path += str(value) + after
            continue
        if value is None:
            raise ArgumentError(f"missing required argument {name!r}")
        text = _decimal(value) if type(value) is float else _scalar(name, value)
        if not text:
            raise ArgumentError(f"argument {name!r} must not be empty")
        if _UNRESERVED.fullmatch(text) and text not in (".", ".."):
            path += text + after
        else:
            path += (_path_segments(name, text) if name in plan.slashes else _path_segment(name, text)) + after
    return path


def _decimal(value: float) -> str:
    """``value`` in plain decimal notation, exactly: Starlette's ``:float`` convertor matches
    ``[0-9]+(\\.[0-9]+)?``, so ``1e-07`` would be a 404 where ``0.0000001`` is routed."""
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text else text


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
    if "\n" in text:
        # Starlette's ``:path`` pattern is ``.*``, which stops at a line break: the request would go
        # to another route or a redirect, or (a final one, before which ``$`` matches) lose it
        raise ArgumentError(f"argument {name!r} must not contain a line break")
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


def _items(arg: _Arg, value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        if arg.single:
            raise ArgumentError(_SINGLE.format(arg.name))
        return [_scalar(arg.name, item) for item in value if item is not None]
    return [_scalar(arg.name, value)]


def _shaped(arg: _Arg, value: Any) -> list[str]:
    """The encoded ``key=value`` pairs of a query argument that is not written as its scalars."""
    if arg.shape == _JSON_TEXT:
        return [arg.query_key + _form_encode(_json_text(arg.name, value))]
    return _exploded(arg, value)


def _json_text(name: str, value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:  # orjson.JSONEncodeError: nested too deep, or an integer beyond 64 bits
        raise ArgumentError(f"argument {name!r} cannot be encoded as JSON: {exc}") from None


def _exploded(arg: _Arg, value: Any) -> list[str]:
    """An object's properties as encoded ``key=value`` pairs (a list repeats its key)."""
    if not isinstance(value, Mapping):
        raise ArgumentError(f"argument {arg.name!r} must be an object of query parameter names to values")
    pairs: list[str] = []
    for key, item in value.items():
        items = item if isinstance(item, (list, tuple)) else (item,)
        name = f"{arg.name}.{key}"
        pairs.extend(f"{_form_encode(key)}={_form_encode(_scalar(name, one))}" for one in items if one is not None)
    return pairs


_UNRESERVED: Final = re.compile(r"[A-Za-z0-9_.~-]*")


def _form_encode(text: str) -> str:
    """``quote_plus(text)``, without its per-character work for the usual plain values."""
    if (text.isascii() and text.isalnum()) or _UNRESERVED.fullmatch(text):
        return text
    return quote_plus(text)


def _add_header(headers: list[tuple[bytes, bytes]], arg: _Arg, value: Any) -> None:
    for text in _items(arg, value):
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
    if kind == _RAW:
        part = plan.files["body"]
        if not isinstance(value := fields["body"], str):
            raise ArgumentError(f"argument {part.argument!r} must be a string")
        return plan.content_type, _part_data(part, value)
    pairs = [(key, _form_value(key, item)) for key, value in fields.items() for item in _form_items(plan, key, value)]
    if kind == _FORM:
        return plan.content_type, urlencode(pairs).encode("ascii")
    return _multipart(pairs, plan.files)


def _form_items(plan: _Plan, key: str, value: Any) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        return [value]
    if key in plan.singles:
        raise ArgumentError(_SINGLE.format(plan.singles[key]))
    return [item for item in value if item is not None]


def _form_value(name: str, value: Any) -> str:
    if isinstance(value, (dict, list)):
        return _json_text(name, value)
    return _scalar(name, value)


def _multipart(pairs: list[tuple[str, str]], files: Mapping[str, _FilePart]) -> tuple[bytes, bytes]:
    encoded = [(name, _part_data(files.get(name), text)) for name, text in pairs]
    boundary = b"mcp-middleware-form-boundary"
    number = 0
    while any(boundary in data for _, data in encoded):
        number += 1
        boundary = b"mcp-middleware-form-boundary-%d" % number
    chunks: list[bytes] = []
    for name, data in encoded:
        quoted = name.replace('"', "%22").encode()
        head = b'Content-Disposition: form-data; name="%s"' % quoted
        if (part := files.get(name)) is not None:
            media, extension = _kind_of(part.content_type, data)
            head += b'; filename="%s%s"\r\nContent-Type: %s' % (quoted, extension, media)
        chunks.append(b"--%s\r\n%s\r\n\r\n%s\r\n" % (boundary, head, data))
    chunks.append(b"--%s--\r\n" % boundary)
    return b"multipart/form-data; boundary=" + boundary, b"".join(chunks)


_UNTYPED = b"application/octet-stream"
# (offset, signature, media type, extension): the common kinds of file, by their first bytes
_SIGNATURES = (
    (0, b"\x89PNG\r\n\x1a\n", b"image/png", b".png"),
    (0, b"\xff\xd8\xff", b"image/jpeg", b".jpg"),
    (0, b"GIF87a", b"image/gif", b".gif"),
    (0, b"GIF89a", b"image/gif", b".gif"),
    (8, b"WEBP", b"image/webp", b".webp"),
    (0, b"%PDF-", b"application/pdf", b".pdf"),
    (0, b"PK\x03\x04", b"application/zip", b".zip"),
    (0, b"\x1f\x8b", b"application/gzip", b".gz"),
    (8, b"WAVE", b"audio/wav", b".wav"),
    (0, b"ID3", b"audio/mpeg", b".mp3"),
    (0, b"OggS", b"audio/ogg", b".ogg"),
)


def _kind_of(declared: bytes, data: bytes) -> tuple[bytes, bytes]:
    """A file part's media type and its filename's extension: a file declared only as bytes
    (``UploadFile``, ``bytes = File()``) gets the type its first bytes show, for the common kinds,
    so that a route checking ``content_type`` or the extension can be called at all."""
    if declared == _UNTYPED:
        for offset, signature, media, extension in _SIGNATURES:
            if data.startswith(signature, offset) and (offset == 0 or data.startswith(b"RIFF")):
                return media, extension
    return declared, b""


def _part_data(part: _FilePart | None, text: str) -> bytes:
    if part is None:
        return text.encode()
    if not part.base64:
        try:
            return text.encode(part.charset)
        except UnicodeEncodeError as exc:
            bad = text[exc.start : exc.end]
            raise ArgumentError(
                f"argument {part.argument!r} has {bad!r}, which charset {part.charset!r} cannot encode"
            ) from None
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII string
        raise ArgumentError(f"argument {part.argument!r} must be the file's content in base64") from None


def _all_headers(
    forwarded: Sequence[tuple[bytes, bytes]],
    own: list[tuple[bytes, bytes]],
    cookies: list[str],
    body: tuple[bytes, bytes],
    withheld: frozenset[bytes],
) -> tuple[tuple[bytes, bytes], ...]:
    headers: list[tuple[bytes, bytes]] = []
    jar: list[bytes] = []
    for key, value in forwarded:
        lower = key if key[:1] == MARK else key.lower()  # a URL key's name keeps its case (query_keys)
        if lower in withheld:
            continue
        if cookies and lower == b"cookie":
            jar.append(value)
        else:
            headers.append((lower, value))
    headers.extend(own)
    if cookies:
        if jar:
            sent = _cookie_names(jar)
            cookies = [cookie for cookie in cookies if cookie.partition("=")[0] not in sent]
        if cookies:
            jar.append("; ".join(cookies).encode("latin-1", "replace"))
        headers.append((b"cookie", b"; ".join(jar)))
    content_type, data = body
    if content_type:
        headers.append((b"content-type", content_type))
        headers.append((b"content-length", str(len(data)).encode("ascii")))
    return tuple(headers)


def _cookie_names(jar: list[bytes]) -> set[str]:
    """The names of the cookies in ``jar``'s headers, as Starlette reads them (a crumb without
    ``=`` has the empty name)."""
    names: set[str] = set()
    for value in jar:
        for crumb in value.decode("latin-1").split(";"):
            name, equals, _ = crumb.partition("=")
            names.add(name.strip() if equals else "")
    return names
