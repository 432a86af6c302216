"""The holder of a call's live context, in the route's ``scope["extensions"]``.

Part of :mod:`mcp_middleware.context`, which re-exports :class:`ContextHolder`: ``mcp_context``
asks the holder for the context, which it builds (with its channel) the first time a route asks,
so a route that never asks costs one holder. Until then the holder numbers the progress the call
runner sends on its own (streamed chunks 1, 2, ...; a heartbeat a readable fraction up, below the
next whole number: :func:`progress_below`), and a context built later starts above the last of them; from then on the
context numbers them.
:class:`~mcp_middleware._call_context.LiveContext` is imported for its type only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._call_context import LiveContext

__all__ = ["ContextHolder", "progress_below", "whole_above"]

_WHOLE = 2**53  # the whole numbers a float holds exactly (and a JSON reader's double too)


def progress_below(last: float, ceiling: float) -> float | None:
    """A readable progress value above ``last`` and below ``ceiling``, or None when there is no
    room, for the call runner's own notifications (a heartbeat; a chunk once the route has
    reported): a thousandth up while more than a tenth is left (1 -> 1.001, 1.5 -> 1.501), then a
    decimal finer for each tenth nearer (1.9 -> 1.9001, 1.99 -> 1.99001): some 900 short values
    per decade, and past the decimals a float holds, the next float. Never the ceiling: the
    route's next whole step, or the total it sent, stays above every value the runner sent (the
    smallest float step alone kept that too, but gave 5e-324, which clients show as 0)."""
    room = round(ceiling - last, 15)  # (2 - 1.9 is 0.10000000000000009: a tenth)
    if not room > 0:
        return None
    digits = 3
    while digits < 17 and 10.0 ** (2 - digits) >= room:
        digits += 1
    for finer in range(digits, 17):
        value = round(last + 10.0**-finer, finer)
        if last < value < ceiling:
            return value
    value = math.nextafter(last, ceiling)
    return value if value < ceiling else None


def whole_above(last: float) -> float:
    """The next whole number above ``last``; past the whole numbers a float holds (a route's
    report of 1e20), the next float, which JSON holds (an int past 2**64 it may not)."""
    whole = math.floor(last) + 1
    return whole if whole < _WHOLE else math.nextafter(last, math.inf)


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

    def automatic_progress(self, step: bool = True) -> float | None:
        """The value of a progress notification the call runner sends on its own, a streamed chunk
        (``step``) or a heartbeat, or None for none: until the route has its context, chunks count
        1, 2, ... and a heartbeat goes a fraction up (it may come before a slow route's dependencies
        have built the context, and must leave the route's own 1 of 3 free); then the context's."""
        if self.context is not None:
            return self.context.automatic_progress(step)
        # (a chunk's count stays far below 2**53: whole numbers from 0, a fraction between them)
        value = math.floor(self._sent) + 1 if step else progress_below(self._sent, whole_above(self._sent))
        if value is not None:
            self._sent = value
        return value
