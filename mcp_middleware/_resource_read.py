"""A ``resources/read`` result from the route's response, and its caching hints.

Part of :mod:`mcp_middleware.features`: textual bodies ──▶ ``TextResourceContents``
(``text/plain`` when untyped), others ──▶ ``BlobResourceContents`` of the declared type, else the
route's (one going out as ``image/*``, in any case, typed as a tool's result's image is: the type
its bytes show when a model reads it, else never ``image/*``, ``_image_type``; another type
stays); an ``MCPResponse``'s blocks ──▶ one contents each (text, image/audio blobs of their own
type, an embedded resource's own; a ``resource_link`` is an error); a 404 from the route means the
resource does not exist; in 2026-07-28 the result's ``ttlMs``/``cacheScope`` come from the route's
Cache-Control (``cache_hints``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from mcp_types import jsonrpc as codes

from ._feature_errors import _refuse_cut, about, first_text, not_found, route_failed
from .jsonrpc import ProtocolError
from .results import ResponseCollector, blob_type, unread_image

__all__ = ["cache_hints", "resource_contents"]


def resource_contents(
    uri: str, mime: str | None, modern: bool, collector: ResponseCollector, private: bool = False
) -> dict[str, Any]:
    """The ``ReadResourceResult`` of the route's response; in 2026-07-28 with the caching hints of
    its Cache-Control (``cache_hints``; ``private``: the request carried credentials), which
    ``collector`` (a ``results.CachingCollector``) kept."""
    if collector.status == 404:
        raise not_found(uri, modern)
    if collector.status >= 300:
        raise route_failed(collector, f"Reading {uri}", about(uri))
    _refuse_cut(collector, f"Reading {uri}")
    if collector.kind == "mcp":
        result: dict[str, Any] = {"contents": _block_contents(uri, collector.result())}
    else:
        untyped = "text/plain" if collector.textual else "application/octet-stream"
        content: dict[str, Any] = {"uri": uri, "mimeType": mime or collector.mime or untyped}
        if collector.textual:
            content["text"] = collector.contents()
        else:
            body = collector.body_bytes()
            content["blob"] = base64.b64encode(body).decode("ascii")
            if content["mimeType"].lower().startswith("image/"):
                content["mimeType"] = _image_type(body, len(content["blob"]))
        result = {"contents": [content]}
    if modern:
        result["ttlMs"], result["cacheScope"] = cache_hints(collector.cache_control or "", private)
    return result


def _image_type(body: bytes, encoded: int) -> str:
    """The ``mimeType`` of a read body going out as an ``image/*`` (``encoded``: its
    base64's length), as a tool's result has it, by the one verdict on it
    (``results.unread_image``): the type its bytes show when a model's API reads it (a PNG served
    as ``image/jpeg`` is ``image/png``); else never ``image/*`` (``results.blob_type``: the type
    its bytes show when that is no image, a PDF served as ``image/png`` ``application/pdf``, else
    ``application/octet-stream``): clients make an ``image/*`` resource an image block, which a
    model's API refuses when it is no PNG, JPEG, GIF or WebP (a HEIC, a TIFF), is cut short or is
    too big (review mend item 3)."""
    shown, why = unread_image(body, encoded)
    return blob_type(body) if why else shown


# RFC 9111 §1.2.2: a delta-seconds beyond 2^31 is taken as 2^31 (and beyond this many digits, int()
# is not even asked)
_MAX_AGE = 2**31
_MAX_AGE_DIGITS = len(str(_MAX_AGE))


def cache_hints(cache_control: str, private: bool) -> tuple[int, str]:
    """``ttlMs`` and ``cacheScope`` of a resource read from the route's ``Cache-Control``
    (caching.mdx: ``ttlMs`` is analogous to ``max-age``, ``cacheScope`` to public/private).

    Private when the route says ``private`` or the request carried credentials (``private``), else
    public. The TTL is 0 (immediately stale) for ``no-store`` or ``no-cache`` (qualified or not: an
    MCP client has no revalidation), and without a ``max-age`` (so without any Cache-Control: a
    route that never said its data stays fresh gets no made-up freshness); else ``max-age``, or
    ``s-maxage`` for a public result (one that shared caches may keep), in milliseconds. Directive
    names are case-insensitive, a quoted value is read as its content, the first of a repeated
    directive counts, and an invalid value (not a non-negative integer) means stale (RFC 9111
    §4.2.1, §5.2)."""
    directives: dict[str, str] = {}
    for part in cache_control.split(","):
        name, _, value = part.partition("=")
        directives.setdefault(name.strip().lower(), value.strip().strip('"'))
    scope = "private" if private or "private" in directives else "public"
    if "no-store" in directives or "no-cache" in directives:
        return 0, scope
    age = directives.get("s-maxage") if scope == "public" else None
    if age is None:
        age = directives.get("max-age", "")
    if not (age.isascii() and age.isdigit()):
        return 0, scope
    seconds = _MAX_AGE if len(age) > _MAX_AGE_DIGITS else min(int(age), _MAX_AGE)
    return seconds * 1000, scope


def _block_contents(uri: str, result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A route's ``MCPResponse`` as the resource's contents: a text block ──▶ ``text/plain`` text,
    image and audio ──▶ blobs, an embedded resource ──▶ its own contents. A block with no contents
    of its own (a ``resource_link``), or an error result, is -32603."""
    blocks = result.get("content") or []
    if result.get("isError"):
        raise ProtocolError(codes.INTERNAL_ERROR, f"Reading {uri} failed: {first_text(result)}")
    contents: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, Mapping) else type(block).__name__
        if kind == "text":
            contents.append({"uri": uri, "mimeType": "text/plain", "text": block.get("text")})
        elif kind in ("image", "audio"):
            contents.append({"uri": uri, "mimeType": block.get("mimeType"), "blob": block.get("data")})
        elif kind == "resource":
            contents.append(block.get("resource"))
        else:
            why = f"a {kind} block has no contents of its own"
            raise ProtocolError(codes.INTERNAL_ERROR, f"Reading {uri} failed: {why}")
    return contents
