"""Credential redaction, for :mod:`mcp_middleware.results`: the credentials forwarded to a route
are never echoed in a result's error, redirect or HEAD text, in any form the route may write them,
nor the start of one that the result limit cut off."""

from __future__ import annotations

import base64
import binascii
import json

import orjson
from starlette.requests import cookie_parser

from ._result_shapes import CUT
from .config import TRACE_CONTEXT
from .query_keys import MARK, secret_values

__all__ = ["credential_values", "redacted"]


def credential_values(forwarded: tuple[tuple[bytes, bytes], ...]) -> tuple[str, ...]:
    """The secret parts of the credentials forwarded to a route, longest first: ``Authorization``
    (and a ``Basic`` one's decoded ``user:password`` and password), ``Cookie`` values (as sent, and
    unquoted as the route reads them), API-key headers, and API keys from the MCP request's query
    string (as sent and decoded). Everything forwarded but trace context is a credential."""
    found: set[str] = set()
    for name, raw in forwarded:
        value = raw.decode("latin-1")
        if name == b"authorization":
            scheme, _, credentials = value.partition(" ")
            found.update({value, credentials})
            if scheme.lower() == "basic":
                found.update(_basic(credentials))
        elif name == b"cookie":
            found.update(part.partition("=")[2] for part in value.split(";"))
            found.update(cookie_parser(value).values())  # what Starlette hands the route: unquoted
        elif name[:1] == MARK:  # a query API key's ``name=value`` pair (query_keys)
            found.update(secret_values(raw))
        elif name not in TRACE_CONTEXT:  # an API-key header (catalog.credential_headers)
            found.add(value)
    secrets = {value.strip() for value in found if len(value.strip()) >= 6}
    # and as a JSON string writes them: orjson (an error detail that is an object, written again
    # here) escapes a \ or ", and json.dumps (a route's own JSON) also writes non-ASCII as \uXXXX
    secrets |= {orjson.dumps(value).decode()[1:-1] for value in secrets}
    secrets |= {json.dumps(value)[1:-1] for value in secrets}
    return tuple(sorted(secrets, key=len, reverse=True))


def _basic(credentials: str) -> tuple[str, ...]:
    """A ``Basic`` authorization's ``user:password`` and password, as a route decodes them (UTF-8,
    RFC 7617 §2.1, else Latin-1); nothing when it is not base64."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True)
    except (binascii.Error, ValueError):
        return ()
    try:
        pair = decoded.decode()
    except UnicodeDecodeError:
        pair = decoded.decode("latin-1")
    return pair, pair.partition(":")[2]


def redacted(text: str, forwarded: tuple[tuple[bytes, bytes], ...]) -> str:
    """``text`` without the credentials ``forwarded`` to the route, nor the start of one that the
    result limit cut off."""
    for secret in credential_values(forwarded):
        text = text.replace(secret, "[redacted]")
        if CUT in text and len(secret) >= 8:  # (a shorter one could be a word: a cookie's "english")
            # of "Bearer <token>" the scheme word is no secret: only prefixes that reach past it
            for size in range(len(secret) - 1, max(3, secret.find(" ") + 1), -1):
                text = text.replace(secret[:size] + CUT, "[redacted]" + CUT)
    return text
