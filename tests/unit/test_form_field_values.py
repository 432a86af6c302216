"""A form field's value (urlencoded or multipart, not a file) is written as a query parameter's
is: a scalar as its text, an object or an array where one value is taken refused as the tool's
error, naming the argument (review: an object for a ``Form()`` string was sent as its JSON text,
while the same object for a query string was refused)."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Form, Query, UploadFile
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware
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
