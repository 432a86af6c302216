"""A declared route's failure as a JSON-RPC error: neither ``resources/read`` nor ``prompts/get`` has
an ``isError`` result.

Part of :mod:`mcp_middleware.features`. Unknown resources are -32602 with ``data.uri`` in
2026-07-28 (-32002 was retired) and -32002 in the handshake era. Route failures are -32602 for 4xx
(the arguments were wrong) and -32603 otherwise (3xx included: a redirect is not followed, and a 304
Not Modified has no content to read); so is a
body longer than the result limits (text is never cut). Every -32602 (or -32002) of a read carries
``data.uri`` (``about``), so a client can tell a bad resource from other invalid params.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp_types import jsonrpc as codes

from .jsonrpc import ProtocolError
from .results import Refusal, RefusedError, ResponseCollector, is_redirect, status_line

__all__ = ["RESOURCE_NOT_FOUND_LEGACY", "about", "first_text", "not_found", "route_failed"]

RESOURCE_NOT_FOUND_LEGACY = -32002


def about(uri: str) -> dict[str, str]:
    """The ``data`` of a read's error about its URI, as the spec's resource errors have it."""
    return {"uri": uri}


def not_found(uri: str, modern: bool) -> ProtocolError:
    code = codes.INVALID_PARAMS if modern else RESOURCE_NOT_FOUND_LEGACY
    return ProtocolError(code, f"Resource not found: {uri}", about(uri))


def first_text(result: Mapping[str, Any]) -> str:
    """The text of a result's first content block, what an error result says ("" without one)."""
    blocks = result.get("content")
    return str(blocks[0].get("text", "")) if blocks else ""


def route_failed(collector: ResponseCollector, what: str, data: Any = None) -> ProtocolError:
    """A 3xx or 4xx/5xx answer as a JSON-RPC error; a 4xx's -32602 with ``data`` (a read's
    ``about(uri)``)."""
    if collector.status < 400:
        answered = "HTTP " + status_line(collector.status)
        why = "redirects are not followed" if is_redirect(collector.status) else "the route answered no content"
        return ProtocolError(codes.INTERNAL_ERROR, f"{what} failed: {answered} ({why})")
    result = collector.result()
    text = first_text(result)  # the tool-style error text: status and detail
    if not 400 <= collector.status < 500:
        return ProtocolError(codes.INTERNAL_ERROR, f"{what} failed: {text}")
    if isinstance(result, Refusal):  # a 401 or 403: with oauth, maybe the endpoint's HTTP refusal
        return RefusedError(codes.INVALID_PARAMS, f"{what} failed: {text}", result, data)
    return ProtocolError(codes.INVALID_PARAMS, f"{what} failed: {text}", data)


def _refuse_cut(collector: ResponseCollector, what: str) -> None:
    """Text cut at ``max_result_chars`` is no resource or prompt (a part of a JSON document is not
    JSON): -32603 with the sizes, as binary beyond ``max_binary_bytes`` is; so is a body in a
    content coding the middleware cannot decode (``cut_short`` says which)."""
    if (cut := collector.cut_short()) is not None:
        raise ProtocolError(codes.INTERNAL_ERROR, f"{what} failed: {cut}.")
