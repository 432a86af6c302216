"""A resource template that matches a URI but cannot serve it gives way to the others.

``teams://{name}{?region}`` (its route requires ``region``) declared before ``teams://{name}``:
``teams://red`` is an expansion of both, with ``region`` undefined in the first. The first's
refusal (-32602 "missing required argument 'region'") answered every such read, in both eras,
though the second template, listed, serves it; so did an undecodable value that a later template's
route does not take. A template that cannot serve a URI is now no match: the next one is tried, and
its refusal is the answer only when nothing else serves the URI.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from mcp_middleware import MCPMiddleware, declare
from tests.support import BASE_HEADERS, Reply, call_modern, post, request

pytestmark = pytest.mark.anyio

ERAS = ["handshake", "modern"]


def shadow_app() -> FastAPI:
    app = FastAPI()

    @app.get("/teams/{name}/regional", openapi_extra=declare.resource_template("teams://{name}{?region}"))
    async def team_in_region(name: str, region: str) -> dict[str, str]:
        return {"route": "team_in_region", "name": name, "region": region}

    @app.get("/teams/{name}", openapi_extra=declare.resource_template("teams://{name}"))
    async def team(name: str) -> dict[str, str]:
        return {"route": "team", "name": name}

    @app.get("/squads/{squad}", openapi_extra=declare.resource_template("teams://{squad}"))  # team's URIs, later
    async def squad(squad: str) -> dict[str, str]:
        return {"route": "squad", "squad": squad}

    @app.get("/blue", openapi_extra=declare.resource("teams://blue"))  # declared after the templates
    async def blue() -> dict[str, str]:
        return {"route": "blue"}

    @app.get("/people/{name}", openapi_extra=declare.resource_template("people://{name}"))
    async def person(name: str) -> dict[str, str]:
        return {"route": "person", "name": name}

    @app.get("/people", openapi_extra=declare.resource_template("people://{anyone}"))  # takes no value
    async def everyone() -> dict[str, str]:
        return {"route": "everyone"}

    @app.get("/leagues/{name}", openapi_extra=declare.resource_template("leagues://{name}{?season}"))
    async def league(name: str, season: str) -> dict[str, str]:
        return {"route": "league", "name": name, "season": season}

    @app.get("/leagues/{name}/tiers", openapi_extra=declare.resource_template("leagues://{name}{?tier}"))
    async def league_tier(name: str, tier: str) -> dict[str, str]:
        return {"route": "league_tier", "name": name, "tier": tier}

    app.add_middleware(MCPMiddleware)
    return app


async def read(uri: str, era: str) -> Reply:
    params = {"uri": uri}
    if era == "modern":
        return await call_modern(shadow_app(), "resources/read", params, uri)
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}
    return await post(shadow_app(), request("resources/read", params), headers)


async def served(uri: str, era: str) -> dict[str, Any]:
    reply = await read(uri, era)
    assert reply.status == 200, reply.body
    contents = reply.json()["result"]["contents"]
    assert [c["uri"] for c in contents] == [uri]
    text: dict[str, Any] = orjson.loads(contents[0]["text"])
    return text


async def refused(uri: str, era: str) -> dict[str, Any]:
    reply = await read(uri, era)
    assert reply.status == (400 if era == "modern" else 200), reply.body
    error: dict[str, Any] = reply.json()["error"]
    return error


@pytest.mark.parametrize("era", ERAS)
async def test_a_template_missing_a_required_query_variable_gives_way_to_a_later_one(era: str) -> None:
    """The reviewer's case: -32602 "missing required argument 'region'" though teams://{name} is
    listed and matches; before the query expressions it was served by teams://{name}."""
    assert await served("teams://red", era) == {"route": "team", "name": "red"}
    assert await served("teams://red?region=eu", era) == {"route": "team_in_region", "name": "red", "region": "eu"}


@pytest.mark.parametrize("era", ERAS)
async def test_a_template_whose_value_is_not_utf8_gives_way_to_a_later_one(era: str) -> None:
    """people://{name} cannot decode J%FCrgen for its route; people://{anyone}'s route takes no
    value, so it serves the URI."""
    assert await served("people://J%FCrgen", era) == {"route": "everyone"}
    assert await served("people://J%C3%BCrgen", era) == {"route": "person", "name": "Jürgen"}


@pytest.mark.parametrize("era", ERAS)
async def test_a_fixed_resource_and_then_the_first_template_that_serves_win(era: str) -> None:
    """The fixed resource, declared last, before any template (one of which would refuse the URI);
    then templates in declaration order: teams://{name} before teams://{squad}."""
    assert await served("teams://blue", era) == {"route": "blue"}
    assert await served("teams://green", era) == {"route": "team", "name": "green"}


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("teams://r%FCd?region=eu", "argument 'name' is not UTF-8 once percent-decoded"),
        ("teams://red?region=%E9", "argument 'region' is not UTF-8 once percent-decoded"),
        # every teams:// template refuses it: the first one's reason
        (
            "teams://r%FCd",
            "missing required argument 'region' (the template's query gives it: teams://{name}{?region})",
        ),
        (
            "leagues://premier",
            "missing required argument 'season' (the template's query gives it: leagues://{name}{?season})",
        ),
    ],
)
@pytest.mark.parametrize("era", ERAS)
async def test_when_no_template_serves_the_uri_the_first_refusal_is_the_answer(uri: str, why: str, era: str) -> None:
    message = f"Invalid arguments for resource {uri}: {why}"
    assert await refused(uri, era) == {"code": -32602, "message": message, "data": {"uri": uri}}


@pytest.mark.parametrize("era", ERAS)
async def test_a_uri_no_template_matches_is_still_not_found(era: str) -> None:
    code = -32602 if era == "modern" else -32002
    uri = "teams://red/x"
    assert await refused(uri, era) == {"code": code, "message": f"Resource not found: {uri}", "data": {"uri": uri}}
