"""What a tool server does not use is not imported: the modules below load on the first use of
their feature (ARCHITECTURE.md, "Modules imported on first use"), which keeps a server's memory
down (benchmarks/load.py's memory table).

Each case runs in a fresh interpreter, as ``tests/unit/test_wire_types.py`` does: what is imported
is what the process has done so far, and the test process has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# Loaded on first use: the feature each serves is named in ARCHITECTURE.md.
DEFERRED = (
    "mcp_middleware._ecma_regex",  # a route's `pattern` (and a path convertor's text)
    "mcp_middleware._uri_template",  # resource templates
    "mcp_middleware._prompt_messages",  # prompts/get
    "mcp_middleware._resource_read",  # resources/read
    "mcp_middleware._outgoing",  # a route asking the client, logging or reporting progress
    "mcp_middleware._answers",  # the client's answer to a route's question
    "mcp_middleware._answer_pattern",
    "starlette.endpoints",  # an HTTPEndpoint class (imported by the app that uses one)
    "unicodedata",  # a parameter name that is not a valid argument name as it is
    "mcp_middleware.security",  # auth, oauth or cors_allow_origins given to the middleware
    "mcp_middleware._bearer",
    "mcp_middleware._cors",
    "mcp_middleware._oauth_metadata",
    "mcp_middleware._disposition",  # a file result's name (Content-Disposition)
    "mcp_middleware._event_parser",  # a route answering text/event-stream
    "mcp_middleware._unforwarded",  # a call's arguments refused
    "mcp_middleware._schema_fit",  # an app made with separate_input_output_schemas=False
    "encodings.cp1252",  # a text body with a byte that is not UTF-8 (read as windows-1252)
    "encodings.utf_16_be",  # a body in UTF-16 (the codec of ours names Python's big-endian one)
    "encodings.utf_32_be",
)

# A tool server's life: import, build, initialize, list, call (JSON and streaming, both eras).
_SERVE = """
import asyncio, json, sys
import mcp_middleware
from examples.demo import app
from tests.support import call_legacy, call_modern, call_tool, modern_headers, modern_request, post, request

async def serve():
    await call_legacy(app, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                          "clientInfo": {"name": "t", "version": "1"}})
    await call_legacy(app, "tools/list")
    await call_modern(app, "server/discover")
    await call_modern(app, "tools/list")
    for era in ("legacy", "modern"):
        assert not (await call_tool(app, era, "create_item", {"name": "a", "price": 1.0})).get("isError")
        assert not (await call_tool(app, era, "get_item", {"item_id": 1})).get("isError")
        assert not (await call_tool(app, era, "list_items", {"limit": 2})).get("isError")
        assert not (await call_tool(app, era, "chat", {"prompt": "hi", "tokens": 2})).get("isError")
    streamed = {"name": "chat", "arguments": {"prompt": "hi", "tokens": 2}}
    legacy = await post(app, request("tools/call", {**streamed, "_meta": {"progressToken": "p"}}))
    modern = await post(app, modern_request("tools/call", streamed, progressToken="p"),
                        modern_headers("tools/call", "chat"))
    for reply in (legacy, modern):
        assert reply.content_type == "text/event-stream" and b"notifications/progress" in reply.body
        assert not reply.result().get("isError")

asyncio.run(serve())
"""


def _run(script: str) -> Any:
    code = textwrap.dedent(script) + "\nprint(json.dumps(sorted(m for m in DEFERRED if m in sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", f"DEFERRED = {DEFERRED!r}\n{code}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_tool_server_imports_none_of_the_deferred_modules() -> None:
    assert _run(_SERVE) == []


def test_each_deferred_module_loads_with_its_feature_and_works() -> None:
    """The same process then uses every feature: each module loads, and does its work."""
    features = """
    from typing import Annotated
    from fastapi import FastAPI, Query
    from fastapi.responses import Response
    from pydantic import BaseModel
    import starlette.endpoints  # an app with HTTPEndpoint classes imports it itself
    from mcp_middleware import MCPMiddleware, declare

    class Node(BaseModel):
        children: "list[Node]" = []

    api = FastAPI()

    @api.get("/codes", operation_id="codes")
    async def codes(code: Annotated[str, Query(pattern="^[a-z]+$")], größe: int = 1) -> dict[str, str]:
        return {"code": code}

    @api.post("/tree", operation_id="tree")
    async def tree(node: Node) -> Node:
        return node

    @api.get("/docs/{name}", operation_id="doc", openapi_extra=declare.resource_template("doc://{name}"))
    async def doc(name: str) -> dict[str, str]:
        return {"name": name}

    @api.get("/greet", operation_id="greet", openapi_extra=declare.prompt())
    async def greet(who: str) -> str:
        return f"Hello, {who}"

    @api.get("/report", operation_id="report")
    async def report() -> Response:
        headers = {"content-disposition": 'attachment; filename="report.bin"'}
        return Response(b"\\x00\\x01", media_type="application/octet-stream", headers=headers)

    @api.get("/latin", operation_id="latin")
    async def latin() -> Response:
        return Response("café".encode("cp1252"), media_type="text/plain")  # Starlette says charset=utf-8

    @api.get("/wide", operation_id="wide")
    async def wide(bits: int) -> Response:
        return Response(f"hi {bits}".encode(f"utf-{bits}-be"), media_type=f"text/plain; charset=utf-{bits}be")

    @api.get("/events", operation_id="events")
    async def events() -> Response:
        return Response(b"data: one\\n\\n", media_type="text/event-stream")

    api.add_middleware(MCPMiddleware, cors_allow_origins=["https://app.example"])

    one_schema = FastAPI(separate_input_output_schemas=False)

    @one_schema.get("/node", operation_id="node")
    async def node() -> Node:
        return Node()

    one_schema.add_middleware(MCPMiddleware)

    async def use():
        listed = (await call_modern(api, "tools/list")).result()["tools"]
        by_name = {t["name"]: t for t in listed}
        assert by_name["codes"]["inputSchema"]["properties"]["code"]["pattern"].startswith("^[a-z]+$")
        assert "groe" in by_name["codes"]["inputSchema"]["properties"]
        assert by_name["tree"]["inputSchema"]["$defs"]
        read = (await call_modern(api, "resources/read", {"uri": "doc://x"}, name="doc://x")).result()
        assert json.loads(read["contents"][0]["text"]) == {"name": "x"}
        greet = {"name": "greet", "arguments": {"who": "Ann"}}
        got = (await call_modern(api, "prompts/get", greet, name="greet")).result()
        assert "Hello, Ann" in json.dumps(got["messages"])
        call = {"name": "place_order", "arguments": {"item_id": 1, "quantity": 1}}
        order = modern_headers("tools/call", "place_order")
        first = (await post(app, modern_request("tools/call", call), order)).result()
        assert first["resultType"] == "input_required", first
        answer = {"action": "accept", "content": {"confirm": True}}
        retry = {**call, "requestState": first["requestState"], "inputResponses": {"confirm_order": answer}}
        second = (await post(app, modern_request("tools/call", retry), order)).result()
        assert second["resultType"] == "complete" and not second.get("isError"), second
        file = (await call_modern(api, "tools/call", {"name": "report", "arguments": {}}, name="report")).result()
        assert file["content"][0]["text"].startswith('File "report.bin"'), file
        streamed = (await call_modern(api, "tools/call", {"name": "events", "arguments": {}}, name="events")).result()
        assert streamed["content"][0]["text"] == "one", streamed
        latin = (await call_modern(api, "tools/call", {"name": "latin", "arguments": {}}, name="latin")).result()
        assert latin["content"][0]["text"] == "café", latin
        for bits in (16, 32):
            wide = {"name": "wide", "arguments": {"bits": bits}}
            got = (await call_modern(api, "tools/call", wide, name="wide")).result()
            assert got["content"][0]["text"] == f"hi {bits}", got
        refused = (await call_modern(api, "tools/call", {"name": "codes", "arguments": {}}, name="codes")).result()
        assert refused["isError"] and "Invalid arguments" in refused["content"][0]["text"], refused
        listed = (await call_modern(one_schema, "tools/list")).result()["tools"]
        assert [t["name"] for t in listed] == ["node"] and "outputSchema" in listed[0], listed

    asyncio.run(use())
    """
    assert _run(_SERVE + textwrap.dedent(features)) == sorted(DEFERRED)
