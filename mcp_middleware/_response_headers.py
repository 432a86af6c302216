"""A route's response headers as its own list holds them (names in any case, lower case first: apps
send lower case, Starlette does): the first value of a header, or all of them as one field value,
and where a response's Content-Type and Content-Encoding are in its list (``_slots``, remembered by
its names). Part of :mod:`mcp_middleware._body`, whose ``Body.head`` reads the content type, the
content coding, a redirect's location and a refusal's challenge with them; :mod:`mcp_middleware._tool_run` reads a
streamed body's declared Content-Length with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

# a header's name (``map``ped over a response's list: the key of its slots, built in C)
_NAME = itemgetter(0)

# a response's header names (a tuple) -> where its Content-Type and Content-Encoding are in its
# list (``_slots``), remembered: an app sends a handful of distinct lists of names
_SLOTS: dict[tuple[Any, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}


def _slots(headers: Sequence[Sequence[bytes]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Where a response's Content-Types are in its list (those of a lower-case name first, then
    those of any case: ``Body.head`` takes the first that is not empty) and every Content-Encoding
    (any case), as ``_header`` and ``_all_values`` read them; remembered in ``_SLOTS`` (up to 256
    lists of names), which ``Body.head`` reads first. Names that are not hashable (a
    ``bytearray``) are not remembered."""
    names = tuple(map(_NAME, headers))
    lower = [key.lower() for key in names]
    exact = [at for at, key in enumerate(names) if key == b"content-type"]
    typed = (*exact, *(at for at, key in enumerate(lower) if key == b"content-type" and at not in exact))
    found = typed, tuple(at for at, key in enumerate(lower) if key == b"content-encoding")
    try:
        if len(_SLOTS) < 256:
            _SLOTS[names] = found
    except TypeError:
        pass
    return found


def _header(headers: Sequence[Sequence[bytes]], name: bytes) -> bytes:
    """The first value of header ``name`` (lower case) in a response's own list, names in any
    case; empty when absent. Apps send lower case (Starlette does): that is tried first."""
    for key, value in headers:
        if key == name:
            return bytes(value)
    for key, value in headers:
        if key.lower() == name:
            return bytes(value)
    return b""


def _all_values(headers: Sequence[Sequence[bytes]], name: bytes) -> str:
    """Every value of header ``name`` (lower case) in a response's own list, names in any case,
    joined as one field value (RFC 9110 §5.3); empty when absent."""
    return ", ".join(bytes(value).decode("latin-1") for key, value in headers if key.lower() == name)
