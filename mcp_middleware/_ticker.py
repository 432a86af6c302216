"""The asyncio machinery under the calls, apart from what any one call means.

Part of :mod:`mcp_middleware.toolcall`, whose ``run_tool`` uses it:

- :class:`_LoopCache` (``_loops``): the running asyncio loop without a system call per lookup;
- :class:`_Ticker`: one timer per event loop that starts the watcher of every call still running
  after a while (and writes the result of one whose app goes on after its response, or the outcome
  of one stopped while its route cannot be unwound);
- :func:`_reap`: cancel a call's watcher (or let a delivery finish) and wait for it, in plain asyncio;
- :func:`watching`: the portable watcher (any anyio backend), in a task group beside the route;
- :func:`_period`: the ticker's period for calls with a given keep-alive interval (at most
  ``WATCH_AFTER``).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    from .toolcall import _ToolRun

__all__ = ["WATCH_AFTER", "_LoopCache", "_Ticker", "_loops", "_period", "_reap", "watching"]


class _LoopCache:
    """The running asyncio loop, remembered with the thread it runs in.

    On CPython 3.11 every ``asyncio.get_running_loop()`` (and ``current_task()`` without a loop,
    and so ``anyio``'s backend detection) makes a ``getpid`` system call; on the benchmark host,
    under load, those calls were ~3 % of the server's time. A loop runs in one thread at a time,
    so the remembered loop is the running one when it is running and says it runs in this thread.
    """

    __slots__ = ("_entry",)

    def __init__(self) -> None:
        # (loop, its thread, whether it records its thread itself): one attribute, replaced whole,
        # so threads racing to fill it never see one loop paired with another's thread
        self._entry: tuple[asyncio.AbstractEventLoop, int, bool] | None = None

    def get(self) -> asyncio.AbstractEventLoop | None:
        """The running asyncio loop; None when not on asyncio (the anyio path then)."""
        entry = self._entry
        thread = threading.get_ident()
        if entry is not None:
            loop, owner, own = entry
            # asyncio's own loops record the thread they run in, and only while running (uvloop's
            # do not): for them, that one attribute says the loop runs here, without a call
            if owner == thread and (loop._thread_id == thread if own else loop.is_running()):  # type: ignore[attr-defined]
                return loop
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self._entry = (loop, thread, isinstance(loop, asyncio.BaseEventLoop))
        return loop


_loops = _LoopCache()


class _Ticker:
    """Starts the asyncio watcher of every call still running after a while: one timer per event
    loop for all of a server's calls, where a timer per call cost each call ~5 µs. A call that
    streams starts its watcher at once (``_ToolRun.wake``); a quick JSON call never gets one.

    Each tick wakes the calls that were running at the previous tick (so a call is woken first
    between one and two periods after it started, and again at every tick until it ends), and at
    once a call whose response is already complete while its app goes on (background work), or
    that was stopped (cancelled, past its time limit): its result, or its outcome when its route has
    not returned, goes out at the first tick after, never later. The calls are the registry's
    (``runs``: the calls in flight, which ``run_tool`` registers anyway), those of this loop whose
    watcher may still start (``_ToolRun.loop``, which ``run_tool`` clears before it reaps the
    call): a call costs the ticker nothing of its own but ``arm``, which says from when the ticker
    counts it (the previous tick, or when the timer was armed): a time no later than the call's
    start, read from the clock once per tick, not once per call, from which the call's first
    keep-alive is due. A tick marks the calls it has seen (``_ToolRun.ticked``). Waking is the only
    thing a tick does, so a late tick is harmless, and nothing is left behind when the calls stop
    (the timer is not re-armed)."""

    __slots__ = ("_runs", "_since", "_timer", "loop", "period")

    def __init__(self, loop: asyncio.AbstractEventLoop, period: float, runs: Callable[[], Iterable[_ToolRun]]) -> None:
        self.loop = loop
        self.period = period
        self._runs = runs  # the calls in flight (any loop's: a tick takes this loop's)
        self._since = 0.0  # (time.monotonic()) the last tick, or when the timer was armed
        self._timer: asyncio.TimerHandle | None = None

    def arm(self) -> float:
        """A call has started (registered among ``runs``, its ``loop`` set): the timer runs while
        calls do. Returns the time the ticker counts the call from, no later than now."""
        if self._timer is None:
            self._since = time.monotonic()
            self._timer = self.loop.call_later(self.period, self._tick)
        return self._since

    def _tick(self) -> None:
        self._since = time.monotonic()
        loop = self.loop
        woken: list[_ToolRun] = []
        running = False
        for run in self._runs():
            if run.loop is not loop:  # another loop's, the portable path's, or one being reaped
                continue
            running = True
            if run.ticked:  # running since before the last tick: woken at every tick until it ends
                woken.append(run)
            else:
                run.ticked = True
                if run._complete or run.stopped():  # its result, or a stopped call's outcome, now
                    woken.append(run)
        self._timer = loop.call_later(self.period, self._tick) if running else None
        for run in woken:
            run.wake()


async def _reap(task: asyncio.Task[None], *, cancel: bool = True) -> None:
    """Cancel the watcher (or, ``cancel=False``, let a task finish) and wait until it has ended.
    A cancellation of this task meanwhile cancels the other too (a write to a client that stopped
    reading must not hold the request up) and is raised once the other is gone. What the other
    raised is dropped: a keep-alive or write that failed because the client left is not news.
    Plain asyncio, where an anyio shielded scope around ``gather`` cost a streaming call 12-16 µs."""
    if cancel:
        task.cancel()
    interrupted: asyncio.CancelledError | None = None
    while not task.done():
        try:
            await asyncio.wait((task,))
        except asyncio.CancelledError as exc:
            if interrupted is None and not cancel:
                task.cancel()  # once: what it does on its way out is its own
            interrupted = exc  # an anyio scope repeats its cancellation until we let it through
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as never retrieved
    if interrupted is not None:
        raise interrupted


@asynccontextmanager
async def watching(factory: Callable[[], Coroutine[Any, Any, None]]) -> AsyncIterator[None]:
    """The portable watcher (any anyio backend): ``factory()`` runs in a task group beside the
    block from the start and is cancelled on exit. On asyncio, :class:`_Ticker` starts it late."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(factory)
        yield
        tg.cancel_scope.cancel()


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
