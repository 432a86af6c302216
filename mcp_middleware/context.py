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

This module holds the route's side (``MCPContext``, ``mcp_context``, ``NotInMCPCall``) and
re-exports the rest: the requests a route can ask and ``ClientRequestError``
(:mod:`mcp_middleware._input_requests`), and ``ContextHolder``, what the call runner puts in the
route's scope (:mod:`mcp_middleware._context_holder`). The context of a real call, ``LiveContext``,
is :mod:`mcp_middleware._call_context`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.requests import HTTPConnection

from ._context_holder import ContextHolder as ContextHolder
from ._input_requests import ClientRequestError, Elicit, ListRoots, Sample
from ._input_requests import InputRequest as InputRequest

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


class NotInMCPCall(RuntimeError):
    """Asked the client for input while serving a plain HTTP request."""


class MCPContext:
    """The MCP call a route is serving; this base class is the "no MCP call" context."""

    active: bool = False
    tool: str | None = None
    protocol_version: str | None = None
    progress_token: str | int | None = None
    client_capabilities: Mapping[str, Any] = {}
    """The client's declared capabilities: 2026-07-28, the request's; the handshake era, the
    roots, sampling and elicitation of its ``initialize`` as its session id carries them
    (``session_ids``; their sub-capabilities by name only, a few: ``sealing.kept_capabilities``),
    else ``{}`` (unknown)."""
    client_info: Mapping[str, Any] | None = None
    request_state: str | None = None
    """2026-07-28: the state this route passed to ``ask`` in the previous round (verified); of
    questions asked concurrently, the state of the last that gave one."""

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        """Send ``notifications/progress`` for the call's token (nothing if the client gave none, or
        for a NaN or infinite ``progress``; such a ``total`` is left out). In an MCP call, a
        ``progress`` or ``total`` that is no number (a bool is none) or a ``message`` that is no
        string raises ``TypeError``, token or not."""
        return None

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        """Send ``notifications/message`` if ``level`` is at or above what the client asked for. In
        an MCP call, ``data`` that cannot be written as JSON (a ``set``, a ``Decimal``, a dict key
        that is no string) raises ``TypeError`` ("log: data is not JSON: ..."), sent or not."""
        return None

    async def ask(self, requests: Mapping[str, InputRequest], *, state: str | None = None) -> dict[str, Any]:
        """Ask the client for several inputs at once; returns the answers by key. A request that does
        not fit its method in the call's revision (a sampling message's ``role`` or ``content``, a
        ``requestedSchema`` that is not a flat object of primitive properties) raises ``ValueError``
        naming the field, and nothing is sent: its key is not used up, and the corrected question
        can be asked under it. An empty key raises ``ValueError``, and so does a key already asked
        in this call."""
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
        """Ask the client's model; returns the ``CreateMessageResult`` (default keys: "sampling", ...).
        ``extra`` are more ``sampling/createMessage`` params by their wire names (``systemPrompt``,
        ``temperature``, ``tools``...); ``maxTokens`` there raises ``TypeError`` (it is
        ``max_tokens``). ``max_tokens`` goes out as given: the schema asks for an integer, with no
        minimum, in every revision (a maximum the client may sample fewer tokens than), so a 0 or
        negative one is not refused here; the client decides what it does with it."""
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
        """Tell listening clients the prompt list changed (and rebuild it from the app's routes)."""
        return None

    async def resources_changed(self) -> None:
        """Tell listening clients the resource list changed (and rebuild it from the app's routes)."""
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
