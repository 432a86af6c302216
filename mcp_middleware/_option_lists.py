"""The options that take a collection of strings, checked once when the middleware is built: any of
them (:func:`strings`: a single string is refused), header names (``forward_headers``) and HTTP
methods (``include_methods``). Part of :mod:`mcp_middleware.config`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ._http_token import TOKEN_RE
from .config import FORWARDED, HTTP_METHODS

__all__ = ["header_names", "header_refusal", "http_methods", "proxy_set", "request_wins", "strings"]

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

# Headers a proxy sets to describe the connection (who connected, through which proxies, under which
# host and scheme: RFC 7239's Forwarded, the X-Forwarded-* family, which auth proxies such as
# oauth2-proxy extend with the user they authenticated, and the client-IP headers of proxies and
# CDNs): never a model's to give (:func:`proxy_set`).
_PROXY_SET: Final = frozenset({"forwarded", "x-real-ip", "x-client-ip", "true-client-ip", "cf-connecting-ip"})
_PROXY_SET_PREFIX: Final = "x-forwarded-"
# What any HTTP client sets about its own request (an MCP client's describe the MCP request, not
# the route's input): a header argument of these names stays the model's (:func:`request_wins`).
# (``accept-language``: Node's fetch, so the TypeScript SDK and Claude Code, sends ``*`` on every request)
_CLIENTS_OWN: Final = frozenset({"origin", "referer", "user-agent", "accept-encoding", "accept-language"})
_CLIENTS_OWN_PREFIX: Final = "sec-"  # a browser's Sec-Fetch-*, Sec-CH-UA*


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
    case-insensitive); one that :func:`header_refusal` refuses raises a ``ValueError``."""
    names: set[bytes] = set()
    for name in strings(value, option):
        refusal = header_refusal(name)
        if refusal is not None:
            raise ValueError(f"{option} {refusal}")
        names.add(name.lower().encode("ascii"))
    return frozenset(names)


def header_refusal(name: str) -> str | None:
    """Why ``forward_headers`` cannot name ``name`` (the end of a sentence after the option's
    name), else None: the one rule, which the warnings that suggest forwarding a header ask too. A
    name that is no HTTP token would never match a header; a hop-by-hop header or one of MCP's own
    is refused (forwarding it would hand the route the connection's or the transport's header as if
    it were the app's), and so is one always forwarded (``config.FORWARDED``): naming it would make
    it a credential, and trace context, which a traced client changes on every request, would
    change the caller's identity with it (a requestState's retry refused, results private)."""
    if not TOKEN_RE.fullmatch(name):
        return f"takes header names ('X-Token'): {name!r} is not a header name"
    lower = name.lower()
    if lower in _HOP_BY_HOP:
        return f"cannot name {name!r}: a hop-by-hop header belongs to the connection"
    if lower in _MCPS_OWN or lower.startswith("mcp-param-"):
        return f"cannot name {name!r}: one of MCP's own headers (the transport's)"
    if lower.encode("ascii") in FORWARDED:
        return f"cannot name {name!r}: it is always forwarded"
    return None


def proxy_set(name: str) -> bool:
    """Whether a header parameter of this name describes the connection as a proxy sets it
    (``Forwarded``, ``X-Forwarded-*``, ``X-Real-IP``, ...): such a parameter is no tool argument,
    and its route gets the MCP request's own header, or none (a model could forge it otherwise: an
    IP allowlist, an auth proxy's ``X-Forwarded-Email``). Underscores count as hyphens: a
    ``Header(convert_underscores=False)`` reads ``x_forwarded_for`` as such."""
    lower = name.lower().replace("_", "-")
    return lower in _PROXY_SET or lower.startswith(_PROXY_SET_PREFIX)


def request_wins(name: str) -> bool:
    """Whether the MCP request's own header of this name replaces a tool's header argument of that
    name (as the user's cookie wins over a cookie argument): any header but the transport's and the
    connection's (those :func:`header_refusal` refuses: the MCP request's framing, ``Accept``,
    ``Host``, MCP's own, hop-by-hop ones) and those every HTTP client sets about its own request
    (``Origin``, ``Referer``, ``User-Agent``, ``Accept-Encoding``, ``Accept-Language``, ``Sec-*``)."""
    lower = name.lower()
    return header_refusal(name) is None and lower not in _CLIENTS_OWN and not lower.startswith(_CLIENTS_OWN_PREFIX)


def http_methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    """``include_methods``, upper case; a name that is no HTTP method would match nothing."""
    if methods is None:
        return None
    names = frozenset(m.upper() for m in strings(methods, "include_methods"))
    unknown = sorted(names.difference(HTTP_METHODS))
    if unknown:
        raise ValueError(f"include_methods takes HTTP methods ({', '.join(sorted(HTTP_METHODS))}), got {unknown[0]!r}")
    return names
