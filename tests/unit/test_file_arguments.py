"""A file argument (a multipart file field, a binary raw body) in base64: read as ``content.image``
reads base64 text (unpadded and line-wrapped text taken), after an optional ``data:...;base64,``
prefix; and a prompt's file argument says it is base64."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, File, Form, UploadFile
from pydantic import Json

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware.catalog import ArgumentError, ToolSpec, build_catalog
from tests.support import call_legacy, call_modern, call_tool

pytestmark = pytest.mark.anyio


def tools() -> dict[str, ToolSpec]:
    form = {"type": "object", "properties": {"doc": {"type": "string", "format": "binary"}}, "required": ["doc"]}
    raw = {"type": "string", "format": "binary"}
    doc = {
        "paths": {
            "/m": {"post": {"operationId": "m", "requestBody": {"content": {"multipart/form-data": {"schema": form}}}}},
            "/r": {
                "post": {"operationId": "r", "requestBody": {"content": {"application/octet-stream": {"schema": raw}}}}
            },
        }
    }
    return {tool.name: tool for tool in build_catalog(doc).tools}


def sent(value: str) -> tuple[bytes, bytes]:
    """The multipart file's bytes and the raw body's, for argument ``value``."""
    found = tools()
    multipart = found["m"].build_request({"doc": value}).body
    start = multipart.index(b"\r\n\r\n") + 4
    return multipart[start : multipart.index(b"\r\n--", start)], found["r"].build_request({"body": value}).body


@pytest.mark.parametrize(
    "value",
    [
        "AAE=",
        "AAE",  # unpadded
        "AA\nE=",  # line-wrapped
        "data:application/octet-stream;base64,AAE=",
        "data:;base64,AAE",
        "DATA:text/plain;charset=utf-8;Base64,AAE=",
    ],
)
def test_a_file_argument_is_read_as_base64_text_is_anywhere_else(value: str) -> None:
    assert sent(value) == (b"\x00\x01", b"\x00\x01")


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        "AAE=x",
        "A",  # 4n + 1 characters: no bytes
        "-_8=",  # url-safe alphabet
        "data:image/png,AAE=",  # a data URL that is no base64
        "data:image/png;base64",  # no comma
        "AAé=",
        "hello world",  # plain text: unpadded, but its last character has unused bits set
        "Quarterly report",
        "AAF",  # (RFC 4648 section 3.5: "AAE" is the canonical spelling of these bytes)
        "AB",
    ],
)
def test_anything_else_is_an_argument_error(value: str) -> None:
    found = tools()
    for name, argument in (("m", "doc"), ("r", "body")):
        with pytest.raises(ArgumentError, match=f"'{argument}' must be the file's content in base64"):
            found[name].build_request({argument: value})


@pytest.mark.parametrize("value", [True, False, 1234, 0, 1.5, {"a": 1}])
def test_a_value_that_is_no_string_is_an_argument_error(value: Any) -> None:
    """Review: a boolean or a number was written as its text ("true", "1234"), which is base64 too,
    and the route got its garbage bytes."""
    found = tools()
    with pytest.raises(ArgumentError, match=r"^argument 'doc' must be the file's content in base64$"):
        found["m"].build_request({"doc": value})
    with pytest.raises(ArgumentError, match=r"^argument 'body' must be a string$"):
        found["r"].build_request({"body": value})


def upload_app() -> FastAPI:
    app = FastAPI()

    @app.post("/upload", operation_id="upload")
    async def upload(file: UploadFile) -> dict[str, Any]:
        return {"size": len(await file.read())}

    @app.post("/uploads", operation_id="uploads")
    async def uploads(files: list[UploadFile], note: Annotated[str, Form()] = "") -> dict[str, Any]:
        return {"sizes": [len(await file.read()) for file in files], "note": note}

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("value", [True, 1234, 1.5])
async def test_a_file_argument_that_is_no_string_is_the_tools_error_and_no_upload(value: Any) -> None:
    app = upload_app()
    for name, arguments in (("upload", {"file": value}), ("uploads", {"files": ["AAE=", value], "note": 5})):
        result = (await call_legacy(app, "tools/call", {"name": name, "arguments": arguments})).result()
        assert result["isError"] is True
        argument = next(iter(arguments))
        assert result["content"][0]["text"] == (
            f"Invalid arguments for tool {name!r}: argument {argument!r} must be the file's content in base64"
        )
    result = (
        await call_legacy(app, "tools/call", {"name": "uploads", "arguments": {"files": ["AAE="], "note": 5}})
    ).result()
    assert result["structuredContent"] == {"sizes": [2], "note": "5"}  # a form field's number is its text


def prompt_app() -> FastAPI:
    app = FastAPI()

    @app.post("/a", openapi_extra=declare.prompt("parse"))
    async def parse(
        doc: Annotated[UploadFile, File(description="The PDF to parse")],
        note: Annotated[str, Form(description="a note")] = "",
    ) -> dict[str, Any]:
        return {"n": doc.filename}

    @app.post("/b", openapi_extra=declare.prompt("many"))
    async def many(
        parts: Annotated[list[bytes], File(description="chunks")] = [],  # noqa: B006
        one: Annotated[bytes | None, File()] = None,
    ) -> dict[str, Any]:
        return {"n": len(parts)}

    app.add_middleware(MCPMiddleware)
    return app


async def test_a_prompts_file_argument_says_it_is_base64() -> None:
    listed = (await call_legacy(prompt_app(), "prompts/list", {})).result()["prompts"]
    arguments = {prompt["name"]: prompt["arguments"] for prompt in listed}
    assert arguments["parse"] == [
        {"name": "doc", "required": True, "description": "The PDF to parse (base64)"},
        {"name": "note", "required": False, "description": "a note"},
    ]
    assert arguments["many"] == [
        {"name": "parts", "required": False, "description": "chunks (JSON: array of base64 strings)"},
        {"name": "one", "required": False, "description": "base64"},
    ]


def tagged_app() -> FastAPI:
    app = FastAPI()

    @app.post("/tagged", operation_id="tagged")
    async def tagged(
        up: UploadFile, data: Annotated[bytes, File()], meta: Annotated[Json[dict[str, int]], Form()]
    ) -> dict[str, Any]:
        return {"up": await up.read(), "name": up.filename, "data": data, "meta": meta}

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_a_json_form_field_is_its_text_not_a_file(era: str) -> None:
    """Review: pydantic's ``Json[...]`` field (``contentMediaType: application/json`` with a
    ``contentSchema``) was taken for a file: its schema said base64, its JSON text was refused, and
    its base64 went out as a file part (FastAPI: 422). An ``UploadFile`` and ``bytes = File()``
    (``contentMediaType: application/octet-stream``) still are files."""
    app = tagged_app()
    listed = await (call_legacy(app, "tools/list") if era == "legacy" else call_modern(app, "tools/list"))
    schema = next(tool["inputSchema"] for tool in listed.result()["tools"] if tool["name"] == "tagged")
    meta = schema["properties"]["meta"]
    assert meta["type"] == "string"
    assert "contentEncoding" not in meta
    assert schema["properties"]["up"]["contentEncoding"] == schema["properties"]["data"]["contentEncoding"] == "base64"
    result = await call_tool(app, era, "tagged", {"up": "AAE=", "data": "aGk=", "meta": '{"a": 1, "b": 2}'})
    assert result.get("isError") is not True, result
    assert result["structuredContent"] == {"up": "\x00\x01", "name": "up", "data": "hi", "meta": {"a": 1, "b": 2}}
    refused = await call_tool(app, era, "tagged", {"up": "not base64!", "data": "aGk=", "meta": "{}"})
    assert refused["content"][0]["text"].endswith("argument 'up' must be the file's content in base64")
