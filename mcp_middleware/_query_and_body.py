"""A tool call's query values and body: the query string's ``key=value`` pairs, and JSON, form,
multipart and raw bodies.

Part of :mod:`mcp_middleware._requests`, which assembles them into the sub-request.

    Query lists repeat the name. A query parameter of JSON content (``content: {application/json:
    ...}``) is its value's compact JSON text (``_JSON_TEXT``), whatever its type (a string is
    quoted, an array is one parameter); an object for one in OpenAPI's default style is its
    properties, each a parameter (``_EXPLODED``).
    An array for a query, header or form parameter whose schema is no array (``_Arg.single``,
    ``_Plan.singles``) is an :class:`~mcp_middleware._values.ArgumentError`: sent repeated, the
    route would use one value; so is an array without a value that is no null for a required one
    that may be an array (``_Arg.filled``, ``_Plan.filled``): it would send none, and the route
    answer that the parameter is missing. A form field (urlencoded, or a multipart part that is no file) is
    written as a query parameter of no JSON content is, each value by ``_values._scalar``: an
    object, or an array in an array, is an ``ArgumentError`` too where the field's own schema takes
    none (``_Plan.flat``); where it may take one (an ``openapi_extra`` object property, ``str |
    dict``, ``Any``, ``Json[...]``), it is sent as its JSON text (OpenAPI's multipart default for
    an object property).
    A body of another media type than JSON or a form (``text/plain``, XML, ``application/octet-stream``)
    is the ``body`` argument, a string, sent as is with the declared ``Content-Type``, encoded in
    its ``charset`` (``_FilePart.charset``: UTF-8 when it names none Python can encode text with,
    which the catalog then makes the ``Content-Type`` say; a character it cannot encode is an
    :class:`~mcp_middleware._values.ArgumentError`), or decoded from base64 when the body is
    binary (``_RAW``, its ``_FilePart`` in ``_Plan.files``).
    A file field of a multipart body is a file part (its filename the field's name, its
    ``Content-Type`` the declared media type, ``application/octet-stream`` when none is: then the
    type its first bytes show, for the common kinds, ``_kind_of``); a binary one's argument is the
    file's content in base64, read as ``content.image`` reads base64 text (the WHATWG's forgiving
    base64: whitespace ignored, padding optional where the text is canonical), after an optional ``data:<type>;base64,``
    prefix, decoded here, and anything else (a value that is no string too: the text of ``true`` or
    ``1234`` is base64) is an :class:`~mcp_middleware._values.ArgumentError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from mcp_middleware._plan import _FORM, _JSON, _JSON_TEXT, _JSON_VALUE, _NO_BODY, _RAW, _Arg, _FilePart, _Plan
from mcp_middleware._signatures import sniffed
from mcp_middleware._values import _EMPTY, _SINGLE, ArgumentError, _form_encode, _json_text, _scalar, _scalar_as
from mcp_middleware.content import _forgiving_b64decode

__all__ = ["_encode_body", "_items", "_shaped"]


def _items(arg: _Arg, value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        if arg.single:
            raise ArgumentError(_SINGLE.format(arg.name))
        items = [_scalar_as(arg.name, item, arg.integer) for item in value if item is not None]
        if not items and arg.filled:
            raise ArgumentError(_EMPTY.format(arg.name))
        return items
    return [_scalar_as(arg.name, value, arg.integer)]


def _shaped(arg: _Arg, value: Any) -> list[str]:
    """The encoded ``key=value`` pairs of a query argument that is not written as its scalars."""
    if arg.shape == _JSON_TEXT:
        return [arg.query_key + _form_encode(_json_text(arg.name, value))]
    return _exploded(arg, value)


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
    pairs = [(key, item) for key, value in fields.items() for item in _form_items(plan, key, value)]
    if kind == _FORM:
        form = urlencode([(key, _form_value(plan, key, item)) for key, item in pairs])
        return plan.content_type, form.encode("ascii")
    return _multipart([(key, _part_value(plan, key, item)) for key, item in pairs], plan.files)


def _form_items(plan: _Plan, key: str, value: Any) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        return [value]
    if key in plan.singles:
        raise ArgumentError(_SINGLE.format(plan.singles[key]))
    items = [item for item in value if item is not None]
    if not items and key in plan.filled:
        raise ArgumentError(_EMPTY.format(plan.filled[key]))
    return items


def _form_value(plan: _Plan, name: str, value: Any) -> str:
    """A form field's text: an object or array is its JSON text where the field's schema may take
    one, and refused by ``_scalar`` (naming the argument) where it takes none (``_Plan.flat``)."""
    if isinstance(value, (dict, list)):
        if (argument := plan.flat.get(name)) is None:
            return _json_text(name, value)
        name = argument
    return _scalar(name, value)


def _part_value(plan: _Plan, name: str, value: Any) -> bytes:
    """A multipart field's bytes. A file's base64 must be a string: the text of a boolean or a
    number (``true``, ``1234``) may be base64 too, and would be sent as its garbage bytes."""
    part = plan.files.get(name)
    if part is not None and part.base64 and type(value) is not str:
        raise ArgumentError(f"argument {part.argument!r} must be the file's content in base64")
    return _part_data(part, _form_value(plan, name, value))


def _multipart(encoded: list[tuple[str, bytes]], files: Mapping[str, _FilePart]) -> tuple[bytes, bytes]:
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
# the start of an RFC 2397 data URL of base64 (``data:image/png;base64,``), which a file's argument may have
_DATA_URL = re.compile(r"\s*data:[^,]*;base64,", re.IGNORECASE)


def _kind_of(declared: bytes, data: bytes) -> tuple[bytes, bytes]:
    """A file part's media type and its filename's extension: a file declared only as bytes
    (``UploadFile``, ``bytes = File()``) gets the type its first bytes show, for the common kinds
    (``_signatures``), so that a route checking ``content_type`` or the extension can be called at all."""
    if declared == _UNTYPED and (found := sniffed(data)) is not None:
        return found
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
    if (prefix := _DATA_URL.match(text)) is not None:  # a data URL's base64 (its type: the bytes say)
        text = text[prefix.end() :]
    if (data := _forgiving_b64decode(text)) is None:
        raise ArgumentError(f"argument {part.argument!r} must be the file's content in base64")
    return data
