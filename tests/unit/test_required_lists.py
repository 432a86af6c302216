"""A required list parameter sent as repeated values (a query, a header, a form field, a list of
files) cannot be sent empty: its schema says ``minItems: 1``, and ``[]`` is the tool's error naming
the argument, not a request the route answers 422 "Field required". A list inside a JSON body, or
an optional list, takes ``[]``."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Form, Header, Query, UploadFile
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware
from mcp_middleware._tool_schemas import _at_least
from tests.support import call_legacy, call_tool, result_json

pytestmark = pytest.mark.anyio


class Basket(BaseModel):
    items: list[str]


def lists_app() -> FastAPI:
    app = FastAPI()

    @app.get("/search", operation_id="search")
    def search(tags: Annotated[list[str], Query()], pairs: Annotated[list[str], Query(min_length=2)] = []) -> Any:  # noqa: B006
        return {"tags": tags}

    @app.post("/upload", operation_id="upload")
    async def upload(files: list[UploadFile]) -> Any:
        return {"n": len(files)}

    @app.get("/hdrs", operation_id="hdrs")
    def hdrs(x_ids: Annotated[list[str], Header()]) -> Any:
        return {"x": x_ids}

    @app.post("/form", operation_id="form")
    def form(names: Annotated[list[str], Form()]) -> Any:
        return {"names": names}

    @app.get("/bounds", operation_id="bounds")
    def bounds(
        three: Annotated[list[str], Query(min_length=3)],
        either: Annotated[str | list[int], Query()],
        nullable: Annotated[list[str] | None, Query()],
    ) -> Any:
        return {"three": three}

    @app.get("/maybe", operation_id="maybe")
    def maybe(tags: Annotated[list[str], Query()] = []) -> Any:  # noqa: B006
        return {"tags": tags}

    @app.post("/basket", operation_id="basket")
    def basket(body: Basket) -> Any:
        return {"items": body.items}

    app.add_middleware(MCPMiddleware)
    return app


CASES = [("search", "tags"), ("upload", "files"), ("hdrs", "x-ids"), ("form", "names")]
ALL_CASES = [*CASES, ("bounds", "either")]


async def test_a_required_repeated_list_says_min_items_1() -> None:
    listed = (await call_legacy(lists_app(), "tools/list")).result()["tools"]
    properties = {tool["name"]: tool["inputSchema"]["properties"] for tool in listed}
    for tool, argument in CASES:
        assert properties[tool][argument]["minItems"] == 1, (tool, argument)
    assert properties["search"]["pairs"]["minItems"] == 2  # optional: as declared
    assert properties["bounds"]["three"]["minItems"] == 3  # a larger declared one stands
    assert properties["bounds"]["either"]["anyOf"] == [
        {"type": "string"},
        {"type": "array", "items": {"type": "integer"}, "minItems": 1},
    ]
    assert properties["bounds"]["nullable"]["minItems"] == 1  # (null: collapsed, as "omitted")
    assert "minItems" not in properties["maybe"]["tags"]  # optional: [] sends nothing, the default
    assert "minItems" not in properties["basket"]["items"]  # JSON: [] is sent as []


@pytest.mark.parametrize("era", ["legacy", "modern"])
@pytest.mark.parametrize(("tool", "argument"), ALL_CASES)
@pytest.mark.parametrize("empty", [[], [None]])
async def test_an_empty_required_repeated_list_is_the_tools_error(
    era: str, tool: str, argument: str, empty: list[Any]
) -> None:
    """Review D4: [] sent nothing, and the route answered 422 "Field required"."""
    others = {"three": ["a", "b", "c"], "nullable": ["n"]} if tool == "bounds" else {}
    result = await call_tool(lists_app(), era, tool, {argument: empty, **others})
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        f"Invalid arguments for tool {tool!r}: argument {argument!r} is required and takes at least one value"
        " (an empty array sends none)"
    )


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("search", {"tags": ["a", "b"]}, {"tags": ["a", "b"]}),
        ("upload", {"files": ["AAE="]}, {"n": 1}),
        ("hdrs", {"x-ids": ["1"]}, {"x": ["1"]}),
        ("form", {"names": ["a", None, "b"]}, {"names": ["a", "b"]}),
        ("maybe", {"tags": []}, {"tags": []}),
        ("basket", {"items": []}, {"items": []}),
    ],
)
async def test_a_list_with_values_or_one_that_may_be_empty_is_sent(
    tool: str, arguments: dict[str, Any], expected: Any
) -> None:
    result = await call_tool(lists_app(), "legacy", tool, arguments)
    assert result.get("isError") is not True, result
    assert result_json(result) == expected


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": ["array", "null"]}, {"type": ["array", "null"], "minItems": 1}),
        ({"type": "array", "minItems": 0}, {"type": "array", "minItems": 1}),
        ({"type": "array", "minItems": True}, {"type": "array", "minItems": 1}),
        (
            {"oneOf": [{"type": "array"}, {"type": "null"}]},
            {"oneOf": [{"type": "array", "minItems": 1}, {"type": "null"}]},
        ),
        ({"type": "string"}, {"type": "string"}),
        (True, True),
    ],
)
def test_at_least_bounds_every_array(schema: Any, expected: Any) -> None:
    assert _at_least(schema, "array", "minItems") == expected
