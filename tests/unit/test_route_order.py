"""A call runs its own route: a path that a route the router tries first would take is refused.

Starlette's routers (FastAPI's too) try their routes in order and take the first whose path and
method match, a mount the first whose prefix matches. A tool's path argument could spell the path
of a route listed before the tool's own, one that is no tool (``include_in_schema=False``, a
filtered operation, a mount): the call was then answered by that route, in the tool's name."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import orjson
import pytest
from fastapi import APIRouter, FastAPI, Request
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Host, Mount, Route, Router, WebSocketRoute

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware.catalog import ArgumentError, catalog_from_app
from tests.support import call_legacy, call_modern
from tests.support import call_tool as call
from tests.support import refusal_text as refusal
from tests.support import result_json as text

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]


def answered(path: str) -> str:
    return f"the path {path} would be answered by another route of the app, not by this one"


async def feature(app: Any, era: str, method: str, params: dict[str, Any], name: str) -> dict[str, Any]:
    """The result or the error of a resource read or prompt get."""
    reply = await (call_legacy(app, method, params) if era == "legacy" else call_modern(app, method, params, name))
    final = reply.messages()[-1]
    found: dict[str, Any] = final.get("result") or final["error"]
    return found


def items_app(runs: Counter[str]) -> FastAPI:
    """The review's app: a hidden route and a filtered one, each before the tool whose path
    template also matches its path."""
    app = FastAPI()

    @app.get("/items/export-all", include_in_schema=False)
    async def export_all() -> dict[str, str]:
        runs["export_all"] += 1
        return {"route": "export_all"}

    @app.delete("/items/purge")
    async def purge() -> dict[str, str]:
        runs["purge"] += 1
        return {"route": "purge"}

    @app.get("/items/{item_id}")
    async def get_item(item_id: str) -> dict[str, str]:
        return {"route": "get_item", "item_id": item_id}

    @app.delete("/items/{item_id}")
    async def delete_item(item_id: str) -> dict[str, str]:
        return {"route": "delete_item", "item_id": item_id}

    app.add_middleware(MCPMiddleware, exclude_operations=["purge"])
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_a_tool_call_another_route_would_answer_is_refused(era: str) -> None:
    runs: Counter[str] = Counter()
    app = items_app(runs)
    assert refusal(await call(app, era, "get_item", {"item_id": "export-all"})) == (
        "Invalid arguments for tool 'get_item': " + answered("/items/export-all")
    )
    assert refusal(await call(app, era, "delete_item", {"item_id": "purge"})) == (
        "Invalid arguments for tool 'delete_item': " + answered("/items/purge")
    )
    # a trailing line feed: Starlette's patterns end with $, which matches before one
    assert "another route" in refusal(await call(app, era, "get_item", {"item_id": "export-all\n"}))
    assert runs == Counter()
    assert text(await call(app, era, "get_item", {"item_id": "7"})) == {"route": "get_item", "item_id": "7"}
    # a route of another method only matches the path: the router goes on to the tool's
    assert text(await call(app, era, "get_item", {"item_id": "purge"}))["route"] == "get_item"
    assert text(await call(app, era, "delete_item", {"item_id": "export-all"}))["route"] == "delete_item"


def test_only_tools_with_a_route_before_theirs_that_could_take_their_path_are_checked() -> None:
    """The usual tool pays one attribute test per call: it has no guard."""
    app = FastAPI()

    @app.get("/users/{user_id}")
    async def get_user(user_id: str) -> str:
        return user_id

    @app.get("/users/{user_id}/posts")  # after a route of one segment less: never taken by it
    async def get_posts(user_id: str) -> str:
        return user_id

    @app.get("/items/{item_id:int}")  # Starlette's int: only digits
    async def get_number(item_id: int) -> int:
        return item_id

    @app.get("/items/names")  # a literal no earlier pattern takes
    async def names() -> list[str]:
        return []

    @app.post("/items/{name}")  # only GET routes before it
    async def create(name: str) -> str:
        return name

    @app.get("/things/{name}")
    async def get_thing(name: str) -> str:
        return name

    guards = {spec.name: spec.guard is not None for spec in catalog_from_app(app).tools}
    # get_number's route refuses "names" (not digits): the router goes on, and /items/names answers
    assert guards == {
        **dict.fromkeys(["get_user", "get_posts", "names", "create", "get_thing"], False),
        "get_number": True,
    }


def test_a_tool_whose_route_no_request_reaches_is_refused_every_time() -> None:
    """A constant path an earlier route takes: decided once, when the catalog is built."""
    app = FastAPI()

    @app.get("/reports/{name}", include_in_schema=False)
    async def report(name: str) -> str:
        return name

    @app.get("/reports/latest")
    async def latest() -> str:
        return "latest"

    @app.get("/reports")
    async def reports() -> list[str]:
        return []

    specs = {spec.name: spec for spec in catalog_from_app(app).tools}
    assert specs["reports"].guard is None
    guard = specs["latest"].guard
    assert guard is not None
    with pytest.raises(ArgumentError, match="would be answered by another route"):
        specs["latest"].build_request({})


@pytest.mark.parametrize("era", ERAS)
async def test_a_resource_or_prompt_another_route_would_answer_is_invalid_params(era: str) -> None:
    app = FastAPI()

    @app.get("/docs/private/key", include_in_schema=False)
    async def hidden() -> dict[str, bool]:
        return {"HIDDEN": True}

    @app.get("/docs/{p:path}", openapi_extra=declare.resource_template("docs://{+p}"))
    async def doc(p: str, request: Request) -> dict[str, str]:
        return {"p": p}

    @app.get("/topics/secret", include_in_schema=False)
    async def secret() -> str:
        return "secret"

    @app.get("/topics/{topic}", openapi_extra=declare.prompt("topic"))
    async def topic(topic: str) -> str:
        return f"About {topic}"

    app.add_middleware(MCPMiddleware)
    error = await feature(app, era, "resources/read", {"uri": "docs://private/key"}, "docs://private/key")
    assert error == {
        "code": -32602,
        "message": "Invalid arguments for resource docs://private/key: " + answered("/docs/private/key"),
        "data": {"uri": "docs://private/key"},
    }
    read = await feature(app, era, "resources/read", {"uri": "docs://a/b"}, "docs://a/b")
    assert orjson.loads(read["contents"][0]["text"]) == {"p": "a/b"}
    error = await feature(app, era, "prompts/get", {"name": "topic", "arguments": {"topic": "secret"}}, "topic")
    assert error == {"code": -32602, "message": "Invalid arguments for prompt 'topic': " + answered("/topics/secret")}
    got = await feature(app, era, "prompts/get", {"name": "topic", "arguments": {"topic": "cats"}}, "topic")
    assert got["messages"][0]["content"]["text"] == "About cats"


@pytest.mark.parametrize("era", ERAS)
async def test_routes_of_included_routers_in_the_order_the_router_tries_them(era: str) -> None:
    """Older FastAPI copies an included router's routes into ``app.routes``; newer keeps the
    router as one entry, whose routes its ``effective_route_contexts()`` list in order."""
    admin, items = APIRouter(), APIRouter()

    @admin.get("/items/audit", include_in_schema=False)
    async def audit() -> dict[str, str]:
        return {"route": "audit"}

    @items.get("/items/internal", include_in_schema=False)
    async def internal() -> dict[str, str]:
        return {"route": "internal"}

    @items.get("/items/{item_id}")
    async def get_item(item_id: str) -> dict[str, str]:
        return {"item_id": item_id}

    @items.get("/late/{name}")
    async def late(name: str) -> dict[str, str]:
        return {"name": name}

    app = FastAPI()
    app.include_router(admin, prefix="/api")
    app.include_router(items, prefix="/api")

    @app.get("/api/late/hidden", include_in_schema=False)  # after the router: the tool's route comes first
    async def late_hidden() -> dict[str, str]:
        return {"route": "late_hidden"}

    app.add_middleware(MCPMiddleware)
    for value in ("audit", "internal"):
        result = await call(app, era, "get_item", {"item_id": value})
        assert refusal(result) == f"Invalid arguments for tool 'get_item': {answered(f'/api/items/{value}')}"
    assert text(await call(app, era, "get_item", {"item_id": "7"})) == {"item_id": "7"}
    assert text(await call(app, era, "late", {"name": "hidden"})) == {"name": "hidden"}


def mounted_app(runs: Counter[str]) -> FastAPI:
    sub = FastAPI()

    @sub.get("/items/export-all", include_in_schema=False)
    async def sub_export() -> dict[str, str]:
        runs["sub_export"] += 1
        return {"route": "sub_export"}

    @sub.get("/items/{item_id}")
    async def sub_item(item_id: str) -> dict[str, str]:
        return {"sub_item": item_id}

    async def static(request: StarletteRequest) -> JSONResponse:
        runs["static"] += 1
        return JSONResponse({"route": "static"})

    app = FastAPI()
    app.mount("/files", Router([Route("/{name:path}", static)]))

    @app.get("/{section}/{name}")
    async def section(section: str, name: str) -> dict[str, str]:
        return {"section": section, "name": name}

    app.mount("/v1", sub)
    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_mounts_before_a_route_and_routes_before_it_in_a_mounted_app(era: str) -> None:
    runs: Counter[str] = Counter()
    app = mounted_app(runs)
    result = await call(app, era, "section", {"section": "files", "name": "a"})
    assert refusal(result) == "Invalid arguments for tool 'section': " + answered("/files/a")
    result = await call(app, era, "sub_item", {"item_id": "export-all"})
    assert refusal(result) == "Invalid arguments for tool 'sub_item': " + answered("/v1/items/export-all")
    # a final line feed: the mount gives its routes the whole path, which the tool's route does not take
    result = await call(app, era, "sub_item", {"item_id": "3\n"})
    assert refusal(result).endswith(": the path /v1/items/3%0A would not reach the route of this one")
    # one inside the path: the mount does not take it, and the router goes on to the routes after it
    result = await call(app, era, "sub_item", {"item_id": "3\nx"})
    assert refusal(result).endswith(": the path /v1/items/3%0Ax would not reach the route of this one")
    assert runs == Counter()
    assert text(await call(app, era, "section", {"section": "docs", "name": "a"})) == {"section": "docs", "name": "a"}
    assert text(await call(app, era, "sub_item", {"item_id": "3"})) == {"sub_item": "3"}


def starlette_app(runs: Counter[str]) -> Starlette:
    async def hidden(request: StarletteRequest) -> JSONResponse:
        runs["hidden"] += 1
        return JSONResponse({"route": "hidden"})

    async def get_item(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"item_id": request.path_params["item_id"]})

    async def get_number(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"number": request.path_params["number"]})

    async def by_slug(request: StarletteRequest) -> JSONResponse:
        runs["by_slug"] += 1
        return JSONResponse({"slug": request.path_params["slug"]})

    async def inner(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"inner": request.path_params["name"]})

    async def inner_hidden(request: StarletteRequest) -> JSONResponse:
        runs["inner_hidden"] += 1
        return JSONResponse({"route": "inner_hidden"})

    async def book(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({"shelf": request.path_params["shelf"], "book": request.path_params["book"]})

    async def any_shelf(request: StarletteRequest) -> JSONResponse:
        runs["any_shelf"] += 1
        return JSONResponse({"route": "any_shelf"})

    async def websocket(socket: Any) -> None:
        raise AssertionError("no websocket here")

    routes = [
        Host("admin.example.com", Router([Route("/items/{item_id}", hidden)])),  # decided by the Host header
        WebSocketRoute("/items/{item_id}", websocket),  # never an HTTP request
        Route("/items/secret", hidden, include_in_schema=False),
        Route("/items/{item_id}", get_item),
        Route("/numbers/{number:int}", get_number),
        Route("/numbers/{slug}", by_slug, include_in_schema=False),  # what the int route does not take
        Mount(
            "/api",
            routes=[
                Route("/things/private", inner_hidden, include_in_schema=False),
                Route("/things/{name}", inner),
            ],
        ),
        Mount("/shelves/{shelf:int}", routes=[Route("/books/{book}", book)]),
        Route("/shelves/{name}/books/{book}", any_shelf, include_in_schema=False),  # what the mount does not take
    ]
    app = Starlette(routes=routes)
    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_a_plain_starlette_app(era: str) -> None:
    runs: Counter[str] = Counter()
    app = starlette_app(runs)
    result = await call(app, era, "get_item", {"item_id": "secret"})
    assert refusal(result) == "Invalid arguments for tool 'get_item': " + answered("/items/secret")
    result = await call(app, era, "inner", {"name": "private"})
    assert refusal(result) == "Invalid arguments for tool 'inner': " + answered("/api/things/private")
    # a value the tool's own route refuses (the router would go on, to a route listed after it): the
    # convertor's refusal (tests/unit/test_path_convertors.py)
    result = await call(app, era, "get_number", {"number": "seven"})
    assert refusal(result) == (
        "Invalid arguments for tool 'get_number': argument 'number' must be a non-negative integer "
        "(the path /numbers/{number:int} accepts only digits)"
    )
    result = await call(app, era, "book", {"shelf": "top", "book": "b"})
    assert refusal(result).startswith("Invalid arguments for tool 'book': argument 'shelf' must be a non-negative")
    assert runs == Counter()
    assert text(await call(app, era, "book", {"shelf": 2, "book": "b"})) == {"shelf": 2, "book": "b"}
    assert text(await call(app, era, "get_item", {"item_id": "7"})) == {"item_id": "7"}
    assert text(await call(app, era, "get_number", {"number": 7})) == {"number": 7}
    assert text(await call(app, era, "inner", {"name": "x"})) == {"inner": "x"}


def test_an_app_whose_router_routes_its_own_way_is_not_checked() -> None:
    """A router that does not try its routes in order (its own ``app``): the order is unknown, so
    no call is refused for it."""

    class Reversed(Router):
        async def app(self, scope: Any, receive: Any, send: Any) -> None:
            self.routes.reverse()
            try:
                await super().app(scope, receive, send)
            finally:
                self.routes.reverse()

    async def endpoint(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({})

    routes = [Route("/items/secret", endpoint, include_in_schema=False), Route("/items/{item_id}", endpoint)]
    plain, custom = Starlette(routes=routes), Starlette(routes=routes)
    custom.router = Reversed(routes=routes)
    assert [spec.guard is None for spec in catalog_from_app(plain).tools] == [False]
    assert [spec.guard is None for spec in catalog_from_app(custom).tools] == [True]


def test_an_included_router_whose_routes_cannot_be_listed_is_passed_over() -> None:
    """Newer FastAPI's internals: when they fail, the routes they hold are not followed, the rest are."""

    class Included:
        path = "/items/broken"

        def effective_route_contexts(self) -> list[Any]:
            raise RuntimeError("another FastAPI")

    app = FastAPI()

    @app.get("/items/hidden", include_in_schema=False)
    async def hidden() -> str:
        return "hidden"

    @app.get("/items/{item_id}")
    async def get_item(item_id: str) -> str:
        return item_id

    app.router.routes.insert(0, Included())  # type: ignore[arg-type]
    app.openapi_schema = None
    [spec] = catalog_from_app(app).tools
    assert spec.guard is not None
    with pytest.raises(ArgumentError, match="/items/hidden would be answered"):
        spec.build_request({"item_id": "hidden"})
    assert spec.build_request({"item_id": "broken"}).path == "/items/broken"


def shadowed_app(runs: Counter[str]) -> FastAPI:
    """A plain Starlette app mounted before a route of the same full path: the mount has no
    openapi(), so the tool is the FastAPI route's, which the mount answers for."""

    async def mounted_hello(request: StarletteRequest) -> JSONResponse:
        runs["mounted_hello"] += 1
        return JSONResponse({"route": "mounted"})

    app = FastAPI()
    app.mount("/v2", Starlette(routes=[Route("/hello", mounted_hello)]))

    @app.get("/v2/hello")
    async def hello() -> dict[str, str]:
        return {"route": "hello"}

    @app.get("/v3/hello")
    async def other() -> dict[str, str]:
        return {"route": "other"}

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_a_tool_is_guarded_by_its_own_route_not_by_a_mounted_one_of_its_path(era: str) -> None:
    runs: Counter[str] = Counter()
    app = shadowed_app(runs)
    names = [spec.name for spec in catalog_from_app(app).tools]
    assert "hello" in names  # listed: the mount contributes no operation
    result = await call(app, era, "hello", {})
    assert refusal(result) == "Invalid arguments for tool 'hello': " + answered("/v2/hello")
    assert runs == Counter()
    assert text(await call(app, era, "other", {})) == {"route": "other"}


class BrokenRoutes(Starlette):
    """An app whose ``routes`` cannot be read."""

    @property
    def routes(self) -> list[Any]:
        raise RuntimeError("no routes today")


@pytest.mark.parametrize("era", ERAS)
async def test_a_mount_whose_routes_cannot_be_read_contributes_nothing(
    era: str, caplog: pytest.LogCaptureFixture
) -> None:
    inner = FastAPI()

    @inner.get("/items/{item_id}")
    async def get_item(item_id: str) -> dict[str, str]:
        return {"item_id": item_id}

    app = FastAPI()
    app.mount("/broken", BrokenRoutes())

    @app.get("/{section}/{name}")
    async def section(section: str, name: str) -> dict[str, str]:
        return {"section": section, "name": name}

    app.mount("/v1", inner)
    app.add_middleware(MCPMiddleware)
    starlette = Starlette(routes=[Mount("/broken", BrokenRoutes()), Mount("/v1", inner)])
    starlette.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert text(await call(app, era, "get_item", {"item_id": "3"})) == {"item_id": "3"}
        assert text(await call(app, era, "section", {"section": "a", "name": "b"})) == {"section": "a", "name": "b"}
        # the mount is still tried first: it takes its prefix
        assert "another route" in refusal(await call(app, era, "section", {"section": "broken", "name": "b"}))
        assert text(await call(starlette, era, "get_item", {"item_id": "4"})) == {"item_id": "4"}
    warnings = [r for r in caplog.records if "routes of Mount /broken" in r.getMessage()]
    assert len(warnings) == 2, caplog.text  # once for each mount
    assert all(r.levelno == logging.WARNING for r in warnings)


def test_an_app_with_openapi_whose_routes_cannot_be_read_keeps_its_tools(caplog: pytest.LogCaptureFixture) -> None:
    class Unlisted(FastAPI):
        broken = False

        @property
        def routes(self) -> list[Any]:
            if self.broken:
                raise RuntimeError("no routes today")
            return self.router.routes

    app = Unlisted()

    @app.get("/items/{item_id}")
    async def get_item(item_id: str) -> dict[str, str]:
        return {"item_id": item_id}

    app.openapi()  # FastAPI keeps its document: the routes are no longer read for it
    app.broken = True
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        [tool] = catalog_from_app(app).tools
        catalog_from_app(app)
    assert tool.name == "get_item"
    assert [r.getMessage() for r in caplog.records] == ["the routes of Unlisted cannot be read; they are no MCP tools"]


def test_route_entries_put_an_included_routers_routes_in_its_place(caplog: pytest.LogCaptureFixture) -> None:
    """The one reading of a router's entries (the order, the mounted documents, the route details):
    an entry listing its routes (newer FastAPI's included router) gives them in its place; one whose
    listing fails gives none, and says why at debug level."""
    from mcp_middleware._route_order import route_entries

    class Included:
        def __init__(self, *routes: str) -> None:
            self.routes = routes

        def effective_route_contexts(self) -> list[str]:
            if not self.routes:
                raise RuntimeError("another FastAPI")
            return list(self.routes)

    broken = Included()
    with caplog.at_level(logging.DEBUG, logger="mcp_middleware"):
        assert list(route_entries(["a", Included("b", "c"), broken, "d"])) == ["a", "b", "c", "d"]
    [record] = caplog.records
    assert record.levelno == logging.DEBUG
    assert record.getMessage() == f"could not list the routes of {broken!r}"
    assert record.exc_info is not None


def line_feed_app(runs: Counter[str], typed: bool, earlier: bool) -> Starlette:
    """A tool's route under a mount, and a route after the mount that takes the same path with a
    line feed in it: the mount's ``.*`` stops at a line feed, so the router would go on to it."""

    async def book(request: StarletteRequest) -> JSONResponse:
        return JSONResponse({k: str(v) for k, v in request.path_params.items()})

    async def other(request: StarletteRequest) -> JSONResponse:
        runs["other"] += 1
        return JSONResponse({"route": "other"})

    prefix = "/shelves/{shelf:int}" if typed else "/shelves"
    routes: list[Any] = [Route("/shelves/{x}/top", other, include_in_schema=False)] if earlier else []
    routes += [
        Mount(prefix, routes=[Route("/books/{book}", book, name="book")]),
        Route("/shelves/{name}/books/{book}" if typed else "/shelves/books/{book}", other, include_in_schema=False),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize("typed", [True, False])
@pytest.mark.parametrize("earlier", [True, False])
async def test_a_line_feed_under_a_mount_never_reaches_another_route(era: str, typed: bool, earlier: bool) -> None:
    """Whatever is tried before the mount (routes that could take the path, or none), and whether
    the mount's prefix is typed or not: the mount's own pattern is checked, so a value it stops at
    is refused, never answered by the route after the mount."""
    runs: Counter[str] = Counter()
    app = line_feed_app(runs, typed, earlier)
    shelf = {"shelf": 3} if typed else {}
    prefix = "/shelves/3" if typed else "/shelves"
    for value, encoded in (("b\nc", "b%0Ac"), ("b\n", "b%0A"), ("\nb", "%0Ab")):
        result = await call(app, era, "book", {**shelf, "book": value})
        assert refusal(result) == (
            f"Invalid arguments for tool 'book': the path {prefix}/books/{encoded} "
            "would not reach the route of this one"
        )
    assert runs == Counter()
    # a carriage return, which the mount's ``.*`` takes, reaches the tool's route
    assert text(await call(app, era, "book", {**shelf, "book": "b\rc"})) == {**{k: "3" for k in shelf}, "book": "b\rc"}
    assert text(await call(app, era, "book", {**shelf, "book": "b"})) == {**{k: "3" for k in shelf}, "book": "b"}
    assert runs == Counter()
