"""What the handlers give one call: where its notifications go, its limits, and the rest it needs.

Part of :mod:`mcp_middleware.toolcall`, which re-exports these names (the handlers and the
transport import them from there):

- :class:`Outbox`: where a call's notifications, server→client requests and keep-alives go, and
  how its result goes out early (the transport's ``Responder`` is one);
- :class:`CallLimits`: the keep-alive interval, the time limit, the result's size caps and the
  concurrency limit;
- :class:`Invocation`: the app below the middleware, the MCP request's scope and ``receive``, the
  forwarded credentials, the progress token, the caller key and the route's context.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Scope

from .context import ContextHolder

__all__ = ["CallLimits", "Invocation", "Outbox"]


class Outbox(Protocol):
    """Where a call's notifications go (the transport decides JSON vs SSE); ``closed`` once
    nothing more can be written (the response over, or its client gone); ``leaving_cancels``:
    whether its client going away cancels the call (2026-07-28), or the route runs on, hearing
    ``http.disconnect`` as over HTTP (the handshake era); ``lost``: a write found the client gone
    (the server's ``send`` raised), which the call hears as it hears ``http.disconnect``."""

    closed: bool
    leaving_cancels: bool
    lost: bool

    @property
    def streams(self) -> bool: ...

    async def notify(self, method: str, params: Mapping[str, Any]) -> None: ...

    async def request(self, request_id: str, method: str, params: Mapping[str, Any]) -> None: ...

    async def keepalive(self) -> None: ...

    def abandon(self) -> None: ...

    def answer(self) -> Callable[[dict[str, Any] | None], Awaitable[None]] | None:
        """How to write the call's result at once (while the route's app goes on; None: end the
        response without a result), or None when it cannot go out before the handler returns."""
        ...


@dataclass(frozen=True, slots=True)
class CallLimits:
    keepalive_interval: float
    timeout: float | None
    max_text: int
    max_binary: int
    max_concurrent: int | None = None
    # the credential header names the server's app declares (its API keys, its forward_headers): no
    # result shows one (``_body.Hiding``), each server's own (set when its catalog is built)
    hidden_headers: frozenset[bytes] = frozenset()


@dataclass(slots=True)
class Invocation:
    """Everything one call needs beyond the tool and its arguments (built by the handlers)."""

    app: ASGIApp
    parent: Scope
    receive: Callable[[], Awaitable[Message]]
    outbox: Outbox
    forwarded: tuple[tuple[bytes, bytes], ...]
    token: str | int | None
    key: tuple[str, Any]
    context: ContextHolder  # builds the route's MCPContext (and its channel) on first use
    host: bytes | None = None  # the MCP request's Host, which the route's request carries too
