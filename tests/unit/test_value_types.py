"""A value's JSON type is the route's to check, as over HTTP (README, "Input schema"): FastAPI's
lax validation takes ``"3"`` for an ``int`` and one value for a ``list[int]`` query, and a field
declared strict refuses it, its 422 coming back as an ``isError`` result."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, StrictInt

from mcp_middleware import MCPMiddleware
from tests.apps import build_app
from tests.support import call_tool, refusal_text, result_json

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]


class StrictSize(BaseModel):
    size: StrictInt


class Price(BaseModel):
    price: float


def strict_app() -> FastAPI:
    app = FastAPI()

    @app.post("/sizes", operation_id="set_size")
    async def set_size(body: StrictSize) -> dict[str, int]:
        return {"size": body.size}

    @app.post("/prices", operation_id="set_price")
    async def set_price(body: Price) -> dict[str, float]:
        return {"price": body.price}

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_a_numeric_string_for_an_int_reaches_the_route_as_its_lax_validation_takes_it(era: str) -> None:
    app = build_app()
    assert result_json(await call_tool(app, era, "get_thing", {"thing_id": "3"}))["id"] == 3
    assert result_json(await call_tool(app, era, "list_numbers", {"n": 5})) == [5]


@pytest.mark.parametrize("era", ERAS)
async def test_true_for_a_body_float_reaches_the_route_as_1(era: str) -> None:
    assert result_json(await call_tool(strict_app(), era, "set_price", {"price": True})) == {"price": 1.0}


@pytest.mark.parametrize("era", ERAS)
async def test_a_strict_field_refuses_a_string_with_the_routes_own_422(era: str) -> None:
    app = strict_app()
    assert result_json(await call_tool(app, era, "set_size", {"size": 4})) == {"size": 4}
    text = refusal_text(await call_tool(app, era, "set_size", {"size": "4"}))
    assert "HTTP 422" in text
    assert "valid integer" in text
