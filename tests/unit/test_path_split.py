"""A path segment with two parameters or more (``/orders/{region}{number:int}``, ``/{left}-{right}``):
the router splits its text with the route's own pattern, greedily, so values that each pass
their convertor can still reach the route as other values (``EU`` and ``12345`` make ``EU12345``,
read as ``EU1234`` and ``5``). Such a call is an argument error naming the arguments and the path;
values the pattern gives back as sent reach the route."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware.catalog import ArgumentError, catalog_from_app
from tests.support import call_legacy, call_modern
from tests.support import call_tool as call
from tests.support import refusal_text as refusal
from tests.support import result_json as text

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]
ORDERS = "/orders/{region}{number:int}"
PAIR = "/pair/{left}-{right}"


def split_app(runs: Counter[str]) -> FastAPI:
    app = FastAPI()

    @app.get(ORDERS, operation_id="order")
    async def order(region: str, number: int) -> dict[str, Any]:
        runs["order"] += 1
        return {"region": region, "number": number}

    @app.get(PAIR, operation_id="pair")
    async def pair(left: str, right: str) -> dict[str, Any]:
        runs["pair"] += 1
        return {"left": left, "right": right}

    @app.get("/items/{item_id}", operation_id="get_item")
    async def get_item(item_id: str) -> dict[str, Any]:
        return {"item_id": item_id}

    @app.get("/pairs/{left}-{right}", openapi_extra=declare.prompt("pair_prompt"))
    async def pair_prompt(left: str, right: str) -> str:
        runs["pair_prompt"] += 1
        return f"{left} and {right}"

    @app.get("/resources/{left}-{right}", openapi_extra=declare.resource_template("test://pairs/{left}/{right}"))
    async def pair_resource(left: str, right: str) -> dict[str, Any]:
        runs["pair_resource"] += 1
        return {"left": left, "right": right}

    app.add_middleware(MCPMiddleware)
    return app


def apart(first: str, second: str, template: str, read: str) -> str:
    told = f"arguments {first!r} and {second!r} cannot be told apart in the path {template}"
    return f"{told}: the route would read {read}"


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("name", "arguments", "problem"),
    [
        ("order", {"region": "EU", "number": 12345}, apart("region", "number", ORDERS, "region='EU1234', number='5'")),
        ("pair", {"left": "a", "right": "b-c"}, apart("left", "right", PAIR, "left='a-b', right='c'")),
    ],
)
async def test_values_the_route_would_split_otherwise_are_refused(
    era: str, name: str, arguments: dict[str, Any], problem: str
) -> None:
    runs: Counter[str] = Counter()
    app = split_app(runs)
    assert refusal(await call(app, era, name, arguments)) == f"Invalid arguments for tool {name!r}: {problem}"
    assert runs == Counter()


@pytest.mark.parametrize("era", ERAS)
async def test_values_the_route_reads_back_as_given_reach_it(era: str) -> None:
    runs: Counter[str] = Counter()
    app = split_app(runs)
    assert text(await call(app, era, "order", {"region": "EU", "number": 7})) == {"region": "EU", "number": 7}
    assert text(await call(app, era, "order", {"region": "EU", "number": 5.0})) == {"region": "EU", "number": 5}
    assert text(await call(app, era, "pair", {"left": "a", "right": "b"})) == {"left": "a", "right": "b"}
    assert text(await call(app, era, "pair", {"left": "a-b", "right": "c"})) == {"left": "a-b", "right": "c"}
    assert text(await call(app, era, "pair", {"left": "a b", "right": "ü%"})) == {"left": "a b", "right": "ü%"}
    assert runs == Counter({"order": 2, "pair": 3})


@pytest.mark.parametrize("era", ERAS)
async def test_a_prompt_or_resource_read_that_the_route_would_split_otherwise_is_invalid_params(era: str) -> None:
    runs: Counter[str] = Counter()
    app = split_app(runs)
    requests: list[tuple[str, dict[str, Any], str]] = [
        ("prompts/get", {"name": "pair_prompt", "arguments": {"left": "a", "right": "b-c"}}, "pair_prompt"),
        ("resources/read", {"uri": "test://pairs/a/b-c"}, "test://pairs/a/b-c"),
    ]
    for method, params, name in requests:
        reply = await (call_legacy(app, method, params) if era == "legacy" else call_modern(app, method, params, name))
        error = reply.messages()[-1]["error"]
        assert error["code"] == -32602, error
        assert "cannot be told apart in the path /" in error["message"], error
    assert runs == Counter()
    params = {"name": "pair_prompt", "arguments": {"left": "a", "right": "b"}}
    reply = await (
        call_legacy(app, "prompts/get", params)
        if era == "legacy"
        else call_modern(app, "prompts/get", params, "pair_prompt")
    )
    assert reply.messages()[-1]["result"]["messages"][0]["content"]["text"] == "a and b"


def test_only_tools_with_two_parameters_in_a_segment_get_the_check() -> None:
    """Decided when the catalog is built: a tool whose segments hold one parameter each pays nothing."""
    specs = {spec.name: spec for spec in catalog_from_app(split_app(Counter())).tools}
    assert specs["get_item"].guard is None
    assert specs["pair"].guard is not None
    assert specs["order"].guard is not None


def starlette_app(runs: Counter[str]) -> Starlette:
    async def params(request: Request) -> JSONResponse:
        runs[request.url.path] += 1
        return JSONResponse(request.path_params)

    long = "n" * 70
    routes = [
        Mount("/t/{a}-{b}", routes=[Route("/x/{c}", params, name="mounted")]),
        Route(f"/long/{{{long}}}-{{m}}", params, name="long"),
        Route("/three/{a}-{b}-{c}", params, name="three"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_a_mount_s_segment_is_read_as_the_mount_reads_it(era: str) -> None:
    runs: Counter[str] = Counter()
    app = starlette_app(runs)
    result = await call(app, era, "mounted", {"a": "p", "b": "q-r", "c": "z"})
    assert refusal(result) == "Invalid arguments for tool 'mounted': " + apart(
        "a", "b", "/t/{a}-{b}/x/{c}", "a='p-q', b='r'"
    )
    assert runs == Counter()
    assert text(await call(app, era, "mounted", {"a": "p-q", "b": "r", "c": "z"})) == {"a": "p-q", "b": "r", "c": "z"}


def test_the_refusal_names_the_argument_where_it_is_not_the_parameter() -> None:
    spec = catalog_from_app(starlette_app(Counter())).get("long")
    assert spec is not None
    [argument] = [name for name in spec.tool["inputSchema"]["properties"] if name not in ("m", "query")]
    assert argument == "n" * 64
    with pytest.raises(ArgumentError) as refused:
        spec.build_request({argument: "a", "m": "b-c"})
    assert str(refused.value) == apart(argument, "m", "/long/{" + "n" * 70 + "}-{m}", f"{argument}='a-b', m='c'")
    assert spec.build_request({argument: "a", "m": "b"}).path == "/long/a-b"


def test_a_path_the_patterns_do_not_match_would_not_reach_the_route() -> None:
    """The check matches the path it is given, as the router would (a mount's pattern, then the
    route's): one they do not match is refused as not reaching the route."""
    specs = {spec.name: spec for spec in catalog_from_app(starlette_app(Counter())).tools}
    mounted, long = specs["mounted"].guard, specs["long"].guard
    assert mounted is not None
    assert long is not None
    arguments = {"a": "p", "b": "q", "c": "z"}
    mounted.check("/t/p-q/x/z", arguments)
    for path in ("/t/pq/x/z", "/t/p-q/y/z"):  # the mount's pattern, then the route's, not matched
        with pytest.raises(ArgumentError) as refused:
            mounted.check(path, arguments)
        assert str(refused.value) == f"the path {path} would not reach the route of this one"
    # a value with braces is quoted as it is, the template's as written
    with pytest.raises(ArgumentError) as refused:
        long.check("/long/{a-b}-c", {"n" * 64: "{a", "m": "b}-c"})
    read = "n" * 64 + "='{a-b}', m='c'"
    assert str(refused.value) == apart("n" * 64, "m", "/long/{" + "n" * 70 + "}-{m}", read)


def test_every_argument_read_otherwise_is_named() -> None:
    spec = catalog_from_app(starlette_app(Counter())).get("three")
    assert spec is not None
    with pytest.raises(ArgumentError) as refused:
        spec.build_request({"a": "x", "b": "y", "c": "z-w"})
    assert str(refused.value) == (
        "arguments 'a', 'b' and 'c' cannot be told apart in the path /three/{a}-{b}-{c}: "
        "the route would read a='x-y', b='z', c='w'"
    )
    assert spec.build_request({"a": "x-y", "b": "z", "c": "w"}).path == "/three/x-y-z-w"


TWO_PATHS = "/f/{p:path}/{q:path}"


def spanning_app(runs: Counter[str]) -> Starlette:
    async def params(request: Request) -> JSONResponse:
        runs[request.url.path] += 1
        return JSONResponse(request.path_params)

    routes = [
        Route(TWO_PATHS, params, name="two_paths"),
        Route("/last/{p}/{q:path}", params, name="path_last"),
        Route("/one/{p:path}", params, name="one_path"),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_a_path_value_followed_by_another_parameter_is_read_back_as_the_router_reads_it(era: str) -> None:
    """A ``path`` value may span segments: with a parameter after it, in another segment, the
    router's greedy pattern can still read the values otherwise (``a`` and ``b/c`` make
    ``/f/a/b/c``, read as ``a/b`` and ``c``)."""
    runs: Counter[str] = Counter()
    app = spanning_app(runs)
    result = await call(app, era, "two_paths", {"p": "a", "q": "b/c"})
    assert refusal(result) == "Invalid arguments for tool 'two_paths': " + apart("p", "q", TWO_PATHS, "p='a/b', q='c'")
    assert runs == Counter()
    assert text(await call(app, era, "two_paths", {"p": "a/b", "q": "c"})) == {"p": "a/b", "q": "c"}
    assert runs == Counter({"/f/a/b/c": 1})


def test_only_a_spanning_parameter_with_another_after_it_gets_the_check() -> None:
    specs = {spec.name: spec for spec in catalog_from_app(spanning_app(Counter())).tools}
    assert specs["two_paths"].guard is not None
    assert specs["path_last"].guard is None  # the ``path`` value is last: nothing after it to misread
    assert specs["one_path"].guard is None
