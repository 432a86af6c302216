"""Build-time warnings are logged once, however often the catalog is rebuilt (``tools_changed``)."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Header
from pydantic import BaseModel, Field

from mcp_middleware import MCPContext, MCPMiddleware, mcp_context
from mcp_middleware import _once as once
from mcp_middleware._tool_filter import ToolFilter
from mcp_middleware.catalog import build_catalog
from tests.support import modern_headers, modern_request, post


class Quote(BaseModel):
    price: float = Field(json_schema_extra={"x-mcp-header": "Price"})  # no header for a number


async def tenant(x_tenant: Annotated[str, Header()]) -> str:  # every route's: a shared header
    return x_tenant


def warning_app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(tenant)])

    @app.get("/tools-api", operation_id="taken")  # the MCP endpoint's path
    def taken() -> dict[str, Any]:
        return {}

    @app.post("/quote", operation_id="quote")
    def quote(q: Quote) -> dict[str, Any]:
        return {"ok": 1}

    ghost = {"type": "object", "properties": {"ghost": {"type": "string"}, "x-tenant": {"type": "string"}}}

    @app.get("/explicit", operation_id="explicit", openapi_extra={"x-mcp-input-schema": ghost})
    def explicit() -> dict[str, Any]:
        return {}

    @app.post("/refresh", operation_id="refresh")
    async def refresh(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
        await ctx.tools_changed()
        return {"ok": 1}

    return app


async def call(app: Any, method: str, params: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    reply = await post(app, modern_request(method, params), modern_headers(method, name), path="/tools-api")
    result: dict[str, Any] = reply.result()
    return result


@pytest.mark.anyio
async def test_each_build_warning_is_logged_once_across_catalog_rebuilds(caplog: pytest.LogCaptureFixture) -> None:
    app = MCPMiddleware(warning_app(), path="/tools-api", exclude_operations=["nothing-by-this-name"])
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        await call(app, "tools/list", {})
        first = [record.getMessage() for record in caplog.records]
        for _ in range(4):
            params = {"name": "refresh", "arguments": {"x-tenant": "t"}}
            result = await call(app, "tools/call", params, "refresh")
            assert "isError" not in result, result
            await call(app, "tools/list", {})  # the catalog rebuilt
    said = [record.getMessage() for record in caplog.records]
    expected = (
        "The MCP endpoint's path",
        "Tool 'quote': x-mcp-header annotations",
        "MCPMiddleware filter values that match no route",
        "Tool 'explicit' (GET /explicit): its x-mcp-input-schema declares properties",
        "Header parameter(s) of two tools or more, not forwarded from the MCP request: 'x-tenant'",
    )
    for start in expected:
        assert len([text for text in first if text.startswith(start)]) == 1, (start, first)
    assert said == first


def test_the_empty_include_filter_warning_is_logged_once_across_builds(caplog: pytest.LogCaptureFixture) -> None:
    doc = {"paths": {"/a": {"get": {"operationId": "a"}}}}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        for _ in range(3):
            assert build_catalog(doc, tool_filter=ToolFilter(include_tags=frozenset())).tools == ()
    said = [record.getMessage() for record in caplog.records]
    assert len(said) == 1
    assert said[0].startswith("MCPMiddleware include filter include_tags=[] selects nothing")


def test_the_remembered_warnings_are_bounded_and_a_full_set_starts_again(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past ``_MAX`` texts the set is cleared: never more remembered, no warning silenced for good."""
    monkeypatch.setattr(once, "_SAID", once.Remembered(once._MAX))
    logger = logging.getLogger("mcp_middleware.test")
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.test"):
        for number in range(once._MAX):
            once.warn_once(logger, "warning %d", number)
            once.warn_once(logger, "warning %d", number)
        assert len(caplog.records) == once._MAX
        once.warn_once(logger, "warning %d", 0)  # still remembered
        assert len(caplog.records) == once._MAX
        once.warn_once(logger, "another")  # the set is full: it starts again
        once.warn_once(logger, "warning %d", 0)
    assert len(once._SAID) == 2
    assert [record.getMessage() for record in caplog.records[once._MAX :]] == ["another", "warning 0"]


def test_with_room_empties_a_full_table_before_its_next_entry() -> None:
    """The bounded memos' one insert path (``Remembered``, the validator's, the ladders' and the
    transport's verdicts): a table holding ``most`` entries is emptied first, a smaller one is
    left as it is; either way the table itself comes back, for the entry to go in."""
    verdicts = {1: "a", 2: "b"}
    assert once.with_room(verdicts, 3) is verdicts
    assert verdicts == {1: "a", 2: "b"}
    once.with_room(verdicts, 3)[3] = "c"
    once.with_room(verdicts, 3)[4] = "d"  # full: starts again
    assert verdicts == {4: "d"}
    seen = {1, 2}
    once.with_room(seen, 2).add(3)
    assert seen == {3}
    kept: dict[int, str] = {}
    for number in range(10):
        once.with_room(kept, 4)[number] = str(number)
        assert len(kept) <= 4
    assert kept == {8: "8", 9: "9"}
