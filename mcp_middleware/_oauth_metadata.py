"""OAuth protected-resource metadata (RFC 9728), served when ``oauth`` is set.

Part of :mod:`mcp_middleware.security`: :class:`_Metadata` is a base of
:class:`~mcp_middleware.security.Security`, which sets the attributes declared here, serves the
metadata at step 3 of its order (``GET``/``HEAD`` on the metadata paths, once the ``Host`` is one
the endpoint accepts) and names its URL in the ``WWW-Authenticate`` challenges of its 401/403
answers (``metadata_url``). The resource is ``OAuthResource.resource`` when given, else the
endpoint's own URL, made from the request's scheme and a ``Host`` fit to put into one (else the
server's address, else ``localhost``) and the ``root_path``. Such a resource made with an
``http`` scheme for a host that is not a loopback one is logged, a WARNING once per host
(``_TOLD``): OAuth 2.1 wants https there, and it is most often a TLS-terminating proxy that sends
no ``X-Forwarded-Proto`` (the clients then refuse the resource, RFC 9728 §3.3).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Final

import orjson
from starlette.types import Scope, Send

from ._host_options import bracketed, host_only, without_default_port
from ._once import Remembered
from ._security_options import OAuthResource
from .config import LOCAL_HOSTS
from .transport._http import plain, refusal

__all__ = ["WELL_KNOWN", "_Metadata", "_path_of"]

WELL_KNOWN: Final = "/.well-known/oauth-protected-resource"

# A Host header we are willing to put into an absolute URL (reg-name or IP literal, optional port).
_HOST = re.compile(r"(?:\[[0-9a-f:.]+\]|[a-z0-9._~%-]+)(?::[0-9]{1,5})?")

# The records keep the name of the module the metadata is part of (logging configurations use it).
logger = logging.getLogger("mcp_middleware.security")

# The hosts warned about an http resource: each once; at _TOLD_MAX the set starts again (a client
# sending a new Host each time, with allowed_hosts=["*"], does not grow it).
_TOLD_MAX = 64
_TOLD = Remembered(_TOLD_MAX)


class _Metadata:
    """The metadata document, where it is served and the URL it is advertised at."""

    __slots__ = ()

    _oauth: OAuthResource | None
    _resource_path: str
    _metadata_suffix: str

    def _origin_of(self, scope: Scope, headers: Mapping[str, str]) -> str:
        scheme = str(scope.get("scheme", "http")).lower()
        scheme = "https" if scheme in ("https", "wss") else "http"
        # as the client wrote the URL, without the scheme's default port (nginx's `$host:$server_port` adds it)
        host = without_default_port(scheme, headers.get("host", "").strip().lower())
        if not _HOST.fullmatch(host):
            server = scope.get("server")
            if server:
                name, port = bracketed(str(server[0]).lower()), server[1]
                host = name if port is None else without_default_port(scheme, f"{name}:{port}")
            else:
                host = "localhost"
        if scheme == "http":
            _tell_plain_http(host)
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


def _tell_plain_http(host: str) -> None:
    """Warn, once per host, that the resource at a ``host`` that is not a loopback one says http."""
    if host_only(host) in LOCAL_HOSTS or not _TOLD.first(host):
        return
    logger.warning(
        "OAuth protected-resource metadata names the resource at 'http://%s': OAuth 2.1 requires https "
        "for a host that is not a loopback one, and clients refuse a resource that is not the URL they "
        "used (RFC 9728 §3.3). Behind a TLS-terminating proxy, have it send X-Forwarded-Proto (nginx: "
        "proxy_set_header X-Forwarded-Proto $scheme;) and run uvicorn with --proxy-headers, or set "
        "OAuthResource(resource='https://.../mcp') (logged once per host)",
        host,
    )


def _path_of(url: str) -> str:
    rest = url.partition("://")[2]
    _, slash, path = rest.partition("/")
    return (slash + path).split("?", 1)[0].rstrip("/")
