"""Values nested deeper than orjson writes (254 containers): a client's arguments echoed in a
route's 422, a route's result. orjson reads 1,024 levels but writes 254, so a value it read can
still be one it refuses to write; such a value is the client's doing, never the middleware's
failure (review s10c).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import logging
import uuid
from typing import Annotated, Any

import orjson
import pytest
from fastapi import Body, FastAPI
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware.jsonrpc import Built, NestedTooDeep, Request, dumps_again, dumps_exactly
from mcp_middleware.results import ResponseCollector
from mcp_middleware.transport._http import encode_reply
from tests.support import BASE_HEADERS, MODERN, Reply, modern_headers, modern_request, post, request

pytestmark = pytest.mark.anyio

ERAS = ["2025-03-26", "2025-06-18", "2025-11-25"]


def _nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


class Item(BaseModel):
    name: str
    tags: list[str]


def _app() -> FastAPI:
    app = FastAPI()
    items: list[str] = []

    @app.post("/items", operation_id="create_item")
    async def create_item(item: Item) -> dict[str, Any]:
        items.append(item.name)
        return {"name": item.name}

    @app.get("/items", operation_id="list_items")
    async def list_items() -> list[str]:
        return items

    app.add_middleware(MCPMiddleware)
    return app


def _call(name: str, arguments: dict[str, Any], id: int = 1) -> dict[str, Any]:
    return request("tools/call", {"name": name, "arguments": arguments}, id=id)


def _body(message: Any) -> bytes:
    """A message as the client writes it (the standard encoder: too deep for orjson's)."""
    return json.dumps(message).encode()


@pytest.mark.parametrize("era", ERAS)
async def test_a_422_echoing_arguments_too_deep_for_orjson_is_the_usual_tool_error(
    era: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Review: arguments nested 253 deep made FastAPI's 422 echo them 255 deep; re-encoding its
    ``detail`` raised orjson's TypeError out of the middleware (a plain-text 500, a traceback)."""
    headers = {**BASE_HEADERS, "mcp-protocol-version": era}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await post(_app(), _body(_call("create_item", {"name": "x", "tags": _nested(253)})), headers)
    assert reply.status == 200
    result = reply.result()
    assert result["isError"] is True
    text = result["content"][0]["text"]
    assert text.startswith("HTTP 422")
    assert '"detail"' in text  # the route's body as it came, orjson could not write its detail again
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_batch_keeps_its_other_calls_when_one_gets_a_deep_422() -> None:
    """Review: in a 2025-03-26 batch the failure lost the other calls' results, and the calls after
    it never ran."""
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"}
    batch = [
        _call("list_items", {}, id=1),
        _call("create_item", {"name": "x", "tags": _nested(253)}, id=2),
        _call("create_item", {"name": "kept", "tags": []}, id=3),
    ]
    app = _app()
    reply = await post(app, _body(batch), headers)
    assert reply.status == 200
    by_id = {message["id"]: message for message in reply.messages()}
    assert by_id.keys() == {1, 2, 3}
    assert by_id[2]["result"]["isError"] is True
    assert by_id[3]["result"].get("isError") is not True
    listed = await post(app, _call("list_items", {}, id=4), headers)
    assert orjson.loads(listed.result()["content"][0]["text"]) == ["kept"]


def _failing_app() -> FastAPI:
    """Routes whose result the middleware fails to build (``ResponseCollector.text`` patched to
    raise for /boom paths): the middleware's own bug, not the route's nor the client's."""
    app = FastAPI()

    @app.get("/ok", operation_id="ok")
    async def ok() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/boom", operation_id="boom")
    async def boom() -> dict[str, Any]:
        return {"ok": True}

    @app.get("/boom/doc", openapi_extra=declare.resource("test://boom"))
    async def boom_doc() -> str:
        return "hello"

    app.add_middleware(MCPMiddleware)
    return app


@pytest.fixture
def _result_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    real = ResponseCollector.text

    def text(self: ResponseCollector) -> str:
        if self._path.startswith("/boom"):
            raise RuntimeError("a bug in building the result")
        return real(self)

    monkeypatch.setattr(ResponseCollector, "text", text)


@pytest.mark.usefixtures("_result_bug")
async def test_a_failure_building_one_result_is_that_calls_error_alone(caplog: pytest.LogCaptureFixture) -> None:
    """Review: an exception from building a call's result (the middleware's bug) escaped the
    middleware: a plain-text 500, and a 2025-03-26 batch lost its other calls' results. It is the
    call's ``isError`` result (the route ran), logged once at ERROR with its traceback; a resource
    read's is its -32603 error."""
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"}
    batch = [
        _call("ok", {}, id=1),
        _call("boom", {}, id=2),
        request("resources/read", {"uri": "test://boom"}, id=3),
        _call("ok", {}, id=4),
    ]
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await post(_failing_app(), _body(batch), headers)
    assert reply.status == 200
    by_id = {message["id"]: message for message in reply.messages()}
    assert by_id.keys() == {1, 2, 3, 4}
    assert by_id[1]["result"] == by_id[4]["result"]
    assert by_id[1]["result"].get("isError") is not True
    failed = by_id[2]["result"]
    assert failed["isError"] is True
    assert "internal error" in failed["content"][0]["text"]
    assert by_id[3]["error"]["code"] == -32603
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.exc_info is not None and str(r.exc_info[1]) for r in errors] == ["a bug in building the result"] * 2


@pytest.mark.usefixtures("_result_bug")
@pytest.mark.parametrize("modern", [False, True])
async def test_a_failure_serving_a_lone_request_is_its_answer(modern: bool, caplog: pytest.LogCaptureFixture) -> None:
    """The same for a request of its own: its answer, not an exception out of the middleware."""
    app = _failing_app()

    async def send(method: str, params: dict[str, Any], name: str) -> Reply:
        if modern:
            return await post(app, modern_request(method, params), modern_headers(method, name))
        return await post(app, request(method, params), {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"})

    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        called = await send("tools/call", {"name": "boom", "arguments": {}}, "boom")
        read = await send("resources/read", {"uri": "test://boom"}, "test://boom")
    assert called.status == 200
    assert called.result()["isError"] is True
    assert "internal error" in called.result()["content"][0]["text"]
    assert read.error()["error"]["code"] == -32603
    assert len([r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]) == 2


def _echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo", operation_id="echo")
    async def echo(v: Annotated[Any, Body(embed=True)]) -> dict[str, Any]:
        return {"v": v}

    app.add_middleware(MCPMiddleware)
    return app


@pytest.mark.parametrize("version", ["2025-06-18", "2025-11-25", MODERN])
async def test_a_result_deeper_than_orjson_writes_goes_out(version: str, caplog: pytest.LogCaptureFixture) -> None:
    """Review: a route's result nested 252 deep (255 in its reply) was logged at ERROR as not
    fitting the schema, and the client told it could not be encoded, although the route ran. The
    one retry after orjson's TypeError (``jsonrpc.dumps_again``) writes it."""
    value = _nested(252)
    params = {"name": "echo", "arguments": {"v": value}}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        if version == MODERN:
            reply = await post(
                _echo_app(), _body(modern_request("tools/call", params)), modern_headers("tools/call", "echo")
            )
        else:
            headers = {**BASE_HEADERS, "mcp-protocol-version": version}
            reply = await post(_echo_app(), _body(request("tools/call", params)), headers)
    assert reply.status == 200
    result = json.loads(reply.body)["result"]  # (too deep for orjson to read back whole? it reads 1,024)
    assert result.get("isError") is not True
    assert result["structuredContent"] == {"v": value}
    assert json.loads(result["content"][0]["text"]) == {"v": value}
    assert caplog.records == []


def test_the_retry_writes_what_orjson_would_have_written() -> None:
    """The retry's output conventions are orjson's: compact, UTF-8 (no escapes), an exact integer
    beyond 64 bits (and a route's ``Fragment`` of one) as its digits."""
    message = {"a": [1, 2.5, "é ✓", None, True], "big": 2**100, "f": orjson.Fragment(b"123456789012345678901234567890")}
    expected = orjson.dumps({**message, "big": orjson.Fragment(str(2**100).encode())})
    with pytest.raises(TypeError) as refused:
        orjson.dumps(message)
    assert dumps_again(message, refused.value) == expected
    deep = {"d": _nested(254), **message}
    written = dumps_exactly(deep)
    assert written.startswith(b'{"d":{"a":{"a":')
    assert written.endswith(expected[1:])
    assert json.loads(written)["d"] == _nested(254)


def test_a_value_too_deep_for_either_encoder_is_a_warning_saying_why(caplog: pytest.LogCaptureFixture) -> None:
    """What the standard encoder cannot write either (a Python value nested 100,000 deep) is the
    tool's error saying why, and a WARNING without traceback: not a result that misfits the schema."""
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    call = Request(id=1, method="tools/call", params={"name": "deep"})
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = orjson.loads(encode_reply(call, "2025-06-18", Built(content=[], structuredContent={"v": deep}), _same))
    assert reply["result"]["isError"] is True
    assert "nested too deep" in reply["result"]["content"][0]["text"]
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.exc_info is None
    assert "nested too deep" in record.getMessage()


def _same(method: str, result: dict[str, Any]) -> dict[str, Any]:
    return result


def test_nothing_deeper_than_orjson_reads_is_written() -> None:
    """Review (the fuzz's deep results): a route's result 1,022 deep went out 1,026 deep, which
    orjson, and the middleware itself, cannot read: past 1,024 levels it is the encoding error."""
    with pytest.raises(NestedTooDeep):
        dumps_exactly({"v": _nested(1_024)})  # 1,025 containers with the message's
    assert dumps_exactly({"v": _nested(600)}).count(b"{") == 601


class _Kind(enum.Enum):
    A = "a"


@dataclasses.dataclass
class _Point:
    x: float = 1e16


_LEAVES: dict[str, Any] = {
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": float("-inf"),
    "1e-7": 1e-7,
    "1e16": 1e16,
    "int key": {1: "x"},
    "bool key": {True: 1},
    "None key": {None: 1},
    "str key after an int key": {1: 1, "a": 2},
    "datetime": datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC),
    "uuid": uuid.UUID(int=5),
    "enum": _Kind.A,
    "dataclass": _Point(),
    "text": '\u2028\x7f\u00e9"\\\n',
    "tuple": (1, 2),
    "big integer": 2**100,
    "bytes": b"x",
    "set": {1},
    "model": Item(name="n", tags=[]),
}


def _outcome(value: Any) -> bytes | str:
    try:
        return dumps_exactly(value)
    except TypeError as exc:
        return f"{type(exc).__name__}: {exc}"


def _in_lists(value: Any, levels: int) -> Any:
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("leaf", list(_LEAVES))
def test_the_deep_part_is_written_as_orjson_writes_the_shallow_one(leaf: str) -> None:
    """Review s10c2: below orjson's 254 containers the standard encoder wrote the deep part in its
    own conventions: NaN and infinities raised ValueError (orjson writes null), a non-str key was
    written as a string (orjson raises TypeError, which ``ctx.log``'s ``check_log_data`` and the
    guard catch), 1e-07 for 1e-7. The same value deep and shallow is written alike, or refused
    alike."""
    value = _LEAVES[leaf]
    shallow = _outcome({"v": _in_lists(value, 3)})
    deep = _outcome({"v": _in_lists(value, 300)})
    if isinstance(shallow, str):
        assert deep == shallow.replace("JSONEncodeError", "TypeError")
    else:
        assert deep == shallow.replace(b"[" * 3, b"[" * 300).replace(b"]" * 3, b"]" * 300)


def _from_deep_in_the_stack(frames: int, message: Any) -> bytes | str:
    """``dumps_exactly(message)`` called ``frames`` Python frames deep (a caller's deep stack)."""
    if frames:
        return _from_deep_in_the_stack(frames - 1, message)
    return _outcome(message)


@pytest.mark.parametrize("frames", [0, 250, 500])
def test_the_depth_cap_is_the_same_whatever_the_callers_stack(frames: int) -> None:
    """Review s10c2: on Python 3.11 the standard encoder's recursion counter counts the caller's
    Python frames too, so a value 600 to 800 levels deep went out or was refused depending on the
    stack it was written from. The deep part is written without recursion: exactly 1,024 levels
    (what orjson, and the middleware, reads) go out, and 1,025 are NestedTooDeep, from any stack."""
    at_cap = _from_deep_in_the_stack(frames, {"v": _in_lists([], 1_022)})  # 1,024 with the message's
    assert at_cap == b'{"v":' + b"[" * 1_023 + b"]" * 1_023 + b"}"
    orjson.loads(at_cap)  # which a reader like orjson reads
    beyond = _from_deep_in_the_stack(frames, {"v": _in_lists([], 1_023)})
    assert beyond == "NestedTooDeep: nested more than 1024 levels deep"
