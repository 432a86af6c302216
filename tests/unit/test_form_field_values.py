"""A form field's value (urlencoded or multipart, not a file) is written as a query parameter's
is: a scalar as its text, an object or an array where one value is taken refused as the tool's
error, naming the argument (review: an object for a ``Form()`` string was sent as its JSON text,
while the same object for a query string was refused)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Form, Query, Request, UploadFile
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import ArgumentError, catalog_from_app
from tests.support import call_tool, refusal_text, result_json

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "2026-07-28"]


class Login(BaseModel):
    username: str
    tags: list[str] = []


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/search", operation_id="search")
    async def search(q: str, tags: Annotated[list[str] | None, Query()] = None) -> dict[str, Any]:
        return {"q": q, "tags": tags}

    @app.post("/login", operation_id="login")
    async def login(username: Annotated[str, Form()], tags: Annotated[list[str], Form()] = []) -> dict[str, Any]:  # noqa: B006
        return {"username": username, "tags": tags}

    @app.post("/model", operation_id="model")
    async def model(data: Annotated[Login, Form()]) -> dict[str, Any]:
        return {"username": data.username, "tags": data.tags}

    @app.post("/upload", operation_id="upload")
    async def upload(
        file: UploadFile,
        username: Annotated[str, Form()],
        tags: Annotated[list[str], Form()] = [],  # noqa: B006
    ) -> dict[str, Any]:
        return {"username": username, "tags": tags}

    app.add_middleware(MCPMiddleware)
    return app


# each tool's single string argument and list of strings argument (``q`` a query parameter; the
# others form fields: urlencoded, a form parameter model's, multipart beside a file)
TOOLS = {
    "search": ("q", {}),
    "login": ("username", {}),
    "model": ("username", {}),
    "upload": ("username", {"file": "AAE="}),
}


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("tool", list(TOOLS))
@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"one": {"a": 1}}, "one"),  # an object for a single value
        ({"one": "x", "tags": {"a": 1}}, "tags"),  # an object for a list
        ({"one": "x", "tags": ["a", {"a": 1}]}, "tags"),  # an object in a list
        ({"one": "x", "tags": [["a"]]}, "tags"),  # an array in a list
    ],
)
async def test_an_object_or_nested_array_for_a_field_is_refused_as_for_a_query(
    era: str, tool: str, arguments: dict[str, Any], name: str
) -> None:
    one, others = TOOLS[tool]
    given = {one if key == "one" else key: value for key, value in arguments.items()}
    argument = one if name == "one" else name
    result = await call_tool(_app(), era, tool, {**others, **given})
    assert refusal_text(result) == (
        f"Invalid arguments for tool {tool!r}: argument {argument!r} must be a string, number or boolean"
    )


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("tool", list(TOOLS))
async def test_an_array_for_a_single_value_is_refused_as_for_a_query(era: str, tool: str) -> None:
    one, others = TOOLS[tool]
    result = await call_tool(_app(), era, tool, {**others, one: ["a", "b"]})
    assert (
        refusal_text(result)
        == f"Invalid arguments for tool {tool!r}: argument {one!r} takes a single value, not an array"
    )


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("tool", list(TOOLS))
async def test_scalars_are_their_text_and_a_list_of_strings_repeats(era: str, tool: str) -> None:
    one, others = TOOLS[tool]
    app = _app()
    result = await call_tool(app, era, tool, {**others, one: "a b&c", "tags": ["x", "y z"]})
    assert result_json(result) == {one: "a b&c", "tags": ["x", "y z"]}
    result = await call_tool(app, era, tool, {**others, one: 5, "tags": [1.5, True, False]})
    assert result_json(result) == {one: "5", "tags": ["1.5", "true", "false"]}


def _structured_app() -> FastAPI:
    """Form fields whose own schema takes an object, or an array in their array: such a value is
    sent as its JSON text (OpenAPI's multipart encoding default for an object property)."""
    app = FastAPI()
    urlencoded = {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "required": ["meta"],
                        "properties": {
                            "meta": {"type": "object"},
                            "ids": {"type": "array", "items": {"type": "array"}},
                            "name": {"type": "string"},
                        },
                    }
                }
            },
        }
    }
    multipart = {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["meta"],
                        "properties": {
                            "meta": {"type": "object", "properties": {"a": {"type": "integer"}}},
                            "note": {"type": "string"},
                        },
                    },
                    "encoding": {"meta": {"contentType": "application/json"}},
                }
            },
        }
    }

    @app.post("/extra_ue", operation_id="extra_ue", openapi_extra=urlencoded)
    async def extra_ue(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {"meta": form["meta"], "ids": form.getlist("ids"), "name": form.get("name")}

    @app.post("/extra_mp", operation_id="extra_mp", openapi_extra=multipart)
    async def extra_mp(request: Request) -> dict[str, Any]:
        form = await request.form()
        return {"meta": form["meta"], "note": form.get("note")}

    @app.post("/union", operation_id="union")
    async def union(x: Annotated[str | dict[str, Any], Form()]) -> dict[str, Any]:
        return {"x": x}

    @app.post("/anyfield", operation_id="anyfield")
    async def anyfield(x: Annotated[Any, Form()]) -> dict[str, Any]:
        return {"x": x}

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        (
            "extra_ue",
            {"meta": {"a": 1}, "ids": [[1, 2], [3]]},
            {"meta": '{"a":1}', "ids": ["[1,2]", "[3]"], "name": None},
        ),
        ("extra_mp", {"meta": {"a": 1}, "note": "n"}, {"meta": '{"a":1}', "note": "n"}),
        ("union", {"x": {"a": 1}}, {"x": '{"a":1}'}),
        ("anyfield", {"x": {"a": [1, "b"]}}, {"x": '{"a":[1,"b"]}'}),
        ("anyfield", {"x": "plain"}, {"x": "plain"}),
    ],
)
async def test_a_field_whose_schema_takes_an_object_or_array_gets_its_json_text(
    era: str, tool: str, arguments: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert result_json(await call_tool(_structured_app(), era, tool, arguments)) == expected


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("tool", "arguments", "name"),
    [
        ("extra_ue", {"meta": {"a": 1}, "name": {"a": 1}}, "name"),  # a string field beside object ones
        ("extra_mp", {"meta": {"a": 1}, "note": {"a": 1}}, "note"),  # a string beside an object part
    ],
)
async def test_a_plain_field_beside_structured_ones_still_refuses_an_object(
    era: str, tool: str, arguments: dict[str, Any], name: str
) -> None:
    result = await call_tool(_structured_app(), era, tool, arguments)
    assert refusal_text(result) == (
        f"Invalid arguments for tool {tool!r}: argument {name!r} must be a string, number or boolean"
    )


def test_a_structured_field_too_deep_for_json_is_an_argument_error() -> None:
    """Refused as JSON text too deep for orjson (the SDK's check accepts any depth; the test
    client's encoder would refuse it, so the tool's request is built directly)."""
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(300):
        node["k"] = {}
        node = node["k"]
    union = catalog_from_app(_structured_app()).get("union")
    assert union is not None
    with pytest.raises(ArgumentError, match=r"^argument 'x' cannot be encoded as JSON"):
        union.build_request({"x": deep})
