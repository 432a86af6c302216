"""The routes an OAuth2 scheme names as its token or refresh endpoint are no tools by default
(review s10a): FastAPI's OAuth2 tutorial published ``POST /token`` as a tool asking the model for
the user's password and client secret, whose result put an access token into the model's context.
An include filter naming the operation keeps it."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI, Security
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import ToolFilter, build_catalog
from tests.support import BASE_HEADERS, post, request, result_json

pytestmark = pytest.mark.anyio
LEGACY = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18", "authorization": "Bearer tok-good"}
EVERY = ToolFilter()
OAUTH2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"items:read": "r"}, auto_error=False)


def _tutorial_app(**options: Any) -> FastAPI:
    """FastAPI's "OAuth2 with Password and Bearer" tutorial, in short."""
    app = FastAPI()

    @app.post("/token")
    async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
        return {"access_token": "issued-token-abcdef", "token_type": "bearer"}

    @app.get("/items")
    def items(token: Annotated[str | None, Security(OAUTH2, scopes=["items:read"])]) -> dict[str, Any]:
        return {"token": token}

    app.add_middleware(MCPMiddleware, **options)
    return app


async def _names(app: FastAPI) -> list[str]:
    reply = await post(app, request("tools/list"), LEGACY)
    return [tool["name"] for tool in reply.result()["tools"]]


def _told(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "POST /token" in r.getMessage()]


async def test_the_token_route_of_the_oauth2_tutorial_is_no_tool(caplog: pytest.LogCaptureFixture) -> None:
    app = _tutorial_app()
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert await _names(app) == ["items"]
        assert await _names(_tutorial_app()) == ["items"]  # said once across builds
    told = _told(caplog)
    assert len(told) == 1, told
    record = next(r for r in caplog.records if "POST /token" in r.getMessage())
    assert record.levelno == logging.INFO
    assert "include_operations=['login']" in told[0]
    assert "tokenUrl" in told[0]
    # a call of it is an unknown tool's (-32602), the route never runs
    params = {"name": "login", "arguments": {"username": "bob", "password": "hunter2-secret"}}
    reply = await post(app, request("tools/call", params), LEGACY)
    assert reply.json()["error"] == {"code": -32602, "message": "Unknown tool: login"}
    assert result_json((await post(app, request("tools/call", {"name": "items"}), LEGACY)).result()) == {
        "token": "tok-good"
    }


@pytest.mark.parametrize(
    "options",
    [
        {"include_operations": ["login", "items"]},  # its tool name
        {"include_operations": ["login_token_post", "items"]},  # its operation id
        {"include_paths": ["/token", "/items"]},  # its path, written out
    ],
)
async def test_an_include_filter_naming_the_token_route_keeps_it(
    caplog: pytest.LogCaptureFixture, options: dict[str, Any]
) -> None:
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert sorted(await _names(_tutorial_app(**options))) == ["items", "login"]
    assert not _told(caplog)


@pytest.mark.parametrize(
    "options",
    [
        {"include_paths": ["/*"]},  # a glob that matches it does not name it
        {"include_operations": ["items"]},
        {"include_methods": ["POST", "GET"]},
        {"exclude_operations": ["nothing_such"]},
    ],
)
async def test_other_filters_leave_the_token_route_out(
    caplog: pytest.LogCaptureFixture, options: dict[str, Any]
) -> None:
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert await _names(_tutorial_app(**options)) == ["items"]


# -- which URLs name which routes (the document alone) --------------------------------------------


def _document(flows: dict[str, Any], servers: list[dict[str, str]] | None = None) -> dict[str, Any]:
    paths = {
        path: {method: {"operationId": f"{method}{path.replace('/', '_')}"} for method in ("get", "post")}
        for path in ("/token", "/auth/token", "/auth/refresh", "/api/token", "/items")
    }
    schemes = {"OAuth2": {"type": "oauth2", "flows": flows}, "Key": {"type": "apiKey", "in": "header", "name": "k"}}
    document: dict[str, Any] = {"paths": paths, "components": {"securitySchemes": schemes}}
    if servers is not None:
        document["servers"] = servers
    return document


def _left_out(document: dict[str, Any], tool_filter: ToolFilter = EVERY) -> list[str]:
    """The operation ids that are no tools."""
    kept = {spec.tool["name"] for spec in build_catalog(document, tool_filter=tool_filter).tools}
    every = [f"{m}{p.replace('/', '_')}" for p in document["paths"] for m in ("get", "post")]
    return [name for name in every if name not in kept]


@pytest.mark.parametrize(
    ("flows", "servers", "left_out"),
    [
        ({"password": {"tokenUrl": "token", "scopes": {}}}, None, ["post_token"]),
        ({"password": {"tokenUrl": "/token", "scopes": {}}}, None, ["post_token"]),
        ({"password": {"tokenUrl": "./auth/token", "scopes": {}}}, None, ["post_auth_token"]),
        ({"password": {"tokenUrl": "auth/../token?x=1#f", "scopes": {}}}, None, ["post_token"]),
        # an absolute URL names the route of its path (an app's own base URL in front)
        (
            {"clientCredentials": {"tokenUrl": "https://api.example.com/api/token", "scopes": {}}},
            None,
            ["post_api_token"],
        ),
        # the refresh URL too, of any flow
        (
            {
                "authorizationCode": {
                    "authorizationUrl": "/items",
                    "tokenUrl": "auth/token",
                    "refreshUrl": "auth/refresh",
                    "scopes": {},
                }
            },
            None,
            ["post_auth_token", "post_auth_refresh"],
        ),
        # a root path (servers) in front of an absolute path; a relative URL is under it already
        ({"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}}, [{"url": "/api/v1"}], ["post_auth_token"]),
        ({"password": {"tokenUrl": "token", "scopes": {}}}, [{"url": "https://x.example/api/v1/"}], ["post_token"]),
        # no flows, odd values: nothing left out
        ({"password": {"tokenUrl": 3}, "implicit": {"authorizationUrl": "/token"}, "other": "x"}, None, []),
    ],
)
def test_the_token_and_refresh_urls_of_oauth2_flows_name_post_routes(
    flows: dict[str, Any], servers: list[dict[str, str]] | None, left_out: list[str]
) -> None:
    assert _left_out(_document(flows, servers)) == left_out


def test_odd_security_schemes_leave_nothing_out() -> None:
    document = _document({})
    document["components"]["securitySchemes"] = {
        "A": {"type": "oauth2", "flows": ["token"]},
        "B": {"type": "oauth2"},
        "C": "token",
        "D": {"type": "openIdConnect", "openIdConnectUrl": "/token"},
        "E": {"type": "http", "scheme": "bearer", "tokenUrl": "/token"},
    }
    assert _left_out(document) == []
    document["components"]["securitySchemes"] = ["x"]
    assert _left_out(document) == []


def test_an_include_filter_keeps_the_token_route_of_the_document() -> None:
    document = _document({"password": {"tokenUrl": "token", "refreshUrl": "auth/refresh", "scopes": {}}})
    keep = ToolFilter(include_paths=("/token", "/auth/refresh"))
    assert _left_out(document, keep) == [
        *("get_auth_token", "post_auth_token", "get_api_token", "post_api_token", "get_items", "post_items")
    ]
    assert "post_token" not in _left_out(document, ToolFilter(include_operations=frozenset({"post_token"})))
    assert "post_token" in _left_out(document, ToolFilter(include_paths=("/tok?n",)))
