"""The README's code samples run as written (their placeholders filled in by the test)."""

from __future__ import annotations

import ast
import base64
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from mcp_middleware import MCPMiddleware
from tests.support import modern_headers, modern_request, post, request

pytestmark = pytest.mark.anyio

README = Path(__file__).resolve().parents[2] / "README.md"


def python_samples() -> list[str]:
    samples: list[str] = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    return samples


def python_sample(marker: str) -> str:
    """The README's one ```python block that contains ``marker``."""
    blocks = [b for b in python_samples() if marker in b]
    assert len(blocks) == 1, f"{len(blocks)} README samples contain {marker!r}"
    return blocks[0]


def sample_app(marker: str) -> FastAPI:
    """A FastAPI app with the sample's routes: the samples continue the first one's ``app``, and
    are run with nothing else given, so a name they use without defining it fails here."""
    app = FastAPI()
    exec(python_sample(marker), {"app": app})
    app.add_middleware(MCPMiddleware)
    return app


def test_every_python_sample_is_valid_python() -> None:
    samples = python_samples()
    assert len(samples) >= 7
    for sample in samples:
        ast.parse(sample)


async def test_the_resources_and_prompts_sample() -> None:
    """Regression: the prompt sample was annotated ``-> list[dict]`` while it returns a string
    item, so FastAPI refused its own response (ResponseValidationError) and prompts/get failed."""
    app = sample_app("declare.prompt(")
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
    exec(python_sample("async def get_item(request: Request) -> JSONResponse:"), namespace)
    app = namespace["app"]
    reply = await post(app, request("tools/list"))  # type: ignore[arg-type]
    tools = {tool["name"]: tool["inputSchema"] for tool in reply.result()["tools"]}
    assert list(tools) == ["search", "get_item"]
    assert list(tools["search"]["properties"]) == ["q"]
    assert tools["get_item"]["properties"]["item_id"] == {"type": "integer", "minimum": 0}
    assert list(tools["get_item"]["properties"]) == ["item_id", "query"]
    called = await post(app, request("tools/call", {"name": "search", "arguments": {"q": "pen"}}))  # type: ignore[arg-type]
    assert called.result()["content"][0]["text"] == '{"q":"pen"}'


async def test_the_resources_in_the_sample_are_read() -> None:
    """Regression: the sample used ``PlainTextResponse`` and ``User`` without importing or
    defining them (NameError when copied), and its routes returned nothing."""
    app = sample_app("declare.prompt(")
    readme = await post(app, request("resources/read", {"uri": "docs://readme"}))
    assert readme.result()["contents"] == [{"uri": "docs://readme", "mimeType": "text/markdown", "text": "# My app\n"}]
    user = await post(app, request("resources/read", {"uri": "users://1"}))
    assert [c["text"] for c in user.result()["contents"]] == ['{"id":"1","name":"Ada"}']


async def test_the_route_context_sample_runs_its_rounds() -> None:
    """Regression: the sample used an undefined ``Trip`` and ``Elicit(...)``/``Sample(...)``
    without their arguments. Run as written, in 2026-07-28 rounds: each question comes back in a
    retry, and the route's ``Trip`` is the result."""
    app = sample_app('operation_id="plan_trip"')
    answers: dict[str, Any] = {
        "elicitation": {"action": "accept", "content": {"dates": "May"}},
        "sampling": {"role": "assistant", "content": {"type": "text", "text": "a coat"}, "model": "m"},
        "who": {"action": "accept", "content": {"names": "Ada"}},
        "idea": {"role": "assistant", "content": {"type": "text", "text": "fjords"}, "model": "m"},
    }
    params: dict[str, Any] = {"name": "plan_trip", "arguments": {"city": "Oslo"}}
    asked: list[list[str]] = []
    for _ in range(4):
        reply = await post(app, modern_request("tools/call", params), modern_headers("tools/call", "plan_trip"))
        result = reply.result()
        if result.get("resultType") != "input_required":
            break
        asked.append(sorted(result["inputRequests"]))
        responses = {key: answers[key] for key in result["inputRequests"]}
        params = {**params, "requestState": result["requestState"], "inputResponses": responses}
    assert asked == [["elicitation"], ["sampling"], ["idea", "who"]]
    assert result["structuredContent"] == {"city": "Oslo", "dates": "May"}


async def test_the_rich_results_sample_returns_its_image() -> None:
    """Regression: the sample used ``png_bytes`` without defining it (NameError when copied)."""
    app = sample_app('"/chart"')
    reply = await post(app, request("tools/call", {"name": "chart", "arguments": {}}))
    text, image = reply.result()["content"]
    assert text == {"type": "text", "text": "Sales by month:"}
    assert image["type"] == "image"
    assert image["mimeType"] == "image/png"
    assert base64.b64decode(image["data"]).startswith(b"\x89PNG")


def names_app(**options: Any) -> FastAPI:
    """The apps of the README's "Names": a router under /v1 and /v2, one function on two methods,
    an explicit id valid as it is and one that only becomes it once cleaned."""
    app = FastAPI()
    router = APIRouter()

    @router.get("/ping")
    async def ping() -> str:
        return "pong"

    app.include_router(router, prefix="/v1")
    app.include_router(router, prefix="/v2")

    @app.api_route("/items", methods=["GET", "DELETE"])
    async def items() -> list[str]:
        return []

    @app.get("/dotted", operation_id="items.list")
    async def dotted() -> list[str]:
        return []

    @app.get("/plain", operation_id="items_list")
    async def plain() -> list[str]:
        return []

    app.add_middleware(MCPMiddleware, **options)
    return app


async def tool_names(app: FastAPI) -> list[str]:
    return [tool["name"] for tool in (await post(app, request("tools/list"))).result()["tools"]]


@pytest.mark.filterwarnings("ignore:Duplicate Operation ID")  # FastAPI's, for api_route's two methods
async def test_the_names_the_readme_describes(caplog: pytest.LogCaptureFixture) -> None:
    everything = ["ping_v1_ping_get", "ping_v2_ping_get", "items_get", "items_delete", "items_list_2", "items_list"]
    assert await tool_names(names_app()) == everything
    assert await tool_names(names_app(exclude_operations=["ping"])) == everything
    assert "exclude_operations 'ping'" in caplog.text
    without_v2 = [name for name in everything if name != "ping_v2_ping_get"]
    assert await tool_names(names_app(exclude_operations=["ping_v2_ping_get"])) == without_v2
    assert await tool_names(names_app(exclude_paths=["/v2/*"])) == without_v2


def _logging_section() -> str:
    section = README.read_text().split("\n## Logging\n", 1)[1]
    return section.split("\n## ", 1)[0]


def test_the_logging_section_names_every_logger_the_package_uses() -> None:
    """Its table lists the loggers the package's modules get (``getLogger("...")`` or a module's
    ``getLogger(__name__)``), no more, no less."""
    package = Path(__file__).resolve().parents[2] / "mcp_middleware"
    used: set[str] = set()
    for module in package.rglob("*.py"):
        source = module.read_text()
        used.update(re.findall(r'getLogger\("(mcp_middleware[\w.]*)"\)', source))
        if "getLogger(__name__)" in source:
            used.add(".".join(("mcp_middleware", *module.relative_to(package).with_suffix("").parts)))
    rows = [line for line in _logging_section().splitlines() if line.startswith("| `mcp_middleware.")]
    named = {name for row in rows for name in re.findall(r"`(mcp_middleware\.[\w.]+)`", row.split(" | ")[0])}
    assert named == used


def test_the_logging_sample_gives_records_their_level_and_logger(capsys: pytest.CaptureFixture[str]) -> None:
    """The sample's handler writes the package's records with their level and logger name (the
    last-resort handler, uvicorn's default for them, writes the bare message)."""
    import logging

    from fastapi.testclient import TestClient

    package = logging.getLogger("mcp_middleware")
    kept = package.handlers[:], package.level, package.propagate
    try:
        exec(python_sample("logging.config.dictConfig("), {})
        app = FastAPI()

        @app.get("/boom", operation_id="boom")
        async def boom() -> None:
            raise ValueError("boom")

        app.add_middleware(MCPMiddleware)
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            headers = {"accept": "application/json, text/event-stream"}
            reply = client.post("/mcp", json=request("tools/call", {"name": "boom", "arguments": {}}), headers=headers)
        assert reply.json()["result"]["isError"] is True
        first = capsys.readouterr().err.splitlines()[0]
        assert re.fullmatch(r"\S+ \S+ ERROR mcp_middleware\.toolcall: Tool 'boom': the route raised ValueError", first)
    finally:
        package.handlers[:], package.level, package.propagate = kept
