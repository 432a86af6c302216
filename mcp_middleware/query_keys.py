"""API keys in the MCP request's query string (FastAPI's ``APIKeyQuery``), forwarded to the routes.

An MCP client configured with ``http://host/mcp?api_key=...`` sends the key on every POST. When the
app declares ``apiKey`` security schemes that live in the query (``Catalog.query_keys``), the
endpoint puts the first ``name=value`` pair of each of their parameters, exactly as sent, into the
request's header map under a pseudo-header name: ``?`` and the parameter's name, which no real
header can have (``?`` is not a token character, RFC 9110 §5.6.2). From there the key goes where
an API-key header goes: it is forwarded with the call (``Call.forwarded``), hashed into the
handshake-era caller key, bound into a sealed ``requestState``, and redacted from the texts of
errors and redirects (``_redaction.credential_values``). What it has of its own on the call path:
each tool's plan withholds it from the routes its scheme does not guard (``_Plan.withheld``),
``_requests._all_headers`` keeps its name's case (:data:`MARK` tells it apart),
``_redaction.credential_values`` takes its value out of the pair (:func:`secret_values`), and
:class:`QueryKeys`, which wraps the app only when it has such schemes, moves the pairs from the
route's request headers to its query string, after the tool's own query parameters, unless the
tool already sent one of that name (its argument wins).

Apps without such schemes pay one truthiness test per request (the endpoint's), and one test of
the first byte of each header name a call forwards (``_requests._all_headers``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import unquote_plus

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["MARK", "QueryKeys", "add_query_keys", "pseudo_names", "secret_values"]

MARK: Final = b"?"  # the first byte of a pseudo-header name


def pseudo_names(names: Iterable[str]) -> dict[str, bytes]:
    """Each query parameter name, with the pseudo-header name its pair is carried under."""
    return {name: MARK + name.encode("utf-8") for name in names}


def _name_of(pair: bytes) -> str:
    """A ``name=value`` pair's name, decoded as Starlette decodes it (``parse_qsl`` of the latin-1
    text: ``+`` is a space, ``%XX`` sequences are UTF-8)."""
    return unquote_plus(pair.partition(b"=")[0].decode("latin-1"))


def add_query_keys(headers: dict[bytes, bytes], query_string: bytes, names: Mapping[str, bytes]) -> None:
    """Put the first pair of each of ``names`` that ``query_string`` has into ``headers``, under
    its pseudo-header name (the first, as for a repeated header; other parameters stay behind).
    Pseudo-headers come from the URL only: a header of that name (HTTP servers normally refuse
    one) is dropped, so nothing but one ``name=value`` pair can reach a route's query string."""
    found: dict[bytes, bytes] = {}
    for pair in query_string.split(b"&") if query_string else ():
        pseudo = names.get(_name_of(pair))
        if pseudo is not None and pseudo not in found:
            found[pseudo] = pair
    for pseudo in names.values():
        headers.pop(pseudo, None)
    headers.update(found)


def secret_values(pair: bytes) -> tuple[str, str]:
    """A forwarded pair's value as sent and decoded: the forms an error text may echo."""
    raw = pair.partition(b"=")[2].decode("latin-1")
    return raw, unquote_plus(raw)


class QueryKeys:
    """The app, with the forwarded query API keys moved from each request's headers to its query
    string. Put in front of the app only when it declares query API-key schemes."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = scope["headers"]
        pairs = [value for name, value in headers if name[:1] == MARK]
        if pairs:
            scope["headers"] = [(name, value) for name, value in headers if name[:1] != MARK]
            scope["query_string"] = _merged(scope["query_string"], pairs)
        await self.app(scope, receive, send)


def _merged(query_string: bytes, pairs: list[bytes]) -> bytes:
    """``query_string`` and then each of ``pairs`` whose name it does not have yet."""
    if not query_string:
        return b"&".join(pairs)
    taken = {_name_of(pair) for pair in query_string.split(b"&")}
    return b"&".join([query_string, *(pair for pair in pairs if _name_of(pair) not in taken)])
