"""A ``Header()`` parameter that reads the header of one of the app's ``APIKeyHeader`` schemes is
that credential, not an argument: it is left out of the tool's input schema (as the scheme's own
header is) and the route gets it from the MCP request, in both eras. Any ``x-mcp-header``
annotation it carried goes with it, so a 2026-07-28 client is never asked to mirror the key."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Cookie, FastAPI, Header, Query, Request, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, APIKeyQuery

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


# -- the same rule for APIKeyQuery and APIKeyCookie ------------------------------------------------

QUERY_KEY = APIKeyQuery(name="api_key", auto_error=False)
COOKIE_KEY = APIKeyCookie(name="session", auto_error=False)


def query_and_cookie_app() -> FastAPI:
    app = FastAPI()

    @app.get("/guarded", operation_id="guarded")
    async def guarded(
        key: Annotated[str | None, Security(QUERY_KEY)], session: Annotated[str | None, Security(COOKIE_KEY)]
    ) -> dict[str, str | None]:
        return {"key": key, "session": session}  # declares both schemes

    @app.get("/by_query", operation_id="by_query")
    async def by_query(
        _: Annotated[str | None, Security(QUERY_KEY)], api_key: Annotated[str, Query()], page: int
    ) -> dict[str, Any]:
        return {"key": api_key, "page": page}  # its security names the scheme: api_key is its key

    @app.get("/feed", operation_id="feed")
    async def feed(request: Request, api_key: Annotated[str, Query()] = "start") -> dict[str, Any]:
        # public: its api_key merely shares the scheme's name (a cursor), and it echoes its URL
        return {"cursor": api_key, "url": str(request.url)}

    @app.get("/by_cookie", operation_id="by_cookie")
    async def by_cookie(
        session: Annotated[str | None, Cookie()] = None, theme: Annotated[str | None, Cookie()] = None
    ) -> dict[str, str | None]:
        return {"session": session, "theme": theme}

    @app.get("/other", operation_id="other")
    async def other(Session: Annotated[str | None, Cookie()] = None, API_KEY: str | None = None) -> dict[str, Any]:
        return {"cookie": Session, "query": API_KEY}  # names differ in case: no scheme's

    app.add_middleware(MCPMiddleware)
    return app


async def call_with(
    app: FastAPI, name: str, arguments: dict[str, Any], version: str, query: bytes = b"", **headers: str
) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    if version == MODERN:
        base = modern_headers("tools/call", name)
        params["_meta"] = meta()
    else:
        base = {**BASE_HEADERS, "mcp-protocol-version": version}
    reply = await post(app, request("tools/call", params), {**base, **headers}, query_string=query)
    assert reply.status == 200, reply.body
    result: dict[str, Any] = reply.result()
    return result


@pytest.mark.parametrize("version", ERAS)
async def test_query_and_cookie_parameters_of_api_key_schemes_are_no_arguments(version: str) -> None:
    listed = await tools(query_and_cookie_app(), version)
    by_query = listed["by_query"]["inputSchema"]
    assert list(by_query["properties"]) == ["page"]
    assert by_query["required"] == ["page"]
    assert list(listed["by_cookie"]["inputSchema"]["properties"]) == ["theme"]
    # names are compared exactly: a cookie or query parameter is case-sensitive
    assert set(listed["other"]["inputSchema"]["properties"]) == {"Session", "API_KEY"}


@pytest.mark.parametrize("version", ERAS)
async def test_the_route_gets_the_query_key_and_cookie_from_the_mcp_request(version: str) -> None:
    app = query_and_cookie_app()
    result = await call_with(app, "by_query", {"page": 2}, version, b"api_key=k-1")
    assert result["structuredContent"] == {"key": "k-1", "page": 2}
    result = await call_with(app, "by_cookie", {"theme": "dark"}, version, cookie="session=s-1")
    assert result["structuredContent"] == {"session": "s-1", "theme": "dark"}


@pytest.mark.parametrize("version", ERAS)
async def test_a_query_key_or_cookie_the_model_sends_never_reaches_the_route(version: str) -> None:
    app = query_and_cookie_app()
    result = await call_with(app, "by_query", {"page": 2, "api_key": "forged"}, version, b"api_key=k-1")
    assert result["isError"] is True
    assert "unknown argument 'api_key'; valid arguments: 'page'" in result["content"][0]["text"]
    result = await call_with(app, "by_cookie", {"session": "forged"}, version)
    assert result["isError"] is True
    assert "unknown argument 'session'; valid arguments: 'theme'" in result["content"][0]["text"]


@pytest.mark.parametrize("version", ERAS)
async def test_without_the_query_key_its_required_parameter_is_the_routes_422(version: str) -> None:
    result = await call_with(query_and_cookie_app(), "by_query", {"page": 2}, version)
    assert result["isError"] is True
    assert "422" in result["content"][0]["text"]
    assert "api_key" in result["content"][0]["text"]


@pytest.mark.parametrize("version", ERAS)
async def test_a_public_routes_query_parameter_named_as_the_key_stays_an_argument(version: str) -> None:
    # the URL's key goes only to the routes its scheme guards: a public route's parameter of the
    # same name is the model's (a cursor), and the route never sees the key (review: bbb9d9b sent
    # it there, and the route echoed it to the model)
    app = query_and_cookie_app()
    feed = (await tools(app, version))["feed"]["inputSchema"]
    assert list(feed["properties"]) == ["api_key"]
    assert "required" not in feed
    result = await call_with(app, "feed", {}, version, b"api_key=SECRET-KEY")
    assert result.get("isError") is not True, result
    assert result["structuredContent"]["cursor"] == "start"
    assert result["structuredContent"]["url"].endswith("/feed")
    result = await call_with(app, "feed", {"api_key": "page2"}, version, b"api_key=SECRET-KEY")
    assert result["structuredContent"]["cursor"] == "page2"
    assert result["structuredContent"]["url"].endswith("/feed?api_key=page2")
    assert "SECRET-KEY" not in str(result)


@pytest.mark.parametrize("version", ERAS)
async def test_a_public_routes_bad_argument_of_the_keys_name_is_an_argument_error(version: str) -> None:
    # the argument is checked as any query argument is; the URL's key is no part of the answer
    result = await call_with(query_and_cookie_app(), "feed", {"api_key": ["a", "b"]}, version, b"api_key=SECRET-KEY")
    assert result["isError"] is True
    assert result["content"][0]["text"] == (
        "Invalid arguments for tool 'feed': argument 'api_key' takes a single value, not an array"
    )
