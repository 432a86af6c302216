"""OpenAPI 3.0's dialect in tool schemas: ``nullable`` and boolean ``exclusiveMinimum``/``Maximum``.

Starlette's ``SchemaGenerator`` docstrings are written as ``openapi: 3.0.0`` by convention, and an
app's own ``app.openapi()`` may emit 3.0. Neither keyword means that in JSON Schema 2020-12 (the
TypeScript SDK's ajv throws on a boolean ``exclusiveMaximum`` while listing the tools, and a
dropped ``nullable`` made an output schema refuse the route's ``null``), so both are translated.
"""

from __future__ import annotations

from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the test dependencies
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_middleware import MCPMiddleware
from mcp_middleware._schema import SchemaSet
from mcp_middleware.catalog import build_catalog, catalog_from_app
from tests.support import call_legacy

NULL = {"type": "null"}


def _output(schema: Any, components: Any = None) -> Any:
    return SchemaSet(components).convert(schema, set(), collapse=False)


def _input(schema: Any, components: Any = None) -> Any:
    return SchemaSet(components).convert(schema, set(), collapse=True)


def _valid(schema: Any) -> None:
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft7Validator.check_schema(schema)


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string", "nullable": True}, {"anyOf": [{"type": "string"}, NULL]}),
        # annotations describe the whole value, so they stay outside (pydantic's Optional shape)
        (
            {"type": "integer", "minimum": 1, "nullable": True, "description": "d", "default": 3, "example": 4},
            {"anyOf": [{"type": "integer", "minimum": 1}, NULL], "description": "d", "default": 3, "example": 4},
        ),
        # an enum without null still takes null: the branch is beside it
        (
            {"type": "string", "enum": ["a", "b"], "nullable": True},
            {"anyOf": [{"type": "string", "enum": ["a", "b"]}, NULL]},
        ),
        # a $ref's siblings: the reference is one branch
        ({"$ref": "#/components/schemas/A", "nullable": True}, {"anyOf": [{"$ref": "#/$defs/A"}, NULL]}),
        (
            {"allOf": [{"$ref": "#/components/schemas/A"}], "nullable": True},
            {"anyOf": [{"allOf": [{"$ref": "#/$defs/A"}]}, NULL]},
        ),
        # nothing said of the type: null is taken already
        ({"nullable": True}, {}),
        ({"description": "any", "nullable": True}, {"description": "any"}),
        ({"type": "string", "nullable": False}, {"type": "string"}),
        ({"type": "string", "nullable": "yes"}, {"type": "string"}),
        # inside properties and items too
        (
            {"type": "array", "items": {"type": "number", "nullable": True}},
            {"type": "array", "items": {"anyOf": [{"type": "number"}, NULL]}},
        ),
    ],
)
def test_nullable_becomes_a_null_branch(schema: Any, expected: Any) -> None:
    converted = _output(schema, {"A": {"type": "string"}})
    assert converted == expected
    _valid(converted)


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "integer", "minimum": 0, "exclusiveMinimum": True}, {"type": "integer", "exclusiveMinimum": 0}),
        ({"exclusiveMaximum": True, "maximum": 100, "type": "number"}, {"exclusiveMaximum": 100, "type": "number"}),
        ({"type": "integer", "minimum": 0, "exclusiveMinimum": False}, {"type": "integer", "minimum": 0}),
        ({"type": "integer", "maximum": 9, "exclusiveMaximum": False}, {"type": "integer", "maximum": 9}),
        # a boolean without its bound says nothing
        ({"type": "integer", "exclusiveMinimum": True}, {"type": "integer"}),
        ({"type": "integer", "exclusiveMaximum": True, "minimum": 1}, {"type": "integer", "minimum": 1}),
        # JSON Schema's own numeric form stays
        (
            {"type": "integer", "exclusiveMinimum": 0, "maximum": 5},
            {"type": "integer", "exclusiveMinimum": 0, "maximum": 5},
        ),
        (
            {"minimum": 1, "exclusiveMinimum": True, "maximum": 2, "exclusiveMaximum": True},
            {"exclusiveMinimum": 1, "exclusiveMaximum": 2},
        ),
    ],
)
def test_boolean_exclusive_bounds_become_numbers(schema: Any, expected: Any) -> None:
    for converted in (_output(schema), _input(schema)):
        assert converted == expected
        _valid(converted)


def test_a_nullable_component_takes_null_where_it_is_referenced() -> None:
    schemas = SchemaSet({"Nick": {"type": "string", "nullable": True}})
    refs: set[str] = set()
    schema = schemas.convert(
        {"type": "object", "properties": {"n": {"$ref": "#/components/schemas/Nick"}}}, refs, collapse=False
    )
    standalone = schemas.standalone(schema, refs, collapse=False)
    assert standalone["properties"]["n"] == {"anyOf": [{"type": "string"}, NULL]}


def _doc(parameters: list[Any], body: Any = None, response: Any = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": "op", "parameters": parameters, "responses": {}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if response is not None:
        operation["responses"]["200"] = {"description": "ok", "content": {"application/json": {"schema": response}}}
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/op": {"post": operation}}}


def test_input_schemas_treat_nullable_as_pydantics_optional() -> None:
    """As for ``Optional[X]``: a query parameter (null cannot be sent) and an optional body
    property defaulting to None are plain ``X``; a required body property keeps its null."""
    body = {
        "type": "object",
        "required": ["must"],
        "properties": {
            "must": {"type": "string", "nullable": True},
            "may": {"type": "string", "nullable": True},
            "kept": {"type": "integer", "nullable": True, "default": 2},
        },
    }
    query = {"name": "q", "in": "query", "schema": {"type": "integer", "nullable": True, "default": 0}}
    tool = build_catalog(_doc([query], body)).tools[0].tool
    schema = tool["inputSchema"]
    _valid(schema)
    assert schema["properties"]["q"] == {"type": "integer", "default": 0}
    assert schema["properties"]["must"] == {"anyOf": [{"type": "string"}, NULL]}
    assert schema["properties"]["may"] == {"type": "string"}
    assert schema["properties"]["kept"] == {"anyOf": [{"type": "integer"}, NULL], "default": 2}


def test_a_custom_openapi_30_document_gives_valid_schemas() -> None:
    """The reviewer's app: ``app.openapi()`` replaced by a 3.0 document."""
    doc = _doc(
        [
            {
                "name": "q",
                "in": "query",
                "schema": {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "nullable": True},
            }
        ],
        response={"$ref": "#/components/schemas/Out"},
    )
    doc["components"] = {
        "schemas": {
            "Out": {
                "type": "object",
                "properties": {"a": {"type": "integer", "nullable": True, "exclusiveMaximum": True, "maximum": 100}},
            }
        }
    }
    tool = build_catalog(doc).tools[0].tool
    for key in ("inputSchema", "outputSchema"):
        _valid(tool[key])
    assert tool["inputSchema"]["properties"]["q"] == {"type": "integer", "exclusiveMinimum": 0}
    assert tool["outputSchema"]["properties"]["a"] == {"anyOf": [{"type": "integer", "exclusiveMaximum": 100}, NULL]}
    validator = jsonschema.Draft202012Validator(tool["outputSchema"])
    assert validator.is_valid({"a": None})
    assert validator.is_valid({"a": 99})
    assert not validator.is_valid({"a": 100})


async def get_user(request: Request) -> JSONResponse:
    """Get a user.

    ---
    parameters:
      - {name: page, in: query, required: false, schema: {type: integer, minimum: 0, exclusiveMinimum: true}}
    responses:
      200:
        description: a user
        content:
          application/json:
            schema:
              type: object
              required: [name, nickname]
              properties:
                name: {type: string}
                nickname: {type: string, nullable: true}
                rank: {type: integer, minimum: 0, maximum: 10, exclusiveMaximum: true}
    """
    return JSONResponse({"name": "ann", "nickname": None, "rank": 9})


def _starlette() -> Starlette:
    app = Starlette(routes=[Route("/user", get_user)])
    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.anyio
async def test_a_starlette_30_docstring_gives_valid_schemas_and_a_result_that_fits_them() -> None:
    app = _starlette()
    tools = (await call_legacy(app, "tools/list")).result()["tools"]
    (tool,) = tools
    for key in ("inputSchema", "outputSchema"):
        _valid(tool[key])
    result = (await call_legacy(app, "tools/call", {"name": tool["name"], "arguments": {}})).result()
    assert result["structuredContent"] == {"name": "ann", "nickname": None, "rank": 9}
    jsonschema.Draft202012Validator(tool["outputSchema"]).validate(result["structuredContent"])


def test_fastapi_schemas_are_unchanged() -> None:
    """A 3.1 document (FastAPI's own) has neither keyword: nothing to translate."""
    app = FastAPI()

    @app.get("/n")
    def n(q: int | None = None) -> dict[str, int | None]:
        return {"q": q}

    tool = catalog_from_app(app).tools[0].tool
    assert tool["inputSchema"]["properties"]["q"] == {"type": "integer", "title": "Q"}
