"""Rich results, resources, resource templates, prompts and completion from declared routes."""

from __future__ import annotations

import base64
import json
import logging
from typing import Annotated, Any

import orjson
import pytest
from fastapi import Body, Depends, FastAPI, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict
from starlette.responses import PlainTextResponse

from mcp_middleware import MCPContext, MCPMiddleware, MCPResponse, content, declare, mcp_context, results
from mcp_middleware.results import MAX_IMAGE_BASE64
from tests.apps import PNG, build_app
from tests.support import BASE_HEADERS, call_modern, meta, modern_headers, post, request

pytestmark = pytest.mark.anyio


async def legacy(app: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = await post(app, request(method, params), {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"})
    assert reply.status == 200, reply.body
    message: dict[str, Any] = reply.json()
    return message


async def test_rich_content_passes_through() -> None:
    result = (await legacy(build_app(), "tools/call", {"name": "rich"}))["result"]
    assert [b["type"] for b in result["content"]] == ["text", "image", "resource", "resource_link"]
    assert base64.b64decode(result["content"][1]["data"]) == PNG
    assert result["content"][2]["resource"] == {
        "uri": "test://mixed",
        "mimeType": "application/json",
        "text": '{"a":1}',
    }
    assert result["structuredContent"] == {"a": 1}
    error = (await legacy(build_app(), "tools/call", {"name": "rich_error"}))["result"]
    assert error == {"content": [{"type": "text", "text": "nope"}], "isError": True}


async def test_rich_content_over_plain_http_is_json() -> None:
    reply = await post(build_app(), b"", {"host": "127.0.0.1"}, method="GET", path="/rich-error")
    assert reply.headers["content-type"] == "application/vnd.mcp.content+json"
    assert reply.json() == {"content": [{"type": "text", "text": "nope"}], "isError": True}


async def test_audio_blob_resources_and_a_single_block_pass_through_in_both_eras() -> None:
    app = FastAPI()
    wav = b"RIFF\x00\x01WAVE"

    @app.get("/audio", operation_id="audio_clip")
    async def audio_clip() -> MCPResponse:
        return MCPResponse([content.audio(wav, "audio/wav"), content.embedded_resource("test://raw", blob=b"\x00\xff")])

    @app.get("/one", operation_id="one_block")
    async def one_block() -> MCPResponse:
        return MCPResponse(content.image("aGk=", "image/png"))  # one block, data already base64

    app.add_middleware(MCPMiddleware)
    result = (await legacy(app, "tools/call", {"name": "audio_clip"}))["result"]
    assert result["content"] == [
        {"type": "audio", "data": base64.b64encode(wav).decode(), "mimeType": "audio/wav"},
        {"type": "resource", "resource": {"uri": "test://raw", "blob": "AP8="}},
    ]
    modern = (await call_modern(app, "tools/call", {"name": "one_block"}, name="one_block")).result()
    assert modern["content"] == [{"type": "image", "data": "aGk=", "mimeType": "image/png"}]
    assert modern["resultType"] == "complete"


@pytest.mark.parametrize("given", [{}, {"text": "t", "blob": b"b"}])
def test_an_embedded_resource_takes_exactly_one_of_text_and_blob(given: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="exactly one of text= or blob="):
        content.embedded_resource("test://x", **given)


async def test_capabilities_follow_declarations() -> None:
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    caps = (await legacy(build_app(), "initialize", init))["result"]["capabilities"]
    assert caps == {
        "tools": {"listChanged": False},
        "logging": {},
        "resources": {"subscribe": False, "listChanged": False},
        "prompts": {"listChanged": False},
        "completions": {},
    }
    modern = (await call_modern(build_app(), "server/discover")).result()["capabilities"]
    assert modern["resources"] == {"subscribe": True, "listChanged": True}


async def test_declared_routes_are_not_tools() -> None:
    tools = (await legacy(build_app(), "tools/list"))["result"]["tools"]
    names = {t["name"] for t in tools}
    assert "readme" not in names
    assert "greet_prompt" not in names
    assert "rich" in names


async def test_resources_list_and_read_text_and_blob() -> None:
    app = build_app()
    listed = (await legacy(app, "resources/list"))["result"]["resources"]
    assert listed == [
        {"uri": "test://readme", "mimeType": "text/markdown", "name": "readme", "description": "Readme"},
        {"uri": "test://logo", "name": "logo", "description": "The logo"},
    ]
    text = (await legacy(app, "resources/read", {"uri": "test://readme"}))["result"]
    assert text == {"contents": [{"uri": "test://readme", "mimeType": "text/markdown", "text": "# Readme"}]}
    blob = (await legacy(app, "resources/read", {"uri": "test://logo"}))["result"]["contents"][0]
    assert blob["mimeType"] == "image/png"
    assert base64.b64decode(blob["blob"]) == PNG


async def test_a_read_image_has_the_type_its_bytes_show() -> None:
    """As a tool's result does (``results``): a PNG served as ``image/jpeg``, or declared so, is
    ``image/png``, with data after its end (a phone's trailer) too; a PDF served as ``image/png`` is
    ``application/pdf``; a PNG cut short, which a model's API cannot decode (clients make an
    ``image/*`` resource an image block), is ``application/octet-stream``, and so are bytes no
    signature of a model's image knows (a TIFF served as ``image/png``: review mend item 3)."""
    app = FastAPI()

    @app.get("/photo", openapi_extra=declare.resource("docs://photo"))
    async def photo() -> Response:
        return Response(PNG, media_type="image/jpeg")

    @app.get("/declared", openapi_extra=declare.resource("docs://declared", mime_type="image/jpeg"))
    async def declared() -> Response:
        return Response(PNG, media_type="image/jpeg")

    @app.get("/tiff", openapi_extra=declare.resource("docs://tiff"))
    async def tiff() -> Response:
        return Response(b"II*\x00rest", media_type="image/png")

    @app.get("/pdf", openapi_extra=declare.resource("docs://pdf"))
    async def pdf() -> Response:
        return Response(b"%PDF-1.7", media_type="image/png")

    @app.get("/cut", openapi_extra=declare.resource("docs://cut", mime_type="image/png"))
    async def cut() -> Response:
        return Response(PNG[:-1], media_type="image/png")

    @app.get("/trailer", openapi_extra=declare.resource("docs://trailer"))
    async def trailer() -> Response:
        return Response(PNG + b"SEFT", media_type="image/png")  # data after its end: whole

    app.add_middleware(MCPMiddleware)
    for uri, mime, data in (
        ("docs://photo", "image/png", PNG),
        ("docs://declared", "image/png", PNG),
        ("docs://tiff", "application/octet-stream", b"II*\x00rest"),
        ("docs://pdf", "application/pdf", b"%PDF-1.7"),
        ("docs://cut", "application/octet-stream", PNG[:-1]),
        ("docs://trailer", "image/png", PNG + b"SEFT"),
    ):
        [read] = (await legacy(app, "resources/read", {"uri": uri}))["result"]["contents"]
        assert read == {"uri": uri, "mimeType": mime, "blob": base64.b64encode(data).decode()}


async def test_a_read_image_over_the_base64_a_model_reads_is_no_image_type() -> None:
    """Review s11fs2 item 4: a whole PNG of more than ``MAX_IMAGE_BASE64`` characters of base64
    was read as ``image/png`` (which clients make an image block, which the API refuses), while a
    tool's result makes it a blob of ``application/octet-stream``: a read does the same. One of
    exactly the limit stays ``image/png``."""
    end = PNG[-12:]  # (IEND: the image is whole)
    fits = PNG[:-12] + bytes(MAX_IMAGE_BASE64 // 4 * 3 - len(PNG)) + end
    big = fits[:-12] + b"\x00" + end
    assert len(base64.b64encode(fits)) == MAX_IMAGE_BASE64
    app = FastAPI()

    @app.get("/fits", openapi_extra=declare.resource("docs://fits"))
    async def fits_route() -> Response:
        return Response(fits, media_type="image/png")

    @app.get("/big", openapi_extra=declare.resource("docs://big"))
    async def big_route() -> Response:
        return Response(big, media_type="image/png")

    app.add_middleware(MCPMiddleware, max_binary_bytes=len(big))
    for uri, mime in (("docs://fits", "image/png"), ("docs://big", "application/octet-stream")):
        [read] = (await legacy(app, "resources/read", {"uri": uri}))["result"]["contents"]
        assert read["mimeType"] == mime


HEIC = b"\x00\x00\x00\x18ftypheic" + bytes(12)  # (no signature of ``_signatures`` knows it)


@pytest.mark.parametrize(
    ("data", "limit", "image"),
    [
        (PNG, len(base64.b64encode(PNG)), True),  # whole, exactly the most base64 a model reads
        (PNG, len(base64.b64encode(PNG)) - 1, False),  # whole, one character over it
        (PNG[:-1], MAX_IMAGE_BASE64, False),  # cut short
    ],
)
async def test_a_read_image_and_a_tools_image_take_one_verdict(
    monkeypatch: pytest.MonkeyPatch, data: bytes, limit: int, image: bool
) -> None:
    """Review mend item 1: ``_resource_read._image_type`` worked out again what ``results._unread``
    decides for a tool's result (a model image whole, within ``MAX_IMAGE_BASE64``): one rule, in
    ``results``, decides both, so moving its limit moves both."""
    monkeypatch.setattr(results, "MAX_IMAGE_BASE64", limit)
    app = FastAPI()

    @app.get("/image", openapi_extra=declare.resource("docs://image"))
    async def read_image() -> Response:
        return Response(data, media_type="image/png")

    @app.post("/image")
    async def call_image() -> Response:
        return Response(data, media_type="image/png")

    app.add_middleware(MCPMiddleware)
    [read] = (await legacy(app, "resources/read", {"uri": "docs://image"}))["result"]["contents"]
    called = (await legacy(app, "tools/call", {"name": "call_image"}))["result"]["content"]
    assert read["mimeType"] == ("image/png" if image else "application/octet-stream")
    assert [block["type"] for block in called] == (["image"] if image else ["text", "resource"])


async def test_a_read_image_no_model_reads_is_of_no_image_type() -> None:
    """Review mend item 3: an ``image/*`` body no model reads (a HEIC, a TIFF: bytes no signature
    of a model's image shows) kept the type it was given, ``image/heic``, while a tool's result
    makes it a blob of ``application/octet-stream`` (``results.blob_type``): clients make an
    ``image/*`` blob an image block, which a model's API refuses. A read now types it as a tool's
    result does, whether the route's response or the app's declaration says ``image/*``; the
    declaration still lists the resource as it says (``resources/list``)."""
    app = FastAPI()

    @app.get("/heic", openapi_extra=declare.resource("docs://heic"))
    async def heic() -> Response:
        return Response(HEIC, media_type="image/heic")

    @app.get("/tiff", openapi_extra=declare.resource("docs://tiff", mime_type="image/tiff"))
    async def tiff() -> Response:
        return Response(b"II*\x00rest", media_type="application/octet-stream")

    @app.get("/png", openapi_extra=declare.resource("docs://png", mime_type="image/png"))
    async def png() -> Response:
        return Response(PNG, media_type="application/octet-stream")

    app.add_middleware(MCPMiddleware)
    for uri, mime, data in (
        ("docs://heic", "application/octet-stream", HEIC),
        ("docs://tiff", "application/octet-stream", b"II*\x00rest"),
        ("docs://png", "image/png", PNG),  # declared, and a model reads it
    ):
        [read] = (await legacy(app, "resources/read", {"uri": uri}))["result"]["contents"]
        assert read == {"uri": uri, "mimeType": mime, "blob": base64.b64encode(data).decode()}
    listed = (await legacy(app, "resources/list"))["result"]["resources"]
    assert [resource.get("mimeType") for resource in listed] == [None, "image/tiff", "image/png"]


async def test_a_read_blob_is_retyped_only_when_it_goes_out_as_image() -> None:
    """Review remend item 1: the retyping looked at the route's type too, so a resource declared
    ``application/dicom`` on a route answering ``image/x-dicom`` read as
    ``application/octet-stream``: only the type going out, the declared one first, is retyped, and
    only when it is ``image/*`` in any case (a declared ``IMAGE/HEIC`` on an octet-stream route is
    still no image a model reads). A route's own ``MCPResponse`` image keeps its type, as in a
    tool's result."""
    dicom = b"\x00" * 128 + b"DICM" + bytes(8)
    app = FastAPI()

    @app.get("/dicom", openapi_extra=declare.resource("scan://1", mime_type="application/dicom"))
    async def scan() -> Response:
        return Response(dicom, media_type="image/x-dicom")

    @app.get("/heic", openapi_extra=declare.resource("docs://heic", mime_type="IMAGE/HEIC"))
    async def heic() -> Response:
        return Response(HEIC, media_type="application/octet-stream")

    @app.get("/own", openapi_extra=declare.resource("docs://own"))
    async def own() -> MCPResponse:
        return MCPResponse(content.image(base64.b64encode(HEIC).decode(), "image/heic"))

    app.add_middleware(MCPMiddleware)
    for uri, mime, data in (
        ("scan://1", "application/dicom", dicom),
        ("docs://heic", "application/octet-stream", HEIC),
        ("docs://own", "image/heic", HEIC),
    ):
        [read] = (await legacy(app, "resources/read", {"uri": uri}))["result"]["contents"]
        assert read == {"uri": uri, "mimeType": mime, "blob": base64.b64encode(data).decode()}


async def test_templates_list_and_read() -> None:
    app = build_app()
    templates = (await legacy(app, "resources/templates/list"))["result"]["resourceTemplates"]
    assert templates == [
        {
            "uriTemplate": "test://items/{item_id}",
            "name": "item",
            "mimeType": "application/json",
            "description": "Item Resource",
        }
    ]
    read = (await legacy(app, "resources/read", {"uri": "test://items/123"}))["result"]["contents"][0]
    assert read["uri"] == "test://items/123"
    assert read["mimeType"] == "application/json"
    assert orjson.loads(read["text"]) == {"id": "123", "data": "Data for ID: 123"}


async def test_unknown_resource_in_both_eras() -> None:
    app = build_app()
    legacy_error = (await legacy(app, "resources/read", {"uri": "test://nope"}))["error"]
    assert legacy_error == {
        "code": -32002,
        "message": "Resource not found: test://nope",
        "data": {"uri": "test://nope"},
    }
    reply = await call_modern(app, "resources/read", {"uri": "test://nope"}, "test://nope")
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32602
    assert reply.json()["error"]["data"] == {"uri": "test://nope"}
    missing = await call_modern(app, "resources/read", {"uri": "test://items/missing"}, "test://items/missing")
    assert missing.json()["error"]["data"] == {"uri": "test://items/missing"}


async def test_resource_read_in_2026_is_cacheable() -> None:
    result = (await call_modern(build_app(), "resources/read", {"uri": "test://readme"}, "test://readme")).result()
    assert result["resultType"] == "complete"
    assert result["ttlMs"] >= 0
    assert result["cacheScope"] == "public"


def _cache_app() -> FastAPI:
    """Resources whose routes say (or do not say) how long their response stays fresh, a tool
    that changes one of them, and a prompt that says Cache-Control too."""
    app = FastAPI()
    state = {"n": 0}

    @app.get("/counter", openapi_extra=declare.resource("test://counter", mime_type="text/plain"))
    async def counter(response: Response) -> int:
        response.headers["Cache-Control"] = "no-store"
        return state["n"]

    @app.post("/counter/increment", operation_id="increment")
    async def increment() -> int:
        state["n"] += 1
        return state["n"]

    @app.get("/cached/{policy}", openapi_extra=declare.resource_template("test://cached/{policy}"))
    async def cached(policy: str) -> Response:
        headers = [(b"cache-control", line.encode()) for line in CACHE_POLICIES[policy] or ()]
        response = Response("data", media_type="text/plain")
        response.raw_headers.extend(headers)
        return response

    @app.get("/mcp-cached", openapi_extra=declare.resource("test://mcp-cached"))
    async def mcp_cached() -> MCPResponse:
        return MCPResponse("data", headers={"Cache-Control": "max-age=7"})

    @app.get("/prompts/cached", openapi_extra=declare.prompt("cached_prompt"))
    async def cached_prompt(response: Response) -> str:
        response.headers["Cache-Control"] = "max-age=300"
        return "hello"

    app.add_middleware(MCPMiddleware)
    return app


# the route's Cache-Control header lines (None: no header at all)
CACHE_POLICIES: dict[str, tuple[str, ...] | None] = {
    "none": None,
    "no-store": ("no-store",),
    "no-cache": ("no-cache",),
    "no-cache-field": ('no-cache="set-cookie", max-age=60',),
    "max-age": ("max-age=30",),
    "max-age-zero": ("max-age=0",),
    "max-age-quoted": ('max-age="30"',),
    "max-age-case": ("Public, Max-Age=30",),
    "max-age-bad": ("max-age=soon",),
    "max-age-negative": ("max-age=-5",),
    "max-age-huge": ("max-age=" + "9" * 5000,),
    "no-store-and-max-age": ("max-age=60, no-store",),
    "s-maxage": ("public, max-age=30, s-maxage=120",),
    "private": ("private, max-age=30, s-maxage=120",),
    "private-field": ('private="x-user", max-age=30',),
    "two-lines": ("max-age=30", "private"),
    "first-wins": ("max-age=30, max-age=90",),
}


@pytest.mark.parametrize(
    ("policy", "ttl", "scope"),
    [
        ("none", 0, "public"),  # the route never said its data stays fresh: no freshness is made up
        ("no-store", 0, "public"),
        ("no-cache", 0, "public"),
        ("no-cache-field", 0, "public"),
        ("max-age", 30_000, "public"),
        ("max-age-zero", 0, "public"),
        ("max-age-quoted", 30_000, "public"),
        ("max-age-case", 30_000, "public"),
        ("max-age-bad", 0, "public"),  # RFC 9111 §4.2.1: an invalid one means stale
        ("max-age-negative", 0, "public"),
        ("max-age-huge", 2**31 * 1000, "public"),  # RFC 9111 §1.2.2: delta-seconds are capped at 2^31
        ("no-store-and-max-age", 0, "public"),
        ("s-maxage", 120_000, "public"),  # a public result may be shared: s-maxage is the shared caches'
        ("private", 30_000, "private"),  # a private one is not: max-age
        ("private-field", 30_000, "private"),
        ("two-lines", 30_000, "private"),
        ("first-wins", 30_000, "public"),
    ],
)
async def test_a_resource_reads_cache_hints_come_from_its_routes_cache_control(
    policy: str, ttl: int, scope: str
) -> None:
    """2026-07-28 caching.mdx: ``ttlMs`` is analogous to ``max-age``. A resource read is the
    route's response, so its hints are the route's own Cache-Control (every read was marked fresh
    for 60 s, a ``no-store`` live value included)."""
    uri = f"test://cached/{policy}"
    result = (await call_modern(_cache_app(), "resources/read", {"uri": uri}, uri)).result()
    assert result["contents"][0]["text"] == "data"
    assert (result["ttlMs"], result["cacheScope"]) == (ttl, scope)


async def test_a_resource_read_with_credentials_is_private_and_takes_max_age() -> None:
    uri = "test://cached/s-maxage"
    headers = {**modern_headers("resources/read", uri), "authorization": "Bearer abcdefgh"}
    result = (await post(_cache_app(), request("resources/read", {"uri": uri, "_meta": meta()}), headers)).result()
    assert (result["ttlMs"], result["cacheScope"]) == (30_000, "private")
    uri = "test://cached/none"
    headers = {**modern_headers("resources/read", uri), "cookie": "sid=abcdefgh"}
    result = (await post(_cache_app(), request("resources/read", {"uri": uri, "_meta": meta()}), headers)).result()
    assert (result["ttlMs"], result["cacheScope"]) == (0, "private")


async def test_a_no_store_resource_is_never_fresh_and_reads_its_new_value() -> None:
    """The reviewer's repro: a live counter (``no-store``), a tool that bumps it, read again."""
    app = _cache_app()
    first = (await call_modern(app, "resources/read", {"uri": "test://counter"}, "test://counter")).result()
    assert (first["contents"][0]["text"], first["ttlMs"], first["cacheScope"]) == ("0", 0, "public")
    await call_modern(app, "tools/call", {"name": "increment"}, "increment")
    second = (await call_modern(app, "resources/read", {"uri": "test://counter"}, "test://counter")).result()
    assert (second["contents"][0]["text"], second["ttlMs"]) == ("1", 0)


async def test_an_mcp_response_resource_carries_its_cache_control_too() -> None:
    reply = await call_modern(_cache_app(), "resources/read", {"uri": "test://mcp-cached"}, "test://mcp-cached")
    assert reply.result()["ttlMs"] == 7_000


async def test_lists_keep_their_ttl_and_other_results_get_none() -> None:
    """Lists depend on the routes only (60 s); prompts/get and tools/call are no cacheable results
    (CACHEABLE_METHODS), whatever their route's Cache-Control says; the handshake era has no hints."""
    app = _cache_app()
    for method in ("tools/list", "resources/list", "resources/templates/list", "prompts/list"):
        assert (await call_modern(app, method)).result()["ttlMs"] == 60_000
    prompt = (await call_modern(app, "prompts/get", {"name": "cached_prompt"}, "cached_prompt")).result()
    assert prompt["messages"][0]["content"]["text"] == "hello"
    assert "ttlMs" not in prompt
    assert "cacheScope" not in prompt
    tool = (await call_modern(app, "tools/call", {"name": "increment"}, "increment")).result()
    assert "ttlMs" not in tool
    old = (await legacy(app, "resources/read", {"uri": "test://cached/max-age"}))["result"]
    assert "ttlMs" not in old
    assert "cacheScope" not in old


async def test_prompts_list_and_get() -> None:
    app = build_app()
    prompts = (await legacy(app, "prompts/list"))["result"]["prompts"]
    greet = next(p for p in prompts if p["name"] == "greet")
    assert greet["description"] == "Greets"
    assert greet["arguments"] == [{"name": "name", "required": True}, {"name": "style", "required": False}]
    got = (await legacy(app, "prompts/get", {"name": "greet", "arguments": {"name": "Ann", "style": "formal"}}))[
        "result"
    ]
    assert got == {"messages": [{"role": "user", "content": {"type": "text", "text": "Greet Ann in a formal way."}}]}
    pair = (await legacy(app, "prompts/get", {"name": "pair"}))["result"]
    assert pair["description"] == "two messages"
    assert pair["messages"][0]["content"]["type"] == "image"
    assert pair["messages"][1] == {
        "role": "user",
        "content": {"type": "text", "text": "Please analyze the image above."},
    }


async def test_prompt_argument_descriptions_and_a_json_route_that_is_not_json() -> None:
    app = FastAPI()

    @app.get("/prompts/hello", openapi_extra=declare.prompt("hello"))
    async def hello(who: Annotated[str, Query(description="Whom to greet")]) -> Response:
        return Response(f"not {{json}} for {who}", media_type="application/json")

    app.add_middleware(MCPMiddleware)
    [prompt] = (await legacy(app, "prompts/list"))["result"]["prompts"]
    assert prompt["arguments"] == [{"name": "who", "required": True, "description": "Whom to greet"}]
    got = (await legacy(app, "prompts/get", {"name": "hello", "arguments": {"who": "Ann"}}))["result"]
    assert got["messages"] == [{"role": "user", "content": {"type": "text", "text": "not {json} for Ann"}}]


async def test_prompt_errors() -> None:
    app = build_app()
    unknown = (await legacy(app, "prompts/get", {"name": "nope"}))["error"]
    assert unknown["code"] == -32602
    missing_arg = (await legacy(app, "prompts/get", {"name": "greet", "arguments": {}}))["error"]
    assert missing_arg["code"] == -32602
    assert missing_arg["message"] == "Invalid arguments for prompt 'greet': missing required argument 'name'"


async def test_prompt_with_input_required_in_2026() -> None:
    app = build_app()
    body = request("prompts/get", {"name": "ask_context", "_meta": meta()}, 1)
    first = (await post(app, body, modern_headers("prompts/get", "ask_context"))).result()
    assert first["resultType"] == "input_required"
    assert first["inputRequests"]["user_context"]["method"] == "elicitation/create"
    answer = {"user_context": {"action": "accept", "content": {"context": "tests"}}}
    body = request("prompts/get", {"name": "ask_context", "inputResponses": answer, "_meta": meta()}, 2)
    second = (await post(app, body, modern_headers("prompts/get", "ask_context"))).result()
    assert second["messages"][0]["content"]["text"] == "Prompt with context: tests"


async def test_completion() -> None:
    app = build_app()
    params = {"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "style", "value": "fo"}}
    assert (await legacy(app, "completion/complete", params))["result"] == {
        "completion": {"values": ["formal"], "total": 1, "hasMore": False}
    }
    params = {
        "ref": {"type": "ref/resource", "uri": "test://items/{item_id}"},
        "argument": {"name": "item_id", "value": "1"},
    }
    assert (await legacy(app, "completion/complete", params))["result"]["completion"]["values"] == ["1", "12"]
    params = {"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "name", "value": ""}}
    assert (await legacy(app, "completion/complete", params))["result"]["completion"]["values"] == []


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ({"type": "ref/prompt", "name": "other"}, "Unknown prompt: other"),
        ({"type": "ref/resource", "uri": "test://other/{x}"}, "Unknown resource template: test://other/{x}"),
    ],
)
async def test_completion_for_an_unknown_prompt_or_template_is_invalid_params(
    ref: dict[str, str], message: str
) -> None:
    """completion.mdx: an invalid prompt name is -32602 (it was an empty list)."""
    params = {"ref": ref, "argument": {"name": "x", "value": ""}}
    assert (await legacy(build_app(), "completion/complete", params))["error"] == {"code": -32602, "message": message}
    reply = await call_modern(build_app(), "completion/complete", params)
    assert (reply.status, reply.json()["error"]["code"]) == (400, -32602)


async def test_completion_for_a_fixed_resource_is_empty() -> None:
    params = {"ref": {"type": "ref/resource", "uri": "test://readme"}, "argument": {"name": "x", "value": ""}}
    result = (await legacy(build_app(), "completion/complete", params))["result"]
    assert result == {"completion": {"values": [], "total": 0, "hasMore": False}}


@pytest.mark.parametrize("method", ["resources/subscribe", "resources/unsubscribe"])
async def test_subscribe_is_accepted_but_not_advertised_in_the_handshake_era(method: str) -> None:
    """A stateless handshake-era endpoint has no stream to send notifications/resources/updated
    on: its capabilities say subscribe: false (they said true), and a client that subscribes
    anyway gets {} (the 2025-11-25 conformance scenarios expect the method to succeed)."""
    assert (await legacy(build_app(), method, {"uri": "test://readme"}))["result"] == {}
    init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
    caps = (await legacy(build_app(), "initialize", init))["result"]["capabilities"]
    assert caps["resources"]["subscribe"] is False


async def test_without_declarations_the_methods_are_not_served() -> None:
    app = FastAPI()

    @app.get("/x", operation_id="x")
    async def x() -> dict[str, int]:
        return {"x": 1}

    app.add_middleware(MCPMiddleware)
    for method in ("resources/list", "resources/read", "prompts/list", "completion/complete"):
        assert (await legacy(app, method, {}))["error"]["code"] == -32601
    reply = await call_modern(app, "prompts/list")
    assert reply.status == 404
    caps = (await call_modern(app, "server/discover")).result()["capabilities"]
    assert set(caps) == {"tools", "logging"}


def _odd_prompts_app() -> FastAPI:
    """Prompt routes whose messages have the right keys but not a message's shape."""
    app = FastAPI()

    for name, messages in ODD_PROMPTS.items():

        async def odd(messages: list[Any] = messages) -> dict[str, Any]:
            return {"messages": messages}

        app.add_api_route(f"/prompts/{name}", odd, methods=["GET"], openapi_extra=declare.prompt(name))
    app.add_middleware(MCPMiddleware)
    return app


ODD_PROMPTS: dict[str, list[Any]] = {
    "system": [{"role": "system", "content": {"type": "text", "text": "You are terse."}}],
    "wizard": ["fine", {"role": "wizard", "content": {"type": "text", "text": "hi"}}],
    "string_content": [{"role": "user", "content": "Summarise the diff"}],
    "list_content": [
        {"role": "user", "content": [{"type": "text", "text": "two"}, {"type": "text", "text": "blocks"}]}
    ],
    "unknown_block": [{"role": "assistant", "content": {"type": "hologram", "data": "x"}}],
    "textless": [{"role": "user", "content": {"type": "text", "value": "hi"}}],
    "text_not_string": [{"role": "user", "content": {"type": "text", "text": 42}}],
    "image_without_mime": [{"role": "user", "content": {"type": "image", "data": "aGk="}}],
    "null_content": [{"role": "user", "content": None}],
    # passes the checks of the prompt's messages, fails the wire type (an embedded resource without uri)
    "hollow_resource": [{"role": "user", "content": {"type": "resource", "resource": {"text": "hi"}}}],
}

_BLOCK_KINDS = "text, image, audio, resource or resource_link"


@pytest.mark.parametrize("era", ["handshake", "modern"])
@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "system",
            'The prompt route returned a message with role "system": a prompt message\'s role is "user" or '
            '"assistant" (put instructions in a user message)',
        ),
        (
            "wizard",
            'The prompt route returned a message with role "wizard": a prompt message\'s role is "user" or '
            '"assistant" (put instructions in a user message)',
        ),
        (
            "string_content",
            'The prompt route returned a message whose content is "Summarise the diff", not a content block '
            f'(an object whose "type" is {_BLOCK_KINDS}); a plain string is a user message of its own',
        ),
        (
            "list_content",
            "The prompt route returned a message whose content is a list, not a content block "
            f'(an object whose "type" is {_BLOCK_KINDS}); give each block a message of its own',
        ),
        (
            "unknown_block",
            f'The prompt route returned a message whose content has type "hologram", not {_BLOCK_KINDS}',
        ),
        (
            "null_content",
            "The prompt route returned a message whose content is null, not a content block "
            f'(an object whose "type" is {_BLOCK_KINDS})',
        ),
        ("textless", 'The prompt route returned a text block without "text" (a string)'),
        ("text_not_string", 'The prompt route returned a text block without "text" (a string)'),
        ("image_without_mime", 'The prompt route returned an image block without "mimeType" (a string)'),
        ("hollow_resource", "Internal error: invalid result"),
    ],
)
async def test_a_prompt_message_of_the_wrong_shape_is_an_internal_error_that_says_why(
    name: str, message: str, era: str
) -> None:
    """A route whose messages have the right keys but the wrong shape: -32603 naming what is wrong
    (it was an opaque "invalid result", the cause in the server's log only), never a malformed
    result; what the checks do not see still fails the revision's wire type."""
    app = _odd_prompts_app()
    if era == "modern":
        body = request("prompts/get", {"name": name, "_meta": meta()}, 5)
        reply = await post(app, body, modern_headers("prompts/get", name))
    else:
        reply = await post(app, request("prompts/get", {"name": name}, 5))
    error = reply.json()["error"]
    assert error["code"] == -32603
    assert error["message"] == message
    assert reply.json()["id"] == 5


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_route_whose_mcp_content_breaks_the_schema_gets_a_tool_error(era: str) -> None:
    """MCP content with a block no revision knows (``MCPResponse`` refuses to build it; a route can
    still write the media type itself): the call is a tool error that says so, in both eras (never
    an empty result)."""
    app = FastAPI()

    @app.get("/bogus", operation_id="bogus")
    async def bogus() -> Response:
        body = orjson.dumps({"content": [{"type": "hologram", "data": "x"}]})
        return Response(body, media_type=content.MCP_CONTENT_TYPE)

    app.add_middleware(MCPMiddleware)
    if era == "modern":
        body = request("tools/call", {"name": "bogus", "_meta": meta()}, 6)
        reply = await post(app, body, modern_headers("tools/call", "bogus"))
    else:
        reply = await post(app, request("tools/call", {"name": "bogus"}, 6))
    result = reply.json()["result"]
    assert result["isError"] is True
    assert result["content"] == [{"type": "text", "text": "The tool's result could not be encoded as an MCP result."}]


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_role_too_deep_to_write_back_is_shown_by_its_start(era: str) -> None:
    """The error names the role the route gave, as JSON; one nested deeper than orjson writes
    (254 levels, though it reads 1,024) is shown as Python writes it, cut short, not a crash."""
    app = FastAPI()
    deep: Any = []
    for _ in range(300):
        deep = [deep]

    @app.get("/prompts/deep", openapi_extra=declare.prompt("deep"))
    async def deep_role() -> Response:
        message = {"role": deep, "content": {"type": "text", "text": "hi"}}
        return Response(json.dumps({"messages": [message]}), media_type="application/json")

    app.add_middleware(MCPMiddleware)
    if era == "modern":
        reply = await post(
            app, request("prompts/get", {"name": "deep", "_meta": meta()}, 5), modern_headers("prompts/get", "deep")
        )
    else:
        reply = await post(app, request("prompts/get", {"name": "deep"}, 5))
    assert reply.json()["error"] == {
        "code": -32603,
        "message": f"The prompt route returned a message with role {'[' * 57}...: a prompt message's role is "
        '"user" or "assistant" (put instructions in a user message)',
    }


async def test_a_prompt_route_answering_plain_text_is_one_user_message() -> None:
    app = FastAPI()

    @app.get("/prompts/plain", openapi_extra=declare.prompt("plain"))
    async def plain() -> PlainTextResponse:
        return PlainTextResponse('["not", "parsed"]')

    app.add_middleware(MCPMiddleware)
    got = (await legacy(app, "prompts/get", {"name": "plain"}))["result"]
    assert got == {"messages": [{"role": "user", "content": {"type": "text", "text": '["not", "parsed"]'}}]}


def failing_app() -> FastAPI:
    """Declared routes that fail in the ways a route can: a prompt that is not messages (or not
    even text), routes that raise, a resource whose route answers 503, redirects."""
    app = FastAPI()

    @app.get("/prompts/numbers", openapi_extra=declare.prompt("numbers"))
    async def numbers() -> list[int]:
        return [1, 2]

    @app.get("/prompts/broken", openapi_extra=declare.prompt("broken"))
    async def broken() -> str:
        raise RuntimeError("boom")

    @app.get("/docs/boom", openapi_extra=declare.resource("test://boom"))
    async def boom() -> str:
        raise RuntimeError("boom")

    @app.get("/docs/down", openapi_extra=declare.resource("test://down"))
    async def down() -> None:
        raise HTTPException(503, "maintenance")

    @app.get("/prompts/png", openapi_extra=declare.prompt("png"))
    async def png() -> Response:
        return Response(PNG, media_type="image/png")

    @app.get("/docs/moved", openapi_extra=declare.resource("test://moved"))
    async def moved() -> Response:
        return Response(status_code=307, headers={"location": "/elsewhere"})

    @app.get("/docs/unchanged", openapi_extra=declare.resource("test://unchanged"))
    async def unchanged() -> Response:
        return Response(status_code=304, headers={"etag": '"v7"'})

    @app.get("/prompts/unchanged", openapi_extra=declare.prompt("unchanged"))
    async def unchanged_prompt() -> Response:
        return Response(status_code=304)

    @app.get("/prompts/moved", openapi_extra=declare.prompt("moved"))
    async def moved_prompt() -> Response:
        return Response("see elsewhere", status_code=399)  # no such status: no phrase

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("prompts/get", {"name": "numbers"}, "The prompt route returned something that is not a message"),
        ("prompts/get", {"name": "broken"}, "Prompt 'broken' failed: the route raised RuntimeError."),
        ("resources/read", {"uri": "test://boom"}, "Resource test://boom failed: the route raised RuntimeError."),
        (
            "resources/read",
            {"uri": "test://down"},
            "Reading test://down failed: HTTP 503 Service Unavailable: maintenance",
        ),
        ("prompts/get", {"name": "png"}, "The prompt route returned image/png, not text or messages"),
        (
            "resources/read",
            {"uri": "test://moved"},
            "Reading test://moved failed: HTTP 307 Temporary Redirect (redirects are not followed)",
        ),
        ("prompts/get", {"name": "moved"}, "Prompt 'moved' failed: HTTP 399 (redirects are not followed)"),
        # a 304 is no redirect, but it has no content to read (review: said "redirects are not followed")
        (
            "resources/read",
            {"uri": "test://unchanged"},
            "Reading test://unchanged failed: HTTP 304 Not Modified (the route answered no content)",
        ),
        (
            "prompts/get",
            {"name": "unchanged"},
            "Prompt 'unchanged' failed: HTTP 304 Not Modified (the route answered no content)",
        ),
    ],
)
async def test_failing_prompts_and_resources_are_internal_errors(
    method: str, params: dict[str, Any], message: str
) -> None:
    """Prompts and resources have no isError result: a route that fails is a -32603 that says why."""
    error = (await legacy(failing_app(), method, params))["error"]
    assert error["code"] == -32603
    assert error["message"] == message


def _stateful_app() -> FastAPI:
    """A prompt, a resource and a tool (named like the prompt) that each take two rounds, handing
    back a state the first time and showing it the second."""
    app = FastAPI()
    schema = {"type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]}

    async def two_rounds(ctx: MCPContext, state: str) -> str:
        if ctx.request_state is None:
            await ctx.elicit("Which topic?", schema, key="topic", state=state)
        return f"state={ctx.request_state}"

    @app.get("/prompts/briefing", openapi_extra=declare.prompt("briefing"))
    async def briefing(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> str:
        return "Brief me: " + await two_rounds(ctx, "prompt-secret-1")

    @app.get("/docs/notes", openapi_extra=declare.resource("test://notes", mime_type="text/plain"))
    async def notes(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Response:
        return Response("Notes: " + await two_rounds(ctx, "resource-secret-2"), media_type="text/plain")

    @app.post("/tools/briefing", operation_id="briefing")
    async def briefing_tool(ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, str]:
        return {"tool": await two_rounds(ctx, "tool-secret-3")}

    app.add_middleware(MCPMiddleware)
    return app


_TOPIC = {"topic": {"action": "accept", "content": {"topic": "tests"}}}
_ROUNDS = [
    ("prompts/get", "name", "briefing", "prompt-secret-1"),
    ("resources/read", "uri", "test://notes", "resource-secret-2"),
    ("tools/call", "name", "briefing", "tool-secret-3"),
]


async def _round(app: FastAPI, method: str, field: str, target: str, **extra: Any) -> Any:
    return await call_modern(app, method, {field: target, **extra}, name=target)


def _text_of(method: str, result: dict[str, Any]) -> str:
    if method == "prompts/get":
        text: str = result["messages"][0]["content"]["text"]
    elif method == "resources/read":
        text = result["contents"][0]["text"]
    else:
        text = result["content"][0]["text"]
    return text


@pytest.mark.parametrize(("method", "field", "target", "secret"), _ROUNDS)
async def test_a_sealed_request_state_round_trips_through_prompts_resources_and_tools(
    method: str, field: str, target: str, secret: str
) -> None:
    app = _stateful_app()
    first = (await _round(app, method, field, target)).result()
    assert first["resultType"] == "input_required"
    assert list(first["inputRequests"]) == ["topic"]
    state = first["requestState"]
    assert secret not in state  # sealed: the client sees a token, not the route's value
    second = (await _round(app, method, field, target, requestState=state, inputResponses=_TOPIC)).result()
    assert second["resultType"] == "complete"
    assert f"state={secret}" in _text_of(method, second)


async def test_a_request_state_only_opens_for_the_prompt_resource_or_tool_that_sealed_it() -> None:
    app = _stateful_app()
    states = {}
    for method, field, target, _ in _ROUNDS:
        states[method] = (await _round(app, method, field, target)).result()["requestState"]
    for method, field, target, _ in _ROUNDS:
        for other, state in states.items():
            if other == method:
                continue
            # the prompt and the tool share a name: the binding is to the kind as well
            reply = await _round(app, method, field, target, requestState=state, inputResponses=_TOPIC)
            assert reply.status == 400, (method, other)
            assert reply.json()["error"]["code"] == -32602
        tampered = states[method][:-2] + ("AA" if not states[method].endswith("AA") else "BB")
        reply = await _round(app, method, field, target, requestState=tampered, inputResponses=_TOPIC)
        assert reply.status == 400
        assert reply.json()["error"]["code"] == -32602


def template_app(template: str) -> FastAPI:
    """One tool, and a resource template whose route takes ``a`` (sent as the query parameter
    named like the template's first variable)."""
    app = FastAPI()
    variable = template.split("{", 1)[1].split("}", 1)[0]

    @app.get("/pair", openapi_extra=declare.resource_template(template))
    async def pair(a: str = Query(alias=variable)) -> dict[str, str]:
        return {"a": a}

    @app.get("/ping", operation_id="hello")
    async def hello() -> dict[str, bool]:
        return {"ok": True}

    app.add_middleware(MCPMiddleware)
    return app


async def _read_text(app: FastAPI, uri: str) -> Any:
    reply = await legacy(app, "resources/read", {"uri": uri})
    return orjson.loads(reply["result"]["contents"][0]["text"]) if "result" in reply else reply["error"]


async def test_a_repeated_template_variable_must_match_the_same_text() -> None:
    """``{a}`` twice once made every request fail (a regex group name defined twice)."""
    app = template_app("pair://{a}/{a}")
    assert [t["name"] for t in (await legacy(app, "tools/list"))["result"]["tools"]] == ["hello"]
    assert await _read_text(app, "pair://x/x") == {"a": "x"}
    assert (await _read_text(app, "pair://x/y"))["code"] == -32002


async def test_a_crafted_uri_of_a_megabyte_is_matched_at_once() -> None:
    """Two variables around a literal the URI repeats, failing at its end: the regular expression
    tried every split (16 KB: 0.84 s, 32 KB: 3 s, this one about an hour). Not found, as before."""
    app = FastAPI()

    @app.get("/events/{year}/{month}", openapi_extra=declare.resource_template("events://{year}-{month}"))
    async def events(year: int, month: int) -> dict[str, int]:
        return {"y": year, "m": month}

    app.add_middleware(MCPMiddleware)
    assert await _read_text(app, "events://2024-1") == {"y": 2024, "m": 1}
    assert (await _read_text(app, "events://" + "1-" * 500_000 + "/"))["code"] == -32002


async def test_a_template_variable_that_is_no_regex_group_name_still_matches() -> None:
    """``{1a}`` is a valid RFC 6570 variable name but no Python group name."""
    app = template_app("num://{1a}")
    assert (await legacy(app, "tools/list"))["result"]["tools"][0]["name"] == "hello"
    assert await _read_text(app, "num://7") == {"a": "7"}


async def test_a_template_variable_the_route_does_not_take_is_ignored_and_reported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """b1a883e made every read of such a template fail (-32602 "unknown argument 'fmt'"); its value
    was ignored before, and is again. The mistake is the declaration's: a warning says so once,
    when the catalog is built, rather than each read failing."""
    app = FastAPI()

    @app.get("/users/{user_id}", openapi_extra=declare.resource_template("users://{user_id}/{fmt}"))
    async def user(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.features"):
        assert await _read_text(app, "users://7/json") == {"id": "7"}
        assert await _read_text(app, "users://8/xml") == {"id": "8"}
    assert [record.getMessage() for record in caplog.records if record.name == "mcp_middleware.features"] == [
        "Resource template 'users://{user_id}/{fmt}' of user: the route takes no argument 'fmt'; its values are ignored"
    ]


class Labels(BaseModel):
    model_config = ConfigDict(extra="allow")
    size: str = "m"


async def test_a_template_variable_that_fills_an_open_bodys_extra_property_is_taken(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A route whose body takes other properties (``extra="allow"``) takes any variable: its value
    is sent in the body, not ignored, and nothing is reported."""
    app = FastAPI()

    @app.post("/labels/{kind}", openapi_extra=declare.resource_template("labels://{kind}/{colour}"))
    async def label(kind: str, body: Labels) -> dict[str, Any]:
        return {"kind": kind, **body.model_dump()}

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.features"):
        assert await _read_text(app, "labels://shirt/red") == {"kind": "shirt", "size": "m", "colour": "red"}
    assert [record.getMessage() for record in caplog.records if record.name == "mcp_middleware.features"] == []


def slash_app() -> FastAPI:
    app = FastAPI()

    @app.get("/files/{path:path}", openapi_extra=declare.resource_template("file:///{+path}", mime_type="text/plain"))
    async def files(path: str) -> Response:
        return Response(f"file {path}", media_type="text/plain")

    @app.get("/users/{name}", openapi_extra=declare.resource_template("users://{+name}"))
    async def users(name: str) -> dict[str, str]:
        return {"name": name}

    @app.get("/people/{name}", openapi_extra=declare.resource_template("people://{name}"))
    async def people(name: str) -> dict[str, str]:
        return {"name": name}

    @app.get("/prompts/{topic}", openapi_extra=declare.prompt("topic"))
    async def topic(topic: str) -> str:
        return f"About {topic}"

    @app.get("/summaries", openapi_extra=declare.prompt("summary"))
    async def summary(subject: str, words: int, tone: str = "plain") -> str:
        return f"{words} {tone} words about {subject}"

    @app.get("/teams/{name}", openapi_extra=declare.resource_template("teams://{name}{?region}"))
    async def teams(name: str, region: str) -> dict[str, str]:  # a query parameter the URI's query gives
        return {"name": name, "region": region}

    @app.get("/search", openapi_extra=declare.resource_template("search://items{?q,page}"))
    async def search(q: str = "", page: int = 1) -> dict[str, Any]:
        return {"q": q, "page": page}

    app.add_middleware(MCPMiddleware)
    return app


async def test_a_reserved_template_value_with_slashes_reaches_a_path_route() -> None:
    """``{+path}`` on a ``{path:path}`` route: the value's slashes were refused (-32603)."""
    read = (await legacy(slash_app(), "resources/read", {"uri": "file:///docs/a.txt"}))["result"]
    assert read["contents"] == [{"uri": "file:///docs/a.txt", "mimeType": "text/plain", "text": "file docs/a.txt"}]


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("prompts/get", {"name": "topic"}, "Invalid arguments for prompt 'topic': missing required argument 'topic'"),
        (
            "prompts/get",
            {"name": "summary", "arguments": {"tone": "dry"}},
            "Invalid arguments for prompt 'summary': missing required arguments 'subject', 'words'",
        ),
        (
            "prompts/get",
            {"name": "topic", "arguments": {"topic": "a", "tpoic": "b"}},
            "Invalid arguments for prompt 'topic': unknown argument 'tpoic'; valid arguments: 'topic'",
        ),
    ],
)
async def test_arguments_that_cannot_make_the_request_are_invalid_params(
    method: str, params: dict[str, Any], message: str
) -> None:
    """The client's mistake, not the server's: -32602 (was -32603)."""
    error = (await legacy(slash_app(), method, params))["error"]
    assert error == {"code": -32602, "message": message}


def refusing_app() -> FastAPI:
    """Templates whose URIs match but whose routes cannot take the values, and a fixed resource
    whose route refuses the reader."""
    app = FastAPI()

    @app.get("/users/{user_id}", openapi_extra=declare.resource_template("users://{user_id}"))
    async def user(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    @app.get("/files/{path:path}", openapi_extra=declare.resource_template("files://{+path}"))
    async def files(path: str) -> str:
        return path

    @app.get("/num/{n}", openapi_extra=declare.resource_template("num://{n}"))
    async def num(n: int) -> dict[str, int]:
        return {"n": n}

    @app.get("/need/{name}", openapi_extra=declare.resource_template("need://{name}{?must}"))
    async def need(name: str, must: int) -> dict[str, Any]:
        return {"name": name, "must": must}

    @app.get("/vault", openapi_extra=declare.resource("vault://x"))
    async def vault() -> None:
        raise HTTPException(403, "not yours")

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("users://a%2Fc", "Invalid arguments for resource users://a%2Fc: argument 'user_id' must not contain '/'"),
        (
            "files://a/../etc",
            "Invalid arguments for resource files://a/../etc: argument 'path' must not contain '.' or '..' segments",
        ),
        ("num://abc", "Reading num://abc failed: HTTP 422 "),
        ("need://x?must=abc", "Reading need://x?must=abc failed: HTTP 422 "),
        ("vault://x", "Reading vault://x failed: HTTP 403 Forbidden"),
    ],
)
@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_every_invalid_params_of_a_matched_uri_carries_data_uri(uri: str, message: str, era: str) -> None:
    """Arguments the route's request cannot be made from, and the route's 4xx, are -32602 with
    ``data.uri`` as the not-found and non-UTF-8 ones are: without it a client could not tell a bad
    resource from other invalid params (review: the first four had no ``data``)."""
    if era == "handshake":
        error = (await legacy(refusing_app(), "resources/read", {"uri": uri}))["error"]
    else:
        error = (await call_modern(refusing_app(), "resources/read", {"uri": uri}, uri)).json()["error"]
    assert error["message"].startswith(message)
    assert (error["code"], error.get("data")) == (-32602, {"uri": uri})


async def test_a_prompts_invalid_params_carry_no_data() -> None:
    """``data.uri`` is a resource's: a prompt's -32602 (arguments refused, the route's 4xx) has none."""
    app = FastAPI()

    @app.get("/prompts/count", openapi_extra=declare.prompt("count"))
    async def count(n: int) -> str:
        return str(n)

    app.add_middleware(MCPMiddleware)
    refused = (await legacy(app, "prompts/get", {"name": "count", "arguments": {"n": "abc"}}))["error"]
    assert refused["code"] == -32602
    assert "data" not in refused


@pytest.mark.parametrize(
    ("uri", "value"),
    [
        ("people://J%C3%BCrgen", {"name": "Jürgen"}),
        ("people://100%25", {"name": "100%"}),
        ("people://a%20b", {"name": "a b"}),
        ("file:///a%20b/%C3%A9.txt", "file a b/é.txt"),
    ],
)
async def test_template_values_are_percent_decoded(uri: str, value: Any) -> None:
    """RFC 6570 expansion percent-encodes values: the route gets them decoded (it got "J%C3%BCrgen")."""
    content = (await legacy(slash_app(), "resources/read", {"uri": uri}))["result"]["contents"][0]
    assert (orjson.loads(content["text"]) if isinstance(value, dict) else content["text"]) == value


@pytest.mark.parametrize(
    ("uri", "value"),
    [
        ("teams://red?region=eu", {"name": "red", "region": "eu"}),
        ("teams://r%C3%A9d?region=north%20east", {"name": "réd", "region": "north east"}),
        ("teams://red?region=a%26b%3Dc", {"name": "red", "region": "a&b=c"}),
        ("search://items", {"q": "", "page": 1}),
        ("search://items?q=mcp", {"q": "mcp", "page": 1}),
        ("search://items?page=3&q=a+b", {"q": "a+b", "page": 3}),
    ],
)
async def test_a_templates_query_expression_gives_the_routes_query_parameters(uri: str, value: Any) -> None:
    """``{?region}``: RFC 6570 form-style query expansion, as the TS SDK and VS Code expand it (the
    template was left out before); an undefined variable is absent from the URI, and its default
    applies."""
    content = (await legacy(slash_app(), "resources/read", {"uri": uri}))["result"]["contents"][0]
    assert content["uri"] == uri
    assert orjson.loads(content["text"]) == value


async def test_a_template_with_a_query_expression_is_listed_as_declared() -> None:
    listed = (await legacy(slash_app(), "resources/templates/list"))["result"]["resourceTemplates"]
    assert "teams://{name}{?region}" in [t["uriTemplate"] for t in listed]
    assert "search://items{?q,page}" in [t["uriTemplate"] for t in listed]


async def test_a_read_without_a_required_query_variable_says_which_and_how_in_both_eras() -> None:
    """The URI is an expansion of the template with ``region`` undefined, but the route needs it:
    -32602 naming the variable and the template, with ``data.uri`` as the spec's resource errors
    have it (it was -32602 without the template or the URI's data)."""
    message = (
        "Invalid arguments for resource teams://red: missing required argument 'region' "
        "(the template's query gives it: teams://{name}{?region})"
    )
    error = (await legacy(slash_app(), "resources/read", {"uri": "teams://red"}))["error"]
    assert error == {"code": -32602, "message": message, "data": {"uri": "teams://red"}}
    reply = await call_modern(slash_app(), "resources/read", {"uri": "teams://red"}, "teams://red")
    assert reply.status == 400
    assert reply.json()["error"] == {"code": -32602, "message": message, "data": {"uri": "teams://red"}}


@pytest.mark.parametrize("uri", ["search://items?x=1", "search://items?q=1&q=2", "teams://red?region=eu&x=1"])
async def test_a_query_the_template_does_not_expand_to_is_not_found(uri: str) -> None:
    error = (await legacy(slash_app(), "resources/read", {"uri": uri}))["error"]
    assert error == {"code": -32002, "message": f"Resource not found: {uri}", "data": {"uri": uri}}


async def test_a_template_that_cannot_give_a_required_argument_is_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A route needing a query parameter (or a path parameter of another name) that the template
    does not give was listed, and every read of it was refused (-32602 "missing required
    argument"), with nothing said at start-up. It is left out, and a warning says why, once."""
    app = FastAPI()

    @app.get("/teams/{name}", openapi_extra=declare.resource_template("teams://{name}"))
    async def teams(name: str, region: str, size: int) -> dict[str, str]:
        return {"name": name, "region": region}

    @app.get("/users/{user_id}", openapi_extra=declare.resource_template("users://{id}"))
    async def user(user_id: str) -> dict[str, str]:
        return {"id": user_id}

    @app.get("/people/{name}", openapi_extra=declare.resource_template("people://{name}{?region}"))
    async def people(name: str, region: str) -> dict[str, str]:
        return {"name": name, "region": region}

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.features"):
        listed = (await legacy(app, "resources/templates/list"))["result"]["resourceTemplates"]
        again = (await legacy(app, "resources/templates/list"))["result"]["resourceTemplates"]
        error = (await legacy(app, "resources/read", {"uri": "teams://red"}))["error"]
    assert [t["uriTemplate"] for t in listed] == [t["uriTemplate"] for t in again] == ["people://{name}{?region}"]
    assert error["code"] == -32002
    assert [record.getMessage() for record in caplog.records if record.name == "mcp_middleware.features"] == [
        "Resource template 'teams://{name}' of teams is skipped: the route requires 'region', 'size', which the "
        "template does not give (a query expression would: teams://{name}{?region,size})",
        "Resource template 'users://{id}' of user: the route takes no argument 'id'; its values are ignored",
        "Resource template 'users://{id}' of user is skipped: the route requires 'user_id', which the "
        "template does not give (a query expression would: users://{id}{?user_id})",
    ]


@pytest.mark.parametrize(
    ("uri", "name"),
    [("people://J%FCrgen", "name"), ("teams://red?region=%E9", "region"), ("file:///a/%C3.txt", "path")],
)
@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_template_value_not_percent_encoded_utf8_is_invalid_params(uri: str, name: str, era: str) -> None:
    """RFC 6570 expansion writes a value's UTF-8 bytes: ``%FC`` (Latin-1) decoded to U+FFFD, so the
    route got "J\ufffdrgen", and ``%FC`` and ``%E9`` read the same resource."""
    message = f"Invalid arguments for resource {uri}: argument {name!r} is not UTF-8 once percent-decoded"
    if era == "handshake":
        error = (await legacy(slash_app(), "resources/read", {"uri": uri}))["error"]
    else:
        error = (await call_modern(slash_app(), "resources/read", {"uri": uri}, uri)).json()["error"]
    assert error == {"code": -32602, "message": message, "data": {"uri": uri}}


async def test_a_resource_whose_route_requires_an_argument_is_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fixed URI gives the route no argument: a route requiring one was listed, and every read
    of it refused (-32602 "missing required argument"), with nothing said at start-up."""
    app = FastAPI()

    @app.get("/report", openapi_extra=declare.resource("data://report"))
    async def report(year: int, region: str) -> dict[str, Any]:
        return {"year": year}

    @app.get("/readme", openapi_extra=declare.resource("data://readme"))
    async def readme(lang: str = "en") -> str:
        return lang

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.features"):
        listed = (await legacy(app, "resources/list"))["result"]["resources"]
        error = (await legacy(app, "resources/read", {"uri": "data://report"}))["error"]
    assert [r["uri"] for r in listed] == ["data://readme"]
    assert error == {"code": -32002, "message": "Resource not found: data://report", "data": {"uri": "data://report"}}
    assert [record.getMessage() for record in caplog.records if record.name == "mcp_middleware.features"] == [
        "Resource 'data://report' of report is skipped: the route requires 'year', 'region', which a fixed URI "
        "does not give (a resource template would: 'data://report{?year,region}')"
    ]


async def test_no_query_expression_is_suggested_after_a_uri_that_has_a_query_already(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A ``{?...}`` after a literal ``?`` is no query expression (it is read as literal text): the
    warning suggested ``data://report?v=1{?year}`` and ``items://{id}?v=1{?lang}``, which would be
    skipped too. It says what the route requires, without a suggestion."""
    app = FastAPI()

    @app.get("/ok", openapi_extra=declare.resource("data://ok"))
    async def ok() -> str:
        return "ok"

    @app.get("/report", openapi_extra=declare.resource("data://report?v=1"))
    async def report(year: int) -> dict[str, Any]:
        return {"year": year}

    @app.get("/items/{id}", openapi_extra=declare.resource_template("items://{id}?v=1"))
    async def item(id: str, lang: str) -> dict[str, str]:
        return {"id": id}

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.features"):
        listed = (await legacy(app, "resources/list"))["result"]["resources"]
        templates = (await legacy(app, "resources/templates/list"))["result"]["resourceTemplates"]
    assert [r["uri"] for r in listed] == ["data://ok"]
    assert templates == []
    assert [record.getMessage() for record in caplog.records if record.name == "mcp_middleware.features"] == [
        "Resource 'data://report?v=1' of report is skipped: the route requires 'year', which a fixed URI does not give",
        "Resource template 'items://{id}?v=1' of item is skipped: the route requires 'lang', which the template "
        "does not give",
    ]


async def test_a_prompt_uri_or_template_declared_twice_keeps_the_first_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The second declaration replaced the first in silence (a prompt, a resource), or was listed
    twice and never read (a template); tools keep the first route's name too."""
    app = FastAPI()

    @app.get("/a", openapi_extra={**declare.prompt("p"), **declare.resource("data://x")})
    async def first() -> str:
        return "first"

    @app.get("/t1/{k}", openapi_extra=declare.resource_template("t://{k}"))
    async def first_template(k: str) -> str:
        return f"first {k}"

    @app.get("/b", openapi_extra={**declare.prompt("p"), **declare.resource("data://x")})
    async def second() -> str:
        return "second"

    @app.get("/t2/{k}", openapi_extra=declare.resource_template("t://{k}"))
    async def second_template(k: str) -> str:
        return f"second {k}"

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.features"):
        prompts = (await legacy(app, "prompts/list"))["result"]["prompts"]
        resources = (await legacy(app, "resources/list"))["result"]["resources"]
        templates = (await legacy(app, "resources/templates/list"))["result"]["resourceTemplates"]
        got = (await legacy(app, "prompts/get", {"name": "p"}))["result"]["messages"][0]["content"]["text"]
        read = (await legacy(app, "resources/read", {"uri": "data://x"}))["result"]["contents"][0]["text"]
    assert [(p["name"], p["description"]) for p in prompts] == [("p", "First")]
    assert [(r["uri"], r["name"]) for r in resources] == [("data://x", "first")]
    assert [(t["uriTemplate"], t["name"]) for t in templates] == [("t://{k}", "first_template")]
    assert (got, read) == ("first", '"first"')
    assert [record.getMessage() for record in caplog.records if record.name == "mcp_middleware.features"] == [
        "Resource 'data://x' of second is skipped: first declares it already",
        "Prompt 'p' of second is skipped: first declares it already",
        "Resource template 't://{k}' of second_template is skipped: first_template declares it already",
    ]


async def test_declared_prompt_arguments_the_route_cannot_use_are_reported_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Declared ``arguments`` replace the listed ones: one the route requires and they leave out
    made every prompts/get of a client that follows the listing fail ("missing required
    argument"), and one the route does not take failed it ("unknown argument"), silently at
    start-up. The first is left out, the second reported; both once."""
    app = FastAPI()

    @app.get("/p1", openapi_extra=declare.prompt("renamed", arguments=[{"name": "topic", "required": True}]))
    async def renamed(subject: str) -> str:
        return subject

    @app.get("/p2", openapi_extra=declare.prompt("extra", arguments=[{"name": "subject"}, {"name": "tone"}]))
    async def extra(subject: str) -> str:
        return subject

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.features"):
        listed = (await legacy(app, "prompts/list"))["result"]["prompts"]
        got = (await legacy(app, "prompts/get", {"name": "extra", "arguments": {"subject": "s"}}))["result"]
        error = (await legacy(app, "prompts/get", {"name": "renamed", "arguments": {"topic": "t"}}))["error"]
    assert [p["name"] for p in listed] == ["extra"]
    assert got["messages"][0]["content"]["text"] == "s"
    assert error == {"code": -32602, "message": "Unknown prompt: renamed"}
    assert [record.getMessage() for record in caplog.records if record.name == "mcp_middleware.features"] == [
        "Prompt 'renamed' of renamed: the route takes no argument 'topic'; a prompts/get that gives it is refused",
        "Prompt 'renamed' of renamed is skipped: the route requires 'subject', which its declared arguments do "
        "not list",
        "Prompt 'extra' of extra: the route takes no argument 'tone'; a prompts/get that gives it is refused",
    ]


async def test_a_decoded_slash_is_still_refused_for_a_plain_path_parameter() -> None:
    error = (await legacy(slash_app(), "resources/read", {"uri": "people://a%2Fb"}))["error"]
    assert error == {
        "code": -32602,
        "message": "Invalid arguments for resource people://a%2Fb: argument 'name' must not contain '/'",
        "data": {"uri": "people://a%2Fb"},
    }


async def test_an_untyped_resource_body_is_labelled_by_what_it_sniffs_as() -> None:
    """Untyped text was labelled application/octet-stream."""
    app = FastAPI()

    @app.get("/untyped/{kind}", openapi_extra=declare.resource_template("untyped://{kind}"))
    async def untyped(kind: str) -> Response:
        return Response({"text": b"plain words", "binary": b"\xff\xfe", "empty": b""}[kind])

    app.add_middleware(MCPMiddleware)
    text, binary, empty = [
        (await legacy(app, "resources/read", {"uri": f"untyped://{kind}"}))["result"]["contents"][0]
        for kind in ("text", "binary", "empty")
    ]
    assert text == {"uri": "untyped://text", "mimeType": "text/plain", "text": "plain words"}
    assert binary == {"uri": "untyped://binary", "mimeType": "application/octet-stream", "blob": "//4="}
    assert empty == {"uri": "untyped://empty", "mimeType": "text/plain", "text": ""}


def oversized_app() -> FastAPI:
    """A resource and a prompt whose text is longer than the result limit (50 characters)."""
    app = FastAPI()

    @app.get("/big", openapi_extra=declare.resource("data://big", mime_type="application/json"))
    async def big() -> dict[str, str]:
        return {"rows": "x" * 100}

    @app.get("/prompts/big", openapi_extra=declare.prompt("bigp"))
    async def bigp() -> list[str]:
        return ["y" * 100]

    app.add_middleware(MCPMiddleware, max_result_chars=50)
    return app


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        (
            "resources/read",
            {"uri": "data://big"},
            "Reading data://big failed: the route's response has 111 characters and the result limit is 50.",
        ),
        (
            "prompts/get",
            {"name": "bigp"},
            "Prompt 'bigp' failed: the route's response has 104 characters and the result limit is 50.",
        ),
    ],
)
async def test_an_oversized_resource_or_prompt_is_an_internal_error(
    method: str, params: dict[str, Any], message: str
) -> None:
    """Text beyond max_result_chars was cut and returned as a success (a resource's JSON invalid,
    with a "[truncated: ...]" marker in it; a prompt's cut JSON as one user message)."""
    error = (await legacy(oversized_app(), method, params))["error"]
    assert error == {"code": -32603, "message": message}
    target = params.get("uri") or params["name"]
    reply = await call_modern(oversized_app(), method, params, target)
    assert reply.json()["error"] == {"code": -32603, "message": message}


@pytest.mark.parametrize(
    "template",
    [
        "search://items?x=1{&q}",
        "search://items?x=1{?q}",
        "search://{?q}{r}",
        "search://items{?q}{?r}",
        "search://items{?q*}",
        "search://items{?q,}",
        "search://items{/q}",
        "search://items{#q}",
        "search://items{.q}",
        "search://items{;q}",
        "search://{q,r}",
        "search://{q*}",
        "search://{q:3}",
        "search://{q.r}",
        "search://{q",
    ],
)
async def test_a_template_with_an_unsupported_expression_is_left_out_with_a_warning(
    template: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Only ``{var}``, ``{+var}`` and a final ``{?var,...}`` are matched: a template with any other
    RFC 6570 form was listed but could never be read."""
    app = FastAPI()

    @app.get("/search", openapi_extra=declare.resource_template(template))
    async def search(q: str = "") -> dict[str, str]:
        return {"q": q}

    @app.get("/items/{q}", openapi_extra=declare.resource_template("items://{q}"))
    async def item(q: str) -> dict[str, str]:
        return {"q": q}

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.features"):
        listed = (await legacy(app, "resources/templates/list"))["result"]["resourceTemplates"]
    assert [t["uriTemplate"] for t in listed] == ["items://{q}"]
    assert [record.getMessage() for record in caplog.records if record.name == "mcp_middleware.features"] == [
        f"Resource template {template!r} of search is skipped: only {{var}}, {{+var}} and a final {{?var,...}} "
        "(after no '?') are supported"
    ]


class Point(BaseModel):
    x: int


def json_prompt_app() -> FastAPI:
    """Prompts whose arguments are not strings: a JSON body, a model, numbers, a flag, a list."""
    app = FastAPI()

    @app.post("/prompts/body", openapi_extra=declare.prompt("body"))
    async def body(payload: dict[str, Any]) -> str:
        return f"payload {payload}"

    @app.post("/prompts/point/{n}", openapi_extra=declare.prompt("point"))
    async def point(
        n: int,
        where: Annotated[Point, Body(embed=True)],
        flag: bool = False,
        tags: Annotated[list[str] | None, Query()] = None,
        note: str = "",
    ) -> str:
        return f"n={n!r} where={where.x!r} flag={flag!r} tags={tags!r} note={note!r}"

    app.add_middleware(MCPMiddleware)
    return app


async def test_prompt_arguments_that_are_not_strings_are_parsed_as_json() -> None:
    """A prompt argument is a string: one whose schema is no string (a JSON body, a model, a number,
    a flag, a list) is read as JSON. A JSON body's ``body`` argument could never be filled."""
    app = json_prompt_app()
    prompts = {p["name"]: p for p in (await legacy(app, "prompts/list"))["result"]["prompts"]}
    assert prompts["body"]["arguments"] == [{"name": "body", "required": True, "description": "JSON: object"}]
    assert [a.get("description") for a in prompts["point"]["arguments"]] == [
        "JSON: integer",
        "JSON: boolean",
        "JSON: array",
        None,
        "JSON: object",
    ]
    got = (await legacy(app, "prompts/get", {"name": "body", "arguments": {"body": '{"a": [1, 2]}'}}))["result"]
    assert got["messages"][0]["content"]["text"] == "payload {'a': [1, 2]}"
    arguments = {"n": "3", "where": '{"x": 4}', "flag": "true", "tags": '["a", "b"]', "note": "[not json]"}
    got = (await legacy(app, "prompts/get", {"name": "point", "arguments": arguments}))["result"]
    assert got["messages"][0]["content"]["text"] == "n=3 where=4 flag=True tags=['a', 'b'] note='[not json]'"
    # a scalar that is not JSON reaches the route as the text a query would carry, for FastAPI to read
    arguments = {"n": "007", "where": '{"x": 4}', "flag": "yes"}
    got = (await legacy(app, "prompts/get", {"name": "point", "arguments": arguments}))["result"]
    assert got["messages"][0]["content"]["text"].startswith("n=7 where=4 flag=True")


class Box(BaseModel):
    w: int


async def test_prompt_arguments_of_unions_are_json_unless_a_branch_takes_a_string() -> None:
    """An argument of ``int | None`` (a default other than None keeps the null) or of two models
    lists each JSON type once; one of ``int | str`` takes its string as it is. An explicit schema's
    property of any value, or one referring to nothing, takes a string too."""
    app = FastAPI()

    @app.post("/prompts/unions", openapi_extra=declare.prompt("unions"))
    async def unions(
        count: Annotated[int | None, Body(embed=True)] = 5,
        key: Annotated[int | str, Body(embed=True)] = 0,
        shape: Annotated[Point | Box | None, Body(embed=True)] = None,
    ) -> str:
        return f"count={count!r} key={key!r} shape={shape!r}"

    loose = {
        "type": "object",
        "properties": {"anything": True, "ref": {"$ref": "#/$defs/Missing"}, "said": {"description": "Any."}},
    }

    @app.get("/prompts/loose", openapi_extra={**declare.prompt("loose"), "x-mcp-input-schema": loose})
    async def loose_route(anything: str = "", ref: str = "", said: str = "") -> str:
        return f"{anything}|{ref}|{said}"

    app.add_middleware(MCPMiddleware)
    prompts = {p["name"]: p for p in (await legacy(app, "prompts/list"))["result"]["prompts"]}
    assert prompts["unions"]["arguments"] == [
        {"name": "count", "required": False, "description": "JSON: integer or null"},
        {"name": "key", "required": False},
        {"name": "shape", "required": False, "description": "JSON: object"},
    ]
    assert prompts["loose"]["arguments"] == [
        {"name": "anything", "required": False},
        {"name": "ref", "required": False},
        {"name": "said", "required": False, "description": "Any."},
    ]
    arguments = {"count": "null", "key": "7", "shape": '{"w": 2}'}
    got = (await legacy(app, "prompts/get", {"name": "unions", "arguments": arguments}))["result"]
    assert got["messages"][0]["content"]["text"] == "count=None key='7' shape=Box(w=2)"
    arguments = {"anything": "[1]", "ref": "{}", "said": "2"}
    got = (await legacy(app, "prompts/get", {"name": "loose", "arguments": arguments}))["result"]
    assert got["messages"][0]["content"]["text"] == "[1]|{}|2"


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        (
            "body",
            {"body": "{'a': 1}"},
            "Invalid arguments for prompt 'body': argument 'body' must be JSON (object)",
        ),
        (
            "point",
            {"n": "3", "where": "{x}"},
            "Invalid arguments for prompt 'point': argument 'where' must be JSON (object)",
        ),
    ],
)
async def test_a_prompt_argument_that_is_not_the_json_it_needs_is_invalid_params(
    name: str, arguments: dict[str, str], message: str
) -> None:
    error = (await legacy(json_prompt_app(), "prompts/get", {"name": name, "arguments": arguments}))["error"]
    assert error == {"code": -32602, "message": message}
    reply = await call_modern(json_prompt_app(), "prompts/get", {"name": name, "arguments": arguments}, name)
    assert reply.json()["error"] == {"code": -32602, "message": message}


def mcp_resource_app() -> FastAPI:
    """Resources whose routes answer with ``MCPResponse``."""
    app = FastAPI()

    @app.get("/mixed", openapi_extra=declare.resource("docs://mixed"))
    async def mixed() -> MCPResponse:
        return MCPResponse(
            [
                content.text("a"),
                content.image(PNG, "image/png"),
                content.audio("UklGRg==", "audio/wav"),
                content.embedded_resource("docs://inner", text="{}", mime_type="application/json"),
                content.embedded_resource("docs://raw", blob=b"\x00"),
            ]
        )

    @app.get("/link", openapi_extra=declare.resource("docs://link"))
    async def link() -> MCPResponse:
        return MCPResponse([content.text("see"), content.resource_link("docs://mixed", "mixed")])

    @app.get("/failed", openapi_extra=declare.resource("docs://failed"))
    async def failed() -> MCPResponse:
        return MCPResponse("out of stock", is_error=True)

    app.add_middleware(MCPMiddleware)
    return app


async def test_a_resource_route_answering_mcp_content_gives_its_blocks_as_contents() -> None:
    """The package's own JSON (application/vnd.mcp.content+json) was the resource's text."""
    for era in ("handshake", "modern"):
        if era == "modern":
            result = (
                await call_modern(mcp_resource_app(), "resources/read", {"uri": "docs://mixed"}, "docs://mixed")
            ).result()
        else:
            result = (await legacy(mcp_resource_app(), "resources/read", {"uri": "docs://mixed"}))["result"]
        assert result["contents"] == [
            {"uri": "docs://mixed", "mimeType": "text/plain", "text": "a"},
            {"uri": "docs://mixed", "mimeType": "image/png", "blob": base64.b64encode(PNG).decode()},
            {"uri": "docs://mixed", "mimeType": "audio/wav", "blob": "UklGRg=="},
            {"uri": "docs://inner", "mimeType": "application/json", "text": "{}"},
            {"uri": "docs://raw", "blob": "AA=="},
        ]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("docs://link", "Reading docs://link failed: a resource_link block has no contents of its own"),
        ("docs://failed", "Reading docs://failed failed: out of stock"),
    ],
)
async def test_mcp_content_that_is_no_resource_contents_is_an_internal_error(uri: str, message: str) -> None:
    error = (await legacy(mcp_resource_app(), "resources/read", {"uri": uri}))["error"]
    assert error == {"code": -32603, "message": message}


async def test_a_prompt_route_returning_mcp_content_gives_one_user_message_per_block() -> None:
    """A prompt route's own ``MCPResponse`` became one user message holding the response's JSON
    as text; its blocks are now the prompt's messages, as they are a resource's contents."""
    app = FastAPI()

    @app.get("/prompts/chart", openapi_extra=declare.prompt("chart", description="A chart to discuss"))
    async def chart() -> MCPResponse:
        return MCPResponse([content.text("Discuss this chart:"), content.image("aGk=", "image/png")])

    @app.get("/prompts/broken", openapi_extra=declare.prompt("broken"))
    async def broken() -> MCPResponse:
        return MCPResponse("x", is_error=True)

    app.add_middleware(MCPMiddleware)
    got = (await legacy(app, "prompts/get", {"name": "chart"}))["result"]
    assert got == {
        "messages": [
            {"role": "user", "content": {"type": "text", "text": "Discuss this chart:"}},
            {"role": "user", "content": {"type": "image", "data": "aGk=", "mimeType": "image/png"}},
        ]
    }
    modern = (await call_modern(app, "prompts/get", {"name": "chart"}, name="chart")).result()
    assert [m["content"]["type"] for m in modern["messages"]] == ["text", "image"]
    refused = await legacy(app, "prompts/get", {"name": "broken"})
    assert refused["error"]["code"] == -32603
    assert refused["error"]["message"] == "Prompt 'broken' failed: x"


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_uri_cannot_forge_a_log_line(era: str, caplog: pytest.LogCaptureFixture) -> None:
    """Review: a ``resources/read`` URI that a template matches went unescaped into the ERROR record
    of the route's failure, so a line break in it forged a log line ("CRITICAL auth: admin login").
    A client's text is escaped in a record, control characters and line separators included."""
    app = FastAPI()

    @app.get("/users/{user_id}", openapi_extra=declare.resource_template("users://{user_id}"))
    async def user(user_id: str) -> dict[str, str]:
        raise KeyError(user_id)

    app.add_middleware(MCPMiddleware)
    uri = "users://2\n2030-01-01 00:00:00,000 CRITICAL auth: admin login\r\x1b[2K\x85\u2028"
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        if era == "modern":
            name = "=?base64?" + base64.b64encode(uri.encode()).decode() + "?="
            error = (await call_modern(app, "resources/read", {"uri": uri}, name)).error()["error"]
        else:
            error = (await legacy(app, "resources/read", {"uri": uri}))["error"]
    assert error["code"] == -32603
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "Resource users://2\\n2030-01-01 00:00:00,000 CRITICAL auth: admin login\\r\\x1b[2K\\x85\\u2028: "
        "the route raised KeyError"
    ]
    assert all(message.isprintable() for message in messages)
