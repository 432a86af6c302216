"""An app with ``openapi()`` (FastAPI) whose document lists no operation: the endpoint serves no
tools, and says why once, as a plain Starlette app without HTTP routes does (review: an empty
FastAPI app, or one with ``include_in_schema=False`` routes only, answered ``tools: []`` silently)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi import FastAPI

from mcp_middleware import MCPMiddleware
from tests.support import post, request

pytestmark = pytest.mark.anyio

NO_OPERATION = "lists no operation to expose as MCP tools"


def empty() -> FastAPI:
    return FastAPI()


def hidden_only() -> FastAPI:
    app = FastAPI()

    @app.get("/health", include_in_schema=False)
    def health() -> str:
        return "ok"

    return app


def own_openapi_without_paths() -> FastAPI:
    app = hidden_only()
    app.openapi = lambda: {"openapi": "3.1.0", "info": {"title": "x", "version": "1"}}  # type: ignore[method-assign]
    return app


def one_route(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/items", operation_id="list_items", tags=["items"])
    def items() -> list[int]:
        return []

    return app


def mounted_only() -> FastAPI:
    app = FastAPI()
    app.mount("/v1", one_route())
    return app


async def tools_and_warnings(
    app: FastAPI, caplog: pytest.LogCaptureFixture, lists: int = 1
) -> tuple[list[str], list[str]]:
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        for _ in range(lists):
            reply = await post(app, request("tools/list"))
    names = [tool["name"] for tool in reply.result()["tools"]]
    return names, [r.getMessage() for r in caplog.records if NO_OPERATION in r.getMessage()]


@pytest.mark.parametrize("make", [empty, hidden_only, own_openapi_without_paths])
async def test_an_app_whose_document_lists_no_operation_says_so_once(
    make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = make()
    app.add_middleware(MCPMiddleware)
    names, warned = await tools_and_warnings(app, caplog, lists=2)
    assert names == []
    assert len(warned) == 1, caplog.text
    record = next(r for r in caplog.records if NO_OPERATION in r.getMessage())
    assert record.levelno == logging.WARNING
    assert record.name == "mcp_middleware.catalog"
    assert "include_in_schema=False" in warned[0]  # why: routes left out of the document
    assert "the MCP endpoint exposes no tools" in warned[0]


@pytest.mark.parametrize("make", [one_route, mounted_only])
async def test_an_app_whose_document_lists_operations_is_not_warned_about(
    make: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = make()
    app.add_middleware(MCPMiddleware)
    names, warned = await tools_and_warnings(app, caplog)
    assert names == ["list_items"]
    assert warned == [], caplog.text


async def test_filters_that_leave_no_tool_have_their_own_warning_only(caplog: pytest.LogCaptureFixture) -> None:
    app = one_route()
    app.add_middleware(MCPMiddleware, include_tags=["items"], exclude_tags=["items"])
    names, warned = await tools_and_warnings(app, caplog)
    assert names == []
    assert warned == []
    assert "leave none of the app's 1 operations as tools" in caplog.text
