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

The call is five modules: this one (``run_tool``, and ``CallRegistry``, the calls in flight),
:mod:`~mcp_middleware._tool_run` (``_ToolRun``, one running call), :mod:`~mcp_middleware._call_types`
(``Invocation``, ``CallLimits``, ``Outbox``: what the handlers give a call; re-exported here), and
the asyncio machinery and the guard under them (:mod:`~mcp_middleware._ticker`,
:mod:`~mcp_middleware._guard`).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel
from mcp_types import jsonrpc as codes

from ._call_types import CallLimits, Invocation, Outbox
from ._guard import _described, _guarded, _guarded_fast
from ._ticker import _loops, _reap, _Ticker, watching
from ._tool_run import _ToolRun as _ToolRun
from .catalog import ArgumentError, ToolSpec
from .interaction import HandshakeChannel, ModernChannel
from .jsonrpc import ProtocolError
from .results import HeadResponseCollector, ResponseCollector, error_result

if TYPE_CHECKING:
    from .context import ContextHolder

__all__ = ["CallLimits", "CallRegistry", "Invocation", "Outbox", "run_tool"]


class _Shared:
    """The calls registered under one key: callers the caller key cannot tell apart (the same
    credentials, or none) with calls of the same request id in flight at once."""

    __slots__ = ("runs",)

    def __init__(self, *runs: _ToolRun) -> None:
        self.runs = list(runs)

    def cancel(self) -> None:
        """A cancel for the key: it cannot say which of them was meant, so it reaches them all."""
        for run in tuple(self.runs):
            run.cancel()


@dataclass(slots=True)
class CallRegistry:
    """In-flight calls of this process (both eras; handshake-era ``notifications/cancelled``
    finds them here).

    Keyed by (caller key, request id): the endpoint is stateless, so the caller key (derived from
    the credentials the client sends) stands in for the session that request ids are unique in.
    Usually a key holds one call (``run_tool`` stores it, and deletes it if it is still its own:
    one dict store and one conditional delete per call). Callers the key cannot tell apart may use
    the same id at once: then the key holds them all (``_Shared``), a cancel for it reaches each of
    them, and each call takes only itself off (``share``, ``leave``); no call is ever left where
    its own cancel cannot reach it.

    A call that finds the concurrency limit reached only through calls that have already answered
    (their app still finishing: a streamed result goes out at the route's last send, before the app
    returns) waits a moment for one of them to end (``room``): a sequential client's next call can
    arrive in between. Which calls have answered is read off the calls registered here, when the
    limit is reached, so a call pays nothing for it.
    """

    _calls: dict[tuple[str, Any], _ToolRun | _Shared] = field(default_factory=dict)
    active: int = 0  # calls running in this process (the concurrency limit counts these)
    _ticker: _Ticker | None = None
    # while a call waits in ``room``: the event loop's token (_run_token) and the event set when a
    # call ends; a loop's own, as the ticker is (a server may outlive its loop: a test client each)
    _vacated: tuple[object, anyio.Event] | None = None

    def ticker(self, loop: asyncio.AbstractEventLoop, interval: float) -> _Ticker:
        """The ticker of this registry's calls on ``loop`` (a new one if the loop changed), for
        calls with keep-alive ``interval``."""
        ticker = self._ticker
        if ticker is None or ticker.loop is not loop:
            ticker = self._ticker = _Ticker(loop, _period(interval))
        return ticker

    def cancel(self, key: str, request_id: Any) -> bool:
        handle = self._calls.get((key, request_id))
        if handle is None:
            return False
        handle.cancel()  # a call, or every call of a shared key
        return True

    def share(self, key: tuple[str, Any], run: _ToolRun) -> None:
        """Register ``run`` beside the call(s) already registered under ``key``."""
        held = self._calls[key]
        if isinstance(held, _Shared):
            held.runs.append(run)
        else:
            self._calls[key] = _Shared(held, run)

    def leave(self, key: tuple[str, Any], run: _ToolRun) -> None:
        """Take ``run`` off a shared ``key``; the last call left holds the key alone again."""
        shared = self._calls[key]
        assert isinstance(shared, _Shared)
        shared.runs.remove(run)
        if len(shared.runs) == 1:
            self._calls[key] = shared.runs[0]

    def holding(self, key: tuple[str, Any], holder: ContextHolder) -> _ToolRun | None:
        """The call in flight under ``key`` whose route's context ``holder`` holds (None: it ended)."""
        held = self._calls.get(key)
        for run in held.runs if isinstance(held, _Shared) else (held,):
            if run is not None and run.inv.context is holder:
                return run
        return None

    def __len__(self) -> int:
        """The calls in flight (a shared key counts each of its calls)."""
        return sum(len(held.runs) if isinstance(held, _Shared) else 1 for held in self._calls.values())

    def answered(self) -> int:
        """The calls in flight that have answered (their app still finishing, or a stopped call's
        route that does not return)."""
        runs = (run for held in self._calls.values() for run in (held.runs if isinstance(held, _Shared) else (held,)))
        return sum(run.answered for run in runs)

    async def room(self, limit: int, grace: float) -> bool:
        """Whether a call may start with ``limit`` route runs allowed. When the limit is reached only
        because of calls that have answered, wait up to ``grace`` seconds for one of them to end; a
        call that has not answered is never waited for (a clear refusal, not a queue)."""
        with anyio.move_on_after(grace):
            while self.active >= limit:
                if self.active - self.answered() >= limit:
                    return False
                loop = _run_token()
                vacated = self._vacated
                if vacated is None or vacated[0] is not loop:  # (one left by a loop that has ended)
                    vacated = self._vacated = (loop, anyio.Event())
                await vacated[1].wait()
        return self.active < limit

    def ended(self) -> None:
        """A call ended (however: returned, cancelled, failed), while a call waits in ``room``: its
        slot is free. An event left by another loop is dropped, not set (its loop may be closed)."""
        vacated = self._vacated
        if vacated is not None:
            self._vacated = None
            if vacated[0] is _run_token():
                vacated[1].set()


async def run_tool(
    spec: ToolSpec,
    arguments: Mapping[str, Any],
    inv: Invocation,
    limits: CallLimits,
    registry: CallRegistry,
    finish: Callable[[ResponseCollector], dict[str, Any]] | None = None,
    what: str = "",
    collector_type: type[ResponseCollector] = ResponseCollector,
) -> dict[str, Any] | None:
    """The ``CallToolResult`` for one call (or an ``input_required`` result in 2026-07-28), None
    when the call was cancelled (send nothing), or ProtocolError (e.g. a missing capability).

    ``what`` names the call in error texts ("prompt 'greet'"; default "tool '<name>'"). Arguments
    that cannot make the route's request are a tool error for a tool, and -32602 otherwise
    (prompts and resources, which name themselves in ``what``, have no ``isError`` result).
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
        sub = spec.build_request(arguments, inv.forwarded)
    except ArgumentError as exc:
        message = f"Invalid arguments for {_described(what, spec.name)}: {exc}"
        if what:
            raise ProtocolError(codes.INVALID_PARAMS, message) from None
        return error_result(message)
    # a response to HEAD has no content: its collector shows the headers instead
    collector = (collector_type if sub.method != "HEAD" else HeadResponseCollector)(
        path=sub.path,
        scheme=inv.parent.get("scheme", "http"),
        structured=spec.has_output_schema,
        required=spec.output_required,
        max_text=limits.max_text,
        max_binary=limits.max_binary,
        forwarded=inv.forwarded,
    )
    run = _ToolRun(collector, inv, sub, limits, spec.name, what)
    calls = registry._calls
    if calls.setdefault(inv.key, run) is not run:  # the key is taken (rarely: see CallRegistry)
        registry.share(inv.key, run)
    registry.active += 1
    loop = None if PORTABLE_WATCHER else _loops.get()
    try:
        if loop is not None:
            ticker = registry.ticker(loop, limits.keepalive_interval)
            run.loop = loop
            run.context = contextvars.copy_context()
            run.last = ticker.add(run)  # the first keep-alive is due one interval after this
            ended = False  # without an exception: a cancellation of the request also ends a delivery
            try:
                outcome = await _guarded_fast(run, limits.timeout)
                ended = True
            finally:
                ticker.discard(run)
                run.loop = None
                # taken off the run first: a task ended by an exception keeps its traceback, whose
                # frames hold the run, which would hold the task (a cycle for the collector)
                watcher, run.task = run.task, None
                if watcher is not None:
                    await _reap(watcher)
                delivery, run.delivery = run.delivery, None
                if delivery is not None:
                    await _reap(delivery, cancel=not ended)  # else let it finish: half a result helps no one
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
    interim = _interim(channel) if channel is not None else None
    if interim is not None:
        return interim
    return collector.result() if finish is None else finish(collector)


def _interim(channel: HandshakeChannel | ModernChannel | None) -> dict[str, Any] | None:
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


_RUN: anyio.lowlevel.RunVar[object] = anyio.lowlevel.RunVar("mcp_middleware.toolcall._RUN")


def _run_token() -> object:
    """An object of the running event loop's own (any anyio backend), the same while it runs."""
    try:
        return _RUN.get()
    except LookupError:
        token = object()
        _RUN.set(token)
        return token


def _period(interval: float) -> float:
    """The ticker's period for calls with keep-alive ``interval``: a call still running after one
    to two periods gets its watcher, before its first keep-alive is due (one interval after the
    ticker's count starts)."""
    return min(interval / 2, WATCH_AFTER)


# The ticker's period (at most; half the keep-alive interval when that is shorter): a call still
# running after one to two periods gets its watcher even if it has not streamed yet, a call whose
# app goes on after its complete response gets its result at the next tick, and a stopped call
# whose route has not returned by then its outcome.
WATCH_AFTER = 0.25
# Tests flip this to run the portable (any anyio backend) guard and watcher on asyncio too.
PORTABLE_WATCHER = False
