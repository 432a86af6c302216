"""Apps mounted in an app with ``openapi()`` (FastAPI): a mounted FastAPI app brings its own
operations under the mount's prefix (the outer app's document leaves mounts out), at any depth;
a mounted app without ``openapi()`` gives none, and says so once in the log."""

from __future__ import annotations

import logging
from typing import Annotated, Any

import orjson
import pytest
from fastapi import APIRouter, FastAPI, Request, Security
from fastapi.security import APIKeyQuery
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, Router
from starlette.staticfiles import StaticFiles

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import ToolFilter, catalog_from_app
from tests.support import call_legacy, call_modern, post

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]
QUERY_KEY = APIKeyQuery(name="api_key", auto_error=False)  # module level: route annotations resolve here
TOKEN_KEY = APIKeyQuery(name="token", auto_error=False)  # the same scheme name, another parameter


def v2_api() -> FastAPI:
    api = FastAPI()

    @api.get("/hello", tags=["v2"])
    async def v2_hello(name: str = "x") -> dict[str, str]:
        return {"v2": name}

    @api.get("/files/{name:path}")
    async def fetch(name: str) -> dict[str, str]:
        return {"name": name}

    return api


def outer_api(*mounts: tuple[str, Any]) -> FastAPI:
    app = FastAPI()

    @app.get("/root", tags=["root"])
    async def root() -> dict[str, bool]:
        return {"root": True}

    for path, mounted in mounts:
        app.mount(path, mounted)
    return app


def served(app: Any, **options: Any) -> Any:
    app.add_middleware(MCPMiddleware, **options)
    return app


def paths(app: Any, tool_filter: ToolFilter | None = None) -> list[tuple[str, str]]:
    return [(t.name, t.path) for t in catalog_from_app(app, tool_filter=tool_filter or ToolFilter()).tools]


async def names(app: Any, era: str = "legacy") -> list[str]:
    reply = await (call_legacy(app, "tools/list") if era == "legacy" else call_modern(app, "tools/list"))
    return [tool["name"] for tool in reply.result()["tools"]]


async def call(app: Any, era: str, name: str, arguments: dict[str, Any]) -> Any:
    params = {"name": name, "arguments": arguments}
    if era == "legacy":
        result = (await call_legacy(app, "tools/call", params)).result()
    else:
        result = (await call_modern(app, "tools/call", params, name=name)).result()
    assert result.get("isError") is not True, result
    return orjson.loads(result["content"][0]["text"])


# -- listing and calling ---------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_a_fastapi_app_mounted_in_a_fastapi_app_brings_its_tools(era: str) -> None:
    """Review: the FastAPI branch read only ``app.openapi()``, which leaves mounts out: the
    versioning pattern ``app.mount("/v2", sub)`` gave no tools, silently."""
    app = served(outer_api(("/v2", v2_api())))
    assert await names(app, era) == ["root", "v2_hello", "fetch"]
    assert await call(app, era, "v2_hello", {"name": "q"}) == {"v2": "q"}
    assert await call(app, era, "fetch", {"name": "a/b"}) == {"name": "a/b"}  # its :path route, prefixed
    assert await call(app, era, "root", {}) == {"root": True}


def test_mounted_operations_are_typed_and_under_the_prefix() -> None:
    app = outer_api(("/v2", v2_api()))
    assert paths(app) == [("root", "/root"), ("v2_hello", "/v2/hello"), ("fetch", "/v2/files/{name}")]
    spec = catalog_from_app(app).get("v2_hello")
    assert spec is not None
    assert spec.tool["inputSchema"]["properties"]["name"]["type"] == "string"
    assert spec.build_request({"name": "q"}).path == "/v2/hello"


async def test_a_mounted_app_under_a_parameterised_prefix_in_a_fastapi_app() -> None:
    app = served(outer_api(("/t/{tenant}", v2_api())))
    spec = catalog_from_app(app).get("v2_hello")
    assert spec is not None
    assert spec.path == "/t/{tenant}/hello"
    assert spec.tool["inputSchema"]["required"] == ["tenant"]
    assert await call(app, "legacy", "v2_hello", {"tenant": "acme", "name": "q"}) == {"v2": "q"}


def test_the_same_function_in_the_outer_and_the_mounted_app_gets_two_names() -> None:
    """Names are assigned over the whole document, as for two FastAPI apps mounted in Starlette."""

    def api(size: int) -> FastAPI:
        api = FastAPI()

        @api.get("/items")
        async def items() -> list[int]:
            return [size]

        return api

    app = api(1)
    app.mount("/v2", api(2))
    assert paths(app) == [("items_items_get", "/items"), ("items_v2_items_get", "/v2/items")]


def test_a_model_of_the_same_name_but_another_shape_keeps_both() -> None:
    """The outer document's components come first; a mounted one that differs is renamed."""
    from pydantic import create_model

    def with_item(field: str, app: FastAPI) -> FastAPI:
        model = create_model("Item", **{field: (int, ...)})  # type: ignore[call-overload]

        async def create(item: Any) -> Any:
            return item

        create.__annotations__ = {"item": model, "return": model}  # real classes, not strings
        app.post("/items")(create)
        return app

    app = with_item("size", FastAPI())
    app.mount("/v2", with_item("weight", FastAPI()))
    tools = catalog_from_app(app).tools
    assert [t.path for t in tools] == ["/items", "/v2/items"]
    assert tools[0].tool["outputSchema"]["properties"] == {"size": {"type": "integer", "title": "Size"}}
    assert tools[1].tool["outputSchema"]["properties"] == {"weight": {"type": "integer", "title": "Weight"}}
    assert list(app.openapi()["components"]["schemas"]) == ["HTTPValidationError", "Item", "ValidationError"]


def test_the_outer_document_is_not_changed() -> None:
    """FastAPI caches its document: the mounted operations go into a copy."""
    app = outer_api(("/v2", v2_api()))
    before = orjson.dumps(app.openapi())
    assert len(catalog_from_app(app).tools) == 3
    assert orjson.dumps(app.openapi()) == before


# -- at any depth ----------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_apps_mounted_deeper_are_reached(era: str) -> None:
    """Under a Mount of routes, a Router, in a mounted FastAPI app, and (newer FastAPI) in an
    included router: each prefix added."""
    deepest = FastAPI()

    @deepest.get("/ping")
    async def deep_ping() -> str:
        return "pong"

    v2 = v2_api()
    v2.mount("/deep", deepest)
    app = outer_api(
        ("/api", Router(routes=[Mount("/v2", app=v2)])),
    )
    app.router.routes.append(Mount("/grouped", routes=[Mount("/v3", app=v2_api())]))
    assert paths(app) == [
        ("root", "/root"),
        ("v2_hello_api_v2_hello_get", "/api/v2/hello"),  # the catalog's rule for one function on two paths
        ("fetch_api_v2_files_name_get", "/api/v2/files/{name}"),
        ("deep_ping", "/api/v2/deep/ping"),
        ("v2_hello_grouped_v3_hello_get", "/grouped/v3/hello"),
        ("fetch_grouped_v3_files_name_get", "/grouped/v3/files/{name}"),
    ]
    served(app)
    assert await call(app, era, "deep_ping", {}) == "pong"
    assert await call(app, era, "v2_hello_grouped_v3_hello_get", {"name": "g"}) == {"v2": "g"}


async def test_a_fastapi_app_mounted_in_a_fastapi_app_mounted_in_starlette() -> None:
    """The Starlette walk takes a mounted app's own mounts the same way."""
    v1 = outer_api(("/v2", v2_api()))
    app = Starlette(routes=[Mount("/v1", app=v1)])
    assert paths(app) == [("root", "/v1/root"), ("v2_hello", "/v1/v2/hello"), ("fetch", "/v1/v2/files/{name}")]
    assert await call(served(app), "modern", "v2_hello", {"name": "s"}) == {"v2": "s"}


async def test_an_app_mounted_in_an_included_router() -> None:
    router = APIRouter()
    router.mount("/v2", v2_api())
    app = outer_api()
    app.include_router(router, prefix="/inc")
    if not any(callable(getattr(r, "effective_route_contexts", None)) for r in app.routes):
        pytest.skip("this FastAPI drops an included router's mounts: not served, no tools")
    assert paths(app)[1] == ("v2_hello", "/inc/v2/hello")
    assert await call(served(app), "legacy", "v2_hello", {"name": "i"}) == {"v2": "i"}


@pytest.mark.parametrize("era", ERAS)
async def test_an_app_mounted_in_itself_is_taken_once(era: str) -> None:
    """And the walk that notices route changes (on each list request) stops at a depth: it recursed
    without end, and every MCP request failed."""
    sub = v2_api()
    sub.mount("/again", sub)
    app = outer_api(("/v2", sub))
    assert paths(app) == [("root", "/root"), ("v2_hello", "/v2/hello"), ("fetch", "/v2/files/{name}")]
    served(app)
    for _ in range(2):  # the second list request walks the routes for changes
        assert await names(app, era) == ["root", "v2_hello", "fetch"]
    assert await call(app, era, "v2_hello", {"name": "again"}) == {"v2": "again"}


def test_a_prefix_whose_parameters_clash_gives_nothing_and_is_named(caplog: pytest.LogCaptureFixture) -> None:
    app = outer_api(("/t/{x}", Router(routes=[Mount("/u/{x}", app=v2_api())])))
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert paths(app) == [("root", "/root")]
    assert "/t/{x}/u/{x}" in caplog.text


async def test_a_security_scheme_renamed_in_the_merge_still_names_the_key_its_routes_take() -> None:
    """Two documents whose ``APIKeyQuery`` schemes read different parameters: the mounted one's is
    renamed (``APIKeyQuery_2``), and so are the requirements its operations name, so a URL key
    still reaches the route of the scheme that reads it, and only that one."""
    sub = FastAPI()

    @sub.get("/token", operation_id="read_token")
    async def read_token(key: Annotated[str | None, Security(TOKEN_KEY)]) -> str | None:
        return key

    app = FastAPI()

    @app.get("/api_key", operation_id="read_api_key")
    async def read_api_key(key: Annotated[str | None, Security(QUERY_KEY)]) -> str | None:
        return key

    app.mount("/v2", sub)
    served(app)
    assert set(catalog_from_app(app).query_keys) == {"api_key", "token"}

    async def key_of(name: str, query: bytes) -> Any:
        params = {"name": name, "arguments": {}}
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
        result = (await post(app, body, None, query_string=query)).result()
        return orjson.loads(result["content"][0]["text"])

    assert await key_of("read_token", b"token=t0k") == "t0k"
    assert await key_of("read_api_key", b"api_key=k3y") == "k3y"
    assert await key_of("read_token", b"api_key=k3y") is None  # not the key of its scheme: withheld
    assert await key_of("read_api_key", b"token=t0k") is None


def _hand_documented(document: dict[str, Any]) -> FastAPI:
    """A FastAPI app serving ``GET /hello`` whose ``openapi()`` gives ``document``."""
    api = FastAPI()

    @api.get("/hello")
    async def hello(name: str = "x") -> dict[str, str]:
        return {"hello": name}

    api.openapi = lambda: document  # type: ignore[method-assign]
    return api


_HELLO = {"operationId": "hello", "responses": {"200": {"description": "ok"}}}


def test_a_mounted_document_of_odd_shape_gives_what_it_can(caplog: pytest.LogCaptureFixture) -> None:
    """A hand-made ``openapi()``: a path item that is no object and a components section that is no
    object are passed over; a path-level parameter, as OpenAPI allows, is kept for its operations;
    a document without paths gives nothing, and is named when the app has no tool at all."""
    name = {"name": "name", "in": "query", "schema": {"type": "string"}}
    document = {
        "paths": {"/hello": {"parameters": [name], "get": _HELLO}, "/broken": "not a path item"},
        "components": {"schemas": "not a section", "responses": {}},
    }
    app = outer_api(("/v2", _hand_documented(document)))
    [_, hello] = catalog_from_app(app).tools
    assert (hello.name, hello.path) == ("hello", "/v2/hello")
    assert hello.tool["inputSchema"]["properties"] == {"name": {"type": "string"}}
    assert hello.build_request({"name": "n"}).query_string == b"name=n"
    bare = Starlette(routes=[Mount("/v2", app=_hand_documented({"openapi": "3.1.0"}))])
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert catalog_from_app(bare).tools == ()
    assert "Mount /v2 (FastAPI, no OpenAPI paths)" in caplog.text


def shadowed(mount_first: bool) -> FastAPI:
    """An outer route and a mounted app's route of the same path and method, in either order."""
    app = FastAPI()
    sub = FastAPI()

    @sub.get("/hello", operation_id="inner_hello", description="The mounted app's.")
    async def inner_hello() -> dict[str, str]:
        return {"answer": "mounted"}

    if mount_first:
        app.mount("/v2", sub)

    @app.get("/v2/hello", operation_id="outer_hello", description="The outer app's.")
    async def outer_hello() -> dict[str, str]:
        return {"answer": "outer"}

    if not mount_first:
        app.mount("/v2", sub)
    return app


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("mount_first", "listed", "answer"), [(False, "outer_hello", "outer"), (True, "inner_hello", "mounted")]
)
async def test_of_an_outer_and_a_mounted_route_of_one_path_and_method_the_one_the_router_reaches_is_listed(
    era: str, mount_first: bool, listed: str, answer: str
) -> None:
    """Review: the outer app's operation was listed whatever the order, and with the mount first
    every call of it ran the mounted route, as a success: listing and calling now agree."""
    app = served(shadowed(mount_first))
    assert await names(app, era) == [listed]
    assert await call(app, era, listed, {}) == {"answer": answer}


def test_the_mounted_operation_reached_first_replaces_the_outer_one_at_any_depth() -> None:
    """The outer route after a ``Mount`` of routes holding the app, and an app mounted deeper."""
    app = FastAPI()
    app.router.routes.append(Mount("/api", routes=[Mount("/v2", app=outer_api(("/deep", v2_api())))]))

    @app.get("/api/v2/root", operation_id="outer_root")
    async def outer_root() -> str:
        return "outer"

    @app.get("/api/v2/deep/hello", operation_id="outer_hello")
    async def outer_hello() -> str:
        return "outer"

    assert paths(app) == [
        ("root", "/api/v2/root"),
        ("v2_hello", "/api/v2/deep/hello"),
        ("fetch", "/api/v2/deep/files/{name}"),
    ]


# -- cycles ----------------------------------------------------------------------------------------


def self_mounted(kind: str) -> Any:
    """A Starlette app or a ``Router`` that mounts itself."""
    inner: Any = Starlette() if kind == "starlette" else Router()
    inner.add_route("/x", lambda request: PlainTextResponse("x"))
    inner.mount("/again", inner)
    return inner


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("kind", ["starlette", "router"])
async def test_a_mounted_app_without_openapi_that_mounts_itself_is_walked_once(era: str, kind: str) -> None:
    """Review: the walk into mounts without ``openapi()`` had no cycle check: tools/list raised
    RecursionError (a 500)."""
    app = served(outer_api(("/s", self_mounted(kind))))
    for _ in range(2):  # the second list request walks the routes for changes
        assert await names(app, era) == ["root"]
    assert await call(app, era, "root", {}) == {"root": True}


@pytest.mark.parametrize("era", ERAS)
async def test_a_starlette_app_that_mounts_itself_lists_its_routes_once(era: str) -> None:
    async def x(request: Request) -> PlainTextResponse:
        return PlainTextResponse("x")

    inner = Starlette(routes=[Route("/x", x, methods=["GET"])])
    inner.mount("/again", inner)
    app = MCPMiddleware(inner)
    for _ in range(2):
        assert len(await names(app, era)) == 1


# -- filters ---------------------------------------------------------------------------------------


def test_filters_see_the_prefixed_path_and_the_mounted_operations() -> None:
    app = outer_api(("/v2", v2_api()))
    assert paths(app, ToolFilter(include_paths=("/v2/*",))) == [
        ("v2_hello", "/v2/hello"),
        ("fetch", "/v2/files/{name}"),
    ]
    assert paths(app, ToolFilter(exclude_paths=("/v2/files/*",))) == [("root", "/root"), ("v2_hello", "/v2/hello")]
    assert paths(app, ToolFilter(include_tags=frozenset({"v2"}))) == [("v2_hello", "/v2/hello")]
    assert paths(app, ToolFilter(exclude_operations=frozenset({"v2_hello", "root"}))) == [("fetch", "/v2/files/{name}")]


async def test_middleware_filters_reach_the_mounted_tools() -> None:
    app = served(outer_api(("/v2", v2_api())), include_paths=["/v2/hello"], exclude_paths=["/root"])
    assert await names(app) == ["v2_hello"]


async def test_a_query_key_reaches_only_the_route_it_guards_across_a_mount() -> None:
    sub = FastAPI()

    @sub.get("/echo")
    async def echo(request: Request) -> str:
        return str(request.url)

    app = FastAPI()

    @app.get("/guarded")
    async def guarded(key: Annotated[str | None, Security(QUERY_KEY)]) -> str | None:
        return key

    app.mount("/v2", sub)
    app.openapi()["security"] = [{"APIKeyQuery": []}]  # every operation of the document
    served(app)
    params = {"name": "echo", "arguments": {}}
    reply = await post(app, {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}, None)
    assert reply.result()["content"][0]["text"].endswith('/v2/echo"')
    reply = await post(
        app,
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params},
        None,
        query_string=b"api_key=secret",
    )
    assert "secret" not in reply.result()["content"][0]["text"]
    params = {"name": "guarded", "arguments": {}}
    reply = await post(
        app,
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params},
        None,
        query_string=b"api_key=secret",
    )
    assert reply.result()["content"][0]["text"] == '"secret"'


# -- mounted apps without openapi() ----------------------------------------------------------------


async def _plain(request: Any) -> PlainTextResponse:
    return PlainTextResponse("plain")


async def _asgi(scope: Any, receive: Any, send: Any) -> None:  # a WSGI or GraphQL app's place
    pass


def test_a_mounted_app_without_openapi_gives_no_tools_and_one_info_line_each(caplog: pytest.LogCaptureFixture) -> None:
    app = outer_api(
        ("/static", StaticFiles(directory="/x", check_dir=False)),
        ("/plain", Starlette(routes=[Route("/p", _plain)])),
        ("/wsgi", _asgi),
        ("/v2", v2_api()),
    )
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert [p for _, p in paths(app)] == ["/root", "/v2/hello", "/v2/files/{name}"]
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 3, lines
    assert "Mount /static (StaticFiles)" in lines[0]
    assert "Mount /plain (Starlette)" in lines[1]
    assert "Mount /wsgi (function)" in lines[2]
    assert all("no openapi()" in line and "no MCP tools" in line for line in lines)


def test_a_mount_of_only_documented_apps_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    app = outer_api(("/api", Router(routes=[Mount("/v2", app=v2_api())])))
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert len(paths(app)) == 3
    assert not [r for r in caplog.records if r.levelno >= logging.INFO], caplog.text


def test_a_mount_of_routes_beside_a_documented_app_is_named(caplog: pytest.LogCaptureFixture) -> None:
    app = outer_api(("/api", Router(routes=[Route("/plain", _plain), Mount("/v2", app=v2_api())])))
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        assert [p for _, p in paths(app)] == ["/root", "/api/v2/hello", "/api/v2/files/{name}"]
    assert [r.getMessage()[:18] for r in caplog.records] == ["Mount /api (Router"]


def test_a_mounted_app_whose_openapi_fails_is_logged_and_the_rest_kept(caplog: pytest.LogCaptureFixture) -> None:
    broken = FastAPI()

    def fails() -> dict[str, Any]:
        raise RuntimeError("no document")

    broken.openapi = fails  # type: ignore[method-assign]
    app = outer_api(("/broken", broken), ("/v2", v2_api()))
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert [p for _, p in paths(app)] == ["/root", "/v2/hello", "/v2/files/{name}"]
    assert "openapi() failed" in caplog.text


@pytest.mark.parametrize("outer", ["fastapi", "starlette"])
def test_a_mounted_app_without_an_openapi_url_still_brings_its_tools(outer: str) -> None:
    """``openapi_url=None`` only stops serving the document (as for the app with the middleware,
    whose ``openapi()`` is read all the same); a route hidden with ``include_in_schema=False`` is
    no tool. Starlette's ``Mount`` has no ``include_in_schema``."""
    sub = FastAPI(openapi_url=None)

    @sub.get("/shown")
    async def shown() -> int:
        return 1

    @sub.get("/hidden", include_in_schema=False)
    async def hidden() -> int:
        return 2

    app: Any = outer_api() if outer == "fastapi" else Starlette()
    app.mount("/v2", sub)
    assert [p for _, p in paths(app)][-1:] == ["/v2/shown"]


def test_an_included_router_whose_routes_cannot_be_listed_is_passed_over(caplog: pytest.LogCaptureFixture) -> None:
    """Newer FastAPI's internals, read for the mounts of an included router: when they fail, the
    rest is still taken."""

    class Included:
        path = "/broken"

        def effective_route_contexts(self) -> list[Any]:
            raise RuntimeError("another FastAPI")

    app = outer_api(("/v2", v2_api()))
    app.router.routes.insert(0, Included())  # type: ignore[arg-type]
    app.openapi_schema = {**outer_api().openapi()}  # FastAPI's own walk is no part of this
    with caplog.at_level(logging.DEBUG, logger="mcp_middleware"):
        assert [p for _, p in paths(app)] == ["/root", "/v2/hello", "/v2/files/{name}"]
    assert "could not list the routes" in caplog.text
