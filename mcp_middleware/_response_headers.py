"""A route's response headers as its own list holds them (names in any case, lower case first: apps
send lower case, Starlette does): the first value of a header, or all of them as one field value,
and where a response's Content-Type, Content-Encoding, Location, Retry-After and Content-Disposition
are in its list
(``_slots``, remembered by its names). Part of :mod:`mcp_middleware._body`, whose ``Body.head``
reads the content type, the content coding, a location, a retry-after, a content disposition and a
refusal's challenge
with them; :mod:`mcp_middleware._tool_run` reads a
streamed body's declared Content-Length with them.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

# a header's name (``map``ped over a response's list: the key of its slots, built in C)
_NAME = itemgetter(0)

# where a response's less usual headers are in its list: every Content-Encoding, its Locations, its
# Retry-Afters and its Content-Dispositions (``_slots``); a response with none of them has ``()``
# (``Body.head`` tests that)
Placed = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]
Rest = Placed | tuple[()]

# a response's header names (a tuple) -> where its Content-Type and the rest are in its list
# (``_slots``), remembered: an app sends a handful of distinct lists of names
_SLOTS: dict[tuple[Any, ...], tuple[tuple[int, ...], Rest]] = {}


def _slots(headers: Sequence[Sequence[bytes]]) -> tuple[tuple[int, ...], Rest]:
    """Where a response's Content-Types are in its list (those of a lower-case name first, then
    those of any case: ``Body.head`` takes the first that is not empty), and the rest: every
    Content-Encoding (any case), and its Locations, Retry-Afters and Content-Dispositions (lower case
    first: the first is the value, as ``_header`` reads it), or ``()`` without any of them; remembered in ``_SLOTS``
    (up to 256 lists of names), which ``Body.head`` reads first. Names that are not hashable (a
    ``bytearray``) are not remembered."""
    names = tuple(map(_NAME, headers))
    lower = [key.lower() for key in names]
    kinds = (b"content-type", b"location", b"retry-after", b"content-disposition")
    typed, located, retry, disposed = (_named(names, lower, name) for name in kinds)
    codings = tuple(at for at, key in enumerate(lower) if key == b"content-encoding")
    rest = codings, located, retry, disposed
    found: tuple[tuple[int, ...], Rest] = typed, rest if codings or located or retry or disposed else ()
    try:
        if len(_SLOTS) < 256:
            _SLOTS[names] = found
    except TypeError:
        pass
    return found


def _named(names: tuple[Any, ...], lower: list[Any], name: bytes) -> tuple[int, ...]:
    """Where header ``name`` (lower case) is in a response's list: those of that very name first,
    then those of any case."""
    exact = [at for at, key in enumerate(names) if key == name]
    return (*exact, *(at for at, key in enumerate(lower) if key == name and at not in exact))


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
