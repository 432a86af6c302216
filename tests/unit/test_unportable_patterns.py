"""A ``pattern`` (or ``patternProperties`` key) with no portable form, left out of a tool's schema
(:mod:`mcp_middleware._ecma_regex`), is named in a warning: once per route and property.

Review: ``Field(pattern=r"^\\w+$")`` or ``\\p{L}`` vanished from the input schema without a word,
while the other parts the catalog leaves out (an ``x-mcp-header`` that breaks the rules, a
declared property nothing maps) are warned about.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import build_catalog
from tests.support import post, request

pytestmark = pytest.mark.anyio

CATALOG = "mcp_middleware.catalog"
WHY = (
    "patterns with no portable form (ECMA-262 with and without the u flag and Python's re cannot read "
    "them alike: \\w, \\b, \\p{...}, a backreference, inline flags, ...) are left out of its schemas "
    "(the route still checks its arguments): "
)
# the heading of a warning about output schemas only: the route's results are as they were
OUTPUT_WHY = (
    "patterns with no portable form (ECMA-262 with and without the u flag and Python's re cannot read "
    "them alike: \\w, \\b, \\p{...}, a backreference, inline flags, ...) are left out of its output schema "
    "(the route's results are unchanged; clients check less of them): "
)
ITEM = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^\\p{L}+$"},
        "code": {"type": "string", "pattern": "^(?P<x>[a-z])$"},  # portable: ^([a-z])$(?!\n)
        "tags": {"type": "object", "patternProperties": {"^\\w+$": {"type": "string"}}},
        "inner": {"$ref": "#/components/schemas/Inner"},
    },
}
INNER = {"type": "object", "properties": {"deep": {"type": "string", "pattern": "(a)\\1"}}}


def _doc() -> dict[str, Any]:
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}
    answer = {
        "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}}
    }
    query = {"name": "q", "in": "query", "schema": {"type": "string", "pattern": "^\\w+$"}}
    plain = {"name": "p", "in": "query", "schema": {"type": "string", "pattern": "^[a-z]+$"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {
                "post": {"operationId": "make", "parameters": [query, plain], "requestBody": body, "responses": answer}
            },
            "/b": {"put": {"operationId": "again", "requestBody": body, "responses": answer}},
            "/c": {"get": {"operationId": "fine", "parameters": [plain], "responses": answer}},
        },
        "components": {"schemas": {"Item": ITEM, "Inner": INNER}},
    }


def _messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == CATALOG]


def test_a_pattern_left_out_is_named_once_per_route_and_property(caplog: pytest.LogCaptureFixture) -> None:
    """Each route names the properties of its schemas that lost a pattern: its arguments (a
    flattened body's fields too), its output schema's (a ``patternProperties`` key; an output
    schema has no ``pattern`` at all, by design, which is not named); a component's that stays a
    reference (``Inner``) is converted once, for every tool, and named with the first. A portable
    pattern is not named; a rebuilt catalog (``tools_changed``) says nothing again."""
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        catalog = build_catalog(_doc())
        build_catalog(_doc())
    assert [spec.name for spec in catalog.tools] == ["make", "again", "fine"]
    body = "input property 'name' pattern '^\\\\p{L}+$', input property 'tags' patternProperties key '^\\\\w+$'"
    output = "output property 'tags' patternProperties key '^\\\\w+$'"
    assert _messages(caplog) == [
        f"Route POST /a: {WHY}input property 'q' pattern '^\\\\w+$', {body}, input schema 'Inner' property 'deep' "
        f"pattern '(a)\\\\1', {output}",
        f"Route PUT /b: {WHY}{body}, {output}",
        f"Route GET /c: {OUTPUT_WHY}{output}",
    ]


class Named(BaseModel):
    name: str = Field(pattern=r"^\w+$")


async def test_a_fastapi_model_s_pattern_left_out_is_warned_about_at_the_first_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()

    @app.post("/named", operation_id="named")
    def named(body: Named) -> dict[str, str]:
        return {"name": body.name}

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await post(app, request("tools/list"))
    schema = reply.result()["tools"][0]["inputSchema"]
    assert "pattern" not in str(schema)
    assert _messages(caplog) == ["Route POST /named: " + WHY + "input property 'name' pattern '^\\\\w+$'"]


def _one_body(body: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"labels": body}}
    media = {"content": {"application/json": {"schema": schema}}}
    operation = {"operationId": "a", "requestBody": media, "responses": {"200": {"description": "ok"}}}
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"post": operation}}}


def _labels(doc: dict[str, Any]) -> Any:
    return build_catalog(doc).tools[0].tool["inputSchema"]["properties"]["labels"]


MIXED = {"^x_": {"type": "integer", "maximum": 5}, "^\\w+$": {"type": "string"}, "^(?P<n>y)_": {"type": "boolean"}}


def test_an_unportable_patternproperties_key_leaves_out_only_itself(caplog: pytest.LogCaptureFixture) -> None:
    """Review: one key with no portable form dropped every key of ``patternProperties``, the
    portable ones and their subschemas too (``^x_``'s maximum vanished). Only that key is dropped,
    the others kept, translated; the warning names it alone."""
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        labels = _labels(_one_body({"type": "object", "patternProperties": MIXED}))
    assert labels == {
        "type": "object",
        "patternProperties": {"^x_": {"type": "integer", "maximum": 5}, "^(y)_": {"type": "boolean"}},
    }
    assert _messages(caplog) == [f"Route POST /a: {WHY}input property 'labels' patternProperties key '^\\\\w+$'"]


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("additionalProperties", False),
        ("additionalProperties", {"type": "integer"}),
        ("unevaluatedProperties", False),
    ],
)
def test_a_dropped_key_takes_a_refusing_additionalproperties_with_it(
    caplog: pytest.LogCaptureFixture, keyword: str, value: Any
) -> None:
    """With ``additionalProperties: false`` (or a schema, or ``unevaluatedProperties``) beside
    them, the properties a dropped key matched would fall under it and be refused, a schema stricter
    than the server's: that keyword is left out too, and named; the portable keys stay."""
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        labels = _labels(_one_body({"type": "object", keyword: value, "patternProperties": MIXED}))
    assert labels == {
        "type": "object",
        "patternProperties": {"^x_": {"type": "integer", "maximum": 5}, "^(y)_": {"type": "boolean"}},
    }
    assert _messages(caplog) == [
        f"Route POST /a: {WHY}input property 'labels' patternProperties key '^\\\\w+$', "
        f"input property 'labels' {keyword} (it would refuse what a dropped key matches)"
    ]


@pytest.mark.parametrize("value", [True, {}])
def test_an_additionalproperties_that_refuses_nothing_stays(value: Any) -> None:
    labels = _labels(_one_body({"type": "object", "additionalProperties": value, "patternProperties": MIXED}))
    assert labels["additionalProperties"] == value
    assert set(labels["patternProperties"]) == {"^x_", "^(y)_"}


def test_a_portable_patternproperties_keeps_additionalproperties() -> None:
    portable = {"^x_": {"type": "integer"}}
    labels = _labels(_one_body({"type": "object", "additionalProperties": False, "patternProperties": portable}))
    assert labels == {"type": "object", "additionalProperties": False, "patternProperties": portable}


def test_no_portable_key_leaves_out_the_keyword() -> None:
    labels = _labels(_one_body({"type": "object", "patternProperties": {"^\\w+$": {"type": "string"}}}))
    assert labels == {"type": "object"}
