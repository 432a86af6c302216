"""A ``303 See Other`` answering a write (post-then-redirect, RFC 9110 §15.4.4): the action
succeeded and the response points to its result, so the tool's result is a success that says the
status and the ``Location``, as a 201's or 202's is: an error made a model retry a non-idempotent
write. A 303 answering a GET or HEAD, and every other redirect, is still an error (a redirect is not
followed, so the tool did not do its work). A tool with an output schema still needs a conforming
``structuredContent`` for a success (the official clients refuse one without it), so its 303 stays
an ``isError`` result, one that says the action was done."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware
from mcp_middleware._body import ALONE
from mcp_middleware.dispatch import SubRequest
from mcp_middleware.results import HeadResponseCollector, ResponseCollector
from tests.support import MODERN, tool_result

pytestmark = pytest.mark.anyio

ERAS = ["2025-11-25", MODERN]


class Thing(BaseModel):
    id: int


def make_app() -> FastAPI:
    app = FastAPI()
    things: list[str] = []

    @app.post("/things")
    def create_thing(name: str) -> RedirectResponse:
        things.append(name)
        return RedirectResponse(f"/things/{len(things)}", status_code=303)

    @app.put("/things/{thing_id}")
    def replace_thing(thing_id: int) -> RedirectResponse:
        return RedirectResponse(f"/things/{thing_id}", status_code=303)

    @app.delete("/things/{thing_id}")
    def delete_thing(thing_id: int) -> Response:
        return Response("deleted", 303, {"Location": "/things"}, media_type="text/plain")

    @app.post("/echo")
    def echo(request: Request) -> RedirectResponse:
        token = request.headers["authorization"].partition(" ")[2]
        return RedirectResponse(f"/done?token={token}", status_code=303)

    @app.post("/typed", response_model=Thing)
    def create_typed() -> Any:
        return RedirectResponse("/things/9", status_code=303)

    @app.post("/moved")
    def moved() -> RedirectResponse:  # another redirect after a POST: not followed, an error
        return RedirectResponse("/elsewhere", status_code=307)

    @app.get("/search")
    def search() -> RedirectResponse:  # a 303 answering a GET: a redirect, an error
        return RedirectResponse("/results/1", status_code=303)

    @app.get("/things")
    def list_things() -> list[str]:
        return things

    app.add_middleware(MCPMiddleware)
    return app


async def call(app: FastAPI, version: str, name: str, arguments: Any, headers: Any = None) -> dict[str, Any]:
    return await tool_result(app, version, name, arguments, headers)


@pytest.mark.parametrize("version", ERAS)
async def test_a_303_after_a_post_is_a_success_that_says_where_its_result_is(version: str) -> None:
    app = make_app()
    created = await call(app, version, "create_thing", {"name": "a"})
    assert created == {"content": [{"type": "text", "text": "303 See Other: Location /things/1"}]}
    # the write happened once: nothing told the model to try again
    listed = await call(app, version, "list_things", {})
    assert listed["content"][0]["text"] == '["a"]'


@pytest.mark.parametrize("version", ERAS)
async def test_a_303_after_a_put_or_delete_is_a_success_too(version: str) -> None:
    app = make_app()
    replaced = await call(app, version, "replace_thing", {"thing_id": 4})
    assert replaced == {"content": [{"type": "text", "text": "303 See Other: Location /things/4"}]}
    deleted = await call(app, version, "delete_thing", {"thing_id": 4})  # its body after the line
    assert deleted == {"content": [{"type": "text", "text": "303 See Other: Location /things\n\ndeleted"}]}


@pytest.mark.parametrize("version", ERAS)
async def test_a_303_after_a_post_never_shows_a_forwarded_credential(version: str) -> None:
    echoed = await call(make_app(), version, "echo", {}, {"authorization": "Bearer s3cr3t-t0ken"})
    assert echoed == {"content": [{"type": "text", "text": "303 See Other: Location /done?token=[redacted]"}]}


@pytest.mark.parametrize("version", ERAS)
async def test_a_303_answering_a_get_and_other_redirects_after_a_post_stay_errors(version: str) -> None:
    app = make_app()
    searched = await call(app, version, "search", {})
    assert searched == {"content": [{"type": "text", "text": "303 See Other: Location /results/1"}], "isError": True}
    moved = await call(app, version, "moved", {})
    assert moved["isError"] is True
    assert moved["content"] == [{"type": "text", "text": "307 Temporary Redirect: Location /elsewhere"}]


@pytest.mark.parametrize("version", ERAS)
async def test_a_303_of_a_tool_with_an_output_schema_is_an_error_that_says_the_action_was_done(version: str) -> None:
    """No ``structuredContent`` conforms to the schema, and a success without one is refused by the
    official clients: an ``isError`` result, still valid for them, that says the write was done."""
    typed = await call(make_app(), version, "create_typed", {})
    assert typed == {
        "content": [
            {
                "type": "text",
                "text": "The tool has an output schema, but the route answered 303 See Other (Location /things/9): "
                "the POST was done and its result is at the Location (do not repeat it), "
                "but a redirect is not this tool's result",
            }
        ],
        "isError": True,
    }


def collected(method: str, status: int, headers: Any, kind: type[ResponseCollector] = ResponseCollector) -> Any:
    sub = SubRequest(method=method, path="/x")
    collector = kind(path="/x", structured=False, max_text=1000, max_binary=1000, called=(sub, ALONE, ALONE))
    collector.head(status, headers)
    collector.feed(b"", False)
    return collector.result()


def test_only_a_303_answering_neither_get_nor_head_is_a_success() -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert collected(method, 303, [(b"location", b"/r")]) == {
            "content": [{"type": "text", "text": "303 See Other: Location /r"}]
        }
    assert collected("GET", 303, [(b"location", b"/r")])["isError"] is True
    head = collected("HEAD", 303, [(b"location", b"/r")], HeadResponseCollector)
    assert head == {"content": [{"type": "text", "text": "303 See Other\nlocation: /r"}], "isError": True}
    for status in (301, 302, 307, 308):
        assert collected("POST", status, [(b"location", b"/r")])["isError"] is True
    # a collector made on its own (no request known) takes its 303 as a GET's: an error
    alone = ResponseCollector(path="/x", structured=False, max_text=1000, max_binary=1000)
    alone.head(303, [(b"location", b"/r")])
    alone.feed(b"", False)
    assert alone.result()["isError"] is True
