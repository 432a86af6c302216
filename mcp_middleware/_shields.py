"""Whether an asyncio task waits inside an anyio shielded cancel scope, read off anyio's internals.

Part of the cancel guard (:mod:`mcp_middleware._guard`, :mod:`mcp_middleware._run_handle`): on asyncio
the guard stops a route with the task's own cancellation, which goes straight through anyio's
shielded scopes (``to_thread.run_sync``'s wait for a worker thread, a route's own
``CancelScope(shield=True)``). Before it does, it asks :func:`shielded`, and while the route is
shielded it waits: the route unwinds outside its shields only, as anyio's own scopes would have it.

anyio keeps each asyncio task's innermost scope in ``anyio._backends._asyncio._task_states`` (a
``TaskState``'s ``cancel_scope``), each scope its ``_parent_scope``, ``_host_task`` and ``_shield``
(anyio 4.10 to 4.16 at least). Read only when a stop is requested, never per call. An anyio that
keeps them otherwise reads as "not shielded": the stop goes through at once, as it did before.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any, Protocol

__all__ = ["POLL", "Deadline", "shielded"]

# where anyio keeps them (module attributes, so a test can stand in for another anyio)
_BACKEND = "anyio._backends._asyncio"
_STATES = "_task_states"
_SCOPE = "cancel_scope"


def shielded(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` is inside a shielded anyio cancel scope of its own (one of another task, a
    task group's in the task that started it, does not shield it from its own cancellation)."""
    backend = sys.modules.get(_BACKEND)  # (not loaded: no anyio scope ever ran on asyncio)
    states = getattr(backend, _STATES, None)
    if states is None:
        return False
    try:
        state = states.get(task)
    except TypeError:  # (not a mapping keyed by tasks)
        return False
    scope = getattr(state, _SCOPE, None)
    while scope is not None and getattr(scope, "_host_task", None) is task:
        if getattr(scope, "_shield", False) is True:
            return True
        scope = getattr(scope, "_parent_scope", None)
    return False


class Deadline(asyncio.Timeout):  # type: ignore[misc]  # (final in typeshed, not at run time)
    """``asyncio.timeout``'s guard (``_guard._guarded_timed``), whose expiry waits while the route
    is shielded: the call reads as stopped at once (``held``: its outcome goes out, ``run.wake``),
    and the task is cancelled once it waits outside its shields (looked at every ``POLL`` seconds;
    the poll is the guard's own timer, which leaving the guard or lifting the limit cancels)."""

    run: _Waker
    held = False  # past its deadline while the route was shielded

    def _on_timeout(self) -> None:
        task: asyncio.Task[Any] | None = self._task  # type: ignore[attr-defined]
        if task is not None and shielded(task):
            self._timeout_handler = task.get_loop().call_later(POLL, self._on_timeout)
            if not self.held:
                self.held = True
                self.run.wake()
            return
        super()._on_timeout()  # type: ignore[misc]


class _Waker(Protocol):
    def wake(self) -> None: ...


# how often a stop held back by a shield looks again whether the route has left it (a loop timer of
# its own per stopped call, while the route stays shielded: a worker thread that never returns keeps it)
POLL = 0.005
