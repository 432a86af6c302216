"""CORS for the MCP endpoint and its metadata paths (opt-in, ``cors_allow_origins``).

Part of :mod:`mcp_middleware.security`: :class:`_Cors` is a base of
:class:`~mcp_middleware.security.Security`, which sets the attributes declared here and calls
these methods at steps 1 and 2 of its order:

* a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered here,
  never guarded: an allowed origin gets 204 and the ``Access-Control-*`` headers (the MCP headers,
  the ``Mcp-Param-*`` headers asked for, and on the endpoint the app's API-key headers, read from
  the server's catalog), any other 403;
* every other response on these paths gets the CORS headers for an allowed ``Origin``, through a
  ``send`` wrapper, so 401/403/405/4xx and SSE streams all carry them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

from starlette.types import Message, Scope, Send

from ._host_options import normal_origin
from ._http_token import TOKEN_RE
from .transport._http import plain

if TYPE_CHECKING:
    from .handlers import Server

__all__ = ["CORS_ALLOW_HEADERS", "CORS_EXPOSE_HEADERS", "CORS_MAX_AGE", "_Cors", "allowed_headers"]

logger = logging.getLogger("mcp_middleware.security")

CORS_ALLOW_HEADERS: Final = (
    "content-type",
    "accept",
    "authorization",
    "mcp-protocol-version",
    "mcp-method",
    "mcp-name",
    "mcp-session-id",
    "last-event-id",
    "traceparent",
    "tracestate",
)
CORS_EXPOSE_HEADERS: Final = b"WWW-Authenticate, Mcp-Session-Id"
CORS_MAX_AGE: Final = b"7200"  # seconds; Chromium's ceiling
_MCP_METHODS = b"POST, GET, DELETE, OPTIONS"
_METADATA_METHODS = b"GET, HEAD, OPTIONS"


def allowed_headers(credentials: Sequence[str], params: Sequence[str]) -> list[str]:
    """The headers a preflight allows: the MCP headers, then ``credentials`` (the forwarded and
    API-key headers) and ``params`` not listed before, in order (a dict's keys: each name looked up
    once, where looking for it in the growing list made a preflight asking for 40,000
    ``mcp-param-*`` headers take 11 s)."""
    return list(dict.fromkeys([*CORS_ALLOW_HEADERS, *credentials, *params]))


class _Cors:
    """Which origins get the CORS headers, and the preflight's and other responses' headers."""

    __slots__ = ()

    _server: Server
    _cors: frozenset[str] | None
    _cors_any: bool

    def _origin_allowed(self, origin: str) -> bool:
        if self._cors_any:
            return True
        return self._cors is not None and normal_origin(origin) in self._cors

    def _credential_headers(self, scope: Scope) -> list[str]:
        """The headers a browser client sends as custom ones to authenticate: the ``forward_headers``
        (from the options) and the app's API-key headers (``APIKeyHeader``), read from the catalog,
        which is built here when no POST has built it yet. When it cannot be built, the
        ``forward_headers`` only: the preflight is still answered (a 500 without CORS headers would
        hide the error from a browser client), and the POST that follows reports the error."""
        server = self._server
        forwarded = sorted(name.decode("ascii") for name in server.settings.forward_headers)
        if not server.prepared:
            try:
                server.prepare(scope)
            except Exception:
                logger.debug("the catalog could not be built for a CORS preflight", exc_info=True)
                return forwarded
        names = (name.decode("latin-1") for name in server.catalog.credential_headers)
        return [*forwarded, *sorted(name for name in names if TOKEN_RE.fullmatch(name))]

    async def _preflight(
        self, scope: Scope, send: Send, headers: Mapping[str, str], origin: str, metadata: bool
    ) -> None:
        vary = (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        if not self._origin_allowed(origin):
            await plain(send, 403, b"", [vary])
            return
        requested = [name.strip().lower() for name in headers.get("access-control-request-headers", "").split(",")]
        params = [name for name in requested if name.startswith("mcp-param-") and TOKEN_RE.fullmatch(name)]
        allow = allowed_headers([] if metadata else self._credential_headers(scope), params)
        head = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", _METADATA_METHODS if metadata else _MCP_METHODS),
            (b"access-control-allow-headers", ", ".join(allow).encode("latin-1")),
            (b"access-control-max-age", CORS_MAX_AGE),
            vary,
        ]
        await send({"type": "http.response.start", "status": 204, "headers": head})
        await send({"type": "http.response.body", "body": b""})

    def _cors_send(self, send: Send, origin: str) -> Send:
        extra: list[tuple[bytes, bytes]] = [(b"vary", b"Origin")]
        if self._origin_allowed(origin):
            extra[:0] = [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-expose-headers", CORS_EXPOSE_HEADERS),
            ]

        async def cors_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        return cors_send
