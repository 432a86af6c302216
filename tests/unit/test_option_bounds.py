"""Options accepted when the middleware was built that then failed silently (review of the API):
each is refused at construction with an error naming the option and the value."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_middleware import MCPMiddleware
from tests.apps import build_app
from tests.support import post, request

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("interval", [1e-6, 0.05, 0.099])
def test_a_keepalive_interval_below_the_minimum_is_refused(interval: float) -> None:
    """Review: ``keepalive_interval=1e-6`` was accepted and made the call watcher a busy loop (its
    ticker runs every half interval: 2,355 keep-alives in 0.6 s). Keep-alives are for idle timeouts
    of proxies, which are seconds long: below 0.1 s is refused."""
    with pytest.raises(ValueError, match=r"^keepalive_interval must be at least") as refused:
        MCPMiddleware(build_app(), keepalive_interval=interval)
    assert str(refused.value) == (
        f"keepalive_interval must be at least 0.1 seconds (keep-alives outlast proxies' idle timeouts, which "
        f"are seconds long; a shorter interval only keeps the call watcher busy), got {interval!r}"
    )


@pytest.mark.parametrize("interval", [0.1, 1, 15.0, float("inf")])
def test_a_keepalive_interval_from_the_minimum_up_is_taken(interval: float) -> None:
    assert MCPMiddleware(build_app(), keepalive_interval=interval).settings.keepalive_interval == interval


@pytest.mark.parametrize("option", ["name", "version"])
@pytest.mark.parametrize("value", ["", " ", "\t\n"])
def test_an_empty_name_or_version_is_refused(option: str, value: str) -> None:
    """Review: ``name=""`` and ``version=""`` were replaced by the app's title and version without a
    word, while ``instructions=""`` sends no instructions. A server's name and version identify it
    to clients (``serverInfo``): an empty or blank one names nothing, so it is refused; None (the
    default) takes the app's."""
    options: dict[str, Any] = {option: value}
    with pytest.raises(ValueError, match=rf"^{option} must be a non-empty string") as refused:
        MCPMiddleware(build_app(), **options)
    default = "title" if option == "name" else "version"
    assert str(refused.value) == (
        f"{option} must be a non-empty string (or None for the app's {default}), got {value!r}"
    )


async def test_empty_instructions_send_none_and_a_given_name_and_version_are_served() -> None:
    """``instructions=""`` is the way to send no instructions where the app has a description."""
    app = build_app(name="things", version="2", instructions="")
    init = request(
        "initialize",
        {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )
    result = (await post(app, init)).result()
    assert result["serverInfo"] == {"name": "things", "version": "2"}
    assert "instructions" not in result


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/mcp%20x", "percent-escapes (ASGI servers pass the path decoded: write '/mcp x', not '/mcp%20x')"),
        ("/mcp%2fx", "percent-escapes (ASGI servers pass the path decoded: write '/mcp x', not '/mcp%20x')"),
        ("/100%", "percent-escapes (ASGI servers pass the path decoded: write '/mcp x', not '/mcp%20x')"),
        ("/mcp\n", "control characters"),
        ("/mcp\x00", "control characters"),
        ("/mcp\x7f", "control characters"),
        ("/mcp/../x", "'.' or '..' segments (clients resolve them before sending the request)"),
        ("/./mcp", "'.' or '..' segments (clients resolve them before sending the request)"),
        ("/mcp/..", "'.' or '..' segments (clients resolve them before sending the request)"),
    ],
)
def test_a_path_no_request_can_reach_is_refused(path: str, reason: str) -> None:
    """Review: ``path="/mcp%20x"`` was accepted and never answered (ASGI servers decode the request's
    path, so ``/mcp%20x`` arrives as ``/mcp x``); so were paths with control characters and dot
    segments, which clients escape or resolve before they send a request."""
    with pytest.raises(ValueError, match=r"^path must have no") as refused:
        MCPMiddleware(build_app(), path=path)
    assert str(refused.value) == f"path must have no {reason}, got {path!r}"


@pytest.mark.parametrize("path", ["/mcp x", "/mcp..x", "/v1.0/mcp", "/.well-known-ish/mcp"])
async def test_a_path_a_request_reaches_is_taken_and_answered(path: str) -> None:
    """What is taken stays reachable: a decoded path (a client sends ``/mcp x`` as ``/mcp%20x``,
    which arrives decoded), dots inside a segment."""
    reply = await post(build_app(path=path), request("ping"), path=path)
    assert reply.status == 200
    assert reply.json()["result"] == {}
