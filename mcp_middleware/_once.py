"""Things said or worked out once however often the code asking runs: :class:`Remembered`, a
bounded memory of what was said, and :func:`warn_once`, the build-time warnings through it (a
catalog rebuilt on every ``tools_changed``). The refused options (``middleware``) keep a
:class:`Remembered` of their own; the refused Host/Origin values (``transport._checks``) a
:class:`Capped`, which never starts again: past its values, a new one is said at most once an
interval, so a client sending a new value each time cannot make a line of every request.

:func:`with_room` bounds every memo: ``Remembered`` (so a warning is said again after that many
others, never silenced for good), and the per-request tables of verdicts
(``validation.RequestValidator``'s, the 2026-07-28 ladders' ``Server.ladders``, the transport's
``Server.verdicts``). Those stay plain dicts and sets that their code looks up itself (one C-level
lookup per request, no Python call); ``with_room`` runs only to keep a new entry. ``warn_once``
formats eagerly: for the rare build-time warnings only, never per request.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Hashable
from time import monotonic
from typing import Any, Final, Protocol, TypeVar

__all__ = ["PAST", "SAY", "Capped", "Remembered", "warn_once", "with_room"]


class _Table(Protocol):
    def __len__(self) -> int: ...

    def clear(self) -> None: ...


_T = TypeVar("_T", bound=_Table)


def with_room(table: _T, most: int) -> _T:
    """``table`` (a bounded memo's dict or set), emptied first when it holds ``most`` entries
    already: what the memo puts its next entry in (``with_room(seen, most).add(key)``,
    ``with_room(verdicts, most)[key] = verdict``), so it never holds more than ``most``. A full
    memo starts again rather than refusing new entries."""
    if len(table) >= most:
        table.clear()
    return table


class Remembered:
    """The keys seen so far, at most ``most`` of them (:func:`with_room`): ``first(key)`` says
    whether ``key`` is new (and remembers it)."""

    __slots__ = ("_keys", "most")

    def __init__(self, most: int) -> None:
        self._keys: set[Hashable] = set()
        self.most = most

    def first(self, key: Hashable) -> bool:
        if key in self._keys:
            return False
        with_room(self._keys, self.most).add(key)
        return True

    def clear(self) -> None:
        self._keys.clear()

    def __len__(self) -> int:
        return len(self._keys)


# What :meth:`Capped.say` answers (0: say nothing): a value said for the first time, or a new
# value past the remembered ones, said in place of the others of its interval.
SAY: Final = 1
PAST: Final = 2


class Capped:
    """The values said so far, each once, up to ``most`` of them; past them, a new value is said
    at most once every ``every`` seconds (by ``clock``, ``time.monotonic``; a test sets its own).
    Unlike :class:`Remembered` it never starts again: a flood of new values would make it say
    each one; this says at most ``most`` lines, then one an interval, and still says the value
    that comes after the flood's interval (the operator's real host name)."""

    __slots__ = ("_keys", "_last", "clock", "every", "most")

    def __init__(self, most: int, every: float, clock: Callable[[], float] = monotonic) -> None:
        self._keys: set[Hashable] = set()
        self._last = -math.inf  # when a value past ``most`` was last said
        self.most = most
        self.every = every
        self.clock = clock

    def say(self, key: Hashable) -> int:
        """Whether to say ``key`` now: 0 (said before, or another past value this interval),
        :data:`SAY` (the first time, remembered) or :data:`PAST` (a new value past ``most``)."""
        if key in self._keys:
            return 0
        if len(self._keys) < self.most:
            self._keys.add(key)
            return SAY
        now = self.clock()
        if now - self._last < self.every:
            return 0
        self._last = now
        return PAST

    def __len__(self) -> int:
        return len(self._keys)


_MAX: Final = 256
_SAID = Remembered(_MAX)  # (logger name, the formatted text)


def warn_once(logger: logging.Logger, message: str, *args: Any) -> None:
    """``logger.warning(message, *args)``, unless the same text was said by that logger before."""
    if _SAID.first((logger.name, message % args if args else message)):
        logger.warning(message, *args)
