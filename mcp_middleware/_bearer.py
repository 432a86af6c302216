"""Bearer challenges (RFC 6750 §3), for :mod:`mcp_middleware.security`: reading a route's
``WWW-Authenticate`` (:func:`bearer_params`), bounding what the endpoint carries of it
(:func:`_bounded`), and writing the endpoint's own (:func:`_challenge`)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ._http_token import TOKEN

__all__ = ["bearer_params"]

# RFC 9110 §11.6.1: a challenge is a scheme, then a token68 or comma-separated auth-params; several
# challenges share one field value, comma-separated too
_AUTH_ITEM = re.compile(
    rf'[\s,]*(?:(?P<name>{TOKEN})\s*=\s*(?P<value>{TOKEN}|"(?:[^"\\]|\\.)*")'
    rf"|(?P<scheme>{TOKEN})(?:\s+[A-Za-z0-9._~+/-]+=*(?=\s*(?:,|$)))?)"
)
_CARRIED = frozenset({"error", "error_description", "scope"})  # what a route's challenge passes on
_ESCAPED = re.compile(r"\\(.)")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")  # RFC 6750 §3 allows no more in these values


def bearer_params(header: str) -> list[tuple[str, str]] | None:
    """The ``error``, ``error_description`` and ``scope`` of the first Bearer challenge of a
    ``WWW-Authenticate`` field value, in the order sent, unquoted, reduced to printable ASCII (a
    value left empty is dropped); None when it has no Bearer challenge."""
    params: list[tuple[str, str]] | None = None
    pos = 0
    while (item := _AUTH_ITEM.match(header, pos)) is not None:
        pos = item.end()
        scheme = item["scheme"]
        if scheme is not None:
            if params is not None:
                break  # the next challenge
            if scheme.lower() == "bearer":
                params = []
            continue
        name, value = item["name"].lower(), item["value"]
        if params is None or name not in _CARRIED or any(name == seen for seen, _ in params):
            continue  # another scheme's, one not passed on, or a repeated one (the first counts)
        if value.startswith('"'):
            value = _ESCAPED.sub(r"\1", value[1:-1])
        value = _UNPRINTABLE.sub("", value)
        if value:
            params.append((name, value))
    return params


# How long a carried value may be, as written between its quotes (an escaped character counts
# twice): a route's 20 KB error_description made a header Node's fetch refuses (16 KB), and no
# client needs more. RFC 6750 error codes are short words: a longer one is no code.
_LONGEST = {"error": 64, "error_description": 256, "scope": 256}
_MORE = "..."  # ends a cut error_description


def _bounded(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``params`` (:func:`bearer_params`) with each value within :data:`_LONGEST`: a description
    cut with :data:`_MORE`, a scope to its whole scope tokens that fit (a cut one would name another
    scope), an error code too long dropped; a value left empty is dropped."""
    kept: list[tuple[str, str]] = []
    for name, value in params:
        longest = _LONGEST[name]
        if _written(value) > longest:
            if name == "error_description":
                value = _start(value, longest - len(_MORE)) + _MORE
            elif name == "scope":
                value = " ".join(_start_words(value.split(), longest))
            else:
                value = ""
        if value:
            kept.append((name, value))
    return kept


def _written(value: str) -> int:
    """How many characters ``value`` takes between its quotes (:func:`_quoted`)."""
    return len(value) + value.count("\\") + value.count('"')


def _start(value: str, longest: int) -> str:
    """The longest start of ``value`` that takes at most ``longest`` characters quoted."""
    size = 0
    for end, char in enumerate(value):
        size += 2 if char in '"\\' else 1
        if size > longest:
            return value[:end]
    return value


def _start_words(words: list[str], longest: int) -> list[str]:
    """The first of ``words`` that, joined by spaces, take at most ``longest`` characters quoted."""
    size = -1
    for count, word in enumerate(words):
        size += 1 + _written(word)
        if size > longest:
            return words[:count]
    return words


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _challenge(params: Sequence[tuple[str, str]]) -> tuple[bytes, bytes]:
    text = "Bearer" + (" " + ", ".join(f"{k}={_quoted(v)}" for k, v in params) if params else "")
    return (b"www-authenticate", text.encode("latin-1"))
