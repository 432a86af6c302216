"""One running call as one object: the route's sub-request, the sink of its response, its watcher
and the handle that stops it.

Part of :mod:`mcp_middleware.toolcall`, whose ``run_tool`` makes a :class:`_ToolRun` per call and
runs it under the cancel guard (:mod:`mcp_middleware._guard`). The run is a
:class:`~mcp_middleware.dispatch.SubExchange`: the child app's ``receive`` and ``send`` are its
methods, it turns a streamed body into progress notifications, writes the result early when the
app goes on after its response, watches for the client going away (keep-alives meanwhile), and is
the ``Disconnect`` signal the child ``receive`` waits on. Once the call is stopped (cancelled, or
past its time limit) nothing more is written for it but its outcome, which goes out without
waiting for a route that cannot be unwound (see :meth:`_ToolRun.stopped`).

What stops the call (whether it is stopped, its guards' handles, ``cancel``, ``_settle``) and the
disconnect signal are its base, :class:`~mcp_middleware._run_handle._RunHandle` (moved unchanged):
a run is still one object, and each method call the same work.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from operator import attrgetter
from types import FrameType
from typing import Any

import anyio
import anyio.abc
from starlette.middleware.base import _StreamingResponse as _BHMResponse  # (private; in every supported version)
from starlette.responses import Response
from starlette.types import Message

from ._guard import _timed_out, _too_large
from ._response_headers import _header
from ._run_handle import _RunHandle
from ._stream_failure import STREAM_RESPONSE, streams
from .context import CONTEXT_KEY
from .results import ResultTooLarge

__all__ = ["_GoingOnRun", "_ToolRun"]


class _ToolRun(_RunHandle):
    """One running call: the sink for the route's response (progress as it streams), the handle
    that stops it, and the disconnect signal its sub-request listens to. One object per call
    instead of a closure per callback."""

    # Defaults live on the class: a quick call sets only what it uses.
    # when the client last heard from us (keep-alive or progress), or a time no later than the
    # call's start (from the ticker, or when the portable watcher starts): the interval runs from it
    last: float | None = None
    ticked = False  # a tick of the ticker has seen it running (it is woken at every tick from the next)
    context: contextvars.Context | None = None  # the request's, for the tasks the ticker starts
    # (what every call reads, its watcher, its delivery, whether it streams: set by _RunHandle.__init__)
    grace = 0.0  # off asyncio: how long a stopped route has to return before its outcome goes out
    # whether the route's first body message with more to come is still to come: it is read
    # against the response's headers, which the collector keeps (see _whole); a quick JSON call
    # never reads them
    _first = True

    def run_route(self) -> Coroutine[Any, Any, None]:
        inv = self.inv
        return self.exchange(inv.app, inv.parent, self.sub, {CONTEXT_KEY: inv.context}, inv.host)

    # -- the route's response ---------------------------------------------------------------------
    # The head is the collector's alone: the child's send calls the collector's ``head`` through
    # this property, whose getter is C-level (no frame of the run's own in between).
    on_head = property(attrgetter("collector.head"))

    def on_body(self, chunk: bytes, more: bool) -> Awaitable[None] | None:
        if not more:  # the last message (of the usual JSON body, the only one)
            if self._guard is not None or self._timer is not None:
                self._settle()
            pieces = self.collector.feed(chunk, False)
            if self.task is not None and self.delivery is None:  # a long or streaming call: its app may go on
                sender = _stream_sender(sys._getframe())  # (from here: a compiled caller has no frame)
                if sender is not None and _background_follows(sender.f_locals.get("self")):
                    early = self._answer_early(pieces)
                    if early is not None:
                        return early
                else:
                    self._hold()
            # a last message shows only for a body that streamed (see _shows): the usual one does not ask
            if self.streaming and self._shows(pieces, False):
                return self._progress(pieces)
            return None
        if self.stopped():
            return None  # nothing more goes out for a stopped call (its route may not stop: wake)
        if self._first:  # its first body message with more to come
            self._first = False
            if _whole(self.collector.headers, chunk):
                self.collector.feed(chunk, True)
                return None  # no stream: no progress, no watcher (the rest is its empty end)
        if self.task is None:
            self.wake()  # it streams: its watcher starts now
        try:
            pieces = self.collector.feed(chunk, True)
        except ResultTooLarge as exc:  # (binary past max_binary_bytes) the chunk dropped, the route stopped
            if _resent(sys._getframe()):
                raise  # its task group cancels the route's task where it waits, in its generator
            self.overflow(_too_large(self, exc))
            return None
        if self._shows(pieces, True):
            return self._progress(pieces)
        return None  # no progress token (or not text): nothing to send while the route runs

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
            and not self.stopped()
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
        # not a tools/call, a route that used its context, or a call stopped before its response was complete
        if answer is None or self.answered or self.stopped():
            return None
        self.answered = True
        return self._answer_now(answer, pieces)

    # A route's stream that fails as it ends can still have its response completed: an inner
    # BaseHTTPMiddleware sends its empty last message once the stream it re-sends has failed, and
    # only then re-raises; FastAPI's SSE ends the stream when the task pulling the route's generator
    # fails. The failure reaches the guard a few loop steps later (1-3 with one such middleware,
    # some 20-35 more with each further one), and it is the call's result (_stream_failure.cut_short). So
    # the result is held: it goes out from a task of its own once HOLD_STEPS steps have passed with
    # the route still running (the app goes on: background work), and not at all when the route
    # returns first (the handler answers, its failure included). A response that has a
    # BackgroundTask of its own to run (_stream_sender) is answered at once, from its send.
    def _hold(self) -> None:
        loop = self.loop
        # (nothing to hold when the result cannot go out early: see _answer_early)
        if loop is not None and self.inv.context.channel is None and self.inv.outbox.answer() is not None:
            self.delivery = loop.create_task(self._answer_held(), context=self.context)

    async def _answer_held(self) -> None:
        for _ in range(HOLD_STEPS):
            await asyncio.sleep(0)
            if self.loop is None:  # the route returned (run_tool let go of it): the handler answers
                return
        early = self._answer_early([])
        if early is not None:
            await early

    async def _answer_now(self, answer: Callable[[dict[str, Any] | None], Awaitable[None]], pieces: list[str]) -> None:
        if self._shows(pieces, False):
            await self._progress(pieces)
        await answer(self.collector.result())

    # -- the outcome of a stopped call whose route has not returned ---------------------------
    # A route can be in a step no cancellation reaches: Starlette runs a StreamingResponse over a
    # sync iterator one step at a time in a worker thread, and waits for that step (a `requests`
    # stream, a sync LLM client). A stopped call's outcome does not wait for it: when the route has
    # not returned by the ticker's next tick (off asyncio, one period later), the outcome goes out
    # as an early result does, and the response ends; the route counts as running until it returns.

    def _outcome(self) -> Coroutine[Any, Any, None] | None:
        """Writing a stopped call's outcome now, or None when it cannot go out before the handler
        returns (not a tools/call, or the response is over: the client left, or it went out)."""
        answer = self.inv.outbox.answer()
        if answer is None or self.answered:
            return None
        self.answered = True
        if self.cancelled:
            return self._write(answer, None)
        return self._write(
            answer, self.overflowed if self.overflowed is not None else _timed_out(self, self.limits.timeout)
        )

    @staticmethod
    async def _write(answer: Callable[[dict[str, Any] | None], Awaitable[None]], result: dict[str, Any] | None) -> None:
        await answer(result)

    async def _outcome_later(self) -> None:
        """Off asyncio (no ticker): the outcome of a stopped call whose route has not returned
        ``grace`` seconds later (the watcher is cancelled when it does)."""
        await anyio.sleep(self.grace)
        outcome = self._outcome()
        if outcome is not None:
            with anyio.CancelScope(shield=True):  # half a result helps no one, should the route end now
                await outcome

    # -- the watcher: the client going away, keep-alives ----------------------------------------
    def wake(self) -> None:
        """Start the asyncio watcher now: the call streams, or has been running for a while; or,
        when its response is complete and the app still runs, write the result; or, when it was
        stopped and its route has not returned, write its outcome. (The ticker wakes a call at every
        tick until it ends.)"""
        loop = self.loop
        if loop is None:
            return
        if self.stopped():
            self._stop_questions()  # a stuck route's worker thread may wait on one
            if self.delivery is None:
                outcome = self._outcome()
                if outcome is not None:
                    self.delivery = loop.create_task(outcome, context=self.context)
                    return
            if self.task is None and self._held():  # keep-alives until the handler returns its outcome
                self.task = loop.create_task(self.watch(), context=self.context)
            return
        if self._complete:
            if self.delivery is None:
                early = self._answer_early([])
                if early is not None:
                    self.delivery = loop.create_task(early, context=self.context)
            return
        if self.task is None:
            # In the request's context even when the shared ticker starts it (a tracing or logging
            # middleware reads its request from the context of each send)
            self.task = loop.create_task(self.watch(), context=self.context)

    async def watch(self) -> None:
        """Until cancelled, or the call is stopped: report the client going away; keep a silent
        stream alive. Off asyncio, a stopped call's outcome too (on asyncio the ticker's job). A
        stopped call whose outcome goes out only when its handler returns (``_held``) keeps
        getting keep-alives (nothing else) until then."""
        interval = self.limits.keepalive_interval
        native = self.loop is not None  # on asyncio, asyncio.timeout costs a fraction of an anyio scope
        if self.last is None:
            self.last = time.monotonic()
        while True:
            stopped = self.stopped()
            if stopped:
                self._stop_questions()  # off asyncio, the guard waits for a worker thread that may wait on one
                if not self._held():
                    if not native:
                        await self._outcome_later()
                    return
            wait = max(self.last + interval - time.monotonic(), 0.0) if math.isfinite(interval) else math.inf
            if not native and not stopped and self._timer is not None:  # awake at the time limit (asyncio: the ticker)
                wait = min(wait, max(self._timer.deadline - anyio.current_time(), 0.0))
            message = await (self._receive_native(wait) if native else self._receive_portable(wait))
            if message is None:
                if time.monotonic() - self.last >= interval:  # not if progress went out meanwhile
                    await self.heartbeat()
            elif message["type"] == "http.disconnect":
                self.gone()
                if not native:  # (on asyncio, the guard or the ticker's wake: the route has let go by then)
                    self._stop_questions()
                return

    async def _receive_native(self, wait: float) -> Message | None:
        try:
            async with asyncio.timeout(None if math.isinf(wait) else wait):
                return await self.inv.receive()
        except TimeoutError:
            return None  # silent for a whole interval

    async def _receive_portable(self, wait: float) -> Message | None:
        with anyio.move_on_after(wait) as nap:
            self._nap = nap  # a cancel ends the wait (see cancel)
            try:
                return await self.inv.receive()
            finally:
                self._nap = None
        return None

    # -- progress and keep-alives ----------------------------------------------------------------
    async def heartbeat(self) -> None:
        """A keep-alive, and a progress heartbeat when there is a token. The interval runs from
        here whatever was written: a call without a token gets a keep-alive per interval, not one
        per loop step. A stopped call gets the keep-alive alone, and only while its outcome waits
        for its handler (``_held``): nothing once the outcome is written, or while it is due from
        the ticker (or the portable watcher)."""
        if self.stopped() and not self._held():
            return
        self.last = time.monotonic()
        await self.inv.outbox.keepalive()
        if self.inv.outbox.lost:
            self._lost(within=False)
        elif self.inv.token is not None:
            await self._send(None)  # (nothing for a stopped call)

    async def _send(self, message: str | None) -> None:
        """A progress notification (only for a call that has a token): the client hears from us.
        None once the call is stopped (a chunk's pieces may straddle the stop)."""
        if self.stopped():
            return
        # above the route's own reports, if any; a heartbeat (no message) a fraction up; None: no
        # value is left below the route's total (it reported 3 of 3), so nothing goes out
        progress = self.inv.context.automatic_progress(message is not None)
        if progress is None:
            return
        self.last = time.monotonic()  # anyio.current_time() would cost system calls per chunk
        params: dict[str, Any] = {"progressToken": self.inv.token, "progress": progress}
        if message is not None:
            params["message"] = message
        await self.inv.outbox.notify("notifications/progress", params)
        if self.inv.outbox.lost:  # the write found the client gone (a chunk's progress: from the route's own send)
            self._lost(within=message is not None)

    def _lost(self, within: bool) -> None:
        """A write of the call's found its client gone (``Outbox.lost``: the server's ``send``
        raised): heard as ``http.disconnect`` is (:meth:`gone`, the era's rule), once."""
        if not self.is_set and not self.cancelled:
            self.gone(within)


class _GoingOnRun(_ToolRun):
    """A run of a tool whose route may send a response with background work after it
    (``ToolSpec.goes_on``): a quick call's last body message (no watcher: a long or streamed call
    answers from its own, ``_ToolRun.on_body``) is answered at once, from the route's send, when
    the response sending it has background work to run (``_sender``, ``_background_follows``):
    as over HTTP, the client has the response while the app goes on, not at the ticker's next tick.
    Only such tools' runs look: any other call's last message costs what it did."""

    def on_body(self, chunk: bytes, more: bool) -> Awaitable[None] | None:
        pending = _ToolRun.on_body(self, chunk, more)
        if more or pending is not None or self.task is not None or self.delivery is not None:
            return pending
        sender = _sender(sys._getframe())
        if sender is not None and _background_follows(sender.f_locals.get("self")):
            return self._answer_early([])
        return None


def _sender(frame: FrameType | None) -> FrameType | None:
    """The frame of the response sending the route's last body message: a Starlette ``Response``'s
    own ``__call__`` (JSON, HTML, plain text, redirect: a whole body) or a streaming response's
    (``_stream_sender``); None when neither is among the frames from ``frame`` up (an inner
    ``BaseHTTPMiddleware`` re-sends the route's response from a task of its own: answered at the
    ticker's next tick, as before)."""
    while frame is not None and frame.f_code is not _RESPONSE_CALL and not streams(frame):
        frame = frame.f_back
    return frame


_RESPONSE_CALL = Response.__call__.__code__


def _stream_sender(frame: FrameType | None) -> FrameType | None:
    """The frame of the streaming response sending the route's last body message (through the
    frames from ``frame`` up; ``_stream_failure.streams``), or None. Whether it has background work
    to run after it (a ``background``) decides whether its result is held (see ``_hold``). An inner
    ``BaseHTTPMiddleware`` sends its own response's messages (the route's runs in a task of its
    own): no such frame, so such a call waits ``HOLD_STEPS``."""
    while frame is not None and not streams(frame):
        frame = frame.f_back
    return frame


def _background_follows(response: object) -> bool:
    """Whether the response that sent the route's last body message has background work to run
    after it, and its failure cannot come after that message: not FastAPI's own SSE (its body is
    ``_sse_with_checkpoints``, fed by a task pulling the route's generator, whose failure comes out
    after the response ends: a route with a ``BackgroundTasks`` parameter gives its response a
    background too), which is held as any stream is. FastAPI gives a route taking
    ``BackgroundTasks`` that background whether or not it added a task: one with no task is no
    work: what the app does after the body, a dependency's exit code writing the session, is
    waited for, up to the ticker's next tick (a whole response) or ``HOLD_STEPS`` (a stream)."""
    background = getattr(response, "background", None)
    if background is None or getattr(background, "tasks", None) == []:
        return False
    code = getattr(getattr(response, "body_iterator", None), "ag_code", None)
    routing = sys.modules.get("fastapi.routing")
    return not (
        code is not None
        and code.co_name == "_sse_with_checkpoints"
        and code.co_filename == getattr(routing, "__file__", None)
    )


def _resent(frame: FrameType | None) -> bool:
    """Whether the body message being sent (through the frames from ``frame`` up) is an inner
    ``BaseHTTPMiddleware`` re-sending the route's stream, which runs in a task of the middleware's
    and waits in its memory stream: a cancellation of ours lands a loop step later, by then in
    that stream's ``send`` as often as not, and Starlette does not close a response's iterator when
    its ``send`` raises (the generator stays paused until the cycle collector runs). Raised at once
    out of the middleware's ``send``, the limit reaches its task group while the route's task waits
    in the generator, which the group's cancellation then unwinds. (A generator that does not await
    between its chunks, whatever it awaited before the first, has no such wait: the cancellation
    lands in the ``send`` it is suspended behind, and it stays paused until collected, as the
    README says.) The route's own ``StreamingResponse`` (nearer on the stack) is stopped as a
    cancel does (``overflow``)."""
    while frame is not None:
        code = frame.f_code
        if code is STREAM_RESPONSE:
            return False
        if code is _RESENDS:
            return True
        frame = frame.f_back
    return False


# what BaseHTTPMiddleware's response re-sends the route's stream with (a private class: looked up)
_RESENDS = _BHMResponse.__call__.__code__

# loop steps a streamed call's result waits, after its last send, for a failure of its route (see _hold)
HOLD_STEPS = 128


def _whole(headers: Sequence[Sequence[bytes]], chunk: bytes) -> bool:
    """Whether a response's first body message with more to come holds the whole body its head
    declared (Content-Length): a complete response re-sent as a stream's messages (an inner
    ``BaseHTTPMiddleware`` re-sends every response as its body with more to come, then an empty
    last message) is no stream. Decided on this message alone: a real stream (no Content-Length,
    or a first piece shorter than it) has its first chunk go out at once, waiting for nothing."""
    declared = _header(headers, b"content-length")
    # (at most 18 digits: int() refuses very long ones, and no body is that long). Exactly the
    # length: a route whose header says less than it sends (a custom Response's "0") streams.
    return declared.isdigit() and len(declared) < 19 and len(chunk) == int(declared)
