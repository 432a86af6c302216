"""Who may use the endpoint: an optional guard, OAuth protected-resource metadata, opt-in CORS.

Everything here is opt-in. Without ``auth``, ``oauth`` and ``cors_allow_origins`` the middleware
never builds a ``Security`` and requests go straight to the transport, as before.

Order for a request to the MCP endpoint (only when at least one option is set):

1. CORS preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``): answered here,
   never guarded. An allowed origin gets 204 and the ``Access-Control-*`` headers, any other 403.
2. Every other response on these paths gets the CORS headers for an allowed ``Origin`` (a ``send``
   wrapper, so 401/403/405/4xx and SSE streams all carry them).
3. ``GET``/``HEAD`` on the protected-resource metadata paths (RFC 9728): the metadata as JSON, for
   a ``Host`` the endpoint accepts (else its 403: the document names the host it was asked at).
4. ``POST`` that passes the transport's own checks (Host/Origin, Accept, Content-Type): no
   ``Authorization`` header while ``oauth`` is set → 401; then the guard: ``True`` passes, anything
   else → 401, ``InsufficientScope`` → 403 (RFC 6750 §3.1). A guard that raises is logged and
   answered 401 with no detail. Requests the transport refuses never reach the guard: the transport
   answers them with its own status.
5. Everything else goes to the transport unchanged (so ``GET``/``DELETE`` keep their 405, after
   the transport's Host and Origin check: on both the metadata and the endpoint, a refused Host is
   403 before the method is looked at).

401/403 bodies are id-less JSON-RPC errors with code -32600, like the transport's other HTTP-level
refusals. They never echo anything from the request.

The options' types and checks (``OAuthResource``, ``cors_origins``, ``effective_allowed_origins``)
are in ``_security_options``, and importable from here.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final

import orjson
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from ._security_options import _SCOPE_TOKEN, OAuthResource, cors_origins, effective_allowed_origins
from .config import normal_origin
from .handlers import Server
from .transport._checks import FORBIDDEN_HOST, HeaderMap, Verdicts, check_request, decoded, header_map, host_allowed
from .transport._http import plain, refusal

__all__ = [
    "WELL_KNOWN",
    "Guard",
    "InsufficientScope",
    "OAuthResource",
    "Security",
    "cors_origins",
    "effective_allowed_origins",
]

logger = logging.getLogger(__name__)

WELL_KNOWN: Final = "/.well-known/oauth-protected-resource"

Guard = Callable[[Request], bool | Awaitable[bool]]
Endpoint = Callable[[Scope, Receive, Send, HeaderMap], Awaitable[None]]

# RFC 9110 §5.6.2 token (a header name in Access-Control-Request-Headers).
_HEADER_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9a-z-]+")
# A Host header we are willing to put into an absolute URL (reg-name or IP literal, optional port).
_HOST = re.compile(r"(?:\[[0-9a-f:.]+\]|[a-z0-9._~%-]+)(?::[0-9]{1,5})?")

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


class InsufficientScope(Exception):
    """Raise from the ``auth`` guard when the caller is known but lacks a scope: answered 403.

    ``scope`` is the scope (or scopes) the request needs; it is sent back in
    ``WWW-Authenticate: Bearer error="insufficient_scope", scope="..."`` (RFC 6750 §3.1), which is
    what MCP clients read to ask the user for more (step-up authorization).
    """

    def __init__(self, scope: str | Iterable[str]) -> None:
        tokens = scope.split() if isinstance(scope, str) else [str(s) for s in scope]
        if not tokens or not all(_SCOPE_TOKEN.fullmatch(t) for t in tokens):
            raise ValueError("scope must be one or more RFC 6750 scope tokens (no spaces, quotes or \\)")
        self.scope = " ".join(tokens)
        super().__init__(f"insufficient scope: {self.scope}")


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _challenge(params: Sequence[tuple[str, str]]) -> tuple[bytes, bytes]:
    text = "Bearer" + (" " + ", ".join(f"{k}={_quoted(v)}" for k, v in params) if params else "")
    return (b"www-authenticate", text.encode("latin-1"))


_UNAUTHORIZED = refusal("Unauthorized: valid credentials are required for the MCP endpoint")
_FORBIDDEN_SCOPE = refusal("Forbidden: the credentials lack a required scope")
_FORBIDDEN_HOST = refusal(FORBIDDEN_HOST)


class Security:
    """The precomputed security options of one middleware, and the per-request steps above."""

    __slots__ = (
        "_cors",
        "_cors_any",
        "_guard",
        "_metadata_suffix",
        "_oauth",
        "_resource_path",
        "_server",
        "_settings",
        "_verdicts",
        "metadata_paths",
        "paths",
    )

    def __init__(
        self, server: Server, *, auth: Guard | None, oauth: OAuthResource | None, cors: frozenset[str] | None
    ) -> None:
        if auth is not None and not callable(auth):
            raise TypeError("auth must be a callable taking a starlette Request")
        self._server = server  # its catalog names the app's API-key headers (CORS)
        settings = self._settings = server.settings
        self._verdicts: Verdicts = server.verdicts  # the endpoint's remembered transport checks, shared
        self._guard = auth
        self._oauth = oauth
        base = settings.base_path
        suffix = "" if base == "/" else base
        # Where the metadata is served (relative to root_path), and the path part of the
        # advertised metadata URL.
        self._resource_path = base
        self._metadata_suffix = suffix
        metadata: set[str] = set()
        if oauth is not None:
            metadata = {WELL_KNOWN, WELL_KNOWN + suffix}
            if suffix:
                metadata.add(WELL_KNOWN + suffix + "/")
            if oauth.resource is not None:
                path = _path_of(oauth.resource)
                metadata.add(WELL_KNOWN + path)
            if metadata & settings.paths:
                raise ValueError("path must not be an OAuth metadata path")
        self.metadata_paths = frozenset(metadata)
        # Paths the middleware claims besides the endpoint itself (one set test on the fast path).
        self.paths = self.metadata_paths
        # CORS: which origins get Access-Control-Allow-Origin. The transport's Origin check must
        # accept them too: with "*" here, that is whatever allowed_origins accepts.
        self._cors_any = False
        if cors is not None and "*" in cors:
            allowed = settings.allowed_origins
            if allowed is None or "*" in allowed:
                self._cors_any = True
                cors = frozenset()
            else:
                cors = allowed  # already lower case
        self._cors = cors

    # ---- CORS -------------------------------------------------------------------------------

    def _origin_allowed(self, origin: str) -> bool:
        if self._cors_any:
            return True
        return self._cors is not None and normal_origin(origin) in self._cors

    def _api_key_headers(self, scope: Scope) -> list[str]:
        """The app's API-key headers (``APIKeyHeader``), which a browser client sends as custom
        headers; the catalog that names them is built here when no POST has built it yet. When it
        cannot be built, none: the preflight is still answered (a 500 without CORS headers would
        hide the error from a browser client), and the POST that follows reports the error."""
        server = self._server
        if not server.prepared:
            try:
                server.prepare(scope)
            except Exception:
                logger.debug("the catalog could not be built for a CORS preflight", exc_info=True)
                return []
        names = (name.decode("latin-1") for name in server.catalog.credential_headers)
        return sorted(name for name in names if _HEADER_TOKEN.fullmatch(name))

    async def _preflight(
        self, scope: Scope, send: Send, headers: Mapping[str, str], origin: str, metadata: bool
    ) -> None:
        vary = (b"vary", b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
        if not self._origin_allowed(origin):
            await plain(send, 403, b"", [vary])
            return
        allow = list(CORS_ALLOW_HEADERS)
        requested = [name.strip().lower() for name in headers.get("access-control-request-headers", "").split(",")]
        params = [name for name in requested if name.startswith("mcp-param-") and _HEADER_TOKEN.fullmatch(name)]
        for name in [*([] if metadata else self._api_key_headers(scope)), *params]:
            if name not in allow:
                allow.append(name)
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

    # ---- OAuth metadata -----------------------------------------------------------------------

    def _origin_of(self, scope: Scope, headers: Mapping[str, str]) -> str:
        scheme = str(scope.get("scheme", "http")).lower()
        scheme = "https" if scheme in ("https", "wss") else "http"
        host = headers.get("host", "").strip().lower()
        if not _HOST.fullmatch(host):
            server = scope.get("server")
            if server:
                name, port = str(server[0]).lower(), server[1]
                name = f"[{name}]" if ":" in name else name
                default = 443 if scheme == "https" else 80
                host = name if port in (None, default) else f"{name}:{port}"
            else:
                host = "localhost"
        return f"{scheme}://{host}"

    def _resource(self, scope: Scope, headers: Mapping[str, str]) -> str:
        assert self._oauth is not None
        if self._oauth.resource is not None:
            return self._oauth.resource
        return self._origin_of(scope, headers) + str(scope.get("root_path", "")) + self._resource_path

    def metadata_url(self, scope: Scope, headers: Mapping[str, str]) -> str:
        """The absolute URL of the path-specific metadata, as advertised in ``WWW-Authenticate``."""
        assert self._oauth is not None
        if self._oauth.resource is not None:
            # RFC 9728 §3.1: the well-known segment goes between the host and the resource's path.
            scheme, _, rest = self._oauth.resource.partition("://")
            authority = rest.partition("/")[0].partition("?")[0]
            return f"{scheme}://{authority}{WELL_KNOWN}{_path_of(self._oauth.resource)}"
        origin = self._origin_of(scope, headers)
        return origin + str(scope.get("root_path", "")) + WELL_KNOWN + self._metadata_suffix

    async def _metadata(self, scope: Scope, send: Send, headers: Mapping[str, str]) -> None:
        assert self._oauth is not None
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            body = refusal("Method Not Allowed: the metadata takes GET")
            await plain(send, 405, body, [(b"allow", b"GET, HEAD")])
            return
        body = orjson.dumps(self._oauth.document(self._resource(scope, headers)))
        head = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": head})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})

    # ---- the guard ----------------------------------------------------------------------------

    def _oauth_params(self, scope: Scope, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        if self._oauth is None:
            return []
        return [("resource_metadata", self.metadata_url(scope, headers))]

    async def _refuse(self, scope: Scope, send: Send, headers: Mapping[str, str]) -> bool:
        """Answer 401/403 and return True when the request may not reach the endpoint."""
        has_credentials = bool(headers.get("authorization", "").strip())
        if self._oauth is not None and not has_credentials:
            params = self._oauth_params(scope, headers)
            if self._oauth.scopes_supported:
                params.append(("scope", " ".join(self._oauth.scopes_supported)))
            await plain(send, 401, _UNAUTHORIZED, [_challenge(params)])
            return True
        if self._guard is None:
            return False
        try:
            verdict: Any = self._guard(Request(scope))
            if inspect.isawaitable(verdict):
                verdict = await verdict
        except InsufficientScope as exc:
            params = [("error", "insufficient_scope"), ("scope", exc.scope)]
            params += self._oauth_params(scope, headers)
            await plain(send, 403, _FORBIDDEN_SCOPE, [_challenge(params)])
            return True
        except Exception:
            logger.exception("the MCP auth guard raised; answering 401")
            verdict = False
        if verdict is True:
            return False
        params = [("error", "invalid_token")] if has_credentials else []
        params += self._oauth_params(scope, headers)
        await plain(send, 401, _UNAUTHORIZED, [_challenge(params)])
        return True

    # ---- one request --------------------------------------------------------------------------

    async def serve(self, scope: Scope, receive: Receive, send: Send, path: str, endpoint: Endpoint) -> None:
        raw = header_map(scope)
        headers = decoded(raw)
        method = scope["method"]
        metadata = path in self.metadata_paths
        if self._cors is not None or self._cors_any:
            origin = headers.get("origin")
            if origin is not None:
                if method == "OPTIONS" and "access-control-request-method" in headers:
                    await self._preflight(scope, send, headers, origin, metadata)
                    return
                send = self._cors_send(send, origin)
        if metadata:
            if not host_allowed(scope, raw, self._settings):  # the endpoint's rule: its 403
                await plain(send, 403, _FORBIDDEN_HOST)
                return
            await self._metadata(scope, send, headers)
            return
        if (
            method == "POST"
            and (self._guard is not None or self._oauth is not None)
            and check_request(scope, raw, self._settings, self._verdicts) is None
            and await self._refuse(scope, send, headers)
        ):
            return
        await endpoint(scope, receive, send, raw)


def _path_of(url: str) -> str:
    rest = url.partition("://")[2]
    _, slash, path = rest.partition("/")
    return (slash + path).split("?", 1)[0].rstrip("/")
