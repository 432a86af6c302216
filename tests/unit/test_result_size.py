"""The result limit (``max_result_chars``) and what each tool tells Claude Code of it.

claude.ai caps a result at about 150,000 characters, so the default limit, 100,000, stays under it.
Claude Code keeps a tool's result in the conversation up to a threshold of its own (about 50,000
characters), writing a larger one to a file the model sees only a preview of, unless the tool
declares ``_meta["anthropic/maxResultSizeChars"]`` in ``tools/list`` (up to 500,000): every tool
declares the limit, with room for what follows a text cut there (the cut note, a Location, the
response headers), at most Claude Code's ceiling. Other clients ignore a ``_meta`` key they do not
know; a 2025-03-26 client gets no ``_meta`` on a tool (its revision has none)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from mcp_middleware import MCPMiddleware
from mcp_middleware.config import Settings
from tests.support import BASE_HEADERS, MODERN, modern_headers, modern_request, post, request

pytestmark = pytest.mark.anyio

KEY = "anthropic/maxResultSizeChars"


def make_app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/big", response_class=PlainTextResponse)
    def big(size: int) -> str:
        return "x" * size

    @app.get("/small")
    def small() -> dict[str, int]:
        return {"n": 1}

    app.add_middleware(MCPMiddleware, **options)
    return app


async def tools(app: FastAPI, version: str) -> list[dict[str, Any]]:
    if version == MODERN:
        body, sent = modern_request("tools/list"), modern_headers("tools/list")
    else:
        body, sent = request("tools/list"), {**BASE_HEADERS, "mcp-protocol-version": version}
    listed: list[dict[str, Any]] = (await post(app, body, sent)).result()["tools"]
    return listed


def test_the_default_limit_is_under_claude_ais_cap() -> None:
    assert Settings().max_result_chars == 100_000


@pytest.mark.anyio
async def test_a_text_past_the_default_limit_is_cut() -> None:
    app = make_app()
    params = {"name": "big", "arguments": {"size": 100_001}}
    result = (await post(app, request("tools/call", params), BASE_HEADERS)).result()
    text = result["content"][0]["text"]
    assert text.startswith("x" * 100_000 + "\n[truncated: 1 more characters")
    whole = await post(app, request("tools/call", {"name": "big", "arguments": {"size": 100_000}}), BASE_HEADERS)
    assert whole.result()["content"][0]["text"] == "x" * 100_000


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", MODERN])
async def test_every_tool_declares_the_limit_to_claude_code(version: str) -> None:
    listed = await tools(make_app(), version)
    assert [tool["_meta"] for tool in listed] == [{KEY: 101_000}, {KEY: 101_000}]
    assert [tool["_meta"] for tool in await tools(make_app(max_result_chars=2_000), version)] == [{KEY: 3_000}] * 2


async def test_the_declared_size_is_at_most_claude_codes_ceiling() -> None:
    listed = await tools(make_app(max_result_chars=499_500), "2025-11-25")
    assert listed[0]["_meta"] == {KEY: 500_000}
    listed = await tools(make_app(max_result_chars=2_000_000), "2025-11-25")
    assert listed[0]["_meta"] == {KEY: 500_000}


async def test_a_2025_03_26_client_gets_no_tool_meta() -> None:
    listed = await tools(make_app(), "2025-03-26")
    assert all("_meta" not in tool for tool in listed)
