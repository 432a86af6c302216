"""A plain Starlette app (no ``openapi()``): its routes become tools through a document generated
from the routes themselves (``mcp_middleware._route_document``), then the usual pipeline."""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Annotated, Any

import orjson
import pytest
from fastapi import FastAPI, Query
from starlette.applications import Starlette
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Host, Mount, Route, Router, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import ArgumentError, Catalog, ToolSpec, catalog_from_app
from tests.support import call_legacy, call_modern

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]


# -- the app ---------------------------------------------------------------------------------------


async def list_items(request: Request) -> JSONResponse:
    """List the items.

    Filter with ``?tag=...`` (repeatable).
    """
    return JSONResponse({"tags": request.query_params.getlist("tag"), "q": dict(request.query_params)})


async def create_item(request: Request) -> JSONResponse:
    """Create an item from its JSON."""
    return JSONResponse({"created": await request.json()}, status_code=201)


async def get_item(request: Request) -> JSONResponse:
    item_id = request.path_params["item_id"]
    return JSONResponse({"item_id": item_id, "type": type(item_id).__name__})


async def measure(request: Request) -> JSONResponse:
    return JSONResponse({"value": request.path_params["value"]})


async def read_file(request: Request) -> PlainTextResponse:
    return PlainTextResponse(f"file {request.path_params['name']}")


class Users(HTTPEndpoint):
    async def get(self, request: Request) -> JSONResponse:
        """One user."""
        return JSONResponse({"uid": str(request.path_params["uid"]), "method": "GET"})

    async def put(self, request: Request) -> JSONResponse:
        return JSONResponse({"uid": str(request.path_params["uid"]), "put": await request.json()})

    async def delete(self, request: Request) -> Response:
        return Response(status_code=204)


async def search(request: Request) -> JSONResponse:
    """Search the items by text.

    ---
    summary: Search items
    tags: [items]
    parameters:
      - name: q
        in: query
        required: true
        description: the text to look for
        schema:
          type: string
      - name: limit
        in: query
        schema:
          type: integer
    responses:
      200:
        description: the matches
        content:
          application/json:
            schema:
              type: object
              properties:
                q: {type: string}
                limit: {type: integer}
    """
    limit = request.query_params.get("limit")
    return JSONResponse({"q": request.query_params["q"], "limit": None if limit is None else int(limit)})


async def rename(request: Request) -> JSONResponse:
    """
    summary: Rename a thing
    requestBody:
      required: true
      content:
        application/json:
          schema:
            type: object
            properties:
              name: {type: string}
            required: [name]
    x-mcp-annotations:
      idempotentHint: true
    """
    return JSONResponse({"tid": request.path_params["tid"], "body": await request.json()})


async def hidden(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hidden")


async def hosted(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hosted")


async def ws(websocket: WebSocket) -> None:
    await websocket.close()


def routes() -> list[Any]:
    return [
        Route("/items", list_items),
        Route("/items", create_item, methods=["POST"]),
        Route("/items/{item_id:int}", get_item),
        Route("/measures/{value:float}", measure),
        Route("/files/{name:path}", read_file),
        Route("/users/{uid:uuid}", Users),
        Mount(
            "/v1",
            routes=[
                Route("/search", search),
                Route("/things/{tid}", rename, methods=["PATCH"]),
                Mount("/deep", routes=[Route("/ping", lambda request: PlainTextResponse("pong"))]),
            ],
        ),
        Route("/hidden", hidden, include_in_schema=False),
        WebSocketRoute("/ws", ws),
        Mount("/static", app=StaticFiles(directory="/nonexistent", check_dir=False)),
        Host("api.example.com", app=Router([Route("/hosted", hosted)])),
    ]


def build() -> Starlette:
    app = Starlette(routes=routes())
    app.add_middleware(MCPMiddleware)
    return app


def catalog() -> Catalog:
    return catalog_from_app(Starlette(routes=routes()))


def tool(name: str) -> dict[str, Any]:
    spec = catalog().get(name)
    assert spec is not None, [t.name for t in catalog().tools]
    return spec.tool


def spec_of(name: str) -> ToolSpec:
    spec = catalog().get(name)
    assert spec is not None
    return spec


async def call(app: Starlette, era: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments}
    if era == "legacy":
        return (await call_legacy(app, "tools/call", params)).result()
    return (await call_modern(app, "tools/call", params, name=name)).result()


def text_of(result: dict[str, Any]) -> str:
    text: str = result["content"][0]["text"]
    return text


# -- tools/list ------------------------------------------------------------------------------------


FREE_QUERY = {
    "type": "object",
    "description": (
        "Query string parameters, by name: each value a string, number or boolean, or a list of them (the name "
        "repeated)."
    ),
}


def test_every_http_route_is_a_tool_named_after_its_endpoint() -> None:
    names = [t.name for t in catalog().tools]
    assert names == [
        "list_items",
        "create_item",
        "get_item",
        "measure",
        "read_file",
        "Users_get",
        "Users_put",
        "Users_delete",
        "search",
        "rename",
        "get_v1_deep_ping",  # a lambda has no name to give
    ]
    paths = {t.name: (t.method, t.path) for t in catalog().tools}
    assert paths["search"] == ("GET", "/v1/search")
    assert paths["rename"] == ("PATCH", "/v1/things/{tid}")
    assert paths["get_v1_deep_ping"] == ("GET", "/v1/deep/ping")


async def test_tools_list_over_the_wire() -> None:
    app = build()
    for reply in (await call_legacy(app, "tools/list"), await call_modern(app, "tools/list")):
        assert [t["name"] for t in reply.result()["tools"]][:3] == ["list_items", "create_item", "get_item"]


def test_a_plain_docstring_is_the_description_and_get_is_read_only() -> None:
    listed = tool("list_items")
    assert listed["description"] == "List the items.\n\nFilter with ``?tag=...`` (repeatable)."
    assert listed["title"] == "List Items"
    assert listed["annotations"] == {"title": "List Items", "readOnlyHint": True, "openWorldHint": False}
    assert listed["inputSchema"] == {"type": "object", "properties": {"query": FREE_QUERY}}


def test_typed_path_parameters_are_required_and_typed() -> None:
    assert tool("get_item")["inputSchema"] == {
        "type": "object",
        "properties": {"item_id": {"type": "integer", "minimum": 0}, "query": FREE_QUERY},
        "required": ["item_id"],
    }
    assert tool("get_item")["description"] == "GET /items/{item_id}"
    assert tool("measure")["inputSchema"]["properties"]["value"] == {"type": "number", "minimum": 0}
    assert tool("read_file")["inputSchema"]["properties"]["name"] == {"type": "string", "minLength": 1}
    assert tool("Users_get")["inputSchema"]["properties"]["uid"] == {"type": "string", "format": "uuid", "minLength": 1}


def test_write_methods_take_a_free_json_body_and_follow_http_semantics() -> None:
    created = tool("create_item")
    assert created["inputSchema"]["properties"]["body"] == {
        "type": "object",
        "description": "The request's JSON body.",
    }
    assert "required" not in created["inputSchema"]
    assert created["annotations"] == {"title": "Create Item", "openWorldHint": False}
    assert tool("Users_put")["annotations"]["idempotentHint"] is True
    assert tool("Users_delete")["annotations"]["destructiveHint"] is True
    assert "body" not in tool("Users_delete")["inputSchema"]["properties"]  # no body for DELETE
    assert tool("Users_get")["description"] == "One user."


def test_hidden_websocket_static_and_host_routes_are_not_tools() -> None:
    paths = {t.path for t in catalog().tools}
    assert not {"/hidden", "/ws", "/hosted"} & paths
    assert not any(path.startswith("/static") for path in paths)


def test_same_endpoint_on_two_routes_gets_unique_names() -> None:
    app = Starlette(routes=[Route("/a", list_items), Route("/b", list_items)])
    assert [t.name for t in catalog_from_app(app).tools] == ["list_items", "list_items_2"]


def test_an_explicit_route_name_and_methods_are_used() -> None:
    app = Starlette(
        routes=[
            Route("/u/{uid:uuid}", Users, methods=["GET"]),
            Route("/x", hidden, methods=["GET", "POST"], name="thing"),
            Route("/h", hidden, methods=["HEAD"]),
        ]
    )
    tools = catalog_from_app(app).tools
    assert [(t.name, t.method) for t in tools] == [
        ("Users_get", "GET"),
        ("thing_get", "GET"),
        ("thing_post", "POST"),
        ("hidden", "HEAD"),
    ]


async def greet(request: Request, greeting: str = "hello") -> PlainTextResponse:
    """Greet someone."""
    return PlainTextResponse(greeting)


async def first(request: Request) -> PlainTextResponse:
    return PlainTextResponse("first")


async def second(request: Request) -> PlainTextResponse:
    return PlainTextResponse("second")


class Pinged(HTTPEndpoint):
    async def get(self, request: Request) -> PlainTextResponse:
        return PlainTextResponse("pong")

    async def head(self, request: Request) -> Response:
        return Response(headers={"x-pinged": "yes"})


class AnASGIApp:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await PlainTextResponse("asgi")(scope, receive, send)


@pytest.mark.parametrize("era", ERAS)
async def test_routes_are_tools_as_starlette_routes_them(era: str) -> None:
    """A ``functools.partial`` endpoint is its function's (docstring; no name of its own, so
    ``{method}_{path}``); of two routes of one path and method the first is the one Starlette
    calls; a class endpoint's ``head`` beside its ``get`` is Starlette's HEAD of the GET, no tool."""
    app = Starlette(
        routes=[
            Route("/greet", functools.partial(greet, greeting="hi")),
            Route("/same", first),
            Route("/same", second),
            Route("/ping", Pinged),
        ]
    )
    tools = catalog_from_app(app).tools
    assert [(t.name, t.method, t.path) for t in tools] == [
        ("get_greet", "GET", "/greet"),
        ("first", "GET", "/same"),
        ("Pinged_get", "GET", "/ping"),
    ]
    assert tools[0].tool["description"] == "Greet someone."
    app.add_middleware(MCPMiddleware)
    assert text_of(await call(app, era, "get_greet", {})) == "hi"
    assert text_of(await call(app, era, "first", {})) == "first"


def test_routes_that_give_no_operation_are_named_when_nothing_else_is_found(caplog: pytest.LogCaptureFixture) -> None:
    """An ASGI app as a route's endpoint, without ``methods=``, says nothing of the methods it
    answers; a route whose path repeats a parameter of its mount's cannot be compiled (Starlette
    refuses it too). Neither is a tool; beside other routes, they are passed over."""
    odd = [Route("/asgi", AnASGIApp()), Mount("/t/{tid}", routes=[Route("/x/{tid}", first)])]
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert catalog_from_app(Starlette(routes=odd)).tools == ()
    assert "Route /asgi (an ASGI app without methods=[...])" in caplog.text
    assert "Route /t/{tid}/x/{tid} (its path does not compile)" in caplog.text
    assert [t.name for t in catalog_from_app(Starlette(routes=[*odd, Route("/ok", second)])).tools] == ["second"]
    with_methods = Starlette(routes=[Route("/asgi", AnASGIApp(), methods=["POST"])])
    assert [(t.method, t.path) for t in catalog_from_app(with_methods).tools] == [("POST", "/asgi")]


# -- YAML docstrings (Starlette's SchemaGenerator convention) --------------------------------------


def test_a_yaml_docstring_declares_query_parameters() -> None:
    pytest.importorskip("yaml")
    found = tool("search")
    assert found["title"] == "Search items"
    assert found["description"] == "Search items\n\nSearch the items by text."
    assert found["inputSchema"] == {
        "type": "object",
        "properties": {
            "q": {"type": "string", "description": "the text to look for"},
            "limit": {"type": "integer"},
        },
        "required": ["q"],
    }
    assert found["outputSchema"] == {
        "type": "object",
        "properties": {"q": {"type": "string"}, "limit": {"type": "integer"}},
    }
    assert catalog_from_app(Starlette(routes=routes()), tool_filter=_tags("items")).tools[0].name == "search"


def _tags(*tags: str) -> Any:
    from mcp_middleware.catalog import ToolFilter

    return ToolFilter(include_tags=frozenset(tags))


def test_a_yaml_docstring_declares_a_json_body() -> None:
    pytest.importorskip("yaml")
    found = tool("rename")
    assert found["inputSchema"] == {
        "type": "object",
        "properties": {"tid": {"type": "string", "minLength": 1}, "query": FREE_QUERY, "name": {"type": "string"}},
        "required": ["tid", "name"],
    }
    assert found["annotations"]["idempotentHint"] is True  # x-mcp-annotations from the YAML
    assert found["title"] == "Rename a thing"


def test_without_pyyaml_only_the_prose_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    import starlette.schemas

    monkeypatch.setattr(starlette.schemas, "yaml", None)
    found = tool("search")
    assert found["description"] == "Search the items by text."
    assert found["inputSchema"]["properties"] == {"query": FREE_QUERY}
    assert "body" in tool("rename")["inputSchema"]["properties"]


def test_a_broken_yaml_section_is_logged_and_the_prose_kept(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("yaml")

    async def odd(request: Request) -> PlainTextResponse:
        """Odd one.

        ---
        parameters: [unclosed
        """
        return PlainTextResponse("odd")

    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        tools = catalog_from_app(Starlette(routes=[Route("/odd", odd)])).tools
    assert tools[0].tool["description"] == "Odd one."
    assert "odd" in caplog.text
    assert "YAML" in caplog.text


def test_a_plain_docstring_that_parses_as_yaml_stays_prose() -> None:
    async def note(request: Request) -> PlainTextResponse:
        """Note: the answer is plain text."""
        return PlainTextResponse("note")

    tools = catalog_from_app(Starlette(routes=[Route("/note", note)])).tools
    assert tools[0].tool["description"] == "Note: the answer is plain text."


# -- tools/call ------------------------------------------------------------------------------------


@pytest.mark.parametrize("era", ERAS)
async def test_typed_path_parameters_reach_the_endpoint(era: str) -> None:
    app = build()
    assert orjson.loads(text_of(await call(app, era, "get_item", {"item_id": 7}))) == {"item_id": 7, "type": "int"}
    assert orjson.loads(text_of(await call(app, era, "measure", {"value": 2.5}))) == {"value": 2.5}
    assert text_of(await call(app, era, "read_file", {"name": "a/b.txt"})) == "file a/b.txt"
    uid = "12345678-1234-5678-1234-567812345678"
    assert orjson.loads(text_of(await call(app, era, "Users_get", {"uid": uid}))) == {"uid": uid, "method": "GET"}


@pytest.mark.parametrize("era", ERAS)
async def test_a_required_argument_the_call_leaves_out_is_a_tool_error_before_the_route_runs(era: str) -> None:
    """The route's YAML says ``q`` is required: a call without it never reaches the route (which
    would raise KeyError reading it), and the model is told what to add (tools.mdx: servers MUST
    validate tool inputs). Path parameters were the only arguments checked."""
    pytest.importorskip("yaml")
    reached: list[str] = []

    async def searched(request: Request) -> JSONResponse:
        """Search.

        ---
        parameters:
          - {name: q, in: query, required: true, schema: {type: string}}
          - {name: tag, in: query, required: true, schema: {type: string}}
        """
        reached.append(request.url.query)
        return JSONResponse({"q": request.query_params["q"], "tag": request.query_params["tag"]})

    app = Starlette(routes=[Route("/search", searched)])
    app.add_middleware(MCPMiddleware)
    result = await call(app, era, "searched", {"tag": "t"})
    assert result["isError"] is True
    assert text_of(result) == "Invalid arguments for tool 'searched': missing required argument 'q'"
    result = await call(app, era, "searched", {})
    assert text_of(result) == "Invalid arguments for tool 'searched': missing required arguments 'q', 'tag'"
    assert reached == []
    assert orjson.loads(text_of(await call(app, era, "searched", {"q": "x", "tag": "t"}))) == {"q": "x", "tag": "t"}


@pytest.mark.parametrize("era", ERAS)
async def test_an_integral_float_for_an_int_converter_reaches_the_endpoint(era: str) -> None:
    """JSON Schema's ``integer`` takes 5.0: it went out as ``/items/5.0``, which the ``:int``
    converter does not match, and was refused as "answered by another route"."""
    app = build()
    assert orjson.loads(text_of(await call(app, era, "get_item", {"item_id": 5.0}))) == {"item_id": 5, "type": "int"}
    assert spec_of("get_item").build_request({"item_id": 1e20}).path == "/items/100000000000000000000"
    # a float for a :float converter is still written as it is
    assert spec_of("measure").build_request({"value": 2.0}).path == "/measures/2.0"


@pytest.mark.parametrize("value", [5.5, 1e-7, -0.5])
def test_a_fractional_float_for_an_int_converter_is_refused_naming_the_argument(value: float) -> None:
    with pytest.raises(ArgumentError, match=r"^argument 'item_id' must be an integer$"):
        spec_of("get_item").build_request({"item_id": value})


def test_integral_floats_for_integer_fastapi_parameters_go_as_integers() -> None:
    app = FastAPI()

    @app.get("/things/{thing_id}", operation_id="thing")
    async def thing(
        thing_id: int, page: int = 1, ratio: float = 1.0, ids: Annotated[list[int] | None, Query()] = None
    ) -> None:
        return None

    spec = catalog_from_app(app).get("thing")
    assert spec is not None
    request = spec.build_request({"thing_id": 5.0, "page": 2.0, "ratio": 2.0, "ids": [1.0, 2, 3.0]})
    assert request.path == "/things/5"
    assert request.query_string == b"page=2&ratio=2.0&ids=1&ids=2&ids=3"
    for arguments, name in [({"thing_id": 5.5}, "thing_id"), ({"thing_id": 1, "page": 2.5}, "page")]:
        with pytest.raises(ArgumentError, match=rf"^argument {name!r} must be an integer$"):
            spec.build_request(arguments)
    with pytest.raises(ArgumentError, match=r"^argument 'ids' must be an integer$"):
        spec.build_request({"thing_id": 1, "ids": [1, 2.5]})


def test_an_integral_float_for_a_yaml_integer_query_parameter_goes_as_an_integer() -> None:
    pytest.importorskip("yaml")

    async def page(request: Request) -> JSONResponse:
        """Pages.
        ---
        parameters:
          - {name: limit, in: query, schema: {type: integer}}
        """
        return JSONResponse(dict(request.query_params))

    spec = catalog_from_app(Starlette(routes=[Route("/page", page)])).get("page")
    assert spec is not None
    assert spec.build_request({"limit": 5.0}).query_string == b"limit=5"


@pytest.mark.parametrize("era", ERAS)
async def test_the_free_query_argument_becomes_the_query_string(era: str) -> None:
    app = build()
    result = await call(app, era, "list_items", {"query": {"tag": ["a", "b c"], "page": 2, "all": True}})
    assert orjson.loads(text_of(result)) == {"tags": ["a", "b c"], "q": {"tag": "b c", "page": "2", "all": "true"}}
    refused = await call(app, era, "list_items", {"query": "tag=a"})
    assert refused["isError"] is True
    assert "query" in text_of(refused)


@pytest.mark.parametrize("era", ERAS)
async def test_the_free_body_argument_is_the_json_body(era: str) -> None:
    app = build()
    result = await call(app, era, "create_item", {"body": {"name": "pen", "price": 2}})
    assert orjson.loads(text_of(result)) == {"created": {"name": "pen", "price": 2}}
    uid = "12345678-1234-5678-1234-567812345678"
    put = await call(app, era, "Users_put", {"uid": uid, "body": {"name": "ann"}})
    assert orjson.loads(text_of(put)) == {"uid": uid, "put": {"name": "ann"}}
    deleted = await call(app, era, "Users_delete", {"uid": uid})
    assert "isError" not in deleted or deleted["isError"] is False


@pytest.mark.parametrize("era", ERAS)
async def test_yaml_declared_parameters_and_body_reach_the_endpoint(era: str) -> None:
    pytest.importorskip("yaml")
    app = build()
    found = await call(app, era, "search", {"q": "pen", "limit": 3})
    assert found["structuredContent"] == {"q": "pen", "limit": 3}
    renamed = await call(app, era, "rename", {"tid": "t1", "name": "new"})
    assert orjson.loads(text_of(renamed)) == {"tid": "t1", "body": {"name": "new"}}


@pytest.mark.parametrize("era", ERAS)
async def test_a_nested_mount_and_a_lambda_are_reached(era: str) -> None:
    assert text_of(await call(build(), era, "get_v1_deep_ping", {})) == "pong"


# -- a FastAPI app mounted in a Starlette app ------------------------------------------------------


def inner_api() -> FastAPI:
    api = FastAPI()

    @api.get("/items/{item_id}")
    async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    @api.get("/files/{name:path}")
    async def fetch(name: str) -> dict[str, str]:
        return {"name": name}

    return api


def mounted() -> Starlette:
    outer = Starlette(routes=[Route("/health", hidden), Mount("/api", app=inner_api())])
    outer.add_middleware(MCPMiddleware)
    return outer


def test_a_mounted_fastapi_app_brings_its_own_operations() -> None:
    tools = catalog_from_app(Starlette(routes=[Route("/health", hidden), Mount("/api", app=inner_api())])).tools
    assert [(t.name, t.path) for t in tools] == [
        ("hidden", "/health"),
        ("read_item", "/api/items/{item_id}"),
        ("fetch", "/api/files/{name}"),
    ]
    schema = tools[1].tool["inputSchema"]
    assert schema["properties"]["item_id"]["type"] == "integer"
    assert schema["properties"]["q"]["type"] == "string"
    assert "query" not in schema["properties"]  # FastAPI declares its parameters


def test_a_mounted_fastapi_app_under_a_parameterised_prefix() -> None:
    app = Starlette(routes=[Mount("/t/{tenant}", app=inner_api())])
    read = catalog_from_app(app).tools[0]
    assert read.path == "/t/{tenant}/items/{item_id}"
    assert read.tool["inputSchema"]["required"][:2] == ["tenant", "item_id"]
    assert read.build_request({"tenant": "acme", "item_id": 1}).path == "/t/acme/items/1"


@pytest.mark.parametrize("era", ERAS)
async def test_a_mounted_fastapi_app_is_called_through_the_mount(era: str) -> None:
    app = mounted()
    result = await call(app, era, "read_item", {"item_id": 5, "q": "x"})
    assert orjson.loads(text_of(result)) == {"item_id": 5, "q": "x"}
    assert orjson.loads(text_of(await call(app, era, "fetch", {"name": "a/b"}))) == {"name": "a/b"}


# -- nothing to expose -----------------------------------------------------------------------------


def test_an_app_without_http_routes_says_what_it_found(caplog: pytest.LogCaptureFixture) -> None:
    app = Starlette(
        routes=[WebSocketRoute("/ws", ws), Mount("/static", app=StaticFiles(directory="/x", check_dir=False))]
    )
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert catalog_from_app(app).tools == ()
    assert "no HTTP route" in caplog.text
    assert "WebSocketRoute /ws" in caplog.text
    assert "Mount /static" in caplog.text


def test_an_app_without_routes_or_openapi_says_so(caplog: pytest.LogCaptureFixture) -> None:
    async def bare(scope: Any, receive: Any, send: Any) -> None:
        pass

    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert catalog_from_app(bare).tools == ()
    assert "neither openapi() nor routes" in caplog.text


def test_two_mounted_fastapi_apps_keep_their_own_models() -> None:
    """Components of one name but other content are renamed, with the references to them."""
    from pydantic import create_model

    def api_with(field: str) -> FastAPI:
        model = create_model("Item", **{field: (int, ...)})  # type: ignore[call-overload]
        api = FastAPI()

        async def create(item: Any) -> Any:
            return item

        create.__annotations__ = {"item": model, "return": model}  # real classes, not strings
        api.post("/items")(create)
        return api

    app = Starlette(routes=[Mount("/a", app=api_with("size")), Mount("/b", app=api_with("weight"))])
    tools = catalog_from_app(app).tools
    assert [(t.name, t.path) for t in tools] == [
        ("create_a_items_post", "/a/items"),  # the catalog's rule for one function on two paths
        ("create_b_items_post", "/b/items"),
    ]
    assert tools[0].tool["outputSchema"]["properties"] == {"size": {"type": "integer", "title": "Size"}}
    assert tools[1].tool["outputSchema"]["properties"] == {"weight": {"type": "integer", "title": "Weight"}}
    assert tools[1].tool["inputSchema"]["required"] == ["weight"]


def test_an_object_query_parameter_of_any_document_is_exploded() -> None:
    from mcp_middleware.catalog import build_catalog

    def param(**extra: Any) -> dict[str, Any]:
        return {"name": "f", "in": "query", "schema": {"type": "object"}, **extra}

    doc = {"paths": {"/a": {"get": {"operationId": "a", "parameters": [param()]}}}}
    sub = build_catalog(doc).tools[0].build_request({"f": {"x": 1, "y": ["p q", None], "z": None}})
    assert sub.query_string == b"x=1&y=p+q"
    doc = {"paths": {"/a": {"get": {"operationId": "a", "parameters": [param(explode=False)]}}}}
    with pytest.raises(ArgumentError, match="string, number or boolean"):
        build_catalog(doc).tools[0].build_request({"f": {"x": 1}})  # not exploded: as before


@pytest.mark.parametrize("era", ERAS)
async def test_a_yaml_docstring_declares_a_resource(era: str) -> None:
    pytest.importorskip("yaml")

    async def readme(request: Request) -> PlainTextResponse:
        """The read-me.

        ---
        x-mcp-resource:
          uri: docs://readme
          mimeType: text/markdown
        """
        return PlainTextResponse("# Read me")

    app = Starlette(routes=[Route("/readme", readme)])
    app.add_middleware(MCPMiddleware)
    params = {"uri": "docs://readme"}
    if era == "legacy":
        listed = (await call_legacy(app, "resources/list")).result()
        read = (await call_legacy(app, "resources/read", params)).result()
    else:
        listed = (await call_modern(app, "resources/list")).result()
        read = (await call_modern(app, "resources/read", params, name="docs://readme")).result()
    assert [r["uri"] for r in listed["resources"]] == ["docs://readme"]
    assert read["contents"][0]["text"] == "# Read me"
    assert catalog_from_app(app).tools == ()  # declared: not also a tool


# -- docstrings that only look like YAML, YAML that is not there, what the YAML cannot say ---------


async def list_orders(request: Request) -> JSONResponse:
    """List the customer's orders, newest first.

    Parameters
    ----------
    status : str, optional
        Only orders in this status.

    Returns
    -------
    list of dict
        The orders, each with its id, status and total.
    """
    return JSONResponse([])


async def convert(request: Request) -> JSONResponse:
    """Convert an amount between currencies.

    ---

    Rates: refreshed hourly; amounts: rounded to 2 decimals.
    """
    return JSONResponse({})


async def ruled(request: Request) -> JSONResponse:
    """Ruled prose.

    ---

    More prose after a Markdown rule.
    """
    return JSONResponse({})


async def yaml_only(request: Request) -> JSONResponse:
    """
    responses:
      200:
        description: A list of users.
    """
    return JSONResponse([])


@pytest.mark.parametrize("pyyaml", [True, False])
def test_dashes_that_are_no_yaml_marker_keep_the_whole_docstring(
    pyyaml: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """NumPy section underlines and Markdown rules hold ``---``: what follows them is no operation
    mapping, so the docstring is prose, whole, and nothing is logged."""
    import starlette.schemas

    if pyyaml:
        pytest.importorskip("yaml")
    else:
        monkeypatch.setattr(starlette.schemas, "yaml", None)
    app = Starlette(routes=[Route("/orders", list_orders), Route("/convert", convert), Route("/ruled", ruled)])
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        tools = {t.name: t.tool for t in catalog_from_app(app).tools}
    assert tools["list_orders"]["description"] == inspect.cleandoc(list_orders.__doc__ or "")
    assert tools["convert"]["description"] == inspect.cleandoc(convert.__doc__ or "")
    assert tools["ruled"]["description"] == inspect.cleandoc(ruled.__doc__ or "")
    assert caplog.text == ""


def test_without_pyyaml_a_yaml_only_docstring_is_no_description(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The Starlette docs' own format (YAML alone, no ``---``) is not shown raw as the description,
    and the log names it among the docstrings whose YAML went unread."""
    import starlette.schemas

    monkeypatch.setattr(starlette.schemas, "yaml", None)
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        tools = {t.name: t.tool for t in catalog_from_app(Starlette(routes=[Route("/users", yaml_only)])).tools}
    assert tools["yaml_only"]["description"] == "GET /users"
    assert "PyYAML is not installed" in caplog.text
    assert "yaml_only" in caplog.text


def test_with_pyyaml_a_yaml_only_docstring_is_read() -> None:
    pytest.importorskip("yaml")
    tools = {t.name: t.tool for t in catalog_from_app(Starlette(routes=[Route("/users", yaml_only)])).tools}
    assert tools["yaml_only"]["description"] == "GET /users"


def _pets_app() -> Starlette:
    async def create_pet(request: Request) -> JSONResponse:
        """Create a pet.
        ---
        requestBody:
          required: true
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/Pet'
        responses:
          201:
            description: created
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/Pet'
        """
        return JSONResponse(await request.json(), status_code=201)

    return Starlette(routes=[Route("/pets", create_pet, methods=["POST"])])


def test_a_ref_to_components_the_middleware_cannot_see_is_warned_about_and_free_form(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The components of the app's own ``SchemaGenerator`` are out of the middleware's sight: the
    reference is named in a warning, and the body is a documented free-form argument."""
    pytest.importorskip("yaml")
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        tools = catalog_from_app(_pets_app()).tools
    assert "create_pet" in caplog.text
    assert "#/components/schemas/Pet" in caplog.text
    schema = tools[0].tool["inputSchema"]
    assert list(schema["properties"]) == ["query", "body"]
    body = schema["properties"]["body"]
    assert list(body) == ["description"]  # any JSON value: what the schema was is unknown here
    assert "#/components/schemas/Pet" in body["description"]
    assert schema["required"] == ["body"]  # as the docstring says: the route reads a body
    assert "outputSchema" not in tools[0].tool


def test_the_refs_of_an_explicit_input_schema_are_its_own(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("yaml")

    async def tagged(request: Request) -> JSONResponse:
        """Tagged.
        ---
        x-mcp-input-schema:
          type: object
          properties: {tag: {$ref: '#/$defs/Tag'}}
          $defs: {Tag: {type: string}}
        """
        return JSONResponse({})

    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        tools = catalog_from_app(Starlette(routes=[Route("/t", tagged)])).tools
    assert tools[0].tool["inputSchema"]["properties"] == {"tag": {"$ref": "#/$defs/Tag"}}
    assert caplog.text == ""


@pytest.mark.parametrize("era", ERAS)
async def test_a_free_form_body_of_an_unresolved_ref_reaches_the_route(era: str) -> None:
    pytest.importorskip("yaml")
    app = _pets_app()
    app.add_middleware(MCPMiddleware)
    result = await call(app, era, "create_pet", {"body": {"name": "rex"}})
    assert orjson.loads(text_of(result)) == {"name": "rex"}


async def body_ref(request: Request) -> JSONResponse:
    """Create a pet.
    ---
    requestBody:
      $ref: '#/components/requestBodies/Pet'
    """
    return JSONResponse({"body": (await request.body()).decode()})


async def param_ref(request: Request) -> JSONResponse:
    """List with a shared parameter.
    ---
    parameters:
      - $ref: '#/components/parameters/Limit'
      - {name: q, in: query, schema: {type: string}}
    """
    return JSONResponse({"qs": request.scope["query_string"].decode()})


def _refs_app() -> Starlette:
    return Starlette(routes=[Route("/pets", body_ref, methods=["POST"]), Route("/list", param_ref)])


def test_an_unresolved_request_body_is_a_free_form_body(caplog: pytest.LogCaptureFixture) -> None:
    """It used to leave the tool with no body argument at all, though the warning said "taken as
    any value"."""
    pytest.importorskip("yaml")
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        tools = {t.name: t.tool for t in catalog_from_app(_refs_app()).tools}
    schema = tools["body_ref"]["inputSchema"]
    assert list(schema["properties"]) == ["query", "body"]
    assert schema["properties"]["body"] == {
        "description": "Free-form: its definition, #/components/requestBodies/Pet, is not published."
    }
    assert "required" not in schema  # whether the unseen definition requires it is unknown
    [warning] = [r.getMessage() for r in caplog.records if "body_ref" in r.getMessage()]
    assert "#/components/requestBodies/Pet" in warning
    assert "the request body is a free-form `body` argument" in warning
    assert "taken as any value" not in warning


def test_an_unresolved_parameter_leaves_the_free_query_argument(caplog: pytest.LogCaptureFixture) -> None:
    """The free ``query`` object used to be left out whenever another query parameter was declared:
    the unseen parameter could not be sent at all."""
    pytest.importorskip("yaml")
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        tools = {t.name: t.tool for t in catalog_from_app(_refs_app()).tools}
    properties = tools["param_ref"]["inputSchema"]["properties"]
    assert list(properties) == ["q", "query"]
    assert properties["query"] == {
        "type": "object",
        "description": FREE_QUERY["description"]
        + " Among them #/components/parameters/Limit, whose definition is not published.",
    }
    [warning] = [r.getMessage() for r in caplog.records if "param_ref" in r.getMessage()]
    assert "#/components/parameters/Limit" in warning
    assert "a parameter is left out (a query parameter's value goes in the free-form `query` argument)" in warning
    assert "taken as any value" not in warning


@pytest.mark.parametrize("era", ERAS)
async def test_unresolved_refs_reach_the_route_through_the_free_arguments(era: str) -> None:
    pytest.importorskip("yaml")
    app = _refs_app()
    app.add_middleware(MCPMiddleware)
    result = await call(app, era, "body_ref", {"body": {"name": "rex"}})
    assert orjson.loads(text_of(result)) == {"body": '{"name":"rex"}'}
    result = await call(app, era, "param_ref", {"q": "x", "query": {"limit": 3}})
    assert orjson.loads(text_of(result)) == {"qs": "q=x&limit=3"}


@pytest.mark.parametrize(
    ("declared", "required"), [("requestBody: hello", False), ("requestBody: {required: true}", True)]
)
def test_a_request_body_without_content_is_a_free_body(
    declared: str, required: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A body method's ``requestBody`` that is not a mapping with ``content`` used to take the body
    argument away."""
    pytest.importorskip("yaml")

    async def post(request: Request) -> JSONResponse:
        return JSONResponse({"body": (await request.body()).decode()})

    post.__doc__ = declared
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        [tool] = catalog_from_app(Starlette(routes=[Route("/p", post, methods=["POST"])])).tools
    schema = tool.tool["inputSchema"]
    assert schema["properties"]["body"] == {"type": "object", "description": "The request's JSON body."}
    assert schema.get("required", []) == (["body"] if required else [])
    assert "its requestBody has no content: the request body is a free-form `body` argument" in caplog.text


def test_a_get_routes_request_body_without_content_gives_no_body(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("yaml")

    async def get(request: Request) -> JSONResponse:
        return JSONResponse({})

    get.__doc__ = "requestBody: {required: true}"
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        [tool] = catalog_from_app(Starlette(routes=[Route("/g", get)])).tools
    schema = tool.tool["inputSchema"]
    assert list(schema["properties"]) == ["query"]
    assert "required" not in schema
    assert "requestBody" not in caplog.text


async def own_query(request: Request) -> JSONResponse:
    """Search with a shared parameter.
    ---
    parameters:
      - $ref: '#/components/parameters/Limit'
      - {name: query, in: query, description: "The search text.", schema: {type: string}}
    """
    return JSONResponse({})


def test_an_unresolved_parameter_beside_the_routes_own_query_parameter_leaves_it_as_declared(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The route's ``query`` parameter takes the free object's name: nothing can carry the unseen
    parameter, and the route's own parameter keeps its description."""
    pytest.importorskip("yaml")
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        [tool] = catalog_from_app(Starlette(routes=[Route("/search", own_query)])).tools
    properties = tool.tool["inputSchema"]["properties"]
    assert properties == {"query": {"type": "string", "description": "The search text."}}
    [warning] = [r.getMessage() for r in caplog.records if "own_query" in r.getMessage()]
    assert "#/components/parameters/Limit" in warning
    assert "a parameter is left out. " in warning


async def note(request: Request) -> JSONResponse:
    """Store a plain-text note.
    ---
    requestBody:
      required: true
      content:
        text/plain:
          schema: {type: string}
    """
    text = (await request.body()).decode()
    return JSONResponse({"text": text, "type": request.headers["content-type"]})


@pytest.mark.parametrize("era", ERAS)
async def test_a_text_body_is_a_string_argument_sent_as_is(era: str) -> None:
    pytest.importorskip("yaml")
    app = Starlette(routes=[Route("/note", note, methods=["POST"])])
    app.add_middleware(MCPMiddleware)
    listed = catalog_from_app(app).tools[0].tool["inputSchema"]
    assert listed["properties"]["body"] == {"type": "string"}
    assert listed["required"] == ["body"]
    result = await call(app, era, "note", {"body": "buy milk"})
    assert orjson.loads(text_of(result)) == {"text": "buy milk", "type": "text/plain"}


@pytest.mark.parametrize("era", ERAS)
async def test_a_float_path_value_is_written_without_an_exponent(era: str) -> None:
    """Starlette's ``:float`` matches ``[0-9]+(\\.[0-9]+)?``: ``1e-07`` was a 404."""
    app = build()
    for value in (1e-07, 1e20, 2.5e-10):
        result = await call(app, era, "measure", {"value": value})
        assert orjson.loads(text_of(result)) == {"value": value}, value


async def searched(request: Request) -> JSONResponse:
    """Search.
    ---
    x-mcp-input-schema:
      type: object
      properties:
        q: {type: string}
        tags: {$ref: '#/$defs/Tags'}
        item: {$ref: '#/$defs/Item'}
        filter: {type: object, properties: {k: {type: string}}}
      $defs:
        Tags: {type: array, items: {type: string}}
        Item: {type: object, properties: {a: {type: integer}}}
    """
    query = request.query_params
    return JSONResponse(
        {
            "pairs": list(query.multi_items()),
            "item": orjson.loads(query["item"]) if "item" in query else None,
            "filter": orjson.loads(query["filter"]) if "filter" in query else None,
        }
    )


def app_document(app: Starlette) -> dict[str, Any]:
    from mcp_middleware._route_document import route_document

    made = route_document(app)
    assert made is not None
    return made.document


def test_an_object_property_of_an_explicit_input_schema_is_a_json_query_parameter() -> None:
    """An object (inline, or a ``$ref`` into the schema's own ``$defs``) sent into the query string
    was exploded (``?k=v``, its name lost) or refused (the ``$ref`` resolved nowhere): it is a
    parameter of JSON content, the others keeping their schema."""
    pytest.importorskip("yaml")
    for method in ("GET", "DELETE"):
        app = Starlette(routes=[Route("/search", searched, methods=[method])])
        document = app_document(app)
        operation = document["paths"]["/search"][method.lower()]
        params = {p["name"]: p for p in operation["parameters"]}
        assert params["q"] == {"name": "q", "in": "query", "schema": {"type": "string"}}
        assert params["tags"] == {
            "name": "tags",
            "in": "query",
            "schema": {"type": "array", "items": {"type": "string"}},
        }
        item = {"type": "object", "properties": {"a": {"type": "integer"}}}
        assert params["item"] == {"name": "item", "in": "query", "content": {"application/json": {"schema": item}}}
        inline = {"type": "object", "properties": {"k": {"type": "string"}}}
        assert params["filter"] == {
            "name": "filter",
            "in": "query",
            "content": {"application/json": {"schema": inline}},
        }


@pytest.mark.parametrize("era", ERAS)
async def test_an_object_property_of_an_explicit_input_schema_reaches_the_route_as_json(era: str) -> None:
    pytest.importorskip("yaml")
    app = Starlette(routes=[Route("/search", searched)])
    app.add_middleware(MCPMiddleware)
    arguments = {"q": "x y", "tags": ["a", "b"], "item": {"a": 1}, "filter": {"k": "v w"}}
    result = await call(app, era, "searched", arguments)
    assert orjson.loads(text_of(result)) == {
        "pairs": [["q", "x y"], ["tags", "a"], ["tags", "b"], ["item", '{"a":1}'], ["filter", '{"k":"v w"}']],
        "item": {"a": 1},
        "filter": {"k": "v w"},
    }
    sub = catalog_from_app(app).tools[0].build_request({"item": {"a": 1}})
    assert sub.query_string == b"item=%7B%22a%22%3A1%7D"


async def tag(request: Request) -> JSONResponse:
    """Tag a thing.
    ---
    x-mcp-input-schema:
      type: object
      properties:
        tid: {type: string}
        tags: {type: array, items: {type: string}}
        note: {type: string}
      required: [tid, tags]
    """
    return JSONResponse({"tid": request.path_params["tid"], "body": await request.json()})


async def retitle(request: Request) -> JSONResponse:
    """Retitle a thing.
    ---
    requestBody:
      content:
        application/json:
          schema: {type: object, properties: {title: {type: string}}, additionalProperties: true}
    x-mcp-input-schema:
      type: object
      properties:
        tid: {type: string}
        title: {type: string}
        colour: {type: string}
    """
    return JSONResponse({"tid": request.path_params["tid"], "body": await request.json()})


@pytest.mark.parametrize("era", ERAS)
async def test_the_properties_an_explicit_input_schema_of_a_post_route_adds_reach_its_json_body(era: str) -> None:
    """Without a YAML ``requestBody`` they are the properties of a JSON body; with one, it is the
    catalog's rule: an open body takes them."""
    pytest.importorskip("yaml")
    app = Starlette(
        routes=[
            Route("/things/{tid}/tags", tag, methods=["POST"]),
            Route("/things/{tid}/title", retitle, methods=["PUT"]),
        ]
    )
    body = app_document(app)["paths"]["/things/{tid}/tags"]["post"]["requestBody"]
    schema = {
        "type": "object",
        "properties": {"tags": {"type": "array", "items": {"type": "string"}}, "note": {"type": "string"}},
    }
    assert body == {"content": {"application/json": {"schema": schema}}}
    app.add_middleware(MCPMiddleware)
    result = await call(app, era, "tag", {"tid": "t1", "tags": ["a"], "note": "n"})
    assert orjson.loads(text_of(result)) == {"tid": "t1", "body": {"tags": ["a"], "note": "n"}}
    result = await call(app, era, "retitle", {"tid": "t2", "title": "T", "colour": "red"})
    assert orjson.loads(text_of(result)) == {"tid": "t2", "body": {"title": "T", "colour": "red"}}


async def looping(request: Request) -> JSONResponse:
    """Loops.
    ---
    x-mcp-input-schema:
      type: object
      properties:
        a: {$ref: '#/$defs/A'}
        tree: {$ref: '#/$defs/Tree'}
        flag: {$ref: '#/$defs/Flag'}
        rows: {type: array, items: {type: object}}
      $defs:
        A: {$ref: '#/$defs/B'}
        B: {$ref: '#/$defs/A'}
        Tree: {type: array, items: {$ref: '#/$defs/Tree'}}
        Flag: true
    """
    return JSONResponse({"pairs": list(request.query_params.multi_items())})


@pytest.mark.parametrize("era", ERAS)
async def test_references_that_loop_in_an_explicit_input_schema_are_followed_a_bounded_way(era: str) -> None:
    """Whether a query property may be an object follows its ``$ref``s and its arrays' items: two
    schemas referring to each other, or an array of itself, end the walk (it recursed without end);
    a reference to a boolean schema is kept as it is. An array of objects is sent as JSON."""
    pytest.importorskip("yaml")
    app = Starlette(routes=[Route("/loop", looping)])
    params = {p["name"]: p for p in app_document(app)["paths"]["/loop"]["get"]["parameters"]}
    assert params["a"] == {"name": "a", "in": "query", "schema": {"$ref": "#/$defs/A"}}
    assert params["tree"] == {
        "name": "tree",
        "in": "query",
        "schema": {"type": "array", "items": {"$ref": "#/$defs/Tree"}},
    }
    assert params["flag"] == {"name": "flag", "in": "query", "schema": {"$ref": "#/$defs/Flag"}}
    rows = {"type": "array", "items": {"type": "object"}}
    assert params["rows"] == {"name": "rows", "in": "query", "content": {"application/json": {"schema": rows}}}
    app.add_middleware(MCPMiddleware)
    result = await call(app, era, "looping", {"a": 1, "flag": "x", "rows": [{"k": 1}]})
    assert orjson.loads(text_of(result)) == {"pairs": [["a", "1"], ["flag", "x"], ["rows", '[{"k":1}]']]}


def test_a_ref_into_another_document_is_warned_about_and_free_form(caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("yaml")

    async def upload(request: Request) -> JSONResponse:
        """Upload.
        ---
        requestBody:
          content:
            application/json:
              schema: {$ref: 'shared.yaml#/Upload'}
        """
        return JSONResponse(await request.json())

    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        [tool] = catalog_from_app(Starlette(routes=[Route("/up", upload, methods=["POST"])])).tools
    assert "shared.yaml#/Upload" in caplog.text
    assert tool.tool["inputSchema"]["properties"]["body"] == {
        "description": "Free-form: its schema, shared.yaml#/Upload, is not published."
    }


async def latin_note(request: Request) -> JSONResponse:
    """Store a Latin-1 note.
    ---
    requestBody:
      required: true
      content:
        text/plain; charset=iso-8859-1:
          schema: {type: string}
    """
    return JSONResponse({"text": (await request.body()).decode("iso-8859-1")})


@pytest.mark.parametrize("era", ERAS)
async def test_a_text_body_is_encoded_in_its_declared_charset(era: str) -> None:
    pytest.importorskip("yaml")
    app = Starlette(routes=[Route("/note", latin_note, methods=["POST"])])
    app.add_middleware(MCPMiddleware)
    result = await call(app, era, "latin_note", {"body": "café"})
    assert orjson.loads(text_of(result)) == {"text": "café"}  # was UTF-8: "cafÃ©"
    result = await call(app, era, "latin_note", {"body": "10 €"})
    assert result["isError"] is True
    assert "argument 'body' has '€', which charset 'iso-8859-1' cannot encode" in text_of(result)
