"""Two ``MCPMiddleware`` in one app's stack: on paths of their own each answers its endpoint; on
the same path the outer one (added last) answers every request, and the inner one's options never
apply, which is warned about when the outer one is built (review: /tmp/review_docs/s/two.py, an
inner ``include_methods=["POST"]`` under an outer default one was silently ignored)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from mcp_middleware import MCPMiddleware
from mcp_middleware.security import OAuthResource
from tests.support import post, request

pytestmark = pytest.mark.anyio

SAME_PATH = "answers every request to it"


def app_with_two_routes() -> FastAPI:
    app = FastAPI()

    @app.get("/r", operation_id="r")
    def read() -> int:
        return 1

    @app.delete("/d", operation_id="d")
    def delete() -> int:
        return 2

    return app


async def tool_names(app: Any, path: str) -> list[str]:
    reply = await post(app, request("tools/list"), path=path)
    return [tool["name"] for tool in reply.result()["tools"]]


def stacked(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if SAME_PATH in r.getMessage()]


async def test_two_endpoints_on_paths_of_their_own_each_serve_their_options(caplog: pytest.LogCaptureFixture) -> None:
    app = app_with_two_routes()
    app.add_middleware(MCPMiddleware, path="/mcp/read", include_methods=["GET"])
    app.add_middleware(MCPMiddleware, path="/mcp/admin")
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        assert await tool_names(app, "/mcp/read") == ["r"]
        assert await tool_names(app, "/mcp/admin") == ["r", "d"]
    assert not stacked(caplog), caplog.text


@pytest.mark.parametrize(("inner", "outer"), [("/mcp", "/mcp"), ("/mcp/", "/mcp"), ("/api", "/api/")])
async def test_the_same_path_twice_is_warned_about_when_the_stack_is_built(
    inner: str, outer: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_with_two_routes()
    app.add_middleware(MCPMiddleware, path=inner, include_methods=["GET"])
    app.add_middleware(MCPMiddleware, path=outer)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        app.build_middleware_stack()  # what Starlette does at start-up (the lifespan) or first request
    warned = stacked(caplog)
    assert len(warned) == 1, caplog.text
    assert warned[0].levelno == logging.WARNING
    assert warned[0].name == "mcp_middleware.middleware"
    message = warned[0].getMessage()
    slash = outer.rstrip("/")
    assert f"'{slash}' and '{slash}/'" in message
    assert "the options of the one added before it never apply" in message
    assert 'path="/mcp/read"' in message  # the working pattern: an endpoint of its own each
    # and what it says: the outer one answers, with its options (both routes, not the GET only)
    assert await tool_names(app, outer) == ["r", "d"]


async def test_an_inner_endpoint_is_found_through_the_middlewares_between_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = app_with_two_routes()
    app.add_middleware(MCPMiddleware, include_methods=["GET"])
    app.add_middleware(CORSMiddleware, allow_origins=["http://localhost:6274"])
    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        app.build_middleware_stack()
    assert len(stacked(caplog)) == 1, caplog.text


def test_an_endpoint_wrapped_by_hand_in_another_on_its_path_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        MCPMiddleware(MCPMiddleware(app_with_two_routes(), include_methods=["GET"]))
    assert len(stacked(caplog)) == 1, caplog.text


def test_a_stack_that_is_not_starlettes_ends_the_walk(caplog: pytest.LogCaptureFixture) -> None:
    """An app without ``.app`` (a plain ASGI callable), or a chain of ``.app`` that loops, is
    walked no further: nothing is warned and the middleware is built."""

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        pass

    class Loop:
        app: Any = None

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            pass

    loop = Loop()
    loop.app = loop
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        MCPMiddleware(bare)
        MCPMiddleware(loop)
    assert not stacked(caplog), caplog.text


async def test_two_endpoints_with_oauth_on_paths_of_their_own_are_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Re-review: both claim the bare metadata path (/.well-known/oauth-protected-resource), which
    the outer one answers for both; each serves its own suffixed metadata: nothing to warn about."""
    app = app_with_two_routes()
    oauth = OAuthResource(authorization_servers=["https://auth.example.com"])
    app.add_middleware(MCPMiddleware, path="/mcp/read", include_methods=["GET"], oauth=oauth)
    app.add_middleware(MCPMiddleware, path="/mcp/admin", oauth=oauth)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        app.build_middleware_stack()
    assert not stacked(caplog), caplog.text
    for path in ("/mcp/read", "/mcp/admin"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
            reply = await client.get(f"/.well-known/oauth-protected-resource{path}")
        assert reply.status_code == 200
        assert reply.json()["resource"].endswith(path)


def test_the_same_suffixed_metadata_path_twice_is_still_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Both endpoints on /mcp with oauth=: the endpoint and its metadata paths are named, not the
    bare well-known path."""
    app = app_with_two_routes()
    oauth = OAuthResource(authorization_servers=["https://auth.example.com"])
    app.add_middleware(MCPMiddleware, include_methods=["GET"], oauth=oauth)
    app.add_middleware(MCPMiddleware, oauth=oauth)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        app.build_middleware_stack()
    (warned,) = stacked(caplog)
    message = warned.getMessage()
    assert "'/.well-known/oauth-protected-resource/mcp'" in message
    assert "'/.well-known/oauth-protected-resource' " not in message


@pytest.mark.parametrize(
    ("kwargs", "warned"),
    [({}, 1), ({"path": "/mcp/"}, 1), ({"path": "/other"}, 0)],
)
def test_an_endpoint_wrapped_by_hand_around_an_app_with_one_added_is_warned_about(
    kwargs: dict[str, Any], warned: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Re-review: ``app.add_middleware(MCPMiddleware, ...)`` then ``MCPMiddleware(app)``: Starlette
    builds the inner one later (lazily), so the walk meets the app; its ``user_middleware`` says."""
    app = app_with_two_routes()
    app.add_middleware(MCPMiddleware, include_methods=["GET"], **kwargs)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        MCPMiddleware(app)
    assert len(stacked(caplog)) == warned, caplog.text


def test_an_added_endpoint_whose_path_is_no_string_is_left_to_its_own_check(caplog: pytest.LogCaptureFixture) -> None:
    """``add_middleware(MCPMiddleware, path=5)`` is refused when Starlette builds it; the outer one
    wrapped by hand is built, unwarned (no path to compare)."""
    app = app_with_two_routes()
    app.add_middleware(MCPMiddleware, path=5)  # type: ignore[arg-type]  # the mistake tested
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        MCPMiddleware(app)
    assert not stacked(caplog), caplog.text
