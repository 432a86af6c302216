"""Things said once per process however often the code saying them runs: :class:`Remembered`, a
bounded memory of what was said, and :func:`warn_once`, the build-time warnings through it (a
catalog rebuilt on every ``tools_changed``). The refused options (``middleware``) and the refused
Host/Origin values (``transport._checks``) keep a :class:`Remembered` of their own.

A full memory starts again, so what is remembered stays bounded and nothing is silenced for good
(it is said again after that many others). ``warn_once`` formats eagerly: for the rare build-time
warnings only, never per request.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from typing import Any, Final

__all__ = ["Remembered", "warn_once"]


class Remembered:
    """The keys seen so far, at most ``most`` of them: ``first(key)`` says whether ``key`` is new
    (and remembers it). When full, the memory starts again rather than refusing new keys."""

    __slots__ = ("_keys", "most")

    def __init__(self, most: int) -> None:
        self._keys: set[Hashable] = set()
        self.most = most

    def first(self, key: Hashable) -> bool:
        if key in self._keys:
            return False
        if len(self._keys) >= self.most:
            self._keys.clear()
        self._keys.add(key)
        return True

    def clear(self) -> None:
        self._keys.clear()

    def __len__(self) -> int:
        return len(self._keys)


_MAX: Final = 256
_SAID = Remembered(_MAX)  # (logger name, the formatted text)


def warn_once(logger: logging.Logger, message: str, *args: Any) -> None:
    """``logger.warning(message, *args)``, unless the same text was said by that logger before."""
    if _SAID.first((logger.name, message % args if args else message)):
        logger.warning(message, *args)
