"""An ``UploadFile`` in a form FastAPI documents as ``application/x-www-form-urlencoded`` (a form
model's field, ``UploadFile = Form()``): the form goes out as ``multipart/form-data`` with the file
as a file part, its argument in base64 as any other file's; a ``bytes = Form()`` field, documented
alike, stays a text field (FastAPI refuses a file part for it), in a multipart form (a ``File()``
beside it) too."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, File, Form, UploadFile
from pydantic import AliasChoices, AliasPath, BaseModel, Field
from starlette.routing import Route

from mcp_middleware import MCPMiddleware
from mcp_middleware._form_uploads import FormFields, form_fields
from tests.support import call_legacy, call_tool

pytestmark = pytest.mark.anyio


class Upload(BaseModel):
    title: str
    document: UploadFile
    raw: bytes = b""
    extras: list[UploadFile] = []
    cover: UploadFile | None = Field(default=None, alias="Cover")
    back: Annotated[UploadFile | None, Field(validation_alias="Back")] = None


class Choices(BaseModel):
    doc: UploadFile = Field(validation_alias=AliasChoices("docA", AliasPath("x", 0), "docB"))


class Doc(BaseModel):
    title: str
    raw: bytes


async def attached(attachment: Annotated[UploadFile, Form()]) -> UploadFile:
    return attachment


def form_app() -> FastAPI:
    app = FastAPI()

    @app.post("/documents", operation_id="upload_document")
    async def upload_document(data: Annotated[Upload, Form()]) -> dict[str, Any]:
        return {
            "title": data.title,
            "document": (await data.document.read()).decode(),
            "filename": data.document.filename,
            "raw": data.raw.decode(),
            "extras": [(await extra.read()).decode() for extra in data.extras],
            "cover": None if data.cover is None else (await data.cover.read()).decode(),
            "back": None if data.back is None else (await data.back.read()).decode(),
        }

    @app.post("/single", operation_id="single")
    async def single(doc: Annotated[UploadFile, Form()], note: Annotated[str, Form()] = "") -> dict[str, Any]:
        return {"doc": (await doc.read()).decode(), "note": note}

    @app.post("/deep", operation_id="deep")
    async def deep(doc: Annotated[UploadFile, Depends(attached)]) -> dict[str, Any]:
        return {"doc": (await doc.read()).decode()}

    @app.post("/noted", operation_id="noted")
    async def noted(data: Annotated[Upload, Form()], note: Annotated[str, Form()]) -> dict[str, Any]:
        return {"document": (await data.document.read()).decode(), "note": note}

    @app.post("/text", operation_id="text")
    async def text(data: Annotated[bytes, Form()]) -> dict[str, Any]:
        return {"data": data.decode()}

    @app.post("/mixed", operation_id="mixed")
    async def mixed(
        b: Annotated[bytes, File()], t: Annotated[bytes, Form()], ts: Annotated[list[bytes], Form()]
    ) -> dict[str, Any]:
        return {"b": b.decode(), "t": t.decode(), "ts": [item.decode() for item in ts]}

    @app.post("/model_and_file", operation_id="model_and_file")
    async def model_and_file(data: Annotated[Doc, Form()], f: Annotated[UploadFile, File()]) -> dict[str, Any]:
        return {"raw": data.raw.decode(), "f": (await f.read()).decode()}

    @app.post("/choices", operation_id="choices")
    async def choices(data: Annotated[Choices, Form()]) -> dict[str, Any]:
        return {"doc": (await data.doc.read()).decode()}

    app.add_middleware(MCPMiddleware)
    return app


async def schemas(app: FastAPI) -> dict[str, Any]:
    listed = (await call_legacy(app, "tools/list")).result()["tools"]
    return {tool["name"]: tool["inputSchema"]["properties"] for tool in listed}


async def test_a_form_models_file_says_base64_and_a_bytes_field_does_not() -> None:
    found = await schemas(form_app())
    model = found["upload_document"]
    assert model["document"]["contentEncoding"] == "base64"
    assert model["extras"]["items"]["contentEncoding"] == "base64"
    assert model["Cover"]["contentEncoding"] == model["Back"]["contentEncoding"] == "base64"  # optional, by alias
    assert "contentEncoding" not in model["raw"]  # a bytes field of a form: its text
    assert "contentEncoding" not in model["title"]
    assert found["single"]["doc"]["contentEncoding"] == found["deep"]["attachment"]["contentEncoding"] == "base64"
    assert "contentEncoding" not in found["text"]["data"]


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_form_models_file_is_sent_as_a_file_part(era: str) -> None:
    """Review D3: the form went out urlencoded, the file's argument as text: FastAPI answered 422
    "Expected UploadFile, received: <class 'str'>" for every call."""
    app = form_app()
    arguments = {
        "title": "t",
        "document": "aGVsbG8=",
        "raw": "as text",
        "extras": ["YQ==", "Yg=="],
        "Cover": "Yw==",
        "Back": "ZA==",
    }
    result = await call_tool(app, era, "upload_document", arguments)
    assert result.get("isError") is not True, result
    assert result["structuredContent"] == {
        "title": "t",
        "document": "hello",
        "filename": "document",
        "raw": "as text",
        "extras": ["a", "b"],
        "cover": "c",
        "back": "d",
    }
    result = await call_tool(app, era, "single", {"doc": "aGk=", "note": "n"})
    assert result["structuredContent"] == {"doc": "hi", "note": "n"}
    result = await call_tool(app, era, "deep", {"attachment": "aGk="})  # a dependency's
    assert result["structuredContent"] == {"doc": "hi"}


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_form_models_file_beside_another_form_field_is_a_file_part(era: str) -> None:
    """The model an allOf member of the urlencoded body (flattened since 1d1af92)."""
    app = form_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        files = {"document": ("d", b"hi", "application/octet-stream")}
        direct = await client.post("/noted", data={"title": "t", "note": "n"}, files=files)
    if direct.status_code != 200:  # FastAPI's floor (0.151) reads such a model as a field "data"
        pytest.skip("this FastAPI does not read a form model beside another form field")
    result = await call_tool(app, era, "noted", {"title": "t", "document": "aGk=", "note": "n"})
    assert result["structuredContent"] == {"document": "hi", "note": "n"}


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_bytes_form_field_stays_text(era: str) -> None:
    result = await call_tool(form_app(), era, "text", {"data": "plain words"})
    assert result["structuredContent"] == {"data": "plain words"}


async def test_a_form_models_file_that_is_no_base64_is_the_tools_error() -> None:
    result = await call_tool(form_app(), "legacy", "upload_document", {"title": "t", "document": "not base64!"})
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "Invalid arguments for tool 'upload_document': argument 'document' must be the file's content in base64"
    )


def test_a_route_that_is_no_fastapi_routes_has_no_form_fields() -> None:
    route = next(route for route in form_app().routes if getattr(route, "path", "") == "/documents")
    assert form_fields(route).uploads == {"document", "extras", "Cover", "Back"}
    assert form_fields(route).texts == {"raw"}
    assert form_fields(None) == form_fields(Route("/", lambda request: None)) == FormFields()


def test_a_bytes_file_parameter_is_no_text_field() -> None:
    route = next(route for route in form_app().routes if getattr(route, "path", "") == "/mixed")
    assert form_fields(route) == FormFields(frozenset(), frozenset({"t", "ts"}))


async def test_a_bytes_form_field_beside_a_file_says_no_base64() -> None:
    """Review rr4 item 2: in a form FastAPI documents as multipart (a ``File()`` beside it), a
    ``bytes = Form()`` field said base64 and refused plain text."""
    found = await schemas(form_app())
    assert found["mixed"]["b"]["contentEncoding"] == "base64"  # bytes = File(): a file
    assert "contentEncoding" not in found["mixed"]["t"]
    assert "contentEncoding" not in found["mixed"]["ts"]["items"]


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_bytes_form_field_beside_a_file_is_sent_as_text(era: str) -> None:
    """Review rr4 item 2: its base64 went out as a file part, which FastAPI 422s "Input should be a
    valid bytes"; a direct POST with the field as text gets 200."""
    app = form_app()
    result = await call_tool(app, era, "mixed", {"b": "aGk=", "t": "plain", "ts": ["x", "y"]})
    assert result.get("isError") is not True, result
    assert result["structuredContent"] == {"b": "hi", "t": "plain", "ts": ["x", "y"]}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        direct = await client.post("/model_and_file", data={"title": "x", "raw": "plain"}, files={"f": ("f", b"hi")})
    if direct.status_code != 200:  # FastAPI's floor (0.151) reads such a model as a field "data"
        pytest.skip("this FastAPI does not read a form model beside a file")
    found = await schemas(app)
    assert "contentEncoding" not in found["model_and_file"]["raw"]
    assert found["model_and_file"]["f"]["contentEncoding"] == "base64"
    result = await call_tool(app, era, "model_and_file", {"title": "x", "raw": "plain", "f": "aGk="})
    assert result.get("isError") is not True, result
    assert result["structuredContent"] == {"raw": "plain", "f": "hi"}


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_form_models_file_with_alias_choices_is_sent_as_a_file_part(era: str) -> None:
    """Review rr4 item 3: a validation_alias=AliasChoices(...) was no wire name, so its field was
    sent as text (422 "Expected UploadFile")."""
    app = form_app()
    route = next(route for route in app.routes if getattr(route, "path", "") == "/choices")
    assert form_fields(route).uploads == {"docA", "docB"}  # every string choice; an AliasPath is none
    assert (await schemas(app))["choices"]["docA"]["contentEncoding"] == "base64"
    result = await call_tool(app, era, "choices", {"docA": "aGk="})
    assert result.get("isError") is not True, result
    assert result["structuredContent"] == {"doc": "hi"}
