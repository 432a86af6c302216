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
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import anyio.abc
from mcp_types import jsonrpc as codes
from starlette.types import ASGIApp, Message, Scope

from ._guard import _described, _guarded, _guarded_fast
from ._ticker import _loops, _reap, _Ticker, watching
from .catalog import ArgumentError, ToolSpec
from .context import CONTEXT_KEY, ContextHolder
from .dispatch import SubExchange, SubRequest
from .interaction import HandshakeChannel, ModernChannel
from .jsonrpc import ProtocolError
from .results import HeadResponseCollector, ResponseCollector, error_result

__all__ = ["CallLimits", "CallRegistry", "Invocation", "Outbox", "run_tool"]


class Outbox(Protocol):
    """Where a call's notifications go (the transport decides JSON vs SSE)."""

    async def notify(self, method: str, params: Mapping[str, Any]) -> None: ...

    async def request(self, request_id: str, method: str, params: Mapping[str, Any]) -> None: ...

    async def keepalive(self) -> None: ...

    def abandon(self) -> None: ...

    def answer(self) -> Callable[[dict[str, Any]], Awaitable[None]] | None:
        """How to write the call's result at once (while the route's app goes on), or None."""
        ...


@dataclass(frozen=True, slots=True)
class CallLimits:
    keepalive_interval: float
    timeout: float | None
    max_text: int
    max_binary: int
    max_concurrent: int | None = None


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
    """

    _calls: dict[tuple[str, Any], _ToolRun | _Shared] = field(default_factory=dict)
    active: int = 0  # calls running in this process (the concurrency limit counts these)
    _ticker: _Ticker | None = None

    def ticker(self, loop: asyncio.AbstractEventLoop, interval: float) -> _Ticker:
        """The ticker of this registry's calls on ``loop`` (a new one if the loop changed), for
        calls with keep-alive ``interval``."""
        ticker = self._ticker
        if ticker is None or ticker.loop is not loop:
            # a call still running after one to two periods gets its watcher, before its first
            # keep-alive is due (one interval after the ticker's count starts)
            ticker = self._ticker = _Ticker(loop, min(interval / 2, WATCH_AFTER))
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

    def __len__(self) -> int:
        """The calls in flight (a shared key counts each of its calls)."""
        return sum(len(held.runs) if isinstance(held, _Shared) else 1 for held in self._calls.values())


class _ToolRun(SubExchange):
    """One running call: the sink for the route's response (progress as it streams), the handle
    that stops it, and the disconnect signal its sub-request listens to. One object per call
    instead of a closure per callback."""

    # Defaults live on the class: a quick call sets only what it uses.
    # when the client last heard from us (keep-alive or progress), or a time no later than the
    # call's start (from the ticker, or when the portable watcher starts): the interval runs from it
    last: float | None = None
    streaming = False
    cancelled = False
    answered = False  # the result went out while the app went on (see _answer_early)
    delivery: asyncio.Task[None] | None = None  # writing it, when the ticker found it due
    loop: asyncio.AbstractEventLoop | None = None  # while the asyncio watcher may be started
    context: contextvars.Context | None = None  # the request's, for the tasks the ticker starts
    task: asyncio.Task[None] | None = None  # the asyncio watcher, once started
    _scope: anyio.CancelScope | None = None  # the portable guard (any anyio backend)
    _guard: asyncio.Timeout | None = None  # the asyncio guard with a time limit, while inside it
    _timer: anyio.CancelScope | None = None  # the portable guard's time limit, while inside it
    _task: asyncio.Task[Any] | None = None  # the asyncio guard without one, while inside it

    def __init__(
        self,
        collector: ResponseCollector,
        inv: Invocation,
        sub: SubRequest,
        limits: CallLimits,
        name: str = "",
        what: str = "",
    ) -> None:
        self.collector = collector
        self.name = name  # the tool's name
        self.what = what  # what runs, for error texts ("prompt 'greet'"; see _described)
        self.inv = inv  # the call's outbox, progress token, real receive, and the route's context
        self.sub = sub  # the route's sub-request
        self.limits = limits  # the keep-alive interval (and the call's other limits)
        self.is_set = False  # the Disconnect signal
        self._event = None

    def run_route(self) -> Coroutine[Any, Any, None]:
        inv = self.inv
        return self.exchange(inv.app, inv.parent, self.sub, {CONTEXT_KEY: inv.context}, inv.host)

    # -- the route's response ---------------------------------------------------------------------
    def on_head(self, status: int, headers: Sequence[Sequence[bytes]]) -> None:
        self.collector.head(status, headers)

    def on_body(self, chunk: bytes, more: bool) -> Awaitable[None] | None:
        if more:
            self.wake()
        elif self._guard is not None or self._timer is not None:
            self._settle()
        pieces = self.collector.feed(chunk, more)
        if not more and self.task is not None:  # a long or streaming call: its app may go on after this
            early = self._answer_early(pieces)
            if early is not None:
                return early
        if self._shows(pieces, more):
            return self._progress(pieces)
        return None  # the usual JSON body, or no progress token: nothing to send while the route runs

    def _shows(self, pieces: list[str], more: bool) -> bool:
        """Whether a chunk's text goes out as progress: the client gave a token, the body is text,
        and the route streams (a chunk with more to come, or the last of a streamed body)."""
        # a success's text only: the result redacts credentials an error or a redirect may echo
        # (a key in a URL), progress could not
        return (
            bool(pieces)
            and self.inv.token is not None
            and (more or self.streaming)
            and self.collector.streamable
            and self.collector.status < 300
        )

    async def _progress(self, pieces: list[str]) -> None:
        """Streamed text reaches the client as it comes (progress notifications, SSE), as far as
        the result keeps it (the collector yields nothing beyond ``max_result_chars``)."""
        self.streaming = True
        for piece in pieces:
            await self._send(piece)

    # -- the result before the app returns ------------------------------------------------------
    # Over HTTP a response is the client's once complete, while the app may go on (a Starlette
    # BackgroundTask). A call's result goes out at that point too when the app does go on: a call
    # with a watcher (long or streaming) answers from the route's last send; a quick one whose app
    # is still running at the ticker's next tick answers from a task of its own. A quick call pays
    # nothing for this.
    def _answer_early(self, pieces: list[str]) -> Coroutine[Any, Any, None] | None:
        answer = self.inv.outbox.answer() if self.inv.context.channel is None else None
        if answer is None or self.answered:  # not a tools/call, or a route that used its context
            return None
        self.answered = True
        return self._answer_now(answer, pieces)

    async def _answer_now(self, answer: Callable[[dict[str, Any]], Awaitable[None]], pieces: list[str]) -> None:
        if self._shows(pieces, False):
            await self._progress(pieces)
        await answer(self.collector.result())

    # -- the watcher: the client going away, keep-alives ----------------------------------------
    def wake(self) -> None:
        """Start the asyncio watcher now: the call streams, or has been running for a while; or,
        when its response is complete and the app still runs, write the result."""
        if self._complete:
            if self.delivery is None and self.loop is not None:
                early = self._answer_early([])
                if early is not None:
                    self.delivery = self.loop.create_task(early, context=self.context)
            return
        if self.task is None and self.loop is not None:
            # In the request's context even when the shared ticker starts it (a tracing or logging
            # middleware reads its request from the context of each send)
            self.task = self.loop.create_task(self.watch(), context=self.context)

    async def watch(self) -> None:
        """Until cancelled: report the client going away; keep a silent stream alive."""
        interval = self.limits.keepalive_interval
        native = self.loop is not None  # on asyncio, asyncio.timeout costs a fraction of an anyio scope
        if self.last is None:
            self.last = time.monotonic()
        while True:
            wait = max(self.last + interval - time.monotonic(), 0.0) if math.isfinite(interval) else math.inf
            message = await (self._receive_native(wait) if native else self._receive_portable(wait))
            if message is None:
                if time.monotonic() - self.last >= interval:  # not if progress went out meanwhile
                    await self.heartbeat()
            elif message["type"] == "http.disconnect":
                self.gone()
                return

    async def _receive_native(self, wait: float) -> Message | None:
        try:
            async with asyncio.timeout(None if math.isinf(wait) else wait):
                return await self.inv.receive()
        except TimeoutError:
            return None  # silent for a whole interval

    async def _receive_portable(self, wait: float) -> Message | None:
        with anyio.move_on_after(wait):
            return await self.inv.receive()
        return None

    # -- progress and keep-alives ----------------------------------------------------------------
    async def heartbeat(self) -> None:
        """A keep-alive, and a progress heartbeat when there is a token. The interval runs from
        here whatever was written: a call without a token gets a keep-alive per interval, not one
        per loop step."""
        self.last = time.monotonic()
        await self.inv.outbox.keepalive()
        if self.inv.token is not None:
            await self._send(None)

    async def _send(self, message: str | None) -> None:
        """A progress notification (only for a call that has a token): the client hears from us."""
        self.last = time.monotonic()  # anyio.current_time() would cost system calls per chunk
        # above the route's own reports, if any; a heartbeat (no message) the smallest step
        progress = self.inv.context.automatic_progress(message is not None)
        params: dict[str, Any] = {"progressToken": self.inv.token, "progress": progress}
        if message is not None:
            params["message"] = message
        await self.inv.outbox.notify("notifications/progress", params)

    # -- stopping it -----------------------------------------------------------------------------
    def _settle(self) -> None:
        """The response is complete: what the app does after it (background tasks) is no longer
        the call's, so the time limit does not stop it (as over HTTP, where no limit covers it)."""
        if self._guard is not None and not self._guard.expired():  # expiring: it cannot be changed
            self._guard.reschedule(None)
        if self._timer is not None:
            self._timer.deadline = math.inf

    def cancel(self) -> None:
        """Stop the route, unless its response is complete: then the result stands and the app's
        background work runs on, as over HTTP when a client leaves after its response."""
        if self.cancelled or self._complete:
            return
        self.cancelled = True
        self.set()
        if self._scope is not None:
            self._scope.cancel()
        if self._guard is not None and not self._guard.expired():
            self._guard.reschedule(asyncio.get_running_loop().time())  # expires at once
        if self._task is not None:
            self._task.cancel()

    # -- the disconnect signal, on asyncio without an anyio event --------------------------------
    # (each waiter gets its own future from the known loop: an anyio or asyncio event would look
    # the loop up, a system call on CPython 3.11, and one waiter's cancellation stays its own)
    _waiters: list[asyncio.Future[None]] | None = None

    def set(self) -> None:
        super().set()
        for future in self._waiters or ():
            if not future.done():
                future.set_result(None)

    async def wait(self) -> None:
        loop = self.loop
        if loop is None or self.is_set:
            await super().wait()
            return
        future = loop.create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(future)
        try:
            await future
        finally:
            self._waiters.remove(future)

    def gone(self) -> None:
        """The client went away."""
        self.inv.outbox.abandon()
        self.cancel()


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
    if limits.max_concurrent is not None and registry.active >= limits.max_concurrent:
        # A clear refusal, not a queue: the client (or its model) can retry later.
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
            async with watching(run.watch):
                outcome = await _guarded(run, limits.timeout)
    finally:
        registry.active -= 1
        if calls.get(inv.key) is run:
            del calls[inv.key]
        else:
            registry.leave(inv.key, run)
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


# The ticker's period (at most; half the keep-alive interval when that is shorter): a call still
# running after one to two periods gets its watcher even if it has not streamed yet, and a call whose
# app goes on after its complete response gets its result at the next tick.
WATCH_AFTER = 0.25
# Tests flip this to run the portable (any anyio backend) guard and watcher on asyncio too.
PORTABLE_WATCHER = False
