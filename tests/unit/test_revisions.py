"""Clients of 2024-11-05 and 2025-03-26 get results in their revision's shapes, not 2025-11-25's."""

from __future__ import annotations

import base64
from typing import Any

import anyio
import pytest
from fastapi import FastAPI
from starlette.background import BackgroundTask

from mcp_middleware import MCPMiddleware, MCPResponse, content, declare
from tests.apps import PNG, build_app
from tests.support import BASE_HEADERS, Exchange, post, request

pytestmark = pytest.mark.anyio

OLDER = ["2024-11-05", "2025-03-26"]
LATER = ["2025-06-18", "2025-11-25"]
THING = '{"id":1,"name":"thing-1","q":null}'
WAV = b"RIFF\x00\x00\x00\x00WAVE"


def headers(version: str | None) -> dict[str, str]:
    """A handshake-era client's headers, with no MCP-Protocol-Version when ``version`` is None."""
    return dict(BASE_HEADERS) if version is None else {**BASE_HEADERS, "mcp-protocol-version": version}


async def result(app: FastAPI, version: str | None, method: str, params: dict[str, Any] | None = None) -> Any:
    reply = await post(app, request(method, params), headers(version))
    assert reply.status == 200, reply.body
    return reply.result()


def tool_call(name: str) -> dict[str, Any]:
    return {"name": name, "arguments": {"thing_id": 1} if name == "get_thing" else {}}


EMBEDDED = {"type": "resource", "resource": {"uri": "test://mixed", "mimeType": "application/json", "text": '{"a":1}'}}
RICH_BEFORE = [
    {"type": "text", "text": "Multiple content types test:"},
    {"type": "image", "data": base64.b64encode(PNG).decode(), "mimeType": "image/png"},
    EMBEDDED,
    {"type": "text", "text": "Resource link: static <test://static-text>"},
]


@pytest.mark.parametrize("version", OLDER)
async def test_a_resource_link_becomes_text_and_structured_content_is_left_out(version: str | None) -> None:
    """2025-03-26's content union is text, image, audio and embedded resources; resource_link and
    structuredContent came with 2025-06-18."""
    assert await result(build_app(), version, "tools/call", tool_call("rich")) == {"content": RICH_BEFORE}


@pytest.mark.parametrize("version", OLDER)
async def test_a_json_route_built_on_the_fast_path_has_its_json_as_text_only(version: str | None) -> None:
    assert await result(build_app(), version, "tools/call", tool_call("get_thing")) == {
        "content": [{"type": "text", "text": THING}]
    }


@pytest.mark.parametrize("version", [None, *LATER])
async def test_later_revisions_keep_resource_links_and_structured_content(version: str | None) -> None:
    """A client that states no revision (VS Code never sends MCP-Protocol-Version, and speaks a
    later one) gets the latest handshake revision's shapes, as the SDK checks them."""
    app = build_app()
    rich = await result(app, version, "tools/call", tool_call("rich"))
    assert rich["content"][3] == {"type": "resource_link", "uri": "test://static-text", "name": "static"}
    assert rich["structuredContent"] == {"a": 1}
    thing = await result(app, version, "tools/call", tool_call("get_thing"))
    assert thing["structuredContent"] == {"id": 1, "name": "thing-1", "q": None}


async def test_tools_are_listed_with_the_fields_of_each_revision_from_one_cache() -> None:
    """title and outputSchema came with 2025-06-18, annotations with 2025-03-26; each revision's
    list is serialised once and kept apart from the others."""
    app = build_app()
    for _ in range(2):  # the second round comes from the reply cache
        listed = {v: {t["name"]: t for t in (await result(app, v, "tools/list"))["tools"]} for v in [*OLDER, *LATER]}
        unstated = {t["name"]: t for t in (await result(app, None, "tools/list"))["tools"]}
        assert unstated == listed["2025-11-25"]  # no MCP-Protocol-Version (VS Code): the latest shapes
        for version in LATER:
            assert listed[version]["get_thing"]["title"] == "Get Thing"
            assert "outputSchema" in listed[version]["get_thing"]
        assert listed["2025-03-26"]["get_thing"] == {
            "name": "get_thing",
            "description": "Get Thing",
            "inputSchema": listed["2025-06-18"]["get_thing"]["inputSchema"],
            "annotations": {"title": "Get Thing", "readOnlyHint": True, "openWorldHint": False},
        }
        assert listed["2024-11-05"]["get_thing"] == {
            "name": "get_thing",
            "description": "Get Thing",
            "inputSchema": listed["2025-06-18"]["get_thing"]["inputSchema"],
        }


def app_with_newer_content() -> FastAPI:
    app = build_app()
    note = {"audience": ["user"], "priority": 0.5, "lastModified": "2025-01-01T00:00:00Z"}

    @app.get("/newer", operation_id="newer")
    async def newer() -> MCPResponse:
        return MCPResponse(
            [
                content.text("hi", annotations=note, _meta={"k": 1}),
                content.audio(WAV, "audio/wav"),
                content.resource_link(
                    "test://doc",
                    "doc",
                    title="The doc",
                    description="All of it",
                    mimeType="text/plain",
                    annotations=note,
                ),
            ]
        )

    @app.get("/prompts/linked", openapi_extra=declare.prompt("linked", title="Linked"))
    async def linked() -> list[dict[str, Any]]:
        return [{"role": "user", "content": {"type": "resource_link", "uri": "test://doc", "name": "doc"}}]

    @app.get("/docs/titled", openapi_extra=declare.resource("test://titled", title="Titled"))
    async def titled() -> str:
        return "x"

    @app.get("/docs/titled/{part}", openapi_extra=declare.resource_template("test://titled/{part}", title="Parts"))
    async def titled_part(part: str) -> str:
        return part

    return app


@pytest.mark.parametrize("version", OLDER)
async def test_content_blocks_keep_only_their_revisions_fields(version: str) -> None:
    """An annotation's lastModified, a block's _meta and a resource link's title came with
    2025-06-18; audio with 2025-03-26 (a 2024-11-05 client is told what was left out)."""
    blocks = (await result(app_with_newer_content(), version, "tools/call", tool_call("newer")))["content"]
    kept = {"audience": ["user"], "priority": 0.5}
    audio = {"type": "audio", "data": base64.b64encode(WAV).decode(), "mimeType": "audio/wav"}
    if version == "2024-11-05":
        text = "[audio/wav audio content of 12 bytes left out: protocol revision 2024-11-05 has no audio content]"
        audio = {"type": "text", "text": text}
    link = "Resource link: The doc <test://doc> (text/plain)\nAll of it"
    assert blocks == [
        {"type": "text", "text": "hi", "annotations": kept},
        audio,
        {"type": "text", "text": link, "annotations": kept},
    ]


@pytest.mark.parametrize("version", OLDER)
async def test_prompts_and_resources_keep_only_their_revisions_fields(version: str) -> None:
    app = app_with_newer_content()
    prompts = {p["name"]: p for p in (await result(app, version, "prompts/list"))["prompts"]}
    assert "title" not in prompts["linked"]
    messages = (await result(app, version, "prompts/get", {"name": "linked"}))["messages"]
    assert messages == [{"role": "user", "content": {"type": "text", "text": "Resource link: doc <test://doc>"}}]
    resources = {r["uri"]: r for r in (await result(app, version, "resources/list"))["resources"]}
    assert "title" not in resources["test://titled"]
    templates = {
        t["uriTemplate"]: t for t in (await result(app, version, "resources/templates/list"))["resourceTemplates"]
    }
    assert templates["test://titled/{part}"] == {
        "uriTemplate": "test://titled/{part}",
        "name": "titled_part",
        "description": "Titled Part",
    }


async def test_later_revisions_keep_titles_of_prompts_and_resources() -> None:
    app = app_with_newer_content()
    prompts = {p["name"]: p for p in (await result(app, "2025-06-18", "prompts/list"))["prompts"]}
    assert prompts["linked"]["title"] == "Linked"
    resources = {r["uri"]: r for r in (await result(app, "2025-06-18", "resources/list"))["resources"]}
    assert resources["test://titled"]["title"] == "Titled"
    templates = (await result(app, "2025-06-18", "resources/templates/list"))["resourceTemplates"]
    assert {t["uriTemplate"]: t.get("title") for t in templates}["test://titled/{part}"] == "Parts"


async def test_a_result_written_while_the_app_goes_on_is_reshaped_too() -> None:
    """The result of a complete response goes out before the app's background work ends
    (``Responder.answer``): the same serializer, so the same shapes."""
    app = FastAPI()
    finish = anyio.Event()

    async def work() -> None:
        await finish.wait()

    @app.get("/order", operation_id="order")
    async def order() -> MCPResponse:
        link = content.resource_link("test://o", "order")
        return MCPResponse([link], structured={"ok": True}, background=BackgroundTask(work))

    app.add_middleware(MCPMiddleware, keepalive_interval=0.1)
    ex = Exchange(app, request("tools/call", tool_call("order")), headers("2025-03-26"))
    with anyio.fail_after(10):  # a deadlock guard only
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await ex.done.wait()  # the whole reply, while the background work still waits
            finish.set()
    assert ex.reply.result() == {"content": [{"type": "text", "text": "Resource link: order <test://o>"}]}
