"""A path value that a route's typed convertor refuses is an argument error naming the argument and
what the path accepts, not a 404 and not "answered by another route".

Starlette's convertors match text: ``int`` ``[0-9]+``, ``float`` ``[0-9]+(\\.[0-9]+)?``, ``uuid``
hex 8-4-4-4-12 (Starlette 1.x: either case, hyphens optional; older: lowercase, hyphenated); ``str``
``[^/]+`` and ``path`` ``.*`` take any value the request builder sends. A value they refuse never
reaches the tool's route: the router goes on to the routes after it (a 404, or another route's
answer)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from fastapi import FastAPI, Path
from starlette import convertors
from starlette.applications import Starlette
from starlette.convertors import Convertor
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
INT = "must be a non-negative integer (the path {} accepts only digits)"
FLOAT = "must be a non-negative number (the path {} accepts only digits, with an optional decimal part)"
UUID = "must be a UUID (the path {} accepts only hex digits grouped 8-4-4-4-12, hyphens optional)"
UID = "12345678-1234-5678-1234-567812345678"
UPPER = "ABCDEF78-1234-5678-1234-567812345678"


def typed_app(runs: Counter[str]) -> Starlette:
    async def params(request: Request) -> JSONResponse:
        return JSONResponse({k: str(v) for k, v in request.path_params.items()})

    async def other(request: Request) -> JSONResponse:
        runs[request.url.path] += 1
        return JSONResponse({"route": "other"})

    routes = [
        Route("/items/{id:int}", params, name="get"),
        Route("/measures/{x:float}", params, name="measure"),
        Route("/users/{u:uuid}", params, name="user"),
        Route("/files/{p:path}", params, name="file"),
        Route("/numbers/{number:int}", params, name="number"),
        Route("/numbers/{slug}", other, include_in_schema=False),  # what the int route does not take
        Route("/codes/0", other, include_in_schema=False),  # a value the convertor takes, answered first here
        Route("/codes/{code:int}", params, name="code"),
        Mount("/shelves/{shelf:int}", routes=[Route("/books/{book}", params, name="book")]),
        Route("/shelves/{name}/books/{book}", other, include_in_schema=False),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("name", "arguments", "problem"),
    [
        ("get", {"id": "seven"}, "argument 'id' " + INT.format("/items/{id:int}")),
        ("get", {"id": True}, "argument 'id' " + INT.format("/items/{id:int}")),
        ("get", {"id": -3}, "argument 'id' " + INT.format("/items/{id:int}")),
        ("get", {"id": "7\n"}, "argument 'id' " + INT.format("/items/{id:int}")),
        ("measure", {"x": -1.5}, "argument 'x' " + FLOAT.format("/measures/{x:float}")),
        ("measure", {"x": "abc"}, "argument 'x' " + FLOAT.format("/measures/{x:float}")),
        ("measure", {"x": False}, "argument 'x' " + FLOAT.format("/measures/{x:float}")),
        ("user", {"u": "nope"}, "argument 'u' " + UUID.format("/users/{u:uuid}")),
        ("user", {"u": "12345678-1234-5678-1234-56781234567g"}, "argument 'u' " + UUID.format("/users/{u:uuid}")),
        # the routes after it that would take the value instead: still the convertor's refusal
        ("number", {"number": "seven"}, "argument 'number' " + INT.format("/numbers/{number:int}")),
        ("code", {"code": "x"}, "argument 'code' " + INT.format("/codes/{code:int}")),
        # a mount's convertor
        ("book", {"shelf": "top", "book": "b"}, "argument 'shelf' " + INT.format("/shelves/{shelf:int}/books/{book}")),
    ],
)
async def test_a_value_the_convertor_refuses_is_an_argument_error(
    era: str, name: str, arguments: dict[str, Any], problem: str
) -> None:
    runs: Counter[str] = Counter()
    app = typed_app(runs)
    assert refusal(await call(app, era, name, arguments)) == f"Invalid arguments for tool {name!r}: {problem}"
    assert runs == Counter()


@pytest.mark.parametrize("era", ERAS)
async def test_values_the_convertors_take_reach_the_route(era: str) -> None:
    runs: Counter[str] = Counter()
    app = typed_app(runs)
    assert text(await call(app, era, "get", {"id": 7})) == {"id": "7"}
    assert text(await call(app, era, "get", {"id": "007"})) == {"id": "7"}
    assert text(await call(app, era, "get", {"id": 5.0})) == {"id": "5"}
    assert text(await call(app, era, "measure", {"x": 1.5})) == {"x": "1.5"}
    assert text(await call(app, era, "measure", {"x": 2})) == {"x": "2.0"}
    assert text(await call(app, era, "user", {"u": UID})) == {"u": UID}
    assert text(await call(app, era, "user", {"u": UID.replace("-", "")})) == {"u": UID}
    assert text(await call(app, era, "user", {"u": UPPER})) == {"u": UPPER.lower()}
    assert text(await call(app, era, "file", {"p": "a/-1/b"})) == {"p": "a/-1/b"}
    assert text(await call(app, era, "book", {"shelf": 2, "book": "b"})) == {"shelf": "2", "book": "b"}
    assert runs == Counter()


@pytest.mark.parametrize("era", ERAS)
async def test_a_value_the_convertor_takes_that_another_route_answers_is_still_refused_as_such(era: str) -> None:
    runs: Counter[str] = Counter()
    app = typed_app(runs)
    assert refusal(await call(app, era, "code", {"code": 0})) == (
        "Invalid arguments for tool 'code': the path /codes/0 would be answered by another route of the app, "
        "not by this one"
    )
    assert text(await call(app, era, "code", {"code": 10})) == {"code": "10"}
    assert runs == Counter()


def test_only_tools_with_typed_convertors_or_routes_before_theirs_have_a_guard() -> None:
    """The check costs the tools without typed convertors nothing: they have no guard."""
    specs = {spec.name: spec for spec in catalog_from_app(typed_app(Counter())).tools}
    guarded = {name for name, spec in specs.items() if spec.guard is not None}
    assert guarded == {"get", "measure", "user", "number", "code", "book"}


def test_the_input_schema_says_what_the_convertors_accept() -> None:
    specs = {spec.name: spec for spec in catalog_from_app(typed_app(Counter())).tools}
    properties = {name: spec.tool["inputSchema"]["properties"] for name, spec in specs.items()}
    assert properties["get"]["id"] == {"type": "integer", "minimum": 0}
    assert properties["measure"]["x"] == {"type": "number", "minimum": 0}
    assert properties["user"]["u"] == {"type": "string", "format": "uuid", "minLength": 1}
    assert properties["book"]["shelf"] == {"type": "integer", "minimum": 0}


class Hex(Convertor[int]):
    regex = "[0-9a-f]+"

    def convert(self, value: str) -> int:
        return int(value, 16)

    def to_string(self, value: int) -> str:
        return format(value, "x")


@pytest.fixture
def hex_convertor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(convertors.CONVERTOR_TYPES, "testhex", Hex())


@pytest.mark.parametrize("era", ERAS)
async def test_a_custom_convertor_is_named_by_its_pattern(era: str, hex_convertor: None) -> None:
    async def colour(request: Request) -> JSONResponse:
        return JSONResponse({"value": request.path_params["value"]})

    app = Starlette(routes=[Route("/colours/{value:testhex}", colour)])
    app.add_middleware(MCPMiddleware)
    assert refusal(await call(app, era, "colour", {"value": "red"})) == (
        "Invalid arguments for tool 'colour': argument 'value' must match the pattern [0-9a-f]+ "
        "(the path /colours/{value:testhex} accepts only that)"
    )
    assert text(await call(app, era, "colour", {"value": "ff"})) == {"value": 255}


@pytest.mark.parametrize("era", ERAS)
async def test_a_prompt_of_a_fastapi_route_with_a_typed_convertor_is_invalid_params(era: str) -> None:
    app = FastAPI()

    @app.get("/things/{n:int}", openapi_extra=declare.prompt("thing"))
    async def thing(n: int) -> str:
        return f"thing {n}"

    app.add_middleware(MCPMiddleware)
    params = {"name": "thing", "arguments": {"n": "-1"}}
    reply = await (
        call_legacy(app, "prompts/get", params) if era == "legacy" else call_modern(app, "prompts/get", params, "thing")
    )
    assert reply.messages()[-1]["error"] == {
        "code": -32602,
        "message": "Invalid arguments for prompt 'thing': argument 'n' " + INT.format("/things/{n:int}"),
    }
    params = {"name": "thing", "arguments": {"n": "4"}}
    reply = await (
        call_legacy(app, "prompts/get", params) if era == "legacy" else call_modern(app, "prompts/get", params, "thing")
    )
    assert reply.messages()[-1]["result"]["messages"][0]["content"]["text"] == "thing 4"


def test_the_refusal_names_the_argument_where_it_is_not_the_parameter() -> None:
    """A parameter name longer than an argument's may be is cut: the refusal names the argument."""
    long = "n" * 70

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({})

    [spec] = catalog_from_app(Starlette(routes=[Route(f"/items/{{{long}:int}}", endpoint, name="get")])).tools
    [argument] = [name for name in spec.tool["inputSchema"]["properties"] if name != "query"]
    assert argument == "n" * 64
    with pytest.raises(ArgumentError) as refused:
        spec.build_request({argument: "x"})
    assert str(refused.value) == f"argument {argument!r} " + INT.format(f"/items/{{{long}:int}}")
    assert spec.build_request({argument: 3}).path == "/items/3"


def versioned_app() -> FastAPI:
    """A typed value after another in one segment: the router's pattern splits the text itself."""
    app = FastAPI()

    @app.get("/files/{name}-{version:int}", operation_id="get_file")
    async def get_file(name: str, version: int) -> dict[str, Any]:
        return {"name": name, "version": version}

    @app.get("/sizes/{size:float}", operation_id="get_size")
    async def get_size(size: float) -> dict[str, Any]:
        return {"size": size}

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ERAS)
async def test_each_typed_value_is_tested_as_given_not_read_back_from_the_path(era: str) -> None:
    """``report`` and ``-3`` make ``/files/report--3``, which the route's pattern splits as
    ``report-`` and ``3``: the value the model gave is refused, not another one run."""
    app = versioned_app()
    template = "/files/{name}-{version:int}"
    for version in (-3, "-3", "3x", True):
        result = await call(app, era, "get_file", {"name": "report", "version": version})
        assert refusal(result) == f"Invalid arguments for tool 'get_file': argument 'version' {INT.format(template)}"
    assert text(await call(app, era, "get_file", {"name": "report", "version": 3})) == {"name": "report", "version": 3}
    result = await call(app, era, "get_file", {"name": "report-", "version": 3})
    assert text(result) == {"name": "report-", "version": 3}
    assert text(await call(app, era, "get_file", {"name": "a-1", "version": 5.0})) == {"name": "a-1", "version": 5}
    # a float written as the path writes it (plain decimal), not as Python's repr
    assert text(await call(app, era, "get_size", {"size": 1e-07})) == {"size": 1e-07}
    result = await call(app, era, "get_size", {"size": -1e-07})
    assert refusal(result).endswith("argument 'size' " + FLOAT.format("/sizes/{size:float}"))


def test_a_fastapi_route_s_typed_convertors_give_minimum_0() -> None:
    """As the routes of a Starlette app do (their document is made from the convertors): a
    negative number would miss the pattern; a larger declared minimum stands."""
    app = FastAPI()

    @app.get("/files/{name}-{version:int}", operation_id="get_file")
    async def get_file(name: str, version: int) -> None: ...

    @app.get("/sizes/{size:float}", operation_id="get_size")
    async def get_size(size: float) -> None: ...

    @app.get("/pages/{page:int}", operation_id="get_page")
    async def get_page(page: int = Path(ge=1)) -> None: ...

    @app.get("/plain/{n}", operation_id="get_plain")
    async def get_plain(n: int) -> None: ...

    specs = {spec.name: spec for spec in catalog_from_app(app).tools}
    properties = {name: spec.tool["inputSchema"]["properties"] for name, spec in specs.items()}
    assert properties["get_file"]["version"] == {"type": "integer", "title": "Version", "minimum": 0}
    assert properties["get_file"]["name"] == {"type": "string", "title": "Name", "minLength": 1}
    assert properties["get_size"]["size"] == {"type": "number", "title": "Size", "minimum": 0}
    assert properties["get_page"]["page"] == {"type": "integer", "title": "Page", "minimum": 1}
    assert properties["get_plain"]["n"] == {"type": "integer", "title": "N"}  # no convertor: -3 is routed
    assert specs["get_plain"].guard is None


def test_the_guard_tests_the_arguments_not_the_path() -> None:
    """The values are the arguments' own texts, as the path writes them before encoding; the path
    is not parsed back."""
    spec = catalog_from_app(typed_app(Counter())).get("get")
    assert spec is not None
    assert spec.guard is not None
    spec.guard.check("/items/seven", {"id": 7})
    with pytest.raises(ArgumentError, match="argument 'id' must be"):
        spec.guard.check("/items/7", {"id": "seven"})
