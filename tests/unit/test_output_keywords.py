"""Output schemas keep only the ``format``, ``multipleOf`` and ``maxLength`` keywords that every JSON value
pydantic writes for them satisfies, as the official clients check them (the TypeScript SDK's ajv
with ajv-formats, the Python SDK's ``jsonschema``); input schemas keep them all."""

from __future__ import annotations

import datetime
import ipaddress
import uuid
from pathlib import Path
from typing import Annotated, Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the test dependencies
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field, HttpUrl, IPvAnyAddress, PostgresDsn, SecretStr, WithJsonSchema

from mcp_middleware import MCPMiddleware
from mcp_middleware._schema import SchemaSet
from tests.support import BASE_HEADERS, post, request

pytestmark = pytest.mark.anyio

HEADERS = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}  # a revision with output schemas
# EmailStr needs email-validator, no test dependency: a str documented as pydantic documents it
Email = Annotated[str, WithJsonSchema({"type": "string", "format": "email"})]


class Sale(BaseModel):
    amount: float = Field(multiple_of=0.01)  # 19.99 is "not a multiple of 0.01" for both clients
    units: float = Field(multiple_of=3)  # pydantic's float check has a tolerance
    boxes: int = Field(multiple_of=6)  # an integer's check is exact, in pydantic and the clients
    email: Email
    url: HttpUrl
    host: ipaddress.IPv6Address
    anyhost: IPvAnyAddress
    dsn: PostgresDsn
    where: Path
    v4: ipaddress.IPv4Address
    day: datetime.date
    ref: uuid.UUID
    secret: SecretStr
    raw: bytes


SALE = {
    "amount": 19.99,
    "units": 3.0000000001,  # 1e-10 off: pydantic takes it, the clients do not
    "boxes": 12,
    "email": "josé@example.com",
    "url": "https://maps.example.com/?markers=a|b&q={x}^",
    "host": "fe80::1%eth0",
    "anyhost": "fe80::1%eth0",
    "dsn": "postgres://u:p@h1,h2/db",
    "where": "/tmp/x",
    "v4": "10.0.0.1",
    "day": "2024-02-29",
    "ref": "A8098C1A-F86E-11DA-BD1A-00112444BE1E",
    "secret": "s",
    "raw": "abc",
}


class Link(BaseModel):
    url: HttpUrl
    name: str = Field(max_length=5)


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/sale", operation_id="sale")
    def sale(body: Sale) -> Sale:
        return body

    app.add_middleware(MCPMiddleware)
    return app


def _found(schema: Any, key: str) -> list[tuple[str, Any]]:
    """Every ``key`` in ``schema`` with the property it sits under (nested, sorted)."""
    found: list[tuple[str, Any]] = []
    for name, prop in schema.get("properties", {}).items():
        found += [(name, value) for _, value in _found(prop, key)] if "properties" in prop else []
        found += [(name, prop[key])] if key in prop else []
    return sorted(found)


async def _tool(app: FastAPI) -> dict[str, Any]:
    tools = (await post(app, request("tools/list", {}), HEADERS)).result()["tools"]
    return next(tool for tool in tools if tool["name"] == "sale")


async def test_output_schemas_keep_only_the_formats_pydantic_json_always_satisfies() -> None:
    """Regression: ``EmailStr`` takes ``josé@example.com`` (ajv-formats' ``email`` is ASCII),
    ``HttpUrl`` writes ``|``, ``{`` and ``^`` unescaped (ajv-formats' ``uri`` refuses them), an
    ``IPv6Address`` may be scoped, ``fe80::1%eth0`` (ajv-formats' ``ipv6`` and ``jsonschema``'s
    refuse it): the TypeScript client refused those results. Formats no client knows (``path``,
    ``multi-host-uri``, ``ipvanyaddress``) go too: ajv logs "unknown format ignored" for each
    whenever it compiles the schema. ``date``, ``uuid``, ``ipv4``, ``password`` and ``binary``
    stay (pydantic's JSON always fits them). Input schemas keep every format."""
    tool = await _tool(_app())
    assert _found(tool["outputSchema"], "format") == [
        ("day", "date"),
        ("ref", "uuid"),
        ("secret", "password"),
        ("v4", "ipv4"),
    ]
    assert [name for name, _ in _found(tool["inputSchema"], "format")] == sorted(
        ["anyhost", "day", "dsn", "email", "host", "ref", "secret", "url", "v4", "where"]
    )


async def test_output_schemas_keep_multiple_of_only_on_an_integer_by_an_integer() -> None:
    """Regression: ``Field(multiple_of=0.01)`` on a float: 19.99 is no multiple of 0.01 in floating
    point (both clients divide), and pydantic's float check has a tolerance (3.0000000001 is a
    multiple of 3 to it), so even ``multiple_of=3`` on a float is stricter in a client. An
    integer's is exact everywhere, and is written as an integer."""
    tool = await _tool(_app())
    assert _found(tool["outputSchema"], "multipleOf") == [("boxes", 6)]
    assert type(tool["outputSchema"]["properties"]["boxes"]["multipleOf"]) is int  # FastAPI says 6.0
    assert _found(tool["inputSchema"], "multipleOf") == [("amount", 0.01), ("boxes", 6), ("units", 3.0)]


async def test_the_results_of_such_a_route_pass_the_clients_checks() -> None:
    """The result's ``structuredContent`` validates against the ``outputSchema`` with the formats
    checked (``jsonschema``'s ``FormatChecker``, as a client checking formats does): before, the
    ``multipleOf`` of 0.01, the scoped ``ipv6`` refused it."""
    app = _app()
    tool = await _tool(app)
    params = {"name": "sale", "arguments": SALE}
    result = (await post(app, request("tools/call", params), HEADERS)).result()
    assert result.get("isError") is not True, result
    assert result["structuredContent"]["amount"] == 19.99
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.Draft202012Validator(tool["outputSchema"], format_checker=checker).validate(result["structuredContent"])


@pytest.mark.parametrize(
    ("schema", "kept"),
    [
        ({"type": "integer", "multipleOf": 5}, True),
        ({"type": ["integer", "null"], "multipleOf": 5}, True),
        ({"type": "integer", "multipleOf": 5.0}, True),  # as FastAPI writes it, and then an integer
        ({"type": "integer", "multipleOf": 0.5}, False),  # pydantic compares as floats then
        ({"type": "integer", "multipleOf": 0}, False),  # no valid JSON Schema
        ({"type": "integer", "multipleOf": True}, False),
        ({"type": "number", "multipleOf": 5}, False),
        ({"type": ["integer", "number"], "multipleOf": 5}, False),
        ({"multipleOf": 5}, False),  # no type: a float may be checked
    ],
)
def test_multiple_of_in_output_and_input_schemas(schema: dict[str, Any], kept: bool) -> None:
    schemas = SchemaSet({})
    assert schemas.convert(schema, set(), collapse=False).get("multipleOf") == (5 if kept else None)
    assert schemas.convert(schema, set(), collapse=True) == schema


async def test_output_schemas_leave_out_a_url_types_max_length() -> None:
    """Regression: ``HttpUrl`` takes up to 2,083 characters and then percent-encodes what it took
    (a space is ``%20``), so the URL it writes may be longer than its schema's ``maxLength``: the
    clients refused such a result. Output schemas leave a URL type's ``maxLength`` out; input
    schemas keep it (pydantic checks what it is given)."""
    app = FastAPI()

    @app.post("/link", operation_id="link")
    def link(body: Link) -> Link:
        return body

    app.add_middleware(MCPMiddleware)
    tools = (await post(app, request("tools/list", {}), HEADERS)).result()["tools"]
    tool = next(tool for tool in tools if tool["name"] == "link")
    assert _found(tool["outputSchema"], "maxLength") == [("name", 5)]
    assert _found(tool["inputSchema"], "maxLength") == [("name", 5), ("url", 2083)]
    url = "https://example.com/" + "a b" * 680  # 2,060 characters taken, 3,420 written
    params = {"name": "link", "arguments": {"url": url, "name": "x"}}
    result = (await post(app, request("tools/call", params), HEADERS)).result()
    assert result.get("isError") is not True, result
    assert len(result["structuredContent"]["url"]) > 2083
    jsonschema.Draft202012Validator(tool["outputSchema"]).validate(result["structuredContent"])


@pytest.mark.parametrize(
    ("schema", "kept"),
    [
        ({"type": "string", "format": "uri", "maxLength": 9}, False),
        ({"type": "string", "format": "multi-host-uri", "maxLength": 9}, False),  # PostgresDsn
        ({"type": "string", "maxLength": 9}, True),
        ({"type": "string", "format": "email", "maxLength": 9}, True),
    ],
)
def test_max_length_in_output_schemas(schema: dict[str, Any], kept: bool) -> None:
    schemas = SchemaSet({})
    assert schemas.convert(schema, set(), collapse=False).get("maxLength") == (9 if kept else None)
    assert schemas.convert(schema, set(), collapse=True) == schema


@pytest.mark.parametrize("name", ["email", "idn-email", "uri", "uri-reference", "ipv6", "hostname", "path", "int64"])
def test_a_format_left_out_of_output_schemas_stays_in_input_schemas(name: str) -> None:
    schema = {"type": "string", "format": name}
    schemas = SchemaSet({})
    assert schemas.convert(schema, set(), collapse=False) == {"type": "string"}
    assert schemas.convert(schema, set(), collapse=True) == schema
