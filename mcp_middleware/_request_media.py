"""The media types of an OpenAPI ``content`` map: which one a tool uses, and how its values are sent.

Part of :mod:`mcp_middleware._operation_reader`, which reads request bodies and query parameters
with these; :mod:`mcp_middleware._tool_schemas` picks a response's JSON body with them too.

    A request body's media type is picked in this order (:func:`_pick_media`): ``application/json``,
    another JSON one (``+json``), then form bodies (urlencoded, then multipart), so a form is used
    only when there is no JSON body; then any other (``text/plain``, XML,
    ``application/octet-stream``), sent as is with the declared ``Content-Type`` (a range such as
    ``text/*`` as ``text/plain``), its text encoded in the declared ``charset`` (one Python has no
    text codec for: in UTF-8, the ``Content-Type`` then saying ``charset=utf-8``,
    :func:`_text_charset`), or given in base64 when the body is binary (its media type is no text,
    :func:`_is_text_media`). A multipart field whose schema is a file (``format: binary``,
    ``contentEncoding: base64`` or a ``contentMediaType`` other than JSON, as FastAPI writes
    ``UploadFile`` and ``bytes = File()``, alone, in a list or optional; a JSON one, pydantic's
    ``Json[...]``, is a plain field of JSON text, :func:`_holds_file`) is a file part; unless it is
    declared as ``text/*`` (whatever its parameters, ``; charset=utf-8``) without an encoding, its
    argument is the file's bytes in base64 (:func:`_file_field`). A query parameter given as
    ``content`` (``application/json``) instead of ``schema`` takes the content's schema, and its
    value is sent as its JSON text (:func:`_param_content`).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from typing import Any, Final

from mcp_middleware._http_token import TOKEN
from mcp_middleware._media import _NOT_CHARSETS, is_textual
from mcp_middleware._plan import _FORM, _JSON, _JSON_TEXT, _MULTIPART, _RAW, _SCALARS
from mcp_middleware._schema_nulls import collapse_optional

__all__ = [
    "_PRINTABLE",
    "_file_field",
    "_is_json_media",
    "_is_text_media",
    "_media_type",
    "_param_content",
    "_pick_media",
    "_text_charset",
]

_MEDIA_TYPE: Final = re.compile(f"{TOKEN}/{TOKEN}")
_PRINTABLE: Final = re.compile(r"[ -~]*")  # what a part's Content-Type may hold: no line breaks


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


def _is_text_media(media_type: str) -> bool:
    """Whether a body of ``media_type`` is text (a ``body`` argument given as is, not base64): the
    one table responses are read with too (``_media.is_textual``)."""
    return is_textual(media_type.encode("latin-1", "replace"))


def _file_node(schema: Any) -> Mapping[str, Any] | None:
    """The schema of the file a field holds (alone, in a list, or optional; in an ``allOf``, its
    first part that holds one: a file field two form models declare differently), or None."""
    schema = collapse_optional(schema)
    if not isinstance(schema, Mapping):
        return None
    if isinstance(parts := schema.get("allOf"), list):
        return next((node for part in parts if (node := _file_node(part)) is not None), None)
    if schema.get("type") == "array":
        return _file_node(schema.get("items"))
    return schema if _holds_file(schema) else None


def _holds_file(node: Mapping[str, Any]) -> bool:
    """Whether a field's own schema is a file's: binary (``format: binary``, ``contentEncoding:
    base64``) or of a media type that is no JSON text (pydantic's ``Json[...]`` field is a string of
    ``contentMediaType: application/json``, its JSON text sent as a plain form field)."""
    encoding = node.get("contentEncoding")
    if node.get("format") == "binary" or (isinstance(encoding, str) and encoding.lower() == "base64"):
        return True
    return node.get("contentMediaType") is not None and not is_json_text(node)


def is_json_text(node: Mapping[str, Any]) -> bool:
    """Whether a (string) schema's content is JSON text: its ``contentMediaType`` is JSON
    (pydantic's ``Json[...]``), so a form field of it takes an object or array as its JSON text."""
    declared = node.get("contentMediaType")
    return isinstance(declared, str) and _is_json_media(_media_type(declared))


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
