"""The protocol's own methods: the handshake, discovery, the lists, the log level, completion.

Part of :mod:`mcp_middleware.handlers`, whose method table names them. They answer from what the
``Server`` already holds and run no route. ``handlers`` is imported for its types only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mcp_types import jsonrpc as codes
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS

from .jsonrpc import ProtocolError

if TYPE_CHECKING:
    from .handlers import Call, Server

__all__ = [
    "SUPPORTED_VERSIONS",
    "_complete",
    "_discover",
    "_empty",
    "_initialize",
    "_list_prompts",
    "_list_resources",
    "_list_templates",
    "_list_tools",
    "_set_level",
    "_subscribe",
    "negotiate",
]


# Every revision served, as server/discover and every -32022 name them (a dual-era server lists
# both eras, versioning.mdx): 2026-07-28 first, then the handshake revisions, newest first.
SUPPORTED_VERSIONS: tuple[str, ...] = (
    *MODERN_PROTOCOL_VERSIONS,
    *sorted(HANDSHAKE_PROTOCOL_VERSIONS, reverse=True),
)


def negotiate(requested: Any) -> str:
    if isinstance(requested, str) and requested in HANDSHAKE_PROTOCOL_VERSIONS:
        return requested
    return LATEST_HANDSHAKE_VERSION


async def _initialize(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "protocolVersion": negotiate(params["protocolVersion"]),
        "capabilities": server.capabilities(call.era),
        "serverInfo": server.info,
    }
    if server._instructions:
        result["instructions"] = server._instructions
    return result


async def _empty(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {}


async def _discover(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "supportedVersions": list(SUPPORTED_VERSIONS),
        "capabilities": server.capabilities(call.era),
    }
    if server._instructions:
        result["instructions"] = server._instructions
    return result


async def _list_tools(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _no_cursor(params)
    server.refresh()
    return {"tools": server.catalog.tool_dicts()}


async def _set_level(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # Stateless endpoint: remembered per caller in this process, best effort (README).
    levels = server.log_levels
    levels.pop(call.caller, None)
    levels[call.caller] = params["level"]
    while len(levels) > 4096:
        del levels[next(iter(levels))]
    return {}


async def _list_resources(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _no_cursor(params)
    server.refresh()
    return {"resources": [entry.wire for entry in server.features.resources.values()]}


async def _list_templates(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _no_cursor(params)
    return {"resourceTemplates": [entry.wire for entry in server.features.templates.values()]}


async def _list_prompts(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    _no_cursor(params)
    server.refresh()
    return {"prompts": [entry.wire for entry in server.features.prompts.values()]}


async def _complete(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    argument = params["argument"]
    prefix = str(argument.get("value", ""))
    values = [v for v in server.features.completions(params["ref"], str(argument.get("name"))) if v.startswith(prefix)]
    return {"completion": {"values": values[:100], "total": len(values), "hasMore": len(values) > 100}}


async def _subscribe(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    # Accepted, though not advertised (capabilities say subscribe: false in this era): a stateless
    # handshake-era endpoint has no standalone stream to deliver updates on (2026-07-28 clients get
    # them on subscriptions/listen). {} harms no client that subscribes anyway, and the 2025-11-25
    # conformance scenarios resources-subscribe/-unsubscribe expect it. README: "Resources".
    return {}


def _no_cursor(params: Mapping[str, Any]) -> None:
    if params.get("cursor") is not None:
        raise ProtocolError(codes.INVALID_PARAMS, "Invalid params: unknown cursor")
