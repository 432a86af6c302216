"""A route whose documented success body is not a JSON object (a list, a number, a string, a
boolean, an ``Optional[Item]``, a union) has its value wrapped: ``outputSchema`` is an object whose
required ``result`` holds the body's schema, ``structuredContent`` is ``{"result": <the body>}``,
and the text block is the route's JSON as it is. Every structured result is checked against its
tool's ``outputSchema`` as the official client checks it (``jsonschema``, the schema's own
dialect: 2020-12) and as a draft-07 client would."""

from __future__ import annotations

from typing import Any, Literal

import jsonschema  # type: ignore[import-untyped]  # no stubs in the test dependencies
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import build_catalog
from tests.support import BASE_HEADERS, call_modern, post, request

pytestmark = pytest.mark.anyio

WRAP = "x-fastmcp-wrap-result"


class Item(BaseModel):
    id: int
    name: str


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    meows: bool


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    barks: bool


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items", response_model=list[Item])
    def list_items() -> Any:
        return [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}]

    @app.get("/count")
    def count() -> int:
        return 3

    @app.get("/greeting")
    def greeting() -> str:
        return "hello"

    @app.get("/flag")
    def flag() -> bool:
        return False

    @app.get("/maybe/{item_id}")
    def maybe(item_id: int) -> Item | None:
        return Item(id=item_id, name="x") if item_id else None

    @app.get("/pet")
    def pet(dog: bool = False) -> Cat | Dog:
        return Dog(barks=True) if dog else Cat(meows=True)

    @app.get("/one")
    def one() -> Item:
        return Item(id=1, name="x")

    @app.get("/untyped")
    def untyped():  # type: ignore[no-untyped-def]  # documents any JSON: its shape is unknown
        return [1, 2]

    @app.get("/missing", response_model=list[Item])
    def missing() -> Any:
        raise HTTPException(404, "no items")

    @app.get("/wrong", response_model=list[Item])
    def wrong() -> Any:  # past its response model: FastAPI does not validate a Response
        return JSONResponse({"id": 1, "name": "x"})

    @app.get("/not-json", response_model=list[Item])
    def not_json() -> Any:
        return StreamingResponse(iter([b"[{"]), media_type="application/json")

    @app.get("/events", response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
    def events() -> Any:
        return StreamingResponse(iter([b"data: [1]\n\n"]), media_type="text/event-stream")

    app.add_middleware(MCPMiddleware)
    return app


def wrapped(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"result": schema}, "required": ["result"], WRAP: True}


async def tools(app: FastAPI) -> dict[str, Any]:
    reply = await call_modern(app, "tools/list")
    return {tool["name"]: tool for tool in reply.result()["tools"]}


async def call(app: FastAPI, name: str, arguments: dict[str, Any] | None = None, version: str = "") -> Any:
    params = {"name": name, "arguments": arguments or {}}
    if not version:  # 2026-07-28 (its results' own fields left out)
        result = (await call_modern(app, "tools/call", params, name)).result()
        return {key: value for key, value in result.items() if key not in ("_meta", "resultType")}
    reply = await post(app, request("tools/call", params), {**BASE_HEADERS, "mcp-protocol-version": version})
    return reply.result()


def valid(value: Any, schema: dict[str, Any]) -> None:
    """The official client's check (the schema's dialect, 2020-12 by default), and draft-07's."""
    jsonschema.validators.validator_for(schema)(schema).validate(value)
    jsonschema.Draft7Validator(schema).validate(value)


async def test_non_object_bodies_get_a_wrapped_output_schema() -> None:
    listed = await tools(make_app())
    item = listed["list_items"]["outputSchema"]["properties"]["result"]["items"]  # inlined
    assert item["required"] == ["id", "name"]
    assert "$defs" not in listed["list_items"]["outputSchema"]
    for name, kind in [("count", "integer"), ("greeting", "string"), ("flag", "boolean")]:
        schema = listed[name]["outputSchema"]
        assert schema == wrapped({"type": kind, "title": schema["properties"]["result"]["title"]}), name
    maybe = listed["maybe"]["outputSchema"]
    assert maybe["required"] == ["result"]
    assert maybe[WRAP] is True
    assert maybe["properties"]["result"]["anyOf"] == [item, {"type": "null"}]
    pet = listed["pet"]["outputSchema"]
    assert pet["type"] == "object"
    assert pet[WRAP] is True
    assert [branch["title"] for branch in pet["properties"]["result"]["anyOf"]] == ["Cat", "Dog"]  # inlined
    assert "$defs" not in pet


async def test_an_object_body_and_an_unknown_shape_are_as_before() -> None:
    listed = await tools(make_app())
    assert WRAP not in listed["one"]["outputSchema"]
    assert listed["one"]["outputSchema"]["required"] == ["id", "name"]
    assert "outputSchema" not in listed["untyped"]  # any JSON: no schema to wrap
    assert "outputSchema" not in listed["events"]  # an event stream has no structured content
    assert await call(make_app(), "events") == {"content": [{"type": "text", "text": "[1]"}]}
    assert (await call(make_app(), "one"))["structuredContent"] == {"id": 1, "name": "x"}


@pytest.mark.parametrize(
    ("name", "arguments", "text", "value"),
    [
        (
            "list_items",
            {},
            '[{"id":1,"name":"x"},{"id":2,"name":"y"}]',
            [{"id": 1, "name": "x"}, {"id": 2, "name": "y"}],
        ),
        ("count", {}, "3", 3),
        ("greeting", {}, '"hello"', "hello"),
        ("flag", {}, "false", False),
        ("maybe", {"item_id": 0}, "null", None),
        ("maybe", {"item_id": 4}, '{"id":4,"name":"x"}', {"id": 4, "name": "x"}),
        ("pet", {}, '{"kind":"cat","meows":true}', {"kind": "cat", "meows": True}),
        ("pet", {"dog": True}, '{"kind":"dog","barks":true}', {"kind": "dog", "barks": True}),
    ],
)
@pytest.mark.parametrize("version", ["", "2025-06-18", "2025-11-25"])
async def test_a_non_object_body_is_structured_as_its_result(
    name: str, arguments: dict[str, Any], text: str, value: Any, version: str
) -> None:
    app = make_app()
    result = await call(app, name, arguments, version)
    assert result == {"content": [{"type": "text", "text": text}], "structuredContent": {"result": value}}
    valid(result["structuredContent"], (await tools(app))[name]["outputSchema"])


@pytest.mark.parametrize("version", ["2024-11-05", "2025-03-26"])
async def test_a_revision_without_structured_content_gets_the_text(version: str) -> None:
    app = make_app()
    listed = (await post(app, request("tools/list"), {**BASE_HEADERS, "mcp-protocol-version": version})).result()
    assert all("outputSchema" not in tool for tool in listed["tools"])
    assert await call(app, "list_items", {}, version) == {
        "content": [{"type": "text", "text": '[{"id":1,"name":"x"},{"id":2,"name":"y"}]'}]
    }
    assert await call(app, "maybe", {"item_id": 0}, version) == {"content": [{"type": "text", "text": "null"}]}


async def test_an_error_status_has_no_structured_content() -> None:
    result = await call(make_app(), "missing")
    assert result == {"content": [{"type": "text", "text": "HTTP 404 Not Found: no items"}], "isError": True}


async def test_a_body_of_another_json_type_than_documented_is_an_error() -> None:
    """As an object missing a required property is: the official client would refuse it."""
    result = await call(make_app(), "wrong")
    assert "structuredContent" not in result
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "The tool has an output schema, but the route answered 200 OK with an object where the "
        'schema says array, so it is not this tool\'s result: {"id":1,"name":"x"}'
    )


async def test_a_body_that_is_not_json_is_an_error() -> None:
    result = await call(make_app(), "not_json")
    assert "structuredContent" not in result
    assert result["isError"] is True
    assert "not a JSON object" not in result["content"][0]["text"]
    assert result["content"][0]["text"] == (
        "The tool has an output schema, but the route answered 200 OK with a body that is not JSON: [{"
    )


class Noted(BaseModel):
    id: int
    note: str | None = None


async def test_a_route_leaving_out_nones_requires_them_in_no_item_but_its_result_stays_required() -> None:
    """``response_model_exclude_none``: an item's nullable property is not required (the route
    leaves it out), the wrapper's ``result`` is, a null body too."""
    app = FastAPI()

    @app.get("/noted", response_model=list[Noted], response_model_exclude_none=True)
    def noted() -> Any:
        return [Noted(id=1)]

    @app.get("/maybe", response_model=Noted | None, response_model_exclude_none=True)
    def maybe() -> Any:
        return None

    app.add_middleware(MCPMiddleware)
    listed = await tools(app)
    for name, value in [("noted", [{"id": 1}]), ("maybe", None)]:
        schema = listed[name]["outputSchema"]
        assert schema["required"] == ["result"]
        body = schema["properties"]["result"]
        assert (body["items"] if name == "noted" else body["anyOf"][0])["required"] == ["id"]
        result = await call(app, name)
        assert result["structuredContent"] == {"result": value}
        valid(result["structuredContent"], schema)


async def test_a_body_cut_short_is_an_error_that_says_json() -> None:
    app = FastAPI()

    @app.get("/big", response_model=list[int])
    def big() -> Any:
        return list(range(50_000))

    app.add_middleware(MCPMiddleware, max_result_chars=1000)
    result = await call(app, "big")
    assert result["isError"] is True
    assert "structuredContent" not in result
    assert result["content"][0]["text"].startswith("The tool has an output schema, so its result must be JSON in full")


def test_a_declared_output_schema_is_never_wrapped() -> None:
    """``x-mcp-output-schema`` is the result as it stands, FastMCP's marker or not; a documented
    array is wrapped, an ``object`` and a body of any JSON value (``{}``) are not."""
    declared = {"type": "object", "properties": {"result": {"type": "array"}}, WRAP: True}
    ok = {"200": {"description": "", "content": {"application/json": {"schema": {"type": "array"}}}}}
    anything = {"200": {"description": "", "content": {"application/json": {"schema": {"title": "Any"}}}}}
    doc = {
        "paths": {
            "/d": {"get": {"operationId": "d", "x-mcp-output-schema": declared, "responses": ok}},
            "/a": {"get": {"operationId": "a", "responses": ok}},
            "/n": {"get": {"operationId": "n", "responses": anything}},
        }
    }
    specs = {spec.name: spec for spec in build_catalog(doc).tools}
    assert specs["d"].tool["outputSchema"] == declared
    assert not specs["d"].wraps_result
    assert not specs["d"].output.wrapped
    assert specs["a"].wraps_result
    assert specs["a"].output.wrapped
    assert specs["a"].tool["outputSchema"] == wrapped({"type": "array", "items": {}})
    assert not specs["n"].has_output_schema
