"""Routes that answer with MCP content directly: ``return MCPResponse([text("hi"), image(png, "image/png")])``.

Over plain HTTP the response is ordinary JSON (``{"content": [...], ...}``) with the media type
``application/vnd.mcp.content+json``; called as a tool its blocks become the ``CallToolResult``
as they are (text, image, audio, embedded resource, resource link, several mixed), and
``is_error``/``structured`` map to ``isError``/``structuredContent``.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from starlette.background import BackgroundTask
from starlette.responses import Response

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "MCP_CONTENT_TYPE",
    "MCPResponse",
    "audio",
    "embedded_resource",
    "image",
    "resource_link",
    "text",
]

MCP_CONTENT_TYPE = "application/vnd.mcp.content+json"

# what a content block must have besides its type: (field, a string?) each; a resource's contents
# are checked apart (a uri, and a text or a blob)
_BLOCK_FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "text": (("text", True),),
    "image": (("data", True), ("mimeType", True)),
    "audio": (("data", True), ("mimeType", True)),
    "resource": (("resource", False),),
    "resource_link": (("uri", True), ("name", True)),
}
_BLOCK_KINDS = "text, image, audio, resource or resource_link"
_ASCII_WHITESPACE = str.maketrans("", "", "\t\n\f\r ")  # (the WHATWG's: no \v)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*")  # the standard alphabet (RFC 4648 section 4), no padding
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# the bits of the last character that no byte uses, by the unpadded length modulo 4 (0: none)
_UNUSED_BITS = (0, 0, 0b1111, 0b11)
_STRUCTURED = (
    "a mapping or a dataclass instance (the result's structuredContent, a JSON object; for a pydantic model, "
    "its model_dump(mode='json'))"
)


def _shown(value: Any) -> str:
    """``value`` as Python writes it, its start only when long."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _string(where: str, field: str, value: Any) -> None:
    if not isinstance(value, str):
        raise TypeError(f"{where}: {field} must be a string, not {_shown(value)}")


def _b64(where: str, field: str, data: Any) -> str:
    """``data`` as base64 text, as the schema's ``format: byte`` has it (RFC 4648: padded, no
    whitespace): bytes encoded; a string read as the TypeScript SDK's check (``atob``) reads it,
    then encoded again (line-wrapped or unpadded text is taken, and sent canonical)."""
    if isinstance(data, bytes | bytearray | memoryview):
        return base64.b64encode(data).decode("ascii")
    if not isinstance(data, str):
        raise TypeError(f"{where}: {field} must be bytes or base64 text, not {_shown(data)}")
    if (decoded := _forgiving_b64decode(data)) is None:
        raise ValueError(f"{where}: {field} must be the raw bytes or their base64 text, not {_shown(data)}")
    return base64.b64encode(decoded).decode("ascii")


def _forgiving_b64decode(text: str) -> bytes | None:
    """The bytes of ``text`` as the WHATWG's forgiving-base64 decode (``atob``) reads it, or None
    where it fails: ASCII whitespace anywhere is left out, then one or two ``=`` end a length that
    is a multiple of 4 and are the only ones, a length of 4n + 1 is none, and every other character
    is of the standard alphabet (url-safe ``-`` and ``_`` are not). Text without its padding must
    also be canonical (RFC 4648 section 3.5: the last character's unused bits are zero), as every
    encoder writes it, which plain words mistaken for base64 ("hello world") mostly are not."""
    compact = text.translate(_ASCII_WHITESPACE)
    padded = len(compact) % 4 == 0 and compact.endswith("=")
    if padded:
        compact = compact[:-2] if compact.endswith("==") else compact[:-1]
    if len(compact) % 4 == 1 or not compact.isascii() or _BASE64.fullmatch(compact) is None:
        return None
    if not padded and compact and _ALPHABET.index(compact[-1]) & _UNUSED_BITS[len(compact) % 4]:
        return None
    return base64.b64decode(compact + "=" * (-len(compact) % 4))


def text(value: str, **extra: Any) -> dict[str, Any]:
    """A text block; ``extra`` adds its other fields (``annotations``, ``_meta``)."""
    _string("content.text", "value", value)
    return {"type": "text", "text": value, **extra}


def image(data: bytes | str, mime_type: str, **extra: Any) -> dict[str, Any]:
    """An image block. ``data``: raw bytes, or an already base64-encoded string (checked as ``atob``
    reads it, and sent padded without whitespace: text that is not base64 raises a ``ValueError``)."""
    _string("content.image", "mime_type", mime_type)
    return {"type": "image", "data": _b64("content.image", "data", data), "mimeType": mime_type, **extra}


def audio(data: bytes | str, mime_type: str, **extra: Any) -> dict[str, Any]:
    """An audio block (2025-03-26 and later; a 2024-11-05 client gets a text note instead).
    ``data``: raw bytes, or an already base64-encoded string (checked, as :func:`image`'s)."""
    _string("content.audio", "mime_type", mime_type)
    return {"type": "audio", "data": _b64("content.audio", "data", data), "mimeType": mime_type, **extra}


def embedded_resource(
    uri: str, *, text: str | None = None, blob: bytes | str | None = None, mime_type: str | None = None
) -> dict[str, Any]:
    """An embedded resource with either ``text`` or ``blob`` (bytes, or base64 text)."""
    where = "content.embedded_resource"
    if (text is None) == (blob is None):
        raise ValueError("give exactly one of text= or blob=")
    _string(where, "uri", uri)
    resource: dict[str, Any] = {"uri": uri}
    if mime_type is not None:
        _string(where, "mime_type", mime_type)
        resource["mimeType"] = mime_type
    if text is not None:
        _string(where, "text", text)
        resource["text"] = text
    else:
        resource["blob"] = _b64(where, "blob", blob)
    return {"type": "resource", "resource": resource}


def resource_link(uri: str, name: str, **extra: Any) -> dict[str, Any]:
    """A link to a resource the server serves through ``resources/read`` (2025-06-18 and later; a
    client of an older revision gets a text block naming the link instead)."""
    _string("content.resource_link", "uri", uri)
    _string("content.resource_link", "name", name)
    return {"type": "resource_link", "uri": uri, "name": name, **extra}


def _blocks(content: Any) -> list[Mapping[str, Any]]:
    """``MCPResponse``'s content as a list of blocks, each checked: a mapping whose type is one of
    the spec's, with the fields that type requires (strings; a resource's contents a mapping with
    a ``uri`` and a ``text`` or ``blob``)."""
    if isinstance(content, str):
        return [text(content)]
    if isinstance(content, Mapping):
        blocks: list[Any] = [content]
    elif isinstance(content, Iterable) and not isinstance(content, bytes | bytearray | memoryview):
        blocks = list(content)
    else:
        why = f"content must be a string, a content block or a list of them, not {_shown(content)}"
        raise TypeError(f"MCPResponse: {why}")
    for index, block in enumerate(blocks):
        _check_block(f"content[{index}]", block)
    return blocks


def _structured(value: Any) -> Any:
    """``structured`` as orjson writes it into a JSON object: a dict, or a dataclass instance as it
    is; another mapping copied (orjson writes dicts only); anything else raises."""
    if isinstance(value, dict) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        return value
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"MCPResponse: structured must be {_STRUCTURED}, not {_shown(value)}")


def _check_block(at: str, block: Any) -> None:
    if not isinstance(block, Mapping):
        raise TypeError(f"MCPResponse: {at} must be a content block (a mapping with a 'type'), not {_shown(block)}")
    kind = block.get("type")
    if not isinstance(kind, str) or kind not in _BLOCK_FIELDS:
        raise ValueError(f"MCPResponse: {at} has type {_shown(kind)}, not {_BLOCK_KINDS}")
    for field, textual in _BLOCK_FIELDS[kind]:
        if field not in block:
            article = "an" if kind[0] in "aeiou" else "a"
            raise ValueError(f"MCPResponse: {at} ({article} {kind} block) has no {field!r}")
        value = block[field]
        if not (isinstance(value, str) if textual else isinstance(value, Mapping)):
            wanted = "a string" if textual else "a mapping"
            raise TypeError(f"MCPResponse: {at}[{field!r}] must be {wanted}, not {_shown(value)}")
    if kind == "resource":
        contents = block["resource"]
        if "uri" not in contents:
            raise ValueError(f"MCPResponse: {at}['resource'] has no 'uri'")
        if not isinstance(contents["uri"], str):
            raise TypeError(f"MCPResponse: {at}['resource']['uri'] must be a string, not {_shown(contents['uri'])}")
        if not (isinstance(contents.get("text"), str) or isinstance(contents.get("blob"), str)):
            raise ValueError(f"MCPResponse: {at}['resource'] has neither 'text' nor 'blob' (a string)")


class MCPResponse(Response):
    """A route's answer as MCP content: ``content`` is a string (one text block), a content block
    or a list of them (:func:`text`, :func:`image`, :func:`audio`, :func:`embedded_resource`,
    :func:`resource_link`, or mappings of the same shape); ``structured`` the result's
    ``structuredContent`` (a JSON object: a mapping, or a dataclass instance, which orjson writes
    as one); ``is_error`` its ``isError``. Called as a tool, the
    blocks are the ``CallToolResult``'s content; over plain HTTP the body is that JSON, with the
    media type ``application/vnd.mcp.content+json``. Content of the wrong shape (a block whose type
    is none of the spec's, or that lacks a field its type requires) or a ``structured`` that is
    neither (a list, a pydantic model: pass its ``model_dump(mode="json")``) raises a ``TypeError``
    or ``ValueError`` here, where the route builds it."""

    media_type = MCP_CONTENT_TYPE

    def __init__(
        self,
        content: Sequence[Mapping[str, Any]] | Mapping[str, Any] | str,
        *,
        structured: Mapping[str, Any] | DataclassInstance | None = None,
        is_error: bool = False,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        body: dict[str, Any] = {"content": _blocks(content)}
        if structured is not None:
            body["structuredContent"] = _structured(structured)
        if is_error:
            body["isError"] = True
        try:
            encoded = orjson.dumps(body)
        except TypeError as error:  # (orjson.JSONEncodeError)
            raise TypeError(f"MCPResponse: the content is not JSON: {error}") from None
        super().__init__(encoded, status_code, headers, self.media_type, background)
