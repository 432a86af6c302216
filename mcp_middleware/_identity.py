"""Who is calling: the credentials the app authenticates with, as one value.

A stateless endpoint knows its caller only by what each request carries. What names the caller
(the *principal* a 2026-07-28 ``requestState`` is bound to, mrtr.mdx; the handshake era's caller
key, ``transport._http.caller_key``) is what the app authenticates with:

* the credential headers: ``Authorization``, the headers of the app's ``apiKey`` schemes in a
  header (``APIKeyHeader``), the API keys of the MCP URL (``APIKeyQuery``, as pseudo-headers:
  :mod:`mcp_middleware.query_keys`) and the headers named by the ``forward_headers`` option;
* of the ``Cookie`` header, the cookies named by the app's ``apiKey`` schemes in a cookie
  (``APIKeyCookie``), read as Starlette reads them, in the order of their names: a cookie the app
  does not read (a load balancer's stickiness cookie, ``AWSALB``, ``__cf_bm``, which change
  between requests) is no part of it;
* the whole ``Cookie`` header only as a fallback: when the app declares no cookie scheme (it may
  read a session cookie by hand) and the request carries no credential that names a user in the
  usual case: ``Authorization`` or one of the app's API keys (header or query). Such an app's
  cookies must not change between rounds (README, deployment notes). A ``forward_headers`` header
  counts as part of the identity but does not take the cookie out of it: it may be one token that
  every client sends (FastAPI's global ``X-Token`` dependency), and then only the session cookie
  tells the users apart. The limit: an app whose ``Authorization`` (or API key) is the same for
  every user, a gateway's key, and which tells them apart by a cookie it reads by hand, must
  declare that cookie (``APIKeyCookie``) to make it part of the identity.

The ``Cookie`` header is still a credential for what a result may be cached as (``cacheScope``
``private``): a false "private" costs a cache miss, a false "public" would share a user's result.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import orjson
from starlette.requests import cookie_parser

__all__ = ["Identity"]

_COOKIE = b"cookie"


class Identity:
    """What names a caller, for one catalog: ``headers``, the credential headers but ``Cookie``
    (lower case, sorted); ``keys``, those of them that take the whole Cookie out of the identity
    (``Authorization`` and the app's API keys); ``cookies``, the names of the app's cookie schemes
    (sorted)."""

    __slots__ = ("_keys", "_named", "cookies", "headers")

    def __init__(self, headers: Iterable[bytes], cookies: Iterable[str], keys: Iterable[bytes]) -> None:
        named = set(headers) - {_COOKIE}
        self.headers = tuple(sorted(named))
        self._keys = frozenset(named.intersection(keys))
        self._named = frozenset(named)
        self.cookies = tuple(sorted(set(cookies)))

    def cookie(self, value: bytes, names: Iterable[bytes]) -> bytes | None:
        """What of a ``Cookie`` header names the caller (None: nothing), for a request with the
        headers ``names``: the app's cookies, or, when it declares no cookie scheme, the whole
        header unless the request carries one of the ``keys`` (a forwarded header does not count).
        The one statement of that rule, for the principal and the handshake era's caller key."""
        if not self.cookies:
            return value if self._keys.isdisjoint(names) else None
        jar = cookie_parser(value.decode("latin-1"))  # as the app's request reads it
        pairs = [[name, jar[name]] for name in self.cookies if name in jar]
        return orjson.dumps(pairs) if pairs else None

    def principal(self, forwarded: Sequence[tuple[bytes, bytes]]) -> bytes:
        """The caller of a call, from the headers it forwards (sorted by name): what a
        requestState is bound to."""
        named = self._named
        parts = [name + b": " + value for name, value in forwarded if name in named]
        for name, value in forwarded:
            if name == _COOKIE and (part := self.cookie(value, (header for header, _ in forwarded))) is not None:
                parts.append(b"cookie: " + part)
        return b"\n".join(parts)
