"""A mount whose prefix ends in a ``path`` parameter (``Mount("/p/{p:path}", ...)``).

Starlette compiles a mount's prefix with ``/{path:path}`` (the rest) after it, so the prefix's
``.*`` reads the parameter greedily, up to the last ``/`` of the path: the mount's routes only
ever see the path's last segment. A route of one segment there is reached with every value
(``p="a/b"`` too, as a direct request of the rendered path is); a route of more (``/q/r``) is
never reached with the value sent (``/p/a/q/r`` is read as ``p="a/q"`` and ``/r``: a 404, or
another route of the mount answers), so its tool is left out, with a warning saying why. Each
case is compared with a direct GET of the rendered path."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware.catalog import catalog_from_app
from tests.support import call_legacy, call_modern
from tests.support import call_tool as call
from tests.support import refusal_text as refusal
from tests.support import result_json as text

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]


def starlette_app(runs: Counter[str]) -> Starlette:
    def endpoint(name: str) -> Any:
        async def answer(request: StarletteRequest) -> JSONResponse:
            runs[name] += 1
            return JSONResponse({"route": name, **request.path_params})

        return answer

    routes = [
        Mount("/p/{p:path}", routes=[Route("/q/r", endpoint("deep"), name="deep")]),
        Mount("/s/{p:path}", routes=[Route("/r", endpoint("one_segment"), name="one_segment")]),
        Mount("/t/{p:path}", routes=[Route("/{x:path}", endpoint("inner_path"), name="inner_path")]),
        Mount("/u/{p:path}/x", routes=[Route("/{y}/{n:int}", endpoint("typed"), name="typed")]),
        Mount("/v/{p:path}", routes=[Mount("/w", routes=[Route("/r", endpoint("nested"), name="nested")])]),
        Mount("/y/{p:path}/x", routes=[Route("/r/x/s", endpoint("literal_after"), name="literal_after")]),
        Mount("/z/{p:path}", routes=[Route("/", endpoint("root"), name="root")]),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(MCPMiddleware)
    return app


def fastapi_app(runs: Counter[str]) -> FastAPI:
    sub = FastAPI()

    @sub.get("/r", operation_id="sub_one")
    async def one(request: Request) -> dict[str, Any]:
        runs["sub_one"] += 1
        return {"route": "sub_one", **request.path_params}

    @sub.get("/q/r", operation_id="sub_deep")
    async def deep(request: Request) -> dict[str, Any]:
        runs["sub_deep"] += 1
        return {"route": "sub_deep", **request.path_params}

    @sub.get("/w/r", openapi_extra=declare.prompt("deep_prompt"))
    async def deep_prompt(request: Request) -> str:
        return "unreached"

    @sub.get("/w", openapi_extra=declare.prompt("one_prompt"))
    async def one_prompt(request: Request) -> str:
        return f"under {request.path_params['p']}"

    included = APIRouter()

    @included.get("/q/r", operation_id="included_deep")
    async def included_deep(p: str) -> dict[str, Any]:
        runs["included_deep"] += 1
        return {"route": "included_deep", "p": p}

    app = FastAPI()
    app.mount("/p/{p:path}", sub)
    app.include_router(included, prefix="/i/{p:path}")  # a route's own path: no mount's rest after ``p``
    app.add_middleware(MCPMiddleware)
    return app


async def direct(app: Any, path: str) -> Any:
    """A direct GET of ``path``: what the router does with the rendered path."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8000") as client:
        response = await client.get(path)
    return response.json() if response.status_code == 200 else response.status_code


def tool_names(app: Any) -> set[str]:
    return {spec.name for spec in catalog_from_app(app).tools}


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("name", "arguments", "path"),
    [
        ("one_segment", {"p": "a"}, "/s/a/r"),
        ("one_segment", {"p": "a/b"}, "/s/a/b/r"),
        ("one_segment", {"p": "r/r"}, "/s/r/r/r"),
        ("inner_path", {"p": "a/b", "x": "c"}, "/t/a/b/c"),
        ("root", {"p": "a/b"}, "/z/a/b/"),
        ("typed", {"p": "a/b", "y": "c", "n": 5}, "/u/a/b/x/c/5"),
        ("typed", {"p": "a/x", "y": "c", "n": 5}, "/u/a/x/x/c/5"),
    ],
)
async def test_a_value_the_router_reads_back_as_sent_reaches_the_route(
    era: str, name: str, arguments: dict[str, Any], path: str
) -> None:
    runs: Counter[str] = Counter()
    app = starlette_app(runs)
    expected = {"route": name, **{key: str(value) if key != "n" else value for key, value in arguments.items()}}
    assert await direct(app, path) == expected
    assert text(await call(app, era, name, arguments)) == expected
    assert runs == Counter({name: 2})


@pytest.mark.parametrize("era", ERAS)
@pytest.mark.parametrize(
    ("name", "arguments", "path", "problem"),
    [
        (  # the mount's greedy ``p`` takes ``b/``, ``x`` what is left: the direct request reads other values
            "inner_path",
            {"p": "a", "x": "b/c"},
            "/t/a/b/c",
            "arguments 'p' and 'x' cannot be told apart in the path /t/{p:path}/{x:path}: "
            "the route would read p='a/b', x='c'",
        ),
        (  # the mount reads ``p`` up to the last "/x/", and hands its routes "/5": no route takes it
            "typed",
            {"p": "a", "y": "x", "n": 5},
            "/u/a/x/x/5",
            "argument 'p' cannot be told apart in the path /u/{p:path}/x/{y}/{n:int}: the mounts on its "
            "way would read p='a/x' and hand the route /5, which it does not take",
        ),
    ],
)
async def test_a_value_the_router_reads_otherwise_is_refused_naming_it(
    era: str, name: str, arguments: dict[str, Any], path: str, problem: str
) -> None:
    runs: Counter[str] = Counter()
    app = starlette_app(runs)
    assert await direct(app, path) != {"route": name, **arguments}
    runs.clear()
    assert refusal(await call(app, era, name, arguments)) == f"Invalid arguments for tool {name!r}: {problem}"
    assert runs == Counter()


async def test_a_route_the_mount_never_hands_its_path_is_no_tool(caplog: pytest.LogCaptureFixture) -> None:
    """``/p/a/q/r`` is read as ``p="a/q"`` and ``/r`` whatever ``p`` is: the direct request is a
    404, and the tool would answer every call with one."""
    runs: Counter[str] = Counter()
    app = starlette_app(runs)
    assert await direct(app, "/p/a/q/r") == 404
    assert await direct(app, "/v/a/w/r") == 404
    assert await direct(app, "/y/a/x/r/x/s") == 404
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        names = tool_names(app)
    assert names == {"one_segment", "inner_path", "typed", "root"}
    warnings = [record.getMessage() for record in caplog.records if "is left out" in record.getMessage()]
    assert warnings == [
        "Route GET /p/{p:path}/q/r is left out (no tool, prompt or resource): no call would reach it with the "
        "values given: the mount /p/{p:path} reads 'p' up to the last '/' of the path, and there is always "
        "one in /q/r after it, so 'p' would be read with part of it",
        "Route GET /v/{p:path}/w/r is left out (no tool, prompt or resource): no call would reach it with the "
        "values given: the mount /v/{p:path} reads 'p' up to the last '/' of the path, and there is always "
        "one in /w/r after it, so 'p' would be read with part of it",
        "Route GET /y/{p:path}/x/r/x/s is left out (no tool, prompt or resource): no call would reach it with "
        "the values given: the mount /y/{p:path}/x reads 'p' up to the last '/x/' of the path, and there is "
        "always one in /x/r/x/s after it, so 'p' would be read with part of it",
    ]
    assert runs == Counter()


@pytest.mark.parametrize("era", ERAS)
async def test_a_mounted_fastapi_app_under_a_path_prefix(era: str, caplog: pytest.LogCaptureFixture) -> None:
    """The mounted app's document gives ``p`` as a plain string: its ``:path`` converter is the
    mount's, so a value with ``/`` reaches the one-segment route as directly; the two-segment
    route, whose every request another route of the app answers (``/r``, with ``p="a/q"``), is no
    tool, and a prompt of two segments no prompt (one of one segment is). An included router's
    prefix is no mount: ``p`` is read up to the route's own ``/q/r``, as sent."""
    runs: Counter[str] = Counter()
    app = fastapi_app(runs)
    assert await direct(app, "/p/a/b/r") == {"route": "sub_one", "p": "a/b"}
    assert await direct(app, "/p/a/q/r") == {"route": "sub_one", "p": "a/q"}
    runs.clear()
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        assert tool_names(app) == {"sub_one", "included_deep"}
    assert any("Route GET /p/{p:path}/q/r is left out" in record.getMessage() for record in caplog.records)
    assert any("Route GET /p/{p:path}/w/r is left out" in record.getMessage() for record in caplog.records)
    assert text(await call(app, era, "sub_one", {"p": "a/b"})) == {"route": "sub_one", "p": "a/b"}
    assert await direct(app, "/i/a/q/r/q/r") == {"route": "included_deep", "p": "a/q/r"}
    assert text(await call(app, era, "included_deep", {"p": "a/q/r"})) == {"route": "included_deep", "p": "a/q/r"}
    reply = await (call_legacy(app, "prompts/list") if era == "legacy" else call_modern(app, "prompts/list", name=None))
    assert [prompt["name"] for prompt in reply.messages()[-1]["result"]["prompts"]] == ["one_prompt"]
    assert runs == Counter({"sub_one": 1, "included_deep": 2})


def test_a_route_reached_with_every_value_reads_nothing_back() -> None:
    """Decided when the catalog is built: the one-segment route under the ``path`` prefix, whose
    value is read back as sent whatever it is, has no ``split`` (only the mount's level, as every
    mounted route: a line feed the mount's pattern stops at)."""
    specs = {spec.name: spec for spec in catalog_from_app(starlette_app(Counter())).tools}
    guard = specs["one_segment"].guard
    assert guard is not None
    assert guard.split is None
    assert guard.values is None
