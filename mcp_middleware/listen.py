"""``subscriptions/listen`` (2026-07-28, subscriptions.mdx): long-lived streams of list changes.

Each open listen stream registers a :class:`Listener` with the filter the client asked for; a
change (``ctx.tools_changed()``, ``ctx.resource_updated(uri)``, a route added at run time) is
published to the streams of this process that asked for it. Nothing is kept for streams that are
not open: a client that reconnects re-lists.

Publishing never waits (a route may announce a hundred updates in a loop before the stream writes
one), and nothing published is dropped: a stream holds what it has not written yet coalesced, in
the order of first arrival. A notification is a hint to re-read or re-list, so two pending
updates of one URI are one, and a list change already pending is not added again. What a stream
holds is therefore bounded by what it subscribed to (its URIs, at most
``_listen_stream.MAX_LISTEN_URIS``, each one the app serves, and three list kinds), however much
is published and however slowly its client reads; the streams open at once, by
``max_listen_streams``. Once written, a URI's next update is pending again.

The server ends its streams when it shuts down (subscriptions.mdx, Cancellation: the empty
``subscriptions/listen`` result with the subscription id, then the end of the stream), which the
server does not tell open responses: uvicorn sends ``lifespan.shutdown`` only after every response
is over, and waits for them. While streams are open, one timer per server and event loop
(:meth:`Listeners.tick`, every ``TICK_SECONDS``) reads the flags sse-starlette reads for its own SSE
responses (:func:`shutting_down`) and notices routes added or removed at run time. Where there is no
asyncio loop to set a timer on, each stream cuts its wait at the period and ticks (at most once per
period for all of them).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import anyio

__all__ = ["FILTER_KEYS", "RESOURCE_UPDATED", "TICK_SECONDS", "Listener", "Listeners", "shutting_down"]

logger = logging.getLogger(__name__)

# notification kind ──▶ the SubscriptionFilter flag that asks for it, and the method sent
FILTER_KEYS: Mapping[str, tuple[str, str]] = {
    "tools": ("toolsListChanged", "notifications/tools/list_changed"),
    "prompts": ("promptsListChanged", "notifications/prompts/list_changed"),
    "resources": ("resourcesListChanged", "notifications/resources/list_changed"),
}
RESOURCE_UPDATED = "notifications/resources/updated"
# How often, while streams are open, shutdown is checked and route changes noticed (sse-starlette
# checks at the same rate)
TICK_SECONDS = 0.5
# Tests flip this to run the portable ticking (each stream ticks on its own wait) on asyncio too.
PORTABLE_TICKS = False


def shutting_down() -> bool:
    """Whether the server running the app is shutting down, as far as it shows: uvicorn's
    ``Server.should_exit`` (its SIGTERM handler, while it serves, is its bound ``handle_exit``,
    which sets it), and sse-starlette's public ``AppStatus.should_exit`` when the app imported
    sse-starlette (its hook into uvicorn sets it, and an app may set it for another server).
    Read afresh each time, as sse-starlette does: a handler can outlive the server that set it."""
    sse = sys.modules.get("sse_starlette.sse")
    if sse is not None and getattr(getattr(sse, "AppStatus", None), "should_exit", False) is True:
        return True
    owner = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return getattr(owner, "should_exit", False) is True


def _nothing() -> None:
    return None


class Listener:
    """One open stream: what it asked for, and what it has not written yet."""

    __slots__ = ("ended", "kinds", "pending", "ready", "uris")

    def __init__(self, kinds: frozenset[str], uris: frozenset[str]) -> None:
        self.kinds = kinds
        self.uris = uris
        # (method, URI or None) in the order of first arrival; a key already there keeps its place
        self.pending: OrderedDict[tuple[str, str | None], None] = OrderedDict()
        self.ready = anyio.Event()  # set when something is pending (made anew once all is taken)
        self.ended = False  # the server ended the stream: write what is pending, then the result

    def offer(self, method: str, uri: str | None) -> None:
        self.pending[(method, uri)] = None
        self.ready.set()

    def take(self) -> tuple[str, dict[str, Any]] | None:
        """The first pending notification (method, params), or None when nothing is pending
        (``ready`` is then clear, to be waited on)."""
        if self.pending:
            method, uri = self.pending.popitem(last=False)[0]
            return method, ({} if uri is None else {"uri": uri})
        if self.ready.is_set():
            self.ready = anyio.Event()
        return None

    def end(self) -> None:
        self.ended = True
        self.ready.set()


class Listeners:
    """The open streams of one server, and the timer that ticks while there are any.

    ``poll`` runs at each tick: the server's check for routes added or removed at run time, which
    publishes the list changes it finds."""

    __slots__ = ("_last", "_loop", "_open", "_poll", "_timer")

    def __init__(self, poll: Callable[[], None] = _nothing) -> None:
        self._open: dict[Listener, None] = {}
        self._poll = poll
        self._loop: asyncio.AbstractEventLoop | None = None  # the timer's
        self._timer: asyncio.TimerHandle | None = None
        self._last = 0.0  # (time.monotonic()) the last tick

    def open(self, kinds: frozenset[str], uris: frozenset[str]) -> Listener:
        listener = Listener(kinds, uris)
        self._open[listener] = None
        self._arm()
        return listener

    def close(self, listener: Listener) -> None:
        self._open.pop(listener, None)

    def publish(self, kind: str) -> None:
        """A list-changed notification for the open streams that asked for ``kind``."""
        method = FILTER_KEYS[kind][1]
        for listener in self._open:
            if kind in listener.kinds:
                listener.offer(method, None)

    def resource_updated(self, uri: str) -> None:
        for listener in self._open:
            if uri in listener.uris:
                listener.offer(RESOURCE_UPDATED, uri)

    def end_all(self) -> None:
        """End every open stream (the server shuts down); what is published from now on is not
        theirs, so each ends after what it holds."""
        for listener in self._open:
            listener.end()
        self._open.clear()

    @property
    def ticking(self) -> bool:
        """Whether the timer is set (on asyncio, while streams are open); if not, each stream
        ticks on its own wait (:meth:`tick_if_due`)."""
        return self._timer is not None

    def tick(self) -> None:
        """End every stream if the server is shutting down, else notice route changes; the timer
        is set again while streams are open. A late or extra tick is harmless."""
        if self._timer is not None:
            self._timer.cancel()  # (when called other than by the timer: one timer, not two)
            self._timer = None
        self._last = time.monotonic()
        if shutting_down():
            self.end_all()
            return
        if self._open:
            self._arm()
        try:
            self._poll()
        except Exception:  # the app's routes: the streams and their ticks go on
            logger.exception("noticing route changes for the listen streams failed")

    def tick_if_due(self) -> None:
        if time.monotonic() - self._last >= TICK_SECONDS:
            self.tick()

    def _arm(self) -> None:
        loop = self._running_loop()
        if loop is None or (self._timer is not None and self._loop is loop):
            return
        if self._timer is not None:
            self._timer.cancel()  # set on a loop that is gone (or another)
        self._loop = loop
        self._timer = loop.call_later(TICK_SECONDS, self.tick)

    @staticmethod
    def _running_loop() -> asyncio.AbstractEventLoop | None:
        if PORTABLE_TICKS:
            return None
        try:
            return asyncio.get_running_loop()
        except RuntimeError:  # another anyio backend: the streams tick themselves
            return None

    def __len__(self) -> int:
        return len(self._open)
