"""tools/call end to end in-process: arguments ──▶ sub-request ──▶ route ──▶ CallToolResult."""

from __future__ import annotations

import asyncio
import base64
import datetime
import gzip
import json
import re
import uuid
import zlib
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import jsonschema  # type: ignore[import-untyped]  # no stubs in the test dependencies
import orjson
import pytest
from fastapi import Cookie, FastAPI, Header, HTTPException, Query, Request, Response, Security
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, StreamingResponse
from fastapi.security import APIKeyHeader, APIKeyQuery
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, Json, PlainSerializer, computed_field
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import Receive, Scope, Send

from mcp_middleware import MCPMiddleware, declare
from tests.apps import PNG, Thing, build_app
from tests.support import (
    BASE_HEADERS,
    Exchange,
    call_modern,
    left_for_the_collector,
    meta,
    modern_headers,
    post,
    request,
)

pytestmark = pytest.mark.anyio

API_KEY = APIKeyHeader(name="X-API-Key")  # module level: route annotations are resolved here
QUERY_KEY = APIKeyQuery(name="api_key")
OPTIONAL_QUERY_KEY = APIKeyQuery(name="api_key", auto_error=False)


async def call(app: Any, name: str, arguments: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name}
    if arguments is not None:
        params["arguments"] = arguments
    # a revision with structuredContent (2025-03-26, which a client without the header speaks, has none)
    version = {"mcp-protocol-version": "2025-11-25"}
    reply = await post(app, request("tools/call", params), {**BASE_HEADERS, **version, **(headers or {})})
    assert reply.status == 200, reply.body
    return reply.result()


async def test_json_route_gives_text_and_structured_content() -> None:
    result = await call(build_app(), "get_thing", {"thing_id": 5, "q": "x"})
    assert result["structuredContent"] == {"id": 5, "name": "thing-5", "q": "x"}
    assert result["content"] == [{"type": "text", "text": '{"id":5,"name":"thing-5","q":"x"}'}]
    assert "isError" not in result or result["isError"] is False


async def test_body_route() -> None:
    result = await call(build_app(), "create_thing", {"name": "new", "size": 3})
    assert result["structuredContent"] == {"id": 7, "name": "new", "q": None}


async def test_a_required_argument_left_out_is_a_tool_error_naming_it() -> None:
    """The model is told what to add, in the words of the path check, rather than handed the
    route's 422; the route is not run."""
    result = await call(build_app(), "create_thing", {"size": 3})
    text = "Invalid arguments for tool 'create_thing': missing required argument 'name'"
    assert result == {"content": [{"type": "text", "text": text}], "isError": True}


class Ping(BaseModel):
    pass


class Sealed(BaseModel):
    model_config = ConfigDict(extra="forbid")


async def test_a_required_json_body_without_fields_is_sent_empty() -> None:
    """Regression: a body model without fields gives a tool without arguments, and no body was
    sent: FastAPI answered 422 "body: Field required" to the only call the schema allows. A
    required JSON body is sent as ``{}``; an optional one with nothing to send is left out (the
    route's default, None, as over HTTP)."""
    app = build_app()

    @app.post("/ping", operation_id="ping")
    async def ping(body: Ping) -> dict[str, str]:
        return {"got": type(body).__name__}

    @app.post("/sealed", operation_id="sealed")
    async def sealed(body: Sealed) -> dict[str, str]:
        return {"got": type(body).__name__}

    @app.post("/maybe", operation_id="maybe")
    async def maybe(body: Ping | None = None) -> dict[str, str]:
        return {"got": type(body).__name__}

    tools = await listed_tools(app)
    for name in ("ping", "sealed", "maybe"):
        assert tools[name]["inputSchema"] == {"type": "object", "properties": {}, "additionalProperties": False}
    for name, got in (("ping", "Ping"), ("sealed", "Sealed"), ("maybe", "NoneType")):
        result = await call(app, name, {})
        assert not result.get("isError"), result
        assert json.loads(result["content"][0]["text"]) == {"got": got}


async def test_a_list_result_is_its_text_and_wrapped_structured_content() -> None:
    result = await call(build_app(), "list_numbers", {"n": [3, 1, 2]})
    assert result["content"][0]["text"] == "[3,1,2]"
    assert result["structuredContent"] == {"result": [3, 1, 2]}


async def test_arguments_may_be_omitted() -> None:
    result = await call(build_app(), "plain_text")
    assert result["content"] == [{"type": "text", "text": "hello text"}]


async def test_image_route_gives_image_content() -> None:
    result = await call(build_app(), "png", {})
    assert result["content"] == [{"type": "image", "data": base64.b64encode(PNG).decode(), "mimeType": "image/png"}]


async def test_audio_route_gives_audio_content() -> None:
    wav = b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(8)
    app = FastAPI()

    @app.get("/beep", operation_id="beep")
    async def beep() -> Response:
        return Response(wav, media_type="audio/wav")

    app.add_middleware(MCPMiddleware)
    result = await call(app, "beep", {})
    assert result["content"] == [{"type": "audio", "data": base64.b64encode(wav).decode(), "mimeType": "audio/wav"}]


async def test_other_binary_gives_an_embedded_blob() -> None:
    block = (await call(build_app(), "pdf", {}))["content"][0]
    assert block["type"] == "resource"
    assert block["resource"]["mimeType"] == "application/pdf"
    assert base64.b64decode(block["resource"]["blob"]) == b"%PDF-1.4 fake"
    assert block["resource"]["uri"].endswith("/pdf")


async def test_http_error_is_an_error_result_with_status_and_detail() -> None:
    result = await call(build_app(), "get_thing", {"thing_id": 404})
    assert result["isError"] is True
    assert result["content"][0]["text"] == "HTTP 404 Not Found: no such thing"


async def test_validation_error_shows_the_422_detail() -> None:
    result = await call(build_app(), "get_thing", {"thing_id": "abc"})
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert text.startswith("HTTP 422")
    assert "thing_id" in text


async def test_missing_path_argument_is_an_error_result() -> None:
    result = await call(build_app(), "get_thing", {})
    assert result["isError"] is True
    assert "thing_id" in result["content"][0]["text"]


async def test_an_unknown_argument_is_an_error_result_naming_the_valid_ones() -> None:
    """It was dropped, and the call answered as if the argument had been omitted."""
    result = await call(build_app(), "get_thing", {"thing_id": 5, "query": "x"})
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "Invalid arguments for tool 'get_thing': unknown argument 'query'; valid arguments: 'thing_id', 'q'"
    )


async def test_a_tool_without_parameters_answers_a_client_that_sends_a_placeholder() -> None:
    """Cursor calls a tool without parameters with ``{"random_string": "dummy"}``: it is ignored."""
    result = await call(build_app(), "plain_text", {"random_string": "dummy"})
    assert result["content"] == [{"type": "text", "text": "hello text"}]
    assert "isError" not in result


async def test_an_array_for_a_single_valued_argument_is_an_error_result() -> None:
    """Review: ``{"user_id": [1, 2, 3]}`` on a DELETE route deleted user 3 and answered success."""
    app = FastAPI()
    deleted: list[int] = []

    @app.delete("/users")
    def delete_user(user_id: int) -> dict[str, int]:
        deleted.append(user_id)
        return {"deleted": user_id}

    app.add_middleware(MCPMiddleware)
    result = await call(app, "delete_user", {"user_id": [1, 2, 3]})
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "Invalid arguments for tool 'delete_user': argument 'user_id' takes a single value, not an array"
    )
    assert deleted == []


class ItemUpdate(BaseModel):
    name: str | None = None
    description: str | None = None


async def test_a_null_argument_clears_a_field_of_a_patch_route() -> None:
    """Review: the null was dropped, so ``model_dump(exclude_unset=True)`` kept the old value."""
    app = FastAPI()
    stored = {1: {"name": "a", "description": "old"}}

    @app.patch("/items/{item_id}")
    def patch_item(item_id: int, update: ItemUpdate) -> dict[str, Any]:
        stored[item_id].update(update.model_dump(exclude_unset=True))
        return stored[item_id]

    app.add_middleware(MCPMiddleware)
    result = await call(app, "patch_item", {"item_id": 1, "description": None})
    assert result["content"][0]["text"] == '{"name":"a","description":null}'
    assert stored == {1: {"name": "a", "description": None}}


async def test_route_exception_is_an_error_result_without_internals() -> None:
    result = await call(build_app(), "boom", {})
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert "RuntimeError" in text
    assert "secret internals" not in text
    assert "Traceback" not in text


@pytest.mark.parametrize("value", ["..", "%2e%2e", "x?y=1", "x#frag", "a b", "ü", "%", "."])
async def test_path_values_arrive_verbatim(value: str) -> None:
    result = await call(build_app(), "echo_path", {"value": value})
    assert orjson.loads(result["content"][0]["text"]) == {"value": value}


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_route_path_with_non_ascii_and_space_literals_is_called(era: str) -> None:
    """The template's literal pieces are percent-encoded once, when the catalog is built: the
    sub-request's ``raw_path`` is ASCII and the route sees its own decoded path."""
    app = FastAPI()

    @app.get("/café au lait/{cup_id}", operation_id="cup")
    async def cup(cup_id: int, request: Request) -> dict[str, Any]:
        return {"cup_id": cup_id, "path": request.url.path, "raw": request.scope["raw_path"].decode("ascii")}

    app.add_middleware(MCPMiddleware)
    params = {"name": "cup", "arguments": {"cup_id": 3}}
    if era == "legacy":
        result = await call(app, "cup", params["arguments"])
    else:
        result = (await call_modern(app, "tools/call", params, "cup")).result()
    assert result.get("isError") is not True, result
    assert orjson.loads(result["content"][0]["text"]) == {
        "cup_id": 3,
        "path": "/café au lait/3",
        "raw": "/caf%C3%A9%20au%20lait/3",
    }


@pytest.mark.parametrize("value", ["../secret", "a/b", "../../secret", "../things/1", "/secret"])
async def test_path_values_with_slashes_never_reach_another_route(value: str) -> None:
    # %2F is decoded by ASGI servers before routing, so a slash would address another route:
    # refused before any route runs.
    result = await call(build_app(), "echo_path", {"value": value}, {"authorization": "Bearer good"})
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "Invalid arguments for tool 'echo_path': argument 'value' must not contain '/'"
    )


async def test_slash_in_a_path_value_cannot_reach_a_filtered_route() -> None:
    app = build_app(exclude_operations=["secret"])
    result = await call(app, "get_thing", {"thing_id": "1/../../secret"}, {"authorization": "Bearer good"})
    assert result["isError"] is True
    assert "42" not in result["content"][0]["text"]


async def test_authorization_is_forwarded_not_an_argument() -> None:
    app = build_app()
    denied = await call(app, "secret", {})
    assert denied["isError"] is True
    assert "401" in denied["content"][0]["text"]
    allowed = await call(app, "secret", {}, {"authorization": "Bearer good"})
    assert allowed["content"][0]["text"] == '{"secret":"42"}'
    tools = (await post(app, request("tools/list"))).result()["tools"]
    secret = next(t for t in tools if t["name"] == "secret")
    assert "authorization" not in {k.lower() for k in secret["inputSchema"].get("properties", {})}


async def test_dependency_based_auth_applies() -> None:
    app = build_app()
    assert (await call(app, "me", {}))["isError"] is True
    ok = await call(app, "me", {}, {"authorization": "Bearer abc"})
    assert ok["content"][0]["text"] == '{"user":"Bearer abc"}'


async def test_header_parameters_and_forwarded_traceparent() -> None:
    result = await call(build_app(), "seen_headers", {"x-trace": "t-1"}, {"traceparent": "00-abc-def-01"})
    assert result["content"][0]["text"] == '{"x_trace":"t-1","authorization":null}'


@pytest.mark.parametrize("value", ["café", "\u2603 snow"])
async def test_a_cookie_argument_that_is_not_ascii_is_an_argument_error_naming_it(value: str) -> None:
    """A cookie value is ASCII (RFC 6265 cookie-octets): refused before the route runs, not sent
    mangled (the Latin-1 header carried ``café``; ``?`` stood for the snowman)."""
    app = FastAPI()
    themes: list[str] = []

    @app.get("/pref", operation_id="pref")
    async def pref(theme: Annotated[str, Cookie()]) -> dict[str, str]:
        themes.append(theme)
        return {"theme": theme}

    app.add_middleware(MCPMiddleware)
    result = await call(app, "pref", {"theme": value})
    assert result.get("isError") is True, result
    assert result["content"][0]["text"] == (
        "Invalid arguments for tool 'pref': argument 'theme' must only contain ASCII characters (a cookie value)"
    )
    assert themes == []
    assert (await call(app, "pref", {"theme": "dark"}))["content"][0]["text"] == '{"theme":"dark"}'


async def test_the_host_the_client_called_reaches_the_route() -> None:
    """Regression: the sub-request had no Host header, so an inner TrustedHostMiddleware refused
    every tool call (400) and request.url / url_for named the server's socket address."""
    app = FastAPI()

    @app.get("/where", operation_id="where")
    async def where(request: Request) -> dict[str, str]:
        return {"url": str(request.url), "link": str(request.url_for("where"))}

    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["api.example.com"])
    app.add_middleware(MCPMiddleware, allowed_hosts=["api.example.com", "evil.example.com"])
    result = await call(app, "where", {}, {"host": "api.example.com"})
    seen = orjson.loads(result["content"][0]["text"])
    assert seen == {"url": "http://api.example.com/where", "link": "http://api.example.com/where"}
    refused = await call(app, "where", {}, {"host": "evil.example.com"})  # the app's own rule still applies
    assert refused["isError"] is True
    assert "Invalid host header" in refused["content"][0]["text"]


class PathGuard:
    """A plain ASGI middleware that refuses ``/admin`` paths (and counts what it sees)."""

    def __init__(self, app: Any, seen: list[str]) -> None:
        self.app, self.seen = app, seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append(scope["path"])
            if scope["path"].startswith("/admin"):
                await JSONResponse({"detail": "admins only"}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


@pytest.mark.parametrize("added", ["before", "after"])
async def test_a_tool_call_passes_the_middlewares_added_before_mcp_middleware_only(added: str) -> None:
    """As the README says: a tool call is a sub-request to the app below MCPMiddleware, so a guard
    added before it (inner) refuses the call, and one added after it (outer) sees only the POST to
    /mcp, never the tool's path (by design; guards must be inner, or dependencies)."""
    app = FastAPI()

    @app.delete("/admin/wipe", operation_id="wipe")
    async def wipe() -> dict[str, bool]:
        return {"wiped": True}

    seen: list[str] = []
    if added == "before":
        app.add_middleware(PathGuard, seen=seen)
    app.add_middleware(MCPMiddleware)
    if added == "after":
        app.add_middleware(PathGuard, seen=seen)
    result = await call(app, "wipe", {})
    if added == "before":
        assert seen == ["/admin/wipe"]
        assert result["isError"] is True
        assert "admins only" in result["content"][0]["text"]
    else:
        assert seen == ["/mcp"]
        assert result["content"][0]["text"] == '{"wiped":true}'


async def test_an_api_key_header_scheme_is_forwarded_from_the_mcp_request() -> None:
    """Regression: routes guarded by FastAPI's APIKeyHeader could not be called at all: the key is a
    security scheme, not a parameter, so it was neither an argument nor forwarded."""
    app = FastAPI()

    @app.get("/vault", operation_id="vault")
    async def vault(api_key: Annotated[str, Security(API_KEY)]) -> dict[str, str]:
        if api_key != "s3cret":
            raise HTTPException(403, f"wrong key {api_key}")
        return {"opened": "yes"}

    app.add_middleware(MCPMiddleware)
    opened = await call(app, "vault", {}, {"x-api-key": "s3cret"})
    assert opened["content"][0]["text"] == '{"opened":"yes"}'
    wrong = await call(app, "vault", {}, {"x-api-key": "guess-123"})
    assert wrong["isError"] is True
    assert "wrong key" in wrong["content"][0]["text"]
    assert "guess-123" not in wrong["content"][0]["text"]  # the route echoes it; the model must not see it
    missing = await call(app, "vault", {})
    assert missing["isError"] is True
    tools = (await post(app, request("tools/list"), BASE_HEADERS)).result()["tools"]
    assert tools[0]["inputSchema"].get("properties", {}) == {}  # the key is never an argument


async def call_at(
    app: Any,
    url_query: str,
    name: str,
    arguments: Any = None,
    era: str = "handshake",
    headers_extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """tools/call POSTed to ``/mcp?<url_query>``, as a client configured with that URL sends it."""
    params: dict[str, Any] = {"name": name, "arguments": arguments or {}}
    if era == "modern":  # the 2026-07-28 envelope and Mcp-Method/Mcp-Name headers
        params["_meta"] = meta()
        headers = modern_headers("tools/call", name)
    else:
        headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}
    headers.update(headers_extra or {})
    reply = await post(app, request("tools/call", params), headers, query_string=url_query.encode("latin-1"))
    assert reply.status == 200, reply.body
    return reply.result()


def vault_app() -> FastAPI:
    app = FastAPI()

    @app.get("/vault", operation_id="vault")
    async def vault(api_key: Annotated[str, Security(QUERY_KEY)]) -> dict[str, str]:
        if api_key != "s3cret":
            raise HTTPException(403, "wrong key")
        return {"opened": "yes"}

    @app.get("/vault-readme", openapi_extra=declare.resource("test://vault-readme", mime_type="text/plain"))
    async def vault_readme(api_key: Annotated[str, Security(QUERY_KEY)]) -> PlainTextResponse:
        return PlainTextResponse(f"readme for {api_key}")

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_an_api_key_in_the_mcp_url_reaches_routes_guarded_by_api_key_query(era: str) -> None:
    """README said routes guarded by FastAPI's APIKeyQuery could not be called ("use a header
    scheme"); clients let users put a query string in the server URL (/mcp?api_key=...), and the
    app's query API-key parameters there are credentials, forwarded like API-key headers."""
    app = vault_app()
    opened = await call_at(app, "api_key=s3cret", "vault", era=era)
    assert opened["content"] == [{"type": "text", "text": '{"opened":"yes"}'}]
    assert opened.get("isError") is not True
    wrong = await call_at(app, "api_key=guess", "vault", era=era)
    assert wrong["isError"] is True
    assert wrong["content"][0]["text"] == "HTTP 403 Forbidden (permission denied): wrong key"
    missing = await call_at(app, "", "vault", era=era)
    assert missing["isError"] is True
    assert missing["content"][0]["text"].startswith("HTTP 401 Unauthorized (authentication failed")
    tools = (await post(app, request("tools/list"), BASE_HEADERS)).result()["tools"]
    assert tools[0]["inputSchema"].get("properties", {}) == {}  # the key is never an argument


async def test_a_resource_read_carries_the_api_key_of_the_mcp_url_too() -> None:
    app = vault_app()
    body = request("resources/read", {"uri": "test://vault-readme"})
    read = await post(app, body, BASE_HEADERS, query_string=b"api_key=s3cret")
    contents = read.result()["contents"]
    assert contents == [{"uri": "test://vault-readme", "mimeType": "text/plain", "text": "readme for s3cret"}]
    refused = (await post(app, body, BASE_HEADERS)).error()["error"]
    assert refused["message"].startswith("Reading test://vault-readme failed: HTTP 401 Unauthorized")


async def test_a_query_api_key_is_never_echoed_in_an_error_text() -> None:
    app = FastAPI()

    @app.get("/echo-key", operation_id="echo_key")
    async def echo_key(request: Request, api_key: Annotated[str, Security(QUERY_KEY)]) -> None:
        raise HTTPException(403, f"key {api_key} is not valid for {request.url}")

    app.add_middleware(MCPMiddleware)
    result = await call_at(app, "api_key=wr0ng%2Fkey+%C3%A9", "echo_key")  # the route echoes it decoded and raw
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "HTTP 403 Forbidden (permission denied): key [redacted] is not valid for "
        "http://127.0.0.1:8000/echo-key?api_key=[redacted]"
    )


async def test_a_redirect_location_never_shows_a_credential_percent_encoded() -> None:
    """Review: a credential the route put in a redirect's Location as URLs carry it, percent-encoded
    (``urlencode``'s ``%2B``, ``%2F``, ``%3D``; Starlette's ``RedirectResponse`` quoting a Basic
    password's space as ``%20``), was shown: only the forms as sent and decoded were known."""
    app = FastAPI()

    @app.get("/go", operation_id="go")
    async def go(request: Request) -> Response:
        token = request.headers["authorization"].partition(" ")[2]
        return RedirectResponse("/login?" + urlencode({"token": token}), status_code=302)

    @app.get("/upstream", operation_id="upstream")
    async def upstream(request: Request) -> Response:
        pair = base64.b64decode(request.headers["authorization"].partition(" ")[2]).decode()
        return RedirectResponse(f"https://{pair}@files.example.com/", status_code=307)

    app.add_middleware(MCPMiddleware)
    result = await call(app, "go", headers={"authorization": "Bearer s3cr3t+t0ken/AB=="})
    assert result["content"][0]["text"] == "302 Found: Location /login?token=[redacted]"
    for password in ("correct horse battery", "p@ss wörd/1"):
        basic = "Basic " + base64.b64encode(f"alice:{password}".encode()).decode()
        result = await call(app, "upstream", headers={"authorization": basic})
        text = result["content"][0]["text"]
        assert text == "307 Temporary Redirect: Location https://[redacted]@files.example.com/", password


async def test_a_redirect_location_never_shows_a_query_api_key() -> None:
    """A redirect that keeps the query string (Starlette's own trailing-slash redirect does) would
    show the key in the result's Location line."""
    app = FastAPI()

    @app.get("/moved", operation_id="moved")
    async def moved(request: Request, api_key: Annotated[str, Security(QUERY_KEY)]) -> Response:
        return RedirectResponse(str(request.url.replace(path="/elsewhere")), status_code=307)

    app.add_middleware(MCPMiddleware)
    result = await call_at(app, "api_key=s3cret-key", "moved")
    assert result["content"] == [
        {"type": "text", "text": "307 Temporary Redirect: Location http://127.0.0.1:8000/elsewhere?api_key=[redacted]"}
    ]
    assert result["isError"] is True


async def test_only_the_first_value_of_a_query_api_key_leaves_the_mcp_url() -> None:
    """Other parameters of the MCP URL are not the route's; a repeated key counts once, the first
    (as for a repeated header)."""
    app = FastAPI()

    @app.get("/seen", operation_id="seen")
    async def seen(request: Request, api_key: Annotated[str | None, Security(OPTIONAL_QUERY_KEY)]) -> Any:
        return request.query_params.multi_items()

    app.add_middleware(MCPMiddleware)
    result = await call_at(app, "other=1&api_key=first-key&x=y&api_key=second-key&token=t", "seen")
    assert orjson.loads(result["content"][0]["text"]) == [["api_key", "first-key"]]
    # the pseudo-header the key travels under (query_keys) comes from the URL only
    forged = {**BASE_HEADERS, "?api_key": "api_key=forged&other=1"}
    body = request("tools/call", {"name": "seen", "arguments": {}})
    for url_query, expected in ((b"api_key=first-key", [["api_key", "first-key"]]), (b"", [])):
        reply = await post(app, body, forged, query_string=url_query)
        assert orjson.loads(reply.result()["content"][0]["text"]) == expected


@pytest.mark.parametrize(
    ("url_query", "key"),
    [
        ("api_key=s%C3%A9cr%2Bet+x%26y%3D1", "sécr+et x&y=1"),
        ("api_key=%E2%9C%93%20ok%25", "✓ ok%"),
        ("api%5Fkey=named-in-percent", "named-in-percent"),
    ],
)
async def test_a_percent_encoded_query_api_key_arrives_as_sent(url_query: str, key: str) -> None:
    app = FastAPI()

    @app.get("/seen", operation_id="seen")
    async def seen(request: Request, api_key: Annotated[str, Security(QUERY_KEY)]) -> dict[str, str]:
        return {"key": api_key, "raw": request.scope["query_string"].decode()}

    app.add_middleware(MCPMiddleware)
    result = await call_at(app, url_query, "seen")
    assert orjson.loads(result["content"][0]["text"]) == {"key": key, "raw": url_query}


async def test_a_routes_own_query_parameter_of_the_keys_name_gets_the_url_key() -> None:
    """A route that declares ``api_key`` as a parameter of its own reads the credential: it is no
    tool argument (the model can neither be asked for it nor choose it), and the route gets the URL's
    key, once."""
    app = vault_app()

    @app.get("/lookup", operation_id="lookup")
    async def lookup(
        request: Request,
        _: Annotated[str | None, Security(OPTIONAL_QUERY_KEY)],  # guarded: the URL's key is for it
        n: int = 0,
        api_key: Annotated[list[str] | None, Query()] = None,
    ) -> Any:
        return {"api_key": api_key, "query": request.scope["query_string"].decode()}

    own = await call_at(app, "api_key=s3cret", "lookup", {"n": 2, "api_key": ["mine"]})
    assert own["isError"] is True
    assert "unknown argument 'api_key'; valid arguments: 'n'" in own["content"][0]["text"]
    url = await call_at(app, "api_key=s3cret", "lookup", {"n": 2})
    assert orjson.loads(url["content"][0]["text"]) == {"api_key": ["s3cret"], "query": "n=2&api_key=s3cret"}


async def test_result_text_is_truncated_with_a_marker() -> None:
    app = build_app(max_result_chars=5)
    result = await call(app, "plain_text")
    text = result["content"][0]["text"]
    assert text.startswith("hello")
    assert "[truncated: 5 more characters" in text


async def test_binary_over_the_cap_is_an_error_result() -> None:
    result = await call(build_app(max_binary_bytes=4), "pdf", {})
    assert result["isError"] is True
    assert "4-byte limit" in result["content"][0]["text"]


async def test_tool_call_in_2026() -> None:
    reply = await call_modern(build_app(), "tools/call", {"name": "png", "arguments": {}}, "png")
    assert reply.result()["content"][0]["type"] == "image"


@pytest.mark.parametrize(
    ("tool", "fragment"),
    [("silent", "did not produce a valid HTTP response"), ("half", "raised RuntimeError")],
)
async def test_misbehaving_routes_still_get_exactly_one_answer(tool: str, fragment: str) -> None:
    reply = await post(build_app(), request("tools/call", {"name": tool, "arguments": {}}))
    assert reply.status == 200
    assert len(reply.messages()) == 1
    result = reply.result()
    assert result["isError"] is True
    assert fragment in result["content"][0]["text"]


async def test_a_401_says_authentication_failed_and_never_echoes_the_token() -> None:
    app = build_app()

    @app.get("/echo-auth", operation_id="echo_auth")
    async def echo_auth(authorization: str | None = Header(None)) -> None:
        raise HTTPException(401, f"token {authorization} is not valid")

    result = await call(
        app, "echo_auth", {}, {"authorization": "Bearer s3cr3t-token-value", "cookie": "sid=cookie-secret-1"}
    )
    text = result["content"][0]["text"]
    assert result["isError"] is True
    assert text.startswith("HTTP 401 Unauthorized (authentication failed")
    assert "s3cr3t-token-value" not in text
    assert "[redacted]" in text


async def test_a_route_raising_an_exception_group_is_an_error_result(caplog: pytest.LogCaptureFixture) -> None:
    """A route whose task group failed raises an ExceptionGroup: a tool error naming it, logged."""
    app = build_app()

    @app.get("/group", operation_id="group")
    async def group() -> None:
        raise ExceptionGroup("workers failed", [ValueError("one"), KeyError("two")])

    result = await call(app, "group", {})
    assert result["isError"] is True
    assert result["content"][0]["text"] == "Tool 'group' failed: the route raised ExceptionGroup."
    assert "Tool 'group': the route raised ExceptionGroup" in caplog.text


async def test_a_tool_with_an_output_schema_never_succeeds_without_structured_content() -> None:
    app = build_app(max_result_chars=40)

    @app.get("/as-text", operation_id="as_text")
    async def as_text() -> Thing:  # the declared model, but the route answers with text
        return PlainTextResponse("not the thing")  # type: ignore[return-value]

    @app.get("/huge", operation_id="huge")
    async def huge() -> Thing:
        return Thing(id=1, name="x" * 100)

    @app.get("/picture", operation_id="picture", responses={200: {"content": {"image/png": {}}}})
    async def picture() -> Thing:  # JSON or a PNG: no output schema, so the PNG is a fine answer
        return Response(PNG, media_type="image/png")  # type: ignore[return-value]

    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}  # with output schemas
    listed = (await post(app, request("tools/list", {}), headers)).result()["tools"]
    schemas = {tool["name"]: "outputSchema" in tool for tool in listed}
    assert schemas == {**schemas, "as_text": True, "huge": True, "picture": False}
    text = await call(app, "as_text", {})
    assert text["isError"] is True
    assert text["content"][0]["text"] == (
        "The tool has an output schema, but the route answered 200 OK with text/plain instead of JSON: not the thing"
    )
    big = await call(app, "huge", {})
    assert big["isError"] is True
    assert "has 127 characters and the result limit is 40" in big["content"][0]["text"]
    assert (await call(app, "picture", {}))["content"][0]["type"] == "image"


def answering_their_own_json() -> FastAPI:
    """Routes declared ``-> Thing`` (an output schema requiring ``id`` and ``name``) that answer a
    ``JSONResponse`` of their own, bypassing the response model (FastAPI's "return a Response
    directly")."""
    app = build_app()

    @app.get("/jobs/{job}", operation_id="job")
    async def job(job: int) -> Thing:
        if job == 0:  # "accepted, still processing": not a Thing
            return JSONResponse({"status": "pending", "retry_after": 5}, status_code=202)  # type: ignore[return-value]
        return Thing(id=job, name="done")

    @app.post("/made", operation_id="made", status_code=201)
    async def made() -> Thing:  # documented 201, answers 200 (the status not set on its own response)
        return JSONResponse({"id": 3, "name": "made"})  # type: ignore[return-value]

    @app.get("/typed/{case}", operation_id="typed")
    async def typed(case: str) -> Thing:  # the JSON of each case, as the route's own response
        return JSONResponse(orjson.loads(case))  # type: ignore[return-value]

    return app


async def test_an_object_the_output_schema_does_not_describe_is_an_error_in_both_eras() -> None:
    app = answering_their_own_json()
    expected = (
        "The tool has an output schema, but the route answered 202 Accepted with a JSON object without 'id', "
        """'name', which the schema requires, so it is not this tool's result: {"status":"pending","retry_after":5}"""
    )
    legacy = await call(app, "job", {"job": 0})
    params = {"name": "job", "arguments": {"job": 0}}
    modern = (await call_modern(app, "tools/call", params, "job")).result()
    for result in (legacy, modern):
        assert result["isError"] is True
        assert "structuredContent" not in result
        assert result["content"] == [{"type": "text", "text": expected}]
    assert (await call(app, "job", {"job": 4}))["structuredContent"] == {"id": 4, "name": "done", "q": None}


async def test_a_conforming_object_is_the_result_whatever_its_2xx_status_in_both_eras() -> None:
    """``made`` is documented 201 and answers 200: its body has every property the schema
    requires, so it is the tool's result (a check of the status would have refused it)."""
    app = answering_their_own_json()
    listed = (await call_modern(app, "tools/list", {}, None)).result()["tools"]
    assert {tool["name"]: tool["outputSchema"]["required"] for tool in listed if tool["name"] in ("job", "made")} == {
        "job": ["id", "name"],
        "made": ["id", "name"],
    }
    legacy = await call(app, "made", {})
    modern = (await call_modern(app, "tools/call", {"name": "made", "arguments": {}}, "made")).result()
    for result in (legacy, modern):
        assert result["structuredContent"] == {"id": 3, "name": "made"}
        assert "isError" not in result


async def test_an_object_whose_top_level_values_break_the_output_schema_is_an_error_in_both_eras() -> None:
    """The official clients raise on ``structuredContent`` that does not fit the tool's output
    schema ("'1' is not of type 'integer'"): a route's own ``JSONResponse`` with ``"id": "1"`` is an
    error naming the property; an integral float for an integer, or null for an Optional, is fine."""
    app = answering_their_own_json()
    body = '{"id":"1","name":"x"}'
    expected = (
        "The tool has an output schema, but the route answered 200 OK with a JSON object whose 'id' is a "
        f"string where the schema says integer, so it is not this tool's result: {body}"
    )
    legacy = await call(app, "typed", {"case": body})
    modern = (await call_modern(app, "tools/call", {"name": "typed", "arguments": {"case": body}}, "typed")).result()
    for result in (legacy, modern):
        assert result["isError"] is True
        assert "structuredContent" not in result
        assert result["content"] == [{"type": "text", "text": expected}]
    fine = {"id": 2.0, "name": "x", "q": None}
    assert (await call(app, "typed", {"case": orjson.dumps(fine).decode()}))["structuredContent"] == fine


async def test_a_nested_models_property_is_checked_now_that_its_schema_is_inlined() -> None:
    """A nested model's property was a ``$ref`` (not checked); inlined, its ``type: object`` is, as
    clients validating the output schema do: a route's own JSON with a string there is an error."""
    app = build_app()

    @app.get("/assembly/{case}", operation_id="assembly")
    async def assembly(case: str) -> Assembly:
        return JSONResponse(orjson.loads(case))  # type: ignore[return-value]

    body = '{"note":null,"part":"p","parts":[],"spare":null,"count":0}'
    wrong = await call(app, "assembly", {"case": body})
    assert wrong["isError"] is True
    assert "whose 'part' is a string where the schema says object" in wrong["content"][0]["text"]
    fine = '{"note":null,"part":{"tag":null,"size":1},"parts":[],"spare":null,"count":0}'
    assert (await call(app, "assembly", {"case": fine}))["structuredContent"] == orjson.loads(fine)


async def test_a_dict_routes_values_of_another_type_than_its_output_schema_says_are_an_error() -> None:
    """``-> dict[str, int]`` publishes ``additionalProperties: {"type": "integer"}``: a route's own
    ``JSONResponse`` with ``{"a": "1"}``, or FastAPI's ``null`` for a float ``inf``, is no result the
    official clients accept, so it is an error naming the key and both types."""
    app = build_app()

    @app.get("/counts/{case}", operation_id="counts")
    async def counts(case: str) -> dict[str, int]:
        return JSONResponse(orjson.loads(case))  # type: ignore[return-value]

    @app.get("/ratios", operation_id="ratios")
    async def ratios() -> dict[str, float]:
        return {"a": 0.5, "b": float("inf")}  # pydantic writes inf as null

    wrong = await call(app, "counts", {"case": '{"a":1,"b":"1"}'})
    assert wrong["isError"] is True
    assert "structuredContent" not in wrong
    assert wrong["content"][0]["text"] == (
        "The tool has an output schema, but the route answered 200 OK with a JSON object whose 'b' is a "
        """string where the schema says integer, so it is not this tool's result: {"a":1,"b":"1"}"""
    )
    inf = await call(app, "ratios", {})
    assert inf["isError"] is True
    assert "whose 'b' is a null where the schema says number" in inf["content"][0]["text"]
    fine = await call(app, "counts", {"case": '{"a":1,"b":2.0}'})
    assert fine["structuredContent"] == {"a": 1, "b": 2.0}
    assert "isError" not in fine


class Aliased(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    item_id: int = Field(alias="itemId")
    name: str
    secret: str = "x"


class Job(BaseModel):
    job_id: str


class Tally(BaseModel):
    value: int


class Part(BaseModel):
    tag: str | None  # required, and may be None
    size: int


class Assembly(BaseModel):
    note: str | None
    part: Part
    parts: list[Part]
    spare: Part | None
    count: int


async def listed_tools(app: Any) -> dict[str, dict[str, Any]]:
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}  # a revision with output schemas
    listed = (await post(app, request("tools/list", {}), headers)).result()["tools"]
    return {tool["name"]: tool for tool in listed}


async def test_a_dict_response_model_is_an_object_schema_without_properties_and_structured() -> None:
    """``-> dict`` and ``-> dict[str, X]`` document ``{"type": "object", "additionalProperties": ...}``:
    an object (all the spec asks of an ``outputSchema``; ``properties`` is optional in its
    schema.ts, and the TypeScript and Python SDKs read it so), so the JSON is ``structuredContent``
    too, and it validates against the schema (the SDK clients check it). Only an object schema
    *with* properties got one, for no reason but sharing the body-flattening test."""
    app = FastAPI()

    @app.delete("/items/{item_id}", operation_id="delete_item")
    async def delete_item(item_id: int) -> dict[str, bool]:
        return {"deleted": True}

    @app.get("/loose", operation_id="loose")
    async def loose() -> dict:  # type: ignore[type-arg]
        return {"any": [1, "two", None]}

    @app.get("/things", operation_id="things")
    async def things() -> dict[str, Thing]:
        return {"a": Thing(id=1, name="a")}

    @app.get("/listed", operation_id="listed")
    async def listed() -> dict[str, Any]:
        return JSONResponse([1, 2])  # type: ignore[return-value]

    app.add_middleware(MCPMiddleware)
    tools = await listed_tools(app)
    assert tools["delete_item"]["outputSchema"] == {
        "type": "object",
        "additionalProperties": {"type": "boolean"},
        "title": "Response Delete Item",
    }
    assert tools["loose"]["outputSchema"]["additionalProperties"] is True
    assert tools["things"]["outputSchema"]["additionalProperties"]["properties"]["id"] == {
        "type": "integer",
        "title": "Id",
    }
    assert "$defs" not in tools["things"]["outputSchema"]
    for name, structured in (
        ("delete_item", {"deleted": True}),
        ("loose", {"any": [1, "two", None]}),
        ("things", {"a": {"id": 1, "name": "a", "q": None}}),
    ):
        result = await call(app, name, {"item_id": 2} if name == "delete_item" else {})
        assert result["structuredContent"] == structured
        assert orjson.loads(result["content"][0]["text"]) == structured
        jsonschema.validate(structured, tools[name]["outputSchema"])
    refused = await call(app, "listed", {})  # an object was promised: a list is no result of it
    assert refused["isError"] is True
    assert "not a JSON object" in refused["content"][0]["text"]


async def test_no_output_schema_when_the_route_reshapes_its_response_model() -> None:
    """The OpenAPI document describes the response model as it is, whatever the route's
    ``response_model_by_alias``, ``_include`` and ``_exclude`` make of it: its JSON does not fit."""
    app = build_app()

    @app.get("/by-name", operation_id="by_name", response_model=Aliased, response_model_by_alias=False)
    async def by_name() -> Any:
        return {"itemId": 1, "name": "n"}

    @app.get("/without", operation_id="without", response_model=Aliased, response_model_exclude={"name"})
    async def without() -> Any:
        return {"itemId": 1, "name": "n"}

    @app.get("/only", operation_id="only", response_model=Aliased, response_model_include={"secret"})
    async def only() -> Any:
        return {"itemId": 1, "name": "n"}

    @app.get("/as-is", operation_id="as_is", response_model=Aliased)
    async def as_is() -> Any:
        return {"itemId": 1, "name": "n"}

    tools = await listed_tools(app)
    assert {name: "outputSchema" in tools[name] for name in ("by_name", "without", "only", "as_is")} == {
        "by_name": False,
        "without": False,
        "only": False,
        "as_is": True,
    }
    for name, body in (
        ("by_name", {"item_id": 1, "name": "n", "secret": "x"}),
        ("without", {"itemId": 1, "secret": "x"}),
        ("only", {"secret": "x"}),
    ):
        result = await call(app, name, {})
        assert "structuredContent" not in result
        assert not result.get("isError")
        assert json.loads(result["content"][0]["text"]) == body
    result = await call(app, "as_is", {})
    jsonschema.validate(result["structuredContent"], tools["as_is"]["outputSchema"])


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"  # a defaulted discriminator tag
    name: str


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    name: str


class Holder(BaseModel):
    pet: Annotated[Cat | Dog, Field(discriminator="kind")]
    note: str | None = None


class Preferences(BaseModel):
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)
    x: int
    y: int = 3


async def test_no_output_schema_when_the_route_leaves_out_unset_or_default_fields() -> None:
    """Regression: ``response_model_exclude_unset`` and ``_exclude_defaults`` leave out what the
    schema requires (a defaulted field the config makes required) or what tells a union's members
    apart (a defaulted tag): the clients refused every such result. Such a route is reshaped."""
    app = build_app()

    @app.get("/unset", operation_id="unset", response_model_exclude_unset=True)
    async def unset() -> Holder:
        return Holder(pet=Cat(name="tom"))

    @app.get("/defaults", operation_id="defaults", response_model_exclude_defaults=True)
    async def defaults() -> Holder:
        return Holder(pet=Dog(kind="dog", name="rex"))

    @app.get("/prefs", operation_id="prefs", response_model_exclude_unset=True)
    async def prefs() -> Preferences:
        return Preferences(x=1)

    @app.get("/whole", operation_id="whole")
    async def whole() -> Holder:
        return Holder(pet=Cat(name="tom"))

    tools = await listed_tools(app)
    assert {name: "outputSchema" in tools[name] for name in ("unset", "defaults", "prefs", "whole")} == {
        "unset": False,
        "defaults": False,
        "prefs": False,
        "whole": True,
    }
    for name, body in (
        ("unset", {"pet": {"name": "tom"}}),
        ("defaults", {"pet": {"name": "rex"}}),
        ("prefs", {"x": 1}),
    ):
        result = await call(app, name, {})
        assert "structuredContent" not in result
        assert not result.get("isError")
        assert json.loads(result["content"][0]["text"]) == body
    result = await call(app, "whole", {})
    jsonschema.validate(result["structuredContent"], tools["whole"]["outputSchema"])


class Report(BaseModel):
    data: Json[list[int]]  # JSON text in, its value out


class Renamed(BaseModel):
    ren: int = Field(validation_alias=AliasChoices("ren", "r"), serialization_alias="renamed")


class Unschemable(BaseModel):  # no serialization-mode JSON schema: a callable's
    v: Annotated[int, PlainSerializer(str, return_type=Callable[[], int])]


@pytest.mark.parametrize("separate", [True, False])
async def test_without_separate_schemas_a_model_whose_json_differs_from_its_input_is_reshaped(separate: bool) -> None:
    """Regression: with ``FastAPI(separate_input_output_schemas=False)`` a response model's
    component is its validation-mode schema (``Json[list[int]]`` a string, a field under its
    validation name), which the route's JSON does not fit: the clients refused every result. For
    such an app, a route whose model's JSON may not fit the documented schema (or has no
    serialization-mode schema) gets no ``outputSchema``; the default app keeps its (serialization-mode) one."""
    app = FastAPI(separate_input_output_schemas=separate)

    @app.get("/report", operation_id="report")
    async def report() -> Report:
        return Report(data="[1, 2]")  # type: ignore[arg-type]  # validated from its JSON text

    @app.get("/renamed", operation_id="renamed")
    async def renamed() -> Renamed:
        return Renamed(ren=2)

    @app.get("/tally", operation_id="tally")
    async def tally() -> Tally:  # the same schema in both modes
        return Tally(value=3)

    expected = {"report": separate, "renamed": separate, "tally": True}
    if not separate:  # (the default app's document needs the serialization-mode schema)

        @app.get("/odd", operation_id="odd")
        async def odd() -> Unschemable:
            return Unschemable(v=1)

        expected["odd"] = False

    app.add_middleware(MCPMiddleware)
    tools = await listed_tools(app)
    assert {name: "outputSchema" in tools[name] for name in expected} == expected
    for name, body in (("report", {"data": [1, 2]}), ("renamed", {"renamed": 2}), ("tally", {"value": 3})):
        result = await call(app, name, {})
        assert not result.get("isError"), result
        assert json.loads(result["content"][0]["text"]) == body
        if "outputSchema" in tools[name]:
            jsonschema.validate(result["structuredContent"], tools[name]["outputSchema"])
        else:
            assert "structuredContent" not in result


class Price(BaseModel):
    amount: Decimal  # a number or a string in, a string out
    kind: Literal["net", "gross"] = "net"


class Square(BaseModel):
    side: int

    @computed_field  # type: ignore[prop-decorator]  # (pydantic's documented usage)
    @property
    def area(self) -> int:
        return self.side * self.side


class Basket(BaseModel):
    prices: list[Price]
    by_name: dict[str, Decimal]
    best: Price | None = None
    square: Square


class Wrapped(BaseModel):
    report: Report  # a nested model whose JSON does not fit its documented schema


async def test_without_separate_schemas_a_model_whose_json_fits_its_input_schema_keeps_its_output_schema() -> None:
    """Review: with ``separate_input_output_schemas=False`` a response model whose schemas differ by
    mode lost its ``outputSchema`` even where its JSON fits the documented (validation-mode) one: a
    ``Decimal`` (documented a number or a string, written as a string) and a computed field (which
    FastAPI documents in this mode too). What counts is whether the route's JSON may fail the
    documented schema; a nested model whose JSON does not fit it still reshapes its container."""
    app = FastAPI(separate_input_output_schemas=False)

    @app.get("/price", operation_id="price")
    async def price() -> Price:
        return Price(amount=Decimal("1.5"))

    @app.get("/square", operation_id="square")
    async def square() -> Square:
        return Square(side=2)

    @app.get("/basket", operation_id="basket")
    async def basket() -> Basket:
        return Basket(prices=[Price(amount=Decimal(1))], by_name={"a": Decimal("2.5")}, square=Square(side=3))

    @app.get("/wrapped", operation_id="wrapped")
    async def wrapped() -> Wrapped:
        return Wrapped(report=Report(data="[1]"))  # type: ignore[arg-type]  # validated from its JSON text

    app.add_middleware(MCPMiddleware)
    tools = await listed_tools(app)
    assert {name: "outputSchema" in tools[name] for name in ("price", "square", "basket", "wrapped")} == {
        "price": True,
        "square": True,
        "basket": True,
        "wrapped": False,
    }
    bodies = {
        "price": {"amount": "1.5", "kind": "net"},
        "square": {"side": 2, "area": 4},
        "basket": {
            "prices": [{"amount": "1", "kind": "net"}],
            "by_name": {"a": "2.5"},
            "best": None,
            "square": {"side": 3, "area": 9},
        },
    }
    for name, body in bodies.items():
        result = await call(app, name, {})
        assert result["structuredContent"] == body
        jsonschema.validate(body, tools[name]["outputSchema"])
    assert "structuredContent" not in await call(app, "wrapped", {})


async def test_no_output_schema_when_the_2xx_responses_document_different_bodies() -> None:
    app = build_app()

    @app.post("/compute", operation_id="compute", responses={202: {"model": Job, "description": "queued"}})
    async def compute(n: int) -> Tally:
        if n > 10:
            return JSONResponse({"job_id": "j1"}, status_code=202)  # type: ignore[return-value]
        return Tally(value=n * 2)

    @app.post("/made", operation_id="made", responses={201: {"description": "made, no body"}})
    async def made(n: int) -> Tally:
        if n > 10:
            return Response(status_code=201)  # type: ignore[return-value]
        return Tally(value=n)

    @app.post("/same", operation_id="same", responses={201: {"model": Tally}})
    async def same(n: int) -> Tally:  # two 2xx answers, one body: still structured
        return JSONResponse({"value": n}, status_code=201)  # type: ignore[return-value]

    tools = await listed_tools(app)
    assert "outputSchema" not in tools["compute"]
    assert "outputSchema" not in tools["made"]
    assert tools["same"]["outputSchema"]["required"] == ["value"]
    for n, body in ((3, {"value": 6}), (50, {"job_id": "j1"})):
        result = await call(app, "compute", {"n": n})
        assert "structuredContent" not in result
        assert not result.get("isError")
        assert json.loads(result["content"][0]["text"]) == body
    assert not (await call(app, "made", {"n": 50})).get("isError")
    result = await call(app, "same", {"n": 4})
    assert result["structuredContent"] == {"value": 4}
    jsonschema.validate(result["structuredContent"], tools["same"]["outputSchema"])


async def test_exclude_none_leaves_nullable_properties_out_of_the_output_schema_required() -> None:
    """``response_model_exclude_none`` drops a required property whose value is None: where the
    schema allows null, the property is not required (in nested models too), so the result conforms."""
    app = build_app()
    assembly = Assembly(note=None, part=Part(tag=None, size=1), parts=[Part(tag=None, size=2)], spare=None, count=0)

    @app.get("/sparse", operation_id="sparse", response_model_exclude_none=True)
    async def sparse() -> Assembly:
        return assembly

    @app.get("/full", operation_id="full")
    async def full() -> Assembly:
        return assembly

    tools = await listed_tools(app)
    sparse_schema, full_schema = tools["sparse"]["outputSchema"], tools["full"]["outputSchema"]
    assert sparse_schema["required"] == ["part", "parts", "count"]
    assert sparse_schema["properties"]["part"]["required"] == ["size"]
    assert sparse_schema["properties"]["parts"]["items"]["required"] == ["size"]
    assert full_schema["required"] == ["note", "part", "parts", "spare", "count"]  # the other route's is whole
    assert full_schema["properties"]["part"]["required"] == ["tag", "size"]
    result = await call(app, "sparse", {})
    assert result["structuredContent"] == {"part": {"size": 1}, "parts": [{"size": 2}], "count": 0}
    jsonschema.validate(result["structuredContent"], sparse_schema)
    result = await call(app, "full", {})
    jsonschema.validate(result["structuredContent"], full_schema)


class Stamp(BaseModel):
    at: datetime.datetime  # naive: pydantic writes no offset, which RFC 3339 needs
    at_maybe: datetime.datetime | None = None


class Agenda(BaseModel):
    stamps: list[Stamp]
    starts: datetime.time
    elapsed: datetime.timedelta
    pattern: re.Pattern[str]
    day: datetime.date
    ref: uuid.UUID


def _formats(schema: Any) -> list[str]:
    """Every ``format`` value in ``schema`` (nested, ``$defs`` too), sorted."""
    if isinstance(schema, dict):
        own = [schema["format"]] if isinstance(schema.get("format"), str) else []
        return sorted(own + [found for value in schema.values() for found in _formats(value)])
    if isinstance(schema, list):
        return sorted(found for value in schema for found in _formats(value))
    return []


async def test_output_schemas_leave_out_the_formats_pydantic_json_may_not_satisfy() -> None:
    """Regression: a naive datetime is written without an offset (``2024-05-01T09:30:00``), a naive
    time likewise, a timedelta as ``PT1.5S`` or ``-PT1H``, a ``re.Pattern`` in Python's syntax
    (``(?P<word>...)``): clients that check formats (the TypeScript SDK's ajv-formats) refused
    every such result for not matching ``date-time``, ``time``, ``duration`` or ``regex``. The
    output schema drops those four, however deep; an input schema keeps them, as hints."""
    app = build_app()
    agenda = Agenda(
        stamps=[Stamp(at=datetime.datetime(2024, 5, 1, 9, 30))],
        starts=datetime.time(9, 30),
        elapsed=datetime.timedelta(hours=-1),
        pattern=re.compile(r"(?P<word>\w+)"),
        day=datetime.date(2024, 5, 1),
        ref=uuid.UUID(int=1),
    )

    @app.post("/agenda", operation_id="agenda")
    async def make_agenda(body: Agenda) -> Agenda:
        return agenda

    tool = (await listed_tools(app))["agenda"]
    assert _formats(tool["outputSchema"]) == ["date", "uuid"]
    assert _formats(tool["inputSchema"]) == ["date", "date-time", "date-time", "duration", "regex", "time", "uuid"]
    result = await call(app, "agenda", agenda.model_dump(mode="json"))
    assert result["structuredContent"]["stamps"] == [{"at": "2024-05-01T09:30:00", "at_maybe": None}]
    jsonschema.validate(result["structuredContent"], tool["outputSchema"])


class Coded(BaseModel):
    model_config = ConfigDict(regex_engine="python-re")  # (Rust's has no backreference)

    word: str = Field(pattern=r"^(?P<word>[a-z]+)$")  # Python's (and Rust's) named group
    again: str = Field(pattern=r"^(?P<q>[ab])(?P=q)$")
    flagged: str = Field(pattern=r"(?i)^abc$")  # inline flags: no ECMA-262 form
    plain: str = Field(pattern=r"^\d+$")
    tagged: dict[Annotated[str, Field(pattern=r"^(?P<k>x)")], int] = {}
    portable: dict[Annotated[str, Field(pattern=r"^y")], int] = {}
    flagged_keys: dict[Annotated[str, Field(pattern=r"\Ax")], int] = {}


def _patterns(schema: Any) -> list[Any]:
    """Every ``pattern`` and ``patternProperties`` key in a converted schema, sorted."""
    if isinstance(schema, dict):
        found = [v for k, v in schema.items() if k == "pattern"] + list(schema.get("patternProperties", ()))
        return sorted(
            found
            + [p for k, v in schema.items() if k != "properties" for p in _patterns(v)]
            + [p for v in schema.get("properties", {}).values() for p in _patterns(v)]
        )
    if isinstance(schema, list):
        return sorted(found for value in schema for found in _patterns(value))
    return []


async def test_patterns_are_ecma_262_in_input_schemas_and_left_out_of_output_schemas() -> None:
    """Review: a ``Field(pattern=r"^(?P<word>[a-z]+)$")`` went out verbatim, and the TypeScript SDK
    (ajv, ECMA-262 regexes) threw "Invalid regular expression" when it listed the tools: no tool
    could be called. An output schema has no ``pattern`` (the server's own JSON needs no check);
    an input schema says it so that ECMA-262 (with and without ``u``) and Python's ``re`` read it
    alike (no group name; ``[0-9]``, narrower than the engine's ``\\d``) and drops one it cannot
    say (``(?i)``, a backreference), ``patternProperties`` alike; the route still checks."""
    app = build_app()

    @app.post("/coded", operation_id="coded")
    async def coded(body: Coded) -> Coded:
        return body

    tool = (await listed_tools(app))["coded"]
    assert _patterns(tool["outputSchema"]) == ["^(x)", "^y"]  # patternProperties keys: portable forms kept
    assert _patterns(tool["inputSchema"]) == [
        "^([a-z]+)$(?!\\n)",  # no group name (Python's re reads no (?<word>); $(?!\n): the end, in re too
        "^(x)",
        "^[0-9]+$(?!\\n)",  # Rust's (and Python's) \d is any decimal digit: [0-9], narrower
        "^y",
    ]  # again's backreference, and flagged's (?i): no portable form
    jsonschema.Draft7Validator.check_schema(tool["inputSchema"])  # "pattern" is a "regex" to re too
    arguments = {"word": "abc", "again": "aa", "flagged": "ABC", "plain": "1", "tagged": {"x": 1}}
    result = await call(app, "coded", arguments)
    assert result["structuredContent"] == {**arguments, "flagged_keys": {}, "portable": {}}
    jsonschema.validate(result["structuredContent"], tool["outputSchema"])
    refused = await call(app, "coded", {**arguments, "flagged": "abd"})
    assert refused["isError"] is True


async def test_tools_work_under_a_mount_point_that_is_not_ascii() -> None:
    api = FastAPI()

    @api.get("/items/{item_id}", operation_id="item")
    async def item(item_id: int, request: Request) -> dict[str, Any]:
        return {"id": item_id, "path": request.url.path, "raw": request.scope["raw_path"].decode()}

    api.add_middleware(MCPMiddleware)
    app = FastAPI()
    app.mount("/café", api)
    exchange = Exchange(app, request("tools/call", {"name": "item", "arguments": {"item_id": 3}}), path="/café/mcp")
    exchange.scope["raw_path"] = b"/caf%C3%A9/mcp"  # as a server receives it
    result = (await exchange.run()).result()
    assert orjson.loads(result["content"][0]["text"]) == {"id": 3, "path": "/café/items/3", "raw": "/caf%C3%A9/items/3"}


async def test_a_body_without_a_content_type_is_text_or_a_blob_by_its_bytes() -> None:
    app = build_app()

    @app.get("/untyped/{kind}", operation_id="untyped")
    async def untyped(kind: str) -> Response:
        return Response(PNG if kind == "png" else "café".encode())  # no media_type: no content-type

    assert (await call(app, "untyped", {"kind": "text"}))["content"] == [{"type": "text", "text": "café"}]
    block = (await call(app, "untyped", {"kind": "png"}))["content"][0]
    assert block["resource"]["mimeType"] == "application/octet-stream"
    assert base64.b64decode(block["resource"]["blob"]) == PNG


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_tool_call_leaves_nothing_for_the_cycle_collector(era: str) -> None:
    """Regression (cba4577): the responder held the Call, which holds the responder; every call's
    objects then waited for the cyclic garbage collector instead of going at once (~20 objects a
    call, +3 to +5 us per call in-process). A call must free everything by reference counting."""

    app = build_app()
    params: dict[str, Any] = {"name": "get_thing", "arguments": {"thing_id": 1}}
    headers = dict(BASE_HEADERS)
    if era == "modern":
        params["_meta"] = meta()
        headers.update(modern_headers("tools/call", "get_thing"))
    reply, left = await left_for_the_collector(app, request("tools/call", params), headers, calls=20)
    assert b'"result"' in reply
    assert left == 0


@pytest.mark.parametrize("drop", [False, True], ids=["kept", "older-objects-freed"])
async def test_the_collector_count_sees_a_cycle_each_call_makes(drop: bool) -> None:
    """The measure above can fail: a route that makes one reference cycle per call leaves those.
    Also when objects older than the calls are freed while they run (an earlier test's leftovers):
    review, the count knew those by id() only, and a cycle made at a freed one's address was not
    counted (7 cycles counted as 1)."""
    app = FastAPI()
    older: list[Any] = [[] for _ in range(5_000)]  # gc-tracked, made before the counted calls
    seen = [0]

    @app.get("/loop")
    def loop() -> dict[str, int]:
        seen[0] += 1
        if drop and seen[0] == 2:  # the first counted call (the first one builds the catalog)
            older.clear()
        knot: list[Any] = []
        knot.append(knot)
        return {"n": 1}

    app.add_middleware(MCPMiddleware)
    params = {"name": "loop", "arguments": {}}
    reply, left = await left_for_the_collector(app, request("tools/call", params), dict(BASE_HEADERS), calls=7)
    assert b'"result"' in reply
    assert left >= 7


class Ledger(BaseModel):
    wei: int
    count: int


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_integers_beyond_64_bits_reach_the_client_exactly(era: str) -> None:
    """Regression: structuredContent carried 1.2345678901234568e+29 for a route's exact
    123456789012345678901234567890 (orjson reads such integers as floats)."""
    app = FastAPI()

    @app.get("/ledger", operation_id="ledger")
    async def ledger() -> Ledger:
        return Ledger(wei=123456789012345678901234567890, count=3)

    app.add_middleware(MCPMiddleware)
    params: dict[str, Any] = {"name": "ledger", "arguments": {}}
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}
    if era == "modern":
        params["_meta"] = meta()
        headers = modern_headers("tools/call", "ledger")
    reply = await post(app, request("tools/call", params), headers)
    result = json.loads(reply.body)["result"]  # an exact parser, unlike the tests' usual orjson
    assert result["structuredContent"] == {"wei": 123456789012345678901234567890, "count": 3}
    assert result["content"][0]["text"] == '{"wei":123456789012345678901234567890,"count":3}'


async def test_a_streamed_error_text_is_not_shown_as_progress() -> None:
    """Review: a route streaming its 4xx text sent the chunks as progress before the result, whose
    text is redacted: the progress messages carried the API key the route echoed."""
    app = FastAPI()

    @app.get("/check", operation_id="check")
    async def check(api_key: Annotated[str, Security(API_KEY)]) -> StreamingResponse:
        async def body() -> AsyncIterator[str]:
            yield "checking...\n"
            yield f"key {api_key} is revoked\n"

        return StreamingResponse(body(), status_code=403, media_type="text/plain")

    app.add_middleware(MCPMiddleware)
    params = {"name": "check", "arguments": {}, "_meta": {"progressToken": "p1"}}
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18", "x-api-key": "s3cret-key-123"}
    reply = await post(app, request("tools/call", params), headers)
    result = reply.result()
    assert result["isError"] is True
    assert (
        result["content"][0]["text"]
        == "HTTP 403 Forbidden (permission denied): checking...\nkey [redacted] is revoked\n"
    )
    assert "s3cret-key-123" not in reply.body.decode()


async def test_a_url_api_key_reaches_only_the_routes_its_scheme_guards() -> None:
    """Review: the key went into every route's query string, so a public route that links to itself
    (``request.url``) handed it to the model, and a public route with a strict query model failed."""
    app = FastAPI()

    @app.get("/vault", operation_id="vault")
    async def vault(api_key: Annotated[str, Security(QUERY_KEY)]) -> dict[str, str]:
        return {"opened": api_key[:2]}

    @app.get("/public", operation_id="public")
    async def public(request: Request) -> dict[str, str]:
        return {"next": str(request.url), "query": request.url.query}

    app.add_middleware(MCPMiddleware)
    opened = await call_at(app, "api_key=s3cret-key", "vault")
    assert opened["content"][0]["text"] == '{"opened":"s3"}'
    public_result = await call_at(app, "api_key=s3cret-key", "public")
    assert "s3cret" not in public_result["content"][0]["text"]
    assert orjson.loads(public_result["content"][0]["text"])["query"] == ""


USER_KEY = APIKeyQuery(name="api_key", scheme_name="UserKey")
ADMIN_KEY = APIKeyQuery(name="api_key", scheme_name="AdminKey")


async def test_two_query_schemes_with_one_parameter_name_both_get_the_key() -> None:
    """Review: a route guarded by one of two schemes reading the same ``api_key`` had the other
    scheme's key withheld, which is the same parameter: neither route got it (401)."""
    app = FastAPI()

    @app.get("/user", operation_id="user")
    async def user(key: Annotated[str, Security(USER_KEY)]) -> dict[str, str]:
        return {"ok": key[:2]}

    @app.get("/admin", operation_id="admin")
    async def admin(key: Annotated[str, Security(ADMIN_KEY)]) -> dict[str, str]:
        return {"ok": key[:2]}

    app.add_middleware(MCPMiddleware)
    for name in ("user", "admin"):
        result = await call_at(app, "api_key=s3cret", name)
        assert result["content"][0]["text"] == '{"ok":"s3"}', result


async def test_a_redirects_body_is_redacted_like_its_location_and_not_streamed_as_progress() -> None:
    """Review: the Location of a 3xx was redacted, the same URL in its body was not, and a streamed
    3xx body went out as progress."""
    app = vault_app()

    @app.get("/moved", operation_id="moved")
    async def moved(request: Request, key: Annotated[str, Security(QUERY_KEY)]) -> StreamingResponse:
        url = f"http://elsewhere.example/x?api_key={key}"

        async def body() -> AsyncIterator[str]:
            yield "Redirecting to "
            yield url

        return StreamingResponse(body(), status_code=307, headers={"location": url}, media_type="text/plain")

    params: dict[str, Any] = {"name": "moved", "arguments": {}, "_meta": {"progressToken": "p"}}
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}
    reply = await post(app, request("tools/call", params), headers, query_string=b"api_key=s3cret-key")
    assert "s3cret-key" not in reply.body.decode()
    assert "[redacted]" in reply.result()["content"][0]["text"]


CASED_KEY = APIKeyQuery(name="apiKey")


async def test_a_url_api_key_with_capitals_in_its_name_reaches_only_the_routes_it_guards() -> None:
    """Review: the withheld names kept the scheme's case, the forwarded ones were lower-cased."""
    app = FastAPI()

    @app.get("/vault", operation_id="vault")
    async def vault(key: Annotated[str, Security(CASED_KEY)]) -> dict[str, str]:
        return {"opened": key[:2]}

    @app.get("/public", operation_id="public")
    async def public(request: Request) -> dict[str, str]:
        return {"query": request.url.query}

    app.add_middleware(MCPMiddleware)
    assert (await call_at(app, "apiKey=s3cret-key", "vault"))["content"][0]["text"] == '{"opened":"s3"}'
    assert (await call_at(app, "apiKey=s3cret-key", "public"))["content"][0]["text"] == '{"query":""}'


class Moved(BaseModel):
    url: str


@pytest.mark.parametrize("kind", ["json", "text"])
async def test_a_redirect_from_a_tool_with_an_output_schema_is_an_error_with_the_key_redacted(kind: str) -> None:
    """Review: a 307 with a JSON object body came back as a success with the key in structuredContent,
    and a 302 with text put the key in the error text (the Location beside it was redacted)."""
    app = vault_app()

    @app.get("/moved", operation_id="moved", response_model=Moved)
    async def moved(key: Annotated[str, Security(QUERY_KEY)]) -> Response:
        url = f"http://elsewhere.example/x?api_key={key}"
        if kind == "json":
            return JSONResponse({"url": url}, status_code=307, headers={"location": url})
        return PlainTextResponse(f"Redirecting to {url}", status_code=302, headers={"location": url})

    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}
    reply = await post(
        app, request("tools/call", {"name": "moved", "arguments": {}}), headers, query_string=b"api_key=s3cret-key"
    )
    result = reply.result()
    assert result["isError"] is True
    assert "structuredContent" not in result
    assert "s3cret-key" not in reply.body.decode()
    location = "http://elsewhere.example/x?api_key=[redacted]"
    status, body = (
        ("307 Temporary Redirect", f'{{"url":"{location}"}}')
        if kind == "json"
        else ("302 Found", f"Redirecting to {location}")
    )
    assert result["content"][0]["text"] == (  # not "no JSON object"; the route's body kept, redacted
        f"The tool has an output schema, but the route answered {status} (Location {location}): "
        f"a redirect is not a result: {body}"
    )


async def test_an_integer_beyond_64_bits_in_an_error_detail_keeps_its_digits() -> None:
    """Review: the detail went through orjson's reading and writing, and showed 1.2345678901234568e+29."""
    app = FastAPI()

    @app.post("/order", operation_id="order")
    async def order() -> None:
        raise HTTPException(409, detail={"order": 123456789012345678901234567890})

    app.add_middleware(MCPMiddleware)
    result = await call(app, "order", {})
    assert result["isError"] is True
    assert result["content"][0]["text"] == 'HTTP 409 Conflict: {"order":123456789012345678901234567890}'


OPTIONAL_HEADER_KEY = APIKeyHeader(name="X-API-Key", auto_error=False)
LOWER_KEY = APIKeyQuery(name="api_key", scheme_name="Lower")
UPPER_KEY = APIKeyQuery(name="API_KEY", scheme_name="Upper")


async def test_query_keys_whose_names_differ_in_case_each_reach_only_their_routes() -> None:
    """Review: the withheld names were lower-cased, so ``api_key`` and ``API_KEY`` became one and
    neither was withheld from the other's routes."""
    app = FastAPI()

    @app.get("/a", operation_id="a")
    async def a(request: Request, k: Annotated[str, Security(LOWER_KEY)]) -> dict[str, str]:
        return {"query": request.url.query}

    @app.get("/b", operation_id="b")
    async def b(request: Request, k: Annotated[str, Security(UPPER_KEY)]) -> dict[str, str]:
        return {"query": request.url.query}

    app.add_middleware(MCPMiddleware)
    url = "api_key=lowersecret&API_KEY=UPPERSECRET"
    assert (await call_at(app, url, "a"))["content"][0]["text"] == '{"query":"api_key=lowersecret"}'
    assert (await call_at(app, url, "b"))["content"][0]["text"] == '{"query":"API_KEY=UPPERSECRET"}'


@pytest.mark.parametrize(("url", "header"), [("api_key=abc%5Cdefgh", None), ("", 'ab"cdefgh')])
async def test_a_key_a_json_error_detail_escapes_is_redacted_too(url: str, header: str | None) -> None:
    """Review: a detail that is not a plain string is written as JSON, where a key with a backslash
    or a quote is escaped, and the escaped form was not redacted."""
    app = FastAPI()

    @app.get("/q", operation_id="q")
    async def q(
        k: Annotated[str | None, Security(OPTIONAL_QUERY_KEY)],
        h: Annotated[str | None, Security(OPTIONAL_HEADER_KEY)] = None,
    ) -> None:
        raise HTTPException(403, {"error": "unknown key", "key": k or h})

    app.add_middleware(MCPMiddleware)
    result = await call_at(app, url, "q", headers_extra={"x-api-key": header} if header else None)
    text = result["content"][0]["text"]
    assert "defgh" not in text
    assert "[redacted]" in text


async def test_an_output_schema_error_about_a_2xx_body_is_redacted() -> None:
    app = vault_app()

    @app.get("/s", operation_id="s", response_model=Moved)
    async def s(request: Request, k: Annotated[str, Security(QUERY_KEY)]) -> Response:
        return PlainTextResponse(f"maintenance; your request was {request.url}")

    result = await call_at(app, "api_key=s3cretkey", "s")
    assert result["isError"] is True
    assert "s3cretkey" not in result["content"][0]["text"]


async def test_a_key_cut_by_the_result_limit_shows_no_part_of_itself() -> None:
    app = FastAPI()

    @app.get("/e", operation_id="e")
    async def e(k: Annotated[str, Security(QUERY_KEY)]) -> Response:
        return PlainTextResponse("x" * 90 + f" key={k}", status_code=400)

    app.add_middleware(MCPMiddleware, max_result_chars=100)
    text = (await call_at(app, "api_key=VERYSECRETAPIKEY0123456789", "e"))["content"][0]["text"]
    assert "VERYS" not in text
    assert "[redacted]" in text


async def test_a_non_ascii_key_that_a_json_body_escapes_is_redacted() -> None:
    """``json.dumps`` writes a non-ASCII character as ``\\uXXXX``: a key the route echoes in such a
    body is in none of the forms sent or decoded (results.credential_values adds that form)."""
    app = FastAPI()

    @app.get("/q", operation_id="q")
    async def q(k: Annotated[str, Security(QUERY_KEY)]) -> Response:
        return Response(json.dumps({"error": {"key": k}}), 403, media_type="application/json")

    result = await call_at(app_with_mcp(app), "api_key=%C3%A9-secret-key", "q")
    text = result["content"][0]["text"]
    assert "secret-key" not in text  # as sent, decoded (é-secret-key) and escaped (\u00e9-secret-key)
    assert text == 'HTTP 403 Forbidden (permission denied): {"error": {"key": "[redacted]"}}'


async def test_a_route_sees_a_url_key_in_its_query_string_only() -> None:
    """QueryKeys moves the key's pseudo-header (``?api_key``) into the query string: the route's
    headers never show it."""
    app = FastAPI()

    @app.get("/seen", operation_id="seen")
    async def seen(request: Request, k: Annotated[str, Security(QUERY_KEY)]) -> dict[str, Any]:
        return {"headers": list(request.headers), "query": request.url.query}

    result = await call_at(app_with_mcp(app), "api_key=s3cret-key", "seen")
    seen_by_route = orjson.loads(result["content"][0]["text"])
    assert seen_by_route["query"] == "api_key=s3cret-key"
    assert not [name for name in seen_by_route["headers"] if name.startswith("?")]


def app_with_mcp(app: FastAPI) -> FastAPI:
    app.add_middleware(MCPMiddleware)
    return app


class _Written(Response):
    """Writes its response itself, or (``grouped``) from a task of an ``asyncio.TaskGroup``, so
    that an exception raised by ``send`` reaches the middleware inside an ExceptionGroup;
    ``twice``: and then starts it again (an ASGI contract breach)."""

    def __init__(self, body: bytes, media_type: str, *, grouped: bool, twice: bool = False) -> None:
        super().__init__(body, media_type=media_type)
        self.grouped, self.twice = grouped, twice

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def write() -> None:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            await send({"type": "http.response.body", "body": self.body})
            if self.twice:
                await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})

        if not self.grouped:
            await write()
            return
        async with asyncio.TaskGroup() as group:
            group.create_task(write())


@pytest.mark.parametrize("grouped", [False, True])
async def test_our_own_errors_inside_an_exception_group_are_reported_as_without_one(grouped: bool) -> None:
    """Review: a result over the size limit (raised by the last chunk, once the response is
    complete) or a second response start, raised inside a route's task group, was taken for a
    background failure after a complete response: an empty success."""
    app = build_app(max_binary_bytes=4)

    @app.get("/big", operation_id="big")
    async def big() -> Response:
        return _Written(b"0123456789", "application/pdf", grouped=grouped)

    @app.get("/twice", operation_id="twice")
    async def twice() -> Response:
        return _Written(b"hi", "text/plain", grouped=grouped, twice=True)

    too_large = (await post(app, request("tools/call", {"name": "big", "arguments": {}}))).result()
    assert too_large["isError"] is True
    assert "exceeded the 4-byte limit" in too_large["content"][0]["text"]
    broken = (await post(app, request("tools/call", {"name": "twice", "arguments": {}}))).result()
    assert broken["isError"] is True
    assert broken["content"][0]["text"] == "Tool 'twice' failed: the route did not produce a valid HTTP response."


# -- compressed responses, empty successes, HEAD routes --------------------------------------------

REPORT = b'{"status": "ok", "items": [1, 2, 3]}'


def encoded_app(coding: str = "gzip", **options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/report", operation_id="report", openapi_extra=declare.resource("report://latest", tool=True))
    def report() -> Response:
        # e.g. serving reports/latest.json.gz as-is, which every HTTP client decodes transparently
        body = gzip.compress(REPORT) if coding == "gzip" else b"\x1b\x23\x00\xf8brotli-ish"
        return Response(body, media_type="application/json", headers={"Content-Encoding": coding})

    @app.get("/proxied", operation_id="proxied")
    async def proxied() -> StreamingResponse:
        async def upstream() -> AsyncIterator[bytes]:  # a proxy passing a compressed stream through
            packer = zlib.compressobj()
            for i in range(5):
                yield packer.compress(f"line {i}\n".encode()) + packer.flush(zlib.Z_SYNC_FLUSH)
            yield packer.flush()

        return StreamingResponse(upstream(), media_type="text/plain", headers={"content-encoding": "deflate"})

    app.add_middleware(MCPMiddleware, **options)
    return app


async def test_a_compressed_response_is_decoded_for_a_tool_and_a_resource() -> None:
    app = encoded_app()
    assert await call(app, "report") == {"content": [{"type": "text", "text": REPORT.decode()}]}
    reply = await post(app, request("resources/read", {"uri": "report://latest"}))
    assert reply.result()["contents"] == [
        {"uri": "report://latest", "mimeType": "application/json", "text": REPORT.decode()}
    ]
    assert await call(app, "proxied") == {
        "content": [{"type": "text", "text": "".join(f"line {i}\n" for i in range(5))}]
    }


async def test_a_content_coding_the_middleware_cannot_decode_is_refused_for_a_tool_and_a_resource() -> None:
    app = encoded_app("br")
    result = await call(app, "report")
    assert result == {
        "content": [
            {
                "type": "text",
                "text": "The route's response used Content-Encoding br, which the middleware cannot decode.",
            }
        ],
        "isError": True,
    }
    error = (await post(app, request("resources/read", {"uri": "report://latest"}))).json()["error"]
    assert error["code"] == -32603
    assert error["message"] == (
        "Reading report://latest failed: the route's response used Content-Encoding br, "
        "which the middleware cannot decode."
    )


async def test_a_content_coding_the_middleware_cannot_decode_is_named_for_a_tool_with_an_output_schema() -> None:
    """The refusal is the whole error, as for a tool without one (not "must be a JSON object in full")."""
    app = FastAPI()

    @app.get("/stats", operation_id="stats", response_model=dict[str, int])
    def stats() -> Response:  # its JSON is served compressed as-is
        body = b"\x1b\x23\x00\xf8brotli-ish"
        return Response(body, media_type="application/json", headers={"Content-Encoding": "br"})

    app.add_middleware(MCPMiddleware)
    tools = (await post(app, request("tools/list"))).result()["tools"]
    assert "outputSchema" in tools[0]
    assert await call(app, "stats") == {
        "content": [
            {
                "type": "text",
                "text": "The route's response used Content-Encoding br, which the middleware cannot decode.",
            }
        ],
        "isError": True,
    }


async def test_a_compressed_stream_goes_out_decoded_as_progress() -> None:
    app = encoded_app()
    body = request("tools/call", {"name": "proxied", "arguments": {}, "_meta": {"progressToken": "t"}})
    reply = await Exchange(app, body).run()
    events = reply.events()
    shown = [e["params"]["message"] for e in events if e.get("method") == "notifications/progress"]
    assert "".join(shown) == "".join(f"line {i}\n" for i in range(5))
    assert events[-1]["result"]["content"][0]["text"] == "".join(shown)


async def test_an_empty_success_and_a_head_route_tell_the_model_what_happened() -> None:
    """Review: an empty 200 body (and every HEAD route) gave an empty text, status and headers dropped."""
    app = FastAPI()

    @app.head("/files/{name}", operation_id="file_exists")
    def file_exists(name: str) -> Response:
        if name != "a.txt":
            raise HTTPException(404, "No such file")
        return Response(headers={"x-file-size": "1234", "last-modified": "Tue, 01 Oct 2024 00:00:00 GMT"})

    @app.head("/health", operation_id="health")
    def health() -> None:  # FastAPI answers "null", which a server drops for HEAD
        return None

    @app.get("/ok_empty", operation_id="ok_empty")
    def ok_empty() -> Response:
        return Response(status_code=200)

    app.add_middleware(MCPMiddleware)
    assert await call(app, "file_exists", {"name": "a.txt"}) == {
        "content": [
            {
                "type": "text",
                "text": "200 OK\nx-file-size: 1234\nlast-modified: Tue, 01 Oct 2024 00:00:00 GMT\ncontent-length: 0",
            }
        ]
    }
    assert await call(app, "file_exists", {"name": "b.txt"}) == {
        "content": [{"type": "text", "text": "HTTP 404 Not Found: No such file"}],
        "isError": True,
    }
    alive = await call(app, "health")
    assert alive["content"][0]["text"] == "200 OK\ncontent-length: 4\ncontent-type: application/json"
    assert await call(app, "ok_empty") == {"content": [{"type": "text", "text": "200 OK"}]}


@pytest.mark.parametrize("era", ["2025-11-25", "2026-07-28"])
@pytest.mark.anyio
async def test_a_conditional_gets_304_is_the_tools_answer_not_an_error(era: str) -> None:
    """The tool sends If-None-Match (a Header() argument) and the route answers 304: the tool did
    its work, the answer is "unchanged" (review: 5f82a65 made every 3xx an error); a 200 stays one."""
    app = FastAPI()

    @app.get("/report", operation_id="report")
    async def report(if_none_match: Annotated[str | None, Header()] = None) -> Response:
        if if_none_match == '"v7"':
            return Response(status_code=304, headers={"etag": '"v7"'})
        return Response('{"rows": 3}', media_type="application/json", headers={"etag": '"v7"'})

    app.add_middleware(MCPMiddleware)

    async def report_call(arguments: dict[str, Any]) -> dict[str, Any]:
        params = {"name": "report", "arguments": arguments}
        if era == "2026-07-28":
            reply = await call_modern(app, "tools/call", {**params, "_meta": meta()}, name="report")
        else:
            reply = await post(app, request("tools/call", params), {**BASE_HEADERS, "mcp-protocol-version": era})
        assert reply.status == 200, reply.body
        result: dict[str, Any] = reply.result()
        return {key: value for key, value in result.items() if key not in ("_meta", "resultType")}  # 2026-07-28's

    listed = {"type": "text", "text": 'Response headers:\netag: "v7"'}  # the validator to send back
    unchanged = await report_call({"if-none-match": '"v7"'})
    assert unchanged == {"content": [{"type": "text", "text": "304 Not Modified"}, listed]}
    changed = await report_call({"if-none-match": '"v6"'})
    assert changed == {"content": [{"type": "text", "text": '{"rows": 3}'}, listed]}


class _Iterated(Response):
    """Sends its headers as an iterable that is neither a list nor a tuple (ASGI allows any
    iterable of pairs): ``dict.items()``, or a generator that can be read once."""

    def __init__(self, body: bytes, media_type: str, *, generator: bool) -> None:
        super().__init__(body, media_type=media_type)
        self.generator = generator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pairs = dict(self.raw_headers)
        headers = (pair for pair in pairs.items()) if self.generator else pairs.items()
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


@pytest.mark.parametrize("generator", [False, True])
async def test_response_headers_sent_as_any_iterable_are_read(generator: bool) -> None:
    """Review (this session's response-head speed-up): headers sent as ``dict.items()`` or a
    generator made every call fail as "the route raised TypeError" (they were indexed, and a
    generator was read twice)."""
    app = build_app()

    @app.get("/pairs", operation_id="pairs")
    async def pairs() -> Response:
        return _Iterated(b'{"a": 1}', "application/json", generator=generator)

    result = (await post(app, request("tools/call", {"name": "pairs", "arguments": {}}))).result()
    assert result == {"content": [{"type": "text", "text": '{"a": 1}'}]}
