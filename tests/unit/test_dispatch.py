"""dispatch: the in-process sub-request, including apps that break the ASGI contract."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import anyio
import pytest
from starlette.types import Message, Receive, Scope, Send

from mcp_middleware.dispatch import AppMisbehaved, SubExchange, SubRequest

pytestmark = pytest.mark.anyio

PARENT: Scope = {
    "type": "http",
    "root_path": "/api",
    "scheme": "https",
    "server": ("example.org", 443),
    "client": ("10.0.0.1", 1234),
    "app": "the-app",
    "state": {"db": 1},
}


class Recorder(SubExchange):
    """Records the head and every body chunk; being a SubExchange, it is also the disconnect signal."""

    def __init__(self) -> None:
        super().__init__()
        self.head: tuple[int, tuple[tuple[bytes, bytes], ...]] | None = None
        self.body: list[tuple[bytes, bool]] = []

    def on_head(self, status: int, headers: Sequence[Sequence[bytes]]) -> None:
        self.head = status, tuple((bytes(name), bytes(value)) for name, value in headers)

    async def on_body(self, chunk: bytes, more: bool) -> None:
        self.body.append((chunk, more))


async def run(app: Any, sub: SubRequest | None = None, rec: Recorder | None = None) -> Recorder:
    rec = rec or Recorder()
    await rec.exchange(app, PARENT, sub or SubRequest("GET", "/x"), {})
    return rec


async def test_child_scope_is_built_field_by_field() -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope)
        seen["body"] = await receive()
        await send({"type": "http.response.start", "status": 201, "headers": [(b"X-A", b"1")]})
        await send({"type": "http.response.body", "body": b"ok"})

    sub = SubRequest("POST", "/items/a%2Fb%20c", b"q=1&q=2", ((b"authorization", b"Bearer t"),), b"{}")
    rec = await run(app, sub)
    assert seen["path"] == "/api/items/a/b c"
    assert seen["raw_path"] == b"/api/items/a%2Fb%20c"
    assert seen["root_path"] == "/api"
    assert seen["query_string"] == b"q=1&q=2"
    assert seen["headers"] == [(b"authorization", b"Bearer t")]
    assert seen["method"] == "POST"
    assert seen["scheme"] == "https"
    assert seen["app"] == "the-app"
    assert seen["state"] == {"db": 1}
    assert seen["body"] == {"type": "http.request", "body": b"{}", "more_body": False}
    assert rec.head == (201, ((b"X-A", b"1"),))  # as sent, names in the app's case
    assert rec.body == [(b"ok", False)]


async def _child_of(parent: Scope) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope)
        await send({"type": "http.response.start", "status": 204})

    await Recorder().exchange(app, parent, SubRequest("GET", "/x"), {}, b"h")
    return seen


SERVER_PARENT: Scope = {
    "type": "http",
    "http_version": "2",
    "scheme": "https",
    "client": ("10.0.0.1", 1234),
    "server": ("example.org", 443),
    "root_path": "",
    "state": {"db": 1},
    "app": "the-app",
    "path": "/mcp",
    "user": "outer",
}


@pytest.mark.parametrize("missing", [None, "http_version", "scheme", "client", "server", "root_path", "state", "app"])
async def test_the_parent_fields_are_taken_from_a_full_scope_and_defaulted_in_others(missing: str | None) -> None:
    # a parent with them all is read in one step (_PARENT_FIELDS), one without any of them field by
    # field with ASGI's defaults (_given)
    parent = {key: value for key, value in SERVER_PARENT.items() if key != missing}
    seen = await _child_of(parent)
    defaults: dict[str, Any] = {"http_version": "1.1", "scheme": "http", "client": None, "server": None}
    expected = {key: SERVER_PARENT[key] if key != missing else defaults[key] for key in defaults}
    assert {key: seen[key] for key in defaults} == expected
    assert (seen["root_path"], seen["path"], seen["headers"]) == ("", "/x", [(b"host", b"h")])
    assert seen["state"] == ({} if missing == "state" else {"db": 1})
    assert seen["state"] is not parent.get("state")  # the route's own: what it stores stays in its request
    assert seen.get("app", "none") == ("none" if missing == "app" else "the-app")
    assert "user" in seen  # what outer middlewares learned of this client: see the next test


@pytest.mark.parametrize("key", ["session", "user", "auth"])
async def test_the_parent_session_user_and_auth_reach_the_child_as_the_same_objects(key: str) -> None:
    # set by outer middlewares (SessionMiddleware, AuthenticationMiddleware) for the client the call
    # is for; the same object, so a route's session write reaches the outer middleware's cookie
    value = {"n": 1}
    parent = {name: given for name, given in SERVER_PARENT.items() if name != "user"}
    seen = await _child_of({**parent, key: value})
    assert seen[key] is value
    assert {"session", "user", "auth"} & seen.keys() == {key}  # the others only when the parent has them
    del parent["app"]  # the field-by-field path (_given) as well
    assert (await _child_of({**parent, key: value}))[key] is value


async def test_a_parent_without_session_user_or_auth_gives_the_child_none_of_them() -> None:
    seen = await _child_of({key: value for key, value in SERVER_PARENT.items() if key != "user"})
    assert not {"session", "user", "auth"} & seen.keys()
    seen = await _child_of({key: value for key, value in SERVER_PARENT.items() if key not in ("user", "app")})
    assert not {"session", "user", "auth"} & seen.keys()  # the field-by-field path as well


@pytest.mark.parametrize("state", [None, {}])
async def test_a_parent_without_state_gives_the_child_an_empty_dict_of_its_own(state: Any) -> None:
    seen = await _child_of({**SERVER_PARENT, "state": state})
    assert seen["state"] == {}
    assert seen["state"] is not state


async def test_receive_after_the_body_waits_for_the_response_to_complete() -> None:
    order: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        async with anyio.create_task_group() as tg:

            async def listen() -> None:
                message = await receive()
                order.append(f"receive:{message['type']}")

            tg.start_soon(listen)
            await anyio.wait_all_tasks_blocked()
            order.append("sending")
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            await send({"type": "http.response.body", "body": b"b", "more_body": False})

    rec = await run(app)
    assert order == ["sending", "receive:http.disconnect"]
    assert rec.body == [(b"a", True), (b"b", False)]


async def test_disconnect_wakes_a_listening_app() -> None:
    disconnect = Recorder()
    got: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        disconnect.set()
        got.append(await receive())

    rec = await run(app, rec=disconnect)
    assert got == [{"type": "http.disconnect"}]
    assert rec.body[-1] == (b"", False)  # the response is completed for the app that stopped


async def test_returning_without_a_response_is_reported() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        return None

    with pytest.raises(AppMisbehaved, match="without sending a response"):
        await run(app)


async def test_body_before_start_is_reported() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.body", "body": b"x"})

    with pytest.raises(AppMisbehaved, match="before"):
        await run(app)


async def test_start_twice_is_reported() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.start", "status": 200})

    with pytest.raises(AppMisbehaved, match="twice"):
        await run(app)


async def test_writes_after_the_end_are_dropped() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"done"})
        await send({"type": "http.response.body", "body": b"late"})

    rec = await run(app)
    assert rec.body == [(b"done", False)]


class SyncRecorder(Recorder):
    """A consumer with nothing to wait for: ``on_body`` returns None (as a tool call's does for
    a plain JSON body)."""

    def on_body(self, chunk: bytes, more: bool) -> None:  # type: ignore[override]
        self.body.append((chunk, more))


@pytest.mark.parametrize("recorder", [Recorder, SyncRecorder])
async def test_unfinished_body_is_closed_for_the_consumer(recorder: type[Recorder]) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})

    rec = await run(app, rec=recorder())
    assert rec.body == [(b"part", True), (b"", False)]
    assert rec.is_set  # the response is complete: a receive now answers http.disconnect


async def test_other_message_types_are_ignored() -> None:
    """Trailers, pathsend and zero-copy send are extensions the child scope does not offer: an app
    that sends one anyway has it ignored, and its response stands."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["extensions"] == {}
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.pathsend", "path": "/etc/hostname"})
        await send({"type": "http.response.body", "body": b"ok"})
        await send({"type": "http.response.trailers", "headers": [], "more_trailers": False})

    rec = await run(app)
    assert rec.head == (200, ())
    assert rec.body == [(b"ok", False)]


async def test_exceptions_propagate_to_the_caller() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        raise ValueError("after start")

    with pytest.raises(ValueError, match="after start"):
        await run(app)


async def paths_seen(parent: Scope, sub_path: str) -> tuple[str, bytes, str]:
    seen: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.update(scope)
        await send({"type": "http.response.start", "status": 204})
        await send({"type": "http.response.body"})

    await Recorder().exchange(app, parent, SubRequest("GET", sub_path), {})
    return seen["path"], seen["raw_path"], seen["root_path"]


@pytest.mark.parametrize(
    ("root_path", "parent_raw", "path", "raw_path"),
    [
        ("", None, "/items/a b", b"/items/a%20b"),
        ("/api", b"/api/mcp", "/api/items/a b", b"/api/items/a%20b"),
        # a non-ASCII mount point: the raw prefix is the client's own, or quoted when unknown
        ("/café", b"/caf%c3%a9/mcp", "/café/items/a b", b"/caf%c3%a9/items/a%20b"),
        ("/café", None, "/café/items/a b", b"/caf%C3%A9/items/a%20b"),
        ("/café", b"/elsewhere/mcp", "/café/items/a b", b"/caf%C3%A9/items/a%20b"),
        # a root holding a literal "%" (sent as %25) is not decoded a second time
        ("/100%25", b"/100%2525/mcp", "/100%25/items/a b", b"/100%2525/items/a%20b"),
        ("/a b", None, "/a b/items/a b", b"/a%20b/items/a%20b"),
    ],
)
async def test_the_root_path_is_decoded_text_and_raw_path_its_encoded_form(
    root_path: str, parent_raw: bytes | None, path: str, raw_path: bytes
) -> None:
    parent: dict[str, Any] = {"type": "http", "root_path": root_path}
    if parent_raw is not None:
        parent["raw_path"] = parent_raw
    assert await paths_seen(parent, "/items/a%20b") == (path, raw_path, root_path)


class SlowLastWrite(Recorder):
    """A consumer whose handling of the last body message takes a while (a tool call's result,
    written from there to a client whose ``send`` yields): it records whether the disconnect was
    already signalled then, and lets the app try to write meanwhile."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__()
        self.fail = fail
        self.signalled_during: list[bool] = []
        self.writing = anyio.Event()
        self.written = anyio.Event()

    async def on_body(self, chunk: bytes, more: bool) -> None:
        self.body.append((chunk, more))
        if not more:
            self.writing.set()
            self.signalled_during.append(self.is_set)
            await self.written.wait()
            self.signalled_during.append(self.is_set)
            if self.fail:
                raise OSError("the client's send failed")


@pytest.mark.parametrize("fail", [False, True])
async def test_the_disconnect_is_signalled_once_the_last_body_message_is_handled(fail: bool) -> None:
    """A streaming response listens for the disconnect beside its stream and cancels the stream's
    task when it comes, its last send included: signalled before that send is handled, the
    handling (the call's result) was cut off as soon as it yielded. A write the app makes
    meanwhile (an SSE ping) is late, and dropped."""
    rec = SlowLastWrite(fail)
    heard: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

        async def listen() -> None:
            heard.append((await receive())["type"])

        async def ping() -> None:
            await rec.writing.wait()
            await send({"type": "http.response.body", "body": b": ping", "more_body": True})
            heard.append("ping dropped")
            rec.written.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(listen)
            tg.start_soon(ping)
            await send({"type": "http.response.start", "status": 200})
            await send({"type": "http.response.body", "body": b"a", "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    if fail:
        with pytest.RaisesGroup(pytest.RaisesExc(OSError, match="send failed")):
            await run(app, rec=rec)
    else:
        await run(app, rec=rec)
        assert heard == ["ping dropped", "http.disconnect"]
    assert rec.signalled_during == [False, False]
    assert rec.is_set  # signalled after, whether the handling succeeded or failed
    assert rec.body == [(b"a", True), (b"", False)]


async def test_a_status_and_bodies_of_other_types_reach_the_hooks_as_int_and_bytes() -> None:
    """The usual int status and bytes bodies are handed on as they are; an int subclass (an
    ``HTTPStatus``), a bytearray or a memoryview body (what an app may send where ASGI says bytes)
    is converted, as before the exact types were let through without ``int()``/``bytes()``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": HTTPStatus.CREATED, "headers": []})
        await send({"type": "http.response.body", "body": bytearray(b"ab"), "more_body": True})
        await send({"type": "http.response.body", "body": memoryview(b"cd")})

    rec = await run(app)
    assert rec.head is not None
    assert rec.head[0] == 201
    assert type(rec.head[0]) is int
    assert rec.body == [(b"ab", True), (b"cd", False)]
    assert [type(chunk) for chunk, _ in rec.body] == [bytes, bytes]

    same = b"exactly this object"

    async def plain(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": same})

    rec = await run(plain)
    assert rec.body[0][0] is same
