"""``subscriptions/listen`` (2026-07-28, subscriptions.mdx): long-lived streams of list changes.

Each open listen stream registers a :class:`Listener` with the filter the client asked for; a
change (``ctx.tools_changed()``, ``ctx.resource_updated(uri)``, a route added at run time) is
published to the streams of this process that asked for it. Nothing is kept for streams that are
not open: a client that reconnects re-lists.

Publishing never waits (a route may announce a hundred updates in a loop before the stream writes
one), and nothing published is dropped: a stream holds what it has not written yet coalesced, in
the order of first arrival. A notification is a hint to re-read or re-list, so two pending
updates of one URI are one, and a list change already pending is not added again. What a stream
holds is therefore bounded by what it subscribed to (its URIs and three list kinds; its listen
request is bounded by the body limit), however much is published and however slowly its client
reads. Once written, a URI's next update is pending again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import anyio

__all__ = ["FILTER_KEYS", "RESOURCE_UPDATED", "Listener", "Listeners"]

# notification kind ──▶ the SubscriptionFilter flag that asks for it, and the method sent
FILTER_KEYS: Mapping[str, tuple[str, str]] = {
    "tools": ("toolsListChanged", "notifications/tools/list_changed"),
    "prompts": ("promptsListChanged", "notifications/prompts/list_changed"),
    "resources": ("resourcesListChanged", "notifications/resources/list_changed"),
}
RESOURCE_UPDATED = "notifications/resources/updated"


class Listener:
    """One open stream: what it asked for, and what it has not written yet."""

    __slots__ = ("kinds", "pending", "ready", "uris")

    def __init__(self, kinds: frozenset[str], uris: frozenset[str]) -> None:
        self.kinds = kinds
        self.uris = uris
        # (method, URI or None) in the order of first arrival; a key already there keeps its place
        self.pending: OrderedDict[tuple[str, str | None], None] = OrderedDict()
        self.ready = anyio.Event()  # set when something is pending (made anew once all is taken)

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


class Listeners:
    """The open streams of one server."""

    __slots__ = ("_open",)

    def __init__(self) -> None:
        self._open: dict[Listener, None] = {}

    def open(self, kinds: frozenset[str], uris: frozenset[str]) -> Listener:
        listener = Listener(kinds, uris)
        self._open[listener] = None
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

    def __len__(self) -> int:
        return len(self._open)
