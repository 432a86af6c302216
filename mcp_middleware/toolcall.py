"""One ``tools/call``: run the route in-process, stream its output as progress, build the result.

The route runs in this task, under a cancel guard that three things can trigger: the client closing
the response stream (2026-07-28), a ``notifications/cancelled`` for this request id (handshake era,
separate POST), and the optional per-call timeout. A small watcher task, started once the route
streams or has run for a while, reads the real ``receive`` for ``http.disconnect`` and sends SSE
keep-alives (plus a progress heartbeat when the client gave a token) while the route is silent.
Chunks go straight from the route's ``send`` to the client's: the route cannot run ahead of a slow
client, so memory stays bounded without a queue. Once the route's response is complete the call's
result stands: the guard lets go, and when the app goes on (background tasks) the result is written
without waiting for it (from the route's last send, or from a delivery task the ticker starts).

The call is these modules: this one (``run_tool``), :mod:`~mcp_middleware._call_registry`
(``CallRegistry``, the calls in flight; re-exported here), :mod:`~mcp_middleware._tool_run`
(``_ToolRun``, one running call), :mod:`~mcp_middleware._call_types` (``Invocation``, ``CallLimits``,
``Outbox``: what the handlers give a call; re-exported here), and the asyncio machinery and the
guard under them (:mod:`~mcp_middleware._ticker`, with the ticker's period, ``WATCH_AFTER``;
:mod:`~mcp_middleware._guard`). A refusal of arguments that cannot make the request gets a note, on
that error path only, when what is missing is a header argument that the MCP request carries but
the server does not forward (:mod:`~mcp_middleware._unforwarded`).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from typing import Any

from mcp_types import jsonrpc as codes

from ._call_registry import CallRegistry
from ._call_types import CallLimits, Invocation, Outbox
from ._guard import _described, _guarded, _guarded_fast
from ._ticker import _loops, _period, _reap, watching
from ._tool_run import _GoingOnRun
from ._tool_run import _ToolRun as _ToolRun
from .catalog import ArgumentError, ToolSpec
from .interaction import HandshakeChannel, ModernChannel
from .jsonrpc import ProtocolError, WideArgument
from .results import HeadResponseCollector, ResponseCollector, error_result

__all__ = ["CallLimits", "CallRegistry", "Invocation", "Outbox", "run_tool"]


async def run_tool(
    spec: ToolSpec,
    arguments: Mapping[str, Any],
    inv: Invocation,
    limits: CallLimits,
    registry: CallRegistry,
    finish: Callable[[ResponseCollector], dict[str, Any]] | None = None,
    what: str = "",
    collector_type: type[ResponseCollector] = ResponseCollector,
    data: Any = None,
) -> dict[str, Any] | None:
    """The ``CallToolResult`` for one call (or an ``input_required`` result in 2026-07-28), None
    when the call was cancelled (send nothing), or ProtocolError (e.g. a missing capability).

    ``what`` names the call in error texts ("prompt 'greet'"; default "tool '<name>'"). Arguments
    that cannot make the route's request are a tool error for a tool, and -32602 otherwise
    (prompts and resources, which name themselves in ``what``, have no ``isError`` result), with
    ``data`` (a resource read's ``data.uri``).
    ``collector_type``: what collects the route's response (a 2026-07-28 resource read's keeps
    its Cache-Control: ``results.CachingCollector``); a HEAD request's is a
    ``results.HeadResponseCollector``. ``finish`` makes the result of the collector (by default
    its own ``result()``).
    """
    if (
        limits.max_concurrent is not None
        and registry.active >= limits.max_concurrent
        and not await registry.room(limits.max_concurrent, _period(limits.keepalive_interval))
    ):
        # A clear refusal, not a queue: the client (or its model) can retry later (a call answered
        # already, its app finishing, is waited for a moment: see CallRegistry.room).
        return error_result(
            f"The server is busy: {registry.active} route runs (tool calls, resource reads, prompt gets, and "
            f"the background work of calls already answered) are in progress (limit {limits.max_concurrent}). "
            "Try again shortly."
        )
    try:
        if spec.plan.taken:  # a header the MCP request carries wins over the argument (_option_lists)
            # (``secret``: also the request's lines taken for arguments, redacted as forwarded ones)
            arguments, forwarded, secret = spec.from_request(arguments, inv.forwarded, inv.parent.get("headers", ()))
            sub = spec.build_request(arguments, forwarded)
        else:
            sub = spec.build_request(arguments, secret := inv.forwarded)
    except (ArgumentError, WideArgument) as exc:  # (arguments holding an integer beyond 64 bits)
        from ._unforwarded import unforwarded_note  # loaded by the first refused arguments

        note = unforwarded_note(spec, arguments, inv.parent.get("headers", ()))  # the header the client sent?
        message = f"Invalid arguments for {_described(what, spec.name)}: {exc}{note}"
        if what:
            raise ProtocolError(codes.INVALID_PARAMS, message, data) from None
        return error_result(message)
    # a response to HEAD has no content: its collector shows the headers instead
    # (by position: path, structured, max_text, max_binary, called, forwarded, output; see Body.__init__;
    # ``called``: the route's request, the call and the server's limits, read on rarer paths only)
    collector = (collector_type if sub.method != "HEAD" else HeadResponseCollector)(
        sub.path,
        spec.has_output_schema,
        limits.max_text,
        limits.max_binary,
        (sub, inv, limits),
        secret,
        spec.output,
    )
    run = (_GoingOnRun if spec.goes_on else _ToolRun)(collector, inv, sub, limits, spec.name, what)
    if inv.outbox.closed and not inv.outbox.leaving_cancels:
        # (a 2025-03-26 batch's later call, its client gone) the route hears it at once, not only
        # from a server that repeats http.disconnect (Hypercorn reports it once, then blocks)
        run.gone()
    calls = registry._calls
    if calls.setdefault(inv.key, run) is not run:  # the key is taken (rarely: see CallRegistry)
        registry.share(inv.key, run)
    registry.active += 1
    loop = None if PORTABLE_WATCHER else _loops.get()
    try:
        if loop is not None:
            run.loop = loop  # (the ticker wakes the registry's calls of its loop)
            run.context = contextvars.copy_context()
            # the first keep-alive is due one interval after this
            run.last = registry.ticker(loop, limits.keepalive_interval).arm()
            ended = False  # without an exception: a cancellation of the request also ends a delivery
            try:
                outcome = await _guarded_fast(run, limits.timeout)
                ended = True
            finally:
                run.loop = None  # the ticker passes it by from now on
                if run.task is not None or run.delivery is not None:  # a long or streaming call's
                    await _reap_tasks(run, ended)
        else:
            run.grace = _period(limits.keepalive_interval)  # as long as the ticker would give it
            async with watching(run.watch):
                outcome = await _guarded(run, limits.timeout)
    finally:
        registry.active -= 1
        if calls.get(inv.key) is run:
            del calls[inv.key]
        else:
            registry.leave(inv.key, run)
        if registry._vacated is not None:  # a call waits for a slot (CallRegistry.room): this one is free
            registry.ended()
    if run.cancelled or run.answered:
        return None
    if outcome is not None:
        return outcome
    channel = inv.context.channel  # None unless the route asked for its context
    if channel is not None:
        interim = _interim(channel)
        if interim is not None:
            return interim
    return collector.result() if finish is None else finish(collector)


async def _reap_tasks(run: _ToolRun, ended: bool) -> None:
    """The tasks a long or streaming call started (its watcher; the delivery of its result or
    outcome), once its route has returned (``ended``: without an exception; a cancellation of the
    request also ends a delivery)."""
    # taken off the run first: a task ended by an exception keeps its traceback, whose frames hold
    # the run, which would hold the task (a cycle for the collector)
    watcher, run.task = run.task, None
    if watcher is not None:
        await _reap(watcher)
    delivery, run.delivery = run.delivery, None
    if delivery is not None:
        await _reap(delivery, cancel=not ended)  # else let it finish: half a result helps no one


def _interim(channel: HandshakeChannel | ModernChannel) -> dict[str, Any] | None:
    """What an interrupted round answers instead of the route's response (2026-07-28)."""
    if not isinstance(channel, ModernChannel):
        return None
    if channel.error is not None:
        raise channel.error
    if channel.pending is None:
        return None
    result: dict[str, Any] = {"resultType": "input_required", "inputRequests": channel.pending}
    if channel.state is not None:
        result["requestState"] = channel.state  # already sealed for its target (see _live_context)
    return result


# Tests flip this to run the portable (any anyio backend) guard and watcher on asyncio too.
PORTABLE_WATCHER = False
