"""The holder of a call's live context, in the route's ``scope["extensions"]``.

Part of :mod:`mcp_middleware.context`, which re-exports :class:`ContextHolder`: ``mcp_context``
asks the holder for the context, which it builds (with its channel) the first time a route asks,
so a route that never asks costs one holder. Until then the holder numbers the progress the call
runner sends on its own (streamed chunks 1, 2, ...; a heartbeat a readable fraction up,
:func:`progress_above`), and a context built later starts above the last of them; from then on the
context numbers them.
:class:`~mcp_middleware._call_context.LiveContext` is imported for its type only.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._call_context import LiveContext

__all__ = ["ContextHolder", "progress_above"]

_WHOLE = 2**53  # the whole numbers a float holds exactly (and a JSON reader's double too)


def _whole_above(last: float) -> float:
    """The next whole number above ``last``; past the whole numbers a float holds (a route's
    report of 1e20), the next float, which JSON holds (an int past 2**64 it may not)."""
    whole = math.floor(last) + 1
    return whole if whole < _WHOLE else math.nextafter(last, math.inf)


def progress_above(last: float) -> float:
    """A readable progress value above ``last`` and below the next whole number, for the call
    runner's own notifications (a heartbeat; a chunk once the route has reported): a thousandth up
    (1 -> 1.001, 1.5 -> 1.501), finer as the whole number nears (1.999 -> 1.9991), at most six
    decimals, then the whole number (1.999999 -> 2). Below it, a route's next report of a whole
    step (2 of 10) is still above every value the runner sent; the smallest float step
    (``math.nextafter``) kept it so too, but gave values such as 5e-324, which clients show as 0."""
    whole = _whole_above(last)
    for digits in _DIGITS:
        value = round(round(last, digits) + _STEPS[digits], digits)
        if last < value < whole:
            return value
    return whole


_DIGITS = (3, 4, 5, 6)
_STEPS = {digits: 10.0**-digits for digits in _DIGITS}


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
        heartbeat goes a fraction up (it may come before a slow route's dependencies have built the
        context, and must leave the route's own 1 of 3 free); then the context's."""
        if self.context is not None:
            return self.context.automatic_progress(step)
        # (a chunk's count stays far below 2**53: whole numbers from 0, a fraction between them)
        self._sent = math.floor(self._sent) + 1 if step else progress_above(self._sent)
        return self._sent
