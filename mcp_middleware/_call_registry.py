"""The calls in flight in this process: found by (caller key, request id) for a handshake-era
``notifications/cancelled``, counted for ``max_concurrent_calls``, waited for a moment when
only calls that have answered hold the limit (:meth:`CallRegistry.room`), and when the server,
shutting down, has cancelled them (:meth:`CallRegistry.settled`).

Part of :mod:`mcp_middleware.toolcall`, whose ``run_tool`` registers each call here (and which
re-exports :class:`CallRegistry`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from ._ticker import _period, _Ticker

if TYPE_CHECKING:
    from ._tool_run import _ToolRun
    from .context import ContextHolder

__all__ = ["CallRegistry"]

logger = logging.getLogger("mcp_middleware.toolcall")


class _Shared:
    """The calls registered under one key: callers the caller key cannot tell apart (the same
    credentials, or none) with calls of the same request id in flight at once."""

    __slots__ = ("runs",)

    def __init__(self, *runs: _ToolRun) -> None:
        self.runs = list(runs)


@dataclass(slots=True)
class CallRegistry:
    """In-flight calls of this process (both eras; handshake-era ``notifications/cancelled``
    finds them here).

    Keyed by (caller key, request id): the endpoint is stateless, so the caller key (derived from
    the credentials the client sends) stands in for the session that request ids are unique in.
    Usually a key holds one call (``run_tool`` stores it, and deletes it if it is still its own:
    one dict store and one conditional delete per call). Callers the key cannot tell apart may use
    the same id at once: then the key holds them all (``_Shared``), and each call takes only itself
    off (``share``, ``leave``). A cancel for such a key cancels none of them when several have not
    answered: it cannot say which was meant, and stopping a neighbour's call is worse than running
    on one the client no longer wants (a cancel is advisory; closing the stream still stops a
    call). Calls that have answered (their result out, a background task running) are left out:
    no client waits on them, so when one call is left that has not answered (or one call is left
    under the key), a cancel for it stops that call.

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
    # requests writing their last word, cancelled while the server shuts down (transport._http)
    answering: int = 0
    _told_shared: bool = False  # a cancel that matched several calls was logged (once)

    def ticker(self, loop: asyncio.AbstractEventLoop, interval: float) -> _Ticker:
        """The ticker of this registry's calls on ``loop`` (a new one if the loop changed), for
        calls with keep-alive ``interval``."""
        ticker = self._ticker
        if ticker is None or ticker.loop is not loop:
            ticker = self._ticker = _Ticker(loop, _period(interval), self.runs)
        return ticker

    def cancel(self, key: str, request_id: Any) -> bool:
        """Cancel the call of caller ``key`` with ``request_id``; whether one was cancelled (none
        is when no call matches, or when several that have not answered do: see the class)."""
        handle = self._calls.get((key, request_id))
        if handle is None:
            return False
        if isinstance(handle, _Shared):
            # a call that has answered wants no cancel (its result stands, its app finishing)
            waiting = [run for run in handle.runs if not run.answered]
            if len(waiting) != 1:
                if waiting:
                    self._unsure(request_id, len(waiting))
                return False
            handle = waiting[0]
        handle.cancel()
        return True

    def _unsure(self, request_id: Any, calls: int) -> None:
        """Say, once, why a cancel that matched ``calls`` calls cancelled none of them."""
        if not self._told_shared:
            self._told_shared = True
            logger.warning(
                "A notifications/cancelled for request id %r matched %d calls in flight from callers the "
                "server cannot tell apart (the same credentials, or none), so it cancelled none of them: it "
                "cannot tell which was meant. Turn on MCPMiddleware(session_ids=True) or require credentials "
                "so that each client's cancel reaches its own call (logged once)",
                request_id,
                calls,
            )

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

    def runs(self) -> list[_ToolRun]:
        """The calls in flight (each of a shared key's), as they are now (the ticker reads them
        from its loop's timer: a copy, whatever registers or leaves meanwhile)."""
        held = tuple(self._calls.values())
        return [run for each in held for run in (each.runs if isinstance(each, _Shared) else (each,))]

    def answered(self) -> int:
        """The calls in flight that have answered (their app still finishing, or a stopped call's
        route that does not return)."""
        return sum(run.answered for run in self.runs())

    async def room(self, limit: int, grace: float) -> bool:
        """Whether a call may start with ``limit`` route runs allowed. When the limit is reached only
        because of calls that have answered, wait up to ``grace`` seconds for one of them to end; a
        call that has not answered is never waited for (a clear refusal, not a queue)."""
        with anyio.move_on_after(grace):
            while self.active >= limit:
                if self.active - self.answered() >= limit:
                    return False
                await self._vacancy()
        return self.active < limit

    async def settled(self, bound: float) -> None:
        """Wait, at most ``bound`` seconds, until no route runs with a response still open and no
        request is writing its last word (``answering``): the server, shutting down, cancelled what
        still ran (uvicorn, once ``--timeout-graceful-shutdown`` is over), and exits once the app's
        lifespan has ended, so the middleware holds ``lifespan.shutdown`` back until the cancelled
        calls have unwound and told their clients. A run whose response is closed (its client gone,
        or its result out) has nothing left to write and is not waited for. At once when nothing
        runs (the usual shutdown)."""
        with anyio.move_on_after(bound):
            while self.answering or any(not run.inv.outbox.closed for run in self.runs()):
                await self._vacancy()

    async def _vacancy(self) -> None:
        """Until a call ends (:meth:`ended`)."""
        loop = _run_token()
        vacated = self._vacated
        if vacated is None or vacated[0] is not loop:  # (one left by a loop that has ended)
            vacated = self._vacated = (loop, anyio.Event())
        await vacated[1].wait()

    def ended(self) -> None:
        """A call ended (however: returned, cancelled, failed; or its last word at shutdown is
        written), while a call waits in ``room`` (its slot is free) or the lifespan in
        ``settled``. An event left by another loop is dropped, not set (its loop may be closed)."""
        vacated = self._vacated
        if vacated is not None:
            self._vacated = None
            if vacated[0] is _run_token():
                vacated[1].set()


_RUN: anyio.lowlevel.RunVar[object] = anyio.lowlevel.RunVar("mcp_middleware.toolcall._RUN")


def _run_token() -> object:
    """An object of the running event loop's own (any anyio backend), the same while it runs."""
    try:
        return _RUN.get()
    except LookupError:
        token = object()
        _RUN.set(token)
        return token
