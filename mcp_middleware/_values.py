"""A tool argument's value ─▶ its text, or an :class:`ArgumentError` for the model.

Part of :mod:`mcp_middleware._requests` (the checks and coercions that every location of an
argument shares: path, query, header, cookie and form field). Imports nothing from the package.

    A scalar is written as its text: a string as is, a number as ``str()`` gives it, a boolean as
    ``true``/``false``; any other value (an object, an array where one value is taken) is an
    :class:`ArgumentError` naming the argument, which the model can correct. A value sent as JSON
    text (a query parameter of JSON content, an object or array for a form field whose schema may
    take one) is its compact JSON, and one orjson cannot encode (nested too deep, an integer beyond
    64 bits) is an :class:`ArgumentError` too. :func:`_form_encode` is ``quote_plus``, for query strings and for
    the query keys the catalog precomputes (``_Arg.query_key``).
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import quote_plus

import orjson

__all__ = [
    "_EMPTY",
    "_SINGLE",
    "_UNRESERVED",
    "ArgumentError",
    "_form_encode",
    "_integral",
    "_json_text",
    "_not_null",
    "_scalar",
    "_scalar_as",
]

# an array for a parameter that takes one value: sent repeated, the route would use one of them
_SINGLE: Final = "argument {!r} takes a single value, not an array"
# an empty array (or one of nulls) for a required parameter sent as repeated values: it sends none
_EMPTY: Final = "argument {!r} is required and takes at least one value (an empty array sends none)"


class ArgumentError(Exception):
    """The tool arguments cannot make a request; the message is meant for the model."""


def _not_null(names: list[str]) -> str:
    """The error text for required arguments given as null that the request cannot send (the
    route would run without them)."""
    if len(names) == 1:
        return f"argument {names[0]!r} is required and cannot be null"
    return f"arguments {', '.join(map(repr, names))} are required and cannot be null"


def _scalar(name: str, value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    raise ArgumentError(f"argument {name!r} must be a string, number or boolean")


def _json_text(name: str, value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError as exc:  # orjson.JSONEncodeError: nested too deep, or an integer beyond 64 bits
        raise ArgumentError(f"argument {name!r} cannot be encoded as JSON: {exc}") from None


def _integral(name: str, value: float) -> str:
    """A float for an integer-typed argument: its digits when it is integral (JSON Schema's
    ``integer`` takes 5.0; ``5.0`` in a path would miss Starlette's ``:int`` converter, and a route's
    ``int()`` refuses it), else ArgumentError."""
    if value.is_integer():
        return str(int(value))
    raise ArgumentError(f"argument {name!r} must be an integer")


def _scalar_as(name: str, value: Any, integer: bool) -> str:
    """:func:`_scalar`, or :func:`_integral` for a float of an ``integer`` argument."""
    return _integral(name, value) if integer and type(value) is float else _scalar(name, value)


_UNRESERVED: Final = re.compile(r"[A-Za-z0-9_.~-]*")


def _form_encode(text: str) -> str:
    """``quote_plus(text)``, without its per-character work for the usual plain values."""
    if (text.isascii() and text.isalnum()) or _UNRESERVED.fullmatch(text):
        return text
    return quote_plus(text)
