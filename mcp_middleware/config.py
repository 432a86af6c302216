"""Middleware options, validated and precomputed once (never per request)."""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, SupportsIndex

__all__ = [
    "CREDENTIALS",
    "ENV_SECRET",
    "FORWARDED",
    "HTTP_METHODS",
    "LOCAL_HOSTS",
    "TRACE_CONTEXT",
    "Secret",
    "Settings",
    "ascii_host",
    "bracketed",
    "header_names",
    "http_methods",
    "normal_origin",
    "normalise_hosts",
    "strings",
]

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

# What the routes get of the MCP request's headers always: credentials, which tell callers apart
# and bind a requestState (handlers.Server adds the app's API-key headers and URL keys to them, and
# the ``forward_headers`` option's names, which are credentials too: _identity), and trace context;
# results redact every forwarded value but trace context (_redaction.credential_values).
CREDENTIALS: Final = frozenset({b"authorization", b"cookie"})
TRACE_CONTEXT: Final = frozenset({b"traceparent", b"tracestate"})
FORWARDED: Final = CREDENTIALS | TRACE_CONTEXT
# What ``forward_headers`` may not name: hop-by-hop headers (RFC 9110 §7.6.1; they describe one
# connection, not the request) and the headers MCP's transport reads or the middleware writes to
# the route's request itself (framing, Host, and any ``Mcp-Param-*``).
_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization"}
    | {"te", "trailer", "transfer-encoding", "upgrade"}
)
_MCPS_OWN: Final = frozenset(
    {"mcp-session-id", "mcp-protocol-version", "mcp-method", "mcp-name", "last-event-id"}
    | {"accept", "content-type", "content-length", "host"}
)
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
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
    # Hostnames (no port; IPv6 addresses in brackets) the Host header may name; None = localhost
    # names and the server's own address.
    allowed_hosts: frozenset[str] | None = None
    # Full origins ("https://app.example.com"); None = origins whose host passes the Host rule.
    allowed_origins: frozenset[str] | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_result_chars: int = 200_000
    max_binary_bytes: int = 16 * 1024 * 1024
    keepalive_interval: float = 15.0
    call_timeout: float | None = None
    # Route runs (tool calls, resource reads, prompt gets) in flight per process; excess is refused.
    max_concurrent_calls: int | None = 256
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
        keep the others as checked (sizes as ints, the secret as bytes)."""
        _check_path(self.path)
        _check_limits(self)
        for option in ("name", "version", "instructions"):  # a list of instructions broke every initialize
            value = getattr(self, option)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{option} must be a string, got {value!r}")
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
        base = self.base_path
        return frozenset({base, base + "/"}) if base != "/" else frozenset({"/"})


def strings(value: Iterable[str], option: str) -> tuple[str, ...]:
    """The strings of an option that takes a collection of them (a list, tuple or set). A single
    string is refused, since it would be read as the collection of its characters (an exclude
    filter that excludes nothing); so is anything that is not a collection of strings."""
    if isinstance(value, str | bytes):
        raise TypeError(
            f"{option} must be a collection of strings (a list, tuple or set), not a single string: {value!r}"
        )
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{option} must be a collection of strings, got {value!r}") from None
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{option} must contain strings only, got {item!r}")
    return items


def header_names(value: Iterable[str], option: str) -> frozenset[bytes]:
    """The header names of an option (``forward_headers``), lower case (names are
    case-insensitive). A name that is no HTTP token would never match a header; a hop-by-hop
    header or one of MCP's own is refused (forwarding it would hand the route the connection's or
    the transport's header as if it were the app's)."""
    names: set[bytes] = set()
    for name in strings(value, option):
        if not (name.isascii() and _TOKEN.fullmatch(name)):
            raise ValueError(f"{option} takes header names ('X-Token'): {name!r} is not a header name")
        lower = name.lower()
        if lower in _HOP_BY_HOP:
            raise ValueError(f"{option} cannot name {name!r}: a hop-by-hop header belongs to the connection")
        if lower in _MCPS_OWN or lower.startswith("mcp-param-"):
            raise ValueError(f"{option} cannot name {name!r}: one of MCP's own headers (the transport's)")
        names.add(lower.encode("ascii"))
    return frozenset(names)


def _check_path(path: object) -> None:
    if not isinstance(path, str):
        raise TypeError(f"path must be a string, got {path!r}")
    if not path.startswith("/") or "?" in path or "#" in path:
        raise ValueError(f"path must start with '/' and have no query or fragment ('?', '#'), got {path!r}")


# The sizes, with their least value; then the time limits. An option in _UNSET may be None.
_SIZES: Final = {
    "max_tool_name_length": 8,
    "max_body_bytes": 1,
    "max_result_chars": 1,
    "max_binary_bytes": 0,
    "max_concurrent_calls": 1,
}
_TIMES: Final = ("keepalive_interval", "call_timeout", "ask_timeout")
_UNSET: Final = {"max_concurrent_calls": " (or None for no limit)", "call_timeout": " (or None for no time limit)"}


def _check_limits(settings: Settings) -> None:
    """Sizes are integers from their least value up, time limits positive numbers of seconds; each
    is kept as checked (``1e6`` as ``1000000``)."""
    for option in (*_SIZES, *_TIMES):
        value = getattr(settings, option)
        if value is None and option in _UNSET:
            continue
        unset = _UNSET.get(option, "")
        checked = _count(option, value, _SIZES[option], unset) if option in _SIZES else _seconds(option, value, unset)
        object.__setattr__(settings, option, checked)


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


def bracketed(host: str) -> str:
    """An IPv6 address as a Host header names it, in brackets (``2001:db8::1`` ─▶ ``[2001:db8::1]``)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def normalise_hosts(hosts: Sequence[str] | None) -> frozenset[str] | None:
    """``allowed_hosts``: lower case, IPv6 addresses bracketed, ASCII names only (an
    internationalised one is refused, asking for its IDNA form: :func:`ascii_host`). A port, a URL,
    a path, a partial wildcard or an empty list would never match a Host (the check compares names
    only), so each is refused."""
    if hosts is None:
        return None
    names = frozenset(_host_name(host) for host in strings(hosts, "allowed_hosts"))
    if not names:
        raise ValueError("allowed_hosts must name at least one host (or ['*'] for any), got []")
    return names


def _host_name(entry: str) -> str:
    host = entry.strip().lower()
    if host == "*":
        return host
    if not host or any(c in host for c in "/?#@ ") or "*" in host:
        raise ValueError(f"allowed_hosts takes host names ('api.example.com') or '*', got {entry!r}")
    if (host.startswith("[") and not host.endswith("]")) or host.count(":") == 1:
        raise ValueError(
            f"allowed_hosts takes host names without a port (the Host check compares names only), got {entry!r}"
        )
    return bracketed(ascii_host(host, "allowed_hosts", entry))


def ascii_host(host: str, option: str, entry: str) -> str:
    """A lower-case host name as clients send it in ``Host`` and browsers in ``Origin``: ASCII.
    An internationalised name (``bücher.example``) is refused, asking for its IDNA form
    (``xn--bcher-kva.example``): clients send that form, and the only encoder at hand, Python's
    IDNA 2003 codec, disagrees with browsers' UTS #46 on more than a few names (``ß``, ``ς``, the
    joiners, Cherokee, right-to-left labels with digits), which would leave an entry that never
    matches or refuse a valid one."""
    if host.isascii():
        return host
    raise ValueError(
        f"{option} takes host names in the ASCII form clients send: give the IDNA ('xn--') form of "
        f"{entry!r}, as a browser's address bar or the idna package shows it "
        "(e.g. 'bücher.example' is 'xn--bcher-kva.example')"
    )


def http_methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    """``include_methods``, upper case; a name that is no HTTP method would match nothing."""
    if methods is None:
        return None
    names = frozenset(m.upper() for m in strings(methods, "include_methods"))
    unknown = sorted(names.difference(HTTP_METHODS))
    if unknown:
        raise ValueError(f"include_methods takes HTTP methods ({', '.join(sorted(HTTP_METHODS))}), got {unknown[0]!r}")
    return names


def normal_origin(origin: str) -> str:
    """An origin as every check compares it: scheme and host are case-insensitive, and a trailing
    slash (or space) is no part of it. The allowlists are kept in this form, and a request's
    ``Origin`` is put in it before it is looked up. A scheme's default port is no part of it either
    (RFC 6454 §4: ``https://x:443`` is the origin ``https://x``, which is how browsers send it)."""
    origin = origin.strip().lower().rstrip("/")
    if origin.endswith(":443") and origin.startswith("https://"):
        return origin[:-4]
    if origin.endswith(":80") and origin.startswith("http://"):
        return origin[:-3]
    return origin
