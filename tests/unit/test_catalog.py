"""OpenAPI -> MCP tools, and tool arguments -> HTTP sub-requests (``mcp_middleware.catalog``,
``_naming``, ``_tool_builder``, ``_requests``)."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
import logging
import re
from collections.abc import Iterator
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import unquote

import anyio
import jsonschema  # type: ignore[import-untyped]  # no stubs in the test dependencies
import orjson
import pytest
from fastapi import APIRouter, Body, Cookie, FastAPI, File, Form, Header, Path, Query, UploadFile
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Message

from mcp_middleware._ecma_regex import ecma_pattern
from mcp_middleware._operation_reader import _HEADER_NOTE as HEADER_NOTE
from mcp_middleware._schema import SchemaSet
from mcp_middleware._schema_nulls import collapse_optional, nulls_not_required
from mcp_middleware.catalog import (
    ArgumentError,
    Catalog,
    ToolFilter,
    ToolSpec,
    build_catalog,
    catalog_from_app,
)
from mcp_middleware.dispatch import SubRequest

LONG_ID = "an_explicit_operation_id_that_is_longer_than_forty_characters"
CUSTOM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"anything": {"type": "string", "x-vendor": True}},
    "required": ["anything"],
}


class Color(StrEnum):
    RED = "red"
    GREEN = "green"


class Dimensions(BaseModel):
    width: float
    height: float


class Item(BaseModel):
    name: str = Field(description="Display name")
    color: Color = Color.RED
    dimensions: Dimensions | None = None
    tags: list[str] = []


class UserPatch(BaseModel):
    email: str | None = None
    name: str | None = None


class StrictPatch(UserPatch):
    model_config = ConfigDict(extra="forbid")


class OpenPatch(BaseModel):
    model_config = ConfigDict(extra="allow")
    email: str | None = None
    nick: str | None = Field(default=None, alias="@nick")


class OpenNote(BaseModel):
    model_config = ConfigDict(extra="allow")
    title: str


class Remark(BaseModel):
    note: str | None


class Empty(BaseModel):
    pass


class Node(BaseModel):
    value: int
    children: list[Node] = []


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}", tags=["items"])
    def read_item(item_id: int, q: Annotated[str | None, Query(description="Free-text filter")] = None) -> Item:
        """Fetch one item."""
        return Item(name=f"{item_id}:{q}")

    @app.delete("/items/{item_id}", tags=["items"], name="item")
    def delete_item(item_id: int) -> dict[str, int]:
        return {"deleted": item_id}

    @app.put("/items/{item_id}", tags=["items"], summary="Replace an item")
    def replace_item(item_id: int, item: Item) -> Item:
        return item

    @app.get("/items", tags=["items"])
    def list_items(
        tags: Annotated[list[str] | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        active: bool | None = None,
        sort: Literal["asc", "desc"] = "asc",
    ) -> list[Item]:
        return [Item(name=f"{tags}|{limit}|{active}|{sort}")]

    @app.get("/things/{thing_id}", name="item")
    def get_thing(thing_id: str) -> dict[str, str]:
        return {"thing_id": thing_id}

    @app.post("/collide/{name}")
    def collide(
        name: str,
        item: Item,
        q_name: Annotated[str | None, Query(alias="name")] = None,
        h_name: Annotated[str | None, Header(alias="name")] = None,
        c_name: Annotated[str | None, Cookie(alias="name")] = None,
    ) -> dict[str, Any]:
        return {"path": name, "query": q_name, "header": h_name, "cookie": c_name, "body": item.name}

    @app.get("/whoami")
    def whoami(
        authorization: Annotated[str | None, Header()] = None,
        x_request_id: Annotated[str | None, Header(description="Correlation id")] = None,
        session: Annotated[str | None, Cookie()] = None,
        theme: Annotated[str | None, Cookie()] = None,
    ) -> dict[str, Any]:
        return {"auth": authorization, "rid": x_request_id, "session": session, "theme": theme}

    @app.post("/tree", status_code=201)
    def tree(node: Node) -> Node:
        return node

    @app.post("/numbers")
    def sum_numbers(values: list[int]) -> int:
        return sum(values)

    @app.get("/union")
    def union(value: Annotated[int | str, Query()], maybe: int | str | None = None) -> dict[str, Any]:
        return {"value": value, "maybe": maybe}

    @app.get("/hidden", include_in_schema=False)
    def hidden() -> str:
        return "hidden"

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    @app.post("/long", operation_id=LONG_ID)
    def long_one() -> str:
        return "one"

    @app.post("/long/again", operation_id=LONG_ID + "_again")
    def long_two() -> str:
        return "two"

    @app.post("/login")
    def login(
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
        remember: Annotated[bool, Form()] = False,
    ) -> dict[str, Any]:
        return {"username": username, "password": password, "remember": remember}

    @app.post("/upload")
    async def upload(file: UploadFile, note: Annotated[str, Form()] = "") -> dict[str, Any]:
        data = await file.read()
        return {"filename": file.filename, "type": file.content_type, "data": data.hex(), "note": note}

    @app.post("/notes")
    def add_note(note: Annotated[Item | None, Body()] = None) -> dict[str, Any]:
        return {"note": None if note is None else note.name}

    @app.get("/files/{file_path}")
    def read_file(file_path: str) -> dict[str, str]:
        return {"file_path": file_path}

    @app.post(
        "/custom",
        operation_id="custom op!",
        openapi_extra={
            "x-mcp-input-schema": CUSTOM_SCHEMA,
            "x-mcp-annotations": {"openWorldHint": True, "destructiveHint": False},
        },
    )
    def custom() -> dict[str, str]:
        return {}

    inner = APIRouter(prefix="/admin", tags=["admin"])

    @inner.get("/users/{user_id}")
    def get_user(user_id: int) -> dict[str, int]:
        return {"user_id": user_id}

    outer = APIRouter(prefix="/nested")
    outer.include_router(inner, prefix="/v2")
    app.include_router(outer, prefix="/api")
    return app


EXPECTED_TOOLS = [
    ("read_item", "GET", "/items/{item_id}"),
    ("replace_item", "PUT", "/items/{item_id}"),
    ("item_delete", "DELETE", "/items/{item_id}"),
    ("list_items", "GET", "/items"),
    ("item_get", "GET", "/things/{thing_id}"),
    ("collide", "POST", "/collide/{name}"),
    ("whoami", "GET", "/whoami"),
    ("tree", "POST", "/tree"),
    ("sum_numbers", "POST", "/numbers"),
    ("union", "GET", "/union"),
    ("ping", "GET", "/ping"),
    ("an_explicit_operation_id_that_is_longer", "POST", "/long"),
    ("an_explicit_operation_id_that_is_longe_2", "POST", "/long/again"),
    ("login", "POST", "/login"),
    ("upload", "POST", "/upload"),
    ("add_note", "POST", "/notes"),
    ("read_file", "GET", "/files/{file_path}"),
    ("custom_op", "POST", "/custom"),
    ("get_user", "GET", "/api/nested/v2/admin/users/{user_id}"),
]


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return make_app()


@pytest.fixture(scope="module")
def catalog(app: FastAPI) -> Catalog:
    return catalog_from_app(app)


def spec(catalog: Catalog, name: str) -> ToolSpec:
    found = catalog.get(name)
    assert found is not None, name
    return found


def call(app: FastAPI, sub: SubRequest) -> tuple[int, Any]:
    """Run ``sub`` against ``app`` the way a server would (``path`` is the decoded raw path)."""
    messages: list[Message] = []
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": sub.body, "more_body": False}

    async def send(message: Message) -> None:
        messages.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": sub.method,
        "scheme": "http",
        "path": unquote(sub.path),
        "raw_path": sub.path.encode("ascii"),
        "root_path": "",
        "query_string": sub.query_string,
        "headers": [*sub.headers, (b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    anyio.run(app, scope, receive, send)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return status, orjson.loads(body)


def walk(schema: Any) -> Iterator[dict[str, Any]]:
    if isinstance(schema, dict):
        yield schema
        for value in schema.values():
            yield from walk(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from walk(value)


# --- tools and names -------------------------------------------------------------------------


def test_one_tool_per_operation_in_document_then_method_order(catalog: Catalog) -> None:
    assert [(t.name, t.method, t.path) for t in catalog.tools] == EXPECTED_TOOLS
    assert catalog.get("hidden") is None
    assert [t["name"] for t in catalog.tool_dicts()] == [name for name, _, _ in EXPECTED_TOOLS]


def test_generated_ids_shorten_to_the_function_name_explicit_ids_are_kept(app: FastAPI) -> None:
    operations = app.openapi()["paths"]
    assert operations["/items/{item_id}"]["get"]["operationId"] == "read_item_items__item_id__get"
    assert operations["/api/nested/v2/admin/users/{user_id}"]["get"]["operationId"] == (
        "get_user_api_nested_v2_admin_users__user_id__get"
    )
    doc = {"paths": {"/a": {"get": {"operationId": "Explicit-Name_1"}}, "/b": {"get": {"operationId": "x" * 40}}}}
    assert [t.name for t in build_catalog(doc).tools] == ["Explicit-Name_1", "x" * 40]


def test_same_function_name_on_two_paths_and_methods_is_disambiguated() -> None:
    app = FastAPI()

    def handler() -> str:
        return ""

    app.get("/v1/items", name="list_items")(handler)
    app.get("/v2/items", name="list_items")(handler)
    app.delete("/v2/items", name="list_items")(handler)
    app.get("/other", operation_id="list_items_delete")(handler)
    names = [t.name for t in catalog_from_app(app).tools]
    # same function + method on two paths: the whole generated id; the DELETE would be
    # ``list_items_delete`` but an explicit id already has that name: the whole id too
    assert names == [
        "list_items_v1_items_get",
        "list_items_v2_items_get",
        "list_items_v2_items_delete",
        "list_items_delete",
    ]


def test_names_are_sanitised_cut_numbered_and_never_empty() -> None:
    doc: dict[str, Any] = {
        "paths": {
            "/a": {"get": {"operationId": "get item!! (v2)"}, "post": {"operationId": "???"}},
            "/things/{thing_id}": {"put": {}},
            "/": {"get": {"operationId": ""}},
            "/dup1": {"get": {"operationId": "dup"}},
            "/dup2": {"get": {"operationId": "dup"}},
            "/dup3": {"get": {"operationId": "dup_2"}},
            "/long1": {"get": {"operationId": "abcdefghij_klmnopqrst"}},
            "/long2": {"get": {"operationId": "abcdefghij_klmnopqrstuvwxyz"}},
        }
    }
    names = [t.name for t in build_catalog(doc, max_name_length=12).tools]
    assert names == [
        *("get_item_v2", "post_a", "put_things_t", "get"),
        *("dup", "dup_3", "dup_2"),
        *("abcdefghij_k", "abcdefghij_2"),
    ]
    assert all(len(name) <= 12 for name in names)
    with pytest.raises(ValueError, match="max_name_length"):
        build_catalog(doc, max_name_length=3)


def test_a_valid_explicit_id_keeps_its_name_against_ids_that_only_sanitise_to_it() -> None:
    """README: an explicit ``operation_id`` is kept when it fits; an earlier id that only
    sanitises to the same name (``items.list``) took it, and the valid one became ``items_list_2``."""
    doc = {
        "paths": {
            "/x": {"get": {"operationId": "items.list", "summary": "X"}},
            "/y": {"get": {"operationId": "items_list", "summary": "Y"}},
            "/z": {"get": {"operationId": "items list", "summary": "Z"}},
            "/w": {"get": {"operationId": "items_list", "summary": "W"}},  # verbatim too, but second
        }
    }
    tools = build_catalog(doc).tools
    assert [(t.name, t.tool["description"]) for t in tools] == [
        ("items_list_3", "X"),
        ("items_list", "Y"),
        ("items_list_4", "Z"),
        ("items_list_2", "W"),
    ]


def test_description_title_and_annotations(catalog: Catalog) -> None:
    read = spec(catalog, "read_item").tool
    assert read["title"] == "Read Item"
    assert read["description"] == "Read Item\n\nFetch one item."
    assert read["annotations"] == {"title": "Read Item", "readOnlyHint": True, "openWorldHint": False}
    replace = spec(catalog, "replace_item").tool
    assert replace["title"] == "Replace an item"
    assert replace["annotations"] == {
        "title": "Replace an item",
        "idempotentHint": True,
        "openWorldHint": False,
    }
    assert spec(catalog, "item_delete").tool["annotations"]["destructiveHint"] is True
    assert spec(catalog, "tree").tool["annotations"] == {"title": "Tree", "openWorldHint": False}
    custom = spec(catalog, "custom_op").tool["annotations"]
    assert custom == {"title": "Custom", "openWorldHint": True, "destructiveHint": False}
    bare = build_catalog({"paths": {"/x/{y}": {"get": {"operationId": "fetch_the-thing"}}}}).tools[0].tool
    assert bare["description"] == "GET /x/{y}"
    assert bare["title"] == "Fetch The Thing"
    assert all(t["description"] for t in catalog.tool_dicts())


# --- input schemas -----------------------------------------------------------------------------


def test_parameters_merge_into_one_object(catalog: Catalog) -> None:
    schema = spec(catalog, "read_item").tool["inputSchema"]
    assert schema == {
        "type": "object",
        "properties": {
            "item_id": {"type": "integer", "title": "Item Id"},
            "q": {"type": "string", "description": "Free-text filter", "title": "Q"},
        },
        "required": ["item_id"],
    }
    listing = spec(catalog, "list_items").tool["inputSchema"]["properties"]
    assert listing["tags"] == {"type": "array", "items": {"type": "string"}, "title": "Tags"}
    assert listing["limit"] == {
        "type": "integer",
        "maximum": 100,
        "minimum": 1,
        "default": 10,
        "title": "Limit",
    }
    assert listing["sort"]["enum"] == ["asc", "desc"]
    assert listing["active"] == {"type": "boolean", "title": "Active"}


def test_location_collisions_get_prefixed_names(catalog: Catalog) -> None:
    schema = spec(catalog, "collide").tool["inputSchema"]
    assert list(schema["properties"]) == [
        "name",
        "query_name",
        "header_name",
        "cookie_name",
        "body_name",
        "color",
        "dimensions",
        "tags",
    ]
    assert schema["required"] == ["name", "body_name"]
    assert schema["properties"]["body_name"]["description"] == "Display name"


class LinkedData(BaseModel):
    type_: str = Field(alias="@type")
    id_: str | None = Field(default=None, alias="@id")
    type: str | None = None


ANTHROPIC_PROPERTY_KEY = re.compile(r"[a-zA-Z0-9_.-]{1,64}")


def test_argument_names_fit_what_clients_accept_while_the_request_keeps_the_aliases() -> None:
    """Claude's API refuses a whole request when one tool has a property key outside
    ``[a-zA-Z0-9_.-]{1,64}``; aliases such as ``filter[status]``, ``$top`` or ``@type`` were copied."""
    app = FastAPI()

    @app.get("/jsonapi")
    def jsonapi(
        status: Annotated[str | None, Query(alias="filter[status]")] = None,
        size: Annotated[int | None, Query(alias="page[size]")] = None,
        top: Annotated[int | None, Query(alias="$top")] = None,
        city: Annotated[str | None, Query(alias="ville-où")] = None,
        long: Annotated[str | None, Query(alias="x" * 70 + "!")] = None,
        only: Annotated[str | None, Query(alias="日本")] = None,
        dotted: Annotated[str | None, Query(alias="user.name")] = None,
    ) -> dict[str, Any]:
        return {"status": status, "size": size, "top": top, "city": city, "long": long, "only": only, "dotted": dotted}

    @app.post("/ld/{top}")
    def ld(top: int, doc: LinkedData) -> dict[str, Any]:
        return {"top": top, **doc.model_dump(by_alias=True)}

    catalog = catalog_from_app(app)
    jsonapi_tool = spec(catalog, "jsonapi")
    names = list(jsonapi_tool.tool["inputSchema"]["properties"])
    assert names == ["filter_status", "page_size", "top", "ville-ou", "x" * 64, "query", "user.name"]
    assert all(
        ANTHROPIC_PROPERTY_KEY.fullmatch(name)
        for tool in catalog.tools
        for name in tool.tool["inputSchema"]["properties"]
    )
    arguments = dict(zip(names, ["open", 2, 1, "Nîmes", "l", "o", "u"], strict=True))
    sub = jsonapi_tool.build_request(arguments)
    assert call(app, sub) == (
        200,
        {"status": "open", "size": 2, "top": 1, "city": "Nîmes", "long": "l", "only": "o", "dotted": "u"},
    )
    ld_tool = spec(catalog, "ld")
    # ``@type`` comes first, but the model's own ``type`` field keeps its name: ``@type`` is prefixed
    assert list(ld_tool.tool["inputSchema"]["properties"]) == ["top", "body_type", "id", "type"]
    assert ld_tool.tool["inputSchema"]["required"] == ["top", "body_type"]
    sub = ld_tool.build_request({"top": 3, "body_type": "Person", "id": "p1", "type": "t"})
    assert call(app, sub) == (200, {"top": 3, "@type": "Person", "@id": "p1", "type": "t"})


def test_a_name_that_needs_no_cleaning_keeps_it_against_one_that_becomes_it_when_cleaned() -> None:
    """766a8ee gave ``top`` to ``$top`` (listed first) and made the route's own ``top`` parameter
    ``query_top``, so ``{"top": 5}`` silently set ``$top``: the argument named like a parameter
    must be that parameter."""
    app = FastAPI()

    @app.get("/s")
    def search(alias_top: Annotated[int | None, Query(alias="$top")] = None, top: int | None = None) -> dict[str, Any]:
        return {"$top": alias_top, "top": top}

    tool = spec(catalog_from_app(app), "search")
    assert tool.tool["inputSchema"]["properties"] == {
        "query_top": {"type": "integer", "title": "$Top"},
        "top": {"type": "integer", "title": "Top"},
    }
    assert call(app, tool.build_request({"top": 5})) == (200, {"$top": None, "top": 5})
    assert call(app, tool.build_request({"query_top": 1, "top": 2})) == (200, {"$top": 1, "top": 2})

    # a later parameter named as a prefixed name keeps it too: the collision is numbered instead
    params = [
        {"name": "x", "in": "query", "schema": {"type": "string"}},
        {"name": "x", "in": "header", "schema": {"type": "string"}},
        {"name": "header_x", "in": "header", "schema": {"type": "string"}},
        {"name": "x!", "in": "cookie", "schema": {"type": "string"}},
    ]
    doc = {"paths": {"/x": {"get": {"operationId": "x", "parameters": params}}}}
    tool = build_catalog(doc).tools[0]
    assert list(tool.tool["inputSchema"]["properties"]) == ["x", "header_x_2", "header_x", "cookie_x"]
    sub = tool.build_request({"x": "q", "header_x_2": "h", "header_x": "hx", "cookie_x": "c"})
    assert (sub.query_string, sub.headers) == (b"x=q", ((b"x", b"h"), (b"header_x", b"hx"), (b"cookie", b"x!=c")))


def test_a_request_without_body_header_or_cookie_is_built_alike_on_either_branch() -> None:
    # a plan with no body, header or cookie argument (``_Plan.bare``) returns its path and query at
    # once when nothing is forwarded; one whose header and cookie arguments are left out takes the
    # general branch and builds the same request, and forwarded headers always take it
    params = [
        {"name": "q", "in": "query", "schema": {"type": "string"}},
        {"name": "x-h", "in": "header", "schema": {"type": "string"}},
        {"name": "c", "in": "cookie", "schema": {"type": "string"}},
    ]
    doc = {
        "paths": {
            "/bare/{id}": {"get": {"operationId": "bare", "parameters": params[:1]}},
            "/full/{id}": {"get": {"operationId": "full", "parameters": params}},
        }
    }
    bare, full = build_catalog(doc).tools
    assert (bare.plan.bare, full.plan.bare) == (True, False)
    assert bare.build_request({"id": 1, "q": "a b"}) == SubRequest("GET", "/bare/1", b"q=a+b", (), b"")
    assert full.build_request({"id": 1, "q": "a b"}) == SubRequest("GET", "/full/1", b"q=a+b", (), b"")
    assert full.build_request({"id": 3, "x-h": "v"}).headers == ((b"x-h", b"v"),)
    forwarded = ((b"Authorization", b"Bearer t"), (b"Content-Type", b"application/json"))
    sub = bare.build_request({"id": "a-b", "q": None}, forwarded)
    assert sub == SubRequest("GET", "/bare/a-b", b"", ((b"authorization", b"Bearer t"),), b"")
    sub = full.build_request({"id": 2, "x-h": "v", "c": "k"}, forwarded)
    assert sub.headers == ((b"authorization", b"Bearer t"), (b"x-h", b"v"), (b"cookie", b"c=k"))


def test_odd_path_parameter_names_are_arguments_by_their_clean_names() -> None:
    doc = {"paths": {"/u/{user id}/{user_id}/{$x}": {"get": {"operationId": "u"}}}}
    tool = build_catalog(doc).tools[0]
    # ``user_id`` is the parameter of that name; ``user id`` only becomes it when cleaned
    assert list(tool.tool["inputSchema"]["properties"]) == ["path_user_id", "user_id", "x"]
    assert tool.tool["inputSchema"]["required"] == ["path_user_id", "user_id", "x"]
    assert tool.build_request({"path_user_id": "a b", "user_id": 2, "x": "c"}).path == "/u/a%20b/2/c"
    with pytest.raises(ArgumentError, match="missing required argument 'path_user_id'"):
        tool.build_request({"user_id": "a", "x": "c"})


def test_with_an_explicit_input_schema_arguments_keep_their_parameters_names() -> None:
    """The schema's author chose its keys: ``x-mcp-input-schema`` tools map arguments by the
    parameters' own names, as before names were made to fit."""
    params = [
        {"name": "filter[status]", "in": "query", "schema": {"type": "string"}},
        {"name": "filter[status]", "in": "header", "schema": {"type": "string"}},
    ]
    custom = {"type": "object", "properties": {"filter[status]": {"type": "string"}}}
    doc = {"paths": {"/x": {"get": {"operationId": "x", "parameters": params, "x-mcp-input-schema": custom}}}}
    tool = build_catalog(doc).tools[0]
    assert tool.tool["inputSchema"] == custom
    sub = tool.build_request({"filter[status]": "open", "header_filter[status]": "h"})
    assert (sub.query_string, sub.headers) == (b"filter%5Bstatus%5D=open", ((b"filter[status]", b"h"),))


def test_credential_headers_are_not_arguments(catalog: Catalog) -> None:
    properties = spec(catalog, "whoami").tool["inputSchema"]["properties"]
    assert list(properties) == ["x-request-id", "session", "theme"]
    assert properties["x-request-id"]["description"] == (
        "Correlation id\n\nSent as the header 'x-request-id'; when the MCP client sends that header itself, its "
        "value is used instead."
    )
    doc = {
        "paths": {
            "/h": {
                "get": {
                    "parameters": [
                        {"name": n, "in": "header", "schema": {"type": "string"}, "style": "simple"}
                        for n in ("Authorization", "COOKIE", "Content-Length", "X-Kept")
                    ]
                }
            }
        }
    }
    kept = build_catalog(doc).tools[0].tool["inputSchema"]["properties"]
    assert kept == {"X-Kept": {"type": "string", "description": HEADER_NOTE.format("X-Kept")}}


def test_api_key_schemes_are_credentials_by_where_they_live() -> None:
    schemes = {
        "header": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "query": {"type": "apiKey", "in": "query", "name": "api_key"},
        "other_query": {"type": "apiKey", "in": "query", "name": "clé"},
        "cookie": {"type": "apiKey", "in": "cookie", "name": "session"},
        "bearer": {"type": "http", "scheme": "bearer"},
        "unnamed": {"type": "apiKey", "in": "query"},
        "empty": {"type": "apiKey", "in": "query", "name": ""},
    }
    built = build_catalog({"paths": {}, "components": {"securitySchemes": schemes}})
    assert built.credential_headers == {b"x-api-key"}
    assert set(built.query_keys) == {"api_key", "clé"}
    assert not build_catalog({"paths": {}}).query_keys


def test_refs_are_inlined(catalog: Catalog) -> None:
    """Only a recursive model (``tree``) keeps ``$defs``: every other reference is inlined."""
    for tool in catalog.tool_dicts():
        assert "#/components" not in json.dumps(tool), tool["name"]
        if tool["name"] != "tree":
            assert "$ref" not in json.dumps(tool), tool["name"]
    schema = spec(catalog, "replace_item").tool["inputSchema"]
    assert "$defs" not in schema  # Item itself is merged in
    assert schema["properties"]["color"] == {
        "type": "string",
        "enum": ["red", "green"],
        "title": "Color",
        "default": "red",
    }
    assert schema["properties"]["dimensions"]["required"] == ["width", "height"]
    assert schema["required"] == ["item_id", "name"]


def test_recursive_model_stays_a_ref(catalog: Catalog) -> None:
    tool = spec(catalog, "tree").tool
    schema = tool["inputSchema"]
    assert schema["properties"]["children"]["items"] == {"$ref": "#/$defs/Node-Input"}
    assert schema["$defs"]["Node-Input"]["properties"]["children"]["items"] == {"$ref": "#/$defs/Node-Input"}
    jsonschema.validate({"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"value": 1, "children": [{"children": []}]}, schema)
    assert tool["outputSchema"]["$defs"]["Node-Output"]["properties"]["children"]["items"] == {
        "$ref": "#/$defs/Node-Output"
    }


def test_optional_becomes_plain_but_real_unions_stay(catalog: Catalog) -> None:
    properties = spec(catalog, "union").tool["inputSchema"]["properties"]
    assert properties["value"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "title": "Value"}
    assert properties["maybe"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "title": "Maybe"}
    dimensions = spec(catalog, "replace_item").tool["inputSchema"]["properties"]["dimensions"]
    assert "anyOf" not in dimensions
    # output schemas keep null: responses really contain it
    output = spec(catalog, "read_item").tool["outputSchema"]["properties"]["dimensions"]
    assert output["anyOf"][1] == {"type": "null"}
    assert output["anyOf"][0]["properties"]["width"] == {"type": "number", "title": "Width"}


def test_a_required_nullable_parameter_does_not_offer_null() -> None:
    """FastAPI's "required, can be None" (``str | None`` without a default): a null query, header
    or cookie value cannot be sent (it is omitted, and the route answers 422 "Field required"),
    so the schema offers plain ``X``; a required nullable body property can be sent as null."""
    app = FastAPI()

    @app.post("/s")
    def s(
        q: Annotated[str | None, Query(min_length=3)],
        h: Annotated[int | None, Header()],
        body: Remark,
    ) -> dict[str, Any]:
        return {}

    schema = spec(catalog_from_app(app), "s").tool["inputSchema"]
    assert schema["properties"]["q"] == {"type": "string", "minLength": 3, "title": "Q"}
    assert schema["properties"]["h"] == {"type": "integer", "title": "H", "description": HEADER_NOTE.format("h")}
    assert schema["properties"]["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Note"}
    assert schema["required"] == ["q", "h", "note"]


def test_every_array_has_items() -> None:
    doc = {
        "paths": {"/a": {"get": {"parameters": [{"name": "xs", "in": "query", "schema": {"type": "array"}}]}}},
        "components": {"schemas": {}},
    }
    schema = build_catalog(doc).tools[0].tool["inputSchema"]
    assert schema["properties"]["xs"] == {"type": "array", "items": {}}


def test_schemas_are_valid_json_schema(catalog: Catalog) -> None:
    for tool in catalog.tool_dicts():
        for key in ("inputSchema", "outputSchema"):
            if key in tool:
                jsonschema.Draft202012Validator.check_schema(tool[key])
                jsonschema.Draft7Validator.check_schema(tool[key])
                assert tool[key]["type"] == "object"
        for node in walk(tool["inputSchema"]):
            if node.get("type") == "array":
                assert "items" in node, tool["name"]
            assert not {"in", "style", "explode"} & node.keys()


def test_schema_conversion_edge_cases() -> None:
    schemas = SchemaSet({"A": {"type": "string"}})
    refs: set[str] = set()
    assert schemas.convert(True, refs, collapse=True) is True  # boolean schemas stay as they are
    assert schemas.convert("not a schema", refs, collapse=True) == {}
    mixed = {"patternProperties": {"^x": {"$ref": "#/components/schemas/A"}}, "$ref": "other.json#/x"}
    assert schemas.convert(mixed, refs, collapse=False) == {
        "patternProperties": {"^x": {"$ref": "#/$defs/A"}},
        "$ref": "other.json#/x",  # not ours to inline: kept
    }
    assert refs == {"A"}
    assert schemas.convert({"$ref": "#/components/schemas/Gone"}, set(), collapse=False) == {}  # dangling
    assert schemas.component_name("A") is None


def test_optional_collapse_keeps_what_would_conflict() -> None:
    assert collapse_optional("x") == "x"
    optional = {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None, "title": "N"}
    assert collapse_optional(optional) == {"type": "integer", "title": "N"}  # default None is "omitted"
    conflicting = {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}], "format": "time"}
    assert collapse_optional(conflicting) == conflicting
    union = {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}], "default": None, "title": "U"}
    assert collapse_optional(union) == {"anyOf": [{"type": "string"}, {"type": "integer"}], "title": "U"}
    not_all_schemas = {"anyOf": [{"type": "string"}, True, {"type": "null"}]}
    assert collapse_optional(not_all_schemas) == not_all_schemas


def test_no_argument_tool_and_explicit_schema(catalog: Catalog) -> None:
    no_args = {"type": "object", "properties": {}, "additionalProperties": False}
    assert spec(catalog, "ping").tool["inputSchema"] == no_args
    assert spec(catalog, "custom_op").tool["inputSchema"] == CUSTOM_SCHEMA
    output = {"type": "object", "properties": {"n": {"type": "integer"}}}
    doc = {"paths": {"/n": {"get": {"operationId": "n", "x-mcp-output-schema": output}}}}
    tool = build_catalog(doc).tools[0]
    assert tool.has_output_schema
    assert tool.tool["outputSchema"] == output


def test_output_schema_of_object_responses_and_wrapped_others(catalog: Catalog) -> None:
    """Models and ``dict[str, X]`` (an object without properties) have theirs; a list, an int and a
    string have one whose ``result`` holds theirs (``wraps_result``)."""
    assert all(t.has_output_schema for t in catalog.tools)
    long_ones = {"an_explicit_operation_id_that_is_longer", "an_explicit_operation_id_that_is_longe_2"}
    assert {t.name for t in catalog.tools if t.wraps_result} == {"list_items", "sum_numbers", "ping", *long_ones}
    assert spec(catalog, "ping").tool["outputSchema"] == {
        "type": "object",
        "properties": {"result": {"type": "string", "title": "Response Ping Ping Get"}},
        "required": ["result"],
        "x-fastmcp-wrap-result": True,
    }
    listed = spec(catalog, "list_items").tool["outputSchema"]
    assert "$defs" not in listed
    assert listed["properties"]["result"]["type"] == "array"
    assert listed["properties"]["result"]["items"]["required"] == ["name"]  # Item, inlined
    assert spec(catalog, "item_delete").tool["outputSchema"] == {
        "type": "object",
        "additionalProperties": {"type": "integer"},
        "title": "Response Item Items  Item Id  Delete",
    }
    assert all(("outputSchema" in t.tool) == t.has_output_schema for t in catalog.tools)
    output = spec(catalog, "read_item").tool["outputSchema"]
    assert output["required"] == ["name"]
    assert "$defs" not in output
    assert output["properties"]["color"]["enum"] == ["red", "green"]


def test_a_tool_knows_what_its_output_schema_requires_at_the_top_level(catalog: Catalog) -> None:
    """``output_required``: the names the output schema's top level requires, which a JSON object
    must have to be the tool's ``structuredContent`` (``results``); nothing deeper is read."""
    assert spec(catalog, "read_item").output_required == frozenset({"name"})
    assert spec(catalog, "ping").output_required == frozenset({"result"})  # its body, wrapped
    assert build_catalog({"paths": {"/n": {"get": {"operationId": "n"}}}}).tools[0].output_required == frozenset()
    output = {"type": "object", "properties": {"n": {"type": "object", "required": ["deep"]}}, "required": ["n", 3]}
    doc = {"paths": {"/n": {"get": {"operationId": "n", "x-mcp-output-schema": output}}}}
    assert build_catalog(doc).tools[0].output_required == frozenset({"n"})  # a name, not the 3
    for odd in ({"type": "object"}, {"type": "object", "required": "n"}, {"anyOf": [{"required": ["n"]}]}):
        doc = {"paths": {"/n": {"get": {"operationId": "n", "x-mcp-output-schema": odd}}}}
        assert build_catalog(doc).tools[0].output_required == frozenset(), odd
    hand_made = ToolSpec("t", "GET", "/t", {"name": "t", "outputSchema": {"required": ["a", "b"]}}, True)
    assert hand_made.output_required == frozenset({"a", "b"})


def test_non_object_and_form_bodies(catalog: Catalog) -> None:
    numbers = spec(catalog, "sum_numbers").tool["inputSchema"]
    assert numbers["properties"] == {"body": {"items": {"type": "integer"}, "type": "array", "title": "Values"}}
    assert numbers["required"] == ["body"]
    login = spec(catalog, "login").tool["inputSchema"]
    assert login["required"] == ["username", "password"]
    note = spec(catalog, "add_note").tool["inputSchema"]
    assert "required" not in note  # the whole body is optional
    assert list(note["properties"]) == ["name", "color", "dimensions", "tags"]


def test_building_does_not_touch_the_document(app: FastAPI) -> None:
    document = app.openapi()
    before = copy.deepcopy(document)
    build_catalog(document)
    assert document == before


def test_refs_to_parameters_and_request_bodies_and_path_level_parameters() -> None:
    doc = {
        "paths": {
            "/v/{vid}": {
                "parameters": [{"$ref": "#/components/parameters/Vid"}],
                "post": {
                    "operationId": "make",
                    "requestBody": {"$ref": "#/components/requestBodies/Thing"},
                    "responses": {"200": {"$ref": "#/components/responses/Thing"}},
                },
            }
        },
        "components": {
            "parameters": {"Vid": {"name": "vid", "in": "path", "required": True, "schema": {"type": "integer"}}},
            "requestBodies": {
                "Thing": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}},
                }
            },
            "responses": {
                "Thing": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}
            },
            "schemas": {
                "Thing": {
                    "type": "object",
                    "properties": {"size": {"type": "integer"}, "x": {"discriminator": {"mapping": {}}}},
                    "required": ["size"],
                },
                "Unused": {"type": "string"},
            },
        },
    }
    tool = build_catalog(doc).tools[0]
    assert tool.tool["inputSchema"] == {
        "type": "object",
        "properties": {"vid": {"type": "integer"}, "size": {"type": "integer"}, "x": {}},
        "required": ["vid", "size"],
    }
    assert tool.has_output_schema
    assert tool.build_request({"vid": 3, "size": 1}).body == b'{"size":1}'


def test_prefixed_names_that_collide_again_are_numbered() -> None:
    params = [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {"name": "query_id", "in": "query", "schema": {"type": "string"}},
        {"name": "id", "in": "query", "schema": {"type": "string"}},
    ]
    doc = {"paths": {"/x/{id}": {"get": {"operationId": "x", "parameters": params, "responses": {}}}}}
    tool = build_catalog(doc).tools[0]
    assert list(tool.tool["inputSchema"]["properties"]) == ["id", "query_id", "query_id_2"]
    sub = tool.build_request({"id": 1, "query_id": "a", "query_id_2": "b"})
    assert (sub.path, sub.query_string) == ("/x/1", b"query_id=a&id=b")


def test_odd_request_bodies_give_no_arguments_rather_than_fail() -> None:
    cycle = {"$ref": "#/components/requestBodies/A"}
    doc = {
        "paths": {
            "/form": {
                "post": {
                    "operationId": "form",
                    "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "string"}}}},
                }
            },
            "/loop": {"post": {"operationId": "loop", "requestBody": cycle}},
        },
        "components": {"requestBodies": {"A": {"$ref": "#/components/requestBodies/B"}, "B": cycle}},
    }
    tools = {t.name: t for t in build_catalog(doc).tools}
    for name in ("form", "loop"):
        schema = tools[name].tool["inputSchema"]
        assert schema == {"type": "object", "properties": {}, "additionalProperties": False}, name
        assert tools[name].build_request({}).body == b"", name


def test_parameters_without_a_name_and_bodies_without_a_usable_media_type_are_passed_over() -> None:
    """A hand-written document's broken entries give no argument (nothing raises): a parameter that
    is no object or has no string name, a query parameter's empty ``content`` (its ``schema`` then
    counts, or none), a body whose media types are no media types (no ``body`` argument, nothing sent)."""
    doc = {
        "paths": {
            "/p/{x}": {
                "get": {
                    "operationId": "p",
                    "parameters": [
                        "not a parameter",
                        {"in": "query", "schema": {"type": "string"}},
                        {"name": 5, "in": "query"},
                        {"name": "q", "in": "query", "schema": {"type": "string"}},
                        {"name": "c", "in": "query", "content": {}},
                        {"name": "x", "in": "path", "required": True, "schema": {"anyOf": [{"type": "string"}, True]}},
                    ],
                }
            },
            "/b": {
                "post": {
                    "operationId": "b",
                    "requestBody": {"content": {"no media type": {}, "text/plain\r\nX-Evil: 1": {}}},
                }
            },
        }
    }
    tools = {t.name: t for t in build_catalog(doc).tools}
    assert tools["p"].tool["inputSchema"] == {
        "type": "object",
        "properties": {
            "x": {"anyOf": [{"type": "string", "minLength": 1}, True]},  # a boolean branch stays as it is
            "q": {"type": "string"},
            "c": {},  # of no content's schema: any value
        },
        "required": ["x"],
    }
    assert tools["p"].build_request({"x": "a", "q": "x", "c": 3}).query_string == b"q=x&c=3"
    assert tools["b"].tool["inputSchema"] == {"type": "object", "properties": {}, "additionalProperties": False}
    sub = tools["b"].build_request({})
    assert (sub.headers, sub.body) == ((), b"")


def test_a_raw_bodys_content_encoding_says_whether_its_argument_is_base64() -> None:
    """An explicit ``contentEncoding`` wins over the media type: ``base64`` is decoded, any other
    (``7bit``, ``quoted-printable``: the text already is the body) is sent as it is."""

    def raw(name: str, encoding: str) -> dict[str, Any]:
        schema = {"type": "string", "contentEncoding": encoding}
        return {
            "post": {"operationId": name, "requestBody": {"content": {"application/octet-stream": {"schema": schema}}}}
        }

    tools = {
        t.name: t for t in build_catalog({"paths": {"/a": raw("b64", "BASE64"), "/b": raw("seven", "7bit")}}).tools
    }
    assert tools["b64"].build_request({"body": "AAE="}).body == b"\x00\x01"
    assert tools["seven"].build_request({"body": "AAE="}).body == b"AAE="
    with pytest.raises(ArgumentError, match="'body' must be the file's content in base64"):
        tools["b64"].build_request({"body": "not base64!"})


def test_a_multipart_array_without_items_is_a_plain_field_not_a_file() -> None:
    form = {"type": "object", "properties": {"tags": {"type": "array"}, "doc": {"type": "string", "format": "binary"}}}
    doc = {
        "paths": {
            "/m": {"post": {"operationId": "m", "requestBody": {"content": {"multipart/form-data": {"schema": form}}}}}
        }
    }
    tool = build_catalog(doc).tools[0]
    assert tool.tool["inputSchema"]["properties"]["tags"] == {"type": "array", "items": {}}
    body = tool.build_request({"tags": ["a", "b"], "doc": "AAE="}).body
    assert b'name="tags"\r\n\r\na\r\n' in body
    assert b'name="tags"\r\n\r\nb\r\n' in body
    assert b'name="doc"; filename="doc"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n' in body


# --- requests -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("%2e%2e", "%252e%252e"),
        ("?x", "%3Fx"),
        ("#y", "%23y"),
        ("é ü", "%C3%A9%20%C3%BC"),
        (True, "true"),
        (42, "42"),
    ],
)
def test_path_values_are_percent_encoded(catalog: Catalog, value: Any, encoded: str) -> None:
    sub = spec(catalog, "read_file").build_request({"file_path": value})
    assert sub.path == f"/files/{encoded}"
    assert sub.path.isascii()


def test_path_value_round_trip(app: FastAPI, catalog: Catalog) -> None:
    for value in ("a b", "?x", "#y", "%2e", "..", "é"):
        status, body = call(app, spec(catalog, "read_file").build_request({"file_path": value}))
        assert (status, body) == (200, {"file_path": value})


def test_bad_path_arguments(catalog: Catalog) -> None:
    tool = spec(catalog, "read_item")
    with pytest.raises(ArgumentError, match="missing required argument 'item_id'"):
        tool.build_request({"q": "x"})
    with pytest.raises(ArgumentError, match="argument 'item_id' is required and cannot be null"):
        tool.build_request({"item_id": None})
    with pytest.raises(ArgumentError, match="'item_id' must not be empty"):
        tool.build_request({"item_id": ""})
    with pytest.raises(ArgumentError, match="'item_id' must be a string, number or boolean"):
        tool.build_request({"item_id": {"id": 1}})


def test_a_string_path_parameter_says_it_cannot_be_empty() -> None:
    """Regression: an empty path value is refused ("must not be empty": the path would lose a
    segment) though the schema allowed it. A string path parameter's schema says ``minLength: 1``
    (a larger declared one stands); other types, and query strings, are left as they are."""
    app = FastAPI()

    @app.get("/t/{name}/{code}/{key}/{num}/{either}")
    def tag(
        name: str,
        code: Annotated[str, Path(min_length=3)],
        key: Annotated[str, Path(min_length=0, max_length=9)],
        num: int,
        either: int | str,
        q: str = "",
    ) -> dict[str, Any]:
        return {}

    tool = spec(catalog_from_app(app), "tag")
    properties = tool.tool["inputSchema"]["properties"]
    assert properties["name"] == {"type": "string", "title": "Name", "minLength": 1}
    assert properties["code"] == {"type": "string", "minLength": 3, "title": "Code"}
    assert properties["key"] == {"type": "string", "minLength": 1, "maxLength": 9, "title": "Key"}
    assert properties["num"] == {"type": "integer", "title": "Num"}
    assert properties["either"] == {
        "anyOf": [{"type": "integer"}, {"type": "string", "minLength": 1}],
        "title": "Either",
    }
    assert properties["q"] == {"type": "string", "title": "Q", "default": ""}
    validator = jsonschema.Draft202012Validator(tool.tool["inputSchema"])
    arguments = {"name": "", "code": "abc", "key": "k", "num": 1, "either": ""}
    assert [error.path[0] for error in validator.iter_errors(arguments)] == ["name", "either"]
    with pytest.raises(ArgumentError, match="'name' must not be empty"):
        tool.build_request(arguments)
    starlette_route = (
        build_catalog({"paths": {"/s/{slug}": {"get": {}}}, "components": {"schemas": {}}})
        .tools[0]
        .tool["inputSchema"]["properties"]
    )
    assert starlette_route["slug"] == {"type": "string", "minLength": 1}


def test_query_encoding(app: FastAPI, catalog: Catalog) -> None:
    tool = spec(catalog, "list_items")
    sub = tool.build_request({"tags": ["a b", "c&d"], "limit": 5, "active": False, "sort": None})
    assert sub.query_string == b"tags=a+b&tags=c%26d&limit=5&active=false"
    assert (sub.method, sub.path, sub.body, sub.headers) == ("GET", "/items", b"", ())
    assert call(app, sub) == (
        200,
        [{"name": "['a b', 'c&d']|5|False|asc", "color": "red", "dimensions": None, "tags": []}],
    )
    assert tool.build_request({}).query_string == b""


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("union", {"maybe": 1}, "missing required argument 'value'"),  # a query parameter
        ("login", {"remember": True}, "missing required arguments 'username', 'password'"),  # form fields
        ("upload", {"note": "n"}, "missing required argument 'file'"),  # a multipart file
        ("tree", {"children": []}, "missing required argument 'value'"),  # a required body's property
        ("sum_numbers", {}, "missing required argument 'body'"),  # the whole body
        ("collide", {"name": "p"}, "missing required argument 'body_name'"),
        ("read_item", {"q": "x"}, "missing required argument 'item_id'"),  # a path parameter, as before
        ("custom_op", {}, "missing required argument 'anything'"),  # an explicit input schema's
    ],
)
def test_a_required_argument_left_out_is_refused_before_the_request_is_built(
    catalog: Catalog, name: str, arguments: dict[str, Any], message: str
) -> None:
    """Every top-level ``required`` property of the input schema must be present (tools.mdx:
    servers MUST validate tool inputs); the route's 422 (or a plain route's KeyError) came
    after a request the schema already refused. Several are named in the schema's order."""
    with pytest.raises(ArgumentError) as refused:
        spec(catalog, name).build_request(arguments)
    assert str(refused.value) == message


def test_a_required_argument_is_present_when_given_as_null_and_defaults_are_not_required(
    app: FastAPI, catalog: Catalog
) -> None:
    """``required`` asks for presence only: a required nullable property given as null goes on
    (as null, in a body: Remark's ``note``; the app decides, as it would over HTTP); a property with
    a default is not required (login's ``remember``, an optional body's fields)."""
    assert spec(catalog, "collide").build_request({"name": "p", "body_name": None}).body == b'{"name":null}'
    sub = spec(catalog, "login").build_request({"username": "u", "password": "p"})
    assert call(app, sub) == (200, {"username": "u", "password": "p", "remember": False})
    assert call(app, spec(catalog, "add_note").build_request({})) == (200, {"note": None})
    nullable = FastAPI()

    @nullable.post("/r")
    def r(body: Remark) -> dict[str, Any]:
        return {"note": body.note}

    tool = spec(catalog_from_app(nullable), "r")
    assert tool.tool["inputSchema"]["required"] == ["note"]
    assert call(nullable, tool.build_request({"note": None})) == (200, {"note": None})
    with pytest.raises(ArgumentError, match=r"^missing required argument 'note'$"):
        tool.build_request({})


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("union", {"value": None}, "argument 'value' is required and cannot be null"),  # a query parameter
        (
            "login",
            {"password": None, "username": None},
            "arguments 'username', 'password' are required and cannot be null",  # form fields, schema order
        ),
        ("upload", {"file": None}, "argument 'file' is required and cannot be null"),  # a multipart file
        ("sum_numbers", {"body": None}, "argument 'body' is required and cannot be null"),  # the whole body
        ("read_item", {"item_id": None}, "argument 'item_id' is required and cannot be null"),  # a path parameter
    ],
)
def test_a_required_argument_given_as_null_that_would_not_be_sent_is_refused(
    catalog: Catalog, name: str, arguments: dict[str, Any], message: str
) -> None:
    """A null the request would leave out (every argument but a JSON body's property that takes
    null) passed the presence check, then went nowhere: the route ran without a value the schema
    requires (a plain route's KeyError, a 500). It is refused instead, naming every such argument."""
    with pytest.raises(ArgumentError) as refused:
        spec(catalog, name).build_request(arguments)
    assert str(refused.value) == message


def test_a_null_for_a_body_property_that_takes_null_is_not_named_among_the_refused_nulls() -> None:
    """With ``q`` (a query parameter) and a body's nullable ``note`` both null, only ``q`` is
    refused: the null of ``note`` is sent (it is a value the body takes)."""
    app = FastAPI()

    @app.post("/notes")
    def add_note(q: str, body: Remark) -> dict[str, Any]:
        return {"q": q, "note": body.note}

    tool = spec(catalog_from_app(app), "add_note")
    assert tool.tool["inputSchema"]["required"] == ["q", "note"]
    with pytest.raises(ArgumentError) as refused:
        tool.build_request({"q": None, "note": None})
    assert str(refused.value) == "argument 'q' is required and cannot be null"
    assert call(app, tool.build_request({"q": "x", "note": None})) == (200, {"q": "x", "note": None})


def test_a_required_whole_json_body_whose_schema_takes_null_is_sent_as_null() -> None:
    """Review (diffC): ``data: Any = Body()`` publishes a required ``body`` whose schema allows
    null, and FastAPI takes a JSON ``null`` body; ``{"body": null}`` was refused as "cannot be
    null" (and before that sent empty: a 422). It goes as the JSON text ``null``; a whole body
    whose schema does not take null (``sum_numbers``' ``list[int]``) is still refused."""
    app = FastAPI()

    @app.post("/anyb")
    def anyb(data: Annotated[Any, Body()]) -> dict[str, Any]:
        return {"data": data}

    tool = spec(catalog_from_app(app), "anyb")
    assert tool.tool["inputSchema"]["required"] == ["body"]
    sub = tool.build_request({"body": None})
    assert sub.body == b"null"
    assert call(app, sub) == (200, {"data": None})
    assert call(app, tool.build_request({"body": {"a": 1}})) == (200, {"data": {"a": 1}})


def test_a_required_text_body_given_as_null_is_refused_not_sent_empty() -> None:
    doc = {
        "paths": {
            "/note": {
                "post": {
                    "operationId": "note",
                    "requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}},
                }
            },
            "/search": {
                "get": {
                    "operationId": "search",
                    "parameters": [{"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}],
                }
            },
        }
    }
    tools = {tool.name: tool for tool in build_catalog(doc).tools}
    with pytest.raises(ArgumentError, match=r"^argument 'body' is required and cannot be null$"):
        tools["note"].build_request({"body": None})
    assert tools["note"].build_request({"body": ""}).body == b""  # empty is a value
    with pytest.raises(ArgumentError, match=r"^argument 'q' is required and cannot be null$"):
        tools["search"].build_request({"q": None})
    with pytest.raises(ArgumentError, match=r"^missing required argument 'q'$"):  # absent: as before
        tools["search"].build_request({})


def test_what_an_explicit_input_schema_requires_is_required_and_only_that() -> None:
    """``x-mcp-input-schema``'s ``required`` replaces the generated one: its names are checked,
    even one that no parameter maps; a path parameter it leaves out is still needed to build the
    path. Requirements inside ``anyOf`` or a ``$ref`` are not read (only the top level is)."""
    custom = {
        "type": "object",
        "properties": {"phone": {"type": "string"}, "q": {"type": "string"}, "email": {"type": "string"}},
        "required": ["q", "phone"],
        "anyOf": [{"required": ["email"]}, {"required": ["phone"]}],
    }
    params = [{"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}]
    doc = {"paths": {"/c/{cid}": {"post": {"operationId": "c", "parameters": params, "x-mcp-input-schema": custom}}}}
    tool = build_catalog(doc).tools[0]
    with pytest.raises(ArgumentError, match=r"^missing required arguments 'q', 'phone'$"):
        tool.build_request({"cid": 1})
    with pytest.raises(ArgumentError, match=r"^missing required argument 'cid'$"):
        tool.build_request({"q": "x", "phone": "1"})
    assert tool.build_request({"cid": 1, "q": "x", "phone": "1"}).path == "/c/1"


def test_a_tool_without_arguments_requires_none() -> None:
    """The placeholder schema of a tool without arguments requires nothing; neither does a hand-made
    spec without an input schema (beyond its path's parameters), nor one whose ``required`` is no list."""
    app = FastAPI()

    @app.get("/ping")
    def ping() -> str:
        return "pong"

    assert spec(catalog_from_app(app), "ping").build_request({"random_string": "dummy"}).path == "/ping"
    assert ToolSpec("t", "GET", "/t", {"name": "t"}, False).build_request({}).path == "/t"
    odd = {"name": "t", "inputSchema": {"type": "object", "required": "q"}}
    assert ToolSpec("t", "GET", "/t", odd, False).build_request({}).path == "/t"


def test_headers_cookies_and_forwarded(app: FastAPI, catalog: Catalog) -> None:
    tool = spec(catalog, "whoami")
    forwarded = [
        (b"Authorization", b"Bearer t"),
        (b"cookie", b"a=1"),
        (b"content-length", b"999"),
        (b"traceparent", b"00-abc"),
    ]
    sub = tool.build_request({"x-request-id": "r1", "session": "s1", "theme": "dark"}, forwarded)
    assert sub.headers == (
        (b"authorization", b"Bearer t"),
        (b"traceparent", b"00-abc"),
        (b"x-request-id", b"r1"),
        (b"cookie", b"a=1; session=s1; theme=dark"),
    )
    assert call(app, sub) == (200, {"auth": "Bearer t", "rid": "r1", "session": "s1", "theme": "dark"})
    # without cookie arguments the forwarded cookie passes unchanged
    assert tool.build_request({}, [(b"cookie", b"a=1")]).headers == ((b"cookie", b"a=1"),)


def _session_app() -> FastAPI:
    app = FastAPI()

    @app.get("/me")
    def me(
        session_id: Annotated[str, Cookie()], theme: Annotated[str, Cookie(description="UI theme")] = "light"
    ) -> Any:
        return {"session_id": session_id, "theme": theme}

    return app


def test_a_cookie_parameter_is_never_required_and_says_the_clients_cookie_wins() -> None:
    """It was a required argument, though the client's own Cookie header is forwarded."""
    schema = spec(catalog_from_app(_session_app()), "me").tool["inputSchema"]
    assert "required" not in schema
    note = "Sent as the cookie 'session_id'; when the MCP client sends that cookie itself, its value is used instead."
    assert schema["properties"]["session_id"] == {"type": "string", "title": "Session Id", "description": note}
    assert schema["properties"]["theme"]["description"] == "UI theme\n\n" + note.replace("session_id", "theme")


@pytest.mark.parametrize(
    ("forwarded", "arguments", "expected"),
    [
        # the model's value never replaces the user's real session cookie
        ([(b"cookie", b"session_id=REAL")], {"session_id": "<guess>"}, {"session_id": "REAL", "theme": "light"}),
        ([(b"cookie", b"a=1; session_id = REAL ")], {"session_id": "x"}, {"session_id": "REAL", "theme": "light"}),
        (
            [(b"cookie", b"a=1"), (b"Cookie", b"session_id=REAL")],  # a cookie header per crumb (HTTP/2)
            {"session_id": "x", "theme": "dark"},
            {"session_id": "REAL", "theme": "dark"},
        ),
        ([(b"cookie", b"theme=dark")], {"session_id": "s", "theme": "light"}, {"session_id": "s", "theme": "dark"}),
        ([(b"cookie", b"session_id")], {"session_id": "s"}, {"session_id": "s", "theme": "light"}),  # no name: ""
        ([], {"session_id": "s"}, {"session_id": "s", "theme": "light"}),
        ([(b"cookie", b"session_id=REAL")], {}, {"session_id": "REAL", "theme": "light"}),
    ],
)
def test_a_cookie_the_client_sends_wins_over_the_models_value(
    forwarded: list[tuple[bytes, bytes]], arguments: dict[str, Any], expected: dict[str, Any]
) -> None:
    app = _session_app()
    sub = spec(catalog_from_app(app), "me").build_request(arguments, forwarded)
    assert call(app, sub) == (200, expected)
    assert [key for key, _ in sub.headers].count(b"cookie") == 1


def test_a_cookie_neither_sends_is_left_to_the_app() -> None:
    app = _session_app()
    status, body = call(app, spec(catalog_from_app(app), "me").build_request({}))
    assert status == 422
    assert body["detail"][0]["loc"] == ["cookie", "session_id"]


@pytest.mark.parametrize("bad", ["a\r\nx-evil: 1", "a\nb", "a\x00b"])
def test_header_and_cookie_values_cannot_inject(catalog: Catalog, bad: str) -> None:
    tool = spec(catalog, "whoami")
    with pytest.raises(ArgumentError, match="'x-request-id' must not contain line breaks"):
        tool.build_request({"x-request-id": bad})
    with pytest.raises(ArgumentError, match="'session' must not contain"):
        tool.build_request({"session": bad})
    with pytest.raises(ArgumentError, match="'theme' must not contain ';'"):
        tool.build_request({"theme": "x; admin=1"})
    with pytest.raises(ArgumentError, match="Latin-1"):
        tool.build_request({"x-request-id": "\u2603"})


def test_json_body_with_prefixed_names(app: FastAPI, catalog: Catalog) -> None:
    tool = spec(catalog, "collide")
    arguments = {
        "name": "p",
        "query_name": "q",
        "header_name": "h",
        "cookie_name": "c",
        "body_name": "b",
        "tags": ["t"],
        "dimensions": None,
    }
    sub = tool.build_request(arguments)
    assert sub.path == "/collide/p"
    assert sub.query_string == b"name=q"
    assert sub.body == b'{"name":"b","dimensions":null,"tags":["t"]}'  # Dimensions | None takes null
    assert (b"content-type", b"application/json") in sub.headers
    assert (b"content-length", str(len(sub.body)).encode()) in sub.headers
    assert call(app, sub) == (200, {"path": "p", "query": "q", "header": "h", "cookie": "c", "body": "b"})


def test_required_body_properties_keep_null(catalog: Catalog) -> None:
    sub = spec(catalog, "collide").build_request({"name": "p", "body_name": None})
    assert sub.body == b'{"name":null}'


def test_whole_body_argument(app: FastAPI, catalog: Catalog) -> None:
    sub = spec(catalog, "sum_numbers").build_request({"body": [1, 2, 3]})
    assert sub.body == b"[1,2,3]"
    assert call(app, sub) == (200, 6)


def test_bodies_when_nothing_is_given(app: FastAPI, catalog: Catalog) -> None:
    optional = spec(catalog, "add_note").build_request({})
    assert (optional.body, optional.headers) == (b"", ())
    assert call(app, optional) == (200, {"note": None})
    assert call(app, spec(catalog, "add_note").build_request({"name": "n"})) == (200, {"note": "n"})
    no_fields = FastAPI()

    @no_fields.post("/e")
    def e(body: Empty) -> dict[str, Any]:
        return {}

    tool = spec(catalog_from_app(no_fields), "e")
    assert tool.tool["inputSchema"] == {"type": "object", "properties": {}, "additionalProperties": False}
    required = tool.build_request({})
    assert required.body == b"{}"  # a required JSON body goes out when no argument fills it
    assert call(no_fields, required) == (200, {})


def test_form_body(app: FastAPI, catalog: Catalog) -> None:
    sub = spec(catalog, "login").build_request({"username": "a b", "password": "p&q", "remember": True})
    assert sub.body == b"username=a+b&password=p%26q&remember=true"
    assert (b"content-type", b"application/x-www-form-urlencoded") in sub.headers
    assert call(app, sub) == (200, {"username": "a b", "password": "p&q", "remember": True})


def test_form_value_too_deep_for_json_is_an_argument_error(catalog: Catalog) -> None:
    """Found by the fuzz tests once the SDK's check of arguments was remembered: the SDK accepts any
    depth. An object for a string form field is refused as a query parameter's is, however deep (it
    was sent as its JSON text, and one too deep for orjson refused as such: a field that takes an
    object still is, tests/unit/test_form_field_values.py)."""
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(300):
        node["k"] = {}
        node = node["k"]
    with pytest.raises(ArgumentError, match=r"^argument 'username' must be a string, number or boolean$"):
        spec(catalog, "login").build_request({"username": deep, "password": "p"})


PNG_HEAD = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def test_multipart_body(app: FastAPI, catalog: Catalog) -> None:
    """A file argument is the file's bytes in base64 (they were sent as the string's UTF-8, so no
    binary file could be uploaded); the part says it is a file of the declared media type."""
    upload = spec(catalog, "upload")
    assert upload.tool["inputSchema"]["properties"]["file"] == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
        "contentEncoding": "base64",
        "title": "File",
    }
    sub = upload.build_request({"file": base64.b64encode(PNG_HEAD).decode(), "note": "hi"})
    assert dict(sub.headers)[b"content-type"].startswith(b"multipart/form-data; boundary=")
    expected = {"filename": "file.png", "type": "image/png", "data": PNG_HEAD.hex(), "note": "hi"}
    assert call(app, sub) == (200, expected)
    wrapped = base64.encodebytes(PNG_HEAD).decode()  # line breaks every 76 characters: still base64
    assert call(app, upload.build_request({"file": wrapped, "note": "hi"})) == (200, expected)


@pytest.mark.parametrize(
    ("data", "filename", "media"),
    [
        (b"\xff\xd8\xff\xe0" + bytes(16), "file.jpg", "image/jpeg"),
        (b"GIF89a" + bytes(16), "file.gif", "image/gif"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(16), "file.webp", "image/webp"),
        (b"%PDF-1.7\n" + bytes(16), "file.pdf", "application/pdf"),
        (b"PK\x03\x04" + bytes(16), "file.zip", "application/zip"),
        (b"\x1f\x8b\x08" + bytes(16), "file.gz", "application/gzip"),
        (b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(16), "file.wav", "audio/wav"),
        (b"ID3\x04" + bytes(16), "file.mp3", "audio/mpeg"),
        (b"OggS" + bytes(16), "file.ogg", "audio/ogg"),
        (b"RIFF\x10\x00\x00\x00AVI " + bytes(16), "file", "application/octet-stream"),  # no known kind
        (b"\x00\x01\x02", "file", "application/octet-stream"),
        (b"", "file", "application/octet-stream"),
    ],
)
def test_an_untyped_file_is_named_and_typed_by_its_content(
    app: FastAPI, catalog: Catalog, data: bytes, filename: str, media: str
) -> None:
    """A route that checks an upload's type or extension (``content_type in ("image/png", ...)``,
    ``filename.endswith(".pdf")``) could be called with no file at all: every part was an
    ``application/octet-stream`` named after the argument. A file declared only as bytes now gets
    the media type its first bytes show, for the common kinds, and the matching extension."""
    sub = spec(catalog, "upload").build_request({"file": base64.b64encode(data).decode()})
    assert call(app, sub) == (200, {"filename": filename, "type": media, "data": data.hex(), "note": ""})


def test_a_text_file_declared_with_parameters_is_text_and_base64_ignores_whitespace() -> None:
    """``text/plain; charset=utf-8`` was no media type to ``_file_field`` (the parameters), so the
    file was taken for binary and its text refused as base64."""
    text = {"type": "string", "contentMediaType": "text/plain; charset=utf-8"}
    upper = {"type": "string", "contentMediaType": "Text/CSV"}
    blob = {"type": "string", "contentMediaType": "image/png; name=x"}
    form = {"type": "object", "required": ["doc"], "properties": {"doc": text, "sheet": upper, "blob": blob}}
    content = {"multipart/form-data": {"schema": form}}
    doc = {"paths": {"/d": {"post": {"operationId": "d", "requestBody": {"required": True, "content": content}}}}}
    tool = build_catalog(doc).tools[0]
    properties = tool.tool["inputSchema"]["properties"]
    assert (properties["doc"], properties["sheet"]) == (text, upper)
    assert properties["blob"] == {**blob, "contentEncoding": "base64"}
    body = tool.build_request({"doc": "héllo", "sheet": "a,b", "blob": " AA\tE=\r\n"}).body
    assert b'filename="doc"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nh\xc3\xa9llo\r\n' in body
    assert b'filename="sheet"\r\nContent-Type: Text/CSV\r\n\r\na,b\r\n' in body
    assert b'filename="blob"\r\nContent-Type: image/png; name=x\r\n\r\n\x00\x01\r\n' in body  # whitespace ignored


# ("abc", unpadded, is base64 now, as content.image reads it: test_file_arguments; 4n + 1 characters never are)
@pytest.mark.parametrize("value", ["not base64!", "abcde", "aGVsbG8=x", "é", 12345])
def test_a_file_argument_that_is_not_base64_is_refused(catalog: Catalog, value: Any) -> None:
    with pytest.raises(ArgumentError, match=r"^argument 'file' must be the file's content in base64$"):
        spec(catalog, "upload").build_request({"file": value})


def test_multipart_boundary_never_appears_in_the_values(app: FastAPI, catalog: Catalog) -> None:
    clash = b"a --mcp-middleware-form-boundary b, and --mcp-middleware-form-boundary-1 too"
    sub = spec(catalog, "upload").build_request({"file": base64.b64encode(clash).decode(), "note": "hi"})
    content_type = dict(sub.headers)[b"content-type"]
    assert content_type == b"multipart/form-data; boundary=mcp-middleware-form-boundary-2"
    assert call(app, sub) == (
        200,
        {"filename": "file", "type": "application/octet-stream", "data": clash.hex(), "note": "hi"},
    )


def test_file_lists_optional_files_and_files_declared_as_text() -> None:
    """Every file shape FastAPI writes is base64; a hand-written ``text/*`` file part declared
    without an encoding is the string itself, and a JSON body's binary string is no file at all."""
    app = FastAPI()

    @app.post("/many")
    async def many(
        files: list[UploadFile], raw: Annotated[bytes, File()], maybe: UploadFile | None = None
    ) -> dict[str, Any]:
        return {
            "files": [(await f.read()).hex() for f in files],
            "raw": raw.hex(),
            "maybe": None if maybe is None else (await maybe.read()).hex(),
        }

    catalog = catalog_from_app(app)
    tool = spec(catalog, "many")
    properties = tool.tool["inputSchema"]["properties"]
    assert properties["files"]["items"]["contentEncoding"] == "base64"
    assert properties["raw"]["contentEncoding"] == "base64"
    assert properties["maybe"]["contentEncoding"] == "base64"
    b64 = [base64.b64encode(data).decode() for data in (b"\x00\x01", b"\xff", b"\xfe\xfd")]
    sub = tool.build_request({"files": b64[:2], "raw": b64[2]})
    assert call(app, sub) == (200, {"files": ["0001", "ff"], "raw": "fefd", "maybe": None})
    with pytest.raises(ArgumentError, match="argument 'files' must be the file's content in base64"):
        tool.build_request({"files": [b64[0], "?"], "raw": b64[2]})

    csv = {"type": "string", "contentMediaType": "text/csv"}
    raw = {"type": "string", "format": "binary"}
    odd = {"type": "string", "contentMediaType": "text/plain\r\nX-Evil: 1", "contentEncoding": "base64"}
    form = {"type": "object", "properties": {"sheet": csv, "blob": raw, "odd": odd}}
    doc = {
        "paths": {
            "/f": {"post": {"operationId": "f", "requestBody": {"content": {"multipart/form-data": {"schema": form}}}}},
            "/j": {"post": {"operationId": "j", "requestBody": {"content": {"application/json": {"schema": form}}}}},
        }
    }
    form_tool, json_tool = build_catalog(doc).tools
    assert form_tool.tool["inputSchema"]["properties"] == {
        "sheet": csv,
        "blob": {**raw, "contentEncoding": "base64"},
        "odd": odd,
    }
    body = form_tool.build_request({"sheet": "a,é\n", "blob": "AAE=", "odd": "AA=="}).body
    assert b'name="sheet"; filename="sheet"\r\nContent-Type: text/csv\r\n\r\na,\xc3\xa9\n\r\n' in body
    assert b'name="blob"; filename="blob"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01\r\n' in body
    assert b'filename="odd"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\r\n' in body  # not a media type
    assert json_tool.tool["inputSchema"]["properties"]["blob"] == raw  # the string is the value
    assert json_tool.build_request({"blob": "AAE="}).body == b'{"blob":"AAE="}'


def test_unknown_and_non_string_keys_are_refused(catalog: Catalog) -> None:
    arguments: dict[Any, Any] = {"item_id": 7, "nope": 1, 3: "x", None: "y"}
    with pytest.raises(ArgumentError) as refused:
        spec(catalog, "read_item").build_request(arguments)
    assert str(refused.value) == "unknown arguments 'nope', 3, None; valid arguments: 'item_id', 'q'"
    hand_made = ToolSpec("t", "GET", "/u/{user_id}", {"name": "t"}, False)
    with pytest.raises(ArgumentError, match=r"^unknown argument 'id'; valid arguments: 'user_id'$"):
        hand_made.build_request({"id": 1})


def test_a_tool_without_arguments_ignores_the_arguments_it_is_given(app: FastAPI, catalog: Catalog) -> None:
    """Cursor sends ``{"random_string": "dummy"}`` to a tool without parameters; b1a883e refused it
    as an unknown argument, so such clients could no longer call any tool without parameters. A
    tool that has arguments still refuses one it does not have (a misspelt field)."""
    sub = spec(catalog, "ping").build_request({"random_string": "dummy", "q": ["x"]})
    assert (sub.path, sub.query_string, sub.headers, sub.body) == ("/ping", b"", (), b"")
    assert call(app, sub) == (200, "pong")
    with pytest.raises(ArgumentError, match=r"^unknown argument 'random_string'; valid arguments: 'item_id', 'q'$"):
        spec(catalog, "read_item").build_request({"item_id": 7, "random_string": "dummy"})


def test_a_tool_whose_json_body_has_no_fields_ignores_a_placeholder() -> None:
    """A required JSON body without fields (``class Ping(BaseModel): pass``) is sent as ``{}``, and
    its tool has no arguments, so Cursor calls it with its placeholder too: 25b3144 refused that
    ("valid arguments: none") along with the arguments of a form whose fields cannot be read."""

    class Empty(BaseModel):
        pass

    api = FastAPI()

    @api.post("/ping", operation_id="ping")
    def ping(body: Empty) -> dict[str, bool]:
        return {"ok": True}

    sub = spec(catalog_from_app(api), "ping").build_request({"random_string": "dummy"})
    assert (sub.path, sub.body) == ("/ping", b"{}")
    assert call(api, sub) == (200, {"ok": True})


def test_an_explicit_input_schema_declares_its_own_arguments() -> None:
    """``x-mcp-input-schema`` is the tool's contract: a property it declares is accepted even where
    the route takes no such parameter (the conformance fixture ``json_schema_2020_12_tool``
    requires ``phone`` or ``email`` of a route without parameters), and dropped as its author chose."""
    custom = {"type": "object", "properties": {"phone": {"type": "string"}, "q": {"type": "string"}}}
    params = [{"name": "q", "in": "query", "schema": {"type": "string"}}]
    doc = {"paths": {"/c/{cid}": {"post": {"operationId": "c", "parameters": params, "x-mcp-input-schema": custom}}}}
    tool = build_catalog(doc).tools[0]
    sub = tool.build_request({"cid": 1, "phone": "123", "q": "x"})
    assert (sub.path, sub.query_string, sub.body) == ("/c/1", b"q=x", b"")
    with pytest.raises(ArgumentError) as refused:
        tool.build_request({"cid": 1, "email": "e"})
    assert str(refused.value) == "unknown argument 'email'; valid arguments: 'phone', 'q', 'cid'"


def test_explicit_schema_properties_that_reach_no_route_are_logged_once_per_tool(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Review: a property of ``x-mcp-input-schema`` that no parameter or body field maps was
    accepted from the client and silently not sent (the body takes no other properties). The
    catalog now says so, one warning per tool naming them; a tool whose every property is mapped,
    or whose body takes other properties, gets none."""
    closed = {"type": "object", "properties": {"phone": {"type": "string"}, "q": {}, "email": {}}}
    mapped = {"type": "object", "properties": {"q": {"type": "string"}}}
    params = [{"name": "q", "in": "query", "schema": {"type": "string"}}]
    open_body = {"type": "object", "properties": {}, "additionalProperties": True}
    doc = {
        "paths": {
            "/c/{cid}": {"post": {"operationId": "c", "parameters": params, "x-mcp-input-schema": closed}},
            "/m": {"get": {"operationId": "m", "parameters": params, "x-mcp-input-schema": mapped}},
            "/o": {
                "post": {
                    "operationId": "o",
                    "requestBody": {"content": {"application/json": {"schema": open_body}}},
                    "x-mcp-input-schema": closed,
                }
            },
        }
    }
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        build_catalog(doc)
    assert [r.getMessage() for r in caplog.records] == [
        "Tool 'c' (POST /c/{cid}): its x-mcp-input-schema declares properties that no parameter or body "
        "field of the route maps, so the client may send them but they will not reach the route: 'phone', 'email'"
    ]


def _patch_app() -> FastAPI:
    app = FastAPI()

    @app.patch("/users/{user_id}")
    def update_user(user_id: int, patch: UserPatch) -> dict[str, Any]:
        return patch.model_dump(exclude_none=True)

    @app.patch("/strict/{user_id}")
    def update_strict(user_id: int, patch: StrictPatch) -> dict[str, Any]:
        return patch.model_dump(exclude_none=True)

    @app.patch("/open/{user_id}")
    def update_open(user_id: int, patch: OpenPatch, dry_run: bool = False) -> dict[str, Any]:
        return {"dry_run": dry_run, **patch.model_dump(by_alias=True, exclude_none=True)}

    @app.get("/search")
    def search(item_query: Annotated[str | None, Query(alias="item-query")] = None) -> dict[str, Any]:
        return {"filter": item_query}

    return app


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        (
            "update_user",  # a model that ignores unknown fields: over HTTP the change is lost silently too
            {"user_id": 1, "emial": "new@example.com"},
            "unknown argument 'emial'; valid arguments: 'user_id', 'email', 'name'",
        ),
        (
            "update_strict",  # extra="forbid": HTTP says 422 extra_forbidden
            {"user_id": 1, "emial": "new@example.com", "nmae": "x"},
            "unknown arguments 'emial', 'nmae'; valid arguments: 'user_id', 'email', 'name'",
        ),
        (
            "search",  # the Python name of an aliased parameter reached the route as None
            {"item_query": "red"},
            "unknown argument 'item_query'; valid arguments: 'item-query'",
        ),
    ],
)
def test_an_argument_the_tool_does_not_have_is_refused_naming_the_valid_ones(
    name: str, arguments: dict[str, Any], message: str
) -> None:
    """They were dropped without a word: the call succeeded and changed nothing (SEP-1303: argument
    errors are tool errors, so the model can correct itself)."""
    with pytest.raises(ArgumentError) as refused:
        spec(catalog_from_app(_patch_app()), name).build_request(arguments)
    assert str(refused.value) == message


def test_a_body_that_forbids_other_properties_says_so_in_the_input_schema() -> None:
    """Only such a body (and a tool without arguments) says ``additionalProperties: false``:
    clients backed by Gemini have rejected schemas that use it, so the others leave it unsaid, and
    their unknown arguments are refused by the call instead (README, **Input schema**)."""
    tools = catalog_from_app(_patch_app())
    assert spec(tools, "update_strict").tool["inputSchema"]["additionalProperties"] is False
    assert "additionalProperties" not in spec(tools, "update_user").tool["inputSchema"]  # not said: not ours to say
    assert "additionalProperties" not in spec(tools, "search").tool["inputSchema"]


def test_a_body_that_takes_other_properties_gets_the_unknown_arguments() -> None:
    app = _patch_app()
    tool = spec(catalog_from_app(app), "update_open")
    assert tool.tool["inputSchema"]["additionalProperties"] is True
    assert list(tool.tool["inputSchema"]["properties"]) == ["user_id", "dry_run", "email", "nick"]
    # ``@nick`` is the ``nick`` argument; the same key sent as it is does not override the argument
    arguments = {"user_id": 1, "dry_run": True, "email": "e", "nick": "n", "role": "admin", "@nick": "m"}
    sub = tool.build_request(arguments)
    assert orjson.loads(sub.body) == {"role": "admin", "@nick": "n", "email": "e"}
    assert call(app, sub) == (200, {"dry_run": True, "role": "admin", "@nick": "n", "email": "e"})
    assert call(app, tool.build_request({"user_id": 1, "role": "admin"})) == (200, {"dry_run": False, "role": "admin"})


def test_an_explicit_schema_property_an_open_body_takes_goes_into_the_body() -> None:
    """With ``x-mcp-input-schema`` over a body that takes other fields, a property the schema
    declares but no parameter maps was dropped, while an undeclared one reached the body."""
    app = FastAPI()
    declared = {"title": {"type": "string"}, "colour": {"type": "string"}}
    custom = {"type": "object", "properties": declared, "required": ["title"]}

    @app.post("/notes", openapi_extra={"x-mcp-input-schema": custom})
    def add_note(note: OpenNote) -> dict[str, Any]:
        return note.model_dump()

    tool = spec(catalog_from_app(app), "add_note")
    assert tool.tool["inputSchema"] == custom
    assert call(app, tool.build_request({"title": "t", "colour": "red"})) == (200, {"title": "t", "colour": "red"})
    assert call(app, tool.build_request({"title": "t", "size": 3})) == (200, {"title": "t", "size": 3})


def test_other_body_properties_of_a_schema_reach_the_body_as_the_schema_says() -> None:
    """A hand-written body with no declared property but ``additionalProperties`` (a schema, here
    one referring to a component): the arguments are the body's properties."""
    body = {"type": "object", "properties": {}, "additionalProperties": {"$ref": "#/components/schemas/Count"}}
    doc = {
        "paths": {
            "/counts": {
                "post": {
                    "operationId": "counts",
                    "parameters": [{"name": "dry", "in": "query", "schema": {"type": "boolean"}}],
                    "requestBody": {"content": {"application/json": {"schema": body}}},
                }
            }
        },
        "components": {"schemas": {"Count": {"type": "integer", "minimum": 0}}},
    }
    tool = build_catalog(doc).tools[0]
    assert tool.tool["inputSchema"] == {
        "type": "object",
        "properties": {"dry": {"type": "boolean"}},
        "additionalProperties": {"type": "integer", "minimum": 0},
    }
    sub = tool.build_request({"dry": True, "apples": 2, "pears": 3})
    assert (sub.query_string, sub.body) == (b"dry=true", b'{"apples":2,"pears":3}')
    assert tool.build_request({"dry": True}).body == b""


def test_body_that_cannot_be_json(catalog: Catalog) -> None:
    with pytest.raises(ArgumentError, match="cannot be encoded as JSON"):
        spec(catalog, "sum_numbers").build_request({"body": {1: object()}})


def test_hand_made_tool_spec_without_plan() -> None:
    tool = ToolSpec("t", "GET", "/u/{user id}/x", {"name": "t"}, False)
    assert tool.build_request({"user id": "a b"}).path == "/u/a%20b/x"


@pytest.mark.parametrize("value", ["a/b", "../admin", "/", "1/secret"])
def test_slashes_in_path_values_are_refused(catalog: Catalog, value: str) -> None:
    with pytest.raises(ArgumentError, match="must not contain '/'"):
        spec(catalog, "read_file").build_request({"file_path": value})


def _path_converter_app() -> FastAPI:
    app = FastAPI()

    @app.get("/repos/{owner}/blob/{rest:path}", operation_id="blob")
    async def blob(owner: str, rest: str) -> dict[str, str]:
        return {"owner": owner, "rest": rest}

    @app.put("/notes/{rest:path}", operation_id="put_note")
    async def put_note(rest: str, body: Annotated[dict[str, int], Body()]) -> dict[str, Any]:
        return {"rest": rest, "body": body}

    return app


def test_a_path_converter_parameter_takes_slashes_segment_by_segment() -> None:
    """Starlette's ``{name:path}`` (dropped from the OpenAPI document) matches values with slashes;
    they were refused like any path value's."""
    app = _path_converter_app()
    catalog = catalog_from_app(app)
    blob = spec(catalog, "blob").build_request({"owner": "me", "rest": "src/a b/é.txt"})
    assert blob.path == "/repos/me/blob/src/a%20b/%C3%A9.txt"
    assert call(app, blob) == (200, {"owner": "me", "rest": "src/a b/é.txt"})
    note = spec(catalog, "put_note").build_request({"rest": "x/%2F", "body": {"n": 1}})
    assert call(app, note) == (200, {"rest": "x/%2F", "body": {"n": 1}})
    with pytest.raises(ArgumentError, match="'owner' must not contain '/'"):
        spec(catalog, "blob").build_request({"owner": "a/b", "rest": "x"})
    hand_made = ToolSpec("t", "GET", "/f/{p:path}", {"name": "t"}, False)
    assert hand_made.build_request({"p": "a/b"}).path == "/f/a/b"


@pytest.mark.parametrize("value", [".", "..", "../etc", "a/../../b", "a/./b", "a/.."])
def test_dot_segments_in_a_path_converter_value_are_refused(value: str) -> None:
    with pytest.raises(ArgumentError, match=r"'rest' must not contain '\.' or '\.\.' segments"):
        spec(catalog_from_app(_path_converter_app()), "blob").build_request({"owner": "me", "rest": value})


@pytest.mark.parametrize("value", ["\n/", "a\nb", "a/b\n\n", "a/b\n"])
def test_a_line_break_in_a_path_converter_value_is_refused(value: str) -> None:
    """Starlette's ``:path`` pattern (``.*``) stops at a line break, so the sub-request went to a
    redirect or another route (found by the fuzz test: ``"\n/"`` got a 307), or, a final one
    (before which ``$`` matches), reached the route without it."""
    with pytest.raises(ArgumentError, match="'rest' must not contain a line break"):
        spec(catalog_from_app(_path_converter_app()), "blob").build_request({"owner": "me", "rest": value})


def test_without_the_app_a_path_converter_is_unknown() -> None:
    """The document alone does not say ``:path``: slashes stay refused."""
    catalog = build_catalog(_path_converter_app().openapi())
    with pytest.raises(ArgumentError, match="'rest' must not contain '/'"):
        spec(catalog, "blob").build_request({"owner": "me", "rest": "a/b"})


# --- catalogs, filters, apps -------------------------------------------------------------------


def test_catalog_lookup_and_duplicates(catalog: Catalog) -> None:
    assert spec(catalog, "tree").path == "/tree"
    assert catalog.get("missing") is None
    tool = ToolSpec("same", "GET", "/", {"name": "same"}, False)
    with pytest.raises(ValueError, match="duplicate tool name 'same'"):
        Catalog((tool, tool))
    assert Catalog(()).tool_dicts() == []


def test_a_copied_catalog_and_spec_look_up_their_own_tools() -> None:
    """The name lookup and a tool's call target are worked out when each is built: a catalog or
    spec made from another by ``dataclasses.replace`` has its own."""
    first = ToolSpec("first", "GET", "/", {"name": "first"}, False)
    second = dataclasses.replace(first, name="second")
    assert (first.target, second.target) == ("tool:first", "tool:second")
    catalog = Catalog((first,))
    copied = dataclasses.replace(catalog, tools=(second,))
    assert (catalog.get("first"), catalog.get("second")) == (first, None)
    assert (copied.get("first"), copied.get("second")) == (None, second)


def test_filters(app: FastAPI) -> None:
    def names(tool_filter: ToolFilter, **kwargs: Any) -> list[str]:
        return [t.name for t in catalog_from_app(app, tool_filter=tool_filter, **kwargs).tools]

    assert names(ToolFilter(include_tags=frozenset({"admin"}))) == ["get_user"]
    assert "read_item" not in names(ToolFilter(exclude_tags=frozenset({"items"})))
    # operation ids and final tool names both work
    include = frozenset({"read_item_items__item_id__get", "item_get", LONG_ID})
    assert names(ToolFilter(include_operations=include)) == ["read_item", "item_get", EXPECTED_TOOLS[11][0]]
    assert "ping" not in names(ToolFilter(exclude_operations=frozenset({"ping_ping_get"})))
    assert names(ToolFilter(include_paths=("/items*",), methods=frozenset({"delete", "PUT"}))) == [
        "replace_item",
        "item_delete",
    ]
    assert names(ToolFilter(exclude_paths=("/api/*", "/[a-t]*", "/w*"))) == ["union", "upload"]
    # names do not change with the filter; exclude_paths is exact
    assert names(ToolFilter(include_paths=("/things/*",)), exclude_paths=["/things"]) == ["item_get"]
    assert names(ToolFilter(), exclude_paths=["/items/{item_id}"])[:2] == ["list_items", "item"]


def test_filter_keeps_directly() -> None:
    tool_filter = ToolFilter(include_tags=frozenset({"a"}), methods=frozenset({"get"}))
    assert tool_filter.methods == frozenset({"GET"})
    assert tool_filter.keeps(method="GET", path="/x", tags=["a", "b"])
    assert tool_filter.names_kept("x")
    assert not tool_filter.keeps(method="POST", path="/x", tags=["a"])
    assert not tool_filter.keeps(method="GET", path="/x", tags=[])


def test_plain_starlette_app_gets_tools_from_its_routes() -> None:
    """No ``openapi()``: the routes make the document (tests/unit/test_starlette.py has the rest)."""

    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("hi")

    assert [t.name for t in catalog_from_app(Starlette(routes=[Route("/", home)])).tools] == ["home"]


def test_openapi_failure_logs_and_yields_no_tools(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def openapi(self) -> dict[str, Any]:
            raise RuntimeError("boom")

    with caplog.at_level(logging.WARNING, logger="mcp_middleware.catalog"):
        assert catalog_from_app(Broken()).tools == ()
    assert "openapi() failed" in caplog.text


@given(st.lists(st.tuples(st.text(), st.text()), max_size=5))
def test_query_encoding_matches_urlencode(pairs: list[tuple[str, str]]) -> None:
    from urllib.parse import urlencode

    from mcp_middleware._values import _form_encode

    encoded = "&".join(f"{_form_encode(key)}={_form_encode(value)}" for key, value in pairs)
    assert encoded == urlencode(pairs)


def test_odd_documents_give_what_they_can(caplog: pytest.LogCaptureFixture) -> None:
    """Hand-written or generated OpenAPI documents: no paths object, a vendor ``+json`` body,
    a deprecated parameter, a reference that cannot be inlined."""
    assert build_catalog({"paths": ["not", "a", "mapping"]}).tools == ()
    doc: dict[str, Any] = {
        "paths": {
            "/things": {
                "post": {
                    "operationId": "make_thing",
                    "parameters": [
                        {"name": "legacy", "in": "query", "deprecated": True, "schema": {"type": "string"}},
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/vnd.api+json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"spec": {"$ref": "https://example.com/spec.json"}},
                                }
                            }
                        },
                    },
                }
            }
        }
    }
    tool = build_catalog(doc).tools[0]
    properties = tool.tool["inputSchema"]["properties"]
    assert properties["legacy"] == {"type": "string", "deprecated": True}
    assert properties["spec"] == {"$ref": "https://example.com/spec.json"}  # kept as it is
    sub = tool.build_request({"spec": {"a": 1}})
    assert dict(sub.headers)[b"content-type"] == b"application/vnd.api+json"
    assert orjson.loads(sub.body) == {"spec": {"a": 1}}

    class NotOpenAPI(Starlette):
        def openapi(self) -> Any:
            return ["nope"]

    with caplog.at_level(logging.WARNING):
        assert catalog_from_app(NotOpenAPI()).tools == ()
    assert "did not return a mapping" in caplog.text


def test_no_output_schema_when_the_success_response_may_also_be_another_media_type() -> None:
    app = FastAPI()

    @app.get("/picture", responses={200: {"content": {"image/png": {}}}})
    def picture() -> Dimensions:  # FastAPI's "additional media types": JSON or a PNG
        return Dimensions(width=1, height=1)

    @app.get("/size")
    def size() -> Dimensions:
        return Dimensions(width=1, height=1)

    @app.get("/problem", responses={200: {"content": {"application/problem+json": {}}}})
    def problem() -> Dimensions:  # only JSON flavours: still structured
        return Dimensions(width=1, height=1)

    catalog = catalog_from_app(app)
    assert not spec(catalog, "picture").has_output_schema
    assert "outputSchema" not in spec(catalog, "picture").tool
    assert spec(catalog, "size").has_output_schema
    assert spec(catalog, "problem").has_output_schema


class Level(BaseModel):
    level: int | None = 5


class Patch(BaseModel):
    note: str | None = "keep"
    gone: str | None = None
    inner: Level = Level()


def test_optional_with_another_default_keeps_null_in_bodies() -> None:
    app = FastAPI()

    @app.post("/patch")
    def patch(p: Patch, q: str | None = "dflt") -> dict[str, Any]:
        return {**p.model_dump(), "q": q}

    tool = spec(catalog_from_app(app), "patch")
    schema = tool.tool["inputSchema"]
    null = {"type": "null"}
    # null is a value of its own here, not "omitted" (that gives "keep"): the schema says so
    assert schema["properties"]["note"] == {"anyOf": [{"type": "string"}, null], "title": "Note", "default": "keep"}
    assert schema["properties"]["gone"] == {"type": "string", "title": "Gone"}  # = None: plain X, as before
    assert schema["properties"]["inner"]["properties"]["level"]["anyOf"] == [{"type": "integer"}, null]
    # a query string cannot carry null: the parameter stays a plain X
    assert schema["properties"]["q"] == {"type": "string", "title": "Q", "default": "dflt"}
    jsonschema.Draft202012Validator(schema).validate({"note": None, "inner": {"level": None}})

    sub = tool.build_request({"note": None, "gone": None, "inner": {"level": None}, "q": None})
    # "gone" allows null: an explicit null is sent (a route reading the fields set sees it), though
    # its schema is a plain X; "q" is a query parameter, where null is "omitted"
    assert orjson.loads(sub.body) == {"note": None, "gone": None, "inner": {"level": None}}
    assert call(app, sub) == (200, {"note": None, "gone": None, "inner": {"level": None}, "q": "dflt"})
    defaults = {"note": "keep", "gone": None, "inner": {"level": 5}, "q": "dflt"}
    assert call(app, tool.build_request({})) == (200, defaults)


class Cat(BaseModel):
    pet_type: Literal["cat"]
    meows: int


class Dog(BaseModel):
    pet_type: Literal["dog"]
    barks: float


class Owner(BaseModel):
    name: str
    pet: Cat | Dog | None = None
    kept: Cat | Dog | None = Cat(pet_type="cat", meows=1)  # null is a value of its own
    needed: Cat | Dog | None  # required, and may be null


def _portable(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``pattern`` as an input schema says it (left out where it has no form)."""
    if "pattern" not in schema:
        return schema
    pattern = ecma_pattern(schema["pattern"])
    rest = {key: value for key, value in schema.items() if key != "pattern"}
    return rest if pattern is None else {**rest, "pattern": pattern}


def test_optional_of_a_union_is_the_plain_union() -> None:
    """Regression: ``Optional[X] = None`` became plain ``X`` only when ``X`` was one schema; a
    union (``Optional[Cat | Dog]``, ``Optional[Decimal]``, which pydantic writes as ``number |
    string``) kept its ``null`` branch, in a query parameter too, where null cannot be sent. With
    two or more other branches, the ``null`` one goes under the same rules: a body field with
    another default, or a required one, keeps it, and a null for a JSON body field whose schema
    takes null is still sent as null."""
    app = FastAPI()

    @app.post("/owners")
    def make_owner(
        owner: Owner, amount: Decimal | None = None, code: Annotated[int | str | None, Query()] = 0
    ) -> dict[str, Any]:
        return {**owner.model_dump(), "amount": str(amount), "code": code}

    tool = spec(catalog_from_app(app), "make_owner")
    schema = tool.tool["inputSchema"]
    properties, null = schema["properties"], {"type": "null"}
    pets = [
        {key: value for key, value in TypeAdapter(pet).json_schema().items() if key != "description"}
        for pet in (Cat, Dog)
    ]
    assert properties["pet"] == {"anyOf": pets, "title": "Pet"}
    assert properties["kept"]["anyOf"] == [*pets, null]
    assert properties["needed"]["anyOf"] == [*pets, null]
    # pydantic before 2.14 gives the string branch a pattern: pydantic's own schema, its pattern in
    # the portable form every input schema's pattern takes (ecma_pattern)
    decimal = [_portable(branch) for branch in TypeAdapter(Decimal).json_schema()["anyOf"]]
    assert [branch["type"] for branch in decimal] == ["number", "string"]
    assert properties["amount"] == {"anyOf": decimal, "title": "Amount"}
    assert properties["code"] == {"anyOf": [{"type": "integer"}, {"type": "string"}], "title": "Code", "default": 0}
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate({"name": "a", "needed": None, "kept": None, "pet": {"pet_type": "dog", "barks": 1.5}})
    assert not validator.is_valid({"name": "a", "needed": None, "amount": None})

    sub = tool.build_request({"name": "a", "needed": None, "kept": None, "pet": None, "amount": None, "code": None})
    assert (sub.query_string, orjson.loads(sub.body)) == (b"", {"name": "a", "needed": None, "kept": None, "pet": None})
    assert call(app, sub) == (
        200,
        {"name": "a", "pet": None, "kept": None, "needed": None, "amount": "None", "code": 0},
    )
    sub = tool.build_request({"name": "a", "needed": {"pet_type": "cat", "meows": 2}, "amount": 1.5})
    assert call(app, sub) == (
        200,
        {
            "name": "a",
            "pet": None,
            "kept": {"pet_type": "cat", "meows": 1},
            "needed": {"pet_type": "cat", "meows": 2},
            "amount": "1.5",
            "code": 0,
        },
    )


class ItemUpdate(BaseModel):
    name: str | None = None
    level: Level | None = None
    count: int = 3  # no null: a null argument is "omitted", as the default cannot be null
    tags: list[str] | None = None


def test_null_clears_an_optional_body_field_of_a_patch_route() -> None:
    """Review: ``Optional[X] = None`` body fields dropped an explicit null, so a PATCH route reading
    ``model_dump(exclude_unset=True)`` answered success and kept the old value (over HTTP the same
    JSON clears it). Null is now sent for a field whose schema allows it; the schema stays plain X."""
    app = FastAPI()
    stored: dict[str, Any] = {"name": "a", "level": {"level": 1}, "count": 7, "tags": ["t"]}

    @app.patch("/items/{item_id}")
    def patch_item(item_id: int, update: ItemUpdate) -> dict[str, Any]:
        stored.update(update.model_dump(exclude_unset=True))
        return stored

    tool = spec(catalog_from_app(app), "patch_item")
    properties = tool.tool["inputSchema"]["properties"]
    assert properties["name"] == {"type": "string", "title": "Name"}
    assert properties["level"]["type"] == "object"  # its own fields may take null: not the field
    assert properties["tags"] == {"type": "array", "items": {"type": "string"}, "title": "Tags"}
    assert not any("null" in json.dumps(properties[key]) for key in ("name", "count", "tags"))

    sub = tool.build_request({"item_id": 1, "name": None, "level": None, "count": None, "tags": None})
    assert orjson.loads(sub.body) == {"name": None, "level": None, "tags": None}  # count: omitted
    assert call(app, sub) == (200, {"name": None, "level": None, "count": 7, "tags": None})
    assert call(app, tool.build_request({"item_id": 1, "name": "b"})) == (
        200,
        {"name": "b", "level": None, "count": 7, "tags": None},
    )
    assert tool.build_request({"item_id": 1}).body == b"{}"  # nothing given: nothing set, as before


def test_null_for_a_form_field_or_a_parameter_is_still_omitted() -> None:
    """A form or a query string cannot carry null: there it still means "omitted"."""
    app = FastAPI()

    @app.post("/form")
    def form(name: Annotated[str | None, Form()] = None, q: str | None = None) -> dict[str, Any]:
        return {"name": name, "q": q}

    tool = spec(catalog_from_app(app), "form")
    sub = tool.build_request({"name": None, "q": None})
    assert (sub.query_string, sub.body) == (b"", b"")
    assert call(app, sub) == (200, {"name": None, "q": None})


@pytest.mark.parametrize("multipart", [False, True])
def test_null_for_a_form_field_with_another_default_is_omitted(multipart: bool) -> None:
    """Review: a form field ``Optional[X] = Form(5)`` (or ``Optional[X | Y]``) kept ``null`` in its
    schema and sent it, and the form encoder refused it ("must be a string, number or boolean"). A
    form cannot carry null: there it means "omitted" (the route's default), and the schema has no
    null branch, required or not."""
    app = FastAPI()

    def form(
        needed: Annotated[int | None, Form()],
        single: Annotated[int | None, Form()] = 5,
        union: Annotated[int | float | None, Form()] = 6,
    ) -> dict[str, Any]:
        return {"single": single, "union": union, "needed": needed}

    def with_file(
        needed: Annotated[int | None, Form()],
        single: Annotated[int | None, Form()] = 5,
        union: Annotated[int | float | None, Form()] = 6,
        file: UploadFile | None = None,
    ) -> dict[str, Any]:
        return {"single": single, "union": union, "needed": needed}

    app.post("/form", operation_id="form")(with_file if multipart else form)
    tool = spec(catalog_from_app(app), "form")
    schema = tool.tool["inputSchema"]
    properties = schema["properties"]
    assert properties["single"] == {"type": "integer", "title": "Single", "default": 5}
    assert properties["union"] == {"anyOf": [{"type": "integer"}, {"type": "number"}], "title": "Union", "default": 6}
    assert properties["needed"] == {"type": "integer", "title": "Needed"}
    assert not jsonschema.Draft202012Validator(schema).is_valid({"needed": 1, "single": None})

    sub = tool.build_request({"single": None, "union": None, "needed": 1})
    assert call(app, sub) == (200, {"single": 5, "union": 6, "needed": 1})


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, True),
        ({"anyOf": [{"$ref": "#/components/schemas/Level"}, {"type": "null"}]}, True),
        ({"type": ["integer", "null"]}, True),
        ({"type": "integer", "nullable": True}, True),  # OpenAPI 3.0
        ({"enum": ["a", None]}, True),
        ({}, True),  # says nothing: any value, null too
        ({"$ref": "#/components/schemas/Maybe"}, True),
        ({"type": "integer"}, False),
        ({"enum": ["a"]}, False),
        ({"const": 1, "type": "null"}, False),
        ({"$ref": "#/components/schemas/Level"}, False),
        ({"allOf": [{"$ref": "#/components/schemas/Level"}]}, False),
    ],
)
def test_which_schemas_take_null(schema: Any, expected: bool) -> None:
    schemas = SchemaSet({"Level": {"type": "object", "properties": {}}, "Maybe": {"type": ["string", "null"]}})
    assert schemas.allows_null(schema) is expected


_NULL_DEFS = {"Word": {"type": "string"}, "Maybe": {"type": ["string", "null"]}, "Loop": {"$ref": "#/$defs/Loop"}}


@pytest.mark.parametrize(
    ("prop", "kept"),
    [
        (False, True),  # refuses every value
        (True, False),  # takes any value, null too
        ({"const": "a"}, True),
        ({"const": None}, False),
        ({"enum": ["a", "b"]}, True),
        ({"enum": ["a", None]}, False),
        ({"type": ["string", "integer"]}, True),
        ({"type": ["string", "null"]}, False),
        ({"$ref": "#/$defs/Word"}, True),
        ({"$ref": "#/$defs/Maybe"}, False),
        ({"$ref": "#/$defs/Loop"}, False),  # a reference to itself says nothing: unsure
        ({"allOf": [{"description": "a count"}, {"type": "integer"}]}, True),
        ({"allOf": [{"description": "a count"}]}, False),
        ({"anyOf": [{"type": "integer"}, {"$ref": "#/$defs/Word"}]}, True),
        ({"oneOf": [{"const": 1}, {"enum": [2, 3]}]}, True),
        ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, False),
        ({"anyOf": []}, False),
        ({"description": "anything"}, False),
    ],
)
def test_exclude_none_keeps_required_only_what_surely_refuses_null(prop: Any, kept: bool) -> None:
    """``response_model_exclude_none`` leaves out a property whose value is None: the output schema
    then requires only the properties whose schema surely refuses null (else a conforming response
    would fail the check that makes it ``structuredContent``)."""
    schema = {"type": "object", "properties": {"p": prop, "n": {"type": "integer"}}, "required": ["p", "n"]}
    out = nulls_not_required({**schema, "$defs": _NULL_DEFS})
    assert out["required"] == (["p", "n"] if kept else ["n"])
    assert schema["required"] == ["p", "n"]  # a copy: the $defs are shared with other tools


def test_exclude_none_drops_a_required_list_of_properties_that_all_may_be_null() -> None:
    inner = {"type": "object", "properties": {"x": {"type": "integer"}}}  # requires nothing: left as it is
    schema = {"type": "object", "properties": {"a": {}, "b": inner}, "required": ["a"]}
    assert nulls_not_required(schema) == {"type": "object", "properties": {"a": {}, "b": inner}}


def batch_app() -> FastAPI:
    app = FastAPI()

    @app.delete("/users")
    def delete_user(
        user_id: int,
        ratio: float = 1.0,
        flag: bool = False,
        ids: Annotated[list[int] | None, Query()] = None,
        x_reason: Annotated[str, Header()] = "-",
        x_tags: Annotated[list[str] | None, Header()] = None,
        session: Annotated[str | None, Cookie()] = None,
    ) -> dict[str, Any]:
        return {"deleted": user_id, "ids": ids, "reason": x_reason, "tags": x_tags}

    @app.post("/transfer")
    def transfer(
        amount: Annotated[int, Form()], notes: Annotated[list[str], Form()], memo: Annotated[str | None, Form()] = None
    ) -> dict[str, Any]:
        return {"amount": amount, "notes": notes, "memo": memo}

    @app.post("/upload")
    async def upload(file: UploadFile, files: list[UploadFile], count: Annotated[int, Form()]) -> dict[str, Any]:
        return {"file": (await file.read()).hex(), "files": [(await f.read()).hex() for f in files], "count": count}

    return app


@pytest.mark.parametrize(
    ("tool", "arguments", "name"),
    [
        ("delete_user", {"user_id": [1, 2, 3]}, "user_id"),
        ("delete_user", {"user_id": [3]}, "user_id"),
        ("delete_user", {"user_id": []}, "user_id"),
        ("delete_user", {"user_id": 1, "ratio": [0.5, 2]}, "ratio"),
        ("delete_user", {"user_id": 1, "flag": [True]}, "flag"),
        ("delete_user", {"user_id": 1, "x-reason": ["a", "b"]}, "x-reason"),
        ("transfer", {"amount": [100, 5], "notes": ["n"]}, "amount"),
        ("transfer", {"amount": 1, "notes": ["n"], "memo": ["a", "b"]}, "memo"),
        ("upload", {"file": ["AAE=", "/w=="], "files": ["AAE="], "count": 1}, "file"),
        ("upload", {"file": "AAE=", "files": ["AAE="], "count": [1, 2]}, "count"),
    ],
)
def test_an_array_for_a_single_valued_argument_is_refused(tool: str, arguments: dict[str, Any], name: str) -> None:
    """Review: an array given for a scalar query, header or form argument was sent as repeated
    values and the route silently used one of them (``delete_user {"user_id": [1, 2, 3]}``
    deleted user 3). Models do this when they try to batch: the call is refused, naming the argument."""
    catalog = catalog_from_app(batch_app())
    with pytest.raises(ArgumentError, match=rf"^argument '{name}' takes a single value, not an array$"):
        spec(catalog, tool).build_request(arguments)


def test_list_arguments_still_repeat() -> None:
    app = batch_app()
    catalog = catalog_from_app(app)
    sub = spec(catalog, "delete_user").build_request({"user_id": 1, "ids": [4, 5], "x-tags": ["a", "b"]})
    assert sub.query_string == b"user_id=1&ids=4&ids=5"
    assert call(app, sub) == (200, {"deleted": 1, "ids": [4, 5], "reason": "-", "tags": ["a", "b"]})
    sub = spec(catalog, "transfer").build_request({"amount": 100, "notes": ["x", "y"], "memo": "m"})
    assert call(app, sub) == (200, {"amount": 100, "notes": ["x", "y"], "memo": "m"})
    sub = spec(catalog, "upload").build_request({"file": "AAE=", "files": ["AAE=", "/w=="], "count": 2})
    assert call(app, sub) == (200, {"file": "0001", "files": ["0001", "ff"], "count": 2})
    with pytest.raises(ArgumentError, match=r"^argument 'session' must be a string, number or boolean$"):
        spec(catalog, "delete_user").build_request({"user_id": 1, "session": ["a", "b"]})


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "array", "items": {}}, True),
        ({"type": ["array", "null"]}, True),
        ({"anyOf": [{"type": "array"}, {"type": "null"}]}, True),
        ({}, True),  # says nothing: any value, arrays too
        (True, True),
        ({"type": "integer"}, False),
        ({"type": ["string", "null"]}, False),
        ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, False),
        ({"allOf": [{"$ref": "#/components/schemas/Color"}]}, False),
        ({"$ref": "#/components/schemas/Color"}, False),
        ({"$ref": "#/components/schemas/Tags"}, True),
    ],
)
def test_which_schemas_may_take_an_array(schema: Any, expected: bool) -> None:
    schemas = SchemaSet({"Color": {"type": "string", "enum": ["red"]}, "Tags": {"type": "array"}})
    assert schemas.may_be_array(schema) is expected


@pytest.mark.anyio
async def test_a_path_converter_in_an_included_router_takes_slashes() -> None:
    """Review: the `:path` converter was looked up in the app's top-level routes only; FastAPI
    keeps an included router as one entry, so its `{name:path}` routes refused slashes."""
    from fastapi import APIRouter, FastAPI

    from mcp_middleware import MCPMiddleware
    from tests.support import BASE_HEADERS, post, request

    inner = APIRouter(prefix="/in")

    @inner.get("/deep/{rest:path}", operation_id="deep")
    async def deep(rest: str) -> dict[str, str]:
        return {"rest": rest}

    router = APIRouter(prefix="/r")

    @router.get("/files/{name:path}", operation_id="files")
    async def files(name: str) -> dict[str, str]:
        return {"name": name}

    router.include_router(inner)
    app = FastAPI()
    app.include_router(router, prefix="/v1")
    app.add_middleware(MCPMiddleware)
    for tool, argument, value in (("files", "name", "a/b c.txt"), ("deep", "rest", "x/y")):
        params = {"name": tool, "arguments": {argument: value}}
        result = (await post(app, request("tools/call", params), BASE_HEADERS)).result()
        assert orjson.loads(result["content"][0]["text"]) == {argument: value}, result


def test_a_url_key_reaches_an_operation_without_security_of_its_own_when_the_document_names_its_scheme() -> None:
    """An operation's ``security``, when it has one, says which query API keys its route gets; when
    it has none the document's applies (OpenAPI 3: the top-level requirement is the default)."""
    doc = {
        "security": [{"query_key": []}],
        "components": {"securitySchemes": {"query_key": {"type": "apiKey", "in": "query", "name": "api_key"}}},
        "paths": {
            "/default": {"get": {"operationId": "default"}},
            "/public": {"get": {"operationId": "public", "security": []}},
        },
    }
    tools = {tool.name: tool for tool in build_catalog(doc).tools}
    forwarded = [(b"?api_key", b"api_key=s3cret-key"), (b"traceparent", b"00-1-2-01")]
    assert tools["default"].build_request({}, forwarded).headers == tuple(forwarded)
    assert tools["public"].build_request({}, forwarded).headers == ((b"traceparent", b"00-1-2-01"),)
    doc["security"] = []  # no default: the key is withheld from both
    tools = {tool.name: tool for tool in build_catalog(doc).tools}
    assert tools["default"].build_request({}, forwarded).headers == ((b"traceparent", b"00-1-2-01"),)


def test_a_title_set_in_x_mcp_annotations_is_the_tools_title_too() -> None:
    """Clients show a tool's ``title`` before ``annotations.title`` (MCP's display order), so a title
    given in ``x-mcp-annotations`` changed nothing a user saw: it now names the tool itself too."""
    app = FastAPI()

    @app.post("/search", openapi_extra={"x-mcp-annotations": {"title": "Search the catalogue", "readOnlyHint": True}})
    def search(q: str) -> list[str]:
        return []

    @app.get("/plain", summary="Plain one", openapi_extra={"x-mcp-annotations": {"openWorldHint": True}})
    def plain() -> list[str]:
        return []

    tools = {spec.name: spec.tool for spec in catalog_from_app(app).tools}
    assert tools["search"]["title"] == tools["search"]["annotations"]["title"] == "Search the catalogue"
    assert tools["search"]["annotations"]["readOnlyHint"] is True
    assert tools["plain"]["title"] == tools["plain"]["annotations"]["title"] == "Plain one"


def test_a_filter_value_that_matches_no_route_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """A filter value that can never match (a path without its leading "/", an operation named by
    a word that is neither its id nor its tool name) silently exposed or hid tools: it is now
    named in a warning when the catalog is built (matching values are not)."""
    app = FastAPI()

    @app.delete("/db", operation_id="db.wipe", tags=["admin"])
    def wipe() -> None: ...

    @app.get("/items/{item_id}", tags=["items"])
    def get_item(item_id: int) -> None: ...

    tool_filter = ToolFilter(
        include_paths=("items/*", "/items/*", "/db"),
        exclude_operations=frozenset({"wipe_database", "db_wipe"}),
        exclude_tags=frozenset({"admn", "admin"}),
        include_tags=frozenset({"items", "admin"}),
    )
    with caplog.at_level("WARNING", logger="mcp_middleware"):
        catalog_from_app(app, tool_filter=tool_filter)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1
    assert "include_paths 'items/*'" in warned[0]
    assert "exclude_operations 'wipe_database'" in warned[0]
    assert "exclude_tags 'admn'" in warned[0]
    for matching in ("'/items/*'", "'/db'", "'db_wipe'", "'admin'", "'items'"):
        assert matching not in warned[0]


def _raw_body_app() -> FastAPI:
    app = FastAPI()

    def text_body(media: str, **schema: Any) -> dict[str, Any]:
        content = {media: {"schema": schema}} if schema else {media: {}}
        return {"requestBody": {"required": True, "description": "The note.", "content": content}}

    async def echo(request: Request) -> dict[str, Any]:
        data = await request.body()
        return {"type": request.headers.get("content-type"), "body": data.decode("latin-1")}

    app.post("/note", openapi_extra=text_body("text/plain; charset=utf-8", type="string"), operation_id="note")(echo)
    app.post("/xml", openapi_extra=text_body("application/xml"), operation_id="xml")(echo)
    blob = text_body("application/octet-stream", type="string", format="binary")
    app.post("/blob", openapi_extra=blob, operation_id="blob")(echo)
    app.post("/any", openapi_extra=text_body("text/*"), operation_id="any")(echo)
    return app


def test_a_body_of_another_media_type_is_a_string_argument_sent_as_the_raw_body() -> None:
    """A ``text/plain`` (or XML, or binary) request body was no argument at all: the route could
    never get its body. Text is sent as UTF-8, binary given in base64, with the declared type."""
    app = _raw_body_app()
    tools = {t.name: t for t in catalog_from_app(app).tools}
    assert [t.tool["inputSchema"] for t in tools.values()] == [
        {
            "type": "object",
            "properties": {"body": {"type": "string", "description": "The note."}},
            "required": ["body"],
        },
        {
            "type": "object",
            "properties": {"body": {"type": "string", "description": "The note."}},
            "required": ["body"],
        },
        {
            "type": "object",
            "properties": {
                "body": {"type": "string", "format": "binary", "contentEncoding": "base64", "description": "The note."}
            },
            "required": ["body"],
        },
        {
            "type": "object",
            "properties": {"body": {"type": "string", "description": "The note."}},
            "required": ["body"],
        },
    ]
    assert call(app, tools["note"].build_request({"body": "café"})) == (
        200,
        {"type": "text/plain; charset=utf-8", "body": "cafÃ©"},  # UTF-8, read back as Latin-1
    )
    assert call(app, tools["xml"].build_request({"body": "<a/>"})) == (200, {"type": "application/xml", "body": "<a/>"})
    blob = tools["blob"]
    assert call(app, blob.build_request({"body": "AAEC\n/w=="})) == (
        200,
        {"type": "application/octet-stream", "body": "\x00\x01\x02\xff"},
    )
    assert call(app, tools["any"].build_request({"body": "hi"})) == (200, {"type": "text/plain", "body": "hi"})
    with pytest.raises(ArgumentError, match="'body' must be the file's content in base64"):
        blob.build_request({"body": "not base64!"})
    with pytest.raises(ArgumentError, match="'body' must be a string"):
        tools["xml"].build_request({"body": {"a": 1}})
    with pytest.raises(ArgumentError, match=r"^missing required argument 'body'$"):  # (was sent as an empty body)
        tools["xml"].build_request({})


@pytest.mark.parametrize(("value", "text"), [(1e-07, "0.0000001"), (1e20, "100000000000000000000"), (2.5, "2.5")])
def test_a_float_path_value_has_no_exponent(value: float, text: str) -> None:
    """Starlette's ``:float`` convertor matches ``[0-9]+(\\.[0-9]+)?`` only."""
    doc = {"paths": {"/m/{x}": {"get": {"operationId": "m", "parameters": [_number_param("x")]}}}}
    assert build_catalog(doc).tools[0].build_request({"x": value}).path == f"/m/{text}"
    assert float(text) == value


def _number_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "number"}}


def _query_doc(*params: dict[str, Any]) -> dict[str, Any]:
    return {"paths": {"/q": {"get": {"operationId": "q", "parameters": list(params)}}}}


def test_a_query_parameter_of_json_content_is_sent_as_its_json_text() -> None:
    """OpenAPI's ``content: {application/json: {schema}}`` query parameter: its argument's schema is
    the content's, and its value is sent as compact JSON under the parameter's own name."""
    item = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}}}
    ids = {"type": "array", "items": {"type": "integer"}}
    doc = _query_doc(
        {"name": "item", "in": "query", "required": True, "content": {"application/json": {"schema": item}}},
        {"name": "ids", "in": "query", "content": {"application/json": {"schema": ids}}},
        {"name": "tags", "in": "query", "schema": {"type": "array", "items": {"type": "string"}}},
    )
    tool = build_catalog(doc).tools[0]
    assert tool.tool["inputSchema"] == {
        "type": "object",
        "properties": {"item": item, "ids": ids, "tags": {"type": "array", "items": {"type": "string"}}},
        "required": ["item"],
    }
    sub = tool.build_request({"item": {"a": 1, "b": "x y&"}, "ids": [1, 2], "tags": ["p", "q"]})
    assert [tuple(pair.split("=", 1)) for pair in sub.query_string.decode().split("&")] == [
        ("item", "%7B%22a%22%3A1%2C%22b%22%3A%22x+y%26%22%7D"),
        ("ids", "%5B1%2C2%5D"),  # declared as content: one JSON array
        ("tags", "p"),  # a plain array parameter: repeated, as before
        ("tags", "q"),
    ]
    assert tool.build_request({"item": "text"}).query_string == b"item=%22text%22"  # JSON text of a string
    assert tool.build_request({"item": 7}).query_string == b"item=7"
    assert tool.build_request({"item": True}).query_string == b"item=true"
    with pytest.raises(ArgumentError, match="'item' cannot be encoded as JSON"):
        tool.build_request({"item": {"a": 2**70}})


def test_a_json_content_query_parameter_is_never_exploded_and_plain_ones_keep_their_errors() -> None:
    anything = {"type": "object"}
    doc = _query_doc(
        {"name": "f", "in": "query", "content": {"application/json": {"schema": anything}}},
        {"name": "s", "in": "query", "schema": {"type": "string"}},
    )
    tool = build_catalog(doc).tools[0]
    assert tool.build_request({"f": {"x": 1}}).query_string == b"f=%7B%22x%22%3A1%7D"
    with pytest.raises(ArgumentError, match="argument 's' must be a string, number or boolean"):
        tool.build_request({"s": {"x": 1}})


def _charset_app() -> FastAPI:
    app = FastAPI()

    async def echo(request: Request) -> dict[str, Any]:
        return {"type": request.headers.get("content-type"), "bytes": list(await request.body())}

    for name, media in [
        ("latin", "text/plain; charset=iso-8859-1"),
        ("csv", 'text/csv; Charset="windows-1252"'),
        ("unknown", "text/plain; charset=x-no-such; format=flowed"),
        ("codec", "text/plain; charset=base64"),
        ("plain", "text/plain"),
        ("flowed", "text/plain; format=flowed; charset=iso-8859-1"),
    ]:
        extra = {"requestBody": {"required": True, "content": {media: {"schema": {"type": "string"}}}}}
        app.post(f"/{name}", openapi_extra=extra, operation_id=name)(echo)
    return app


def test_a_raw_text_body_is_encoded_in_its_declared_charset() -> None:
    """The text was always sent as UTF-8 under a ``charset`` that said otherwise: a route honouring
    the header read mojibake."""
    app = _charset_app()
    tools = {t.name: t for t in catalog_from_app(app).tools}
    assert call(app, tools["latin"].build_request({"body": "café"})) == (
        200,
        {"type": "text/plain; charset=iso-8859-1", "bytes": list("café".encode("latin-1"))},
    )
    assert call(app, tools["csv"].build_request({"body": "naïve,€"})) == (
        200,
        {"type": 'text/csv; Charset="windows-1252"', "bytes": list("naïve,€".encode("cp1252"))},
    )
    assert call(app, tools["plain"].build_request({"body": "é"})) == (
        200,
        {"type": "text/plain", "bytes": list("é".encode())},
    )
    assert call(app, tools["flowed"].build_request({"body": "café"})) == (  # the charset after another parameter
        200,
        {"type": "text/plain; format=flowed; charset=iso-8859-1", "bytes": list("café".encode("latin-1"))},
    )


def test_a_raw_text_body_of_an_unusable_charset_is_sent_as_utf8_and_says_so() -> None:
    app = _charset_app()
    tools = {t.name: t for t in catalog_from_app(app).tools}
    assert call(app, tools["unknown"].build_request({"body": "é"})) == (
        200,
        {"type": "text/plain; charset=utf-8; format=flowed", "bytes": list("é".encode())},
    )
    assert call(app, tools["codec"].build_request({"body": "é"})) == (  # base64 is no text encoding
        200,
        {"type": "text/plain; charset=utf-8", "bytes": list("é".encode())},
    )


def test_a_character_the_declared_charset_cannot_encode_is_an_argument_error() -> None:
    tools = {t.name: t for t in catalog_from_app(_charset_app()).tools}
    with pytest.raises(ArgumentError, match=r"argument 'body' .*charset 'iso-8859-1'"):
        tools["latin"].build_request({"body": "€"})
