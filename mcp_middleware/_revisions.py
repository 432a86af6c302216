"""Results for clients of the revisions before 2025-06-18 (2024-11-05, 2025-03-26), in their shapes.

The SDK's wire types check every handshake revision against the 2025-11-25 schema
(``mcp_types.methods``: "shape validation is per schema era"), so what 2025-06-18 added would reach
an older client as it is: titles, ``outputSchema``, ``structuredContent``, ``resource_link``
content, ``_meta`` on tools, content and resources, an annotation's ``lastModified``; and what
2025-03-26 added would reach a 2024-11-05 client: audio content, tool annotations. :func:`older`
rebuilds a result, already in wire form, keeping in each object only the fields its revision
defines (the schema.json of each revision). A content block of a type the revision lacks becomes a
text block saying what it was (a resource link: its name, URI, type and description; audio: its
type and size): a content union has no place for an unknown type, and an embedded resource would
claim to be the resource's contents. Notifications keep their fields (progress ``message``, which
2024-11-05 lacks, is what a streamed chunk is); the package sends nothing else there.

Only ``jsonrpc.result_message`` calls this, for these revisions only: later ones pay one set lookup.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeAlias

__all__ = ["OLDER_REVISIONS", "older"]

OLDER_REVISIONS = frozenset({"2024-11-05", "2025-03-26"})

# An object's shape: each field it keeps, with the shape of its value (None: kept as it is). A list
# takes its shape item by item; a content block, a union by "type", is shaped by a function.
Shape: TypeAlias = "Mapping[str, Shape] | Callable[[Mapping[str, Any]], dict[str, Any]] | None"


def _fields(*kept: str, **shaped: Shape) -> Mapping[str, Shape]:
    """A shape: the fields ``kept`` as they are, and those ``shaped`` by their own shape."""
    return {**dict.fromkeys(kept), **shaped}


_ANNOTATIONS = _fields("audience", "priority")
_CONTENTS = _fields("uri", "mimeType", "text", "blob")
_BLOCKS: Mapping[str, Shape] = {
    "text": _fields("type", "text", annotations=_ANNOTATIONS),
    "image": _fields("type", "data", "mimeType", annotations=_ANNOTATIONS),
    "audio": _fields("type", "data", "mimeType", annotations=_ANNOTATIONS),
    "resource": _fields("type", resource=_CONTENTS, annotations=_ANNOTATIONS),
}
_TOOL_ANNOTATIONS = _fields("title", "readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint")
_PROMPT = _fields("name", "description", arguments=_fields("name", "description", "required"))
_RESOURCE = _fields("uri", "name", "description", "mimeType", "size", annotations=_ANNOTATIONS)
_TEMPLATE = _fields("uriTemplate", "name", "description", "mimeType", annotations=_ANNOTATIONS)


def _shaped(value: Any, shape: Shape) -> Any:
    if shape is None:
        return value
    if isinstance(value, list):
        return [_shaped(item, shape) for item in value]
    if callable(shape):
        return shape(value)
    return {key: _shaped(item, shape[key]) for key, item in value.items() if key in shape}


def _block(blocks: Mapping[str, Shape], version: str, block: Mapping[str, Any]) -> dict[str, Any]:
    """A content block in ``version``'s shape: a type it lacks becomes a text block saying what it was."""
    shape = blocks.get(block["type"])
    if shape is None:
        text = {"type": "text", "text": _described(block, version)}
        block = {**text, "annotations": block["annotations"]} if "annotations" in block else text
        shape = blocks["text"]
    shaped: dict[str, Any] = _shaped(block, shape)
    return shaped


def _described(block: Mapping[str, Any], version: str) -> str:
    if block["type"] == "resource_link":
        text = f"Resource link: {block.get('title') or block['name']} <{block['uri']}>"
        if "mimeType" in block:
            text += f" ({block['mimeType']})"
        return text + (f"\n{block['description']}" if "description" in block else "")
    data = str(block.get("data", ""))
    size = len(data) * 3 // 4 - data[-2:].count("=")  # of the base64 data, without decoding it
    kind = f"{block['mimeType']} {block['type']}" if "mimeType" in block else block["type"]
    return f"[{kind} content of {size} bytes left out: protocol revision {version} has no {block['type']} content]"


def _results(version: str) -> Mapping[str, Shape]:
    """Each result this package sends in ``version``'s shape (the others need nothing)."""
    since_2025_03_26 = version != "2024-11-05"  # which added audio content and tool annotations
    blocks = {kind: shape for kind, shape in _BLOCKS.items() if since_2025_03_26 or kind != "audio"}
    block = functools.partial(_block, blocks, version)
    annotations = {"annotations": _TOOL_ANNOTATIONS} if since_2025_03_26 else {}
    tool = _fields("name", "description", "inputSchema", **annotations)
    return {
        "tools/list": _fields("nextCursor", "_meta", tools=tool),
        "tools/call": _fields("isError", "_meta", content=block),
        "prompts/list": _fields("nextCursor", "_meta", prompts=_PROMPT),
        "prompts/get": _fields("description", "_meta", messages=_fields("role", content=block)),
        "resources/list": _fields("nextCursor", "_meta", resources=_RESOURCE),
        "resources/templates/list": _fields("nextCursor", "_meta", resourceTemplates=_TEMPLATE),
        "resources/read": _fields("_meta", contents=_CONTENTS),
    }


_SHAPES = {version: _results(version) for version in OLDER_REVISIONS}


def older(method: str, version: str, result: Mapping[str, Any]) -> Mapping[str, Any]:
    """``result`` (in wire form, checked) as ``version``, one of :data:`OLDER_REVISIONS`, has it:
    a new object, or ``result`` itself when its method needs nothing."""
    shape = _SHAPES[version].get(method)
    if shape is None:
        return result
    shaped: dict[str, Any] = _shaped(result, shape)
    return shaped
