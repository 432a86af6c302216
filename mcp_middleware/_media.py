"""A response's ``Content-Type`` ──▶ (media type, kind, charset), for :mod:`mcp_middleware.results`.

The kind says how :class:`~mcp_middleware.results.ResponseCollector` collects and shows the body:
``mcp`` (a route's own ``MCPResponse``), ``events``, ``json``, ``text``, ``untyped`` (no media type:
the first bytes decide), ``image``, ``audio`` or ``binary``. An unknown charset, or a codec that is
not a text encoding, is read as UTF-8. Apps send a handful of distinct header values:
``ResponseCollector.head`` remembers each one's answer in ``_MEDIA``.
"""

from __future__ import annotations

import codecs

from .content import MCP_CONTENT_TYPE

__all__ = ["_MEDIA", "_TEXTUAL_KINDS", "_classify", "_media"]

_TEXTUAL = frozenset(
    {
        b"application/xml",
        b"application/javascript",
        b"application/x-ndjson",
        b"application/ndjson",
        b"application/jsonl",
        b"application/yaml",
        b"application/x-yaml",
        b"application/x-www-form-urlencoded",
    }
)


_MCP_CONTENT = MCP_CONTENT_TYPE.encode()

_TEXTUAL_KINDS = frozenset({"text", "json", "events", "mcp"})
# content-type header value -> (media type, kind, charset), remembered
_MEDIA: dict[bytes, tuple[str, str, str]] = {}


def _media(raw: bytes) -> tuple[str, str, str]:
    mime, _, params = raw.partition(b";")
    mime = mime.strip().lower()
    charset = "utf-8"
    for param in params.split(b";"):
        key, _, value = param.strip().partition(b"=")
        if key.lower() == b"charset" and value:
            charset = value.strip(b'"').decode("latin-1")
    if charset != "utf-8":
        try:
            codec = codecs.lookup(charset)
        except LookupError:
            codec = None  # an unknown charset is read as UTF-8
        # and so is a codec that is not a text encoding (base64, zlib, rot13: str.encode refuses them too)
        charset = codec.name if codec is not None and codec._is_text_encoding else "utf-8"
    return mime.decode("latin-1"), _classify(mime), charset


def _classify(mime: bytes) -> str:
    if mime == _MCP_CONTENT:
        return "mcp"
    if mime == b"text/event-stream":
        return "events"
    if mime == b"application/json" or mime.endswith(b"+json"):
        return "json"
    if not mime:
        return "untyped"  # text or binary: the first bytes decide (ResponseCollector._sniff)
    if mime.startswith(b"text/") or mime in _TEXTUAL or mime.endswith(b"+xml"):
        return "text"
    if mime.startswith(b"image/"):
        return "image"
    if mime.startswith(b"audio/"):
        return "audio"
    return "binary"
