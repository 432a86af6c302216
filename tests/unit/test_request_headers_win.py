"""A header the MCP request carries wins over a tool's header argument of that name, and the headers
a proxy sets are never a model's (review r_sec D1): over HTTP a proxy overwrites ``X-Forwarded-For``
or an auth proxy's ``X-Forwarded-Email`` whatever the client sent, so through MCP a caller (or a
prompt-injected model) must not get to give a value that HTTP callers cannot. The transport's own
headers (``Accept``, ``User-Agent``, ``Origin``, ...) describe the MCP request, not the route's
input: such an argument stays the model's."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Header, HTTPException, Request

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import build_catalog
from tests.support import (
    BASE_HEADERS,
    Exchange,
    modern_headers,
    modern_request,
    post,
    refusal_text,
    request,
    result_json,
)

pytestmark = pytest.mark.anyio
LEGACY = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}
NOTE = "when the MCP client sends that header itself, its value is used instead"


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/internal-report", operation_id="report")
    def report(
        request: Request,
        x_forwarded_for: Annotated[str | None, Header()] = None,
        x_real_ip: Annotated[str | None, Header()] = None,
        forwarded: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        ip = x_forwarded_for or x_real_ip or (request.client.host if request.client else "")
        if not ip.startswith("10."):
            raise HTTPException(403, f"internal network only, you are {ip}")
        return {"ip": ip, "forwarded": forwarded, "lines": request.headers.getlist("forwarded")}

    @app.get("/my/salary", operation_id="my_salary")
    def my_salary(x_forwarded_email: Annotated[str, Header()]) -> dict[str, Any]:
        return {"user": x_forwarded_email}

    @app.get("/iap/me", operation_id="iap_me")
    def iap_me(x_goog_authenticated_user_email: Annotated[str, Header()]) -> dict[str, Any]:
        return {"user": x_goog_authenticated_user_email}

    @app.get("/versioned", operation_id="versioned")
    def versioned(
        x_api_version: Annotated[str, Header()], x_tags: Annotated[list[str] | None, Header()] = None
    ) -> dict[str, Any]:
        return {"version": x_api_version, "tags": x_tags}

    @app.get("/client", operation_id="client")
    def client(
        accept: Annotated[str | None, Header()] = None,
        user_agent: Annotated[str | None, Header()] = None,
        origin: Annotated[str | None, Header()] = None,
        accept_encoding: Annotated[str | None, Header()] = None,
        sec_fetch_mode: Annotated[str | None, Header()] = None,
        accept_language: Annotated[str | None, Header()] = None,
    ) -> dict[str, Any]:
        return {
            "accept_language": accept_language,
            "accept": accept,
            "user_agent": user_agent,
            "origin": origin,
            "accept_encoding": accept_encoding,
            "sec_fetch_mode": sec_fetch_mode,
        }

    app.add_middleware(MCPMiddleware)
    return app


async def _tools(app: FastAPI) -> dict[str, Any]:
    reply = await post(app, request("tools/list"), LEGACY)
    return {tool["name"]: tool for tool in reply.result()["tools"]}


async def _call(
    app: FastAPI,
    name: str,
    arguments: dict[str, Any],
    extra: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """A tools/call whose MCP request carries ``extra`` headers too (a name may repeat)."""
    exchange = Exchange(app, request("tools/call", {"name": name, "arguments": arguments}), LEGACY)
    exchange.scope["headers"] += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra]
    result: dict[str, Any] = (await exchange.run()).result()
    return result


# -- a header argument the MCP request carries: the request's value wins -------------------------------


async def test_an_auth_proxys_identity_header_in_the_request_wins_over_the_argument() -> None:
    """The review's p19 with IAP's header (no X-Forwarded-*, so still an argument): the request
    carried alice, the argument named the CEO, and the route saw the CEO. The request's value wins."""
    app = _app()
    alice = [("X-Goog-Authenticated-User-Email", "alice@corp.com")]
    forged = {"x-goog-authenticated-user-email": "ceo@corp.com"}
    assert result_json(await _call(app, "iap_me", forged, alice)) == {"user": "alice@corp.com"}
    # the argument left out: no longer refused as missing, the request's header is used
    assert result_json(await _call(app, "iap_me", {}, alice)) == {"user": "alice@corp.com"}
    assert result_json(await _call(app, "iap_me", {"x-goog-authenticated-user-email": None}, alice)) == {
        "user": "alice@corp.com"
    }


async def test_a_header_argument_is_used_when_the_request_lacks_the_header() -> None:
    """X-Api-Version, an ordinary header argument: the model's value when the client sends none;
    its description says which wins; required stays required."""
    app = _app()
    tool = (await _tools(app))["versioned"]
    assert tool["inputSchema"]["required"] == ["x-api-version"]
    assert NOTE in tool["inputSchema"]["properties"]["x-api-version"]["description"]
    assert result_json(await _call(app, "versioned", {"x-api-version": "2"})) == {"version": "2", "tags": None}
    text = refusal_text(await _call(app, "versioned", {}))
    assert text == "Invalid arguments for tool 'versioned': missing required argument 'x-api-version'"
    # the request's wins when it carries one
    got = await _call(app, "versioned", {"x-api-version": "2"}, [("X-Api-Version", "3")])
    assert result_json(got) == {"version": "3", "tags": None}


async def test_every_value_of_an_array_header_the_request_carries_replaces_the_argument() -> None:
    app = _app()
    got = await _call(
        app, "versioned", {"x-api-version": "2", "x-tags": ["forged"]}, [("x-tags", "a"), ("X-Tags", "b")]
    )
    assert result_json(got) == {"version": "2", "tags": ["a", "b"]}


async def test_a_latin1_header_value_the_request_carries_reaches_the_route_unchanged() -> None:
    got = await _call(_app(), "versioned", {}, [("x-api-version", "caf\u00e9")])
    assert result_json(got)["version"] == "caf\u00e9"


async def test_the_requests_header_wins_in_2026_07_28_too() -> None:
    extra = {"x-api-version": "3", "x-forwarded-email": "a@corp.com"}
    for name, arguments, expected in (
        ("versioned", {"x-api-version": "1"}, {"version": "3", "tags": None}),
        ("my_salary", {}, {"user": "a@corp.com"}),
    ):
        body = modern_request("tools/call", {"name": name, "arguments": arguments})
        reply = await post(_app(), body, {**modern_headers("tools/call", name), **extra})
        assert result_json(reply.result()) == expected


# -- headers a proxy sets: never arguments -------------------------------------------------------------


async def test_proxy_set_headers_are_no_arguments_and_warned_about_once_per_tool(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        tools = await _tools(_app())
        await _tools(_app())  # once per tool however often the tools are built
    assert tools["report"]["inputSchema"]["properties"] == {}
    assert tools["my_salary"]["inputSchema"]["properties"] == {}
    assert "required" not in tools["my_salary"]["inputSchema"]
    warned = [r.getMessage() for r in caplog.records if "a proxy sets" in r.getMessage()]
    assert len(warned) == 2, warned
    report = next(text for text in warned if text.startswith("Tool 'report'"))
    assert "'x-forwarded-for', 'x-real-ip', 'forwarded'" in report


async def test_a_forged_x_forwarded_for_cannot_pass_an_ip_allowlist() -> None:
    """The review's p18: the argument x-forwarded-for 10.0.0.5 passed the route's 10.* allowlist,
    whether or not the MCP request carried the proxy's X-Forwarded-For."""
    app = _app()
    proxied = [("X-Forwarded-For", "203.0.113.9")]
    for arguments in ({"x-forwarded-for": "10.0.0.5"}, {"x-real-ip": "10.0.0.5", "x-forwarded-for": "10.1.1.1"}):
        for extra in (proxied, []):
            text = refusal_text(await _call(app, "report", arguments, extra))
            assert "10.0.0.5" not in text, text
            assert "10.1.1.1" not in text, text
            assert "403" in text
    # the proxy's line reached the route (an error text shows it redacted, as the client's value)
    assert "you are [redacted]" in refusal_text(await _call(app, "report", {}, proxied))


async def test_the_proxy_set_headers_the_request_carries_reach_the_route() -> None:
    app = _app()
    extra = [("X-Forwarded-For", "10.0.0.7"), ("Forwarded", "for=10.0.0.7"), ("Forwarded", "for=192.0.2.1")]
    assert result_json(await _call(app, "report", {}, extra)) == {
        "ip": "10.0.0.7",
        "forwarded": "for=10.0.0.7",
        "lines": ["for=10.0.0.7", "for=192.0.2.1"],  # every line, as the proxy sent them
    }


async def test_an_auth_proxys_x_forwarded_email_is_the_requests_or_none() -> None:
    """The review's p19: oauth2-proxy's X-Forwarded-Email, a proxy-set header, no argument."""
    app = _app()
    alice = [("X-Forwarded-Email", "alice@corp.com")]
    for arguments in ({"x-forwarded-email": "ceo@corp.com"}, {}):
        assert result_json(await _call(app, "my_salary", arguments, alice)) == {"user": "alice@corp.com"}
    # no header: the route's own validation answers, the argument is not sent
    text = refusal_text(await _call(app, "my_salary", {"x-forwarded-email": "ceo@corp.com"}))
    assert "ceo@corp.com" not in text
    assert "422" in text


def test_a_proxy_set_header_named_in_forward_headers_is_forwarded_as_such_and_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    params = [{"name": "X-Forwarded-User", "in": "header", "required": True, "schema": {"type": "string"}}]
    document = {"paths": {"/u": {"get": {"operationId": "u", "parameters": params}}}}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        spec = build_catalog(document, forwarded=frozenset({b"x-forwarded-user"})).tools[0]
    assert spec.tool["inputSchema"]["properties"] == {}
    assert not spec.plan.taken  # forwarded to every route already
    assert not [r for r in caplog.records if "a proxy sets" in r.getMessage()]


# -- what a call pays -----------------------------------------------------------------------------


def test_only_tools_with_header_parameters_take_headers_from_the_request() -> None:
    """Decided when the catalog is built: a tool without such parameters has an empty ``taken``
    (one test per call); the transport's headers are no part of it."""
    params = [
        {"name": name, "in": "header", "schema": {"type": "string"}}
        for name in ("X-Api-Version", "User-Agent", "Accept", "Origin", "X-Real-IP", "Sec-Fetch-Mode", "TE")
    ]
    document = {
        "paths": {
            "/plain/{i}": {"get": {"operationId": "plain", "parameters": [{"name": "i", "in": "path"}]}},
            "/h": {"get": {"operationId": "h", "parameters": params}},
        }
    }
    plain, h = build_catalog(document).tools
    assert not plain.plan.taken
    assert set(h.plan.taken) == {b"x-api-version", b"x-real-ip"}
    assert h.plan.taken[b"x-real-ip"] is None


# -- the transport's own headers: the argument stays the model's -------------------------------------


async def test_transport_header_arguments_are_the_models_though_the_request_carries_them() -> None:
    app = _app()
    arguments = {
        "accept": "text/csv",
        "user-agent": "model-agent",
        "origin": "https://app.example",
        "accept-encoding": "identity",
        "sec-fetch-mode": "navigate",
        "accept-language": "de-CH",
    }
    extra = [
        ("User-Agent", "python-httpx/0.28"),
        ("Origin", "http://127.0.0.1:8000"),
        ("Accept-Encoding", "gzip"),
        ("Sec-Fetch-Mode", "cors"),
        ("Accept-Language", "*"),  # Node's fetch (the TS SDK, Claude Code) sends it on every request
    ]
    got = result_json(await _call(app, "client", arguments, extra))
    assert got == {key.replace("-", "_"): value for key, value in arguments.items()}
    tool = (await _tools(app))["client"]
    for name in arguments:
        assert NOTE not in tool["inputSchema"]["properties"][name].get("description", ""), name


async def test_a_proxy_set_header_read_with_underscores_is_no_argument_either() -> None:
    """Re-review rr6 item 2: ``Header(convert_underscores=False)`` reads ``x_forwarded_for`` as
    such; it was still an argument the model set (10.0.0.5 passed the route's allowlist)."""
    app = FastAPI()

    @app.get("/internal", operation_id="internal")
    def internal(
        x_forwarded_for: Annotated[str | None, Header(convert_underscores=False)] = None,
    ) -> dict[str, Any]:
        if not (x_forwarded_for or "").startswith("10."):
            raise HTTPException(403, f"internal network only, you are {x_forwarded_for}")
        return {"ip": x_forwarded_for}

    app.add_middleware(MCPMiddleware)
    assert (await _tools(app))["internal"]["inputSchema"]["properties"] == {}
    text = refusal_text(await _call(app, "internal", {"x_forwarded_for": "10.0.0.5"}))
    assert "403" in text
    assert "10.0.0.5" not in text, text
    # the MCP request's own line of that name reaches the route
    assert result_json(await _call(app, "internal", {}, [("x_forwarded_for", "10.0.0.7")])) == {"ip": "10.0.0.7"}


async def test_the_requests_header_that_wins_is_redacted_where_an_error_echoes_it() -> None:
    """Re-review rr6 item 3: a client's header taken for a request-wins argument reached the route
    but was not redacted, so a 422 echoing it (FastAPI's ``"input"``) showed the secret to the
    model; with ``forward_headers`` naming it, it was ``[redacted]``. A proxy-set line is
    identity (an auth proxy's email): redacted too. Neither is sent twice."""
    app = FastAPI()

    @app.get("/admin/stats", operation_id="stats")
    def stats(x_admin_token: Annotated[str, Header(pattern=r"^adm_[0-9a-f]{32}$")]) -> dict[str, Any]:
        return {"ok": True}

    @app.get("/whoami", operation_id="whoami")
    def whoami(request: Request, x_forwarded_email: Annotated[str, Header()]) -> dict[str, Any]:
        raise HTTPException(403, f"{x_forwarded_email} may not: {request.headers.getlist('x-forwarded-email')}")

    app.add_middleware(MCPMiddleware)
    secret = "s3cr3t-client-token-ABCDEFG"
    for arguments in ({"x-admin-token": "whatever"}, {}):
        text = refusal_text(await _call(app, "stats", arguments, [("X-Admin-Token", secret)]))
        assert "422" in text
        assert secret not in text, text
        assert '"input":"[redacted]"' in text.replace(" ", ""), text
    text = refusal_text(await _call(app, "whoami", {}, [("X-Forwarded-Email", "alice@corp.com")]))
    assert "403" in text
    assert "alice@corp.com" not in text, text
    assert "[redacted] may not: ['[redacted]']" in text  # one line reached the route, not two
    # the model's own value, not the request's, is not redacted
    text = refusal_text(await _call(app, "stats", {"x-admin-token": "model-made-value"}))
    assert "model-made-value" in text
