"""A route's response headers as its own list holds them (names in any case, lower case first: apps
send lower case, Starlette does): the first value of a header, or all of them as one field value,
and where a response's Content-Type, Content-Encoding, Location, Retry-After and Content-Disposition
are in its list, and the headers a tool's result shows (``shown``)
(``_slots``, remembered by its names). Part of :mod:`mcp_middleware._body`, whose ``Body.head``
reads the content type, the content coding, a location, a retry-after, a content disposition and a
refusal's challenge
with them; :mod:`mcp_middleware._tool_run` reads a
streamed body's declared Content-Length with them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

# a header's name (``map``ped over a response's list: the key of its slots, built in C)
_NAME = itemgetter(0)

# where a response's less usual headers are in its list: every Content-Encoding, its Locations, its
# Retry-Afters, its Content-Dispositions and the headers a result shows (``_slots``); a response
# with none of them has ``()`` (``Body.head`` tests that)
Placed = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]
Rest = Placed | tuple[()]

# The headers a tool's result shows after its own blocks (``shown``): what a model needs to go on
# (pagination, the validators a conditional write sends back, when to ask again, a partial
# content's range), and any ``x-*`` an app sends but the ones middleware adds to every response,
# which say nothing of the result (``_NOISE``, ``_NOISE_PREFIXES``). Never a Set-Cookie, nor a
# hop-by-hop or transport header (none is named here). A Location is said by the status line it
# means something for (``results``), never here.
_SHOWN_IN_RESULTS = frozenset({b"etag", b"last-modified", b"link", b"retry-after", b"content-range"})
_NOISE = frozenset(
    {
        # per request: an id, a timing
        *(b"x-request-id", b"x-correlation-id", b"x-trace-id", b"x-amzn-trace-id", b"x-amzn-requestid"),
        *(b"x-process-time", b"x-response-time", b"x-runtime"),
        # the server's, and security headers
        *(b"x-powered-by", b"x-frame-options", b"x-content-type-options", b"x-xss-protection"),
        *(b"x-dns-prefetch-control", b"x-download-options", b"x-permitted-cross-domain-policies"),
        *(b"x-robots-tag", b"x-ua-compatible"),
    }
)
# families of them: rate limits (a 429's Retry-After says when), tracing, proxies (an event
# stream's X-Accel-Buffering: no, which FastAPI's and sse-starlette's send)
_NOISE_PREFIXES = (
    *(b"x-ratelimit-", b"x-rate-limit-", b"x-b3-", b"x-amz-", b"x-envoy-", b"x-forwarded-", b"x-accel-"),
)


# Never shown either, like a Set-Cookie: a header an app issues or echoes a credential in (a
# session token at login, a rotated API key, a CSRF token, an upstream's Authorization), told by a
# part of its name (split at "-", "_" and "."; ``credential``); one of the credential headers the
# app declares (its APIKeyHeader names, its forward_headers) is left out where the result's lines
# are made, by its own server's names (``_body.Hiding``: never another app's in the process).
_CREDENTIAL_PARTS = frozenset(
    {
        *(b"token", b"tokens", b"key", b"keys", b"secret", b"secrets", b"password", b"passwd"),
        *(b"auth", b"authorization", b"session", b"csrf", b"xsrf", b"signature", b"credential"),
        *(b"credentials", b"cookie", b"jwt"),
        # the usual compounds written as one word
        *(b"apikey", b"accesstoken", b"authtoken", b"refreshtoken", b"idtoken", b"sessionid"),
        *(b"sessiontoken", b"csrftoken", b"xsrftoken", b"accesskey", b"secretkey", b"privatekey"),
        *(b"apitoken", b"clientsecret", b"sessionkey"),
    }
)
_PARTS = re.compile(rb"[-_.]")


def credential(name: bytes) -> bool:
    """Whether header ``name`` (lower case) carries a credential: see ``_CREDENTIAL_PARTS``."""
    return not _CREDENTIAL_PARTS.isdisjoint(_PARTS.split(name))


def shown(name: bytes) -> bool:
    """Whether a tool's result shows header ``name`` (lower case): see ``_SHOWN_IN_RESULTS``, never
    a ``credential``."""
    if name in _SHOWN_IN_RESULTS:
        return True
    if not name.startswith(b"x-") or name in _NOISE or name.startswith(_NOISE_PREFIXES):
        return False
    return not credential(name)


# The block of shown headers fits the room left for it (``fitted``): what every tool declares
# beyond ``max_result_chars`` (``_result_shapes.declared_size``) less what the result's other text
# has past the limit (a cut note, a Location, an error's status line), and 800 characters at most
# (a handful of long Link lines would crowd the body out of a model's view); a value past 500
# characters is cut with a marker, after the last whole item of a list that fits (a Link's first
# link, its rel="next" with an opaque cursor, stays one the model can follow), and the lines past
# the room are said to be left out.
LONGEST_BLOCK = 800
LONGEST_VALUE = 500
MORE = "[… more headers left out]"


def fitted(title: str, lines: Sequence[str], room: int, whole: str = "") -> str:
    """``title`` and the ``name: value`` ``lines`` under it, each value cut past ``LONGEST_VALUE``
    characters (never inside ``whole``: ``_cut``), within ``room`` characters: the lines that fit,
    then ``MORE`` when some do not; empty when not even ``title`` and ``MORE`` fit."""
    cut = [title, *(_cut(line, whole=whole) for line in lines)]
    if sum(map(len, cut)) + len(cut) - 1 <= room:  # (the usual block: all of it)
        return "\n".join(cut)
    size = len(title) + 1 + len(MORE)  # with the MORE line
    if size > room:
        return ""
    kept = [title]
    for line in cut[1:]:
        size += 1 + len(line)
        if size > room:
            break
        kept.append(line)
    kept.append(MORE)
    return "\n".join(kept)


def _cut(line: str, *, items: bool = True, whole: str = "") -> str:
    """A ``name: value`` line, its value cut past ``LONGEST_VALUE`` characters, with a marker; with
    ``items``, after the last whole item of a list (``, ``) that fits when there is one. A Location
    (a HEAD's result lists it) is one URI, no list: a ``, `` in it is no place to cut. Never inside
    a ``whole`` (the redaction marker: the cut goes before it, ``cut_before``)."""
    name, colon, value = line.partition(": ")
    if len(value) <= LONGEST_VALUE:
        return line
    end = value.rfind(", ", 0, LONGEST_VALUE) if items and name.lower() != "location" else -1
    kept = value[: cut_before(value, end if end > 0 else LONGEST_VALUE, whole)]
    return f"{name}{colon}{kept}[… {len(value) - len(kept)} more characters]"


def cut_before(text: str, at: int, whole: str) -> int:
    """Where to cut ``text`` at ``at``: there, or, when a ``whole`` (the redaction marker) spans
    it, before that ``whole`` (a cut of a redacted text never leaves half a marker)."""
    if not whole:
        return at
    split = text.find(whole, at - len(whole) + 1, at + len(whole) - 1)
    return at if split == -1 else split


# a response's header names (a tuple) -> where its Content-Type and the rest are in its list
# (``_slots``), remembered: an app sends a handful of distinct lists of names
_SLOTS: dict[tuple[Any, ...], tuple[tuple[int, ...], Rest]] = {}


def _slots(headers: Sequence[Sequence[bytes]]) -> tuple[tuple[int, ...], Rest]:
    """Where a response's Content-Types are in its list (those of a lower-case name first, then
    those of any case: ``Body.head`` takes the first that is not empty), and the rest: every
    Content-Encoding (any case), its Locations, Retry-Afters and Content-Dispositions (lower case
    first: the first is the value, as ``_header`` reads it), and the headers a result shows, in the
    order sent (``shown``), or ``()`` without any of them; remembered in ``_SLOTS``
    (up to 256 lists of names), which ``Body.head`` reads first. Names that are not hashable (a
    ``bytearray``) are not remembered."""
    names = tuple(map(_NAME, headers))
    lower = [key.lower() for key in names]
    kinds = (b"content-type", b"location", b"retry-after", b"content-disposition")
    typed, located, retry, disposed = (_named(names, lower, name) for name in kinds)
    codings = tuple(at for at, key in enumerate(lower) if key == b"content-encoding")
    listed = tuple(at for at, key in enumerate(lower) if shown(bytes(key)))
    rest = codings, located, retry, disposed, listed
    found: tuple[tuple[int, ...], Rest] = typed, rest if any(rest) else ()
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
