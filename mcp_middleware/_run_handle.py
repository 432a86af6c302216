"""The handle that stops a running call, and the disconnect signal its sub-request listens to.

Part of :mod:`mcp_middleware._tool_run`: :class:`_RunHandle` is the base of
:class:`~mcp_middleware._tool_run._ToolRun` (one object per call still), and holds what stopping a
call takes: whether it is stopped (cancelled, or past its time limit: :meth:`_RunHandle.stopped`),
the guards' handles (:mod:`mcp_middleware._guard` sets them while the route runs inside them),
settling a complete response (:meth:`_RunHandle._settle`: its time limit is lifted), cancelling it
(:meth:`_RunHandle.cancel`), and the ``Disconnect`` signal without an anyio event on asyncio.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import anyio

from ._call_types import CallLimits, Invocation
from .dispatch import SubExchange, SubRequest
from .results import ResponseCollector

__all__ = ["_RunHandle"]


class _RunHandle(SubExchange):
    """What stops one running call, and its disconnect signal: the base of ``_ToolRun``, whose
    methods (the route's response, the early result, the watcher) ask it whether the call is
    stopped."""

    # What every call reads is set by __init__: on CPython 3.11 a name that is also a class
    # attribute is read through the generic lookup (see SubExchange). What only a stopped or
    # portable call reads stays a class default (a quick call sets only what it uses).
    cancelled: bool
    # the result went out while the app went on (see _answer_early), or a stopped call's outcome
    # while its route did not return (see _outcome)
    answered: bool
    # the error result of a call the middleware stopped itself (its response outgrew
    # max_binary_bytes: see overflow), which the guard returns once the route has unwound
    overflowed: dict[str, Any] | None
    loop: asyncio.AbstractEventLoop | None  # while the asyncio watcher may be started
    _guard: asyncio.Timeout | None  # the asyncio guard with a time limit, while inside it
    _timer: anyio.CancelScope | None  # the portable guard's time limit, while inside it
    _task: asyncio.Task[Any] | None  # the asyncio guard without one, while inside it
    # (_ToolRun's) whether its text went out as progress; the asyncio watcher, once started; writing
    # its result or outcome, when the ticker found it due
    streaming: bool
    task: asyncio.Task[None] | None
    delivery: asyncio.Task[None] | None
    _scope: anyio.CancelScope | None = None  # the portable guard (any anyio backend)
    _nap: anyio.CancelScope | None = None  # the portable watcher's wait, while it waits

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
        self._body = b""  # the sub-request's (SubExchange's, without its __init__'s call)
        self._body_sent = self._started = self._complete = False
        self.cancelled = self.answered = False
        self.overflowed = self.loop = self._guard = self._timer = self._task = self._waiters = None
        # (_ToolRun's, which every call reads too: set here, without an __init__ of its own)
        self.streaming = False
        self.task = self.delivery = None

    # -- whether the call is stopped -------------------------------------------------------------
    def stopped(self) -> bool:
        """Cancelled, stopped over a limit (``overflow``), or past its time limit (the guard fired):
        nothing more is written for the call but its outcome (the timeout's or the limit's result,
        or after a cancel the end of the stream)."""
        if self.cancelled or self.overflowed is not None:
            return True
        if self._guard is not None:
            return self._guard.expired()
        return self._timer is not None and self._timer.cancel_called

    def _held(self) -> bool:
        """(A stopped call) its outcome has not gone out and cannot before the handler returns (a
        resources/read, a prompts/get, a call in a batch): the stream is kept alive until then."""
        return not self.answered and self.inv.outbox.answer() is None

    # -- stopping it -----------------------------------------------------------------------------
    def _settle(self) -> None:
        """The response is complete: what the app does after it (background tasks) is no longer
        the call's, so the time limit does not stop it (as over HTTP, where no limit covers it)."""
        if self._guard is not None and not self._guard.expired():  # expiring: it cannot be changed
            self._guard.reschedule(None)
        if self._timer is not None:
            self._timer.deadline = math.inf

    def cancel(self, within: bool = False) -> None:
        """Stop the route, unless its response is complete: then the result stands and the app's
        background work runs on, as over HTTP when a client leaves after its response.
        ``within``: from the route's own task (see :meth:`_stop`)."""
        if self.cancelled or self._complete:
            return
        self.cancelled = True
        if self.overflowed is None:  # (else stopping already: its outcome is now nothing)
            self._stop(within=within)

    def overflow(self, result: dict[str, Any]) -> None:
        """Stop the route as a cancel does, its outcome ``result`` (an error of the middleware's:
        its response outgrew ``max_binary_bytes``). Called from the route's own ``send``, which
        then returns, the chunk dropped: the route unwinds from its next await, and a streaming
        generator's ``finally`` runs then. (Raised out of its ``send``, the error left the
        generator paused at its ``yield`` until the cycle collector ran: Starlette's
        ``StreamingResponse`` does not close its iterator when ``send`` raises.) Not for a stream an
        inner ``BaseHTTPMiddleware`` re-sends: there the limit is still raised (see
        ``_tool_run._resent``)."""
        self.overflowed = result
        self._stop(within=True)

    def _stop(self, *, within: bool) -> None:
        """Stop the route: a disconnect for it, and a cancellation through whichever guard it runs
        under; ``within``: from the route's own task, which asyncio cannot take a cancellation
        back from if the route returns before its next await (Python 3.11), so the guard's task is
        cancelled from the next turn of the loop, and only if the route still runs then."""
        self.set()
        if self._scope is not None:
            self._scope.cancel()
        if self._guard is not None and not self._guard.expired():
            self._guard.reschedule(asyncio.get_running_loop().time())  # expires at once
        if self._task is not None:
            if within:
                asyncio.get_running_loop().call_soon(self._cancel_task)
            else:
                self._task.cancel()
        if self._nap is not None:
            self._nap.cancel()  # the portable watcher: the outcome is its job off asyncio

    def _cancel_task(self) -> None:
        if self._task is not None:  # (None once the guard let go)
            self._task.cancel()

    # -- the disconnect signal, on asyncio without an anyio event --------------------------------
    # (each waiter gets its own future from the known loop: an anyio or asyncio event would look
    # the loop up, a system call on CPython 3.11, and one waiter's cancellation stays its own)
    _waiters: list[asyncio.Future[None]] | None  # (set by __init__)

    def set(self) -> None:
        # the base's by name: a zero-argument super() costs ~1,300 machine instructions more on
        # CPython 3.11 (a super object and its lookup through the MRO), on every call's last send
        SubExchange.set(self)
        if self._waiters is not None:
            for future in self._waiters:
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

    def _stop_questions(self) -> None:
        """(A stopped call) the questions its route's context still waits on fail at once: asked
        from a worker thread, no cancellation reaches them (see ``LiveContext.stop_questions``)."""
        context = self.inv.context.context
        if context is not None:
            context.stop_questions()

    def halted(self) -> bool:
        """What the route's context asks before each send: the call is stopped, or nothing more can
        reach its client (it left; a handshake-era call runs on, see :meth:`gone`): progress and
        logs are dropped, and a question fails at once."""
        return self.stopped() or self.inv.outbox.closed

    def gone(self, within: bool = False) -> None:
        """The client went away: nothing more is written for the call. In 2026-07-28 closing the
        stream cancels it (transports.mdx: MUST). In the handshake era it does not ("Disconnection
        SHOULD NOT be interpreted as the client cancelling its request"): as over HTTP, the route's
        ``receive`` reports ``http.disconnect`` (a streaming response stops itself), the route runs
        on, and the questions it waits on fail (nobody can answer them)."""
        outbox = self.inv.outbox
        outbox.abandon()
        if outbox.leaving_cancels:
            self.cancel(within)
            return
        self._body_sent = True  # as uvicorn's receive: the disconnect comes before a body left unread
        self.set()
        self._stop_questions()
