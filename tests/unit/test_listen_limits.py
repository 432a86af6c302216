"""What a ``subscriptions/listen`` stream may hold, and how many may be open (review D2: each open
stream held some 6-7 times its request body, every URI it named, and their number was unbounded).

subscriptions.mdx: the acknowledgement's ``notifications`` is "the subset the server agrees to
honour", unsupported kinds omitted; so a URI naming no resource or template of the app is left out
of it and not kept. A stream naming more URIs than it may hold, and a stream past
``max_listen_streams``, are refused with an error naming the limit, before anything is written."""

from __future__ import annotations

import gc
from types import ModuleType
from typing import Any

import anyio
import pytest
from fastapi import FastAPI, Response

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware._listen_stream import MAX_LISTEN_URIS
from tests.apps import build_app, mcp_of
from tests.support import Exchange, meta, modern_headers, request

pytestmark = pytest.mark.anyio

GUARD = 10


def listen(app: Any, wanted: dict[str, Any], id: str = "s") -> Exchange:
    body = request("subscriptions/listen", {"notifications": wanted, "_meta": meta()}, id=id)
    return Exchange(app, body, modern_headers("subscriptions/listen"))


async def events(stream: Exchange, count: int) -> list[dict[str, Any]]:
    while len(stream.reply.events()) < count:
        await stream.chunk_seen.wait()
    return stream.reply.events()


async def test_uris_naming_nothing_the_app_serves_are_neither_acknowledged_nor_kept() -> None:
    """Every URI was accepted and echoed, a made-up one too (the flood's a://0000001): it is left out of
    the acknowledgement, and an update published for it does not reach the stream."""
    app = build_app()
    asked = ["a://0000001", "test://readme", "test://items/7", "test://nothing", "test://readme"]
    stream = listen(app, {"resourceSubscriptions": asked})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.run)
            ack = (await events(stream, 1))[0]
            server = mcp_of(app).server
            server.resource_updated("a://0000001")  # not kept: no update
            server.resource_updated("test://items/7")
            got = await events(stream, 2)
            stream.disconnect.set()
    assert ack["params"]["notifications"] == {"resourceSubscriptions": ["test://items/7", "test://readme"]}
    assert got[1]["params"]["uri"] == "test://items/7"


async def test_more_uris_than_a_stream_holds_is_32602_naming_the_limit() -> None:
    asked = [f"test://items/{i}" for i in range(MAX_LISTEN_URIS + 1)]
    stream = listen(build_app(), {"resourceSubscriptions": asked}, id="L1")
    with anyio.fail_after(GUARD):
        await stream.run()
    assert stream.reply.status == 400
    assert stream.reply.json() == {
        "jsonrpc": "2.0",
        "id": "L1",
        "error": {
            "code": -32602,
            "message": f"Invalid params: notifications.resourceSubscriptions names {MAX_LISTEN_URIS + 1} URIs, "
            f"more than one stream takes ({MAX_LISTEN_URIS}): open several streams",
        },
    }


async def test_as_many_uris_as_a_stream_holds_are_acknowledged() -> None:
    asked = [f"test://items/{i}" for i in range(MAX_LISTEN_URIS)]
    stream = listen(build_app(), {"resourceSubscriptions": asked})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.run)
            ack = (await events(stream, 1))[0]
            stream.disconnect.set()
    assert ack["params"]["notifications"]["resourceSubscriptions"] == sorted(asked)


async def test_a_stream_past_max_listen_streams_is_refused_until_one_closes() -> None:
    """Listen streams counted toward no limit (not max_concurrent_calls: they last, and are no route
    runs): some 40 of the flood's filled 1 GB. Past the option's limit: -32603 naming it, before
    anything is written; a stream that closes makes room."""
    app = build_app(max_listen_streams=1)
    first, second, third = (listen(app, {"toolsListChanged": True}, id=n) for n in ("a", "b", "c"))
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            await events(first, 1)
            listeners = mcp_of(app).server.listeners
            await second.run()
            first.disconnect.set()
        assert len(listeners) == 0
        async with anyio.create_task_group() as tg:
            tg.start_soon(third.run)
            await events(third, 1)
            third.disconnect.set()
    assert second.reply.status == 200  # (-32603 goes out as 200: _rpc_messages.error_status)
    assert second.reply.json() == {
        "jsonrpc": "2.0",
        "id": "b",
        "error": {
            "code": -32603,
            "message": "The server is busy: 1 subscriptions/listen streams are open on this endpoint "
            "(limit 1: max_listen_streams). Try again later.",
        },
    }
    assert third.reply.events()[0]["method"] == "notifications/subscriptions/acknowledged"


def test_max_listen_streams_defaults_to_1000_and_takes_none() -> None:
    assert MCPMiddleware(FastAPI()).settings.max_listen_streams == 1000
    assert MCPMiddleware(FastAPI(), max_listen_streams=None).settings.max_listen_streams is None
    assert MCPMiddleware(FastAPI(), max_listen_streams=2e3).settings.max_listen_streams == 2000


@pytest.mark.parametrize(
    ("value", "error", "text"),
    [
        (0, ValueError, "max_listen_streams must be at least 1 (or None for no limit), got 0"),
        ("8", TypeError, "max_listen_streams must be an integer (or None for no limit), got '8'"),
        (True, TypeError, "max_listen_streams must be an integer (or None for no limit), got True"),
    ],
)
def test_a_bad_max_listen_streams_is_refused(value: Any, error: type[Exception], text: str) -> None:
    with pytest.raises(error) as caught:
        MCPMiddleware(FastAPI(), max_listen_streams=value)
    assert str(caught.value) == text


SENTINEL = "test://unserved/sentinel-"


def _request_still_held() -> list[str]:
    """What of the listen request below is alive: its parsed URI list, and any bytes holding one of
    its URIs (its body, the envelope of its params), by what holds them (a coroutine's frame, the
    ``Call``): found among the referents of what the collector tracks, and of their tuples (bytes
    are not tracked, nor is a tuple of bytes and booleans, such as an envelope)."""
    gc.collect()
    held = []
    marker = SENTINEL.encode()  # (no closure below: a cell would hold it)
    for obj in gc.get_objects():
        if type(obj) is ModuleType:  # CPython < 3.12.5: the referents of _asyncio corrupt its freelist
            continue  # and a later collection loops for good (gh-122695); no module holds the request
        if type(obj) is list and obj and type(obj[0]) is str and obj[0].startswith(SENTINEL):
            held.append("the parsed resourceSubscriptions")
        for ref in gc.get_referents(obj):
            for value in ref if type(ref) is tuple else (ref,):
                if type(value) is bytes and value is not marker and marker in value:
                    held.append(f"bytes in a {type(obj).__name__}")
    return held


async def test_the_listen_request_is_not_kept_while_its_stream_is_open() -> None:
    """Only what the stream holds (its URIs the app serves, its kinds) outlives the acknowledgement:
    the parsed request (kept beside the set built from it) and its body were held as long as the
    stream stayed open, a 4 MB body some 6-7 times over."""
    stream = listen(build_app(), {"resourceSubscriptions": [f"{SENTINEL}{i}" for i in range(100)]})
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.run)
            ack = (await events(stream, 1))[0]
            held = _request_still_held()
            stream.disconnect.set()
    assert held == []
    assert ack["params"]["notifications"] == {"resourceSubscriptions": []}


async def test_a_stream_is_counted_before_its_acknowledgement_is_written() -> None:
    """Opened before the acknowledgement goes out (review rr5, M9): a stream whose client reads slowly
    holds its slot while its acknowledgement is written, so a second stream past the limit is refused,
    and an update published meanwhile follows the acknowledgement. Opened after it, the second stream
    was acknowledged (two open, limit 1) and the first lost the update."""
    app = build_app(max_listen_streams=1)
    wanted = {"resourceSubscriptions": ["test://readme"]}
    first, second = listen(app, wanted, id="A"), listen(app, wanted, id="B")
    first.body_gate = anyio.Event()  # the first stream's acknowledgement is not written until set
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            await first.started.wait()  # its acknowledgement is being written, and held
            server = mcp_of(app).server
            server.resource_updated("test://readme")
            tg.start_soon(second.run)
            while not second.reply.chunks:
                await second.chunk_seen.wait()
            second.disconnect.set()  # (an acknowledged one would stay open)
            first.body_gate.set()
            got = await events(first, 2)
            first.disconnect.set()
    assert second.reply.json()["error"]["code"] == -32603
    assert len(server.listeners) == 0
    assert [event["method"] for event in got] == [
        "notifications/subscriptions/acknowledged",
        "notifications/resources/updated",
    ]


def _cancelled(app: Any, stream: Exchange) -> Any:
    async def cancel_the_task(tg: Any) -> None:
        tg.cancel_scope.cancel()

    async def cancel_the_task_once_acknowledged(tg: Any) -> None:
        stream.body_gate.set()  # type: ignore[union-attr]
        await events(stream, 1)
        tg.cancel_scope.cancel()

    async def the_client_goes_away(tg: Any) -> None:
        stream.disconnect.set()
        stream.body_gate.set()  # type: ignore[union-attr]

    async def the_server_ends_streams(tg: Any) -> None:
        mcp_of(app).server.listeners.end_all()
        stream.body_gate.set()  # type: ignore[union-attr]

    return cancel_the_task, cancel_the_task_once_acknowledged, the_client_goes_away, the_server_ends_streams


@pytest.mark.parametrize(
    "how",
    [0, 1, 2, 3],
    ids=["task cancelled", "task cancelled once acknowledged", "client disconnects", "server ends streams"],
)
async def test_a_stream_ended_while_its_acknowledgement_is_written_frees_its_slot(how: int) -> None:
    """The slot is released however the stream ends (review rr5, M10: closed on the normal path only,
    a cancelled stream kept its slot, and with max_listen_streams=1 no stream was acknowledged again)."""
    app = build_app(max_listen_streams=1)
    first, then = listen(app, {"toolsListChanged": True}, id="A"), listen(app, {"toolsListChanged": True}, id="B")
    first.body_gate = anyio.Event()
    end = _cancelled(app, first)[how]
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            await first.started.wait()  # open, its acknowledgement held
            assert len(mcp_of(app).server.listeners) == 1
            await end(tg)
        assert len(mcp_of(app).server.listeners) == 0
        async with anyio.create_task_group() as tg:
            tg.start_soon(then.run)
            ack = (await events(then, 1))[0]
            then.disconnect.set()
    assert ack["method"] == "notifications/subscriptions/acknowledged"


async def test_a_resource_added_at_run_time_is_subscribed_to_by_a_stream_opened_after_it() -> None:
    """review rr5 item 3: with no list request in between and no other stream open (whose tick would
    have noticed it), the route table was not walked again, so the new resource's URI was left out of
    the acknowledgement (README said it was subscribed to). A stream naming URIs walks it once."""
    app = build_app()
    with anyio.fail_after(GUARD):
        first = listen(app, {"resourceSubscriptions": ["test://readme"]}, id="w")
        async with anyio.create_task_group() as tg:
            tg.start_soon(first.run)
            await events(first, 1)
            first.disconnect.set()

        @app.get("/docs/late", openapi_extra=declare.resource("test://late", mime_type="text/plain"))
        async def late() -> Response:
            return Response("late", media_type="text/plain")

        stream = listen(app, {"resourceSubscriptions": ["test://late"]}, id="a")
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream.run)
            ack = (await events(stream, 1))[0]
            assert ack["params"]["notifications"] == {"resourceSubscriptions": ["test://late"]}
            mcp_of(app).server.resource_updated("test://late")
            got = await events(stream, 2)
            stream.disconnect.set()
    assert got[1]["params"]["uri"] == "test://late"


async def test_max_listen_streams_counts_the_streams_of_one_middleware() -> None:
    """Per MCPMiddleware instance, not per process (review rr5 item 4: the README and the error said
    "in this process"): two middlewares in one process each take max_listen_streams streams."""
    apps = build_app(max_listen_streams=1), build_app(max_listen_streams=1)
    streams = [listen(app, {"toolsListChanged": True}, id=str(n)) for n, app in enumerate(apps)]
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            for stream in streams:
                tg.start_soon(stream.run)
            acks = [(await events(stream, 1))[0] for stream in streams]
            for stream in streams:
                stream.disconnect.set()
    assert [ack["method"] for ack in acks] == ["notifications/subscriptions/acknowledged"] * 2
