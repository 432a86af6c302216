"""Routes that answer with MCP content directly: ``return MCPResponse([text("hi"), image(png, "image/png")])``.

Over plain HTTP the response is ordinary JSON (``{"content": [...], ...}``) with the media type
``application/vnd.mcp.content+json``; called as a tool its blocks become the ``CallToolResult``
as they are (text, image, audio, embedded resource, resource link, several mixed), and
``is_error``/``structured`` map to ``isError``/``structuredContent``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from starlette.background import BackgroundTask
from starlette.responses import Response

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


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **extra}


def _b64(data: bytes | str) -> str:
    return data if isinstance(data, str) else base64.b64encode(data).decode("ascii")


def image(data: bytes | str, mime_type: str, **extra: Any) -> dict[str, Any]:
    """``data``: raw bytes, or an already base64-encoded string."""
    return {"type": "image", "data": _b64(data), "mimeType": mime_type, **extra}


def audio(data: bytes | str, mime_type: str, **extra: Any) -> dict[str, Any]:
    return {"type": "audio", "data": _b64(data), "mimeType": mime_type, **extra}


def embedded_resource(
    uri: str, *, text: str | None = None, blob: bytes | str | None = None, mime_type: str | None = None
) -> dict[str, Any]:
    """An embedded resource with either ``text`` or ``blob`` (bytes, or base64 text)."""
    if (text is None) == (blob is None):
        raise ValueError("give exactly one of text= or blob=")
    resource: dict[str, Any] = {"uri": uri}
    if mime_type is not None:
        resource["mimeType"] = mime_type
    if text is not None:
        resource["text"] = text
    else:
        assert blob is not None
        resource["blob"] = _b64(blob)
    return {"type": "resource", "resource": resource}


def resource_link(uri: str, name: str, **extra: Any) -> dict[str, Any]:
    """A link to a resource the server serves through ``resources/read`` (2025-06-18 and later; a
    client of an older revision gets a text block naming the link instead)."""
    return {"type": "resource_link", "uri": uri, "name": name, **extra}


class MCPResponse(Response):
    media_type = MCP_CONTENT_TYPE

    def __init__(
        self,
        content: Sequence[Mapping[str, Any]] | Mapping[str, Any] | str,
        *,
        structured: Any = None,
        is_error: bool = False,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        if isinstance(content, str):
            blocks: list[Mapping[str, Any]] = [text(content)]
        elif isinstance(content, Mapping):
            blocks = [content]
        else:
            blocks = list(content)
        body: dict[str, Any] = {"content": blocks}
        if structured is not None:
            body["structuredContent"] = structured
        if is_error:
            body["isError"] = True
        super().__init__(orjson.dumps(body), status_code, headers, self.media_type, background)
