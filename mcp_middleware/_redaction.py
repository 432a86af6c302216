"""Credential redaction, for :mod:`mcp_middleware.results`: the credentials forwarded to a route
are never echoed in a result's error, redirect or HEAD text, in any form the route may write them,
nor the start of one that the result limit cut off."""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import re
from collections.abc import Callable
from functools import partial
from urllib.parse import quote, quote_plus

import orjson
from starlette.requests import cookie_parser

from ._result_shapes import CUT, REDACTED
from .config import TRACE_CONTEXT
from .query_keys import MARK, secret_values

__all__ = ["COOKIE_SECRETS", "REDACTED", "credential_values", "redacted"]

# How many values of a Cookie header are secrets: its longest distinct ones. Each secret form is
# one pass over the error text (``redacted``), on the event loop: every cookie of a header of
# 4,000 made a 200 KB echoed error 1.3 s of work. Bounding it is safe: a request's cookies are its
# own caller's (the redaction keeps them out of that caller's model transcript, not from anyone
# else), so a client that sends more cookies than this only risks its own shorter ones being
# echoed to its own model; a session cookie is long, and of all a browser-like jar's cookies the
# longest are the likeliest secrets. Every other credential is one header of a declared name.
COOKIE_SECRETS = 32


def credential_values(forwarded: tuple[tuple[bytes, bytes], ...]) -> tuple[str, ...]:
    """The secret parts of the credentials forwarded to a route, longest first: ``Authorization``
    (and a ``Basic`` one's decoded ``user:password`` and password), ``Cookie`` values (as sent, and
    unquoted as the route reads them), API-key headers, and API keys from the MCP request's query
    string (as sent and decoded); each also percent-encoded, as a URL carries it, and escaped, as
    a JSON string carries it. Everything forwarded but trace context is a credential."""
    return tuple(_secrets(forwarded))


def _secrets(forwarded: tuple[tuple[bytes, bytes], ...]) -> dict[str, int]:
    """:func:`credential_values`, each with the length of its shortest start that the result
    limit's cut may not show: past its first word (of "Bearer <token>" the scheme word is no
    secret, nor of an encoded form the word and its encoded space), and of four characters."""
    found: set[str] = set()
    for name, raw in forwarded:
        value = raw.decode("latin-1")
        if name == b"authorization":
            scheme, _, credentials = value.partition(" ")
            found.update({value, credentials})
            if scheme.lower() == "basic":
                found.update(_basic(credentials))
        elif name == b"cookie":
            found.update(_cookie_values(value))
        elif name[:1] == MARK:  # a query API key's ``name=value`` pair (query_keys)
            found.update(secret_values(raw))
        elif name not in TRACE_CONTEXT:  # an API-key header (catalog.credential_headers)
            found.add(value)
    values = {value.strip() for value in found if len(value.strip()) >= 6}
    secrets: dict[str, int] = {}
    for value in values:
        _add(secrets, value, value.find(" ") + 2)
        for form, word in _percent_encoded(value):
            _add(secrets, form, word + 1)
    # and as a JSON string writes them: orjson (an error detail that is an object, written again
    # here) escapes a \ or ", and json.dumps (a route's own JSON) also writes non-ASCII as \uXXXX
    # (a percent-encoded form, all ASCII without either, is written as it is)
    for value in values:
        for form in (orjson.dumps(value).decode()[1:-1], json.dumps(value)[1:-1]):
            _add(secrets, form, form.find(" ") + 2)
    return dict(sorted(secrets.items(), key=lambda item: len(item[0]), reverse=True))


def _cookie_values(header: str) -> set[str]:
    """The values of the :data:`COOKIE_SECRETS` cookies of ``header`` with the longest distinct
    values, as sent and as Starlette hands them to the route (unquoted; a chunk without ``=`` is
    the value of the cookie named "")."""
    chunks: dict[str, str] = {}
    for chunk in header.split(";"):
        _, sign, value = chunk.partition("=")
        chunks.setdefault((value if sign else chunk).strip(), chunk)
    kept = heapq.nlargest(COOKIE_SECRETS, chunks, key=len)
    values = set(kept)
    for value in kept:
        values.update(cookie_parser(chunks[value]).values())  # as Starlette parses it
    return values


def _add(secrets: dict[str, int], form: str, shortest: int) -> None:
    """Add ``form`` to ``secrets``, whose starts of ``shortest`` characters (four at least) the
    result limit's cut may not show; a form already there (two values may write it) keeps the
    lower of the two."""
    shortest = max(4, shortest)
    secrets[form] = min(shortest, secrets.get(form, shortest))


# What a route may percent-encode a credential with, to put it in a URL (a redirect's Location):
# ``urlencode`` (``quote_plus``), ``quote`` of a component and of a path, and Starlette's
# ``RedirectResponse``, which quotes its URL keeping these characters (and "%") as they are.
_ENCODERS: tuple[Callable[[str], str], ...] = (
    partial(quote_plus, safe=""),
    partial(quote, safe=""),
    partial(quote, safe="/"),
    partial(quote, safe=":/%#?=@[]!$&'()*+,;"),
)
_ESCAPE = re.compile("%[0-9A-F]{2}")


def _percent_encoded(value: str) -> set[tuple[str, int]]:
    """``value`` as each of :data:`_ENCODERS` writes it, with its hex digits in upper case (as they
    write them) and in lower case (as some other encoders do), each with the length of its first
    word and the space after it as encoded (-1 without a space); ``value`` itself is left out."""
    space = value.find(" ")
    forms = {(encode(value), len(encode(value[: space + 1])) if space >= 0 else -1) for encode in _ENCODERS}
    forms |= {(_ESCAPE.sub(lambda escape: escape[0].lower(), form), word) for form, word in forms}
    return {(form, word) for form, word in forms if form != value}


def _basic(credentials: str) -> tuple[str, ...]:
    """A ``Basic`` authorization's ``user:password`` and password, as a route decodes them (UTF-8,
    RFC 7617 §2.1, else Latin-1); nothing when it is not base64."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError):
        return ()
    try:
        pair = decoded.decode()
    except UnicodeDecodeError:
        pair = decoded.decode("latin-1")
    return pair, pair.partition(":")[2]


def redacted(text: str, forwarded: tuple[tuple[bytes, bytes], ...]) -> str:
    """``text`` without the credentials ``forwarded`` to the route, nor the start of one that the
    result limit cut off."""
    for secret, shortest in _secrets(forwarded).items():
        text = text.replace(secret, REDACTED)
        if CUT in text and len(secret) >= 8:  # (a shorter one could be a word: a cookie's "english")
            text = _without_cut_start(text, secret, shortest)
    return text


def _without_cut_start(text: str, secret: str, shortest: int) -> str:
    """``text`` with ``[redacted]`` in place of the longest start of ``secret`` that ends where a
    cut note (``CUT``) begins, at each note, when it has ``shortest`` characters or more.

    One pass over the ``len(secret) - 1`` characters before each note (a stretch shared by two
    notes is read once), following the secret's borders (Knuth-Morris-Pratt): linear in the
    secret and the text. Trying every start, each a scan of the whole text, took 20.8 s for a
    120 KB token."""
    if shortest >= len(secret):
        return text
    border = _borders(secret)
    spans: list[tuple[int, int]] = []
    matched = read = 0  # the longest start of ``secret`` that ends at ``read``
    at = text.find(CUT)
    while at != -1:
        start = at - len(secret) + 1
        if start > read:  # nothing before ``start`` can be part of a start ending at ``at``
            matched, read = 0, start
        for char in text[read:at]:
            if matched == len(secret):  # (the whole secret, made by a replacement before)
                matched = border[-1]
            while matched and secret[matched] != char:
                matched = border[matched - 1]
            matched += secret[matched] == char
        read = at
        size = matched if matched < len(secret) else border[-1]
        if size >= shortest:
            spans.append((at - size, at))
        at = text.find(CUT, at + len(CUT))
    return _replaced(text, spans) if spans else text


def _borders(secret: str) -> list[int]:
    """For each start of ``secret``, the length of its longest proper start that is also its end
    (the Knuth-Morris-Pratt failure function)."""
    border = [0] * len(secret)
    size = 0
    for i in range(1, len(secret)):
        while size and secret[size] != secret[i]:
            size = border[size - 1]
        size += secret[size] == secret[i]
        border[i] = size
    return border


def _replaced(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with ``[redacted]`` in place of each of ``spans`` (ordered by their ends); spans
    that overlap are one (only a secret holding a cut note's own text makes them)."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        while merged and merged[-1][1] > start:
            start = min(start, merged.pop()[0])
        merged.append((start, end))
    pieces: list[str] = []
    kept = 0  # where the text not yet copied begins
    for start, end in merged:
        pieces += (text[kept:start], REDACTED)
        kept = end
    pieces.append(text[kept:])
    return "".join(pieces)
