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
        f"Route GET /c: {WHY}{output}",
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
