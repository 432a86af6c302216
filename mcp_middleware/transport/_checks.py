"""The request's headers, and the transport's checks on them (both eras, and the endpoint guard).

Headers stay bytes (:data:`Headers`, one C-level dict of the raw list) and are decoded where
they are read (:func:`text_of`). :func:`check_request` applies Host, Origin and Content-Type in
the order the spec implies, and reads Accept: one that does not admit both JSON and SSE is answered
in a form it admits (:func:`leniency`), not refused (but for one admitting neither, by the endpoint,
once it knows the request is no initialize); :func:`front_verdict` remembers its verdict, with the
revision the version header states, per distinct set of values (of small ones:
``KEPT_HEADER_BYTES``). A refused Host or Origin is logged, a WARNING naming the option that
would let it in, the first time each value is refused (``_TOLD``, bounded: when full it starts
again).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from starlette.types import Scope

from .._host_options import bracketed, host_only, normal_origin
from .._once import SAY, Capped, with_room
from .._printable import printable
from ..config import LOCAL_HOSTS, Settings

__all__ = [
    "FORBIDDEN_HOST",
    "JSON_ONLY",
    "KEPT_HEADER_BYTES",
    "NEITHER",
    "NOT_ACCEPTABLE",
    "SSE_ONLY",
    "Front",
    "HeaderMap",
    "Headers",
    "Lenient",
    "Verdicts",
    "check_caller",
    "check_request",
    "decoded",
    "front_verdict",
    "header_map",
    "host_allowed",
    "leniency",
    "stated_version",
    "text_of",
]

logger = logging.getLogger(__name__)


# Request headers by lower-case name, as bytes; the first of repeated headers wins, as in Starlette,
# except ``accept``, whose lines are joined into one list (RFC 9110 §5.3). Values are decoded only
# where they are read (:func:`text_of`). A plain dict, unless a header was repeated (HeaderMap).
Headers = dict[bytes, bytes]


class HeaderMap(dict[bytes, bytes]):
    """The :data:`Headers` of a request that repeated a header (rare), with ``repeated``: the
    ``mcp-*`` headers that appeared more than once (a mismatch in 2026-07-28: a proxy may have read
    the other copy). Readers ask ``getattr(headers, "repeated", ())``: a plain dict has none."""

    repeated: frozenset[bytes] = frozenset()


def header_map(scope: Scope) -> Headers:
    raw = scope["headers"]
    out = dict(reversed(raw))  # back to front, so the first of a repeated header is kept
    # ASGI servers send lower-case names; one test over all of them finds a server that did not
    if not b"".join(out).islower():
        raw = [(key.lower(), value) for key, value in raw]
        out = dict(reversed(raw))
    if len(out) != len(raw):  # a repeated header
        return _with_repeated(raw)
    return out


def _with_repeated(raw: Sequence[tuple[bytes, bytes]]) -> HeaderMap:
    """The map of headers that repeat one: each name counted once (Counter), linear in the headers."""
    out = HeaderMap(reversed(raw))
    counts = Counter([key for key, _ in raw])
    out.repeated = frozenset(name for name, n in counts.items() if n > 1 and name.startswith(b"mcp-"))
    if counts[b"accept"] > 1:  # RFC 9110 §5.3: a repeated list is one, comma-joined
        out[b"accept"] = b", ".join([value for key, value in raw if key == b"accept"])
    return out


def text_of(headers: Mapping[bytes, bytes], name: bytes) -> str | None:
    """Header ``name``'s value as text (latin-1, as HTTP has it), or None when absent."""
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


def decoded(headers: Mapping[bytes, bytes]) -> dict[str, str]:
    """All headers as text, for code off the hot path."""
    return {key.decode("latin-1"): value.decode("latin-1") for key, value in headers.items()}


def _hosts_for(scope: Scope, settings: Settings) -> frozenset[str] | None:
    if settings.allowed_hosts is not None:
        return None if "*" in settings.allowed_hosts else settings.allowed_hosts
    server = scope.get("server")
    if not server:
        return LOCAL_HOSTS
    name = str(server[0]).lower()
    return LOCAL_HOSTS | {name, bracketed(name)}  # as a Host header names an IPv6 address: in brackets


def _host_ok(headers: Mapping[bytes, bytes], hosts: frozenset[str] | None) -> bool:
    host = text_of(headers, b"host")
    return hosts is None or host is None or host_only(host) in hosts


def host_allowed(scope: Scope, headers: Mapping[bytes, bytes], settings: Settings) -> bool:
    """The endpoint's Host rule alone, for what the middleware serves besides the endpoint (the
    OAuth metadata, which takes GET: the other checks are the endpoint's own)."""
    if _host_ok(headers, _hosts_for(scope, settings)):
        return True
    _tell_refused("Host", headers)
    return False


# The refused (header, value) pairs logged so far: each is logged once, up to _TOLD_MAX of them;
# past them, one new value at most every _TOLD_EVERY seconds (a scanner sending a new Host each
# time neither grows the set nor logs a line per request, nor silences for good the warning about
# a value refused later: the operator's real host name, another app's).
_TOLD_MAX = 64
_TOLD_EVERY = 3600.0
_TOLD = Capped(_TOLD_MAX, _TOLD_EVERY)
LOGGED_CHARS = 200  # of a client's value, in a record (here, and modern's clientInfo name)
_HINTS = {
    "Host": "add its host name to MCPMiddleware's allowed_hosts option (names without a port, or ['*']); by "
    "default only localhost names and the server's own address pass, so set your public or service name "
    "behind a proxy",
    "Origin": "add it to MCPMiddleware's allowed_origins option (full origins, or ['*']; cors_allow_origins "
    "for a browser client); by default only origins whose host passes the Host rule pass",
}


def _tell_refused(header: str, headers: Mapping[bytes, bytes]) -> None:
    """Log the refused value of ``header`` (``Host`` or ``Origin``), the first time it is refused
    (past ``_TOLD_MAX`` values, at most one new value an hour: ``_TOLD``)."""
    value = text_of(headers, header.lower().encode()) or ""
    key = (header, value[:LOGGED_CHARS])
    said = _TOLD.say(key)
    if not said:
        return
    logger.warning(
        "MCP endpoint refused the %s '%s' (403, against DNS rebinding): %s (%s)",
        header,
        printable(key[1]),
        _HINTS[header],
        _ONCE if said == SAY else _PAST,
    )


_ONCE = f"logged once per value, for the first {_TOLD_MAX} values"
_PAST = (
    f"{_TOLD_MAX} refused values were logged already: further new ones are logged at most once an hour, others left out"
)


def _origin_ok(origin: str, hosts: frozenset[str] | None, settings: Settings) -> bool:
    if settings.allowed_origins is not None:
        # the allowlist is lower case (security.effective_allowed_origins); verdicts are remembered
        return "*" in settings.allowed_origins or normal_origin(origin) in settings.allowed_origins
    if hosts is None:
        return True
    _, sep, rest = origin.partition("://")
    return bool(sep) and host_only(rest.split("/", 1)[0]) in hosts


# What the endpoint makes of an Accept that does not admit both application/json and
# text/event-stream (clients.md §2: Claude Code sends application/json alone, claude.ai's proxy
# text/event-stream alone, the Claude Agent SDK no Accept; transports.mdx asks clients to list both
# but asks no server to refuse): the answer takes a form the client accepts (``Lenient``).
# JSON_ONLY: no Accept, or one admitting JSON and not SSE: every answer JSON, nothing streamed.
# SSE_ONLY: one admitting SSE and not JSON: every 200 answer an SSE stream (a JSON reply, one event).
# NEITHER: one admitting neither: initialize is answered (as JSON: RFC 9110 §12.5.1 lets a server
# disregard Accept), anything else gets 406.
Lenient = Literal["json", "sse", "neither"]
JSON_ONLY: Final = "json"
SSE_ONLY: Final = "sse"
NEITHER: Final = "neither"
NOT_ACCEPTABLE = "Not Acceptable: the client must accept application/json or text/event-stream"
# a q parameter of zero (RFC 9110 §12.4.2: "0" and up to three decimal zeros): not acceptable
_ZERO_Q = re.compile(r"\s*q\s*=\s*0(?:\.0{0,3})?\s*", re.IGNORECASE)


def _ranges(accept: str) -> list[tuple[str, bool]]:
    """The media ranges of an Accept value, each with whether it is acceptable (not ``q=0``); a
    range without parameters is not looked into further."""
    out = []
    for part in accept.split(","):
        media, sep, params = part.partition(";")
        acceptable = not sep or not any(_ZERO_Q.fullmatch(param) for param in params.split(";"))
        out.append((media.strip().lower(), acceptable))
    return out


def _admits(ranges: list[tuple[str, bool]], wanted: str) -> bool:
    """Whether ``wanted`` is acceptable: the most specific ranges that match it decide (RFC 9110
    §12.5.1: ``type/subtype``, then ``type/*``, then ``*/*``), as ``q=0`` or not."""
    for media in (wanted, wanted.split("/", 1)[0] + "/*", "*/*"):
        verdicts = [acceptable for name, acceptable in ranges if name == media]
        if verdicts:
            return any(verdicts)
    return False


def leniency(accept: str | None) -> Lenient | None:
    """What an Accept value asks of the answer: None when it admits both types (the usual case)."""
    if accept is None or not accept.strip():
        return JSON_ONLY
    ranges = _ranges(accept)
    json, sse = _admits(ranges, "application/json"), _admits(ranges, "text/event-stream")
    if json:
        return None if sse else JSON_ONLY
    return SSE_ONLY if sse else NEITHER


# What the front decides from the headers a client repeats: the transport checks' refusal (or
# None), and the revision the request's MCP-Protocol-Version header states (:func:`stated_version`).
# The first item: a refusal (status, message), or how a request to serve is answered (Lenient)
Front = tuple[tuple[int, str] | Lenient | None, str | None]
Verdicts = dict[tuple[Any, ...], Front]
# The longest header values (together) whose verdict is kept: a client's are ~110 bytes (Host,
# Origin, Accept, Content-Type, MCP-Protocol-Version), and a long host name and origin still fit;
# so the table holds at most ~1 MiB. Longer ones are checked every time.
KEPT_HEADER_BYTES = 1024
_VERDICTS = 1024  # verdicts kept (a client repeats one set of values; a bound on the odd ones)
# what a verdict depends on, with the server's address: the values of Host, Origin, Accept,
# Content-Type and MCP-Protocol-Version, read one by one in front_verdict (a map of ``dict.get``
# over the names went through the generic call path: ~1,400 machine instructions more on CPython
# 3.11); the first _KEYED items of its key
_KEYED = 5
FORBIDDEN_HOST = "Forbidden: Host not allowed (see the server's allowed_hosts option)"
FORBIDDEN_ORIGIN = "Forbidden: Origin not allowed (see the server's allowed_origins option)"


def stated_version(headers: Mapping[bytes, bytes]) -> str | None:
    """The revision the request's MCP-Protocol-Version header states, read leniently (without
    surrounding whitespace: clients.md §3), or None (absent, or empty: it states nothing)."""
    value = text_of(headers, b"mcp-protocol-version")
    return None if value is None else value.strip() or None


def front_verdict(scope: Scope, headers: Mapping[bytes, bytes], settings: Settings, verdicts: Verdicts) -> Front:
    """The transport checks' refusal (:func:`check_request`) and the stated revision, together.

    Both depend only on a handful of header values (and the settings), and clients repeat the same
    ones on every request: ``verdicts`` (one bounded table per middleware) remembers them, when
    they are no longer than ``KEPT_HEADER_BYTES`` together (the values are its key, and a refused
    request's are kept too).
    """
    # the values, then the server's address (Daphne gives [host, port]: its items, not the list)
    key = (
        headers.get(b"host"),
        headers.get(b"origin"),
        headers.get(b"accept"),
        headers.get(b"content-type"),
        headers.get(b"mcp-protocol-version"),
        *(scope.get("server") or ()),
    )
    try:
        return verdicts[key]
    except KeyError:
        pass
    except TypeError:  # a value that is no key (a bytearray: ASGI says bytes): checked, not remembered
        return _check_request(scope, headers, settings), stated_version(headers)
    verdict = _check_request(scope, headers, settings), stated_version(headers)
    if sum(len(value) for value in key[:_KEYED] if value is not None) <= KEPT_HEADER_BYTES:
        with_room(verdicts, _VERDICTS)[key] = verdict
    return verdict


def check_request(
    scope: Scope, headers: Mapping[bytes, bytes], settings: Settings, verdicts: Verdicts
) -> tuple[int, str] | None:
    """Transport-level checks in the order the spec implies; returns (status, message) to refuse
    (remembered in ``verdicts``, :func:`front_verdict`). An Accept that asks for one type only
    refuses nothing here (the endpoint answers in that type; one that admits neither is refused
    by it, but for initialize, once the body is read)."""
    refused = front_verdict(scope, headers, settings, verdicts)[0]
    return refused if isinstance(refused, tuple) else None


def check_caller(scope: Scope, headers: Mapping[bytes, bytes], settings: Settings) -> tuple[int, str] | None:
    """The guard against DNS rebinding, the first of the checks (Host, then Origin): the endpoint
    applies it before its method check, so a refused Host or Origin is 403 whatever the method."""
    hosts = _hosts_for(scope, settings)
    if not _host_ok(headers, hosts):
        _tell_refused("Host", headers)
        return 403, FORBIDDEN_HOST
    origin = text_of(headers, b"origin")
    if origin is not None and not _origin_ok(origin, hosts, settings):
        _tell_refused("Origin", headers)
        return 403, FORBIDDEN_ORIGIN
    return None


def _check_request(
    scope: Scope, headers: Mapping[bytes, bytes], settings: Settings
) -> tuple[int, str] | Lenient | None:
    refused = check_caller(scope, headers, settings)
    if refused is not None:
        return refused
    ctype = (text_of(headers, b"content-type") or "").split(";", 1)[0].strip().lower()
    if ctype != "application/json":
        return 415, "Unsupported Media Type: the body must be application/json"
    return leniency(text_of(headers, b"accept"))
