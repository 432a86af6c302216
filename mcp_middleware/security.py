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

With ``oauth``, a route's 401 (or 403 ``insufficient_scope``) for a ``tools/call``,
``resources/read`` or ``prompts/get`` is answered with the same refusal, carrying the route's
Bearer challenge, while nothing of the MCP response has gone out: :meth:`Security.route_refusal`,
which the transport calls through ``Server.challenge`` (``Responder.refused``).

The options' types and checks (``OAuthResource``, ``cors_origins``, ``effective_allowed_origins``)
are in ``_security_options``, and importable from here. ``Security`` keeps the options it
precomputes, the guard (step 4) and the order; its steps 1 and 2 are its base ``_Cors``'s
(:mod:`mcp_middleware._cors`), step 3 its base ``_Metadata``'s (:mod:`mcp_middleware._oauth_metadata`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from ._bearer import _bounded, _challenge, bearer_params
from ._cors import _Cors
from ._oauth_metadata import WELL_KNOWN, _Metadata, _path_of
from ._security_options import _SCOPE_TOKEN, Guard, OAuthResource, check_guard, cors_origins, effective_allowed_origins
from .handlers import Server
from .transport._checks import FORBIDDEN_HOST, Headers, Verdicts, check_request, decoded, header_map, host_allowed
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

Endpoint = Callable[[Scope, Receive, Send, Headers], Awaitable[None]]


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


_UNAUTHORIZED = refusal("Unauthorized: valid credentials are required for the MCP endpoint")
_FORBIDDEN_SCOPE = refusal("Forbidden: the credentials lack a required scope")
_FORBIDDEN_HOST = refusal(FORBIDDEN_HOST)


class Security(_Cors, _Metadata):
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
        check_guard(auth)
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
        if oauth is not None:  # a route's refusal of the token is answered as the guard's (route_refusal)
            server.challenge = self.route_refusal

    # ---- the guard ----------------------------------------------------------------------------

    def _oauth_params(self, scope: Scope, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        if self._oauth is None:
            return []
        return [("resource_metadata", self.metadata_url(scope, headers))]

    def _refusal(
        self, status: int, params: list[tuple[str, str]], scope: Scope, headers: Mapping[str, str]
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """The endpoint's 401 or 403: its fixed body, and its Bearer challenge of ``params`` and,
        with ``oauth``, the metadata's URL."""
        body = _UNAUTHORIZED if status == 401 else _FORBIDDEN_SCOPE
        return status, body, [_challenge(params + self._oauth_params(scope, headers))]

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
            await plain(
                send, *self._refusal(403, [("error", "insufficient_scope"), ("scope", exc.scope)], scope, headers)
            )
            return True
        except Exception:
            logger.exception("the MCP auth guard raised; answering 401")
            verdict = False
        if verdict is True:
            return False
        params = [("error", "invalid_token")] if has_credentials else []
        await plain(send, *self._refusal(401, params, scope, headers))
        return True

    def route_refusal(
        self, scope: Scope, status: int, challenge: str
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        """(``Server.challenge``, with ``oauth``) A route's 401, or 403 ``insufficient_scope``, for
        a call (``challenge``: its ``WWW-Authenticate``) as the endpoint's own refusal, the one the
        guard gives (authorization.mdx: an invalid or expired token MUST get HTTP 401; an
        insufficient scope at run time SHOULD get 403): the route's Bearer ``error``,
        ``error_description`` and ``scope`` (``_bearer._bounded``) and the metadata's URL. A 401
        whose challenge names no error, or that has no challenge at all (most often the app's own check of the token, an
        ``HTTPException(401)`` without headers), gets ``invalid_token``, as the guard's refusal of
        a request with credentials does (with ``oauth`` a request without them never reaches a
        route). None, and it stays the call's error, for a 401 that challenges only other schemes
        (``Basic``, an upstream API's ``ApiKey``: another credential is refused, not the MCP token,
        and the client must not re-run OAuth for it) and for any other 403 (the caller is
        refused, not its token)."""
        params = bearer_params(challenge)
        if params is None:
            if challenge.strip():  # challenges, none of them Bearer
                return None
        else:
            params = _bounded(params)
        if status == 403:
            if params is None or ("error", "insufficient_scope") not in params:
                return None
        elif params is None or not any(name == "error" for name, _ in params):
            params = [("error", "invalid_token"), *(params or ())]
        return self._refusal(status, params, scope, decoded(header_map(scope)))

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
