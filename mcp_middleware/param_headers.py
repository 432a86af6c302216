"""``Mcp-Param-{Name}`` headers (2026-07-28, SEP-2243): tool arguments mirrored into HTTP headers.

A tool's input schema may mark a string, integer or boolean property, reachable from the root
through ``properties`` keys only, with ``"x-mcp-header": "Name"``. Clients then send the argument's
value as ``Mcp-Param-Name`` (``=?base64?…?=`` for values that are not plain ASCII). The server
MUST check each header against the argument: present together and equal (integers compare
numerically, as the spec says they SHOULD: ``4.2e1``, ``42.0``, ``+42`` and ``042`` are 42), or
absent together (``null`` counts as absent). Any mismatch, and a value with invalid characters
(anything but visible ASCII, space and tab outside the base64 form), is 400
with -32020.
The catalog publishes no annotation that breaks the publishing rules (:mod:`mcp_middleware._header_rules`
leaves them out, so clients keep the tool, and is where the rules are checked): :func:`annotations_of`
reads the published schema's, all valid.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from mcp_types import jsonrpc as codes

from ._exact_json import _LongInt
from .jsonrpc import ProtocolError

__all__ = ["Annotation", "annotations_of", "check_param_headers", "decode_header", "is_plain"]

Annotation = tuple[tuple[str, ...], bytes, str]  # (property path, header name lower-case, type)

_SENTINEL = re.compile(r"=\?base64\?(.*)\?=")
# A number as a header may write one (streamable-http.mdx, Server Validation: integers SHOULD be
# compared numerically, "42.0" and "42" are equal): a sign, digits with or without a fraction and
# an exponent (4.2e1); not NaN, Infinity, hex or underscores, which ``Decimal`` reads too.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FIELD = re.compile(r"[\t\x20-\x7e]*")  # RFC 9110 field content without obs-text


def is_plain(value: str) -> bool:
    """A value to take as it is, no decoding or check needed: visible ASCII and spaces only (two
    C-level tests), not the base64 form. The usual case."""
    return value.isascii() and value.isprintable() and not value.startswith("=?")


def decode_header(value: str | None) -> str | None:
    """SEP-2243: the exact form ``=?base64?…?=`` is base64 of UTF-8; anything else is taken
    literally, and must then be visible ASCII, spaces and tabs. None when malformed or invalid."""
    if value is None:
        return None
    value = value.strip(" \t")
    match = _SENTINEL.fullmatch(value)
    if match is None:
        visible = value.isascii() and (value.isprintable() or _FIELD.fullmatch(value) is not None)  # tabs: rare
        return value if visible else None
    try:
        raw = base64.b64decode(match.group(1), validate=True)
        if base64.b64encode(raw).decode("ascii") != match.group(1):
            return None  # non-canonical (e.g. missing padding)
        return raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def annotations_of(schema: Any) -> tuple[Annotation, ...]:
    """The ``x-mcp-header`` annotations of a published input schema, one that
    :func:`mcp_middleware._header_rules.without_invalid_headers` returned: the rules are checked
    there (each annotation left is a token on a string, integer or boolean property reached through
    ``properties`` alone, unique case aside), so they are only read here."""
    found: list[Annotation] = []
    stack: list[tuple[tuple[str, ...], Any]] = [((), schema)]
    while stack:
        path, node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        if "x-mcp-header" in node:
            found.append((path, f"mcp-param-{node['x-mcp-header'].lower()}".encode("ascii"), node["type"]))
        properties = node.get("properties")
        if isinstance(properties, Mapping):
            stack.extend(((*path, str(k)), v) for k, v in properties.items())
    return tuple(found)


def _value_at(arguments: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = arguments
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _render(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return None


def _matches(kind: str, value: Any, decoded: str) -> bool:
    if kind == "integer" and _NUMBER.fullmatch(decoded) and not isinstance(value, bool):
        try:
            # exactly, however many digits (int() refuses past 4,300; no float rounding): 42 matches
            # 4.2e1 and 42.0, never 42.5; an exponent beyond decimal's range is InvalidOperation
            number = Decimal(decoded)
            if type(value) is _LongInt:  # beyond 308 digits, which the fallback parser keeps as an infinity
                return number == Decimal(value.digits)
            return number == (value if isinstance(value, int | float) else int(value))
        except (TypeError, ValueError, ArithmeticError):
            return False
    return decoded == _render(value)


def _mismatch(message: str) -> ProtocolError:
    return ProtocolError(codes.HEADER_MISMATCH, f"Header mismatch: {message}")


def check_param_headers(
    annotations: tuple[Annotation, ...],
    arguments: Mapping[str, Any],
    headers: Mapping[bytes, bytes],
    tolerate_missing: bool = False,
) -> tuple[str, ...]:
    """Each Mcp-Param-* header against its argument (-32020 on a mismatch). With
    ``tolerate_missing`` (a tolerated request's, review s10e), one missing for a present argument
    passes: the names of those (``Mcp-Param-Region``) are returned."""
    missing: tuple[str, ...] = ()
    for path, header, kind in annotations:
        found = headers.get(header)
        raw = None if found is None else found.decode("latin-1")
        value = _value_at(arguments, path)
        if value is None:
            if raw is not None:
                raise _mismatch(f"{_shown(header)} is present but argument {'.'.join(path)!r} is not")
            continue
        if raw is None:
            if tolerate_missing:
                missing += (_shown(header),)
                continue
            raise _mismatch(f"{_shown(header)} is missing for argument {'.'.join(path)!r}")
        decoded = decode_header(raw)
        if decoded is None:
            raise _mismatch(f"{_shown(header)} carries invalid characters or malformed base64")
        if not _matches(kind, value, decoded):
            raise _mismatch(f"{_shown(header)} does not match argument {'.'.join(path)!r}")
    return missing


def _shown(header: bytes) -> str:
    return header.decode("ascii").title()  # Mcp-Param-Region
