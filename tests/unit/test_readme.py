"""The README's code samples run as written (their placeholders filled in by the test)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware
from tests.support import post, request

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parents[2] / "README.md"


def python_sample(marker: str) -> str:
    """The README's one ```python block that contains ``marker``."""
    blocks: list[str] = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), re.S) if marker in b]
    assert len(blocks) == 1, f"{len(blocks)} README samples contain {marker!r}"
    return blocks[0]


class User(BaseModel):
    id: str
    name: str


async def test_the_resources_and_prompts_sample() -> None:
    """Regression: the prompt sample was annotated ``-> list[dict]`` while it returns a string
    item, so FastAPI refused its own response (ResponseValidationError) and prompts/get failed."""
    app = FastAPI()
    exec(python_sample("declare.prompt("), {"app": app, "PlainTextResponse": PlainTextResponse, "User": User})
    app.add_middleware(MCPMiddleware)
    arguments = {"language": "python", "diff": "+x"}
    reply = await post(app, request("prompts/get", {"name": "code_review", "arguments": arguments}))
    assert reply.result()["messages"] == [
        {"role": "user", "content": {"type": "text", "text": "Review this python change:"}},
        {"role": "user", "content": {"type": "text", "text": "+x"}},
    ]
    over_http = await post(app, b"", method="GET", path="/prompts/review", query_string=b"language=python&diff=%2Bx")
    assert over_http.status == 200
    assert over_http.json() == [
        "Review this python change:",
        {"role": "user", "content": {"type": "text", "text": "+x"}},
    ]


async def test_the_plain_starlette_sample() -> None:
    pytest.importorskip("yaml")  # the sample's YAML docstring
    namespace: dict[str, object] = {}
    exec(python_sample("async def get_item(request):"), namespace)
    app = namespace["app"]
    reply = await post(app, request("tools/list"))  # type: ignore[arg-type]
    tools = {tool["name"]: tool["inputSchema"] for tool in reply.result()["tools"]}
    assert list(tools) == ["search", "get_item"]
    assert list(tools["search"]["properties"]) == ["q"]
    assert tools["get_item"]["properties"]["item_id"] == {"type": "integer", "minimum": 0}
    assert list(tools["get_item"]["properties"]) == ["item_id", "query"]
    called = await post(app, request("tools/call", {"name": "search", "arguments": {"q": "pen"}}))  # type: ignore[arg-type]
    assert called.result()["content"][0]["text"] == '{"q":"pen"}'
