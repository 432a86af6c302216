"""``Mcp-Param-*`` checks (2026-07-28), one rule at a time; ``test_fuzz.py`` drives them end to end."""

from __future__ import annotations

import base64
import logging
from typing import Any

import orjson
import pytest
from fastapi import FastAPI, Query
from pydantic import BaseModel, Field

from mcp_middleware import MCPMiddleware
from mcp_middleware._header_rules import without_invalid_headers
from mcp_middleware.catalog import build_catalog
from mcp_middleware.jsonrpc import ProtocolError
from mcp_middleware.param_headers import Annotation, annotations_of, check_param_headers, decode_header
from tests.support import call_modern, meta, modern_headers, modern_request, post

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
        # streamable-http.mdx, Server Validation: integers SHOULD compare numerically (42.0 is 42)
        (LIMIT, {"limit": 42}, "4.2e1"),
        (LIMIT, {"limit": 42}, "+42"),
        (LIMIT, {"limit": 42}, "042"),
        (LIMIT, {"limit": 42}, "420E-1"),
        (LIMIT, {"limit": 42.0}, "4.2e+1"),
        (LIMIT, {"limit": -7}, "-0.7e1"),
        (LIMIT, {"limit": 5}, "5."),
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
        (LIMIT, {"limit": 5}, "5.5", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5}, "0.5e1.0", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5}, "5e", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5}, "0x5", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5}, "5_0", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5}, "NaN", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5}, "Infinity", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5}, "5e400", "Mcp-Param-Limit does not match argument 'limit'"),
        # an exponent beyond what decimal reads (InvalidOperation): no match, not a 500
        (LIMIT, {"limit": 5}, "5e99999999999999999999999", "Mcp-Param-Limit does not match argument 'limit'"),
        (LIMIT, {"limit": 5}, "5e-99999999999999999999999", "Mcp-Param-Limit does not match argument 'limit'"),
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
    for broken in (bad_type, bad_token, twice):  # the catalog reads the schema it publishes
        assert annotations_of(published(broken)[0]) == ()


def published(schema: dict[str, Any]) -> tuple[Any, tuple[str, ...]]:
    return without_invalid_headers(schema)


def test_a_schema_whose_annotations_are_all_valid_is_published_as_it_is() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "filter": {"type": "object", "properties": {"region": {"type": "string", "x-mcp-header": "Region"}}},
            "limit": {"type": "integer", "x-mcp-header": "Limit"},
        },
    }
    assert published(schema) == (schema, ())
    assert published(schema)[0] is schema  # no copy when nothing is stripped
    assert published({"type": "object"})[0] == {"type": "object"}


def test_invalid_annotations_are_stripped_and_the_valid_ones_kept() -> None:
    """2026-07-28 clients drop a tool with any invalid ``x-mcp-header`` (server/tools): the server
    publishes the tool without those, so the tool stays usable and its valid headers checked."""
    shared: dict[str, Any] = {"type": "object", "properties": {"deep": {"type": "string", "x-mcp-header": "Deep"}}}
    schema: dict[str, Any] = {
        "type": "object",
        "x-mcp-header": "Root",  # the root is no property
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "price": {"type": "number", "x-mcp-header": "Price"},
            "tags": {"type": "array", "items": {"type": "string", "x-mcp-header": "Tag"}},
            "maybe": {"type": ["string", "null"], "x-mcp-header": "Maybe"},
            "spaced": {"type": "string", "x-mcp-header": "no spaces"},
            "number": {"type": "string", "x-mcp-header": 7},
            "a": {"type": "string", "x-mcp-header": "Dup"},
            "b": {"type": "string", "x-mcp-header": "dup"},
            "sub": {"$ref": "#/$defs/Sub"},
            "either": {"anyOf": [{"type": "string", "x-mcp-header": "Either"}, {"type": "null"}]},
        },
        "$defs": {"Sub": shared},
    }
    stripped, problems = published(schema)
    assert stripped["properties"]["region"] == {"type": "string", "x-mcp-header": "Region"}
    text = orjson.dumps(stripped).decode()
    assert text.count("x-mcp-header") == 1, text
    assert annotations_of(stripped) == ((("region",), b"mcp-param-region", "string"),)
    assert stripped["properties"]["price"] == {"type": "number"}  # the rest of each schema as it was
    assert "x-mcp-header" in shared["properties"]["deep"]  # the original (its shared parts too) untouched
    assert "x-mcp-header" in schema["properties"]["price"]
    unreachable = "is not on a property reachable from the root through 'properties' alone"
    only = "and only integer, string and boolean properties may carry one"
    assert sorted(problems) == sorted(
        [
            f"the schema's root: x-mcp-header 'Root' {unreachable}",
            f"property 'price': x-mcp-header 'Price' is on a property of type 'number', {only}",
            f"/properties/tags/items: x-mcp-header 'Tag' {unreachable}",
            f"property 'maybe': x-mcp-header 'Maybe' is on a property of type ['string', 'null'], {only}",
            "property 'spaced': x-mcp-header 'no spaces' is not an HTTP token (RFC 9110)",
            "property 'number': x-mcp-header must be a string, not int",
            "property 'a': x-mcp-header 'Dup' is not unique, case aside (also on property 'b')",
            "property 'b': x-mcp-header 'dup' is not unique, case aside (also on property 'a')",
            f"/$defs/Sub/properties/deep: x-mcp-header 'Deep' {unreachable}",
            f"/properties/either/anyOf/0: x-mcp-header 'Either' {unreachable}",
        ]
    )


def test_one_schema_object_at_two_positions_is_stripped_at_each_alone() -> None:
    """A document may use one Python dict at two places (a hand-written ``x-mcp-input-schema`` or
    document given to ``build_catalog``). Stripping a copy that kept the sharing (``deepcopy``)
    removed the annotation from both places at once: the second removal raised ``KeyError``, which
    failed the whole catalog build, and a valid annotation sharing its dict with an invalid one was
    dropped unsaid. Each position is stripped on its own now; the schema given is untouched."""
    same: dict[str, Any] = {"type": "string", "x-mcp-header": "Region"}
    twice: dict[str, Any] = {"type": "object", "properties": {"a": same, "b": same}}
    stripped, problems = published(twice)
    assert stripped == {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}
    assert len(problems) == 2
    assert same == {"type": "string", "x-mcp-header": "Region"}
    zone: dict[str, Any] = {"type": "string", "x-mcp-header": "Zone"}
    also_in_defs: dict[str, Any] = {"type": "object", "properties": {"zone": zone}, "$defs": {"Zone": zone}}
    stripped, problems = published(also_in_defs)
    assert stripped["properties"]["zone"] == {"type": "string", "x-mcp-header": "Zone"}  # valid: kept
    assert stripped["$defs"]["Zone"] == {"type": "string"}
    assert problems == (
        "/$defs/Zone: x-mcp-header 'Zone' is not on a property reachable from the root through 'properties' alone",
    )
    assert annotations_of(stripped) == ((("zone",), b"mcp-param-zone", "string"),)
    assert zone == {"type": "string", "x-mcp-header": "Zone"}


def test_a_document_sharing_an_annotated_schema_still_builds_its_catalog() -> None:
    same: dict[str, Any] = {"type": "string", "x-mcp-header": "Region"}
    document = {
        "paths": {
            "/q": {
                "post": {
                    "responses": {},
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"type": "object", "properties": {"a": same, "b": same}}}
                        }
                    },
                }
            }
        }
    }
    (tool,) = build_catalog(document).tools
    assert tool.param_headers == ()
    assert "x-mcp-header" not in orjson.dumps(tool.tool["inputSchema"]).decode()


def test_the_header_check_reads_a_type_list_as_no_header_type() -> None:
    """A ``type`` list is no integer, string or boolean type: left out of the published schema, not
    a TypeError."""
    assert annotations_of(published({"properties": {"x": {"type": ["string", "null"], "x-mcp-header": "X"}}})[0]) == ()


class Quote(BaseModel):
    region: str = Field(json_schema_extra={"x-mcp-header": "Region"})
    price: float = Field(json_schema_extra={"x-mcp-header": "Price"})  # a number: not allowed


class Twice(BaseModel):
    a: str = Field(json_schema_extra={"x-mcp-header": "Dup"})
    b: str = Field(json_schema_extra={"x-mcp-header": "dup"})


def quoting_app() -> FastAPI:
    app = FastAPI()

    @app.post("/quote", operation_id="quote")
    async def quote(body: Quote) -> dict[str, Any]:
        return body.model_dump()

    @app.post("/twice", operation_id="twice")
    async def twice(body: Twice) -> dict[str, Any]:
        return body.model_dump()

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.anyio
async def test_a_tool_is_listed_without_its_invalid_annotations_and_a_warning_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The reviewer's case: ``price: float`` with an ``x-mcp-header`` made 2026-07-28 clients drop
    ``quote``, and the server stopped checking ``Mcp-Param-Region``. Now ``price`` is published
    without it, ``region`` keeps it and is checked; two names that differ only in case both go."""
    app = quoting_app()
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        tools = (await call_modern(app, "tools/list", {})).result()["tools"]
        again = (await call_modern(app, "tools/list", {})).result()["tools"]
    assert again == tools
    schemas = {tool["name"]: tool["inputSchema"] for tool in tools}
    assert schemas["quote"]["properties"]["region"]["x-mcp-header"] == "Region"
    assert "x-mcp-header" not in schemas["quote"]["properties"]["price"]
    assert "x-mcp-header" not in orjson.dumps(schemas["twice"]).decode()
    warnings = [r.getMessage() for r in caplog.records if "x-mcp-header" in r.getMessage()]
    only = "and only integer, string and boolean properties may carry one"
    assert warnings == [
        "Tool 'quote': x-mcp-header annotations that break the publishing rules (2026-07-28 clients would drop "
        "the tool) are left out of its input schema: property 'price': x-mcp-header 'Price' is on a property of "
        f"type 'number', {only}",
        "Tool 'twice': x-mcp-header annotations that break the publishing rules (2026-07-28 clients would drop "
        "the tool) are left out of its input schema: property 'a': x-mcp-header 'Dup' is not unique, case aside "
        "(also on property 'b'); property 'b': x-mcp-header 'dup' is not unique, case aside (also on property 'a')",
    ]
    params = {"name": "quote", "arguments": {"region": "eu", "price": 1.5}}
    headers = modern_headers("tools/call", "quote")
    unchecked = await post(app, modern_request("tools/call", params), headers)
    assert unchecked.status == 400  # Mcp-Param-Region is still required
    assert unchecked.error()["error"]["code"] == -32020
    sent = await post(app, modern_request("tools/call", params), {**headers, "mcp-param-region": "eu"})
    assert "isError" not in sent.result()
    assert orjson.loads(sent.result()["content"][0]["text"]) == {"region": "eu", "price": 1.5}


BIG = "123456789012345678901234567890"  # beyond 64 bits: orjson reads it as 1.2345678901234568e+29


def limits_app(annotated: bool = True) -> FastAPI:
    app = FastAPI()
    extra = {"x-mcp-header": "Limit"} if annotated else None

    @app.get("/items", operation_id="find_items")
    async def find_items(limit: int = Query(json_schema_extra=extra)) -> dict[str, int]:
        return {"limit": limit}

    app.add_middleware(MCPMiddleware)
    return app


def call_with_limit(digits: str) -> bytes:
    envelope = orjson.dumps(meta()).decode()
    return (
        '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"find_items",'
        f'"arguments":{{"limit":{digits}}},"_meta":{envelope}}}}}'
    ).encode()


@pytest.mark.anyio
@pytest.mark.parametrize("header", [BIG, "1.23456789012345678901234567890e29", "+" + BIG + ".0"])
async def test_a_header_matching_an_integer_beyond_64_bits_exactly_passes(header: str) -> None:
    """spec-checklist #45: integers compare numerically, so exactly, not as orjson's rounded float;
    the tool then refuses the integer (an input error), as without the header."""
    reply = await post(
        limits_app(), call_with_limit(BIG), {**modern_headers("tools/call", "find_items"), "mcp-param-limit": header}
    )
    assert reply.status == 200
    assert reply.result()["isError"] is True
    assert (
        "argument 'limit' holds an integer beyond 64 bits (about 1.23457e+29)" in reply.result()["content"][0]["text"]
    )


# the first: another integer that orjson rounds to the same float
@pytest.mark.anyio
@pytest.mark.parametrize("header", ["123456789012345677877719597056", BIG + "1", "5"])
async def test_a_header_naming_another_integer_than_one_beyond_64_bits_is_32020(header: str) -> None:
    reply = await post(
        limits_app(), call_with_limit(BIG), {**modern_headers("tools/call", "find_items"), "mcp-param-limit": header}
    )
    assert reply.status == 400
    assert reply.error()["error"] == {
        "code": -32020,
        "message": "Header mismatch: Mcp-Param-Limit does not match argument 'limit'",
    }


LONG = "9" * 400  # beyond 308 digits: the standard parser's fallback (_read_again) bounds it


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("argument", "header"),
    [
        (LONG, LONG),
        (LONG, "+" + LONG + ".0"),
        (LONG, "0" + LONG),
        ("-" + LONG, "-" + LONG),  # a negative one: its sign compared too
        ("-" + LONG, "-0" + LONG + ".0"),
    ],
)
async def test_a_header_matching_an_integer_of_more_than_308_digits_passes(argument: str, header: str) -> None:
    """orjson refuses the body (beyond a double's range) and the fallback keeps no exact value past
    308 digits: the header still compares equal, and the call gets what the same argument without a
    header gets (a tool without the annotation), the tool's isError refusal."""
    bare = await post(
        limits_app(annotated=False), call_with_limit(argument), modern_headers("tools/call", "find_items")
    )
    with_header = await post(
        limits_app(),
        call_with_limit(argument),
        {**modern_headers("tools/call", "find_items"), "mcp-param-limit": header},
    )
    assert bare.status == with_header.status == 200
    assert with_header.result() == bare.result()
    assert with_header.result()["isError"] is True
    assert (
        "argument 'limit' holds an integer beyond 64 bits (of 309 digits or more)"
        in (with_header.result()["content"][0]["text"])
    )


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("argument", "header"),
    [
        (LONG, "9" * 399 + "8"),
        (LONG, "9" * 401),
        (LONG, "-" + LONG),
        ("-" + LONG, LONG),
        ("-" + LONG, "-" + "9" * 399 + "8"),
        (LONG, "1e400"),
        (LONG, "5"),
    ],
)
async def test_a_header_naming_another_integer_than_one_of_more_than_308_digits_is_32020(
    argument: str, header: str
) -> None:
    reply = await post(
        limits_app(),
        call_with_limit(argument),
        {**modern_headers("tools/call", "find_items"), "mcp-param-limit": header},
    )
    assert reply.status == 400
    assert reply.error()["error"] == {
        "code": -32020,
        "message": "Header mismatch: Mcp-Param-Limit does not match argument 'limit'",
    }
