"""What tells tools apart for the model: their descriptions (and for the user, their titles).

Two tools with the same description (a router included under two prefixes, one ``api_route`` with
two methods) each get their method and path after its first line; two with the same title get them
after it (``title`` and ``annotations.title``); a deprecated operation's description starts with
``Deprecated: ``.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI

from mcp_middleware.catalog import ToolFilter, build_catalog, catalog_from_app


def _descriptions(app: FastAPI) -> dict[str, str]:
    return {spec.name: spec.tool["description"] for spec in catalog_from_app(app).tools}


# FastAPI gives both methods of one api_route the same operation id, and warns
@pytest.mark.filterwarnings("ignore:Duplicate Operation ID:UserWarning")
def test_tools_whose_descriptions_collide_say_their_method_and_path() -> None:
    app = FastAPI()
    router = APIRouter(prefix="/r")

    @router.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"pong": True}

    app.include_router(router, prefix="/a")
    app.include_router(router, prefix="/b")

    @app.api_route("/multi", methods=["GET", "POST"])
    async def multi(x: int = 0) -> dict[str, int]:
        return {"x": x}

    @app.get("/alone")
    async def alone() -> None:
        return None

    assert _descriptions(app) == {
        "ping_a_r_ping_get": "Ping (GET /a/r/ping)",
        "ping_b_r_ping_get": "Ping (GET /b/r/ping)",
        "multi_get": "Multi (GET /multi)",
        "multi_post": "Multi (POST /multi)",
        "alone": "Alone",
    }


def _operation(summary: str, description: str | None = None, **extra: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {}, **extra}
    if description is not None:
        operation["description"] = description
    return operation


def test_the_method_and_path_go_after_the_first_line_of_a_longer_description() -> None:
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {"get": _operation("List", "Lines.\n\nMore.", operationId="x")},
            "/y": {"get": _operation("List", "Lines.\n\nMore.", operationId="y")},
            "/z": {"get": _operation("List", "Other.", operationId="z")},
        },
    }
    tools = {spec.name: spec.tool["description"] for spec in build_catalog(doc).tools}
    assert tools == {
        "x": "List (GET /x)\n\nLines.\n\nMore.",
        "y": "List (GET /y)\n\nLines.\n\nMore.",
        "z": "List\n\nOther.",
    }


def test_only_listed_tools_are_compared() -> None:
    """A filtered-out tool's description is not the model's concern."""
    app = FastAPI()

    @app.get("/one", tags=["kept"])
    async def same() -> None:
        return None

    @app.get("/two", tags=["other"], summary="Same")
    async def two() -> None:
        return None

    specs = catalog_from_app(app, tool_filter=ToolFilter(include_tags=frozenset({"kept"}))).tools
    assert [spec.tool["description"] for spec in specs] == ["Same"]


def test_a_deprecated_operation_says_so_first() -> None:
    app = FastAPI()

    @app.get("/old", deprecated=True, summary="Old thing")
    async def old() -> None:
        return None

    @app.get("/older", deprecated=True, summary="Older", description="Use /new.")
    async def older() -> None:
        return None

    @app.get("/new", deprecated=False, summary="New thing")
    async def new() -> None:
        return None

    specs = {spec.name: spec.tool for spec in catalog_from_app(app).tools}
    assert specs["old"]["description"] == "Deprecated: Old thing"
    assert specs["older"]["description"] == "Deprecated: Older\n\nUse /new."
    assert specs["new"]["description"] == "New thing"
    assert specs["old"]["title"] == "Old thing"  # the name clients show stays


def _labels(app: FastAPI) -> dict[str, tuple[str, str]]:
    return {spec.name: (spec.tool["title"], spec.tool["annotations"]["title"]) for spec in catalog_from_app(app).tools}


def test_tools_whose_titles_collide_say_their_method_and_path_in_them_too() -> None:
    """Review: same-named routes in two routers had their descriptions told apart, but not their
    titles, which is what clients show ("Ping" twice)."""
    admin, public = APIRouter(prefix="/admin"), APIRouter(prefix="/public")

    @admin.get("/ping")
    async def ping() -> dict[str, str]:
        return {"where": "admin"}

    @public.get("/ping", summary="Ping", description="The public one.")  # the same title, not the same description
    async def ping_public() -> dict[str, str]:
        return {"where": "public"}

    @public.get("/pong", summary="Pong", openapi_extra={"x-mcp-annotations": {"title": "Ball"}})
    async def pong() -> None:
        return None

    @public.get("/ball", summary="Ball")  # a title the other has from its annotations
    async def ball() -> None:
        return None

    app = FastAPI()
    app.include_router(admin)
    app.include_router(public)
    assert _labels(app) == {
        "ping": ("Ping (GET /admin/ping)", "Ping (GET /admin/ping)"),
        "ping_public": ("Ping (GET /public/ping)", "Ping (GET /public/ping)"),
        "pong": ("Ball (GET /public/pong)", "Ball (GET /public/pong)"),
        "ball": ("Ball (GET /public/ball)", "Ball (GET /public/ball)"),
    }
    assert _descriptions(app)["ping"] == "Ping"  # not the same as the other's


def test_titles_told_apart_are_only_those_that_collide() -> None:
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/x": {"get": _operation("List", "One.", operationId="x")},
            "/y": {"post": _operation("List", "Two.", operationId="y")},
            "/z": {"get": _operation("Other", operationId="z")},
        },
    }
    titles = {spec.name: (spec.tool["title"], spec.tool["annotations"]["title"]) for spec in build_catalog(doc).tools}
    assert titles == {
        "x": ("List (GET /x)", "List (GET /x)"),
        "y": ("List (POST /y)", "List (POST /y)"),
        "z": ("Other", "Other"),
    }
