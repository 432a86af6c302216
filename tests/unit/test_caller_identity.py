"""Who the caller is: what binds a 2026-07-28 requestState (mrtr.mdx: to the principal) and what
tells handshake-era callers apart (answers, notifications/cancelled, log levels). The credentials
the app authenticates with count (Authorization, its API-key headers and cookies, the headers
named by ``forward_headers``); an unrelated cookie (a load balancer's) does not, except as the
fallback identity of an app that declares no cookie scheme, for a request without Authorization
or one of the app's API keys (a forwarded header, which all users may share, does not count). Also
the ``forward_headers`` option."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import anyio
import orjson
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, APIKeyQuery

from mcp_middleware import MCPContext, MCPMiddleware, mcp_context
from mcp_middleware.transport._http import caller_key
from tests.apps import Gates, build_app, mcp_of
from tests.support import BASE_HEADERS, Exchange, cancel_midway, cancelled, meta, modern_headers, post, request

pytestmark = pytest.mark.anyio
GUARD = 10  # seconds: a deadlock guard only

SESSION = APIKeyCookie(name="session", auto_error=False)  # module level: route annotations resolve here
TENANT = APIKeyCookie(name="tenant", scheme_name="Tenant", auto_error=False)  # by default both are "APIKeyCookie"
HEADER_KEY = APIKeyHeader(name="x-api-key", auto_error=False)
QUERY_KEY = APIKeyQuery(name="api_key", auto_error=False)
OK = {"ok": {"action": "accept", "content": {}}}
REFUSED = "Invalid params: requestState does not belong to this request"


def _transfer_app(cookie_scheme: bool = False) -> FastAPI:
    app = FastAPI()

    if cookie_scheme:

        @app.post("/transfer", operation_id="transfer")
        async def transfer(
            amount: int,
            ctx: Annotated[MCPContext, Depends(mcp_context)],
            session: Annotated[str | None, Security(SESSION)],
        ) -> dict[str, Any]:
            if ctx.request_state is None:
                await ctx.elicit("Send?", {"type": "object", "properties": {}}, key="ok", state=f"ok-{session}")
            return {"state": ctx.request_state}

    else:

        @app.post("/transfer", operation_id="transfer")
        async def plain_transfer(amount: int, ctx: Annotated[MCPContext, Depends(mcp_context)]) -> dict[str, Any]:
            if ctx.request_state is None:
                await ctx.elicit("Send?", {"type": "object", "properties": {}}, key="ok", state="ok")
            return {"state": ctx.request_state}

    app.add_middleware(MCPMiddleware)
    return app


async def _round(app: FastAPI, headers: dict[str, str], state: str | None = None) -> Any:
    extra: dict[str, Any] = {} if state is None else {"requestState": state, "inputResponses": OK}
    params = {"name": "transfer", "arguments": {"amount": 5}, "_meta": meta(), **extra}
    return await post(app, request("tools/call", params, 1), {**modern_headers("tools/call", "transfer"), **headers})


async def _retried(app: FastAPI, first: dict[str, str], retry: dict[str, str]) -> Any:
    """The retry (with ``retry``'s headers) of a first round made with ``first``'s."""
    state = (await _round(app, first)).result()["requestState"]
    return await _round(app, retry, state)


def _opened(reply: Any) -> Any:
    return orjson.loads(reply.result()["content"][0]["text"])["state"]


def _refused(reply: Any) -> bool:
    return bool(reply.status == 400 and reply.json()["error"]["message"] == REFUSED)


async def test_a_rotated_load_balancer_cookie_does_not_unbind_a_bearer_callers_state() -> None:
    """Review: the whole Cookie header was part of the principal, so a stickiness cookie
    (AWSALB) that changed between rounds refused the retry."""
    app = _transfer_app()
    bearer = {"authorization": "Bearer alice"}
    assert _opened(await _retried(app, {**bearer, "cookie": "AWSALB=1"}, {**bearer, "cookie": "AWSALB=2"})) == "ok"
    assert _opened(await _retried(app, bearer, {**bearer, "cookie": "__cf_bm=x"})) == "ok"
    assert _refused(await _retried(app, {**bearer, "cookie": "AWSALB=1"}, {"authorization": "Bearer bob"}))


async def test_a_cookie_schemes_cookie_binds_the_state_and_other_cookies_do_not() -> None:
    """An APIKeyCookie names the cookie the app authenticates with: only its value counts,
    wherever it is in the header."""
    app = _transfer_app(cookie_scheme=True)
    first = {"cookie": "AWSALB=1; session=alice"}
    assert _opened(await _retried(app, first, {"cookie": "session=alice; AWSALB=2; x=y"})) == "ok-alice"
    assert _refused(await _retried(app, first, {"cookie": "AWSALB=1; session=mallory"}))
    assert _refused(await _retried(app, first, {"cookie": "AWSALB=1"}))


async def test_without_a_cookie_scheme_the_whole_cookie_is_the_fallback_identity() -> None:
    """An app that reads its session cookie by hand declares nothing: without another credential
    the whole Cookie header stays the identity (the README asks such apps to keep their cookies
    stable between rounds); with one, the cookie is no part of it."""
    app = _transfer_app()
    assert _opened(await _retried(app, {"cookie": "sid=alice"}, {"cookie": "sid=alice"})) == "ok"
    assert _refused(await _retried(app, {"cookie": "sid=alice"}, {"cookie": "sid=mallory"}))
    assert _refused(await _retried(app, {"cookie": "sid=alice"}, {}))
    assert _refused(await _retried(app, {}, {"cookie": "sid=mallory"}))


def _server(app: FastAPI) -> Any:
    app.middleware_stack = app.build_middleware_stack()
    server = mcp_of(app).server
    server.prepare({"app": app})
    return server


def test_the_caller_key_counts_the_credentials_the_app_authenticates_with() -> None:
    plain = _server(_transfer_app())
    bearer = {b"authorization": b"Bearer a"}
    assert caller_key(plain, {**bearer, b"cookie": b"AWSALB=1"}) == caller_key(
        plain, {**bearer, b"cookie": b"AWSALB=2"}
    )
    assert caller_key(plain, bearer) == caller_key(plain, {**bearer, b"cookie": b"x=1"})
    assert caller_key(plain, bearer) != caller_key(plain, {b"authorization": b"Bearer b"})
    # the fallback: no cookie scheme and no other credential
    assert caller_key(plain, {b"cookie": b"sid=1"}) != caller_key(plain, {b"cookie": b"sid=2"})
    assert caller_key(plain, {b"cookie": b"sid=1"}) != caller_key(plain, {})

    schemed = _server(_transfer_app(cookie_scheme=True))
    alice = caller_key(schemed, {b"cookie": b"session=alice; AWSALB=1"})
    assert alice == caller_key(schemed, {b"cookie": b"AWSALB=2; session=alice"})
    assert alice != caller_key(schemed, {b"cookie": b"session=mallory; AWSALB=1"})
    assert caller_key(schemed, {b"cookie": b"AWSALB=1"}) == caller_key(schemed, {})


def test_every_cookie_scheme_of_the_app_names_the_caller() -> None:
    app = FastAPI()

    @app.get("/who", operation_id="who")
    async def who(
        session: Annotated[str | None, Security(SESSION)], tenant: Annotated[str | None, Security(TENANT)]
    ) -> list[str | None]:
        return [session, tenant]

    app.add_middleware(MCPMiddleware)
    server = _server(app)
    acme = caller_key(server, {b"cookie": b"session=s1; tenant=acme"})
    assert acme == caller_key(server, {b"cookie": b"tenant=acme; AWSALB=1; session=s1"})
    assert acme != caller_key(server, {b"cookie": b"session=s1; tenant=evil"})
    assert acme != caller_key(server, {b"cookie": b"session=s2; tenant=acme"})


def _elicit_with(answer_headers: dict[str, str]) -> Any:
    async def run() -> list[dict[str, Any]]:
        app = build_app()
        headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25", "authorization": "Bearer a"}
        ex = Exchange(
            app, request("tools/call", {"name": "ctx_elicit", "arguments": {}}, 5), {**headers, "cookie": "AWSALB=1"}
        )
        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as tg:
                tg.start_soon(ex.run)
                while not ex.reply.chunks:
                    await ex.chunk_seen.wait()
                asked = ex.reply.events()[0]
                answer = {
                    "jsonrpc": "2.0",
                    "id": asked["id"],
                    "result": {"action": "accept", "content": {"name": "Ann"}},
                }
                assert (await post(app, answer, {**headers, **answer_headers})).status == 202
        return ex.reply.events()

    return run()


async def test_a_handshake_answer_with_a_rotated_cookie_resumes_the_route() -> None:
    """Review: the answer POST carried another AWSALB, so its caller key differed and the route
    waited ask_timeout for an answer it had been given."""
    events = await _elicit_with({"cookie": "AWSALB=2"})
    assert orjson.loads(events[-1]["result"]["content"][0]["text"])["greeting"] == "Hello, Ann!"


async def test_a_handshake_cancel_with_a_rotated_cookie_stops_the_call() -> None:
    gates = Gates()
    app = build_app(gates)
    bearer = {**BASE_HEADERS, "authorization": "Bearer a"}
    body = request("tools/call", {"name": "stream_plain", "arguments": {}}, 1)
    ex = Exchange(app, body, {**bearer, "cookie": "AWSALB=1"})

    async def stopped() -> None:
        await gates.cancelled.wait()
        await ex.done.wait()

    await cancel_midway(ex, gates.produced[0], cancelled(1), stopped, {**bearer, "cookie": "AWSALB=2"})
    assert not gates.finished.is_set()


# -- forward_headers ---------------------------------------------------------------------------------


async def verify_token(x_token: Annotated[str, Header()]) -> None:  # FastAPI's "Global Dependencies"
    if x_token != "fake-super-secret-token":
        raise HTTPException(status_code=400, detail=f"X-Token header invalid: {x_token}")


def _global_app(**options: Any) -> FastAPI:
    app = FastAPI(dependencies=[Depends(verify_token)])

    @app.get("/items", operation_id="list_items")
    async def items() -> list[int]:
        return [1, 2]

    @app.get("/users", operation_id="list_users")
    async def users(x_trace: Annotated[str | None, Header()] = None) -> list[str]:
        return ["ann"]

    app.add_middleware(MCPMiddleware, **options)
    return app


async def _tools(app: FastAPI) -> dict[str, Any]:
    reply = await post(app, request("tools/list"), {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"})
    return {tool["name"]: tool for tool in reply.result()["tools"]}


async def test_forward_headers_forwards_the_header_and_takes_it_out_of_the_input_schemas() -> None:
    app = _global_app(forward_headers=["X-Token"])
    tools = await _tools(app)
    assert tools["list_items"]["inputSchema"]["properties"] == {}
    assert set(tools["list_users"]["inputSchema"]["properties"]) == {"x-trace"}
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18", "x-token": "fake-super-secret-token"}
    reply = await post(app, request("tools/call", {"name": "list_items", "arguments": {}}), headers)
    result = reply.result()
    assert not result.get("isError"), result
    assert orjson.loads(result["content"][0]["text"]) == [1, 2]
    failed = await post(
        app, request("tools/call", {"name": "list_items", "arguments": {}}), {**headers, "x-token": "wrong-token-42"}
    )
    assert failed.result()["isError"] is True
    text = failed.result()["content"][0]["text"]  # a credential: redacted where the route echoes it
    assert "wrong-token-42" not in text
    assert "[redacted]" in text


async def test_forward_headers_are_credentials_for_the_caller_key_and_the_cache_scope() -> None:
    app = _global_app(forward_headers=["x-token"])
    server = _server(app)
    assert caller_key(server, {b"x-token": b"a"}) != caller_key(server, {b"x-token": b"b"})
    # a forwarded header does not take the whole Cookie out of the identity (it may be one token
    # that every user sends: FastAPI's global dependency); the cookie still tells users apart
    assert caller_key(server, {b"x-token": b"a", b"cookie": b"sid=1"}) != caller_key(
        server, {b"x-token": b"a", b"cookie": b"sid=2"}
    )
    assert caller_key(server, {b"x-token": b"a", b"cookie": b"sid=1"}) != caller_key(server, {b"x-token": b"a"})
    headers = {**modern_headers("tools/list"), "x-token": "fake-super-secret-token"}
    listed = await post(app, request("tools/list", {"_meta": meta()}), headers)
    assert listed.result()["cacheScope"] == "private"


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("x-token", TypeError, "not a single string"),
        ([b"x-token"], TypeError, "strings only"),
        (["x token"], ValueError, "not a header name"),
        ([""], ValueError, "not a header name"),
        (["x-tökén"], ValueError, "not a header name"),
        (["Connection"], ValueError, "hop-by-hop"),
        (["transfer-encoding"], ValueError, "hop-by-hop"),
        (["Mcp-Session-Id"], ValueError, "MCP's own"),
        (["mcp-param-region"], ValueError, "MCP's own"),
        (["content-type"], ValueError, "MCP's own"),
        (["host"], ValueError, "MCP's own"),
        # Review: traceparent, always forwarded, became a credential, which a traced client changes
        # on every request (a requestState's retry failed -32602, results were private)
        (["traceparent"], ValueError, "'traceparent': it is always forwarded"),
        (["TraceState"], ValueError, "always forwarded"),
        (["Authorization"], ValueError, "always forwarded"),
        (["cookie"], ValueError, "always forwarded"),
    ],
)
def test_forward_headers_is_checked_when_the_middleware_is_built(value: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=f"forward_headers.*{message}"):
        MCPMiddleware(FastAPI(), forward_headers=value)


def test_forward_headers_names_are_case_insensitive() -> None:
    assert MCPMiddleware(FastAPI(), forward_headers={"X-Token", "x-token"}).settings.forward_headers == {b"x-token"}


async def test_a_header_parameter_of_every_tool_that_is_not_forwarded_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """FastAPI's global dependencies put a header parameter into every tool, which the model then
    has to fill in: the build names it and suggests forward_headers, once."""
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        await _tools(_global_app())
    warned = [r.getMessage() for r in caplog.records if "forward_headers" in r.getMessage()]
    assert len(warned) == 1
    assert "'x-token'" in warned[0]
    assert "x-trace" not in warned[0]  # not in every tool

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        await _tools(_global_app(forward_headers=["x-token"]))
        await _tools(_router_app())
        await _tools(_single_tool_app())  # one tool's parameter says nothing about the app
    assert not [r for r in caplog.records if "forward_headers" in r.getMessage()]


def _router_app() -> FastAPI:
    """One tool only with a header parameter: nothing says it is app-wide."""
    app = FastAPI()
    router = APIRouter(dependencies=[Depends(verify_token)])

    @router.get("/items", operation_id="list_items")
    async def items() -> list[int]:
        return [1, 2]

    @app.get("/open", operation_id="open")
    async def open_() -> list[int]:
        return []

    app.include_router(router)
    app.add_middleware(MCPMiddleware)
    return app


def _single_tool_app() -> FastAPI:
    app = FastAPI(dependencies=[Depends(verify_token)])

    @app.get("/items", operation_id="list_items")
    async def items() -> list[int]:
        return [1, 2]

    app.add_middleware(MCPMiddleware)
    return app


# -- a forwarded header shared by every user (review: one caller for all) ---------------------------


def _shared_token_app(gates: Gates | None = None) -> FastAPI:
    """FastAPI's global X-Token (one fixed token, the same for every client), forwarded, and a
    session cookie the app reads by hand: the cookie is what tells its users apart."""
    app = build_app(gates, forward_headers=["X-Token"])

    @app.post("/transfer", operation_id="transfer")
    async def transfer(amount: int, request: Request, ctx: Annotated[MCPContext, Depends(mcp_context)]) -> Any:
        user = request.cookies.get("sid")
        if ctx.request_state is None:
            await ctx.elicit("Send?", {"type": "object", "properties": {}}, key="ok", state=f"ok-for-{user}")
        return {"state": ctx.request_state}

    return app


TOKEN = {"x-token": "fake-super-secret-token"}


async def test_a_shared_forwarded_token_does_not_make_users_with_their_own_session_cookie_one_caller() -> None:
    """Review: any credential (a forward_headers one too) took the whole Cookie out of the
    identity, so with a token every client sends, Mallory's retry of Alice's requestState (with
    his own session cookie) was accepted."""
    app = _shared_token_app()
    alice = {**TOKEN, "cookie": "sid=alice"}
    assert _refused(await _retried(app, alice, {**TOKEN, "cookie": "sid=mallory"}))
    assert _refused(await _retried(app, alice, TOKEN))
    assert _opened(await _retried(app, alice, alice)) == "ok-for-alice"


async def test_a_shared_forwarded_token_does_not_let_one_users_cancel_stop_anothers_call() -> None:
    gates = Gates()
    app = _shared_token_app(gates)
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25", **TOKEN}
    body = request("tools/call", {"name": "stream_plain", "arguments": {}, "_meta": {"progressToken": "t"}}, 1)
    ex = Exchange(app, body, {**headers, "cookie": "sid=alice"})

    async def released() -> None:
        for gate in gates.release:
            gate.set()

    await cancel_midway(ex, gates.produced[0], cancelled(1), released, {**headers, "cookie": "sid=mallory"})
    assert gates.finished.is_set()
    assert ex.reply.events()[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "


def _keyed_app() -> FastAPI:
    app = FastAPI()

    @app.get("/header", operation_id="by_header")
    async def by_header(key: Annotated[str | None, Security(HEADER_KEY)]) -> str | None:
        return key

    @app.get("/query", operation_id="by_query")
    async def by_query(key: Annotated[str | None, Security(QUERY_KEY)]) -> str | None:
        return key

    app.add_middleware(MCPMiddleware, forward_headers=["x-token"])
    return app


def test_an_api_key_of_the_apps_schemes_names_the_caller_without_the_cookie() -> None:
    """Authorization and the app's declared API keys (header, query) identify a user: a rotating
    load-balancer cookie is then no part of the identity; a forwarded header is not enough."""
    server = _server(_keyed_app())
    query = server.query_keys["api_key"]
    for key in ({b"x-api-key": b"k1"}, {query: b"api_key=k1"}, {b"authorization": b"Bearer a"}):
        both = {**key, b"x-token": b"t"}
        assert caller_key(server, {**both, b"cookie": b"AWSALB=1"}) == caller_key(
            server, {**both, b"cookie": b"AWSALB=2"}
        )
        assert caller_key(server, {**key, b"cookie": b"AWSALB=1"}) == caller_key(server, key)
    assert caller_key(server, {b"x-token": b"t", b"cookie": b"AWSALB=1"}) != caller_key(
        server, {b"x-token": b"t", b"cookie": b"AWSALB=2"}
    )
    assert caller_key(server, {b"x-api-key": b"k1"}) != caller_key(server, {b"x-api-key": b"k2"})


async def test_a_header_parameter_of_every_tool_that_an_api_key_scheme_names_is_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """That header is a credential: forwarded from the MCP request already, and no argument."""
    app = FastAPI(dependencies=[Security(HEADER_KEY)])

    @app.get("/a", operation_id="a")
    async def a(x_api_key: Annotated[str | None, Header()] = None) -> None:
        return None

    @app.get("/b", operation_id="b")
    async def b(x_api_key: Annotated[str | None, Header()] = None) -> None:
        return None

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        tools = await _tools(app)
    assert "x-api-key" not in tools["a"]["inputSchema"].get("properties", {})
    assert "forward_headers" not in caplog.text


def test_the_caller_key_and_the_principal_read_the_cookie_by_one_rule() -> None:
    """The handshake era's caller key and a requestState's principal tell callers apart by the same
    rule (``_identity.Identity.cookie``): the app's cookies when it declares a cookie scheme, else the
    whole Cookie header unless Authorization or an API key came (a forwarded header does not count)."""
    cookies = [{}, {b"cookie": b"sid=1"}, {b"cookie": b"sid=2"}, {b"cookie": b"session=alice; sid=1"}]
    cookies += [{b"cookie": b"session=alice; sid=2"}, {b"cookie": b"session=bob"}]
    others: list[dict[bytes, bytes]] = [{}, {b"authorization": b"Bearer a"}, {b"x-token": b"shared"}]
    requests = [{**other, **cookie} for other in others for cookie in cookies]
    apps = (_transfer_app(), _transfer_app(cookie_scheme=True), _shared_token_app())
    for server in map(_server, apps):

        def principal(headers: dict[bytes, bytes], server: Any = server) -> bytes:
            forwarded = tuple(sorted((name, headers[name]) for name in headers.keys() & server.forward_names))
            return bytes(server.identity.principal(forwarded))

        for one in requests:
            for other in requests:
                same_key = caller_key(server, one) == caller_key(server, other)
                assert same_key == (principal(one) == principal(other)), (one, other)
