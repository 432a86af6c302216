"""The holder of a call's live context, in the route's ``scope["extensions"]``.

Part of :mod:`mcp_middleware.context`, which re-exports :class:`ContextHolder`: ``mcp_context``
asks the holder for the context, which it builds (with its channel) the first time a route asks,
so a route that never asks costs one holder. Until then the holder numbers the progress the call
runner sends on its own (streamed chunks 1, 2, ...; a heartbeat the smallest step up), and a
context built later starts above the last of them; from then on the context numbers them.
:class:`~mcp_middleware._call_context.LiveContext` is imported for its type only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._call_context import LiveContext

__all__ = ["ContextHolder"]


class ContextHolder:
    """Builds a call's live context (and its channel) the first time a route asks for it: most
    routes never do, and then nothing is built."""

    # Defaults live on the class: a holder whose route never asks stores only what builds it.
    context: LiveContext | None = None
    channel: Any = None
    _sent: float = 0  # the last progress value the call runner sent before the context was built

    def __init__(self, factory: Callable[..., tuple[LiveContext, Any]], *args: Any) -> None:
        self._factory = factory  # called as factory(holder, *args): no closure to make per call
        self._args = args

    def __call__(self) -> LiveContext:
        if self.context is None:
            self.context, self.channel = self._factory(self, *self._args)
            if self._sent:  # the route's own reports go on above them
                self.context._last_progress = self._sent
        return self.context

    def automatic_progress(self, step: bool = True) -> float:
        """The value of a progress notification the call runner sends on its own, a streamed chunk
        (``step``) or a heartbeat: until the route has its context, chunks count 1, 2, ... and a
        heartbeat goes the smallest step up (it may come before a slow route's dependencies have
        built the context, and must leave the route's own 1 of 3 free); then the context's."""
        if self.context is not None:
            return self.context.automatic_progress()
        self._sent = math.floor(self._sent) + 1 if step else math.nextafter(self._sent, math.inf)
        return self._sent
