"""The routes an OAuth2 scheme names as its token or refresh endpoint are no tools by default
(review s10a): FastAPI's OAuth2 tutorial published ``POST /token`` as a tool asking the model for
the user's password and client secret, whose result put an access token into the model's context.
Naming its tool (declare.tool, x-mcp-tool, tool_names) or an include filter naming it keeps it."""

from __future__ import annotations

import logging
import warnings
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Form, Security, UploadFile
from fastapi.security import OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, SecretStr

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware._route_document import app_document
from mcp_middleware._token_routes import token_routes
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


async def _names(app: Any) -> list[str]:
    reply = await post(app, request("tools/list"), LEGACY)
    return [tool["name"] for tool in reply.result()["tools"]]


def _told(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "POST /token" in r.getMessage()]


async def test_the_token_route_of_the_oauth2_tutorial_is_no_tool(caplog: pytest.LogCaptureFixture) -> None:
    app = _tutorial_app()
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert await _names(app) == ["items"]
        assert await _names(_tutorial_app()) == ["items"]  # said once across builds
    told = _told(caplog)
    assert len(told) == 1, told
    record = next(r for r in caplog.records if "POST /token" in r.getMessage())
    assert record.levelno == logging.WARNING  # a route silently gone is no INFO (review s10a2)
    assert "tokenUrl" in told[0]
    # the recipe keeps the route without dropping the other tools (an include filter would)
    assert "declare.tool(" in told[0]
    assert "tool_names={'login': " in told[0]
    assert "include_" not in told[0]
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


FORM = {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}, "required": True}


def _document(
    flows: dict[str, Any], servers: list[dict[str, str]] | None = None, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Each path's GET and POST; each POST takes a form body, as a token endpoint does."""
    paths = {
        path: {
            method: {
                "operationId": f"{method}{path.replace('/', '_')}",
                **({"requestBody": FORM} if method == "post" else {}),
            }
            for method in ("get", "post")
        }
        for path in ("/token", "/auth/token", "/auth/refresh", "/api/token", "/items", *extra)
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
        ({"password": {"tokenUrl": "/token", "scopes": {}}}, None, ["post_token"]),
        ({"password": {"tokenUrl": "./auth/token", "scopes": {}}}, None, ["post_auth_token"]),
        ({"password": {"tokenUrl": "/auth/../token?x=1#f", "scopes": {}}}, None, ["post_token"]),
        # a URL with a host is the app's when its origin is a servers URL's; its path names the route
        # of that path (review s10e: that settles it, "/token" is not named too)
        (
            {"clientCredentials": {"tokenUrl": "https://api.example.com/api/token", "scopes": {}}},
            [{"url": "https://API.example.com:443"}],
            ["post_api_token"],
        ),
        (
            {"clientCredentials": {"tokenUrl": "https://api.example.com/api/token", "scopes": {}}},
            [{"url": "/other"}, {"url": "https://api.example.com/api/"}],
            ["post_api_token"],
        ),
        # a servers URL's {variables} match any value (review s10a4)
        (
            {"clientCredentials": {"tokenUrl": "https://prod.example.com/token", "scopes": {}}},
            [{"url": "https://{env}.example.com"}],
            ["post_token"],
        ),
        (
            {"clientCredentials": {"tokenUrl": "https://prod.example.com:8443/token", "scopes": {}}},
            [{"url": "https://{env}.example.com:{port}/"}],
            ["post_token"],
        ),
        (
            {"clientCredentials": {"tokenUrl": "https://prod.example.org/token", "scopes": {}}},
            [{"url": "https://{env}.example.com"}, {"url": "https://{env"}],
            [],
        ),
        # a loopback host is the app's own, on any port, servers or not (review s10a4)
        ({"password": {"tokenUrl": "http://localhost:8000/token", "scopes": {}}}, None, ["post_token"]),
        ({"password": {"tokenUrl": "http://127.0.0.1:8000/token", "scopes": {}}}, None, ["post_token"]),
        ({"password": {"tokenUrl": "http://[::1]/auth/token", "scopes": {}}}, None, ["post_auth_token"]),
        ({"password": {"tokenUrl": "http://localhost.example.com/token", "scopes": {}}}, None, []),
        # else another service's (review s10a2: Google's token endpoint beside the app's POST /token)
        ({"clientCredentials": {"tokenUrl": "https://oauth2.googleapis.com/token", "scopes": {}}}, None, []),
        (
            {"clientCredentials": {"tokenUrl": "https://oauth2.googleapis.com/token", "scopes": {}}},
            [{"url": "https://api.example.com"}, {"url": "http://oauth2.googleapis.com"}, {"url": "/"}],
            [],
        ),
        ({"clientCredentials": {"tokenUrl": "https://api.example.com/api/token", "scopes": {}}}, None, []),
        (
            {"clientCredentials": {"tokenUrl": "https://api.example.com:8443/token", "scopes": {}}},
            [{"url": "https://api.example.com"}, {"url": "https://api.example.com:bad"}],
            [],
        ),
        # the origin decides, not a servers URL's path
        (
            {"clientCredentials": {"tokenUrl": "https://api.example.com/token", "scopes": {}}},
            [{"url": "https://api.example.com/api"}],
            ["post_token"],
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
        # no route of that path: a root path in front of an absolute path, servers or not, the
        # closest route only (fewest segments in front: /auth/token, not /token; review s10e)
        (
            {"password": {"tokenUrl": "/api/v1/auth/token", "scopes": {}}},
            [{"url": "/api/v1"}],
            ["post_auth_token"],
        ),
        ({"password": {"tokenUrl": "/api/token", "scopes": {}}}, None, ["post_api_token"]),
        ({"password": {"tokenUrl": "/v2/api/token", "scopes": {}}}, None, ["post_api_token"]),
        ({"password": {"tokenUrl": "/v2/token", "scopes": {}}}, None, ["post_token"]),
        ({"password": {"tokenUrl": "/api/xtoken", "scopes": {}}}, None, []),  # a segment, not "/xtoken"
        ({"password": {"tokenUrl": "/api/", "scopes": {}}}, None, []),  # "/" ends no other path
        (
            {"password": {"tokenUrl": "/token", "scopes": {}}},
            [{"url": "https://x.example/api/v1/"}],
            ["post_token"],
        ),
        # a relative URL names the route of its path; only without one, the closest with a mount's
        # prefix in front ("/auth" + "/refresh"); an absolute one does not ("/token" above: the host's root)
        ({"password": {"tokenUrl": "token", "scopes": {}}}, None, ["post_token"]),
        ({"password": {"tokenUrl": "refresh", "scopes": {}}}, None, ["post_auth_refresh"]),
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


@pytest.mark.parametrize(
    ("token_url", "extra", "left_out"),
    [
        # Starlette redirects a path with or without the slash to the route of the other (review s10a2)
        ("/token/", (), ["post_token"]),
        ("token/", (), ["post_token"]),
        ("/items/", (), ["post_items"]),
        ("/slashed", ("/slashed/",), ["post_slashed_"]),
        # both routes there: both (review s10a4: a path matches with or without one trailing slash)
        ("/token/", ("/token/",), ["post_token", "post_token_"]),
        ("/api/token", ("/token/",), ["post_api_token"]),
        ("/v2/token", ("/token/",), ["post_token", "post_token_"]),
        ("/", ("/",), ["post_"]),  # the root: "/" has no slash to take off
    ],
)
def test_a_token_url_names_its_route_with_or_without_one_trailing_slash(
    token_url: str, extra: tuple[str, ...], left_out: list[str]
) -> None:
    document = _document({"password": {"tokenUrl": token_url, "scopes": {}}}, extra=extra)
    assert _left_out(document) == left_out


def test_only_a_route_that_takes_a_form_body_is_a_token_endpoint_left_out() -> None:
    """RFC 6749 §3.2: a token endpoint takes application/x-www-form-urlencoded (FastAPI's
    OAuth2PasswordRequestForm declares it). Review s10a2: any POST of the path was left out."""
    document = _document({"password": {"tokenUrl": "/token", "refreshUrl": "auth/refresh", "scopes": {}}})
    document["paths"]["/token"]["post"]["requestBody"] = {"content": {"application/json": {"schema": {}}}}
    del document["paths"]["/auth/refresh"]["post"]["requestBody"]
    assert _left_out(document) == []
    # a form body by $ref, or beside another media type, is one
    document["components"]["requestBodies"] = {"Form": FORM}
    document["paths"]["/token"]["post"]["requestBody"] = {"$ref": "#/components/requestBodies/Form"}
    media: dict[str, Any] = {"application/json": {}, "application/x-www-form-urlencoded": {}}
    document["paths"]["/auth/refresh"]["post"]["requestBody"] = {"content": media}
    assert _left_out(document) == ["post_token", "post_auth_refresh"]
    for odd in ({"$ref": "#/components/requestBodies/None"}, {"content": ["x"]}, "form"):
        document["paths"]["/token"]["post"]["requestBody"] = odd
        assert "post_token" not in _left_out(document)


def test_a_form_body_is_known_by_its_media_type_whatever_its_case_and_parameters() -> None:
    """A form body's media type is read as a request body's is (``_request_media._media_type``):
    its parameters and its case do not matter, for the token endpoint's form and for the grant's
    form that breaks a tie of the suffix match alike; another type is no form."""
    form = "Application/X-WWW-Form-Urlencoded ; charset=UTF-8"
    document = _document({"password": {"tokenUrl": "/token", "scopes": {}}})
    document["paths"]["/token"]["post"]["requestBody"] = {"content": {form: {"schema": {}}}}
    assert _left_out(document) == ["post_token"]
    document["paths"]["/token"]["post"]["requestBody"] = {"content": {"application/x-www-form": {"schema": {}}}}
    assert _left_out(document) == []
    document = _document({"password": {"tokenUrl": "signin", "scopes": {}}}, extra=("/a/signin", "/b/signin"))
    document["paths"]["/a/signin"]["post"]["requestBody"] = _form("note")
    body = _form("username", "password")["content"]["application/x-www-form-urlencoded"]
    document["paths"]["/b/signin"]["post"]["requestBody"] = {"content": {form: body}}
    assert sorted(token_routes(document)) == ["/b/signin"]


def test_an_include_filter_keeps_the_token_route_of_the_document() -> None:
    document = _document({"password": {"tokenUrl": "token", "refreshUrl": "auth/refresh", "scopes": {}}})
    keep = ToolFilter(include_paths=("/token", "/auth/refresh"))
    assert _left_out(document, keep) == [
        *("get_auth_token", "post_auth_token", "get_api_token", "post_api_token", "get_items", "post_items")
    ]
    assert "post_token" not in _left_out(document, ToolFilter(include_operations=frozenset({"post_token"})))
    assert "post_token" in _left_out(document, ToolFilter(include_paths=("/tok?n",)))


# -- review s10a2: apps ---------------------------------------------------------------------------

GOOGLE = OAuth2AuthorizationCodeBearer(
    authorizationUrl="https://accounts.google.com/o/oauth2/auth", tokenUrl="https://oauth2.googleapis.com/token"
)


async def test_a_post_route_of_another_services_token_url_stays_a_tool(caplog: pytest.LogCaptureFixture) -> None:
    """Review s10a2: the app signs in with Google; its own POST /token (minting a crypto token, no
    form body) was silently dropped, as was a POST / beside a tokenUrl at another host's root."""
    app = FastAPI()

    @app.post("/token")
    def mint_token(symbol: str, supply: int, user: Annotated[str, Security(GOOGLE)]) -> dict[str, Any]:
        return {"minted": symbol, "supply": supply}

    @app.post("/")
    def create_order(
        item: str, user: Annotated[str, Security(OAuth2PasswordBearer("https://auth.example.com/"))]
    ) -> str:
        return item

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert sorted(await _names(app)) == ["create_order", "mint_token"]
    assert not [r for r in caplog.records if "is no tool" in r.getMessage()]
    reply = await post(
        app, request("tools/call", {"name": "mint_token", "arguments": {"symbol": "A", "supply": 2}}), LEGACY
    )
    assert result_json(reply.result()) == {"minted": "A", "supply": 2}


def _tutorial_routes(app: FastAPI, token_url: str = "token", **extra: Any) -> FastAPI:
    scheme = OAuth2PasswordBearer(tokenUrl=token_url, auto_error=False)

    @app.post("/token", **extra)
    async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
        return {"access_token": "issued-token-abcdef", "token_type": "bearer"}

    @app.get("/items")
    def items(token: str | None = Depends(scheme)) -> dict[str, Any]:  # (a local: no Annotated under __future__)
        return {"token": token}

    @app.post("/orders")
    def create_order(item: str, token: str | None = Depends(scheme)) -> dict[str, Any]:
        return {"item": item}

    return app


@pytest.mark.parametrize(
    ("extra", "options", "name"),
    [
        ({"openapi_extra": declare.tool(name="sign_in")}, {}, "sign_in"),
        ({"openapi_extra": declare.tool(description="Sign in.")}, {}, "login"),
        ({"openapi_extra": {"x-mcp-tool": True}}, {}, "login"),
        ({}, {"tool_names": {"login": "sign_in"}}, "sign_in"),
        ({}, {"tool_names": {"login_token_post": "sign_in"}}, "sign_in"),  # by operation id
    ],
)
async def test_a_token_route_named_explicitly_is_a_tool_beside_the_others(
    caplog: pytest.LogCaptureFixture, extra: dict[str, Any], options: dict[str, Any], name: str
) -> None:
    """Review s10a2: the advice include_operations=['login'] kept that route and dropped every other
    tool; naming the route itself (declare.tool, x-mcp-tool, tool_names) keeps it and the rest."""
    app = _tutorial_routes(FastAPI(), **extra)
    app.add_middleware(MCPMiddleware, **options)
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert sorted(await _names(app)) == sorted([name, "items", "create_order"])
    assert not _told(caplog)


async def test_a_token_url_with_a_trailing_slash_names_the_route_without_one() -> None:
    app = _tutorial_routes(FastAPI(), "/token/")
    app.add_middleware(MCPMiddleware)
    assert sorted(await _names(app)) == ["create_order", "items"]


def _under_root(app: Any, root: str) -> Any:
    """``app`` behind a proxy that serves it under ``root`` (uvicorn's --root-path)."""

    async def proxied(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {
                **scope,
                "root_path": root,
                "path": root + scope["path"],
                "raw_path": root.encode() + scope["raw_path"],
            }
        await app(scope, receive, send)

    return proxied


async def test_a_root_path_in_front_of_an_absolute_token_url_is_allowed() -> None:
    """Review s10a2: FastAPI(root_path="/api") or uvicorn --root-path /api with tokenUrl="/api/token"
    (the path a browser posts to behind the proxy) kept login a tool: the document has no servers
    then, FastAPI puts the root path there only when it serves /openapi.json."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastAPI 0.12x deprecates root_path=; the app still sets it
        rooted = FastAPI(root_path="/api")
    app = _tutorial_routes(rooted, "/api/token")
    app.add_middleware(MCPMiddleware)
    assert sorted(await _names(app)) == ["create_order", "items"]
    proxied = _tutorial_routes(FastAPI(), "/api/token")
    proxied.add_middleware(MCPMiddleware)
    assert sorted(await _names(_under_root(proxied, "/api"))) == ["create_order", "items"]
    # without that root path too: "/api" in front of the route's path may be a root path (review
    # s10a4: the list no longer depends on the root path a request has)
    plain = _tutorial_routes(FastAPI(), "/api/token")
    plain.add_middleware(MCPMiddleware)
    assert sorted(await _names(plain)) == ["create_order", "items"]


# -- review s10a4: no order, root path, wrapping, mounts, login routes without a form -------------


async def test_the_tools_are_the_same_whatever_root_path_the_first_request_had() -> None:
    """Review s10a4: the catalog took the first MCP request's root_path: a first request without
    one published login for every later request under /api, and the other order did not."""
    for roots in (("", "/api"), ("/api", "")):
        app = _tutorial_routes(FastAPI(), "/api/token")
        app.add_middleware(MCPMiddleware)
        for root in roots:
            served = _under_root(app, root) if root else app
            assert sorted(await _names(served)) == ["create_order", "items"], roots


async def test_a_wrapped_app_with_its_own_root_path_leaves_its_token_route_out() -> None:
    """Review s10a4: MCPMiddleware(FastAPI(root_path="/api")) sees no root_path in the scope
    (FastAPI sets it inside its own __call__), so login stayed a tool."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FastAPI 0.12x deprecates root_path=; the app still sets it
        rooted = FastAPI(root_path="/api")
    wrapped = MCPMiddleware(_tutorial_routes(rooted, "/api/token"))
    assert sorted(await _names(wrapped)) == ["create_order", "items"]


async def test_a_mounted_apps_relative_token_url_names_its_route_under_the_mount() -> None:
    """tokenUrl="token" in an app mounted at /v1 means /v1/token (Swagger UI resolves it against
    /v1/docs); the merged document's route is /v1/token."""
    app = FastAPI()
    app.mount("/v1", _tutorial_routes(FastAPI()))
    app.add_middleware(MCPMiddleware)
    assert sorted(await _names(app)) == ["create_order", "items"]


async def test_a_mounted_tutorial_beside_the_apps_own_leaves_both_logins_out(caplog: pytest.LogCaptureFixture) -> None:
    """Review s10f: the parent's tutorial login at /token and a sub-app's at /v1: the two schemes
    (both tokenUrl="token") were merged into one, whose "token" named the exact /token only, so
    the sub-app's login stayed a tool asking for a password. The mounted scheme's relative URLs
    are resolved against the mount: it differs, keeps its own name (``_2``) and its route."""
    app = _tutorial_routes(FastAPI())
    app.mount("/v1", _tutorial_routes(FastAPI()))
    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        names = await _names(app)
    assert not [name for name in names if name.startswith("login")], names
    told = [r.getMessage() for r in caplog.records if "is no tool" in r.getMessage()]
    assert [m.split(" is no tool")[0] for m in told] == ["Route POST /token", "Route POST /v1/token"]
    document = app_document(app, app.openapi()).document
    schemes = document["components"]["securitySchemes"]
    assert {name: scheme["flows"]["password"]["tokenUrl"] for name, scheme in schemes.items()} == {
        "OAuth2PasswordBearer": "token",
        "OAuth2PasswordBearer_2": "token",
    }
    assert schemes["OAuth2PasswordBearer_2"]["x-mcp-middleware-mount"] == "/v1"
    assert "x-mcp-middleware-mount" not in schemes["OAuth2PasswordBearer"]
    assert document["paths"]["/v1/items"]["get"]["security"] == [{"OAuth2PasswordBearer_2": []}]


async def test_only_a_mounted_flows_relative_urls_are_put_under_the_mount() -> None:
    """An absolute path or a URL with a host stays as the mounted app wrote it."""
    inner = FastAPI()
    code = OAuth2AuthorizationCodeBearer(
        authorizationUrl="authorize", tokenUrl="https://auth.example.com/token", refreshUrl="/refresh"
    )

    @inner.get("/items")
    def items(token: str = Depends(code)) -> list[str]:  # (a local: no Annotated under __future__)
        return []

    app = FastAPI()
    app.mount("/t/{tenant}", inner)
    schemes = app_document(app, app.openapi()).document["components"]["securitySchemes"]
    scheme = schemes["OAuth2AuthorizationCodeBearer"]
    assert scheme["flows"]["authorizationCode"] == {
        "authorizationUrl": "authorize",
        "tokenUrl": "https://auth.example.com/token",
        "refreshUrl": "/refresh",
        "scopes": {},
    }
    assert scheme["x-mcp-middleware-mount"] == "/t/{tenant}"


def test_a_mounted_scheme_with_only_another_hosts_urls_has_no_mount_marker() -> None:
    """A URL of another host is read nowhere in the app: a scheme with only such URLs has no
    marker (a relative, an absolute path or a loopback URL has one: review s11 item 2)."""
    inner = FastAPI()
    absolute = OAuth2PasswordBearer(tokenUrl="https://auth.example.com/token")

    @inner.get("/items")
    def items(token: str = Depends(absolute)) -> list[str]:
        return []

    app = FastAPI()
    app.mount("/v1", inner)
    schemes = app_document(app, app.openapi()).document["components"]["securitySchemes"]
    assert schemes["OAuth2PasswordBearer"] == {
        "type": "oauth2",
        "flows": {"password": {"scopes": {}, "tokenUrl": "https://auth.example.com/token"}},
    }


def _login_under_auth(tag: str) -> FastAPI:
    """The tutorial with its login in ``APIRouter(prefix="/auth")`` (so at ``/auth/token``),
    ``tokenUrl="token"``: unmounted, the closest route ending with ``/token``."""
    app = FastAPI()
    router = APIRouter(prefix="/auth")
    scheme = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)

    @router.post("/token", operation_id=f"login_{tag}")
    async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
        return {"access_token": "issued-token-abcdef", "token_type": "bearer"}

    app.include_router(router)

    @app.get("/items", operation_id=f"items_{tag}")
    def items(token: str | None = Depends(scheme)) -> dict[str, Any]:  # (a local: no Annotated under __future__)
        return {"token": token}

    return app


@pytest.mark.parametrize(
    ("mounted", "route"),
    [
        pytest.param(lambda inner: inner, "/auth/token", id="unmounted"),
        pytest.param(lambda inner: _mounted("/v1", inner), "/v1/auth/token", id="mounted"),
        pytest.param(lambda inner: _mounted("/v1", _mounted("/admin", inner)), "/v1/admin/auth/token", id="nested"),
        pytest.param(lambda inner: _mounted("/t/{tenant}", inner), "/t/{tenant}/auth/token", id="parameter"),
    ],
)
async def test_a_mounted_relative_token_url_keeps_its_closest_route_rule_within_the_mount(
    mounted: Any, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Review s10g: a mounted ``tokenUrl="token"`` was made ``/v1/token``, an absolute URL, so the
    relative rule (the closest route ending with it) no longer applied and the sub-app's login at
    ``/auth/token`` was published asking for a password. Within its mount it names what the app
    alone would name."""
    app = mounted(_login_under_auth("sub"))
    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        names = await _names(app)
    assert names == ["items_sub"]
    told = [r.getMessage() for r in caplog.records if "is no tool" in r.getMessage()]
    assert [m.split(" is no tool")[0] for m in told] == [f"Route POST {route}"]


async def test_a_mounted_relative_token_url_names_no_route_outside_its_mount() -> None:
    """The parent's own ``/auth/token`` ends with ``/token`` too, but a mounted ``"token"`` is read
    within its mount only: the parent's route (no scheme of its own names it) stays a tool."""
    inner = FastAPI()
    scheme = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)

    @inner.get("/items")
    def items(token: str | None = Depends(scheme)) -> dict[str, Any]:
        return {"token": token}

    parent = FastAPI()

    @parent.post("/auth/token")
    async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
        return {"access_token": "issued-token-abcdef", "token_type": "bearer"}

    parent.mount("/v1", inner)
    document = app_document(parent, parent.openapi()).document
    assert token_routes(document) == {}


def _mounted(path: str, inner: FastAPI) -> FastAPI:
    app = FastAPI()
    app.mount(path, inner)
    return app


def _form_routes_ending_in_token(app: FastAPI) -> FastAPI:
    """Form-taking POST routes whose paths merely end in /token (review s10e)."""

    @app.post("/api/v1/users/{user_id}/token")
    def set_push_token(user_id: int, token: Annotated[str, Form()]) -> dict[str, bool]:
        return {"ok": True}

    @app.post("/webhooks/token")
    def twilio_webhook(Body: Annotated[str, Form()]) -> dict[str, bool]:
        return {"ok": True}

    @app.post("/auth/token")
    def other_form(x: Annotated[str, Form()]) -> dict[str, bool]:
        return {"ok": True}

    return app


async def test_a_route_of_the_token_urls_own_path_settles_it(caplog: pytest.LogCaptureFixture) -> None:
    """Review s10e: tokenUrl="token" (FastAPI's tutorial) left out every form-taking POST whose path
    ends in /token, each with a false warning. The route of the URL's own path is the one named."""
    app = _form_routes_ending_in_token(_tutorial_routes(FastAPI()))
    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        names = sorted(await _names(app))
    assert names == ["create_order", "items", "other_form", "set_push_token", "twilio_webhook"]
    told = [r.getMessage() for r in caplog.records if "credentials" in r.getMessage() or "tokenUrl" in r.getMessage()]
    assert len(told) == 1, told
    assert "POST /token" in told[0]
    # tokenUrl="/auth/token" names that route, not POST /token
    app = _form_routes_ending_in_token(_tutorial_routes(FastAPI(), "/auth/token"))
    app.add_middleware(MCPMiddleware)
    assert sorted(await _names(app)) == ["create_order", "items", "login", "set_push_token", "twilio_webhook"]


def test_without_a_route_of_its_path_a_token_url_names_the_closest_never_across_a_parameter() -> None:
    """Review s10e: the suffix match is a fallback, for the routes with the fewest segments in
    front (a mount's prefix, a root path); a ``{parameter}`` in front is no prefix."""
    flows = {"password": {"tokenUrl": "signin", "scopes": {}}}
    document = _document(flows, extra=("/v1/signin", "/v2/signin", "/a/b/signin", "/users/{id}/signin"))
    assert sorted(token_routes(document)) == ["/v1/signin", "/v2/signin"]
    document = _document(flows, extra=("/users/{id}/signin", "/a/{b}/c/signin", "/{tenant}/signin"))
    assert token_routes(document) == {}
    document = _document({"password": {"tokenUrl": "/{x}/signin", "scopes": {}}}, extra=("/signin",))
    assert token_routes(document) == {}


async def test_the_full_stack_templates_login_route_is_no_tool() -> None:
    """FastAPI's full-stack template: tokenUrl=f"{API_V1_STR}/login/access-token", routers under
    that prefix; included, or in an app mounted there."""
    scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/login/access-token", auto_error=False)

    def router_app(prefix: str) -> FastAPI:
        app = FastAPI()

        @app.post(f"{prefix}/login/access-token")
        def login_access_token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
            return {"access_token": "x"}

        @app.get(f"{prefix}/items/")
        def read_items(token: str | None = Depends(scheme)) -> list[str]:
            return []

        return app

    included = router_app("/api/v1")
    included.add_middleware(MCPMiddleware)
    assert await _names(included) == ["read_items"]
    mounted = FastAPI()
    mounted.mount("/api/v1", router_app(""))
    mounted.add_middleware(MCPMiddleware)
    assert await _names(mounted) == ["read_items"]


async def test_a_loopback_token_url_names_the_apps_route() -> None:
    """Review s10a4: tokenUrl="http://localhost:8000/token" (no servers) kept login a tool."""
    app = _tutorial_routes(FastAPI(), "http://localhost:8000/token")
    app.add_middleware(MCPMiddleware)
    assert sorted(await _names(app)) == ["create_order", "items"]


class _Login(BaseModel):
    username: str
    password: str


class _Secret(BaseModel):
    username: str
    key: SecretStr  # format: password


async def _login_json(body: _Login) -> dict[str, str]:
    return {"access_token": "x"}


async def _login_secret(body: _Secret) -> dict[str, str]:
    return {"access_token": "x"}


async def _login_multipart(
    username: Annotated[str, Form()], password: Annotated[str, Form()], f: UploadFile | None = None
) -> dict[str, str]:
    return {"access_token": "x"}


async def _login_query(username: str, password: str) -> dict[str, str]:
    return {"access_token": "x"}


class _Device(BaseModel):
    name: str


async def _login_two_bodies(creds: _Login, device: _Device) -> dict[str, str]:
    return {"access_token": "x"}


LOGINS: dict[str, Any] = {
    "json": _login_json,
    "secret": _login_secret,
    "multipart": _login_multipart,
    "query": _login_query,
    "two_bodies": _login_two_bodies,  # Body_login {creds: $ref _Login, device: $ref _Device} (review s10e)
}


def _login_app(kind: str, **options: Any) -> FastAPI:
    """A login route named by tokenUrl="token" that takes no form body."""
    scheme = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)
    app = FastAPI()
    app.add_api_route("/token", LOGINS[kind], methods=["POST"], name="login")

    @app.get("/items")
    def items(token: str | None = Depends(scheme)) -> dict[str, Any]:
        return {"token": token}

    app.add_middleware(MCPMiddleware, **options)
    return app


@pytest.mark.parametrize("kind", sorted(LOGINS))
async def test_a_token_route_without_a_form_body_that_asks_a_password_is_kept_with_a_warning(
    caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    """Review s10a4: a JSON or multipart login route named by tokenUrl was published with a
    password argument and nothing said: it stays a tool (no form body: perhaps no token
    endpoint), with one WARNING saying it looks like a login route and how to leave it out."""
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert sorted(await _names(_login_app(kind))) == ["items", "login"]
        assert sorted(await _names(_login_app(kind))) == ["items", "login"]
    told = [r for r in caplog.records if "POST /token" in r.getMessage()]
    assert len(told) == 1, [r.getMessage() for r in told]
    assert told[0].levelno == logging.WARNING
    message = told[0].getMessage()
    assert "looks like a login route" in message
    assert "exclude_operations=['login']" in message
    assert "tokenUrl" in message


@pytest.mark.parametrize("options", [{"tool_names": {"login": "sign_in"}}, {"exclude_operations": ["login"]}])
async def test_a_login_route_named_or_excluded_gets_no_warning(
    caplog: pytest.LogCaptureFixture, options: dict[str, Any]
) -> None:
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        await _names(_login_app("json", **options))
    assert not [r for r in caplog.records if "POST /token" in r.getMessage()]


def test_a_token_route_without_a_form_or_password_is_kept_silently(caplog: pytest.LogCaptureFixture) -> None:
    document = _document({"password": {"tokenUrl": "/token", "scopes": {}}})
    post_token = document["paths"]["/token"]["post"]
    post_token["requestBody"] = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}}
    document["components"]["schemas"] = {"X": {"type": "object", "properties": {"passwords": {"type": "string"}}}}
    post_token["parameters"] = [{"name": "pass", "in": "query", "schema": {"type": "string"}}, "odd"]
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert _left_out(document) == []
    assert not [r for r in caplog.records if "/token" in r.getMessage()]
    # a property of format password, by $ref, is a password
    document["components"]["schemas"]["X"]["properties"]["passwords"]["format"] = "password"
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert _left_out(document) == []
    assert [r for r in caplog.records if "looks like a login route" in r.getMessage()]


async def test_a_password_one_level_down_the_body_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Review s10e: FastAPI with two body parameters builds Body_login {creds: $ref, device: $ref}:
    the password of creds went unnoticed, the route kept without a warning."""
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert sorted(await _names(_login_app("two_bodies"))) == ["items", "login"]
    (told,) = [r.getMessage() for r in caplog.records if "looks like a login route" in r.getMessage()]
    assert "(argument 'creds.password')" in told


def test_a_password_property_by_ref_or_all_of_one_ref_is_found_one_level_down() -> None:
    document = _document({"password": {"tokenUrl": "/token", "scopes": {}}})
    post_token = document["paths"]["/token"]["post"]
    secret = {"type": "object", "properties": {"user": {"type": "string"}, "key": {"format": "password"}}}
    deeper = {"type": "object", "properties": {"inner": {"$ref": "#/components/schemas/Secret"}}}
    document["components"]["schemas"] = {"Secret": secret, "Deeper": deeper}
    for wrapped, password in (
        ({"$ref": "#/components/schemas/Secret"}, "outer.key"),
        ({"allOf": [{"$ref": "#/components/schemas/Secret"}], "description": "d"}, "outer.key"),
        ({"allOf": [{"$ref": "#/components/schemas/Secret"}, {"type": "object"}]}, ""),  # not one ref
        ({"$ref": "#/components/schemas/Deeper"}, ""),  # one level only
        ({"$ref": "#/components/schemas/Missing"}, ""),
        ({"$ref": "https://example.com/secret.json"}, ""),
        ({"allOf": "odd"}, ""),
    ):
        body = {"type": "object", "properties": {"outer": wrapped}}
        post_token["requestBody"] = {"content": {"application/json": {"schema": body}}}
        found = token_routes(document).get("/token")
        assert (found.password if found else "") == password, wrapped


# -- review s10i: a relative URL leaving its mount; a scheme's suffix search stays out of deeper mounts --


def _login(app: FastAPI, path: str, tag: str) -> FastAPI:
    """A form-taking login route at ``path``."""

    @app.post(path, operation_id=f"login_{tag}")
    async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
        return {"access_token": "issued-token-abcdef", "token_type": "bearer"}

    return app


def _guarded(token_url: str, tag: str) -> FastAPI:
    """An app whose one route takes an OAuth2 bearer token of ``tokenUrl=token_url``."""
    app = FastAPI()
    scheme = OAuth2PasswordBearer(tokenUrl=token_url, auto_error=False)

    @app.get("/items", operation_id=f"items_{tag}")
    def items(token: str | None = Depends(scheme)) -> dict[str, Any]:  # (a local: no Annotated under __future__)
        return {"token": token}

    return app


def _named(app: FastAPI) -> list[str]:
    made = app_document(app, app.openapi())
    apps = {path: prefix for (path, _), prefix in made.apps.items()}
    return sorted(token_routes(made.document, apps))


def test_a_mounted_relative_token_url_leaving_its_mount_names_the_parents_route() -> None:
    """Review s10i item 1: ``tokenUrl="../token"`` in an app mounted at ``/v1`` names the parent's
    ``/token`` (Swagger UI resolves it from ``/v1/docs``); it was normalised to ``/token`` before
    the mount was considered, then looked for under ``/v1`` only, so the login was published."""
    parent = _login(FastAPI(), "/token", "parent")
    parent.mount("/v1", _guarded("../token", "sub"))
    assert _named(parent) == ["/token"]


def test_a_nested_mounted_relative_token_url_leaving_its_mount_names_the_middle_apps_route() -> None:
    """Review s10i item 1, nested: ``"../token"`` at ``/v1/admin`` names ``/v1/token``."""
    middle = _login(FastAPI(), "/token", "middle")
    middle.mount("/admin", _guarded("../token", "sub"))
    parent = FastAPI()
    parent.mount("/v1", middle)
    assert _named(parent) == ["/v1/token"]


def test_a_relative_token_url_within_its_mount_still_names_the_mounts_route() -> None:
    """``"./auth/../token"`` stays within ``/v1``: the mount's ``/v1/token``, not the parent's."""
    parent = _login(FastAPI(), "/token", "parent")
    parent.mount("/v1", _login(_guarded("./auth/../token", "sub"), "/token", "sub"))
    assert _named(parent) == ["/v1/token"]


def test_a_parents_relative_token_url_is_not_matched_inside_a_mounted_app() -> None:
    """Review s10i item 2: the parent's ``tokenUrl="token"`` with its login at ``/api/auth/token``
    was suffix-matched against the mounted app's ``/v1/token`` (one segment closer), so the
    parent's own login was published. Each scheme resolves among its own app's routes."""
    parent = _login(_guarded("token", "parent"), "/api/auth/token", "parent")
    assert _named(parent) == ["/api/auth/token"]
    parent.mount("/v1", _login(_guarded("token", "sub"), "/token", "sub"))
    assert _named(parent) == ["/api/auth/token", "/v1/token"]


def test_a_mounted_apps_relative_token_url_is_not_matched_inside_its_own_mount() -> None:
    """Review s10i item 2, one level down: an app at ``/v1`` (login ``/api/auth/token``) with its
    own app mounted at ``/x`` (login ``/token``)."""
    middle = _login(_guarded("token", "middle"), "/api/auth/token", "middle")
    middle.mount("/x", _login(_guarded("token", "inner"), "/token", "inner"))
    parent = FastAPI()
    parent.mount("/v1", middle)
    assert _named(parent) == ["/v1/api/auth/token", "/v1/x/token"]


async def test_a_parents_login_stays_out_of_the_tools_beside_a_mounted_tutorial() -> None:
    """Review s10i item 2, through tools/list (p1.py)."""
    parent = _login(_guarded("token", "parent"), "/api/auth/token", "parent")
    parent.mount("/v1", _login(_guarded("token", "sub"), "/token", "sub"))
    parent.add_middleware(MCPMiddleware)
    assert sorted(await _names(parent)) == ["items_parent", "items_sub"]


@pytest.mark.parametrize("token_url", [None, "/v1/token"], ids=["no-scheme", "absolute-scheme"])
async def test_a_parents_relative_token_url_is_not_matched_in_a_mount_without_a_relative_scheme(
    token_url: str | None,
) -> None:
    """Review s10i item 2, where the mounted app has no relative OAuth2 URL (so no ``MOUNT_KEY``
    marks its mount): its routes are still another app's, known from the merged mounts."""
    parent = _login(_guarded("token", "parent"), "/api/auth/token", "parent")
    parent.mount("/v1", _login(_guarded(token_url, "sub") if token_url else FastAPI(), "/token", "sub"))
    parent.add_middleware(MCPMiddleware)
    names = sorted(await _names(parent))
    assert "login_parent" not in names, names
    assert ("login_sub" in names) is (token_url is None)  # an absolute URL names its own route


# -- review s11: a deeper mount is another app's routes, not a path prefix; an absolute URL within its mount --


def _api_app(token_url: str, *, legacy: bool) -> FastAPI:
    """Review s11 item 1 (d1_e2e.py): the login in a router included at ``/api/auth``, then a
    legacy app mounted at ``/api``; the app's own routes are tried first, so ``/api/auth/token``
    is the app's own login."""
    app = FastAPI()
    auth = APIRouter()

    @auth.post("/token")
    def login(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
        return {"access_token": "issued-token-abcdef", "token_type": "bearer"}

    app.include_router(auth, prefix="/api/auth")
    scheme = OAuth2PasswordBearer(tokenUrl=token_url, auto_error=False)

    @app.get("/api/me")
    def me(token: str | None = Depends(scheme)) -> dict[str, Any]:  # (a local: no Annotated under __future__)
        return {"token": token}

    if legacy:
        old = FastAPI()

        @old.get("/orders")
        def orders() -> list[str]:
            return []

        app.mount("/api", old)
    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("token_url", ["token", "auth/token"])
@pytest.mark.parametrize("legacy", [False, True], ids=["alone", "legacy-mounted"])
async def test_an_apps_own_login_under_a_mounts_path_stays_out_of_the_tools(
    token_url: str, legacy: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Review s11 item 1 (regression of 3997a47/c8b0a8e): a route merely under a mount's path
    was taken for the mounted app's, so the app's own login was published asking for a password,
    without a warning. A deeper mount's routes are those its app owns."""
    app = _api_app(token_url, legacy=legacy)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        names = sorted(await _names(app))
    assert names == (["me", "orders"] if legacy else ["me"])
    told = [r.getMessage() for r in caplog.records if "is no tool" in r.getMessage()]
    assert [m.split(" is no tool")[0] for m in told] == ["Route POST /api/auth/token"]


def _absolute_sub_app(token_url: str) -> FastAPI:
    """Review s11 item 2 (d2.py): an app whose scheme's token URL is absolute, with its form
    login at its own ``/token``."""
    return _login(_guarded(token_url, "sub"), "/token", "sub")


@pytest.mark.parametrize("token_url", ["/token", "http://localhost:8000/token"])
@pytest.mark.parametrize("mount", ["", "/v1", "/v1/admin"], ids=["alone", "mounted", "nested"])
async def test_a_mounted_apps_absolute_token_url_naming_no_parent_route_is_read_within_its_mount(
    token_url: str, mount: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Review s11 item 2: alone, the app's ``/token`` was left out with a WARNING; mounted at
    ``/v1`` in a parent without a ``/token``, its login was published asking for a password, as
    only a relative URL was read within the mount. A path that names no route of the parent is
    read within the mount it came from, as the app alone reads it."""
    app = _absolute_sub_app(token_url)
    for part in reversed([f"/{p}" for p in mount.split("/") if p]):
        app = _mounted(part, app)
    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert await _names(app) == ["items_sub"]
    told = [r.getMessage() for r in caplog.records if "is no tool" in r.getMessage()]
    assert [m.split(" is no tool")[0] for m in told] == [f"Route POST {mount}/token"]


def test_a_mounted_apps_absolute_token_url_names_the_parents_route_of_its_path() -> None:
    """An absolute path naming no route of the parent is read within the mount (the parent's
    login elsewhere stays the parent's business). Both naming one: see
    test_a_mounted_apps_absolute_token_url_naming_both_apps_logins_leaves_out_both."""
    parent = _login(FastAPI(), "/auth/token", "parent")
    parent.mount("/v1", _absolute_sub_app("/token"))
    assert _named(parent) == ["/v1/token"]


async def test_a_tie_in_the_suffix_match_goes_to_the_login_form(caplog: pytest.LogCaptureFixture) -> None:
    """Review s11 item 3 (t2.py T3): ``tokenUrl="token"``, the login at ``/auth/token`` and a
    form-taking ``POST /webhooks/token`` that is no login: both were the closest, so both were left
    out and the ``hook`` tool disappeared. Of tied routes, those whose form has an OAuth2 grant's
    fields (``grant_type``, or ``username`` and ``password``) are named."""
    app = _login(_guarded("token", "app"), "/auth/token", "app")

    @app.post("/webhooks/token", operation_id="hook")
    def hook(event: Annotated[str, Form()], payload: Annotated[str, Form()]) -> dict[str, bool]:
        return {"ok": True}

    assert _named(app) == ["/auth/token"]
    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert sorted(await _names(app)) == ["hook", "items_app"]
    told = [r.getMessage() for r in caplog.records if "is no tool" in r.getMessage()]
    assert [m.split(" is no tool")[0] for m in told] == ["Route POST /auth/token"]


class Hook(BaseModel):
    event: str


async def test_a_tied_route_with_neither_a_form_nor_a_password_stays_a_tool_unmentioned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review fixrev #5 (token_tie.py): ``tokenUrl="token"``, a form at ``/auth/token`` that is no
    grant's and a JSON ``POST /hooks/token``: the forms settle nothing, and of the tied routes only
    the form-taking one is left out and warned about; the JSON one is no token endpoint and asks for
    no password, so it stays a tool with nothing said, as when a URL names it alone."""
    app = _guarded("token", "app")

    @app.post("/auth/token", operation_id="signin")
    def signin(code: Annotated[str, Form()]) -> dict[str, bool]:
        return {"ok": True}

    @app.post("/hooks/token", operation_id="hook")
    def hook(body: Hook) -> dict[str, bool]:
        return {"ok": True}

    assert _named(app) == ["/auth/token"]
    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert sorted(await _names(app)) == ["hook", "items_app"]
    told = [r.getMessage() for r in caplog.records if "/token" in r.getMessage()]
    assert [m.split(" is no tool")[0] for m in told] == ["Route POST /auth/token"]


def _form(*names: str, ref: bool = False) -> dict[str, Any]:
    """A form body of ``names`` (by ``$ref`` to ``components.schemas.Form`` when ``ref``)."""
    schema = {"type": "object", "properties": {name: {"type": "string"} for name in names}}
    return {
        "content": {
            "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/Form"} if ref else schema}
        }
    }


@pytest.mark.parametrize(
    ("forms", "named"),
    [
        pytest.param((("grant_type",), ("event",)), ["/a/signin"], id="grant_type"),
        pytest.param((("event",), ("username", "password")), ["/b/signin"], id="username-password"),
        pytest.param((("event",), ("password",)), ["/a/signin", "/b/signin"], id="password-alone-no-grant"),
        pytest.param((("grant_type",), ("grant_type", "refresh_token")), ["/a/signin", "/b/signin"], id="both"),
        pytest.param(((), ()), ["/a/signin", "/b/signin"], id="neither"),
    ],
)
def test_a_tie_with_no_one_grant_form_leaves_out_every_tied_route(
    forms: tuple[tuple[str, ...], tuple[str, ...]], named: list[str]
) -> None:
    """A tie that the forms do not settle leaves out each tied route, each warned about (as
    before): a login left a tool would ask the model for a password."""
    document = _document({"password": {"tokenUrl": "signin", "scopes": {}}}, extra=("/a/signin", "/b/signin"))
    document["paths"]["/a/signin"]["post"]["requestBody"] = _form(*forms[0])
    document["paths"]["/b/signin"]["post"]["requestBody"] = _form(*forms[1], ref=True)
    document["components"]["schemas"] = {
        "Form": _form(*forms[1])["content"]["application/x-www-form-urlencoded"]["schema"]
    }
    assert sorted(token_routes(document)) == named


# -- review s11tok2: only POST paths are candidates; exact readings before any suffix; both exact logins out --


def _get_route(app: FastAPI, path: str, tag: str) -> FastAPI:
    """A ``GET`` route at ``path`` (a page, no login)."""

    @app.get(path, operation_id=f"page_{tag}")
    def page() -> dict[str, str]:
        return {"page": tag}

    return app


def _no_tool(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split(" is no tool")[0] for r in caplog.records if "is no tool" in r.getMessage()]


async def test_a_mounted_apps_get_route_of_the_token_path_does_not_shadow_the_parents_login(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review s11tok2 A (regression of 007e8f9): the app of a path was recorded for ``POST``s
    only, so a mounted app's ``GET /token`` counted as the parent's and, one segment closer,
    beat the parent's login at ``/api/auth/token`` for ``tokenUrl="token"``: the login was
    published. Every path's app is recorded, and only paths with a ``POST`` are candidates."""
    parent = _login(_guarded("token", "parent"), "/api/auth/token", "parent")
    parent.mount("/v1", _get_route(FastAPI(), "/token", "legacy"))
    assert _named(parent) == ["/api/auth/token"]
    parent.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert sorted(await _names(parent)) == ["items_parent", "page_legacy"]
    assert _no_tool(caplog) == ["Route POST /api/auth/token"]


def test_an_apps_own_get_route_closer_than_its_login_does_not_shadow_it() -> None:
    """Review s11tok2 A2: alone, ``GET /me/token`` (no ``POST``) was the closest route ending with
    ``token`` and the login at ``/api/auth/token`` was published; mounted, it was left out."""
    app = _login(_get_route(_guarded("token", "app"), "/me/token", "mine"), "/api/auth/token", "app")
    assert _named(app) == ["/api/auth/token"]
    assert _named(_mounted("/v1", app)) == ["/v1/api/auth/token"]


def test_a_parents_get_page_of_the_token_path_does_not_settle_a_mounted_absolute_url() -> None:
    """Review s11tok2 A3: the parent's ``GET /token`` (an HTML page) named the path, so the
    mounted app's own login at ``/v1/token`` (``tokenUrl="/token"``) was not read within its
    mount and was published. A path without a ``POST`` names nothing exactly either."""
    parent = _get_route(FastAPI(), "/token", "help")
    parent.mount("/v1", _absolute_sub_app("/token"))
    assert _named(parent) == ["/v1/token"]


def _sub_login_at_auth(token_url: str) -> FastAPI:
    return _login(_guarded(token_url, "sub"), "/auth/token", "sub")


@pytest.mark.parametrize("token_url", ["/auth/token", "http://localhost:8000/auth/token"])
async def test_a_mounted_apps_exact_login_is_read_before_a_suffix_match_in_the_parent(
    token_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Review s11tok2 B: a mounted app's absolute ``tokenUrl`` with its login at its own
    ``/auth/token``: the whole app's suffix match reached the parent's form ``POST /token`` before
    the mount's exact ``/v1/auth/token`` was tried, so the sub-app's login was published and the
    parent's unrelated form route disappeared. Every exact reading comes before any suffix one."""
    parent = FastAPI()

    @parent.post("/token", operation_id="redeem_gift_token")
    def redeem(code: Annotated[str, Form()], amount: Annotated[int, Form()]) -> dict[str, bool]:
        return {"ok": True}

    parent.mount("/v1", _sub_login_at_auth(token_url))
    assert _named(parent) == ["/v1/auth/token"]
    parent.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert sorted(await _names(parent)) == ["items_sub", "redeem_gift_token"]
    assert _no_tool(caplog) == ["Route POST /v1/auth/token"]


def test_a_mounted_apps_exact_login_is_named_beside_a_parents_tutorial_login() -> None:
    """Review s11tok2 B2: the parent's own ``POST /token`` (``tokenUrl="token"``) and an app at
    ``/admin`` with ``tokenUrl="/auth/token"`` and its login there: the admin login was published."""
    parent = _login(_guarded("token", "parent"), "/token", "parent")
    parent.mount("/admin", _sub_login_at_auth("/auth/token"))
    assert _named(parent) == ["/admin/auth/token", "/token"]


async def test_a_mounted_apps_absolute_token_url_naming_both_apps_logins_leaves_out_both(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review s11tok2 item 4: ``tokenUrl="/token"`` names the parent's login ``POST /token`` (the
    browser's URL) and, read within the mount, the app's own ``/v1/token`` login, which was
    published. A login left a tool asks the model for a password: both are left out, each warned
    about."""
    parent = _login(FastAPI(), "/token", "parent")
    parent.mount("/v1", _absolute_sub_app("/token"))
    assert _named(parent) == ["/token", "/v1/token"]
    parent.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert await _names(parent) == ["items_sub"]
    assert sorted(_no_tool(caplog)) == ["Route POST /token", "Route POST /v1/token"]


def test_the_whole_apps_reading_of_a_url_is_made_once_for_every_mount(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review s11tok2 F: the same app mounted at many prefixes read the whole app for its
    absolute URL once per mount (mounts x paths suffix checks at start-up); it is read once."""
    import mcp_middleware._token_routes as module

    reads: list[tuple[str, str, bool]] = []
    suffix = module._suffix_routes

    def counted(target: tuple[str, str, bool], *args: Any) -> list[str]:
        reads.append(target)
        return suffix(target, *args)

    monkeypatch.setattr(module, "_suffix_routes", counted)
    parent = FastAPI()
    for n in range(3):
        parent.mount(f"/t{n}", _absolute_sub_app("/login"))
    assert _named(parent) == []
    assert reads.count(("/login", "", False)) == 1
    assert len(reads) == 4


def test_a_mounted_apps_suffix_matched_login_is_left_out_beside_a_parents_exact_one() -> None:
    """Review s11tok2 (h2_alone.py): ``tokenUrl="/auth/token"`` with the app's login at its own
    ``/token`` (alone, the suffix match for a root path in front: left out), mounted at ``/v1``
    in a parent with its login at ``/auth/token``: the parent's exact route settled the URL and the
    mounted app's login was published. The reading within the mount is always the app's alone."""
    parent = _login(FastAPI(), "/auth/token", "parent")
    parent.mount("/v1", _absolute_sub_app("/auth/token"))
    assert _named(_absolute_sub_app("/auth/token")) == ["/token"]
    assert _named(parent) == ["/auth/token", "/v1/token"]


def test_a_password_in_an_allof_member_of_the_body_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Review rr1 D2: a JSON login body that is an ``allOf`` (the password in a member, by $ref)
    got no warning: only the root's properties were read. Now they are read as the tool's
    arguments are (``_operation_reader.object_root``)."""
    document = _document({"password": {"tokenUrl": "/token", "scopes": {}}})
    post_token = document["paths"]["/token"]["post"]
    schema = {"allOf": [{"$ref": "#/components/schemas/Creds"}], "properties": {"device": {"type": "string"}}}
    post_token["requestBody"] = {"content": {"application/json": {"schema": schema}}}
    document["components"]["schemas"] = {"Creds": {"type": "object", "properties": {"secret": {"format": "password"}}}}
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert _left_out(document) == []
    told = [r.getMessage() for r in caplog.records if "looks like a login route" in r.getMessage()]
    assert len(told) == 1, told
    assert "argument 'secret'" in told[0]


def test_a_grant_form_in_an_allof_member_settles_a_tie() -> None:
    """Review rr1 D2: a form body of an ``allOf`` (FastAPI's form model beside a Form() field)
    holding ``grant_type`` in its member is a grant form, as one declaring it at its root is."""
    document = _document({"password": {"tokenUrl": "signin", "scopes": {}}}, extra=("/a/signin", "/b/signin"))
    document["paths"]["/a/signin"]["post"]["requestBody"] = _form("event")
    schema = {"allOf": [{"$ref": "#/components/schemas/Grant"}], "properties": {"note": {"type": "string"}}}
    document["paths"]["/b/signin"]["post"]["requestBody"] = {
        "content": {"application/x-www-form-urlencoded": {"schema": schema}}
    }
    document["components"]["schemas"] = {"Grant": {"type": "object", "properties": {"grant_type": {}}}}
    assert sorted(token_routes(document)) == ["/b/signin"]
