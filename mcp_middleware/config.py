"""Middleware options, validated and precomputed once (never per request).

``Settings``, the constants, and the checks of single values (path, sizes, time limits, secret);
the checks of the options that take collections are in :mod:`mcp_middleware._option_lists` (strings,
header names, HTTP methods) and :mod:`mcp_middleware._host_options` (host names and origins).
"""

from __future__ import annotations

import operator
import os
from dataclasses import dataclass, field
from typing import Final, SupportsIndex, TypedDict, Unpack

__all__ = [
    "CREDENTIALS",
    "ENV_SECRET",
    "FORWARDED",
    "HTTP_METHODS",
    "LOCAL_HOSTS",
    "TRACE_CONTEXT",
    "CheckedLimits",
    "Limits",
    "Secret",
    "Settings",
    "checked_limits",
]

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

# What the routes get of the MCP request's headers always: credentials, which tell callers apart
# and bind a requestState (handlers.Server adds the app's API-key headers and URL keys to them, and
# the ``forward_headers`` option's names, which are credentials too: _identity), and trace context;
# results redact every forwarded value but trace context (_redaction.credential_values).
CREDENTIALS: Final = frozenset({b"authorization", b"cookie"})
TRACE_CONTEXT: Final = frozenset({b"traceparent", b"tracestate"})
FORWARDED: Final = CREDENTIALS | TRACE_CONTEXT
# The methods of an OpenAPI path item, in the order the catalog reads them (_naming): what
# include_methods may name.
HTTP_METHODS: Final = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")

# What state_secret may be: a string (its UTF-8 bytes) or bytes-like; read from ENV_SECRET when
# not given (an empty variable counts as unset). Shorter than MIN_SECRET_BYTES, a key can be found
# offline from one requestState or session id (each carries its HMAC), and then forged.
Secret = bytes | bytearray | memoryview | str
ENV_SECRET: Final = "MCP_MIDDLEWARE_STATE_SECRET"
MIN_SECRET_BYTES: Final = 16


@dataclass(frozen=True, slots=True)
class Settings:
    path: str = "/mcp"
    name: str | None = None
    version: str | None = None
    instructions: str | None = None
    # Tool names longer than this are cut (at least 8; names stay unique: "_2", "_3", ...).
    max_tool_name_length: int = 40
    # Tool names given by operation id or default tool name (``tool_names``, checked), as pairs.
    tool_names: tuple[tuple[str, str], ...] = ()
    # Hostnames (no port; IPv6 addresses in brackets) the Host header may name; None = localhost
    # names and the server's own address.
    allowed_hosts: frozenset[str] | None = None
    # Full origins ("https://app.example.com"); None = origins whose host passes the Host rule.
    allowed_origins: frozenset[str] | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_result_chars: int = 100_000
    max_binary_bytes: int = 16 * 1024 * 1024
    # Messages in one JSON-RPC batch (2024-11-05, 2025-03-26); a longer batch is refused whole.
    max_batch_messages: int = 100
    keepalive_interval: float = 15.0
    call_timeout: float | None = None
    # Route runs (tool calls, resource reads, prompt gets) in flight per process; excess is refused.
    max_concurrent_calls: int | None = 256
    # 2026-07-28 subscriptions/listen streams open per middleware instance; one more is refused.
    max_listen_streams: int | None = 1000
    # Seconds a route waits for the client's answer to elicitation/sampling/roots (handshake era).
    ask_timeout: float = 600.0
    # HMAC key for 2026-07-28 requestState; None = $MCP_MIDDLEWARE_STATE_SECRET, else a random key.
    state_secret: Secret | None = field(default=None, repr=False)
    # Handshake era: hand out (signed, never required, never stored) Mcp-Session-Id values.
    session_ids: bool = False
    # Handshake era: "auto" answers JSON unless something streams; "sse" always opens a stream,
    # as the official SDK server does.
    response_mode: str = "auto"
    # Request headers forwarded to every route besides FORWARDED, lower case (``header_names``):
    # credentials, taken out of the tools' input schemas.
    forward_headers: frozenset[bytes] = frozenset()
    # state_secret (or the variable) as checked, in bytes; None: neither, each sealer makes a random key
    secret_key: bytes | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        """Refuse, when the middleware is built, a value that would fail per request or silently;
        keep the others as checked (the secret as bytes). The sizes and time limits come checked
        (:func:`checked_limits`), in the types of their fields."""
        _check_path(self.path)
        _check_identity(self)
        object.__setattr__(self, "secret_key", _secret_key(self.state_secret))
        if not isinstance(self.session_ids, bool):
            raise TypeError(f"session_ids must be True or False, got {self.session_ids!r}")
        if self.response_mode not in ("auto", "sse"):
            raise ValueError(f'response_mode must be "auto" or "sse", got {self.response_mode!r}')

    @property
    def base_path(self) -> str:
        """``path`` without its trailing slash (``/`` stays ``/``)."""
        return self.path.rstrip("/") or "/"

    @property
    def paths(self) -> frozenset[str]:
        return endpoint_paths(self.path)


def endpoint_paths(path: str) -> frozenset[str]:
    """The paths an endpoint at ``path`` answers: with and without its trailing slash (``/`` alone)."""
    base = path.rstrip("/") or "/"
    return frozenset({base, base + "/"}) if base != "/" else frozenset({"/"})


def _check_path(path: object) -> None:
    """A path a request can reach: ASGI servers pass the request's path decoded (``/mcp%20x``
    arrives as ``/mcp x``), and clients resolve dot segments before they send it; control
    characters are in no URL a client is given (a line feed read along with the value, more
    likely)."""
    if not isinstance(path, str):
        raise TypeError(f"path must be a string, got {path!r}")
    if not path.startswith("/") or "?" in path or "#" in path:
        raise ValueError(f"path must start with '/' and have no query or fragment ('?', '#'), got {path!r}")
    if "%" in path:
        reason = "percent-escapes (ASGI servers pass the path decoded: write '/mcp x', not '/mcp%20x')"
    elif any(ord(c) < 0x20 or c == "\x7f" for c in path):
        reason = "control characters"
    elif not _DOT_SEGMENTS.isdisjoint(path.split("/")):
        reason = "'.' or '..' segments (clients resolve them before sending the request)"
    else:
        return
    raise ValueError(f"path must have no {reason}, got {path!r}")


_DOT_SEGMENTS: Final = frozenset({".", ".."})


def _check_identity(settings: Settings) -> None:
    """``name`` and ``version`` are the server's ``serverInfo``: None takes the app's, an empty or
    blank one (which named nothing, and was replaced by the app's without a word) is refused.
    ``instructions`` may be empty: no instructions, where the app has a description."""
    for option, default in (("name", "title"), ("version", "version"), ("instructions", "")):
        value = getattr(settings, option)
        if value is None:
            continue
        if not isinstance(value, str):  # a list of instructions broke every initialize
            raise TypeError(f"{option} must be a string, got {value!r}")
        if default and not value.strip():
            raise ValueError(f"{option} must be a non-empty string (or None for the app's {default}), got {value!r}")


class Limits(TypedDict):
    """The sizes and time limits as ``MCPMiddleware`` takes them (its type hints): a size an int, an
    int-like (``numpy.int64``) or a float with an integral value (``1e6``), a time limit a number
    of seconds; None where the option allows it."""

    max_tool_name_length: float | SupportsIndex
    max_body_bytes: float | SupportsIndex
    max_result_chars: float | SupportsIndex
    max_binary_bytes: float | SupportsIndex
    max_batch_messages: float | SupportsIndex
    max_concurrent_calls: float | SupportsIndex | None
    max_listen_streams: float | SupportsIndex | None
    keepalive_interval: float | SupportsIndex
    call_timeout: float | SupportsIndex | None
    ask_timeout: float | SupportsIndex


class CheckedLimits(TypedDict):
    """:class:`Limits` as :class:`Settings` keeps them, in its fields' types: sizes as ints, time
    limits as numbers of seconds."""

    max_tool_name_length: int
    max_body_bytes: int
    max_result_chars: int
    max_binary_bytes: int
    max_batch_messages: int
    max_concurrent_calls: int | None
    max_listen_streams: int | None
    keepalive_interval: float
    call_timeout: float | None
    ask_timeout: float


def checked_limits(**limits: Unpack[Limits]) -> CheckedLimits:
    """``limits`` checked, in this order, and kept as checked: sizes are integers from their least
    value up, time limits positive numbers of seconds (``1e6`` kept as ``1000000``).
    ``Settings(**checked_limits(...))``: the type checker follows each option to its field."""
    return {
        "max_tool_name_length": _name_length(limits["max_tool_name_length"]),
        "max_body_bytes": _count("max_body_bytes", limits["max_body_bytes"], 1),
        "max_result_chars": _count("max_result_chars", limits["max_result_chars"], 1),
        "max_binary_bytes": _count("max_binary_bytes", limits["max_binary_bytes"], 0),
        "max_batch_messages": _count("max_batch_messages", limits["max_batch_messages"], 1),
        "max_concurrent_calls": _count_or_none("max_concurrent_calls", limits["max_concurrent_calls"]),
        "max_listen_streams": _count_or_none("max_listen_streams", limits["max_listen_streams"]),
        "keepalive_interval": _keepalive(limits["keepalive_interval"]),
        "call_timeout": _seconds_or_none("call_timeout", limits["call_timeout"]),
        "ask_timeout": _seconds("ask_timeout", limits["ask_timeout"]),
    }


# the spec's longest tool name (2025-11-25: "between 1 and 128 characters"), as
# _name_rules.LONGEST_NAME (a test holds them equal: this module is a leaf)
LONGEST_TOOL_NAME: Final = 128


def _name_length(value: object) -> int:
    """``max_tool_name_length``: from 8 up to the spec's longest tool name (SHOULD be 1-128)."""
    length = _count("max_tool_name_length", value, 8)
    if length > LONGEST_TOOL_NAME:
        raise ValueError(
            f"max_tool_name_length must be at most {LONGEST_TOOL_NAME} (the spec's longest tool name), got {value!r}"
        )
    return length


def _count_or_none(option: str, value: object) -> int | None:
    """A count from 1 up, or None for no limit."""
    return None if value is None else _count(option, value, 1, " (or None for no limit)")


def _seconds_or_none(option: str, value: object) -> float | None:
    """A positive number of seconds, or None for no time limit."""
    return None if value is None else _seconds(option, value, " (or None for no time limit)")


# Keep-alives outlast the idle timeouts of proxies, which are seconds long (nginx 60 s, load balancers
# 30-60 s, the shortest a few seconds); the call watcher's ticker runs every half interval (at most
# WATCH_AFTER, _ticker._period), so an interval of microseconds made it a busy loop. From this one,
# it ticks at most 20 times a second.
MIN_KEEPALIVE: Final = 0.1


def _keepalive(value: object) -> float:
    """``keepalive_interval``: a number of seconds from :data:`MIN_KEEPALIVE` up."""
    seconds = _seconds("keepalive_interval", value)
    if seconds < MIN_KEEPALIVE:
        raise ValueError(
            f"keepalive_interval must be at least {MIN_KEEPALIVE} seconds (keep-alives outlast proxies' idle "
            f"timeouts, which are seconds long; a shorter interval only keeps the call watcher busy), got {value!r}"
        )
    return seconds


def _integer(value: object) -> int | None:
    """``value`` as an int, when it is an integer: an int or an int-like (``operator.index``, as
    numpy.int64), or a float with an integral value (``1e6``); None for anything else, bool too."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return int(value) if value.is_integer() else None  # NaN and infinities are not
    return operator.index(value) if isinstance(value, SupportsIndex) else None


def _count(option: str, value: object, minimum: int, unset: str = "") -> int:
    number = _integer(value)
    if number is None:
        raise TypeError(f"{option} must be an integer{unset}, got {value!r}")
    if number < minimum:
        raise ValueError(f"{option} must be at least {minimum}{unset}, got {value!r}")
    return number


def _seconds(option: str, value: object, unset: str = "") -> float:
    number = value if isinstance(value, float) else _integer(value)
    if number is None:
        raise TypeError(f"{option} must be a number of seconds{unset}, got {value!r}")
    if not number > 0:  # NaN too
        raise ValueError(f"{option} must be a positive number of seconds{unset}, got {value!r}")
    return number


def _secret_key(secret: object) -> bytes | None:
    """``state_secret``, else the variable, as bytes; None when neither is set. The value is a
    secret: the messages name its type or length only."""
    source = "state_secret"
    if secret is None:
        secret, source = os.environ.get(ENV_SECRET) or None, ENV_SECRET
        if secret is None:
            return None
    if isinstance(secret, str):
        key = secret.encode()
    elif isinstance(secret, bytes | bytearray | memoryview):
        key = bytes(secret)
    else:
        raise TypeError(f"state_secret must be bytes or a string, got {type(secret).__name__}")
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"{source} must be at least {MIN_SECRET_BYTES} bytes, got {len(key)} (a short key can be found from one "
            "requestState or session id); make one with "
            'python -c "import secrets; print(secrets.token_urlsafe(32))"'
        )
    return key
