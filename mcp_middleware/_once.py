"""Warnings said once per process however often the code saying them runs (a catalog rebuilt on
every ``tools_changed``): :func:`warn_once`.

The texts said so far are remembered, at most :data:`_MAX` of them; a full set starts again, so
what is remembered stays bounded and no warning is silenced for good (it is said again after
``_MAX`` others). Formatted eagerly: for the rare build-time warnings only, never per request.
"""

from __future__ import annotations

import logging
from typing import Any, Final

__all__ = ["warn_once"]

_SAID: set[tuple[str, str]] = set()  # (logger name, the formatted text)
_MAX: Final = 256


def warn_once(logger: logging.Logger, message: str, *args: Any) -> None:
    """``logger.warning(message, *args)``, unless the same text was said by that logger before."""
    key = (logger.name, message % args if args else message)
    if key in _SAID:
        return
    if len(_SAID) >= _MAX:
        _SAID.clear()
    _SAID.add(key)
    logger.warning(message, *args)
