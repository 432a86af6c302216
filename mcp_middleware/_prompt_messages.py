"""A ``prompts/get`` result from the route's response.

Part of :mod:`mcp_middleware.features`: a string ──▶ one user message; a list of messages or
strings; or ``{"messages": [...], "description": ...}``; a binary body is an error, and so is a
message whose role is not user/assistant or whose content is not a content block (the error says
which).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from mcp_types import jsonrpc as codes

from ._feature_errors import _refuse_cut, first_text, route_failed
from .content import _BLOCK_FIELDS, _BLOCK_KINDS  # what a content block must have
from .jsonrpc import ProtocolError
from .results import ResponseCollector

__all__ = ["prompt_messages"]


def _shown(value: Any) -> str:
    """``value`` as JSON in an error text, its start only when long."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # (orjson.JSONEncodeError) nested deeper than orjson writes (it reads deeper)
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _not_a_message(why: str) -> ProtocolError:
    return ProtocolError(codes.INTERNAL_ERROR, f"The prompt route returned {why}")


def _message(item: Any) -> dict[str, Any]:
    """A prompt message from an item the route returned: a string is a user message; a message's
    role and content block are checked here, so that the client's error says what is wrong (the
    wire type's check would say "invalid result"; what is left to it still does)."""
    if isinstance(item, str):
        return {"role": "user", "content": {"type": "text", "text": item}}
    if not (isinstance(item, Mapping) and "role" in item and "content" in item):
        raise _not_a_message("something that is not a message")
    role, content = item["role"], item["content"]
    if role not in ("user", "assistant"):
        why = 'a prompt message\'s role is "user" or "assistant" (put instructions in a user message)'
        raise _not_a_message(f"a message with role {_shown(role)}: {why}")
    if not isinstance(content, Mapping):
        hint = ""
        if isinstance(content, str):
            hint = "; a plain string is a user message of its own"
        elif isinstance(content, list):
            hint = "; give each block a message of its own"
        shown = "a list" if isinstance(content, list) else _shown(content)
        block = f'a content block (an object whose "type" is {_BLOCK_KINDS})'
        raise _not_a_message(f"a message whose content is {shown}, not {block}{hint}")
    kind = content.get("type")
    if not isinstance(kind, str) or kind not in _BLOCK_FIELDS:
        raise _not_a_message(f"a message whose content has type {_shown(kind)}, not {_BLOCK_KINDS}")
    for name, textual in _BLOCK_FIELDS[kind]:
        value = content.get(name)
        if not (isinstance(value, str) if textual else isinstance(value, Mapping)):
            article = "an" if kind[0] in "aeiou" else "a"
            raise _not_a_message(f'{article} {kind} block without "{name}" (a {"string" if textual else "object"})')
    return dict(item)


def prompt_messages(name: str, collector: ResponseCollector) -> dict[str, Any]:
    if collector.status >= 300:
        raise route_failed(collector, f"Prompt {name!r}")
    _refuse_cut(collector, f"Prompt {name!r}")
    if not collector.textual:
        raise ProtocolError(codes.INTERNAL_ERROR, f"The prompt route returned {collector.mime}, not text or messages")
    if collector.kind == "mcp":  # the route's own MCPResponse: each block a user message
        blocks = collector.result()
        if blocks.get("isError"):
            raise ProtocolError(codes.INTERNAL_ERROR, f"Prompt {name!r} failed: {first_text(blocks)}")
        return {"messages": [_message({"role": "user", "content": block}) for block in blocks["content"]]}
    text = collector.contents()
    value: Any = text
    if collector.kind == "json":
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = text
    result: dict[str, Any] = {}
    if isinstance(value, Mapping) and isinstance(value.get("messages"), list):
        if isinstance(value.get("description"), str):
            result["description"] = value["description"]
        value = value["messages"]
    items = value if isinstance(value, list) else [value]
    result["messages"] = [_message(item) for item in items]
    return result
