"""What a route can do for the MCP call it is serving.

    from mcp_middleware import MCPContext, mcp_context

    @app.post("/book")
    async def book(ctx: MCPContext = Depends(mcp_context)) -> Booking:
        await ctx.report_progress(1, 3, "checking availability")
        await ctx.log("info", "booking started")
        answer = await ctx.elicit("Which date?", {"type": "object", "properties": {"date": {"type": "string"}}})
        ...

Called over plain HTTP the route still works: ``ctx.active`` is False, progress and logging do
nothing, and asking the client for input raises :class:`NotInMCPCall`.

Asking the client (elicitation, sampling, roots) works in both protocol eras:

* handshake era: the request goes out on the call's SSE stream and the route waits for the
  client's answer, which arrives as a separate POST;
* 2026-07-28: multi round-trip requests (mrtr.mdx). The first round ends the route with
  ``resultType: "input_required"`` listing the requests and a sealed ``requestState``; the client's
  retry runs the route again with the answers available, and ``ask`` returns them at once.
  Questions asked concurrently (``asyncio.gather``, a task group) go out in the same round.
  A route that asks in several rounds tells them apart with ``ctx.request_state``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import HTTPConnection

__all__ = [
    "CONTEXT_KEY",
    "ClientRequestError",
    "Elicit",
    "ListRoots",
    "MCPContext",
    "NotInMCPCall",
    "Sample",
    "mcp_context",
]

CONTEXT_KEY = "mcp_middleware.context"
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")


class NotInMCPCall(RuntimeError):
    """Asked the client for input while serving a plain HTTP request."""


class ClientRequestError(Exception):
    """The client answered an elicitation, sampling or roots request with an error."""

    def __init__(self, method: str, error: Mapping[str, Any]) -> None:
        super().__init__(f"{method} failed: {error.get('message', 'error')}")
        self.method = method
        self.error = dict(error)


@dataclass(frozen=True, slots=True)
class Elicit:
    """``elicitation/create`` (form mode): ask the user to fill ``requested_schema``."""

    message: str
    requested_schema: Mapping[str, Any]

    method = "elicitation/create"
    capability = "elicitation"

    def params(self) -> dict[str, Any]:
        return {"mode": "form", "message": self.message, "requestedSchema": dict(self.requested_schema)}


@dataclass(frozen=True, slots=True)
class Sample:
    """``sampling/createMessage``: ask the client's model. ``messages`` are MCP sampling messages."""

    messages: Sequence[Mapping[str, Any]]
    max_tokens: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    method = "sampling/createMessage"
    capability = "sampling"

    def params(self) -> dict[str, Any]:
        return {**self.extra, "messages": [dict(m) for m in self.messages], "maxTokens": self.max_tokens}


@dataclass(frozen=True, slots=True)
class ListRoots:
    """``roots/list``: ask which roots (directories, repositories) the client exposes."""

    method = "roots/list"
    capability = "roots"

    def params(self) -> dict[str, Any]:
        return {}


InputRequest = Elicit | Sample | ListRoots


class Channel(Protocol):
    """How a live context reaches the client (provided by the call runner)."""

    async def notify(self, method: str, params: Mapping[str, Any]) -> None: ...

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None) -> dict[str, Any]: ...

    async def list_changed(self, kind: str) -> None: ...

    def resource_updated(self, uri: str) -> None: ...


class MCPContext:
    """The MCP call a route is serving; this base class is the "no MCP call" context."""

    active: bool = False
    tool: str | None = None
    protocol_version: str | None = None
    progress_token: str | int | None = None
    client_capabilities: Mapping[str, Any] = {}
    client_info: Mapping[str, Any] | None = None
    request_state: str | None = None
    """2026-07-28: the state this route passed to ``ask`` in the previous round (verified); of
    questions asked concurrently, the state of the last that gave one."""

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send ``notifications/progress`` for the call's token (nothing if the client gave none, or
        for a NaN or infinite ``progress``; such a ``total`` is left out)."""
        return None

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        """Send ``notifications/message`` if ``level`` is at or above what the client asked for."""
        return None

    async def ask(self, requests: Mapping[str, InputRequest], *, state: str | None = None) -> dict[str, Any]:
        """Ask the client for several inputs at once; returns the answers by key."""
        raise NotInMCPCall("this request is not an MCP tool call, so there is no client to ask")

    async def elicit(
        self,
        message: str,
        requested_schema: Mapping[str, Any],
        *,
        key: str | None = None,
        state: str | None = None,
    ) -> dict[str, Any]:
        """Ask the user; returns the ``ElicitResult`` (``action`` and, when accepted, ``content``).
        Without ``key`` the request is keyed "elicitation", then "elicitation-2", ... in this call."""
        key = self._key(key, "elicitation")
        answers = await self.ask({key: Elicit(message, requested_schema)}, state=state)
        result: dict[str, Any] = answers[key]
        return result

    async def sample(
        self,
        messages: Sequence[Mapping[str, Any]],
        max_tokens: int,
        *,
        key: str | None = None,
        state: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Ask the client's model; returns the ``CreateMessageResult`` (default keys: "sampling", ...)."""
        key = self._key(key, "sampling")
        answers = await self.ask({key: Sample(messages, max_tokens, extra)}, state=state)
        result: dict[str, Any] = answers[key]
        return result

    async def list_roots(self, *, key: str | None = None, state: str | None = None) -> dict[str, Any]:
        """Ask for the client's roots; returns the ``ListRootsResult`` (default keys: "roots", ...)."""
        key = self._key(key, "roots")
        answers = await self.ask({key: ListRoots()}, state=state)
        result: dict[str, Any] = answers[key]
        return result

    def _key(self, key: str | None, default: str) -> str:
        return default if key is None else key

    async def tools_changed(self) -> None:
        """Tell listening clients the tool list changed (and rebuild it from the app's routes)."""
        return None

    async def prompts_changed(self) -> None:
        return None

    async def resources_changed(self) -> None:
        return None

    async def resource_updated(self, uri: str) -> None:
        """Tell clients subscribed to ``uri`` that its contents changed (2026-07-28 listen streams)."""
        return None


_INACTIVE = MCPContext()


def mcp_context(request: HTTPConnection) -> MCPContext:
    """FastAPI dependency (``Depends(mcp_context)``), or call it with a Starlette request."""
    context = request.scope.get("extensions", {}).get(CONTEXT_KEY)
    if isinstance(context, ContextHolder):
        return context()
    return context if isinstance(context, MCPContext) else _INACTIVE


class ContextHolder:
    """Builds a call's live context (and its channel) the first time a route asks for it: most
    routes never do, and then nothing is built."""

    __slots__ = ("_args", "_factory", "_sent", "channel", "context")

    def __init__(self, factory: Callable[..., tuple[LiveContext, Any]], *args: Any) -> None:
        self._factory = factory  # called as factory(*args): no closure to make per call
        self._args = args
        self.context: LiveContext | None = None
        self.channel: Any = None
        self._sent: float = 0  # the last progress value the call runner sent before the context was built

    def __call__(self) -> LiveContext:
        if self.context is None:
            self.context, self.channel = self._factory(*self._args)
            if self._sent:  # the route's own reports go on above them
                self.context._last_progress = self._sent
        return self.context

    def automatic_progress(self, step: bool = True) -> float:
        """The value of a progress notification the call runner sends on its own, a streamed chunk
        (``step``) or a heartbeat: until the route has its context, chunks count 1, 2, ... and a
        heartbeat goes the smallest step up (it may come before a slow route's dependencies have
        built the context, and must leave the route's own 1 of 3 free); then the context's."""
        if self.context is not None:
            return self.context.automatic_progress()
        self._sent = math.floor(self._sent) + 1 if step else math.nextafter(self._sent, math.inf)
        return self._sent


class LiveContext(MCPContext):
    """The context of a real call; built by the call runner."""

    active = True

    def __init__(
        self,
        channel: Channel,
        *,
        tool: str,
        protocol_version: str,
        progress_token: str | int | None,
        client_capabilities: Mapping[str, Any],
        client_info: Mapping[str, Any] | None,
        log_level: str | None,
        request_state: str | None,
    ) -> None:
        self._channel = channel
        self.tool = tool
        self.protocol_version = protocol_version
        self.progress_token = progress_token
        self.client_capabilities = client_capabilities
        self.client_info = client_info
        self.request_state = request_state
        self._log_floor = LOG_LEVELS.index(log_level) if log_level in LOG_LEVELS else None
        self._last_progress: float | None = None  # the last value sent for the token, by anyone
        self._asked: set[str] = set()  # the keys asked in this run of the route

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        if self.progress_token is None or not math.isfinite(progress):  # JSON has no NaN or infinity
            return
        # progress.mdx: the value MUST increase with each notification; drop ones that do not.
        if self._last_progress is not None and progress <= self._last_progress:
            return
        self._last_progress = progress
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None and math.isfinite(total):
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self._channel.notify("notifications/progress", params)

    def automatic_progress(self) -> float:
        """The value of a progress notification the call runner sends on its own (a streamed chunk,
        a heartbeat) for a route that has its context, so may report progress itself at any time:
        the smallest step above the last value sent (from 0). One token's values keep increasing,
        and whatever the route reports next, above what it reported before, still goes out."""
        value = math.nextafter(self._last_progress or 0.0, math.inf)
        self._last_progress = value
        return value

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}")
        if self._log_floor is None or LOG_LEVELS.index(level) < self._log_floor:
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self._channel.notify("notifications/message", params)

    async def ask(self, requests: Mapping[str, InputRequest], *, state: str | None = None) -> dict[str, Any]:
        if not requests:
            return {}
        # A key names one question of this call: a 2026-07-28 retry answers by key, so a key asked
        # twice would get the first answer for the second question (same rule in both eras).
        repeated = sorted(self._asked.intersection(requests))
        if repeated:
            raise ValueError(
                f"key {repeated[0]!r} was already asked in this call: give each request its own key "
                "(or leave the key out of elicit/sample/list_roots to get a numbered one)"
            )
        self._asked.update(requests)
        return await self._channel.ask(requests, state)

    def _key(self, key: str | None, default: str) -> str:
        """The key given, or the next free one of "elicitation", "elicitation-2", ... in this run:
        the same sequence every time the route runs again for a retry."""
        if key is not None:
            return key
        key, count = default, 1
        while key in self._asked:
            count += 1
            key = f"{default}-{count}"
        return key

    async def tools_changed(self) -> None:
        await self._channel.list_changed("tools")

    async def prompts_changed(self) -> None:
        await self._channel.list_changed("prompts")

    async def resources_changed(self) -> None:
        await self._channel.list_changed("resources")

    async def resource_updated(self, uri: str) -> None:
        self._channel.resource_updated(uri)
