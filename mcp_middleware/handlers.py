"""MCP methods ──▶ results. Knows nothing of HTTP: the transport hands in a ``Call`` and an outbox.

Results are returned as wire-shaped dicts (camelCase); the transport validates and serialises them
once, per protocol version, through ``jsonrpc``. Errors are raised as ``ProtocolError`` with the
spec's code; tool failures are results with ``isError: true``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mcp_types import jsonrpc as codes
from mcp_types.methods import CLIENT_REQUESTS, validate_client_request
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Scope

from .catalog import Catalog, ToolFilter, catalog_from_app
from .config import Settings
from .jsonrpc import ProtocolError, Request
from .toolcall import CallLimits, CallRegistry, Outbox, run_tool

__all__ = ["Call", "Era", "Server"]

logger = logging.getLogger(__name__)

Era = Literal["handshake", "modern"]


@dataclass(slots=True)
class Call:
    """One request being served: what the handlers may know about where it came from."""

    request: Request
    era: Era
    version: str
    scope: Scope
    receive: Callable[[], Awaitable[Message]]
    outbox: Outbox
    forwarded: tuple[tuple[bytes, bytes], ...]
    caller: str


Handler = Callable[["Server", Call, dict[str, Any]], Awaitable[dict[str, Any] | None]]


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if p not in ("params",)) or "params"
    return f"Invalid params: {where}: {first['msg']}"


class Server:
    """The MCP server behind one middleware instance: identity, catalog, in-flight calls."""

    def __init__(
        self, app: ASGIApp, settings: Settings, tool_filter: ToolFilter, max_name_length: int
    ) -> None:
        self.app = app
        self.settings = settings
        self._tool_filter = tool_filter
        self._max_name_length = max_name_length
        self._catalog: Catalog | None = None
        self._info: dict[str, str] | None = None
        self._instructions: str | None = settings.instructions
        self.registry = CallRegistry()
        self.limits = CallLimits(
            keepalive_interval=settings.keepalive_interval,
            timeout=settings.call_timeout,
            max_text=settings.max_result_chars,
            max_binary=settings.max_binary_bytes,
        )

    # -- identity and catalog: built once, from the app that serves the first MCP request ----------
    def prepare(self, scope: Scope) -> None:
        if self._catalog is not None:
            return
        app = scope.get("app")
        self._catalog = catalog_from_app(
            app,
            tool_filter=self._tool_filter,
            max_name_length=self._max_name_length,
            exclude_paths=self.settings.paths,
        )
        name = self.settings.name or getattr(app, "title", None) or "mcp-middleware"
        version = self.settings.version or getattr(app, "version", None) or "0.0.0"
        self._info = {"name": str(name), "version": str(version)}
        if self._instructions is None:
            description = getattr(app, "description", None)
            self._instructions = str(description) if description else None
        if len(self._catalog.tools) > 40:
            logger.warning(
                "MCP endpoint exposes %d tools; Cursor handles about 40 and Copilot caps at 128 (with its "
                "own tools): consider tool filters",
                len(self._catalog.tools),
            )

    @property
    def catalog(self) -> Catalog:
        assert self._catalog is not None, "prepare() runs before any request is handled"
        return self._catalog

    @property
    def info(self) -> dict[str, str]:
        assert self._info is not None
        return self._info

    def capabilities(self) -> dict[str, Any]:
        return {"tools": {"listChanged": False}}

    # -- dispatch ----------------------------------------------------------------------------------
    async def handle(self, call: Call) -> dict[str, Any] | None:
        """The result for ``call.request`` (None: cancelled, answer nothing), or ProtocolError."""
        req = call.request
        handler = _HANDLERS.get(req.method)
        if handler is None or (req.method, call.version) not in CLIENT_REQUESTS:
            raise ProtocolError(codes.METHOD_NOT_FOUND, f"Method not found: {req.method}")
        params = req.params or {}
        try:
            # Validated against this revision's wire type; handlers then read the plain dict.
            validate_client_request(req.method, call.version, req.params)
        except ValidationError as exc:
            raise ProtocolError(codes.INVALID_PARAMS, _validation_message(exc)) from None
        return await handler(self, call, params)

    def cancel(self, caller: str, request_id: Any) -> None:
        self.registry.cancel(caller, request_id)


def negotiate(requested: Any) -> str:
    if isinstance(requested, str) and requested in HANDSHAKE_PROTOCOL_VERSIONS:
        return requested
    return LATEST_HANDSHAKE_VERSION


async def _initialize(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "protocolVersion": negotiate(params["protocolVersion"]),
        "capabilities": server.capabilities(),
        "serverInfo": server.info,
    }
    if server._instructions:
        result["instructions"] = server._instructions
    return result


async def _empty(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return {}


async def _discover(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {
        "supportedVersions": list(MODERN_PROTOCOL_VERSIONS),
        "capabilities": server.capabilities(),
    }
    if server._instructions:
        result["instructions"] = server._instructions
    return result


async def _list_tools(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("cursor") is not None:
        raise ProtocolError(codes.INVALID_PARAMS, "Invalid params: unknown cursor")
    return {"tools": server.catalog.tool_dicts()}


async def _call_tool(server: Server, call: Call, params: dict[str, Any]) -> dict[str, Any] | None:
    spec = server.catalog.get(params["name"])
    if spec is None:
        raise ProtocolError(codes.INVALID_PARAMS, f"Unknown tool: {params['name']}")
    meta = params.get("_meta")
    token = meta.get("progressToken") if isinstance(meta, Mapping) else None
    return await run_tool(
        server.app,
        call.scope,
        call.receive,
        spec,
        params.get("arguments") or {},
        forwarded=call.forwarded,
        outbox=call.outbox,
        token=token,
        limits=server.limits,
        registry=server.registry,
        key=(call.caller, call.request.id),
    )


_HANDLERS: Mapping[str, Handler] = {
    "initialize": _initialize,
    "ping": _empty,
    "server/discover": _discover,
    "tools/list": _list_tools,
    "tools/call": _call_tool,
}
