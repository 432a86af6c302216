"""The options that take a collection of strings, checked once when the middleware is built: any of
them (:func:`strings`: a single string is refused), header names (``forward_headers``) and HTTP
methods (``include_methods``). Part of :mod:`mcp_middleware.config`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ._http_token import TOKEN_RE
from .config import FORWARDED, HTTP_METHODS

__all__ = ["header_names", "header_refusal", "http_methods", "strings"]

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


def http_methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    """``include_methods``, upper case; a name that is no HTTP method would match nothing."""
    if methods is None:
        return None
    names = frozenset(m.upper() for m in strings(methods, "include_methods"))
    unknown = sorted(names.difference(HTTP_METHODS))
    if unknown:
        raise ValueError(f"include_methods takes HTTP methods ({', '.join(sorted(HTTP_METHODS))}), got {unknown[0]!r}")
    return names
