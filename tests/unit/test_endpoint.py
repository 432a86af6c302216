"""HTTP framing of the endpoint: what is refused, with which status, and what passes through."""

from __future__ import annotations

import inspect
import json
import logging
from decimal import Decimal
from fractions import Fraction
from typing import Any

import orjson
import pytest
from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from mcp_middleware import MCPMiddleware
from mcp_middleware._once import Remembered
from mcp_middleware.catalog import build_catalog, catalog_from_app
from mcp_middleware.features import Features
from mcp_middleware.transport._http import declared_too_large
from tests.apps import build_app
from tests.support import BASE_HEADERS, Exchange, asgi_scope, meta, modern_headers, post, request

pytestmark = pytest.mark.anyio

INIT = request(
    "initialize",
    {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
)


@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
async def test_non_post_methods_get_405_with_allow(method: str) -> None:
    reply = await post(build_app(), b"", method=method)
    assert reply.status == 405
    assert reply.headers["allow"] == "POST"


@pytest.mark.parametrize("method", ["GET", "DELETE", "OPTIONS"])
async def test_a_refused_host_or_origin_is_403_before_the_method_check(method: str) -> None:
    """Review: the endpoint answered a GET for any Host 405 (the method check came first), while
    the OAuth metadata refuses a Host before its method check. Both guard against DNS rebinding
    first (transports.mdx: Origin is validated on all incoming connections): a refused Host or
    Origin is 403 whatever the method, and only a request the guard lets in learns the endpoint
    takes POST (VS Code reads that 405, with its Host and Origin, which pass)."""
    app = build_app(allowed_hosts=["api.example.com"])
    for headers in ({"host": "attacker.example"}, {"host": "api.example.com", "origin": "http://attacker.example"}):
        refused = await post(app, b"", headers, method=method)
        assert refused.status == 403, headers
        assert "allow" not in refused.headers
        assert refused.json()["error"]["message"].startswith("Forbidden:")
        assert refused.body == (await post(app, INIT, {**BASE_HEADERS, **headers})).body
    for headers in ({"host": "api.example.com:8000"}, {"host": "api.example.com", "origin": "http://api.example.com"}):
        allowed = await post(app, b"", headers, method=method)
        assert allowed.status == 405, headers
        assert allowed.headers["allow"] == "POST"
    assert (await post(build_app(), b"", {}, method=method)).status == 405  # no Host, no Origin: nothing to refuse


@pytest.mark.parametrize("path", ["/mcp", "/mcp/"])
async def test_both_paths_answer_without_redirect(path: str) -> None:
    reply = await post(build_app(), INIT, path=path)
    assert reply.status == 200
    assert reply.result()["protocolVersion"] == "2025-06-18"


async def test_malformed_json_is_parse_error_with_null_id() -> None:
    reply = await post(build_app(), b'{"jsonrpc": "2.0", "id": 1, "method": ')
    assert reply.status == 400
    body = reply.json()
    assert body["error"]["code"] == -32700
    assert body["id"] is None


def refused_argument(answer: dict[str, Any]) -> str:
    """The text of a tool's error result refusing an argument that holds an integer beyond 64 bits."""
    result = answer["result"]
    assert result["isError"] is True
    assert "structuredContent" not in result
    text: str = result["content"][0]["text"]
    assert text.endswith("which would lose its precision; send it as a string")
    return text


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_an_integer_beyond_64_bits_in_the_arguments_is_a_tool_error_not_rounded(era: str) -> None:
    """Regression: orjson reads such an integer as a float, so a tool argument of
    123456789012345678901234567890 reached the route as 1.2345678901234568e+29. It was then refused
    with -32602; an input error is a tool execution error (2025-11-25 server/tools, Error Handling:
    SEP-1303), so it is an ``isError`` result with a text the model can act on, and the route does
    not run; a long number in a string is fine."""
    app = build_app()

    def tool_call(arguments: bytes) -> tuple[bytes, dict[str, str]]:
        if era == "modern":
            meta = b',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
            meta += b'"io.modelcontextprotocol/clientCapabilities":{}}'
            headers = modern_headers("tools/call", "get_thing")
        else:
            meta, headers = b"", {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}  # structuredContent
        body = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_thing","arguments":'
        return body + arguments + meta + b"}}", headers

    reply = await post(app, *tool_call(b'{"thing_id":123456789012345678901234567890}'))
    assert reply.status == 200
    assert reply.json()["id"] == 7
    assert refused_argument(reply.json()) == (
        "Invalid arguments for tool 'get_thing': argument 'thing_id' holds an integer beyond 64 bits "
        "(about 1.23457e+29), which would lose its precision; send it as a string"
    )
    nested = await post(app, *tool_call(b'{"thing_id":1,"q":{"deep":[123456789012345678901234567890]}}'))
    assert "argument 'q' holds an integer beyond 64 bits (about 1.23457e+29)" in refused_argument(nested.json())
    fine = await post(app, *tool_call(b'{"thing_id":9223372036854775807,"q":"12345678901234567890123"}'))
    assert fine.status == 200
    assert fine.result()["structuredContent"]["q"] == "12345678901234567890123"


async def test_the_refusal_names_the_integer_not_a_float_literal_beside_it() -> None:
    """Review: the text named the first large float of orjson's reading, which may be a float the
    client wrote as one ("about 1e+30" here)."""
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_thing","arguments":'
    reply = await post(build_app(), body + b'{"f":1e30,"n":123456789012345678901234567890}}}')
    assert "argument 'n' holds an integer beyond 64 bits (about 1.23457e+29)" in refused_argument(reply.json())
    reply = await post(build_app(), body + b'{"f":1e30},"_meta":{"progressToken":123456789012345678901234567890}}}')
    assert reply.json()["error"]["code"] == -32602
    assert "(about 1.23457e+29)" in reply.json()["error"]["message"]


@pytest.mark.parametrize(
    "params",
    [
        # a tools/call's other params (its progress token), or the arguments and another param
        b'{"name":"get_thing","arguments":{"thing_id":1},"_meta":{"progressToken":123456789012345678901234567890}}',
        b'{"name":"get_thing","arguments":{"thing_id":123456789012345678901234567890},"_meta":{"x":'
        b"123456789012345678901234567890}}",
        b'{"name":"get_thing","arguments":[123456789012345678901234567890]}',  # arguments no object
        b'{"name":"greet","arguments":{"who":123456789012345678901234567890}}',  # not a tools/call: below
    ],
)
async def test_an_integer_beyond_64_bits_outside_a_tool_calls_arguments_is_refused_with_32602(params: bytes) -> None:
    method = b"prompts/get" if b"greet" in params else b"tools/call"
    body = b'{"jsonrpc":"2.0","id":3,"method":"' + method + b'","params":' + params + b"}"
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"})
    error = reply.json()
    assert (error["id"], error["error"]["code"]) == (3, -32602)
    assert error["error"]["message"] == (
        "Invalid params: an integer beyond 64 bits (about 1.23457e+29) would lose its precision; send it as a string"
    )


async def test_a_tools_call_notification_with_an_integer_beyond_64_bits_in_its_arguments_is_32602_unrun() -> None:
    """A request's tool refuses such an argument with an isError result; a notification (no id)
    has no result to carry one, so it stays refused whole, and its route never runs."""
    ran: list[float] = []
    app = FastAPI()

    @app.post("/charge", operation_id="charge")
    async def charge(n: float) -> dict[str, float]:
        ran.append(n)
        return {"n": n}

    app.add_middleware(MCPMiddleware)
    body = b'{"jsonrpc":"2.0","method":"tools/call","params":{"name":"charge","arguments":{"n":'
    reply = await post(
        app, body + b"123456789012345678901234567890}}}", {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}
    )
    assert reply.status == 400
    assert reply.json()["error"] == {
        "code": -32602,
        "message": "Invalid params: an integer beyond 64 bits (about 1.23457e+29) would lose its precision; "
        "send it as a string",
    }
    assert ran == []


async def test_integers_beyond_64_bits_in_a_batch_are_refused_for_their_own_message_only() -> None:
    body = (
        b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"},'
        b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_thing","arguments":{"thing_id":'
        b"123456789012345678901234567890}}},"
        b'{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"tools/list"}]'
    )
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"})
    assert reply.status == 200
    answers = {answer["id"]: answer for answer in reply.json()}
    assert "tools" in answers[1]["result"]
    assert "argument 'thing_id'" in refused_argument(answers[2])
    assert answers[None]["error"]["code"] == -32600  # the id itself: not an id a reply can carry


async def test_a_big_integer_a_duplicate_key_overwrote_is_not_refused() -> None:
    """Review: both parsers keep the last of duplicate keys, yet the request was refused ("the
    integer None is beyond 64 bits")."""
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_thing","arguments":'
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}  # with structuredContent
    reply = await post(build_app(), body + b'{"thing_id":123456789012345678901234567890,"thing_id":5}}}', headers)
    assert reply.status == 200
    assert reply.result()["structuredContent"]["id"] == 5


async def test_a_big_integer_as_the_method_is_an_invalid_request() -> None:
    """Review: the integer kept as its digits passed the method's string check."""
    reply = await post(build_app(), b'{"jsonrpc":"2.0","id":1,"method":123456789012345678901234567890}')
    assert reply.json()["error"]["code"] == -32600
    assert reply.json()["error"]["message"] == "Invalid request: method must be a string"


async def test_a_big_integer_nested_deeply_is_refused_not_rounded() -> None:
    """Review: past the standard parser's depth, orjson's reading (the integer as a float) stood."""
    nested = b"[" * 1010 + b"1" + b"]" * 1010
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_thing","arguments":{"q":'
    reply = await post(build_app(), body + b'123456789012345678901234567890,"x":' + nested + b"}}}")
    assert reply.json()["id"] == 1
    assert "argument 'q' holds an integer beyond 64 bits (about 1.23457e+29)" in refused_argument(reply.json())
    reply = await post(
        build_app(), body + b'1},"_meta":{"progressToken":123456789012345678901234567890,"x":' + nested + b"}}}"
    )
    assert (reply.json()["id"], reply.json()["error"]["code"]) == (1, -32602)  # outside the arguments


@pytest.mark.parametrize("depth", [300, 700, 990])
async def test_a_deep_body_with_a_long_run_of_digits_and_no_big_integer_is_served(depth: int) -> None:
    """Review: the exact second reading of such a body raised RecursionError (a 500), then refused it
    (-32600) at a depth that depended on the call stack, though orjson had read it exactly."""
    nested = b"[" * depth + b"1" + b"]" * depth
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_thing","arguments":{"q":'
    tail = b'"1234567890123456789","thing_id":1732600000000000000,"x":' + nested + b"}}}"
    reply = await post(build_app(), body + tail)
    assert reply.status == 200
    assert reply.json()["id"] == 1
    assert "result" in reply.json()


async def test_a_batch_with_one_deep_member_holding_a_big_integer_answers_the_others() -> None:
    nested = b"[" * 1010 + b"123456789012345678901234567890" + b"]" * 1010
    body = (
        b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"},'
        b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_thing","arguments":{"x":'
        + nested
        + b"}}}]"
    )
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"})
    answers = {answer["id"]: answer for answer in reply.json()}
    assert "tools" in answers[1]["result"]
    assert "argument 'x'" in refused_argument(answers[2])


async def test_a_float_beyond_2_to_the_63_is_served_even_beside_a_long_run_of_digits() -> None:
    """Review: the check took every float that large for a rounded integer, so ``1e19`` was refused
    whenever the body also had 19 digits in a row (here in a string)."""
    body = b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_thing","arguments":'
    reply = await post(build_app(), body + b'{"thing_id":1,"q":"1234567890123456789","x":1e19}}}')
    assert reply.status == 200
    assert "result" in reply.json()


async def test_a_reply_refused_in_a_batch_is_answered_without_its_id() -> None:
    """Review: the error for a refused client reply inside a batch carried the reply's own id (an id
    the client never issued) and counted as answering a request (HTTP 200)."""
    deep = b"[" * 1010 + b"123456789012345678901234567890" + b"]" * 1010
    body = b'[{"jsonrpc":"2.0","id":99,"result":{"x":' + deep + b"}}]"
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"})
    try:
        json.loads(body)
    except RecursionError:  # CPython 3.11: too deep for the standard parser, so refused
        assert reply.status == 400
        assert [answer["id"] for answer in reply.json()] == [None]
    else:  # 3.12 and later read as deep as orjson: read exactly, and accepted (nobody waits for id 99)
        assert reply.status == 202


async def test_an_invalid_reply_in_a_batch_is_refused_without_its_id() -> None:
    """As above, on every Python version: a reply refused for its envelope is no request either, so
    its error carries no id (not the reply's 99) and the batch is an HTTP error."""
    body = b'[{"jsonrpc":"1.0","id":99,"result":{}}]'
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"})
    assert reply.status == 400
    assert [(answer["id"], answer["error"]["code"]) for answer in reply.json()] == [(None, -32600)]


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc":"2.0","id":123456789012345678901234}',
        b'{"jsonrpc":"2.0","id":123456789012345678901234,"result":{},"error":{"code":1,"message":"x"}}',
        b'[{"jsonrpc":"2.0","id":123456789012345678901234}]',
    ],
)
@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_message_without_method_whose_id_is_beyond_64_bits_is_refused(body: bytes, era: str) -> None:
    """Review: the exact reading kept such an id as a Python integer, echoed it in the error, and
    orjson could not write it: a 500."""
    headers = modern_headers("ping") if era == "modern" else {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"}
    reply = await post(build_app(), body, headers)
    assert reply.status == 400
    answers = reply.json() if isinstance(reply.json(), list) else [reply.json()]
    assert [answer["id"] for answer in answers] == [None]
    assert answers[0]["error"]["code"] == -32600


def _beyond_a_double(digits: int, sign: bytes = b"") -> bytes:
    return sign + b"9" * digits


@pytest.mark.parametrize("digits", [310, 4301, 100_000])
@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_an_integer_beyond_a_double_is_refused_like_any_beyond_64_bits(digits: int, era: str) -> None:
    """Review: orjson refuses to read an integer beyond a double's range (~309 digits: "number is
    infinity"), so such a request was a -32700 parse error without its id, where one of 20 to 308
    digits gets a tool error result asking for a string (README). Past Python's 4,300-digit limit
    too."""
    if era == "modern":
        meta = b',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",'
        meta += b'"io.modelcontextprotocol/clientCapabilities":{}}'
        headers = modern_headers("tools/call", "get_thing")
    else:
        meta, headers = b"", {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}
    body = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_thing","arguments":'
    for sign in (b"", b"-"):
        reply = await post(
            build_app(), body + b'{"thing_id":' + _beyond_a_double(digits, sign) + b"}" + meta + b"}}", headers
        )
        assert reply.status == 200
        assert reply.json()["id"] == 7
        assert "argument 'thing_id' holds an integer beyond 64 bits (of 309 digits or more)" in refused_argument(
            reply.json()
        )


async def test_integers_beyond_a_double_in_a_batch_are_refused_for_their_own_message_only() -> None:
    huge = _beyond_a_double(400)
    body = (
        b'[{"jsonrpc":"2.0","id":1,"method":"tools/list"},'
        b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_thing","arguments":{"thing_id":'
        + huge
        + b'}}},{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"get_thing","arguments":{"thing_id":'
        + b"123456789012345678901234567890}}},"
        b'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_thing","arguments":{"thing_id":5,'
        b'"q":"' + huge + b'"},"_meta":{"x":1e300}}},'
        b'{"jsonrpc":"2.0","id":' + huge + b',"method":"tools/list"}]'
    )
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26"})
    assert reply.status == 200
    answers = {answer["id"]: answer for answer in reply.json()}
    assert "tools" in answers[1]["result"]
    assert "(of 309 digits or more)" in refused_argument(answers[2])
    assert "(about 1.23457e+29)" in refused_argument(answers[3])
    assert not answers[4]["result"].get("isError")  # a long run of digits in a string, a large float
    assert answers[None]["error"]["code"] == -32600  # the id itself: not an id a reply can carry


@pytest.mark.parametrize("where", [b'"result":{"n":%s}', b'"id":%s,"result":{}'])
async def test_a_reply_holding_an_integer_beyond_a_double_is_refused_without_its_id(where: bytes) -> None:
    """A client's reply keeps its integers beyond 64 bits exact for the route that asked, up to 308
    digits (read without Python's quadratic conversion of longer digit strings); a longer one is
    refused as a reply too deep to read exactly is."""
    body = b'{"jsonrpc":"2.0",' + (b'"id":99,' if b'"id"' not in where else b"") + where % _beyond_a_double(400) + b"}"
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"})
    assert reply.status == 400
    assert (reply.json()["id"], reply.json()["error"]["code"]) == (None, -32600)


@pytest.mark.parametrize(
    "fault",
    [
        b',"x":NaN',
        b',"x":1e400',
        b',"x":"\\ud800"',
        b',"\\udc00":1',
        b",",
        b',"x":[1,]',
        b',"x":tru',
        b',"x":' + b"[" * 1030 + b"]" * 1030,  # deeper than orjson reads (and, on 3.11, the standard parser)
    ],
)
async def test_a_body_orjson_refuses_besides_an_integer_beyond_a_double_is_a_parse_error(fault: bytes) -> None:
    """The second reading accepts only what orjson refused for such an integer: a constant, a float
    beyond a double, a lone surrogate, a trailing comma or a truncated value is still -32700."""
    body = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_thing","arguments":{"thing_id":'
    reply = await post(build_app(), body + _beyond_a_double(400) + fault + b"}}}")
    assert reply.status == 400
    assert (reply.json()["id"], reply.json()["error"]["code"]) == (None, -32700)
    bom = await post(build_app(), b"\xef\xbb\xbf" + body + _beyond_a_double(400) + b"}}}")
    assert (bom.json()["id"], bom.json()["error"]["code"]) == (None, -32700)  # orjson refuses a BOM


@pytest.mark.parametrize(
    ("digits", "exact"),
    [
        ("18446744073709551616", True),  # 2**64: 20 digits, beyond what orjson keeps
        ("-9223372036854775809", True),  # -(2**63) - 1: 19 digits
        ("123456789012345678", False),  # 18 digits: orjson keeps it, no second reading
    ],
)
def test_a_run_of_19_digits_and_only_that_sends_a_request_and_an_answer_to_the_exact_reading(
    digits: str, exact: bool
) -> None:
    """The test for a run of 19 digits (``find``, where ``in`` formatted and dropped a TypeError
    each time), in a request's body and in a route's answer: the exact value either way."""
    from mcp_middleware._exact_json import _Exact, loads_exactly
    from mcp_middleware._rpc_parse import parse_payload

    body = b'{"jsonrpc": "2.0", "id": 1, "method": "m", "params": {"n": ' + digits.encode() + b"}}"
    assert (type(parse_payload(body)) is _Exact) is exact  # a request marked: refused later, by name
    answer = loads_exactly('{"n": ' + digits + "}")["n"]  # a route's answer: its digits kept
    assert (type(answer) is orjson.Fragment) is exact
    assert orjson.dumps(answer).decode() == digits


def test_the_second_reading_takes_what_orjson_reads_only() -> None:
    """As deep as orjson reads (1,024 levels: the standard parser of 3.12 reads deeper) and no lone
    surrogate, in a string or a key; a surrogate pair is a character."""
    from mcp_middleware._exact_json import _orjson_reads

    def nested(depth: int) -> Any:
        value: Any = 1
        for level in range(depth):
            value = [value] if level % 2 else {"k": value}
        return value

    assert _orjson_reads(nested(1024))
    assert not _orjson_reads(nested(1025))
    assert _orjson_reads({"\U0001f600": ["\U0001f600", "é"]})
    assert not _orjson_reads({"a": ["\ud800"]})
    assert not _orjson_reads([{"\udc00": 1}])


async def test_integers_beyond_a_double_are_never_converted(monkeypatch: pytest.MonkeyPatch) -> None:
    """The work stays linear in the body: an integer is converted (quadratic in its digits, and
    refused by Python past 4,300) only when it has at most 308 digits, the longest a request can
    name exactly; a longer one is known by its length alone."""
    from mcp_middleware import _exact_json

    converted: list[int] = []

    def counted(digits: str) -> int:
        converted.append(len(digits))
        return int(digits)

    monkeypatch.setattr(_exact_json, "int", counted, raising=False)
    arguments = b'{"a":' + _beyond_a_double(308) + b',"b":' + _beyond_a_double(50_000) + b',"c":-' + b"1" * 308 + b"}"
    body = b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_thing","arguments":'
    reply = await post(build_app(), body + arguments + b"}}")
    assert reply.json()["id"] == 7
    assert "holds an integer beyond 64 bits" in refused_argument(reply.json())  # (which: "int" is patched)
    assert sorted(converted) == [1, 308, 309]  # the id, "a" and "c" (with its sign); "b" never


async def test_invalid_utf8_is_parse_error() -> None:
    reply = await post(build_app(), b'{"jsonrpc":"2.0","id":1,"method":"\xff"}')
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32700


@pytest.mark.parametrize(
    "body",
    [
        b"42",
        b'"x"',
        b'{"id": 1, "method": "ping"}',
        b'{"jsonrpc": "1.0", "id": 1, "method": "ping"}',
        b"null",
    ],
)
async def test_not_a_jsonrpc_request_is_invalid_request(body: bytes) -> None:
    reply = await post(build_app(), body)
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32600


@pytest.mark.parametrize("bad_id", [True, 1.5, [1], {"a": 1}])
async def test_wrong_id_types_are_invalid_request(bad_id: Any) -> None:
    reply = await post(build_app(), {"jsonrpc": "2.0", "id": bad_id, "method": "ping"})
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32600


async def test_method_not_a_string_echoes_the_id() -> None:
    reply = await post(build_app(), {"jsonrpc": "2.0", "id": "abc", "method": 7})
    assert reply.json() == {
        "jsonrpc": "2.0",
        "id": "abc",
        "error": {"code": -32600, "message": "Invalid request: method must be a string"},
    }


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_wrong_content_type_is_415(ctype: str) -> None:
    headers = {**BASE_HEADERS, "content-type": ctype}
    reply = await post(build_app(), INIT, headers)
    assert reply.status == 415
    assert reply.json()["error"]["code"] == -32600


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "Application/JSON; charset=utf-8"])
async def test_content_type_with_charset_is_fine(ctype: str) -> None:
    """Media types are case-insensitive (RFC 9110 8.3.1)."""
    headers = {**BASE_HEADERS, "content-type": ctype}
    assert (await post(build_app(), INIT, headers)).status == 200


@pytest.mark.parametrize("accept", ["application/json", "text/event-stream", "", "text/html"])
async def test_initialize_is_never_406_whatever_accept_lists(accept: str) -> None:
    """It was 406 unless Accept listed both types; clients.md §2: a well-formed initialize never
    gets a 4xx but 401 (Claude Code sends application/json alone, claude.ai's proxy
    text/event-stream alone). The other requests' rule: tests/unit/test_accept.py."""
    headers = {**BASE_HEADERS, "accept": accept}
    reply = await post(build_app(), INIT, headers)
    assert reply.status == 200
    assert reply.messages()[-1]["result"]["protocolVersion"] == "2025-06-18"


async def test_a_request_whose_accept_admits_neither_type_is_406() -> None:
    headers = {**BASE_HEADERS, "accept": "text/html"}
    reply = await post(build_app(), request("tools/list"), headers)
    assert reply.status == 406
    assert reply.json()["error"]["code"] == -32600


@pytest.mark.parametrize(
    "accept",
    [
        "text/event-stream, application/json",
        "*/*",
        "application/json, text/*",
        "Application/JSON, Text/Event-Stream",  # media types are case-insensitive (RFC 9110 8.3.1)
    ],
)
async def test_accept_in_any_order_or_wildcards(accept: str) -> None:
    headers = {**BASE_HEADERS, "accept": accept}
    assert (await post(build_app(), INIT, headers)).status == 200


async def test_body_over_the_cap_is_413_in_one_message() -> None:
    app = build_app(max_body_bytes=100)
    reply = await post(app, {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x" * 200}})
    assert reply.status == 413


async def test_body_over_the_cap_by_content_length_is_413_unread() -> None:
    """A Content-Length above the cap is refused before the body is read at all."""
    sent: list[Any] = []

    async def receive() -> Any:
        raise AssertionError("the body was read")

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [(k.encode(), v.encode()) for k, v in BASE_HEADERS.items()] + [(b"content-length", b"500")]
    await build_app(max_body_bytes=100)(asgi_scope("POST", "/mcp", headers), receive, send)
    assert sent[0]["status"] == 413
    assert b"Payload Too Large" in sent[1]["body"]


async def test_a_content_length_with_leading_zeros_is_its_number() -> None:
    """RFC 9110 allows leading zeros (1*DIGIT): the thousands-of-digits guard counted them, and a
    small body declared as 0000000000000000068 was refused 413 (review)."""
    body = orjson.dumps(request("ping"))
    reply = await post(build_app(), body, {**BASE_HEADERS, "content-length": str(len(body)).zfill(19)})
    assert reply.status == 200


@pytest.mark.parametrize(
    ("length", "unread"),
    [
        (b"99", False),  # fewer digits than the limit (100): below it, no number made
        (b"1x", False),  # fewer characters than the limit's digits: no length, the body is read
        (b"100", False),  # exactly at the limit
        (b"101", True),
        (b"0101", True),  # more characters than the limit's digits, with leading zeros: its number
        (b"00099", False),
        (b"10x0", False),  # as many characters or more, not digits: no length
        (b"", False),
    ],
)
async def test_a_content_length_is_compared_with_the_limit_however_many_digits_it_has(
    length: bytes, unread: bool
) -> None:
    """``declared_too_large`` declines a value shorter than the limit's digit count (the server's,
    made once) without making a number of it: the values it does not decline are still compared
    as numbers, leading zeros and all, and anything but digits is no length (the body is read)."""
    sent: list[Any] = []
    body = orjson.dumps(request("ping"))
    read: list[bool] = []

    async def receive() -> Any:
        read.append(True)
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [(k.encode(), v.encode()) for k, v in BASE_HEADERS.items()] + [(b"content-length", length)]
    await build_app(max_body_bytes=100)(asgi_scope("POST", "/mcp", headers), receive, send)
    assert (sent[0]["status"], bool(read)) == ((413, False) if unread else (200, True))


def test_declared_too_large_takes_the_limits_digit_count() -> None:
    for limit in (1, 9, 10, 99, 100, 4 * 1024 * 1024):
        digits = len(str(limit))
        for value in (limit - 1, limit, limit + 1, 10 ** (digits - 1), 10**digits):
            for text in (str(value), str(value).zfill(digits + 2), str(value).zfill(25)):
                assert declared_too_large({b"content-length": text.encode()}, limit, digits) is (value > limit)


@pytest.mark.parametrize("length", [b"9" * 4301, b"1" + b"0" * 4300])
async def test_a_content_length_of_thousands_of_digits_is_413_unread(length: bytes) -> None:
    """Fuzzing: a Content-Length longer than Python converts to an int (4,300 digits) raised
    ValueError, a 500 with a traceback; it declares more than any limit, or is no length at all."""
    sent: list[Any] = []

    async def receive() -> Any:
        raise AssertionError("the body was read")

    async def send(message: Any) -> None:
        sent.append(message)

    headers = [(k.encode(), v.encode()) for k, v in BASE_HEADERS.items()] + [(b"content-length", length)]
    await build_app()(asgi_scope("POST", "/mcp", headers), receive, send)
    assert sent[0]["status"] == 413


async def test_body_over_the_cap_is_413_when_streamed_without_length() -> None:
    app = build_app(max_body_bytes=100)
    ex = Exchange(app, {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x" * 500}}, body_chunks=5)
    reply = await ex.run()
    assert reply.status == 413


async def test_default_cap_is_4_mib() -> None:
    reply = await post(build_app(), b" " * (4 * 1024 * 1024 + 1))
    assert reply.status == 413


async def test_origin_outside_allowlist_is_403() -> None:
    headers = {**BASE_HEADERS, "origin": "http://evil.example.com"}
    assert (await post(build_app(), INIT, headers)).status == 403


async def test_host_outside_allowlist_is_403() -> None:
    headers = {**BASE_HEADERS, "host": "evil.example.com", "origin": "http://evil.example.com"}
    assert (await post(build_app(), INIT, headers)).status == 403
    headers = {**BASE_HEADERS, "host": "evil.example.com"}
    assert (await post(build_app(), INIT, headers)).status == 403


@pytest.mark.parametrize("origin", ["http://localhost:6274", "http://127.0.0.1:8000", "https://localhost"])
async def test_local_origins_pass(origin: str) -> None:
    headers = {**BASE_HEADERS, "origin": origin}
    assert (await post(build_app(), INIT, headers)).status == 200


async def test_no_origin_passes() -> None:
    assert (await post(build_app(), INIT)).status == 200


async def test_configured_hosts_and_origins() -> None:
    app = build_app(allowed_hosts=["api.example.com"], allowed_origins=["https://app.example.com"])
    ok = {**BASE_HEADERS, "host": "api.example.com", "origin": "https://app.example.com"}
    assert (await post(app, INIT, ok)).status == 200
    assert (await post(app, INIT, {**ok, "origin": "https://other.example.com"})).status == 403
    assert (await post(app, INIT, {**ok, "host": "localhost:8000"})).status == 403
    anyhost = build_app(allowed_hosts=["*"])
    assert (await post(anyhost, INIT, {**BASE_HEADERS, "host": "whatever.example"})).status == 200
    # origins default to "on an allowed host": with any host allowed, any origin is
    with_origin = {**BASE_HEADERS, "host": "whatever.example", "origin": "https://elsewhere.example"}
    assert (await post(anyhost, INIT, with_origin)).status == 200
    guarded = build_app(allowed_hosts=["*"], allowed_origins=["https://app.example.com"])
    assert (await post(guarded, INIT, with_origin)).status == 403


@pytest.mark.parametrize("path", ["/api/mcp", "/mcp"])
async def test_the_endpoint_under_a_root_path_whichever_way_the_server_gives_the_path(path: str) -> None:
    """ASGI servers now include ``root_path`` in ``path``; older ones (and some proxies' setups) did not."""
    ex = Exchange(build_app(), INIT, path=path)
    ex.scope["root_path"] = "/api"
    reply = await ex.run()
    assert reply.status == 200
    assert reply.json()["result"]["serverInfo"]["name"]


@pytest.mark.parametrize(("root_path", "path"), [("/m", "/mcp"), ("/mc", "/mcp"), ("/m", "/m/mcp")])
async def test_a_root_path_is_stripped_only_at_a_segment_boundary(root_path: str, path: str) -> None:
    """As Starlette's ``get_route_path``: root_path "/m" does not make "/mcp" into "cp"."""
    ex = Exchange(build_app(), INIT, path=path)
    ex.scope["root_path"] = root_path
    reply = await ex.run()
    assert reply.status == 200
    assert reply.json()["result"]["protocolVersion"] == "2025-06-18"


async def test_other_paths_pass_through_untouched() -> None:
    app = build_app()
    reply = await post(app, b"", method="GET", path="/things/3")
    assert reply.status == 200
    assert reply.json() == {"id": 3, "name": "thing-3", "q": None}
    reply = await post(app, b"", method="GET", path="/mcpx")
    assert reply.status == 404


async def test_non_http_scopes_reach_the_app_unwrapped() -> None:
    """A lifespan's messages reach the app unchanged, through a ``receive`` that watches for
    ``lifespan.shutdown`` (to end the listen streams: tests/unit/test_listen.py); anything else is
    handed over as it came."""
    seen: list[tuple[Scope, Receive, Send, Message]] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send, await receive()))

    mw = MCPMiddleware(inner)

    async def receive() -> Message:
        return {"type": "lifespan.shutdown"}

    async def send(message: Any) -> None:
        return None

    websocket = {"type": "websocket", "path": "/mcp"}
    await mw(websocket, receive, send)
    assert seen[-1] == (websocket, receive, send, {"type": "lifespan.shutdown"})
    lifespan = {"type": "lifespan"}
    await mw(lifespan, receive, send)
    assert seen[-1][0] is lifespan
    assert seen[-1][2] is send
    assert seen[-1][3] == {"type": "lifespan.shutdown"}


async def test_plain_starlette_app_keeps_working() -> None:
    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse("hi")

    app = Starlette(routes=[Route("/hello", hello)])
    app.add_middleware(MCPMiddleware)
    assert (await post(app, b"", method="GET", path="/hello")).body == b"hi"
    reply = await post(app, request("tools/list"))
    assert [tool["name"] for tool in reply.result()["tools"]] == ["hello"]  # from its routes
    init = await post(app, INIT)
    assert init.result()["serverInfo"] == {"name": "mcp-middleware", "version": "0.0.0"}


async def test_custom_path() -> None:
    app = build_app(path="/tools/mcp")
    assert (await post(app, INIT, path="/tools/mcp")).status == 200
    assert (await post(app, INIT, path="/mcp")).status == 404


SHADOWED = "MCP endpoint's path"


async def test_a_path_that_takes_over_a_route_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Review (new user): ``path="/things"`` over an app with ``POST /things`` took the route over
    silently (plain HTTP clients got JSON-RPC errors, its tool disappeared). The catalog build
    warns, naming each route the endpoint answers for, and the path option."""
    app = build_app(path="/things")
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await post(app, request("tools/list"), path="/things")
    assert "create_thing" not in {tool["name"] for tool in reply.result()["tools"]}
    warned = [r for r in caplog.records if SHADOWED in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].levelno == logging.WARNING
    message = warned[0].getMessage()
    assert "POST /things" in message
    assert "'/things'" in message
    assert "GET /things/{thing_id}" not in message  # a path below the endpoint's is not answered by it


@pytest.mark.parametrize(("path", "routes"), [("/items", ["/items/"]), ("/items/", ["/items", "/items/"])])
async def test_the_trailing_slash_form_the_endpoint_answers_is_warned_about_too(
    path: str, routes: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    async def items(request: Any) -> PlainTextResponse:
        return PlainTextResponse("items")

    app = Starlette(routes=[Route(route, items, name=f"items{n}") for n, route in enumerate(routes)])
    app.add_middleware(MCPMiddleware, path=path)
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        await post(app, request("tools/list"), path=path)
    warned = [r.getMessage() for r in caplog.records if SHADOWED in r.getMessage()]
    assert len(warned) == 1
    assert ", ".join(f"GET {route}" for route in routes) in warned[0]


async def shadow_warnings(app: Any, path: str, caplog: pytest.LogCaptureFixture) -> list[str]:
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        await post(app, request("tools/list"), path=path)
    return [r.getMessage() for r in caplog.records if SHADOWED in r.getMessage()]


async def echo(request: Any) -> PlainTextResponse:
    return PlainTextResponse(request.url.path)


class OwnOrder(APIRouter):
    """A router with its own ``app``: the order it tries its routes in is unknown."""

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().app(scope, receive, send)


def own_order_app() -> FastAPI:
    app = FastAPI()

    @app.get("/")
    async def root() -> str:
        return "root"

    app.router.__class__ = OwnOrder
    return app


@pytest.mark.parametrize(
    ("routes", "shadowed"),
    [
        ([Route("/{name}", echo)], "GET /{name}"),
        # a catch-all answers every path: the endpoint's is one of them whatever it is, so nothing is said
        ([Route("/{p:path}", echo)], None),
        ([Route("/{name}", echo), Route("/{p:path}", echo)], "GET /{name}"),
        # a catch-all under a prefix the endpoint's path is in: a path outside it would do
        ([Mount("/api", routes=[Route("/{p:path}", echo)])], "GET /api/{p}"),
        ([Route("/{name}", echo, methods=["POST"]), Route("/{other}", echo)], "POST /{name}, GET /{other}"),
        ([Mount("/{section}", routes=[Route("/", echo)])], "GET /{section}/"),  # the endpoint's "/api/"
        ([Mount("/v1", routes=[Route("/{name}", echo)])], None),
        ([Route("/{name}/x", echo), Route("/x/{name}", echo), Route("/api/{name}", echo)], None),
        ([Route("/{n:int}", echo), Route("/{u:uuid}", echo)], None),  # their convertors refuse "api"
        # a route tried first answers the path: the one after it loses nothing to the endpoint
        ([Route("/{first}", echo, include_in_schema=False), Route("/{name}", echo)], None),
        ([Route("/{name}/", echo)], "GET /{name}/"),  # the endpoint's "/api/"
        ([Mount("/api", routes=[]), Route("/{name}/", echo)], None),  # the mount takes "/api/" (not "/api")
        ([Mount("/api", app=StaticFiles(directory="/nonexistent", check_dir=False)), Route("/{name}/", echo)], None),
        # a mounted app whose router tries its routes its own way: its operations by their templates
        ([Mount("/{section}", app=own_order_app())], "GET /{section}/"),
    ],
)
async def test_a_templated_route_that_would_answer_the_endpoint_path_is_warned_about(
    routes: list[Any], shadowed: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """``path="/api"`` over an app with ``GET /{name}``: the endpoint answers ``/api``, which the
    route would have; a route whose pattern does not match it, or that a route tried before it
    keeps from it, is not named."""
    app = Starlette(routes=routes)
    app.add_middleware(MCPMiddleware, path="/api")
    # (a route the document does not list, a mount of unknown routes: their own warning, test_hidden_routes)
    warned = [w for w in await shadow_warnings(app, "/api", caplog) if "does not list" not in w]
    if shadowed is None:
        assert warned == []
        return
    assert warned == [
        "The MCP endpoint's path (MCPMiddleware's path option, '/api' and '/api/') is one the app's route(s) "
        f"{shadowed} would answer: the endpoint answers it instead, so plain HTTP clients get its JSON-RPC "
        "errors there; give the middleware a path of its own"
    ]


async def test_a_templated_fastapi_route_that_would_answer_the_endpoint_path_is_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()

    @app.get("/{name}")
    async def by_name(name: str) -> str:
        return name

    @app.get("/{name}/items")
    async def items(name: str) -> list[str]:
        return []

    app.add_middleware(MCPMiddleware, path="/api")
    warned = await shadow_warnings(app, "/api", caplog)
    assert len(warned) == 1
    assert "route(s) GET /{name} would answer" in warned[0]
    assert "/items" not in warned[0]
    app.openapi_schema = None
    for _ in range(3):
        catalog_from_app(app, exclude_paths={"/api", "/api/"})
    assert len([r for r in caplog.records if SHADOWED in r.getMessage()]) == 1


async def test_a_single_page_app_s_catch_all_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """``@app.get("/{full_path:path}")``, the usual SPA fallback: it answers every path, so no path
    of the middleware's own would keep it from the endpoint's, and a warning saying to give it one
    would be said for every such app."""
    app = FastAPI()

    @app.get("/api/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/{full_path:path}")
    async def spa(full_path: str) -> dict[str, str]:
        return {"index": full_path}

    app.add_middleware(MCPMiddleware)
    assert await shadow_warnings(app, "/mcp", caplog) == []


def test_a_route_s_own_template_is_read_for_its_method(caplog: pytest.LogCaptureFixture) -> None:
    """The document writes ``/x/{p:path}`` as ``/x/{p}``; the route's own template, given by path
    and method (``GET``, as the routes name it), is the one matched."""
    get: dict[str, Any] = {"get": {"responses": {}}}
    templates = {("/x/{p}", "GET"): "/x/{p:path}", ("/{q}", "GET"): "/{q:path}"}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        build_catalog({"paths": {"/x/{p}": get, "/{q}": get}}, route_paths=templates, exclude_paths={"/x/a/b"})
    warned = [r.getMessage() for r in caplog.records if SHADOWED in r.getMessage()]
    assert len(warned) == 1
    assert "route(s) GET /x/{p} would answer" in warned[0]  # (/{q:path}: a catch-all, left out)


def test_a_document_alone_is_matched_by_its_path_templates(caplog: pytest.LogCaptureFixture) -> None:
    """Without the app's routes (a document given to ``build_catalog``): its paths, compiled as
    Starlette would; a path Starlette would refuse is passed over."""
    get: dict[str, Any] = {"get": {"responses": {}}}
    paths = {"/{name}": get, "/{name}/x": get, "/{a}/{a}": get, "/{b:nope}": get}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        build_catalog({"paths": paths}, exclude_paths={"/api"})
    warned = [r.getMessage() for r in caplog.records if SHADOWED in r.getMessage()]
    assert len(warned) == 1
    assert "option, '/api') is one the app's route(s) GET /{name} would answer" in warned[0]


async def test_a_path_of_its_own_warns_about_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        await post(build_app(), request("tools/list"))
    assert not [r for r in caplog.records if SHADOWED in r.getMessage()]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"path": "mcp"}, "path"),
        ({"keepalive_interval": 0}, "keepalive_interval"),
        ({"call_timeout": -1}, "call_timeout"),
        ({"max_tool_name_length": 3}, "max_tool_name_length"),
        ({"max_concurrent_calls": 0}, "max_concurrent_calls"),
    ],
)
def test_bad_options_are_refused_early(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        MCPMiddleware(build_app(), **options)


@pytest.mark.parametrize(
    ("option", "value", "error", "text"),
    [
        (
            "max_concurrent_calls",
            0,
            ValueError,
            "max_concurrent_calls must be at least 1 (or None for no limit), got 0",
        ),
        (
            "max_concurrent_calls",
            "8",
            TypeError,
            "max_concurrent_calls must be an integer (or None for no limit), got '8'",
        ),
        (
            "call_timeout",
            0.0,
            ValueError,
            "call_timeout must be a positive number of seconds (or None for no time limit)",
        ),
        (
            "call_timeout",
            "30",
            TypeError,
            "call_timeout must be a number of seconds (or None for no time limit), got '30'",
        ),
        ("ask_timeout", None, TypeError, "ask_timeout must be a number of seconds, got None"),  # no None for this one
    ],
)
def test_a_limit_that_may_be_none_says_so_when_refused(
    option: str, value: Any, error: type[Exception], text: str
) -> None:
    options: dict[str, Any] = {option: value}
    with pytest.raises(error) as refused:
        MCPMiddleware(build_app(), **options)
    assert str(refused.value).startswith(text), str(refused.value)


def test_a_refused_option_is_logged_at_error_once_per_message(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review (new user): ``uvicorn app:app`` (``--lifespan auto``) takes the exception from
    Starlette's lazy middleware build for "lifespan unsupported" (an INFO line), and Starlette
    builds again on every request, so the whole app answered 500 with nothing at start-up. The
    refusal is also an ERROR record of the package naming the option and value and saying how to
    fail at start-up; Starlette's retries (the same message) log it once, a new message again."""
    from mcp_middleware import middleware

    monkeypatch.setattr(middleware, "_REPORTED", Remembered(middleware._REPORTED_MAX))
    with caplog.at_level(logging.INFO, logger="mcp_middleware"):
        for _ in range(3):
            with pytest.raises(TypeError, match=r"^exclude_operations must be a collection of strings"):
                MCPMiddleware(build_app(), exclude_operations="wipe_database")
        with pytest.raises(ValueError, match="keepalive_interval"):
            MCPMiddleware(build_app(), keepalive_interval=0)
    records = [r for r in caplog.records if r.name.startswith("mcp_middleware")]
    assert [r.levelno for r in records] == [logging.ERROR, logging.ERROR]
    assert records[0].name == "mcp_middleware.middleware"
    first, second = (r.getMessage() for r in records)
    assert "exclude_operations must be a collection of strings" in first
    assert "'wipe_database'" in first
    assert "--lifespan on" in first
    assert "500" in first
    assert "keepalive_interval must be a positive number of seconds" in second


def test_the_logged_option_errors_are_bounded(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What is remembered is bounded: past ``_REPORTED_MAX`` messages the set starts again, so a
    message is never silenced for good and the set never grows."""
    from mcp_middleware import middleware

    reported = Remembered(middleware._REPORTED_MAX)
    monkeypatch.setattr(middleware, "_REPORTED", reported)
    with caplog.at_level(logging.ERROR, logger="mcp_middleware"):
        for number in range(middleware._REPORTED_MAX + 1):
            with pytest.raises(ValueError, match="max_tool_name_length"):
                MCPMiddleware(build_app(), max_tool_name_length=-number)
            assert len(reported) <= middleware._REPORTED_MAX
        with pytest.raises(ValueError, match="max_tool_name_length"):
            MCPMiddleware(build_app(), max_tool_name_length=0)  # forgotten when the set started again
    logged = [r.getMessage() for r in caplog.records if r.name == "mcp_middleware.middleware"]
    assert len(logged) == middleware._REPORTED_MAX + 2


def test_a_good_option_set_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="mcp_middleware.middleware"):
        # (build_app() holds an MCPMiddleware on /mcp already: one around it is warned about)
        MCPMiddleware(FastAPI(), exclude_operations=["wipe_database"])
    assert not [r for r in caplog.records if r.name == "mcp_middleware.middleware"]


def test_the_class_docstring_names_every_option() -> None:
    """Review (new user): IDE hover help showed "see the README". The class docstring summarises
    the options, each named (the signature, seen through the logging wrapper, is the list)."""
    options = [name for name in inspect.signature(MCPMiddleware).parameters if name != "app"]
    assert "exclude_operations" in options  # the wrapper keeps the signature
    doc = MCPMiddleware.__doc__ or ""
    assert [name for name in options if f"``{name}``" not in doc] == []


STRING_COLLECTIONS = (
    "include_tags",
    "exclude_tags",
    "include_operations",
    "exclude_operations",
    "include_paths",
    "exclude_paths",
    "include_methods",
    "allowed_hosts",
    "allowed_origins",
    "cors_allow_origins",
    "forward_headers",
)


@pytest.mark.parametrize("option", STRING_COLLECTIONS)
def test_a_single_string_is_refused_for_a_collection_option(option: str) -> None:
    """Regression: ``exclude_operations="wipe_database"`` was taken as the set of its characters
    and excluded nothing (fail-open); every option that takes a collection of strings refuses a
    single string, naming the option."""
    options: dict[str, Any] = {option: "http://example.com"}
    with pytest.raises(TypeError, match=rf"^{option} must be a collection of strings .*not a single string"):
        MCPMiddleware(build_app(), **options)


@pytest.mark.parametrize("option", STRING_COLLECTIONS)
def test_a_collection_option_holds_strings_only(option: str) -> None:
    mixed: dict[str, Any] = {option: ["http://example.com", 42]}
    with pytest.raises(TypeError, match=rf"^{option} must contain strings only, got 42$"):
        MCPMiddleware(build_app(), **mixed)
    number: dict[str, Any] = {option: 42}
    with pytest.raises(TypeError, match=rf"^{option} must be a collection of strings, got 42$"):
        MCPMiddleware(build_app(), **number)


async def test_the_tool_filters_take_any_collection() -> None:
    options: dict[str, Any] = {
        "exclude_operations": ["delete_thing"],
        "exclude_tags": ("admin",),
        "include_methods": {"get", "POST"},
        "include_paths": ["/things*"],
    }
    names = {tool["name"] for tool in (await post(build_app(**options), request("tools/list"))).result()["tools"]}
    assert names == {"get_thing", "create_thing"}


@pytest.mark.parametrize("option", ["include_tags", "include_operations", "include_paths", "include_methods"])
async def test_an_empty_include_filter_is_warned_about(option: str, caplog: pytest.LogCaptureFixture) -> None:
    """Review (new user): ``include_tags=[]`` gave zero tools silently. An empty include filter
    selects nothing (None includes everything): the catalog build warns, naming the option."""
    options: dict[str, Any] = {option: []}
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await post(build_app(**options), request("tools/list"))
    assert reply.result()["tools"] == []
    warned = [r for r in caplog.records if "selects nothing" in r.getMessage()]
    assert len(warned) == 1
    assert warned[0].levelno == logging.WARNING
    assert f"{option}=[]" in warned[0].getMessage()


async def test_a_non_empty_include_filter_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        await post(build_app(include_tags=["things"], exclude_tags=[]), request("tools/list"))
    assert not [r for r in caplog.records if "selects nothing" in r.getMessage()]


NAN = float("nan")
INF = float("inf")


class Integral:
    """An integer that is no int, as numpy.int64 is: it has ``__index__``."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"Integral({self.value})"


@pytest.mark.parametrize(
    ("option", "value", "error", "bad"),
    [
        ("max_body_bytes", 0, ValueError, 0),
        ("max_body_bytes", -1, ValueError, -1),
        ("max_body_bytes", 1.5, TypeError, 1.5),
        ("max_body_bytes", "4096", TypeError, "4096"),
        ("max_body_bytes", True, TypeError, True),
        ("max_body_bytes", Decimal(4096), TypeError, Decimal(4096)),
        ("max_body_bytes", NAN, TypeError, NAN),
        ("max_body_bytes", INF, TypeError, INF),
        ("max_body_bytes", 0.0, ValueError, 0.0),
        ("max_binary_bytes", Integral(-1), ValueError, Integral(-1)),
        ("max_result_chars", 0, ValueError, 0),
        ("max_result_chars", -5, ValueError, -5),
        ("max_result_chars", None, TypeError, None),
        ("max_binary_bytes", -1, ValueError, -1),
        ("max_concurrent_calls", 0, ValueError, 0),
        ("max_batch_messages", 0, ValueError, 0),
        ("max_batch_messages", -1, ValueError, -1),
        ("max_batch_messages", 2.5, TypeError, 2.5),
        ("max_batch_messages", "100", TypeError, "100"),
        ("max_batch_messages", None, TypeError, None),
        ("max_concurrent_calls", 2.5, TypeError, 2.5),
        ("ask_timeout", 0, ValueError, 0),
        ("ask_timeout", -1, ValueError, -1),
        ("ask_timeout", NAN, ValueError, NAN),
        ("ask_timeout", "600", TypeError, "600"),
        ("keepalive_interval", NAN, ValueError, NAN),
        ("keepalive_interval", False, TypeError, False),
        ("call_timeout", NAN, ValueError, NAN),
        ("call_timeout", "30", TypeError, "30"),
        ("call_timeout", Decimal(30), TypeError, Decimal(30)),
        ("call_timeout", Fraction(1, 2), TypeError, Fraction(1, 2)),
        ("ask_timeout", Integral(0), ValueError, Integral(0)),
        ("state_secret", 123, TypeError, "int"),  # a secret: its type, never its value
        ("state_secret", [107] * 32, TypeError, "list"),
        ("instructions", ["Use the tools"], TypeError, "Use the tools"),  # broke every initialize
        ("name", 5, TypeError, 5),
        ("version", 1.2, TypeError, 1.2),
        ("session_ids", "no", TypeError, "no"),
        ("session_ids", 1, TypeError, 1),
        ("path", "/mcp?x=1", ValueError, "/mcp?x=1"),
        ("path", "/mcp#top", ValueError, "/mcp#top"),
        ("path", "mcp", ValueError, "mcp"),
        ("path", None, TypeError, None),
        ("allowed_hosts", [], ValueError, []),
        ("allowed_hosts", ["example.com:443"], ValueError, "example.com:443"),
        ("allowed_hosts", ["[::1]:8000"], ValueError, "[::1]:8000"),
        ("allowed_hosts", ["https://example.com"], ValueError, "https://example.com"),
        ("allowed_hosts", ["example.com/mcp"], ValueError, "example.com/mcp"),
        ("allowed_hosts", ["ok.example.com", " "], ValueError, " "),
        ("allowed_hosts", ["*.example.com"], ValueError, "*.example.com"),
        ("allowed_origins", ["a.example"], ValueError, "a.example"),
        ("allowed_origins", ["https://a.example/app"], ValueError, "https://a.example/app"),
        ("allowed_origins", ["https://"], ValueError, "https://"),
        ("cors_allow_origins", ["http://localhost:6274/inspector"], ValueError, "http://localhost:6274/inspector"),
        ("cors_allow_origins", ["http://localhost:6274?x=1"], ValueError, "http://localhost:6274?x=1"),
        ("allowed_origins", ["https://*.example.com"], ValueError, "https://*.example.com"),
        ("allowed_origins", ["http://localhost:*"], ValueError, "http://localhost:*"),
        ("cors_allow_origins", ["https://*.example.com"], ValueError, "https://*.example.com"),
        ("cors_allow_origins", ["*://app.example.com"], ValueError, "*://app.example.com"),
        # an internationalised name: its form clients send is asked for (Python's IDNA 2003 codec and
        # browsers' UTS #46 disagree on more than a few characters: Cherokee, bidi labels, ß, ς...)
        ("allowed_hosts", ["bücher.example"], ValueError, "bücher.example"),
        ("allowed_hosts", ["straße.example"], ValueError, "straße.example"),
        ("allowed_hosts", ["ᏣᎳᎩ.example"], ValueError, "ᏣᎳᎩ.example"),
        ("allowed_hosts", ["موقع1.example"], ValueError, "موقع1.example"),
        ("allowed_origins", ["https://bücher.example"], ValueError, "https://bücher.example"),
        ("cors_allow_origins", ["https://ς.example"], ValueError, "https://ς.example"),
        ("allowed_origins", ["https://app.example.com:https"], ValueError, "https://app.example.com:https"),
        ("allowed_origins", ["https://app.example.com:65536"], ValueError, "https://app.example.com:65536"),
        ("allowed_origins", ["https://app.example.com:٤٤٣"], ValueError, "https://app.example.com:٤٤٣"),
        ("cors_allow_origins", ["https://me@app.example.com"], ValueError, "https://me@app.example.com"),
        ("allowed_origins", ["http://::1"], ValueError, "http://::1"),
        ("allowed_origins", ["http://[::1"], ValueError, "http://[::1"),
        ("allowed_origins", ["http://[::1]x"], ValueError, "http://[::1]x"),
        ("include_methods", ["GET", "FETCH"], ValueError, "FETCH"),
        ("max_tool_name_length", 7, ValueError, 7),
        ("max_tool_name_length", 40.5, TypeError, 40.5),
        ("max_tool_name_length", "40", TypeError, "40"),
        ("max_tool_name_length", None, TypeError, None),
        ("max_tool_name_length", True, TypeError, True),
    ],
)
def test_bad_option_values_are_refused_naming_the_option_and_the_value(
    option: str, value: Any, error: type[Exception], bad: Any
) -> None:
    """Regression: these were accepted when the middleware was built, and then failed per request
    (a max_body_bytes of -1 answered every request 413, a state_secret of 123 raised in every
    handshake with session_ids, a max_tool_name_length of 40.5 raised in every POST once a name
    needed shortening) or silently (allowed_hosts=["example.com:443"] refused every Host,
    include_methods=["FETCH"] served nothing)."""
    options: dict[str, Any] = {option: value}
    with pytest.raises(error) as refused:
        MCPMiddleware(build_app(), **options)
    message = str(refused.value)
    assert message.startswith(option), message
    if option == "state_secret":
        assert message.endswith(f"got {bad}")
        assert "key" not in message
        assert "123" not in message
    else:
        assert repr(bad) in message, message


@pytest.mark.parametrize("option", ["allowed_origins", "cors_allow_origins"])
@pytest.mark.parametrize("origin", ["https://*.example.com", "http://localhost:*", "https://app*"])
def test_a_partial_wildcard_origin_is_refused_saying_why(option: str, origin: str) -> None:
    """Regression: an origin entry with a '*' other than a bare "*" was accepted and never matched
    (origins are compared whole), so the page it meant was refused 403, silently. It is refused
    when the middleware is built, as a partial wildcard in allowed_hosts is."""
    options: dict[str, Any] = {option: ["http://localhost:6274", origin]}
    with pytest.raises(ValueError, match="wildcard") as refused:
        MCPMiddleware(build_app(), **options)
    assert repr(origin) in str(refused.value)
    assert str(refused.value).startswith(option)


async def test_allowlist_entries_are_put_in_the_form_clients_send() -> None:
    """Review: entries a client never sends were accepted and never matched: a scheme's default port
    (browsers omit it from ``Origin``, RFC 6454 §6.2) and an internationalised host name (browsers
    and HTTP clients send its IDNA form, ``xn--``). The port is dropped when the middleware is
    built, another port stays; an internationalised name is refused, asking for its ``xn--`` form
    (the test above), which matches."""
    app = build_app(
        allowed_hosts=["xn--bcher-kva.example", "api.example.com"],
        allowed_origins=[
            "https://app.example.com:443",
            "http://app.example.com:80",
            "https://XN--BCHER-KVA.example",
            "https://xn--bcher-kva.example:0443",
            "http://xn--bcher-kva.example:8080",
            "https://[::1]:443",
        ],
        cors_allow_origins=["https://app.example.com:443", "https://xn--bcher-kva.example"],
    )
    for host, origin, status in [
        ("xn--bcher-kva.example", None, 200),
        ("xn--bcher-kva.example:8443", None, 200),
        ("bücher.example", None, 403),  # no client sends it so
        ("api.example.com", "https://app.example.com", 200),
        ("api.example.com", "http://app.example.com", 200),
        ("api.example.com", "https://xn--bcher-kva.example", 200),
        ("api.example.com", "http://xn--bcher-kva.example:8080", 200),
        ("api.example.com", "https://[::1]", 200),
        ("api.example.com", "https://app.example.com:443", 200),  # the same origin (RFC 6454 §4), sent so
        ("api.example.com", "http://app.example.com:443", 403),  # another origin: http's port is 80
        ("api.example.com", "https://app.example.com:8443", 403),
        ("api.example.com", "http://xn--bcher-kva.example", 403),
    ]:
        headers = {**BASE_HEADERS, "host": host} | ({"origin": origin} if origin else {})
        reply = await post(app, request("tools/list"), {k: v.encode().decode("latin-1") for k, v in headers.items()})
        assert reply.status == status, (host, origin)
    preflight = {
        "host": "api.example.com",
        "origin": "https://app.example.com",
        "access-control-request-method": "POST",
    }
    reply = await post(app, b"", preflight, method="OPTIONS")
    assert (reply.status, reply.headers["access-control-allow-origin"]) == (204, "https://app.example.com")


async def test_valid_option_values_are_unchanged() -> None:
    app = build_app(
        max_binary_bytes=0,
        max_concurrent_calls=None,
        call_timeout=None,
        ask_timeout=0.5,
        state_secret="0123456789abcdef",
        include_methods=["get", "Post"],
        allowed_hosts=["Example.COM", "2001:db8::10", "[::2]"],
        allowed_origins=["https://app.example.com/", "null", "http://127.0.0.1:8000"],
        cors_allow_origins=["https://app.example.com"],
    )
    for host in ("example.com:8000", "[2001:db8::10]:8000", "[::2]"):
        reply = await post(app, request("tools/list"), {**BASE_HEADERS, "host": host})
        assert reply.status == 200, host
        assert {tool["name"] for tool in reply.result()["tools"]} >= {"get_thing", "create_thing"}
    headers = {**BASE_HEADERS, "host": "example.com", "origin": "https://App.example.com"}
    assert (await post(app, request("tools/list"), headers)).status == 200
    assert (await post(app, request("tools/list"), {**BASE_HEADERS, "host": "127.0.0.1"})).status == 403


async def test_integral_values_of_other_types_are_taken_as_integers() -> None:
    """Regression: the construction-time checks refused values that had worked: sizes given as
    floats with an integral value (max_body_bytes=1e6) and integers that are no int (numpy.int64:
    they have ``__index__``). They are taken, stored as ints, and serve as before."""
    sizes: dict[str, Any] = {
        "max_tool_name_length": 12.0,
        "max_body_bytes": 1e6,
        "max_result_chars": Integral(100_000),
        "max_binary_bytes": 0.0,
        "max_concurrent_calls": 8.0,
        "max_batch_messages": Integral(5),
    }
    times: dict[str, Any] = {"call_timeout": Integral(30), "ask_timeout": 1e3, "keepalive_interval": Integral(5)}
    middleware = MCPMiddleware(build_app(), **sizes, **times)
    settings = middleware.settings
    for option, value in {**sizes, **times}.items():
        checked = getattr(settings, option)
        assert checked == (value if isinstance(value, float) else value.value), option
        assert type(checked) is (float if option in times and isinstance(value, float) else int), option
    app = build_app(**sizes, **times)
    names = [tool["name"] for tool in (await post(app, request("tools/list"))).result()["tools"]]
    assert names
    assert max(len(name) for name in names) <= 12
    reply = await post(app, request("tools/call", {"name": "get_thing", "arguments": {"thing_id": 3}}))
    assert reply.status == 200
    assert not reply.result().get("isError"), reply.result()


def test_response_mode_is_validated() -> None:
    with pytest.raises(ValueError, match="response_mode"):
        MCPMiddleware(build_app(), response_mode="json")  # type: ignore[arg-type]


async def test_a_catalog_build_that_raised_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    built = Features.from_catalog
    attempts: list[object] = []

    def flaky(catalog: Any) -> Features:
        attempts.append(catalog)
        if len(attempts) == 1:
            raise RuntimeError("transient failure while building the catalog")
        return built(catalog)

    monkeypatch.setattr(Features, "from_catalog", flaky)
    app = build_app()
    listing = request("tools/list", {}, id=2)
    with pytest.raises(RuntimeError, match="transient"):
        await post(app, listing)
    reply = await post(app, listing)
    assert reply.status == 200
    assert [tool["name"] for tool in reply.result()["tools"]][:1] == ["get_thing"]
    assert len(attempts) == 2


async def test_a_client_that_leaves_mid_body_gets_nothing_and_nothing_raises() -> None:
    """The body arrives in parts and the client disconnects before the last: the middleware stops
    quietly (a server would log an exception otherwise), and nothing is answered or handled."""
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    messages = [
        {"type": "http.request", "body": body[:10], "more_body": True},
        {"type": "http.request", "body": body[10:20], "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Any] = []

    async def receive() -> Any:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)

    scope = asgi_scope("POST", "/mcp", [(k.encode(), v.encode()) for k, v in BASE_HEADERS.items()])
    await build_app()(scope, receive, send)
    assert sent == []
    assert messages == []


def test_the_transport_verdicts_stay_bounded() -> None:
    """The table of remembered transport verdicts (one entry per distinct Host/Origin/Accept/
    Content-Type) is emptied when it grows past its bound, and a refusal is still a refusal."""
    from mcp_middleware.config import Settings
    from mcp_middleware.transport._checks import Verdicts, check_request, header_map

    settings = Settings(allowed_hosts=frozenset({"*"}))
    verdicts: Verdicts = {}
    base = [(k.encode(), v.encode()) for k, v in BASE_HEADERS.items() if k != "host"]
    for n in range(3000):
        scope = asgi_scope("POST", "/mcp", [(b"host", f"h{n}".encode()), *base])
        assert check_request(scope, header_map(scope), settings, verdicts) is None
        assert len(verdicts) <= 1025
    # (an Accept admitting neither type is refused by the endpoint, once it knows the request is
    # no initialize: a wrong Content-Type is refused here)
    scope = asgi_scope("POST", "/mcp", [(b"host", b"h1"), (b"content-type", b"text/html")])
    refused = check_request(scope, header_map(scope), settings, verdicts)
    assert refused is not None
    assert refused[0] == 415


@pytest.mark.parametrize(
    ("header", "value", "status", "stated"),
    [
        ("host", "evil.example", 403, "2025-06-18"),
        ("origin", "http://evil.example", 403, "2025-06-18"),
        ("accept", "text/html", "neither", "2025-06-18"),
        ("accept", "application/json", "json", "2025-06-18"),
        ("content-type", "text/plain", 415, "2025-06-18"),
        ("mcp-protocol-version", "2025-03-26", None, "2025-03-26"),
    ],
)
def test_each_header_a_verdict_depends_on_is_part_of_its_key(
    header: str, value: str, status: int | str | None, stated: str
) -> None:
    """The remembered verdict is keyed on every header it reads: a request that differs from a
    remembered one in any of them gets its own verdict, not the remembered one."""
    from mcp_middleware.config import Settings
    from mcp_middleware.transport._checks import Verdicts, front_verdict, header_map

    settings = Settings()
    verdicts: Verdicts = {}
    base = {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"}
    scope = asgi_scope("POST", "/mcp", [(k.encode(), v.encode()) for k, v in base.items()])
    assert front_verdict(scope, header_map(scope), settings, verdicts) == (None, "2025-06-18")
    other = asgi_scope("POST", "/mcp", [(k.encode(), v.encode()) for k, v in {**base, header: value}.items()])
    refused, said = front_verdict(other, header_map(other), settings, verdicts)
    # a refusal's status, or how an Accept that does not list both types is answered
    assert (refused[0] if isinstance(refused, tuple) else refused) == status
    assert said == stated


@pytest.mark.parametrize(
    ("header", "status"),
    [("accept", "neither"), ("accept", None), ("origin", 403), ("content-type", 415), ("host", 403)],
)
def test_transport_verdicts_on_large_header_values_are_never_kept(header: str, status: int | str | None) -> None:
    """Review: the verdicts kept their header values, refused requests' too: 300 POSTs with 2 MiB
    Accept headers pinned 600 MB before any guard. A verdict whose header values are longer than
    ``KEPT_HEADER_BYTES`` together is made afresh each time and never kept."""
    from mcp_middleware.config import Settings
    from mcp_middleware.transport._checks import KEPT_HEADER_BYTES, Verdicts, check_request, front_verdict, header_map

    settings = Settings()
    verdicts: Verdicts = {}
    headers = dict(BASE_HEADERS)
    scope = asgi_scope("POST", "/mcp", [(k.encode(), v.encode()) for k, v in headers.items()])
    assert check_request(scope, header_map(scope), settings, verdicts) is None
    assert len(verdicts) == 1
    padding = "x" * KEPT_HEADER_BYTES
    headers[header] = {
        ("accept", "neither"): "text/html;q=" + padding,
        ("accept", None): BASE_HEADERS["accept"] + ";q=" + padding,
        ("origin", 403): "http://evil.example/" + padding,
        ("content-type", 415): "text/plain;" + padding,
        ("host", 403): padding,
    }[header, status]
    scope = asgi_scope("POST", "/mcp", [(k.encode(), v.encode()) for k, v in headers.items()])
    for _ in range(2):
        refused = front_verdict(scope, header_map(scope), settings, verdicts)[0]
        assert (refused[0] if isinstance(refused, tuple) else refused) == status
    assert len(verdicts) == 1


class _CountedName(bytes):
    """A header name that counts the comparisons made with it (equal names are distinct objects)."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _CountedName.compared += 1
        return bytes.__eq__(self, other)

    __hash__ = bytes.__hash__


def test_repeated_headers_are_found_in_linear_work() -> None:
    """Review: each ``mcp-*`` name was counted in the whole list (``list.count``), so 40,000
    headers froze the worker for 20 s before any check. The work is now a few comparisons a name."""
    from mcp_middleware.transport._checks import HeaderMap, header_map

    names = [f"mcp-x{n}" for n in range(400)] * 2 + ["accept", "accept", "host"]
    raw: list[tuple[bytes, bytes]] = [
        (_CountedName(name.encode()), f"{name} {i}".encode()) for i, name in enumerate(names)
    ]
    _CountedName.compared = 0
    headers = header_map(asgi_scope("POST", "/mcp", raw))
    assert _CountedName.compared <= 4 * len(raw)  # it was ~400 x 800 (each name against the list)
    assert isinstance(headers, HeaderMap)
    assert headers.repeated == {f"mcp-x{n}".encode() for n in range(400)}
    assert headers[b"mcp-x7"] == b"mcp-x7 7"  # the first of a repeated header
    assert headers[b"accept"] == b"accept 800, accept 801"  # RFC 9110 §5.3: one list


async def test_many_tools_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    """Over 40 tools, clients start to struggle (clients.md): the server says so once, when it
    builds its catalog, and suggests the filters."""
    from fastapi import FastAPI

    app = FastAPI()
    for n in range(41):
        app.get(f"/r{n}", operation_id=f"r{n}")(lambda: {})
    app.add_middleware(MCPMiddleware)
    with caplog.at_level("WARNING"):
        assert (await post(app, INIT)).status == 200
        assert (await post(app, INIT)).status == 200
    warnings = [r.getMessage() for r in caplog.records if "tool filters" in r.getMessage()]
    assert warnings == [
        "MCP endpoint exposes 41 tools; Cursor handles about 40 and Copilot caps at 128 (with its own tools): "
        "consider tool filters"
    ]


@pytest.mark.parametrize("guarded", [False, True])
async def test_a_server_address_given_as_a_list_is_fine(guarded: bool) -> None:
    """Daphne hands ``scope["server"]`` (and ``client``) over as ``[host, port]``; the remembered
    transport verdicts (also consulted by the security layer) must still find their key."""
    app = build_app(auth=lambda request: True) if guarded else build_app()
    for _ in range(2):  # the second request finds the remembered verdict
        ex = Exchange(app, INIT)
        ex.scope["server"] = ["127.0.0.1", 8000]
        ex.scope["client"] = ["127.0.0.1", 50000]
        reply = await ex.run()
        assert reply.status == 200
        assert reply.json()["result"]["protocolVersion"] == "2025-06-18"


@pytest.mark.parametrize(
    ("host", "status"),
    [
        (b"[2001:db8::10]:8000", 200),
        (b"[2001:DB8::10]", 200),
        (b"[2001:db8::11]:8000", 403),
        (b"192.0.2.10:8000", 403),
    ],
)
async def test_the_default_host_rule_accepts_the_servers_own_ipv6_address(host: bytes, status: int) -> None:
    """Regression: the default rule allows the server's own address, but added an IPv6 one as
    ``scope["server"]`` gives it (unbracketed), while a Host header names it in brackets: a client
    calling the server by its IPv6 address got 403."""
    ex = Exchange(build_app(), INIT)
    ex.scope["server"] = ("2001:db8::10", 8000)
    ex.scope["headers"] = [(k, host if k == b"host" else v) for k, v in ex.scope["headers"]]
    assert (await ex.run()).status == status


async def test_a_remembered_transport_verdict_is_the_server_addresses_own() -> None:
    """The default Host rule allows the server's own address, so the remembered verdict is keyed on
    ``scope["server"]`` too: the Host ``10.0.0.5`` allowed on the server listening there is still
    refused when the same app (same headers) is reached through another address."""
    app = build_app()
    headers = {**BASE_HEADERS, "host": "10.0.0.5:8000"}
    ex = Exchange(app, INIT, headers)
    ex.scope["server"] = ("10.0.0.5", 8000)
    assert (await ex.run()).status == 200
    ex = Exchange(app, INIT, headers)
    ex.scope["server"] = ("127.0.0.1", 8000)
    reply = await ex.run()
    assert reply.status == 403
    assert reply.json()["error"]["message"] == "Forbidden: Host not allowed (see the server's allowed_hosts option)"


@pytest.mark.parametrize(("host", "status"), [("localhost:8000", 200), ("127.0.0.1", 200), ("evil.example", 403)])
async def test_without_a_server_address_the_default_host_rule_is_the_local_names(host: str, status: int) -> None:
    """ASGI lets a server leave ``server`` out (None: a Unix socket): the default rule is then
    the loopback names alone."""
    ex = Exchange(build_app(), INIT, {**BASE_HEADERS, "host": host})
    ex.scope["server"] = None
    reply = await ex.run()
    assert reply.status == status
    if status == 403:
        assert reply.body == (
            b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,'
            b'"message":"Forbidden: Host not allowed (see the server\'s allowed_hosts option)"}}'
        )


@pytest.mark.parametrize("upper", [False, True])
async def test_accept_split_over_two_header_lines_is_one_list(upper: bool) -> None:
    """RFC 9110 §5.3: repeated list-valued fields equal one comma-joined field."""
    ex = Exchange(build_app(), INIT)
    accept = b"Accept" if upper else b"accept"
    others = [(k, v) for k, v in ex.scope["headers"] if k != b"accept"]
    ex.scope["headers"] = [(accept, b"application/json"), *others, (accept, b"text/event-stream")]
    reply = await ex.run()
    assert reply.status == 200
    assert reply.json()["result"]["protocolVersion"] == "2025-06-18"


# -- list replies, encoded once for the reply cache ------------------------------------------------


def _list_call(era: str, method: str = "tools/list") -> tuple[dict[str, Any], dict[str, str]]:
    if era == "modern":
        return request(method, {"_meta": meta()}, id=4), modern_headers(method)
    return request(method, id=4), dict(BASE_HEADERS)


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_tool_list_holding_an_integer_beyond_64_bits_is_written_exactly(era: str) -> None:
    """Regression: a list reply is encoded on its own for the reply cache, with a bare
    ``orjson.dumps``: a route parameter whose default is beyond 64 bits (``size: int = 2**64``)
    raised TypeError out of the middleware, and every tools/list was a 500."""
    app = FastAPI()

    @app.get("/blocks", operation_id="blocks")
    async def blocks(size: int = 2**64) -> int:
        return size

    app.add_middleware(MCPMiddleware)
    for _ in range(2):  # the second reply comes from the cache
        reply = await post(app, *_list_call(era))
        assert reply.status == 200
        assert reply.json()["id"] == 4
        assert b'"default":18446744073709551616' in reply.body
        [tool] = reply.result()["tools"]
        assert tool["name"] == "blocks"


@pytest.mark.parametrize("era", ["handshake", "modern"])
async def test_a_list_result_that_does_not_fit_the_wire_type_is_an_internal_error(
    era: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Regression: a list result the revision's wire type refuses (here an ``x-mcp-annotations``
    title that is no string) raised pydantic's ValidationError out of the middleware on the cached
    path: a 500 with no JSON-RPC answer. It is -32603, as any other result that cannot be encoded
    (``encode_reply``), and logged with its cause; nothing broken is cached."""
    app = FastAPI()

    @app.get("/odd", operation_id="odd", openapi_extra={"x-mcp-annotations": {"title": 5}})
    async def odd() -> int:
        return 1

    app.add_middleware(MCPMiddleware)
    for _ in range(2):
        with caplog.at_level(logging.ERROR, logger="mcp_middleware.transport._http"):
            reply = await post(app, *_list_call(era))
        assert reply.status == 200  # (-32603 has no status of its own in either era)
        error = {"code": -32603, "message": "Internal error: invalid result"}
        assert reply.json() == {"jsonrpc": "2.0", "id": 4, "error": error}
    records = [r for r in caplog.records if r.name == "mcp_middleware.transport._http"]
    assert len(records) == 2
    assert all("result of tools/list does not fit" in r.getMessage() and r.exc_info for r in records)


_WIDE_IDS = [
    (b"18446744073709551616", "about 1.84467e+19"),  # 2**64
    (b"-9223372036854775809", "about -9.22337e+18"),  # -2**63 - 1
    (b"9" * 400, "of 309 digits or more"),  # beyond a double: orjson refuses the body, read again
]


@pytest.mark.parametrize(("digits", "about"), _WIDE_IDS)
@pytest.mark.parametrize(
    ("era", "kind"),
    [
        ("handshake", "request"),
        ("handshake", "reply"),
        ("handshake", "batch-request"),
        ("handshake", "batch-reply"),
        ("modern", "request"),  # 2026-07-28 has neither batches nor client replies
    ],
)
async def test_an_id_beyond_64_bits_is_refused_for_its_precision(
    digits: bytes, about: str, kind: str, era: str
) -> None:
    """Fuzzing review: such an id was refused with "id must be a string or an integer", which it
    is. It is refused still (orjson reads it as a float: echoing it would be a rounded id, which
    names no request, and clients in JavaScript could not keep it either) but for the true reason,
    as an integer beyond 64 bits elsewhere in a request is (-32602 there, with the id); -32600 and
    ``"id": null`` here, since the id cannot be echoed faithfully."""
    one = b'{"jsonrpc":"2.0","id":' + digits
    one += b',"method":"ping"}' if kind.endswith("request") else b',"result":{}}'
    batch = kind.startswith("batch")
    if era == "modern":
        one = one[:-1] + b',"params":{"_meta":' + orjson.dumps(meta()) + b"}}"
        headers = modern_headers("ping")
    else:
        headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-03-26" if batch else "2025-06-18"}
    reply = await post(build_app(), b"[" + one + b"]" if batch else one, headers)
    answer = reply.json()[0] if batch else reply.json()
    assert reply.status == 400  # a batch too: its only answer has no id (as for an id of true)
    assert answer == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32600,
            "message": f"Invalid request: an integer id beyond 64 bits ({about}) would lose its precision; "
            "send it as a string",
        },
    }


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc":"2.0","id":18446744073709551616.0,"method":"ping"}',
        b'{"jsonrpc":"2.0","id":1e19,"method":"ping","params":{"n":18446744073709551616}}',
    ],
    ids=["float-literal", "float-literal-beside-a-wide-integer"],
)
async def test_a_float_id_as_large_is_still_no_id(body: bytes) -> None:
    """An id written as a float is no id, however large: the message says so, not precision."""
    reply = await post(build_app(), body, {**BASE_HEADERS, "mcp-protocol-version": "2025-06-18"})
    assert reply.status == 400
    assert reply.json()["error"]["message"] == "Invalid request: id must be a string or an integer"


ANY_415 = "Unsupported Media Type: the body must be application/json"


@pytest.mark.parametrize(
    ("value", "stated"),
    [
        (None, None),
        (b"", None),
        (b" \t", None),
        (b"2025-06-18", "2025-06-18"),
        (b" 2025-06-18\t", "2025-06-18"),
        (b"2026-07-28", "2026-07-28"),
        (b"2099-01-01", "2099-01-01"),
    ],
)
def test_the_revision_a_version_header_states(value: bytes | None, stated: str | None) -> None:
    """Read leniently (clients.md §3), once: the router and the handshake era take it from the
    remembered front verdict, which is keyed on the header's value."""
    from mcp_middleware.config import Settings
    from mcp_middleware.transport._checks import Verdicts, front_verdict, stated_version

    headers = {b"host": b"localhost", b"accept": BASE_HEADERS["accept"].encode()}
    if value is not None:
        headers[b"mcp-protocol-version"] = value
    assert stated_version(headers) == stated
    verdicts: Verdicts = {}
    scope = asgi_scope("POST", "/mcp", list(headers.items()))
    assert front_verdict(scope, headers, Settings(), verdicts) == ((415, ANY_415), stated)
    assert front_verdict(scope, headers, Settings(), verdicts) == ((415, ANY_415), stated)  # remembered
    other = {**headers, b"mcp-protocol-version": b"2024-11-05"}
    assert front_verdict(scope, other, Settings(), verdicts)[1] == "2024-11-05"  # another key
    assert len(verdicts) == (1 if value == b"2024-11-05" else 2)


@pytest.mark.parametrize(
    ("stated", "modern"),
    [(None, None), ("2025-06-18", False), ("2024-11-05", False), ("2026-07-28", True), ("2099-01-01", True)],
)
def test_the_era_of_a_stated_revision(stated: str | None, modern: bool | None) -> None:
    """A handshake revision is the handshake era, any other the 2026-07-28 one; none stated
    leaves it to the envelope; an initialize is the handshake era unless enveloped. An envelope
    naming a 2026-07-28 revision makes the request modern whatever the header states (review
    s10b: the claude.ai connectors state 2025-11-25 over it); one naming no revision of ours
    leaves a handshake header's era alone."""
    from mcp_middleware.transport.endpoint import is_modern

    def era(payload: Any) -> bool:
        return is_modern(stated, payload, orjson.dumps(payload))

    plain = request("tools/list", id=1)
    assert era(plain) is (False if modern is None else modern)
    assert era(request("tools/list", {"_meta": meta()}, id=1)) is True
    assert era(request("tools/list", {"_meta": meta("v999")}, id=1)) is (True if modern is None else modern)
    assert era(request("initialize", {"protocolVersion": "2025-06-18"})) is False
    assert era(request("initialize", {"_meta": meta()})) is True
    assert era(request("initialize", {"_meta": meta("v999")})) is True
    assert era([request("tools/list", {"_meta": meta()}, id=1)]) is (False if modern is None else modern)


@pytest.mark.parametrize(
    "body",
    [
        # the keys written with JSON escapes, which a byte search for them would miss
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io\\u002emodelcontextprotocol'
        b'\\/protocolVersion":"2026-07-28","io\\u002emodelcontextprotocol\\/clientCapabilities":{}}}}',
        b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"\\u0069o.modelcontextprotocol'
        b'/protocolVersion":"2026-07-28","\\u0069o.modelcontextprotocol/clientCapabilities":{}}}}',
    ],
)
def test_an_envelope_spelled_with_escapes_is_seen(body: bytes) -> None:
    from mcp_middleware.jsonrpc import parse_payload
    from mcp_middleware.transport.endpoint import is_modern

    assert is_modern("2025-11-25", parse_payload(body), body) is True


@pytest.mark.parametrize("stated", ["2026-07-28", "2099-01-01"])
def test_an_initialize_under_another_header_is_seen_however_it_is_written(stated: str) -> None:
    """Under a header naming no handshake revision, only an initialize is looked into: its method
    written with an escape is still one, and a request merely naming it is not."""
    from mcp_middleware.jsonrpc import parse_payload
    from mcp_middleware.transport.endpoint import is_modern

    escaped = b'{"jsonrpc":"2.0","id":1,"method":"initi\\u0061lize","params":{"protocolVersion":"2025-06-18"}}'
    assert is_modern(stated, parse_payload(escaped), escaped) is False
    named = request("tools/call", {"name": "initialize", "arguments": {"step": "initialize"}})
    assert is_modern(stated, named, orjson.dumps(named)) is True


@pytest.mark.parametrize(
    "params",
    [
        {"_meta": {"io.modelcontextprotocol/related-task": {"taskId": "t"}}},  # 2025-11-25's own _meta keys
        {"_meta": {"io.modelcontextprotocol/protocolVersion": ["2026-07-28"]}},  # no revision: no string
        {"_meta": ["io.modelcontextprotocol/protocolVersion"]},
        {"arguments": {"note": "io.modelcontextprotocol/protocolVersion"}},
        ["io.modelcontextprotocol/protocolVersion"],
    ],
)
def test_what_merely_looks_like_the_envelope_under_a_handshake_header_stays_handshake(params: Any) -> None:
    from mcp_middleware.transport.endpoint import is_modern

    payload = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    assert is_modern("2025-11-25", payload, orjson.dumps(payload)) is False


def test_a_request_without_a_repeated_header_has_a_plain_map() -> None:
    """The usual request's headers are a plain dict (no ``repeated``: readers ask ``getattr``); a
    repeated one (any name) takes the map that counts them."""
    from mcp_middleware.transport._checks import HeaderMap, header_map

    raw = [(b"host", b"a"), (b"mcp-name", b"x"), (b"accept", b"application/json")]
    once = header_map(asgi_scope("POST", "/mcp", raw))
    assert type(once) is dict
    assert once == {b"host": b"a", b"mcp-name": b"x", b"accept": b"application/json"}
    twice = header_map(asgi_scope("POST", "/mcp", [*raw, (b"mcp-name", b"y"), (b"HOST", b"b")]))
    assert isinstance(twice, HeaderMap)
    assert twice.repeated == {b"mcp-name"}
    assert twice[b"mcp-name"] == b"x"
    assert twice[b"host"] == b"a"


def test_header_values_that_are_no_dictionary_key_are_checked_without_being_remembered() -> None:
    """Review: a ``bytearray`` header value (ASGI says bytes; a hand-made scope may not) made
    the remembered verdict's key unhashable, and the request a 500. It is checked each time."""
    from mcp_middleware.config import Settings
    from mcp_middleware.transport._checks import FORBIDDEN_HOST, Verdicts, front_verdict

    headers: dict[bytes, Any] = {
        b"host": bytearray(b"localhost"),
        b"accept": BASE_HEADERS["accept"].encode(),
        b"content-type": b"application/json",
        b"mcp-protocol-version": bytearray(b"2025-11-25"),
    }
    verdicts: Verdicts = {}
    scope = asgi_scope("POST", "/mcp", list(headers.items()))
    assert front_verdict(scope, headers, Settings(), verdicts) == (None, "2025-11-25")
    assert verdicts == {}
    refused = {**headers, b"host": bytearray(b"evil.example")}
    assert front_verdict(scope, refused, Settings(), verdicts)[0] == (403, FORBIDDEN_HOST)
