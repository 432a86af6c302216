"""``MCPMiddleware``: answer the MCP endpoint, pass everything else through untouched.

Pure ASGI. Per-request state lives in the transport's locals; this object holds configuration and
the server (identity, tool catalog, in-flight calls), both built once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from .catalog import ToolFilter
from .config import Settings, normalise_hosts
from .handlers import Server
from .transport import endpoint

__all__ = ["MCPMiddleware"]


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


class MCPMiddleware:
    """Serve the app's routes as MCP tools at ``path`` (default ``/mcp``).

    ``app.add_middleware(MCPMiddleware)`` is the whole install. Every option has a safe default;
    see the README's table of options.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        path: str = "/mcp",
        name: str | None = None,
        version: str | None = None,
        instructions: str | None = None,
        include_tags: Collection[str] | None = None,
        exclude_tags: Collection[str] = (),
        include_operations: Collection[str] | None = None,
        exclude_operations: Collection[str] = (),
        include_paths: Sequence[str] | None = None,
        exclude_paths: Sequence[str] = (),
        include_methods: Collection[str] | None = None,
        max_tool_name_length: int = 40,
        allowed_hosts: Sequence[str] | None = None,
        allowed_origins: Sequence[str] | None = None,
        max_body_bytes: int = 4 * 1024 * 1024,
        max_result_chars: int = 200_000,
        max_binary_bytes: int = 16 * 1024 * 1024,
        keepalive_interval: float = 15.0,
        call_timeout: float | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/', got {path!r}")
        if not keepalive_interval > 0:
            raise ValueError("keepalive_interval must be a positive number of seconds")
        if call_timeout is not None and not call_timeout > 0:
            raise ValueError("call_timeout must be positive (or None for no timeout)")
        if max_tool_name_length < 8:
            raise ValueError("max_tool_name_length must be at least 8")
        self.app = app
        self.settings = Settings(
            path=path,
            name=name,
            version=version,
            instructions=instructions,
            allowed_hosts=normalise_hosts(allowed_hosts),
            allowed_origins=frozenset(o.rstrip("/") for o in allowed_origins) if allowed_origins else None,
            max_body_bytes=max_body_bytes,
            max_result_chars=max_result_chars,
            max_binary_bytes=max_binary_bytes,
            keepalive_interval=keepalive_interval,
            call_timeout=call_timeout,
        )
        tool_filter = ToolFilter(
            include_tags=frozenset(include_tags) if include_tags is not None else None,
            exclude_tags=frozenset(exclude_tags),
            include_operations=frozenset(include_operations) if include_operations is not None else None,
            exclude_operations=frozenset(exclude_operations),
            include_paths=tuple(include_paths) if include_paths is not None else None,
            exclude_paths=tuple(exclude_paths),
            methods=frozenset(m.upper() for m in include_methods) if include_methods is not None else None,
        )
        self._paths = self.settings.paths
        self.server = Server(app, self.settings, tool_filter, max_tool_name_length)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route_path(scope) not in self._paths:
            await self.app(scope, receive, send)
            return
        await endpoint.serve(self.server, scope, receive, send)
