"""A ``Header()`` parameter that reads the header of one of the app's ``APIKeyHeader`` schemes is
that credential, not an argument: it is left out of the tool's input schema (as the scheme's own
header is) and the route gets it from the MCP request, in both eras. Any ``x-mcp-header``
annotation it carried goes with it, so a 2026-07-28 client is never asked to mirror the key."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Header, Query, Security
from fastapi.security import APIKeyHeader

from mcp_middleware import MCPMiddleware
from tests.support import BASE_HEADERS, MODERN, Reply, meta, modern_headers, post, request

pytestmark = pytest.mark.anyio

API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False)  # module level: route annotations resolve here
ERAS = ["2025-11-25", MODERN]


def key_app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/guarded", operation_id="guarded")
    async def guarded(key: Annotated[str | None, Security(API_KEY)]) -> dict[str, str | None]:
        return {"key": key}  # declares the scheme (the one way FastAPI puts it in the document)

    @app.get("/vault", operation_id="vault")
    async def vault(x_api_key: Annotated[str, Header()], x_request_id: Annotated[str, Header()]) -> dict[str, str]:
        return {"key": x_api_key, "request": x_request_id}

    @app.get("/optional", operation_id="optional")
    async def optional(x_api_key: Annotated[str | None, Header()] = None) -> dict[str, str | None]:
        return {"key": x_api_key}

    @app.get("/mirrored", operation_id="mirrored")
    async def mirrored(
        x_api_key: Annotated[str, Header(json_schema_extra={"x-mcp-header": "Api-Key"})],
        region: Annotated[str, Query(json_schema_extra={"x-mcp-header": "Region"})],
    ) -> dict[str, str]:
        return {"key": x_api_key, "region": region}

    app.add_middleware(MCPMiddleware, **options)
    return app


async def tools(app: FastAPI, version: str) -> dict[str, dict[str, Any]]:
    if version == MODERN:
        reply = await post(app, request("tools/list", {"_meta": meta()}), modern_headers("tools/list"))
    else:
        reply = await post(app, request("tools/list"), {**BASE_HEADERS, "mcp-protocol-version": version})
    assert reply.status == 200, reply.body
    return {tool["name"]: tool for tool in reply.result()["tools"]}


async def call(
    app: FastAPI, name: str, arguments: dict[str, Any], version: str, headers: dict[str, str] | None = None
) -> Reply:
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    if version == MODERN:
        base = modern_headers("tools/call", name)
        params["_meta"] = meta()
    else:
        base = {**BASE_HEADERS, "mcp-protocol-version": version}
    return await post(app, request("tools/call", params), {**base, **(headers or {})})


@pytest.mark.parametrize("version", ERAS)
async def test_a_header_parameter_of_an_api_key_schemes_header_is_no_argument(version: str) -> None:
    listed = await tools(key_app(), version)
    vault = listed["vault"]["inputSchema"]
    assert list(vault["properties"]) == ["x-request-id"]  # another header stays an argument
    assert vault["required"] == ["x-request-id"]
    assert "x-api-key" not in listed["optional"]["inputSchema"].get("properties", {})


@pytest.mark.parametrize("version", ERAS)
async def test_the_route_gets_the_key_from_the_mcp_request(version: str) -> None:
    reply = await call(key_app(), "vault", {"x-request-id": "r1"}, version, {"x-api-key": "k-123"})
    assert reply.status == 200, reply.body
    assert reply.result()["structuredContent"] == {"key": "k-123", "request": "r1"}
    reply = await call(key_app(), "optional", {}, version, {"X-API-Key": "k-456"})
    assert reply.result()["structuredContent"] == {"key": "k-456"}


@pytest.mark.parametrize("version", ERAS)
async def test_a_key_the_model_sends_as_an_argument_never_reaches_the_route(version: str) -> None:
    """The model cannot choose the credential: what it sends under the header's name is no
    argument of the tool (an error naming the valid ones; ignored by a tool without arguments, as
    any argument is), and the route sees the MCP request's header, or none."""
    for headers, key in (({"x-api-key": "k-123"}, "k-123"), (None, None)):
        reply = await call(key_app(), "optional", {"x-api-key": "forged"}, version, headers)
        assert reply.result()["structuredContent"] == {"key": key}
        arguments = {"x-api-key": "forged", "x-request-id": "r1"}
        result = (await call(key_app(), "vault", arguments, version, headers)).result()
        assert result["isError"] is True
        assert "unknown argument 'x-api-key'; valid arguments: 'x-request-id'" in result["content"][0]["text"]


@pytest.mark.parametrize("version", ERAS)
async def test_without_the_key_a_required_header_is_the_routes_422(version: str) -> None:
    reply = await call(key_app(), "vault", {"x-request-id": "r1"}, version)
    assert reply.status == 200, reply.body
    result = reply.result()
    assert result["isError"] is True
    assert "422" in result["content"][0]["text"]
    assert "x-api-key" in result["content"][0]["text"]


async def test_the_keys_x_mcp_header_annotation_goes_with_it_and_the_others_stay() -> None:
    schema = (await tools(key_app(), MODERN))["mirrored"]["inputSchema"]
    assert list(schema["properties"]) == ["region"]
    assert schema["properties"]["region"]["x-mcp-header"] == "Region"
    headers = {"x-api-key": "k-1", "mcp-param-region": "eu"}
    reply = await call(key_app(), "mirrored", {"region": "eu"}, MODERN, headers)
    assert reply.status == 200, reply.body
    assert reply.result()["structuredContent"] == {"key": "k-1", "region": "eu"}
    # the annotation still published is still checked (-32020 without its header)
    reply = await call(key_app(), "mirrored", {"region": "eu"}, MODERN, {"x-api-key": "k-1"})
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32020


async def test_a_header_parameter_matching_no_scheme_stays_an_argument() -> None:
    app = FastAPI()

    @app.get("/vault", operation_id="vault")
    async def vault(x_api_key: Annotated[str, Header()]) -> dict[str, str]:
        return {"key": x_api_key}

    app.add_middleware(MCPMiddleware)
    schema = (await tools(app, "2025-11-25"))["vault"]["inputSchema"]
    assert schema["required"] == ["x-api-key"]
    reply = await call(app, "vault", {"x-api-key": "arg"}, "2025-11-25")
    assert reply.result()["structuredContent"] == {"key": "arg"}
