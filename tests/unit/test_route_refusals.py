"""With ``oauth``, a route's refusal of the token is the endpoint's HTTP refusal (authorization.mdx,
"Token Handling": invalid or expired tokens MUST receive HTTP 401; "Runtime Insufficient Scope
Errors": 403 with ``insufficient_scope``), as long as nothing of the MCP response has gone out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.responses import Response, StreamingResponse

from mcp_middleware import MCPContext, MCPMiddleware, MCPResponse, declare, mcp_context, toolcall
from mcp_middleware._bearer import bearer_params
from mcp_middleware.content import MCP_CONTENT_TYPE, text
from mcp_middleware.security import OAuthResource
from tests.support import BASE_HEADERS, MODERN, Exchange, Reply, cancelled, meta, modern_headers, post
from tests.support import request as rpc

pytestmark = pytest.mark.anyio

OAUTH = OAuthResource(authorization_servers=["https://auth.example.com"], scopes_supported=["items:read"])
METADATA = 'resource_metadata="http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"'
GOOD = "Bearer fresh"
STALE = "Bearer s3cr3t-expired"
EXPIRED = 'Bearer realm="api", error="invalid_token", error_description="token expired", scope="items:read"'
INSUFFICIENT = 'Bearer error="insufficient_scope", scope="items:read items:write", error_description="needs write"'

Auth = Annotated[str | None, Header()]


GUARD = 10  # seconds: a deadlock guard only; nothing waits on time
APIKEY = 'ApiKey realm="github"'  # the route needs another credential: the upstream API's key


def _check(
    authorization: str | None, status: int = 401, challenge: str | None = EXPIRED, detail: str = "token expired"
) -> None:
    if authorization != GOOD:
        headers = {"WWW-Authenticate": challenge} if challenge is not None else None
        raise HTTPException(status, detail, headers=headers)


def refusing_app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/me", operation_id="me")
    async def me(authorization: Auth = None) -> dict[str, bool]:
        _check(authorization)
        return {"ok": True}

    @app.get("/docs/me", openapi_extra=declare.resource("test://me"))
    async def me_resource(authorization: Auth = None) -> str:
        _check(authorization)
        return "me"

    @app.get("/prompts/me", openapi_extra=declare.prompt("me_prompt"))
    async def me_prompt(authorization: Auth = None) -> str:
        _check(authorization)
        return "Hello"

    @app.get("/bare", operation_id="bare")
    async def bare(authorization: Auth = None) -> dict[str, bool]:
        _check(authorization, challenge=None)
        return {"ok": True}

    @app.get("/basic", operation_id="basic")
    async def basic(authorization: Auth = None) -> dict[str, bool]:
        _check(authorization, challenge='Basic realm="api"')
        return {"ok": True}

    @app.get("/apikey", operation_id="apikey")
    async def apikey(authorization: Auth = None) -> dict[str, bool]:
        _check(authorization, challenge=APIKEY, detail="GitHub account not linked")
        return {"ok": True}

    @app.get("/docs/apikey", openapi_extra=declare.resource("test://apikey"))
    async def apikey_resource(authorization: Auth = None) -> str:
        _check(authorization, challenge=APIKEY, detail="GitHub account not linked")
        return "linked"

    @app.get("/prompts/apikey", openapi_extra=declare.prompt("apikey_prompt"))
    async def apikey_prompt(authorization: Auth = None) -> str:
        _check(authorization, challenge=APIKEY, detail="GitHub account not linked")
        return "Hello"

    @app.get("/both", operation_id="both")
    async def both(authorization: Auth = None) -> dict[str, bool]:
        _check(authorization, challenge='Basic realm="api", Bearer error="invalid_token"')
        return {"ok": True}

    @app.get("/quoted", operation_id="quoted")
    async def quoted(authorization: Auth = None) -> dict[str, bool]:
        _check(authorization, challenge='Bearer error="invalid_token", error_description="the \\"old\\" one\x7f"')
        return {"ok": True}

    @app.get("/scoped", operation_id="scoped")
    async def scoped(authorization: Auth = None) -> dict[str, bool]:
        _check(authorization, 403, INSUFFICIENT)
        return {"ok": True}

    @app.get("/forbidden", operation_id="forbidden")
    async def forbidden(authorization: Auth = None) -> dict[str, bool]:
        _check(authorization, 403, 'Bearer error="invalid_token"')
        return {"ok": True}

    @app.post("/progress-then-401", operation_id="progress_then_401")
    async def progress_then_401(ctx: Annotated[MCPContext, Depends(mcp_context)], authorization: Auth = None) -> Any:
        await ctx.report_progress(1, 2, "checking the token")
        _check(authorization)
        return {"ok": True}

    @app.get("/streamed-401", operation_id="streamed_401")
    async def streamed_401() -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"token "
            yield b"expired"

        return StreamingResponse(body(), 401, {"WWW-Authenticate": EXPIRED}, media_type="text/plain")

    app.add_middleware(MCPMiddleware, **options)
    return app


# (method, params) of each kind of call, by the name of what it runs
CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "tool": ("tools/call", {"name": "me", "arguments": {}}),
    "resource": ("resources/read", {"uri": "test://me"}),
    "prompt": ("prompts/get", {"name": "me_prompt", "arguments": {}}),
}
ERAS = ["2025-03-26", "2025-11-25", MODERN]


def _tool(name: str) -> tuple[str, dict[str, Any]]:
    return "tools/call", {"name": name, "arguments": {}}


async def call(
    app: FastAPI, method: str, params: dict[str, Any], version: str = "2025-11-25", token: str = STALE, **m: Any
) -> Reply:
    if version == MODERN:
        name = params.get("name", params.get("uri"))
        headers = modern_headers(method, name)
        body = rpc(method, {**params, "_meta": meta(**m)})
    else:
        headers = {**BASE_HEADERS, "mcp-protocol-version": version}
        body = rpc(method, {**params, "_meta": m} if m else params)
    return await post(app, body, {**headers, "authorization": token})


def assert_http_refusal(reply: Reply, status: int, challenge: str) -> None:
    """The refusal the ``auth`` guard answers: an id-less -32600 error, the challenge in its header."""
    assert reply.status == status, reply.body
    assert reply.content_type == "application/json"
    body = reply.json()
    assert body["id"] is None
    assert body["error"]["code"] == -32600
    assert b"s3cr3t" not in reply.body
    assert not [value for value in reply.headers.values() if "s3cr3t" in value]  # the caller's token
    assert reply.headers["www-authenticate"] == challenge


@pytest.mark.parametrize("version", ERAS)
@pytest.mark.parametrize("kind", sorted(CALLS))
async def test_a_routes_401_is_the_endpoints_401_with_the_routes_challenge(kind: str, version: str) -> None:
    method, params = CALLS[kind]
    reply = await call(refusing_app(oauth=OAUTH), method, params, version)
    challenge = f'Bearer error="invalid_token", error_description="token expired", scope="items:read", {METADATA}'
    assert_http_refusal(reply, 401, challenge)


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
@pytest.mark.parametrize("kind", sorted(CALLS))
async def test_a_valid_token_still_gets_its_result(kind: str, version: str) -> None:
    method, params = CALLS[kind]
    reply = await call(refusing_app(oauth=OAUTH), method, params, version, token=GOOD)
    assert reply.status == 200
    assert "isError" not in reply.result()


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
@pytest.mark.parametrize("tool", ["bare", "both"])
async def test_a_401_without_a_challenge_or_with_a_bearer_one_among_others_gets_the_guards(
    tool: str, version: str
) -> None:
    """No ``WWW-Authenticate`` at all (``HTTPException(401)`` without headers: most often the
    app's own check of the token failing) is lifted as ``invalid_token``; so is a field whose
    challenges include a Bearer one."""
    reply = await call(refusing_app(oauth=OAUTH), *_tool(tool), version)
    assert_http_refusal(reply, 401, f'Bearer error="invalid_token", {METADATA}')


async def test_a_bearer_challenge_in_a_second_www_authenticate_field_is_lifted() -> None:
    app = FastAPI()

    @app.get("/t", operation_id="t")
    async def t() -> Response:
        reply = Response(b'{"detail":"expired"}', 401, media_type="application/json")
        reply.raw_headers.append((b"www-authenticate", b'Basic realm="legacy"'))
        reply.raw_headers.append((b"www-authenticate", b'Bearer error="invalid_token"'))
        return reply

    app.add_middleware(MCPMiddleware, oauth=OAUTH)
    reply = await call(app, *_tool("t"))
    assert_http_refusal(reply, 401, f'Bearer error="invalid_token", {METADATA}')


NOT_BEARER = {
    "basic": _tool("basic"),
    "apikey": _tool("apikey"),
    "apikey resource": ("resources/read", {"uri": "test://apikey"}),
    "apikey prompt": ("prompts/get", {"name": "apikey_prompt", "arguments": {}}),
}


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
@pytest.mark.parametrize("kind", sorted(NOT_BEARER))
async def test_a_401_challenging_another_scheme_stays_the_calls_error_as_without_oauth(kind: str, version: str) -> None:
    """``Basic``, or ``ApiKey`` for an upstream API's key the user has not linked: the route
    refuses another credential, not the MCP token. Lifting it as ``invalid_token`` would send the
    client into OAuth again, in a loop, and lose the route's explanation."""
    method, params = NOT_BEARER[kind]
    reply = await call(refusing_app(oauth=OAUTH), method, params, version)
    assert "www-authenticate" not in reply.headers
    plain = await call(refusing_app(), method, params, version)
    assert (reply.status, reply.body) == (plain.status, plain.body)
    if method == "tools/call":
        result = reply.result()
        assert result["isError"] is True
        assert "401" in result["content"][0]["text"]
    else:
        assert reply.error()["error"]["code"] == -32602
    if kind != "basic":
        assert b"GitHub account not linked" in reply.body


async def test_the_routes_challenge_values_are_quoted_again_and_control_characters_dropped() -> None:
    reply = await call(refusing_app(oauth=OAUTH), *_tool("quoted"))
    assert_http_refusal(reply, 401, f'Bearer error="invalid_token", error_description="the \\"old\\" one", {METADATA}')


@pytest.mark.parametrize("version", ["2025-03-26", MODERN])
async def test_a_403_insufficient_scope_is_the_endpoints_403(version: str) -> None:
    reply = await call(refusing_app(oauth=OAUTH), *_tool("scoped"), version)
    scopes = 'scope="items:read items:write"'
    challenge = f'Bearer error="insufficient_scope", {scopes}, error_description="needs write", {METADATA}'
    assert_http_refusal(reply, 403, challenge)


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
async def test_any_other_403_stays_a_tool_error(version: str) -> None:
    reply = await call(refusing_app(oauth=OAUTH), *_tool("forbidden"), version)
    assert reply.status == 200
    assert "www-authenticate" not in reply.headers
    result = reply.result()
    assert result["isError"] is True
    assert "403" in result["content"][0]["text"]


@pytest.mark.parametrize("status", [404, 500])
async def test_a_routes_other_failures_stay_tool_errors(status: int) -> None:
    """Only a 401 or 403 refuses the credentials: a 404 or 500 is the call's error, not lifted."""
    app = FastAPI()

    @app.get("/t", operation_id="t")
    async def t() -> None:
        raise HTTPException(status, "failed")

    app.add_middleware(MCPMiddleware, oauth=OAUTH)
    reply = await call(app, *_tool("t"))
    assert reply.status == 200
    assert "www-authenticate" not in reply.headers
    result = reply.result()
    assert result["isError"] is True
    assert str(status) in result["content"][0]["text"]


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
async def test_after_the_stream_started_a_401_stays_the_calls_error(version: str) -> None:
    """Progress went out first: the stream's head said 200, so the refusal is its last event."""
    app = refusing_app(oauth=OAUTH)
    reply = await call(app, *_tool("progress_then_401"), version, progressToken="p")
    assert reply.status == 200
    assert reply.content_type.startswith("text/event-stream")
    assert "www-authenticate" not in reply.headers
    events = reply.events()
    assert events[0]["method"] == "notifications/progress"
    result = events[-1]["result"]
    assert result["isError"] is True
    assert "401" in result["content"][0]["text"]


SSE = {"oauth": OAUTH, "response_mode": "sse"}
HANDSHAKE_ERAS = ["2025-03-26", "2025-11-25"]  # response_mode is a handshake-era option


@pytest.mark.parametrize("version", ERAS)
@pytest.mark.parametrize("kind", sorted(CALLS))
async def test_response_mode_sse_defers_its_head_so_a_routes_401_is_the_endpoints_401(kind: str, version: str) -> None:
    """With ``oauth``, the option's stream begins with the first thing written on it (as in the
    default mode), not before the route runs: a route that refuses the token before writing
    anything gets the HTTP 401 the spec asks for. (2026-07-28 has no such option: lifted as ever.)"""
    method, params = CALLS[kind]
    reply = await call(refusing_app(**SSE), method, params, version)
    challenge = f'Bearer error="invalid_token", error_description="token expired", scope="items:read", {METADATA}'
    assert_http_refusal(reply, 401, challenge)


@pytest.mark.parametrize("version", HANDSHAKE_ERAS)
async def test_response_mode_sse_lifts_a_bare_401_and_a_403_insufficient_scope_too(version: str) -> None:
    app = refusing_app(**SSE)
    assert_http_refusal(await call(app, *_tool("bare"), version), 401, f'Bearer error="invalid_token", {METADATA}')
    scopes = 'scope="items:read items:write"'
    challenge = f'Bearer error="insufficient_scope", {scopes}, error_description="needs write", {METADATA}'
    assert_http_refusal(await call(app, *_tool("scoped"), version), 403, challenge)


def assert_streamed_as_without_oauth(reply: Reply, plain: Reply) -> None:
    """The option's one SSE stream under HTTP 200, its events those the app without ``oauth`` sends."""
    assert reply.status == plain.status == 200
    assert reply.content_type == plain.content_type == "text/event-stream"
    assert "www-authenticate" not in reply.headers
    assert reply.events() == plain.events()
    assert reply.more_flags[-1] is False


@pytest.mark.parametrize("version", HANDSHAKE_ERAS)
@pytest.mark.parametrize("kind", sorted(CALLS))
async def test_response_mode_sse_with_oauth_still_streams_every_result(kind: str, version: str) -> None:
    method, params = CALLS[kind]
    reply = await call(refusing_app(**SSE), method, params, version, token=GOOD)
    plain = await call(refusing_app(response_mode="sse"), method, params, version, token=GOOD)
    assert_streamed_as_without_oauth(reply, plain)
    assert len(reply.events()) == 1
    assert "isError" not in reply.result()


@pytest.mark.parametrize("version", HANDSHAKE_ERAS)
@pytest.mark.parametrize("kind", [*sorted(NOT_BEARER), "forbidden", "unknown tool"])
async def test_response_mode_sse_with_oauth_streams_what_it_does_not_lift(kind: str, version: str) -> None:
    """A 401 of another scheme, a 403 of another kind, a JSON-RPC error (an unknown tool): each the
    stream's one event, as without ``oauth``: the option still answers every request with a stream."""
    method, params = {**NOT_BEARER, "forbidden": _tool("forbidden"), "unknown tool": _tool("nope")}[kind]
    reply = await call(refusing_app(**SSE), method, params, version)
    plain = await call(refusing_app(response_mode="sse"), method, params, version)
    assert_streamed_as_without_oauth(reply, plain)
    assert len(reply.events()) == 1


@pytest.mark.parametrize("method", ["tools/list", "ping"])
async def test_response_mode_sse_with_oauth_streams_other_requests_at_once(method: str) -> None:
    reply = await post(refusing_app(**SSE), rpc(method), {**BASE_HEADERS, "authorization": STALE})
    assert reply.status == 200
    assert reply.content_type == "text/event-stream"
    assert "result" in reply.events()[-1]


@pytest.mark.parametrize("version", HANDSHAKE_ERAS)
async def test_response_mode_sse_after_progress_a_401_stays_the_streams_last_event(version: str) -> None:
    reply = await call(refusing_app(**SSE), *_tool("progress_then_401"), version, progressToken="p")
    assert reply.status == 200
    assert reply.content_type.startswith("text/event-stream")
    assert "www-authenticate" not in reply.headers
    events = reply.events()
    assert events[0]["method"] == "notifications/progress"
    assert events[-1]["result"]["isError"] is True


async def test_a_401_inside_a_batch_stays_that_calls_error_with_response_mode_sse_too() -> None:
    batch = [rpc("tools/call", {"name": "me", "arguments": {}}, id=1), rpc("ping", id=2)]
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26", "authorization": STALE}
    reply = await post(refusing_app(**SSE), batch, headers)
    assert reply.status == 200
    assert reply.content_type == "text/event-stream"
    assert "www-authenticate" not in reply.headers
    replies = {item["id"]: item for item in reply.events()}
    assert replies[1]["result"]["isError"] is True
    assert replies[2]["result"] == {}


def gated_app(gate: anyio.Event, reached: anyio.Event, **options: Any) -> FastAPI:
    """One tool, ``slow``, that waits for ``gate`` (``reached`` once it runs), then checks the token."""
    app = FastAPI()

    @app.get("/slow", operation_id="slow")
    async def slow(authorization: Auth = None) -> dict[str, bool]:
        reached.set()
        await gate.wait()
        _check(authorization)
        return {"ok": True}

    app.add_middleware(MCPMiddleware, **options)
    return app


@pytest.mark.parametrize("oauth", [True, False], ids=["oauth", "no-oauth"])
async def test_response_mode_sse_sends_its_head_before_the_route_runs_only_without_oauth(oauth: bool) -> None:
    """Without ``oauth`` nothing changes: the head goes out before the route runs, as the official
    SDK server sends it. With ``oauth`` it waits for the first write (here the result: a 401)."""
    gate, reached = anyio.Event(), anyio.Event()
    app = gated_app(gate, reached, response_mode="sse", **({"oauth": OAUTH} if oauth else {}))
    ex = Exchange(app, rpc(*_tool("slow")), {**BASE_HEADERS, "authorization": STALE})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await reached.wait()
            await anyio.lowlevel.checkpoint()
            assert ex.reply.status == (0 if oauth else 200)
            gate.set()
    if oauth:
        assert_http_refusal(
            ex.reply,
            401,
            f'Bearer error="invalid_token", error_description="token expired", scope="items:read", {METADATA}',
        )
    else:
        assert ex.reply.content_type == "text/event-stream"
        assert ex.reply.result()["isError"] is True


async def test_response_mode_sse_a_keepalive_starts_the_stream_so_a_later_401_is_its_last_event() -> None:
    gate, reached = anyio.Event(), anyio.Event()
    app = gated_app(gate, reached, keepalive_interval=0.1, **SSE)
    ex = Exchange(app, rpc(*_tool("slow")), {**BASE_HEADERS, "authorization": STALE})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            while not any(chunk.startswith(b": keep-alive") for chunk in ex.reply.chunks):
                await ex.chunk_seen.wait()
            assert ex.reply.content_type == "text/event-stream"
            gate.set()
    assert ex.reply.status == 200
    assert "www-authenticate" not in ex.reply.headers
    assert ex.reply.result()["isError"] is True


async def test_response_mode_sse_with_oauth_a_cancelled_call_ends_an_empty_stream() -> None:
    """Nothing is sent for a cancelled request (cancellation.mdx): the stream ends without an
    event, as it did when it began before the route ran."""
    gate, reached = anyio.Event(), anyio.Event()
    app = gated_app(gate, reached, **SSE)
    headers = {**BASE_HEADERS, "authorization": GOOD}
    ex = Exchange(app, rpc(*_tool("slow"), id=9), headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await reached.wait()
            assert (await post(app, cancelled(9), headers)).status == 202
    assert ex.reply.status == 200
    assert ex.reply.content_type == "text/event-stream"
    assert ex.reply.events() == []
    assert ex.reply.more_flags[-1] is False


@pytest.mark.parametrize("portable", [False, True], ids=["asyncio", "portable"])
@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
async def test_a_streamed_401_answered_from_the_routes_last_send_is_lifted_too(
    version: str, portable: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call whose watcher started (a streamed body) writes its result from the route's last send
    (``Responder.answer``): nothing had gone out, so that is the HTTP 401 too. (The portable
    watcher answers no call early: there the handler's path writes it, lifted as well.)"""
    monkeypatch.setattr(toolcall, "PORTABLE_WATCHER", portable)
    reply = await call(refusing_app(oauth=OAUTH), *_tool("streamed_401"), version)
    challenge = f'Bearer error="invalid_token", error_description="token expired", scope="items:read", {METADATA}'
    assert_http_refusal(reply, 401, challenge)


async def test_a_401_inside_a_batch_stays_that_calls_error() -> None:
    """A batch's reply answers its other requests too: the 401 stays one item's result."""
    batch = [rpc("tools/call", {"name": "me", "arguments": {}}, id=1), rpc("ping", id=2)]
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26", "authorization": STALE}
    reply = await post(refusing_app(oauth=OAUTH), batch, headers)
    assert reply.status == 200
    assert "www-authenticate" not in reply.headers
    replies = {item["id"]: item for item in reply.json()}
    assert replies[1]["result"]["isError"] is True
    assert replies[2]["result"] == {}


@pytest.mark.parametrize("options", [{}, {"auth": lambda request: True}], ids=["nothing", "auth"])
@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
async def test_without_oauth_nothing_changes(options: dict[str, Any], version: str) -> None:
    app = refusing_app(**options)
    reply = await call(app, *CALLS["tool"], version)
    assert reply.status == 200
    assert "www-authenticate" not in reply.headers
    assert reply.result()["isError"] is True
    reply = await call(app, *CALLS["resource"], version)
    assert reply.status in (200, 400)  # a 4xx route failure is -32602: 400 in 2026-07-28
    assert reply.error()["error"]["code"] == -32602
    assert "401" in reply.error()["error"]["message"]


async def test_the_lifted_401_names_the_requests_host_in_its_resource_metadata() -> None:
    app = refusing_app(oauth=OAUTH, allowed_hosts=["mcp.example.com"])
    headers = {**BASE_HEADERS, "authorization": STALE, "host": "mcp.example.com"}
    reply = await post(app, rpc(*CALLS["tool"]), headers)
    assert reply.status == 401
    metadata = 'resource_metadata="http://mcp.example.com/.well-known/oauth-protected-resource/mcp"'
    assert reply.headers["www-authenticate"].endswith(f", {metadata}")


async def test_the_lifted_401_carries_the_cors_headers() -> None:
    origin = "http://localhost:6274"
    app = refusing_app(oauth=OAUTH, cors_allow_origins=[origin])
    reply = await post(app, rpc(*CALLS["tool"]), {**BASE_HEADERS, "authorization": STALE, "origin": origin})
    assert reply.status == 401
    assert reply.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    ("header", "params"),
    [
        ("", None),
        ('Basic realm="api"', None),
        ('Basic realm="Bearer error=x"', None),  # a scheme's name inside another's quoted value
        ("Bearer", []),
        ('bearer ERROR="invalid_token"', [("error", "invalid_token")]),  # names without case
        ('Basic dXNlcg==, Bearer error=invalid_token, scope="a b"', [("error", "invalid_token"), ("scope", "a b")]),
        ('Negotiate abc=, Bearer realm="a, Bearer x", error="e", error="f", Basic error="no"', [("error", "e")]),
        (
            'Bearer error="invalid_token", error_uri="https://x", resource_metadata="https://evil"',
            [("error", "invalid_token")],
        ),
        ('Bearer error_description="caf\xe9 \\"x\\"", error=""', [("error_description", 'caf "x"')]),
        ('Bearer error="unterminated', []),
        # the params after another challenge's scheme are that challenge's
        ('Bearer realm="api", DPoP algs="ES256", error="use_dpop_nonce"', []),
        ('Bearer realm="api", Basic error_description="x", scope="admin"', []),
    ],
)
def test_the_bearer_challenge_is_read_from_a_www_authenticate_value(
    header: str, params: list[tuple[str, str]] | None
) -> None:
    assert bearer_params(header) == params


def challenging_app(challenge: str) -> FastAPI:
    """An oauth app whose one tool, ``t``, refuses every token with a 401 of ``challenge``."""
    app = FastAPI()

    @app.get("/t", operation_id="t")
    async def t() -> None:
        raise HTTPException(401, "refused", headers={"WWW-Authenticate": challenge})

    app.add_middleware(MCPMiddleware, oauth=OAUTH)
    return app


SCOPES = " ".join(f"s{number:03}" for number in range(200))  # 999 characters


@pytest.mark.parametrize(
    ("challenge", "carried"),
    [
        # cut at 256 characters with a marker (Node's fetch refuses a head over 16 KB)
        (
            'Bearer error="invalid_token", error_description="upstream said: ' + "A" * 20_000 + '"',
            'error="invalid_token", error_description="upstream said: ' + "A" * 238 + '...", ',
        ),
        # an escaped character counts as the two it is written as
        (
            'Bearer error_description="' + '\\"' * 300 + '"',
            'error="invalid_token", error_description="' + '\\"' * 126 + '...", ',
        ),
        # a scope keeps whole scope tokens (a cut one would name another scope)
        (f'Bearer error="invalid_token", scope="{SCOPES}"', f'error="invalid_token", scope="{SCOPES[:254]}", '),
        # the tokens that fit exactly in 256 characters are kept
        ('Bearer scope="' + "s" * 256 + ' t"', 'error="invalid_token", scope="' + "s" * 256 + '", '),
        ('Bearer scope="' + "s" * 300 + '"', 'error="invalid_token", '),  # no whole token fits
        ('Bearer error="' + "e" * 100 + '"', 'error="invalid_token", '),  # no error code is that long
    ],
    ids=["description", "escaped", "scope", "scope-at-the-limit", "one-long-scope", "long-error"],
)
async def test_the_carried_values_are_bounded(challenge: str, carried: str) -> None:
    reply = await call(challenging_app(challenge), *_tool("t"))
    assert_http_refusal(reply, 401, f"Bearer {carried}{METADATA}")
    assert len(reply.headers["www-authenticate"]) < 1024


async def test_a_bounded_403_keeps_its_insufficient_scope() -> None:
    app = FastAPI()

    @app.get("/t", operation_id="t")
    async def t() -> None:
        challenge = f'Bearer error="insufficient_scope", scope="{SCOPES}", error_description="{"x" * 999}"'
        raise HTTPException(403, "more", headers={"WWW-Authenticate": challenge})

    app.add_middleware(MCPMiddleware, oauth=OAUTH)
    reply = await call(app, *_tool("t"))
    carried = f'error="insufficient_scope", scope="{SCOPES[:254]}", error_description="{"x" * 253}...", '
    assert_http_refusal(reply, 403, f"Bearer {carried}{METADATA}")


@pytest.mark.parametrize(
    ("description", "carried"),
    [
        ("token s3cr3t-expired expired", "token [redacted] expired"),
        ("the token Bearer s3cr3t-expired", "the token [redacted]"),
        ("token%20s3cr3t-expired", "token%20[redacted]"),  # percent-encoded, as the result path knows it
        ("A" * 240 + " s3cr3t-expired and more", "A" * 240 + " [redacted] a..."),  # redacted, then cut
    ],
    ids=["echoed", "with-scheme", "encoded", "cut"],
)
async def test_the_callers_credentials_echoed_in_the_challenge_are_redacted(description: str, carried: str) -> None:
    """As in the call's error text (``results.redacted``): the route's challenge is written into
    the endpoint's own header, which a client or proxy may log."""
    app = challenging_app(f'Bearer error="invalid_token", error_description="{description}"')
    reply = await call(app, *_tool("t"))
    assert_http_refusal(reply, 401, f'Bearer error="invalid_token", error_description="{carried}", {METADATA}')


def mcp_response_app(status: int, challenge: str | None, **options: Any) -> FastAPI:
    """A tool, a resource and a prompt whose routes shape their refusal as an ``MCPResponse``."""
    app = FastAPI()
    headers = {"WWW-Authenticate": challenge} if challenge is not None else None

    def refusal() -> MCPResponse:
        return MCPResponse([text("token expired"), text("sign in again")], status_code=status, headers=headers)

    @app.get("/me", operation_id="me")
    async def me() -> MCPResponse:
        return refusal()

    @app.get("/docs/me", openapi_extra=declare.resource("test://me"))
    async def me_resource() -> MCPResponse:
        return refusal()

    @app.get("/prompts/me", openapi_extra=declare.prompt("me_prompt"))
    async def me_prompt() -> MCPResponse:
        return refusal()

    @app.get("/broken", operation_id="broken")
    async def broken() -> Response:  # the MCP media type, its JSON cut short
        return Response(b'{"content": [', status, headers, media_type=MCP_CONTENT_TYPE)

    app.add_middleware(MCPMiddleware, **options)
    return app


@pytest.mark.parametrize("version", ERAS)
@pytest.mark.parametrize("kind", [*sorted(CALLS), "broken"])
async def test_a_routes_mcp_response_with_status_401_is_the_endpoints_401_as_a_plain_one_is(
    kind: str, version: str
) -> None:
    """An ``MCPResponse`` shapes the call's result; its status still says the route refused the
    token, so it follows a plain 401's rule (it stayed an ``isError`` result under HTTP 200)."""
    method, params = _tool("broken") if kind == "broken" else CALLS[kind]
    reply = await call(mcp_response_app(401, EXPIRED, oauth=OAUTH), method, params, version)
    challenge = f'Bearer error="invalid_token", error_description="token expired", scope="items:read", {METADATA}'
    assert_http_refusal(reply, 401, challenge)


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
async def test_a_routes_mcp_response_401_without_a_challenge_and_403_insufficient_scope_are_lifted(
    version: str,
) -> None:
    reply = await call(mcp_response_app(401, None, oauth=OAUTH), *_tool("me"), version)
    assert_http_refusal(reply, 401, f'Bearer error="invalid_token", {METADATA}')
    reply = await call(mcp_response_app(403, INSUFFICIENT, oauth=OAUTH), *_tool("me"), version)
    scopes = 'scope="items:read items:write"'
    challenge = f'Bearer error="insufficient_scope", {scopes}, error_description="needs write", {METADATA}'
    assert_http_refusal(reply, 403, challenge)


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
async def test_a_routes_mcp_response_401_under_response_mode_sse_is_lifted_too(version: str) -> None:
    reply = await call(mcp_response_app(401, EXPIRED, **SSE), *_tool("me"), version)
    assert reply.status == 401
    assert reply.headers["www-authenticate"].endswith(METADATA)


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
@pytest.mark.parametrize(
    ("status", "challenge"),
    [(401, APIKEY), (401, 'Basic realm="api"'), (403, 'Bearer error="invalid_token"'), (403, None)],
)
async def test_a_routes_mcp_response_refusal_not_of_the_token_keeps_its_blocks(
    status: int, challenge: str | None, version: str
) -> None:
    """Another scheme's 401, any 403 but ``insufficient_scope``: the route's own blocks, as
    without ``oauth``."""
    reply = await call(mcp_response_app(status, challenge, oauth=OAUTH), *_tool("me"), version)
    plain = await call(mcp_response_app(status, challenge), *_tool("me"), version)
    assert (reply.status, reply.body) == (plain.status, plain.body) == (200, plain.body)
    assert "www-authenticate" not in reply.headers
    result = reply.result()
    assert result["isError"] is True
    assert [block["text"] for block in result["content"]] == ["token expired", "sign in again"]


@pytest.mark.parametrize("version", ["2025-11-25", MODERN])
async def test_without_oauth_a_routes_mcp_response_401_stays_its_blocks(version: str) -> None:
    app = mcp_response_app(401, EXPIRED)
    result = (await call(app, *_tool("me"), version)).result()
    assert result["content"] == [text("token expired"), text("sign in again")]
    assert result["isError"] is True
    reply = await call(app, *CALLS["resource"], version)
    assert reply.error()["error"]["code"] == -32602


async def test_an_mcp_response_refusals_challenge_is_redacted() -> None:
    app = mcp_response_app(401, 'Bearer error="invalid_token", error_description="token s3cr3t-expired"', oauth=OAUTH)
    reply = await call(app, *_tool("me"))
    assert_http_refusal(reply, 401, f'Bearer error="invalid_token", error_description="token [redacted]", {METADATA}')
