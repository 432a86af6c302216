"""Each child scope has its own ``asgi`` dict, as a server gives each request its own.

An inner middleware may write to ``scope["asgi"]`` for one request (a streaming proxy declares
spec 2.4 so Starlette's ``StreamingResponse`` does not read ``receive`` itself). That write must not
reach a later sub-request: there, a streaming route must still hear its client leave.
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from fastapi import Request
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.support import BASE_HEADERS, post, request
from tests.unit.test_client_leaves import GUARD, Leaving, Orders, _call, _nothing_answered

pytestmark = pytest.mark.anyio


class Asgi24ForProxy:
    """Inside MCPMiddleware: declares ASGI spec 2.4 for its /proxy paths, in the scope's own dict."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/proxy"):
            scope["asgi"]["spec_version"] = "2.4"
        await self.app(scope, receive, send)


def _orders_behind_a_proxy_middleware() -> Orders:
    orders = Orders()

    @orders.app.get("/proxy/x", operation_id="proxy")
    async def proxy() -> dict[str, bool]:
        return {"ok": True}

    orders.app.user_middleware.append(Middleware(Asgi24ForProxy))  # last: the innermost
    return orders


async def test_an_inner_write_to_one_child_scopes_asgi_dict_reaches_no_later_one() -> None:
    orders = _orders_behind_a_proxy_middleware()
    proxied = await post(orders.app, request("tools/call", {"name": "proxy", "arguments": {}}), BASE_HEADERS)
    assert proxied.result()["structuredContent"] == {"ok": True}
    body, headers = _call("feed", None)
    ex = Leaving(orders.app, body, headers)
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await orders.entered.wait()  # it streamed: its watcher runs from its first chunk
            ex.disconnect.set()
    # spec 2.3 still: the StreamingResponse heard the disconnect, closed its generator, ran its task
    assert orders.done == ["generator closed", "background ran"]
    assert _nothing_answered(ex)


async def test_each_child_scope_has_its_own_asgi_dict() -> None:
    orders = Orders()
    seen: list[dict[str, Any]] = []

    @orders.app.get("/look", operation_id="look")
    async def look(req: Request) -> dict[str, str]:
        seen.append(req.scope["asgi"])
        return {}

    for id in (1, 2):
        await post(orders.app, request("tools/call", {"name": "look", "arguments": {}}, id), BASE_HEADERS)
    assert seen == [{"version": "3.0", "spec_version": "2.3"}] * 2
    assert seen[0] is not seen[1]
