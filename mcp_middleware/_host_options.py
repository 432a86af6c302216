"""Host names and origins as the options give them (``allowed_hosts``, ``allowed_origins``, the
OAuth resource's host) and as every check compares them: lower case, IPv6 addresses in brackets,
ASCII only, a name without the root's trailing dot (``api.example.com.`` is ``api.example.com``),
an origin without its trailing slash or its scheme's default port. Part of
:mod:`mcp_middleware.config`."""

from __future__ import annotations

from collections.abc import Collection

from ._option_lists import strings

__all__ = [
    "DEFAULT_PORTS",
    "ascii_host",
    "bare_host",
    "bracketed",
    "empty_label",
    "host_only",
    "normal_origin",
    "normalise_hosts",
    "without_default_port",
]

# each scheme's default port, which an origin or a URL leaves out (RFC 6454 §4, RFC 9110 §4.2)
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def bracketed(host: str) -> str:
    """An IPv6 address as a Host header names it, in brackets (``2001:db8::1`` ─▶ ``[2001:db8::1]``)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def bare_host(host: str) -> str:
    """A lower-case host name without the root's trailing dot: a fully-qualified name
    (``api.example.com.``) is the same host as without it (RFC 1034 §3.1), and a client may send
    either in ``Host`` or ``Origin``. One dot only: ``a.com..`` has an empty label (:func:`empty_label`)."""
    return host[:-1] if host.endswith(".") and not host.startswith("[") else host


def host_only(value: str) -> str:
    """A Host header's (or an origin's authority's) host name as the allowlists hold it: no port,
    lower case, no trailing dot (:func:`bare_host`); an IPv6 address keeps its brackets."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return bare_host(value.rsplit(":", 1)[0] if value.count(":") == 1 else value)


def without_default_port(scheme: str, authority: str) -> str:
    """``authority`` (a lower-case host and port, as written) without the port when it is
    ``scheme``'s default (``DEFAULT_PORTS``): ``a.example:443`` for https is ``a.example``, as a
    client writes the URL and a browser the origin."""
    port = DEFAULT_PORTS.get(scheme)
    suffix = f":{port}"
    return authority[: -len(suffix)] if port is not None and authority.endswith(suffix) else authority


def empty_label(host: str) -> bool:
    """Whether a host name (no port; after :func:`bare_host`) has an empty label (``a..com``,
    ``.a.com``, ``a.com..``): no client sends one."""
    return not host.startswith("[") and "" in host.split(".")


def normalise_hosts(hosts: Collection[str] | None) -> frozenset[str] | None:
    """``allowed_hosts``: lower case, IPv6 addresses bracketed, ASCII names only (an
    internationalised one is refused, asking for its IDNA form: :func:`ascii_host`). A port, a URL,
    a path, a partial wildcard or an empty list would never match a Host (the check compares names
    only), so each is refused; so is a name with an empty label. A trailing dot is dropped
    (:func:`bare_host`), as from the request's Host."""
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
    host = bare_host(host)
    if empty_label(host):
        raise ValueError(f"allowed_hosts takes host names ('api.example.com') or '*', got {entry!r}")
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


def normal_origin(origin: str) -> str:
    """An origin as every check compares it: scheme and host are case-insensitive, and a trailing
    slash (or space) is no part of it. The allowlists are kept in this form, and a request's
    ``Origin`` is put in it before it is looked up. A scheme's default port is no part of it either
    (RFC 6454 §4: ``https://x:443`` is the origin ``https://x``, which is how browsers send it), nor
    the root's trailing dot of its host (:func:`bare_host`: ``https://a.com.`` is ``https://a.com``
    here, for the allowlists; a CORS answer still names the request's ``Origin`` as sent)."""
    origin = origin.strip().lower().rstrip("/")
    scheme, sep, authority = origin.partition("://")
    if not sep:
        return origin
    authority = without_default_port(scheme, authority)
    host, colon, port = authority.partition(":")
    if not host.endswith(".") or authority.startswith("["):
        return f"{scheme}://{authority}"
    return f"{scheme}://{bare_host(host)}{colon}{port}"
