"""A body schema's ``allOf`` members are flattened with its own properties (review D1): FastAPI
documents a form model beside another ``Form()``/``File()`` parameter as ``{"allOf": [{"$ref":
Model}], "properties": {...}}``, and a hand-declared body may be an ``allOf`` too; only the root's
``properties`` were arguments, so the model's fields were unknown arguments and the tool could not
be called (over HTTP the route answers 200). Now each member's properties (``$ref``s followed,
nested ``allOf``s too, each schema once: a cycle ends) are arguments, members' before the root's
own, required where any says so; a property two of them declare differently takes both
(``allOf``); ``additionalProperties``: ``false`` where any says so, else what they allow. A member
that is no object (another ``type``, a ``$ref`` that resolves nowhere, ``false``, branches without
properties of their own) keeps the body unflattened, as a body that is no object is: a JSON body is
one ``body`` argument, a form has no arguments."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, File, Form, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import build_catalog, catalog_from_app
from tests.support import call_tool, refusal_text, result_json

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "2026-07-28"]
_REF = "#/components/schemas/"


class Contact(BaseModel):
    name: str
    email: str


class Upload(BaseModel):
    title: str
    document: UploadFile


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class Scan(BaseModel):
    doc: UploadFile


class Described(BaseModel):
    doc: UploadFile = Field(description="the document")


_PET = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/contact", operation_id="contact")
    def contact(data: Annotated[Contact, Form()], newsletter: Annotated[bool, Form()] = False) -> dict[str, Any]:
        return {"name": data.name, "email": data.email, "newsletter": newsletter}

    @app.post("/documents", operation_id="upload")
    async def upload(data: Annotated[Upload, Form()], extra: Annotated[bytes, File()]) -> dict[str, Any]:
        document = await data.document.read()
        return {"title": data.title, "document": document.decode(), "extra": extra.decode()}

    @app.post(
        "/pets",
        operation_id="pets",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"allOf": [_PET], "properties": {"tag": {"type": "string"}}, "type": "object"}
                    }
                },
            }
        },
    )
    async def pets(request: Request) -> Any:
        return await request.json()

    @app.post("/two", operation_id="two")
    def two(contact: Annotated[Contact, Form()], loose: Annotated[Loose, Form()]) -> dict[str, Any]:
        return {"contact": contact.model_dump(), "loose": loose.model_dump()}

    @app.post("/loose", operation_id="loose")
    def loose(data: Annotated[Loose, Form()], count: Annotated[int, Form()] = 0) -> dict[str, Any]:
        return {"data": data.model_dump(), "count": count}

    @app.post("/strict", operation_id="strict")
    def strict(data: Annotated[Strict, Form()], count: Annotated[int, Form()] = 0) -> dict[str, Any]:
        return {"data": data.model_dump(), "count": count}

    @app.post("/scans", operation_id="scans")
    async def scans(
        a: Annotated[Scan, Form()], b: Annotated[Described, Form()], extra: Annotated[bytes, File()]
    ) -> dict[str, Any]:
        return {"doc": (await a.doc.read()).decode(), "same": a.doc is b.doc}

    @app.post("/optional", operation_id="optional")
    def optional(data: Annotated[Contact | None, Form()] = None, note: Annotated[str, Form()] = "-") -> dict[str, Any]:
        return {"data": data.model_dump() if data else None, "note": note}

    app.add_middleware(MCPMiddleware)
    return app


def _flattens_form_models() -> bool:
    """Whether this FastAPI reads a form model's fields beside other form fields from the form
    itself, documenting the body as an ``allOf`` (older ones, as 0.151, want a field named as the
    parameter, which a form cannot carry, and document that)."""
    schemas = _app().openapi()["components"]["schemas"]
    return "allOf" in schemas["Body_contact"]


FLATTENS = _flattens_form_models()


async def _floor_refuses(era: str, name: str, arguments: dict[str, Any]) -> None:
    """At the floors (FastAPI 0.151) the form model is one property named as its parameter, an
    object a form cannot carry: the route answers 422 over HTTP whatever is sent, and so the tool."""
    assert "HTTP 422" in refusal_text(await call_tool(_app(), era, name, arguments))


def _input(name: str) -> dict[str, Any]:
    spec = catalog_from_app(_app()).get(name)
    assert spec is not None
    schema: dict[str, Any] = spec.tool["inputSchema"]
    return schema


def test_a_form_model_beside_a_form_field_lists_the_models_fields() -> None:
    if not FLATTENS:
        assert list(_input("contact")["properties"]) == ["data", "newsletter"]
        return
    assert _input("contact") == {
        "type": "object",
        "properties": {
            "name": {"type": "string", "title": "Name"},
            "email": {"type": "string", "title": "Email"},
            "newsletter": {"type": "boolean", "title": "Newsletter", "default": False},
        },
        "required": ["name", "email"],
    }


@pytest.mark.parametrize("era", ERAS)
async def test_a_form_model_beside_a_form_field_is_called_as_over_http(era: str) -> None:
    arguments = {"name": "Ann", "email": "a@example.com", "newsletter": True}
    if not FLATTENS:
        return await _floor_refuses(era, "contact", {"data": {"name": "Ann", "email": "e"}})
    result = await call_tool(_app(), era, "contact", arguments)
    assert result_json(result) == arguments


def test_a_form_model_beside_a_file_lists_the_models_fields_and_its_file() -> None:
    schema = _input("upload")
    if not FLATTENS:
        assert list(schema["properties"]) == ["data", "extra"]
        return
    assert list(schema["properties"]) == ["title", "document", "extra"]
    assert schema["required"] == ["title", "document", "extra"]
    assert schema["properties"]["document"]["contentEncoding"] == "base64"
    assert schema["properties"]["extra"]["contentEncoding"] == "base64"


@pytest.mark.parametrize("era", ERAS)
async def test_a_form_model_beside_a_file_is_called_as_over_http(era: str) -> None:
    arguments = {"title": "t", "document": base64.b64encode(b"%PDF").decode(), "extra": base64.b64encode(b"x").decode()}
    if not FLATTENS:
        return await _floor_refuses(era, "upload", {"data": {"title": "t"}, "extra": arguments["extra"]})
    result = await call_tool(_app(), era, "upload", arguments)
    assert result_json(result) == {"title": "t", "document": "%PDF", "extra": "x"}


@pytest.mark.parametrize("era", ERAS)
async def test_a_file_field_two_form_models_declare_differently_is_one_file(era: str) -> None:
    """Review rr1 D1: ``doc: UploadFile`` in one model and ``= Field(description=...)`` in the
    other were two declarations, so an ``allOf`` no file test saw: sent as text, 422 "Expected
    UploadFile". Declarations differing in annotations only are one (the first, with the other's
    description); the route gets the file both models read."""
    schema = _input("scans")
    if not FLATTENS:
        assert list(schema["properties"]) == ["a", "b", "extra"]
        return await _floor_refuses(era, "scans", {"a": {}, "b": {}, "extra": "eA=="})
    assert schema["properties"]["doc"] == {
        "type": "string",
        "contentMediaType": "application/octet-stream",
        "title": "Doc",
        "description": "the document",
        "contentEncoding": "base64",
    }
    arguments = {"doc": base64.b64encode(b"%PDF").decode(), "extra": "eA=="}
    assert result_json(await call_tool(_app(), era, "scans", arguments)) == {"doc": "%PDF", "same": True}


@pytest.mark.parametrize("era", ERAS)
async def test_an_optional_form_model_beside_a_form_field_keeps_the_forms_own_fields(era: str) -> None:
    """Review rr1 D4: FastAPI documents an optional form model as an ``anyOf`` member, which
    cannot be merged; the form had no arguments, and ``note`` was accepted and silently dropped.
    A form falls back to its own properties (its fields beside the model); other arguments are
    refused."""
    assert list(_input("optional")["properties"]) == ["data", "note"] if not FLATTENS else ["note"]
    assert result_json(await call_tool(_app(), era, "optional", {"note": "n"})) == {"data": None, "note": "n"}
    if FLATTENS:
        refused = refusal_text(await call_tool(_app(), era, "optional", {"name": "Ann", "note": "n"}))
        assert refused == "Invalid arguments for tool 'optional': unknown argument 'name'; valid arguments: 'note'"


def test_a_declared_json_allof_body_lists_its_members_properties() -> None:
    assert _input("pets") == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "tag": {"type": "string"}},
        "required": ["name"],
    }


@pytest.mark.parametrize("era", ERAS)
async def test_a_declared_json_allof_body_is_sent_whole(era: str) -> None:
    result = await call_tool(_app(), era, "pets", {"name": "Rex", "tag": "dog"})
    assert result_json(result) == {"name": "Rex", "tag": "dog"}


@pytest.mark.parametrize("era", ERAS)
async def test_two_form_models_are_one_form_of_both_models_fields(era: str) -> None:
    """FastAPI's body of two form models is an ``allOf`` of both, without properties of its own."""
    schema = _input("two")
    if not FLATTENS:
        assert list(schema["properties"]) == ["contact", "loose"]
        return await _floor_refuses(era, "two", {"contact": {}, "loose": {}})
    assert list(schema["properties"]) == ["name", "email"]
    assert schema["required"] == ["name", "email"]
    assert schema["additionalProperties"] is True  # Loose's: other fields go into the form
    result = await call_tool(_app(), era, "two", {"name": "Ann", "email": "e", "more": "x"})
    assert result_json(result) == {
        "contact": {"name": "Ann", "email": "e"},
        "loose": {"name": "Ann", "email": "e", "more": "x"},
    }


@pytest.mark.parametrize("era", ERAS)
async def test_a_member_taking_other_properties_opens_the_body(era: str) -> None:
    schema = _input("loose")
    if not FLATTENS:
        assert list(schema["properties"]) == ["data", "count"]
        return await _floor_refuses(era, "loose", {"data": {"name": "Ann"}})
    assert schema["additionalProperties"] is True
    result = await call_tool(_app(), era, "loose", {"name": "Ann", "count": 2, "more": "x"})
    assert result_json(result) == {"data": {"name": "Ann", "count": "2", "more": "x"}, "count": 2}


@pytest.mark.parametrize("era", ERAS)
async def test_a_member_refusing_other_properties_closes_the_body(era: str) -> None:
    """A member of ``additionalProperties: false`` (``extra="forbid"``) refuses every field it
    does not declare, the ``Form()`` field beside it too (review rr1 D3: FastAPI answers 422 when
    ``count`` is sent): only its fields are arguments, and ``count`` is refused as unknown."""
    schema = _input("strict")
    if not FLATTENS:
        assert list(schema["properties"]) == ["data", "count"]
        return await _floor_refuses(era, "strict", {"data": {"name": "Ann"}})
    assert list(schema["properties"]) == ["name"]
    assert schema["additionalProperties"] is False
    for unknown in ("more", "count"):
        result = await call_tool(_app(), era, "strict", {"name": "Ann", unknown: 1})
        assert refusal_text(result) == (
            f"Invalid arguments for tool 'strict': unknown argument '{unknown}'; valid arguments: 'name'"
        )
    assert result_json(await call_tool(_app(), era, "strict", {"name": "Ann"})) == {
        "data": {"name": "Ann"},
        "count": 0,
    }


def _document(schema: Any, components: dict[str, Any] | None = None, media: str = "application/json") -> Any:
    return {
        "openapi": "3.1.0",
        "paths": {
            "/x": {
                "post": {
                    "operationId": "x",
                    "requestBody": {"required": True, "content": {media: {"schema": schema}}},
                    "responses": {"200": {"description": "OK"}},
                }
            }
        },
        "components": {"schemas": components or {}},
    }


def _tool_input(schema: Any, components: dict[str, Any] | None = None, media: str = "application/json") -> Any:
    spec = build_catalog(_document(schema, components, media)).get("x")
    assert spec is not None
    return spec.tool["inputSchema"]


def test_a_property_two_members_declare_alike_is_one_and_differently_takes_both() -> None:
    schema = {
        "allOf": [
            {"properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["a"]},
            {"properties": {"a": {"type": "string"}, "b": {"maxLength": 3}}, "required": ["b"]},
        ],
        "properties": {"b": {"minLength": 1}, "c": {"type": "integer"}},
        "required": ["a"],
    }
    assert _tool_input(schema) == {
        "type": "object",
        "properties": {
            "a": {"type": "string"},
            "b": {"allOf": [{"type": "string"}, {"maxLength": 3}, {"minLength": 1}]},
            "c": {"type": "integer"},
        },
        "required": ["a", "b"],
    }


def test_nested_and_referenced_members_are_flattened_and_a_cycle_ends() -> None:
    components = {
        "Base": {
            "allOf": [{"$ref": _REF + "Base"}, {"$ref": _REF + "Named"}],
            "properties": {"id": {"type": "integer"}},
        },
        "Named": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        "Pet": {"allOf": [{"$ref": _REF + "Base"}, {"required": ["id"]}, True, {}], "properties": {"tag": {}}},
    }
    assert _tool_input({"$ref": _REF + "Pet"}, components) == {
        "type": "object",
        "properties": {"name": {"type": "string"}, "id": {"type": "integer"}, "tag": {}},
        "required": ["name", "id"],
    }


@pytest.mark.parametrize(
    "member",
    [
        {"type": "string"},
        {"type": ["object", "null"], "properties": {"a": {}}},
        {"$ref": "other.json#/Pet"},  # resolves nowhere: what it holds is unknown
        {"$ref": _REF + "Missing"},
        False,
        {"anyOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]},  # its properties are in branches
        {"oneOf": [{"properties": {"a": {}}}]},
        {"properties": []},
        7,
    ],
)
def test_a_member_that_is_no_object_keeps_the_body_unflattened(member: Any) -> None:
    schema = {"allOf": [{"properties": {"n": {"type": "string"}}}, member], "properties": {"m": {}}}
    json_input = _tool_input(schema)
    assert list(json_input["properties"]) == ["body"]
    assert json_input["required"] == ["body"]
    # a form has no ``body`` argument: its own properties (review rr1 D4: it had none)
    form = _tool_input(schema, media="application/x-www-form-urlencoded")
    assert form == {"type": "object", "properties": {"m": {}}}


@pytest.mark.parametrize(
    "schema",
    [
        {"allOf": [{"type": "object"}, {"required": ["a"]}]},  # no properties anywhere
        {"allOf": [{"properties": {"n": {}}}], "type": "string"},
        {"allOf": [{"properties": {"n": {}}}], "properties": "n"},
    ],
)
def test_an_allof_of_no_object_with_properties_keeps_the_body_unflattened(schema: Any) -> None:
    assert list(_tool_input(schema)["properties"]) == ["body"]


@pytest.mark.parametrize(
    ("others", "expected"),
    [
        ([None, None, None], None),
        ([True, None, None], True),
        ([True, {}, None], True),
        ([True, False, None], False),  # p1's piece refuses p0 and q (review rr1 D3): p1 alone
        ([{"type": "string"}, None, False], False),  # not the allOf of both: no other property fits it
        ([{"type": "string"}, True, None], {"type": "string"}),
        ([{"type": "string"}, {"type": "string"}, {"maxLength": 2}], {"allOf": [{"type": "string"}, {"maxLength": 2}]}),
        (["no schema", None, None], None),
    ],
)
def test_additional_properties_are_false_where_any_member_says_so_else_what_all_allow(
    others: list[Any], expected: Any
) -> None:
    members: list[dict[str, Any]] = [{"properties": {f"p{i}": {}}} for i in range(2)]
    schema: dict[str, Any] = {"allOf": members, "properties": {"q": {}}}
    for piece, value in zip([*members, schema], others, strict=True):
        if value is not None:
            piece["additionalProperties"] = value
    result = _tool_input(schema)
    closed = [piece for piece, value in zip([*members, schema], others, strict=True) if value is False]
    assert list(result["properties"]) == (list(closed[0]["properties"]) if closed else ["p0", "p1", "q"])
    assert result.get("additionalProperties") == expected


def test_a_piece_refusing_other_properties_keeps_only_what_it_declares_required_too() -> None:
    schema = {
        "allOf": [{"properties": {"a": {}, "b": {}}, "additionalProperties": False, "required": ["a"]}],
        "properties": {"b": {"type": "string"}, "c": {}},
        "required": ["b", "c"],
    }
    assert _tool_input(schema) == {
        "type": "object",
        "properties": {"b": {"allOf": [{}, {"type": "string"}]}, "a": {}},
        "required": ["a", "b"],
        "additionalProperties": False,
    }


def test_declarations_differing_in_annotations_only_are_one_the_first_with_a_description() -> None:
    """Review rr1 D1: title, description, default, examples... do not make two declarations."""
    schema = {
        "allOf": [
            {"properties": {"a": {"type": "string", "title": "A"}, "b": {"type": "string", "description": "B"}}},
            {"properties": {"a": {"type": "string", "title": "Other", "description": "the a", "default": "x"}}},
        ],
        "properties": {"b": {"type": "string", "description": "other", "examples": ["e"]}},
    }
    assert _tool_input(schema)["properties"] == {
        "a": {"type": "string", "title": "A", "description": "the a"},
        "b": {"type": "string", "description": "B"},
    }


def test_a_multipart_field_of_an_allof_with_a_file_part_is_a_file() -> None:
    """Review rr1 D1: a property two members declare differently is an ``allOf``; it is a file
    field (base64) when one of its parts is a file's schema."""
    schema = {
        "allOf": [{"properties": {"doc": {"type": "string", "format": "binary"}}}],
        "properties": {"doc": {"maxLength": 9}},
    }
    doc = _tool_input(schema, media="multipart/form-data")["properties"]["doc"]
    assert doc == {"allOf": [{"type": "string", "format": "binary", "contentEncoding": "base64"}, {"maxLength": 9}]}


def test_a_body_past_the_step_bound_stays_unflattened() -> None:
    """object_pieces stops after _MOST_STEPS (512) steps, a guard that also turns a cycle the
    ``seen`` set no longer ends into a failing test instead of a hang: 300 members are 601 steps."""
    wide = {"allOf": [{"properties": {f"p{i}": {}}} for i in range(300)], "properties": {"q": {}}}
    assert list(_tool_input(wide)["properties"]) == ["body"]
    narrow = {"allOf": [{"properties": {f"p{i}": {}}} for i in range(200)], "properties": {"q": {}}}
    assert len(_tool_input(narrow)["properties"]) == 201


@pytest.mark.parametrize("era", ERAS)
async def test_a_form_without_arguments_ignores_a_placeholder(era: str) -> None:
    """A form whose fields cannot be read gives a tool without arguments, which ignores what it is
    given, as every tool without arguments does: Cursor sends ``{"random_string": "dummy"}`` to each
    of them (25b3144 refused it for such a form, and the tool could not be called from Cursor; the
    review rr8). An Optional form model beside a field is no such form: its root's properties are
    its arguments, and others are refused
    (test_an_optional_form_model_beside_a_form_field_keeps_the_forms_own_fields)."""
    app = FastAPI()
    form = {"application/x-www-form-urlencoded": {"schema": {"allOf": [{"type": "string"}]}}}

    @app.post("/opaque", operation_id="opaque", openapi_extra={"requestBody": {"content": form}})
    async def opaque(request: Request) -> Any:
        return (await request.body()).decode()

    app.add_middleware(MCPMiddleware)
    assert catalog_from_app(app).get("opaque").tool["inputSchema"]["properties"] == {}  # type: ignore[union-attr]
    assert result_json(await call_tool(app, era, "opaque", {"random_string": "dummy"})) == ""
    assert result_json(await call_tool(app, era, "opaque", {})) == ""
