"""The security options as given to ``MCPMiddleware``, checked when it is built.

Part of :mod:`mcp_middleware.security`, which re-exports the public names: ``OAuthResource`` (the
RFC 9728 protected-resource metadata, validated), ``cors_origins`` (``cors_allow_origins``,
normalised) and ``effective_allowed_origins`` (the Origin allowlist the CORS origins imply). Nothing
here runs per request. It imports only config's parts: :mod:`mcp_middleware._option_lists`
(``strings``, the check of an option that takes a collection of strings) and
:mod:`mcp_middleware._host_options` (``normal_origin``, the form origins are compared in, and
``ascii_host``, which refuses an internationalised host name, asking for its IDNA form).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ._host_options import DEFAULT_PORTS, ascii_host, empty_label, normal_origin
from ._option_lists import strings

__all__ = ["_SCOPE_TOKEN", "Guard", "OAuthResource", "check_guard", "cors_origins", "effective_allowed_origins"]

# RFC 6750 §3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), i.e. printable ASCII except " and \.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_BEARER_METHODS = frozenset({"header", "body", "query"})

Guard = Callable[[Request], bool | Awaitable[bool]]
"""The ``auth`` option: a predicate over the MCP request (here, not in :mod:`mcp_middleware.security`,
so that the public constructor's annotations resolve without loading the security layer)."""


def _absolute_url(value: str, option: str, *, listed: bool = False) -> str:
    """``value``, an absolute http(s) URL without a fragment, spaces, quotes or backslashes (it is
    written into JSON and a ``WWW-Authenticate`` header); errors name ``option``, of whose entries
    it is one when ``listed``."""
    must, url = (f"{option} must hold", "URLs") if listed else (f"{option} must be", "a URL")
    scheme, sep, rest = value.partition("://")
    if scheme.lower() not in ("http", "https") or not sep or not rest or rest.startswith("/"):
        absolute = "absolute http(s) URLs" if listed else "an absolute http(s) URL"
        raise ValueError(f"{must} {absolute}, got {value!r}")
    if "#" in value:
        raise ValueError(f"{must} {url} without a fragment, got {value!r}")
    if any(c in value for c in '"\\ \r\n'):
        raise ValueError(f"{must} {url} without spaces, quotes or backslashes, got {value!r}")
    return value


def check_guard(auth: object) -> None:
    """``auth``: a callable that takes the request, one positional argument, when its signature can
    be read (``lambda: True`` was accepted, then every request got 401 as the call raised); one
    whose signature cannot be read (some builtins, C-level wrappers such as ``lru_cache``'s) is
    taken as it is. The signature is the callable's own, not the one ``functools.wraps`` points to
    (``__wrapped__``): a decorator's wrapper may supply arguments itself (``guard(request)``
    calling ``auth(request, keys)``), and the wrapper is what is called."""
    if auth is None:
        return
    if not callable(auth):
        raise TypeError("auth must be a callable taking a starlette Request")
    try:
        signature = inspect.signature(auth, follow_wrapped=False)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(None)
    except TypeError:
        raise TypeError(
            "auth must take one positional argument, the request (auth(request) -> bool, sync or async), "
            f"got {auth!r} with the signature {signature}"
        ) from None


@dataclass(frozen=True, slots=True)
class OAuthResource:
    """OAuth 2.0 Protected Resource Metadata (RFC 9728) for the MCP endpoint.

    ``resource`` defaults to the endpoint's own URL as the client reached it (the ASGI scope's
    scheme, the ``Host`` header, ``root_path`` and ``path``); set it when the public URL differs.
    """

    authorization_servers: Sequence[str]
    resource: str | None = None
    scopes_supported: Sequence[str] = ()
    resource_name: str | None = None
    bearer_methods_supported: Sequence[str] = ("header",)
    resource_documentation: str | None = None

    def __post_init__(self) -> None:
        servers = strings(self.authorization_servers, "authorization_servers")
        if not servers:
            raise ValueError("authorization_servers needs at least one issuer URL (MCP requires it)")
        for server in servers:
            _absolute_url(server, "authorization_servers", listed=True)
        scopes = strings(self.scopes_supported, "scopes_supported")
        for scope in scopes:
            if not _SCOPE_TOKEN.fullmatch(scope):
                raise ValueError(f"{scope!r} is not an RFC 6750 scope token")
        methods = strings(self.bearer_methods_supported, "bearer_methods_supported")
        if not set(methods) <= _BEARER_METHODS:
            raise ValueError(f"bearer_methods_supported must be among {sorted(_BEARER_METHODS)}")
        for option in ("resource", "resource_documentation", "resource_name"):
            value = getattr(self, option)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{option} must be a string, got {value!r}")
            if value is not None and option != "resource_name":
                _absolute_url(value, option)
        object.__setattr__(self, "authorization_servers", servers)
        object.__setattr__(self, "scopes_supported", scopes)
        object.__setattr__(self, "bearer_methods_supported", methods)

    def document(self, resource: str) -> dict[str, Any]:
        """The metadata JSON object for ``resource`` (empty and unset members are left out)."""
        doc: dict[str, Any] = {
            "resource": resource,
            "authorization_servers": list(self.authorization_servers),
        }
        if self.scopes_supported:
            doc["scopes_supported"] = list(self.scopes_supported)
        doc["bearer_methods_supported"] = list(self.bearer_methods_supported)
        if self.resource_name is not None:
            doc["resource_name"] = self.resource_name
        if self.resource_documentation is not None:
            doc["resource_documentation"] = self.resource_documentation
        return doc


def _origin(value: str, option: str) -> str:
    """An origin as the transport compares it: ``*``, ``null``, or scheme, host and optional port
    as a browser writes them in ``Origin`` (:func:`_authority`; lower case, no trailing slash). A
    browser's ``Origin`` has no path, so one with a path, query or fragment would never match:
    refused; so is a partial wildcard (origins are compared whole)."""
    origin = normal_origin(value)
    if "*" in origin and origin != "*":
        raise ValueError(
            f"{option} takes '*' alone or full origins: a partial wildcard never matches (origins are "
            f"compared whole, not as patterns), so list each origin, got {value!r}"
        )
    if origin in ("*", "null"):
        return origin
    scheme, sep, authority = origin.partition("://")
    if not (scheme and sep and authority and not any(c in authority for c in "/?# ")) or (
        empty_label(authority.partition(":")[0])
    ):
        raise ValueError(
            f"{option} takes '*' or full origins like 'http://localhost:6274' (scheme, host, optional port; "
            f"no path), got {value!r}"
        )
    return f"{scheme}://{_authority(scheme, authority, value, option)}"


def _authority(scheme: str, authority: str, value: str, option: str) -> str:
    """An origin's host and port as a browser serialises them (RFC 6454 §6.2, the URL standard): an
    ASCII host (an internationalised one is refused, asking for its IDNA form: ``_host_options.ascii_host``,
    for the schemes with domain names), the port in decimal, and none when it is the scheme's default (``https://a.example:443``
    is sent as ``https://a.example``). What no browser sends is refused: user information, a
    port that is no number of 0 to 65535, an IPv6 address without its brackets."""
    if "@" in authority:
        raise ValueError(f"{option} takes origins without user information (an Origin has none), got {value!r}")
    if authority.startswith("["):
        end = authority.find("]") + 1
        host, port = authority[:end], authority[end:]
        if not end or (port and not port.startswith(":")):
            raise ValueError(f"{option} takes an IPv6 address in brackets ('http://[::1]:8000'), got {value!r}")
    else:
        host, colon, port = authority.partition(":")
        port = colon + port
        if not host or ":" in port[1:]:
            raise ValueError(f"{option} takes an IPv6 address in brackets ('http://[::1]:8000'), got {value!r}")
        if scheme in DEFAULT_PORTS:
            host = ascii_host(host, option, value)
    digits = port[1:]
    if digits and not (digits.isascii() and digits.isdigit() and int(digits) <= 65535):
        raise ValueError(f"{option} takes a port of 0 to 65535 after the host, got {value!r}")
    if not digits or int(digits) == DEFAULT_PORTS.get(scheme):
        return host
    return f"{host}:{int(digits)}"


def cors_origins(origins: Collection[str] | None) -> frozenset[str] | None:
    """Validated, normalised ``cors_allow_origins`` (lower case, no trailing slash)."""
    if origins is None:
        return None
    out = frozenset(_origin(origin, "cors_allow_origins") for origin in strings(origins, "cors_allow_origins"))
    return out or None  # an empty list is the same as leaving CORS off


def effective_allowed_origins(
    allowed_origins: Collection[str] | None, cors: frozenset[str] | None
) -> frozenset[str] | None:
    """The Origin allowlist for the transport's DNS-rebinding check.

    An explicit ``allowed_origins`` wins, and must then accept every listed CORS origin (so a
    preflight never promises what the POST refuses). Without it, ``cors_allow_origins`` becomes
    the allowlist; with neither, ``None`` keeps the default rule (origins on allowed hosts).
    """
    if allowed_origins is not None:
        # Scheme and host are case-insensitive: lower case here, and the transport lowers the
        # request's Origin (so a preflight CORS allowed is never followed by a 403).
        explicit = frozenset(_origin(o, "allowed_origins") for o in strings(allowed_origins, "allowed_origins"))
        if cors is not None and "*" not in explicit and "*" not in cors:
            refused = sorted(o for o in cors if o not in explicit)
            if refused:
                raise ValueError(
                    f"cors_allow_origins lists {refused}, which allowed_origins refuses; "
                    "add them to allowed_origins (or leave allowed_origins unset)"
                )
        return explicit  # empty: every Origin is refused (requests without one still pass)
    return cors
