"""``Mcp-Param-*`` checks (2026-07-28), one rule at a time; ``test_fuzz.py`` drives them end to end."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from mcp_middleware.jsonrpc import ProtocolError
from mcp_middleware.param_headers import Annotation, annotations_of, check_param_headers, decode_header

REGION: Annotation = (("filter", "region"), b"mcp-param-region", "string")
LIMIT: Annotation = (("limit",), b"mcp-param-limit", "integer")


MALFORMED = "carries invalid characters or malformed base64"


def b64(text: str) -> str:
    return "=?base64?" + base64.b64encode(text.encode()).decode() + "?="


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (None, None),
        ("eu", "eu"),
        (" eu\t", "eu"),
        (b64("zürich"), "zürich"),
        ("=?base64?ZXU?=", None),  # "eu" without its padding: not the canonical form
        ("=?base64?ZXV=?=", None),  # decodes to "eu" too (stray low bits), but "ZXU=" is canonical
        ("=?base64?ZX#1?=", None),  # not base64 at all
        ("=?base64?/w==?=", None),  # base64 of bytes that are not UTF-8
        ("a b\tc", "a b\tc"),  # spaces and tabs inside are field content
        ("z\xfcrich", None),  # a raw non-ASCII byte (read as latin-1): must come as base64
        ("a\x01b", None),  # control characters are invalid in a field value
        ("a\x7fb", None),
        ("a\nb", None),
    ],
)
def test_decode_header(raw: str | None, decoded: str | None) -> None:
    assert decode_header(raw) == decoded


def check(annotation: Annotation, arguments: dict[str, Any], value: str | None) -> None:
    headers = {} if value is None else {annotation[1]: value.encode("latin-1")}
    check_param_headers((annotation,), arguments, headers)


@pytest.mark.parametrize(
    ("annotation", "arguments", "header"),
    [
        (REGION, {"filter": {"region": "eu"}}, "eu"),
        (REGION, {"filter": {"region": "zürich"}}, b64("zürich")),
        (REGION, {"filter": {}}, None),
        (REGION, {}, None),
        (LIMIT, {"limit": 5}, "5"),
        (LIMIT, {"limit": 5.0}, "5"),
        (LIMIT, {"limit": 5}, "5.00"),
        (LIMIT, {"limit": None}, None),
        (REGION, {"filter": {"region": "a\tb c"}}, "a\tb c"),
    ],
)
def test_matching_headers_pass(annotation: Annotation, arguments: dict[str, Any], header: str | None) -> None:
    check(annotation, arguments, header)


@pytest.mark.parametrize(
    ("annotation", "arguments", "header", "message"),
    [
        (REGION, {"filter": {"region": "eu"}}, None, "Mcp-Param-Region is missing for argument 'filter.region'"),
        (REGION, {"filter": "eu"}, "eu", "Mcp-Param-Region is present but argument 'filter.region' is not"),
        (REGION, {"filter": {"region": "eu"}}, "us", "Mcp-Param-Region does not match argument 'filter.region'"),
        (REGION, {"filter": {"region": "eu"}}, "=?base64?ZXU?=", f"Mcp-Param-Region {MALFORMED}"),
        (REGION, {"filter": {"region": "zürich"}}, "zürich", f"Mcp-Param-Region {MALFORMED}"),
        (REGION, {"filter": {"region": "a\x01b"}}, "a\x01b", f"Mcp-Param-Region {MALFORMED}"),
        (LIMIT, {"limit": 5}, "5\x7f", f"Mcp-Param-Limit {MALFORMED}"),
        (LIMIT, {"limit": "five"}, "5", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": True}, "1", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5.5}, "5", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5.0}, "five", "Mcp-Param-Limit does not match argument 'limit'"),
        # fuzzing: more digits than Python converts (4,300) raised ValueError, a 500
        (LIMIT, {"limit": 5}, "1" * 4301, "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5}, "-" + "0" * 5000, "Mcp-Param-Limit does not match argument 'limit'"),
        (REGION, {"filter": {"region": ["eu"]}}, "eu", "Mcp-Param-Region does not match argument 'filter.region'"),
    ],
)
def test_mismatches_are_32020(
    annotation: Annotation, arguments: dict[str, Any], header: str | None, message: str
) -> None:
    with pytest.raises(ProtocolError) as caught:
        check(annotation, arguments, header)
    assert caught.value.code == -32020
    assert caught.value.message == f"Header mismatch: {message}"


def test_annotations_follow_the_publishing_rules() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "filter": {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}},
            "limit": {"type": "integer", "x-mcp-header": "Limit"},
        },
    }
    assert sorted(annotations_of(schema)) == sorted([REGION, LIMIT])
    with_boolean_schema = {"properties": {"anything": True, "limit": {"type": "integer", "x-mcp-header": "Limit"}}}
    assert annotations_of(with_boolean_schema) == (LIMIT,)  # a `true` schema has nothing to annotate
    bad_type = {"properties": {"x": {"type": "array", "x-mcp-header": "X"}}}
    bad_token = {"properties": {"x": {"type": "string", "x-mcp-header": "no spaces"}}}
    twice = {"properties": {"a": {"type": "string", "x-mcp-header": "A"}, "b": {"type": "string", "x-mcp-header": "a"}}}
    for broken in (bad_type, bad_token, twice):
        assert annotations_of(broken) == ()  # the whole tool's annotations are ignored
