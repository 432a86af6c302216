"""The one serializer: built results skip validation only where validation would change nothing."""

from __future__ import annotations

from types import UnionType
from typing import Any, get_args

import pytest
from mcp_types.methods import SERVER_RESULTS, serialize_server_result
from pydantic import ValidationError

from mcp_middleware._revisions import OLDER_REVISIONS, older
from mcp_middleware.jsonrpc import (
    COMPLETE_RESULTS,
    INPUT_REQUIRED_RESULTS,
    INPUT_REQUIRED_TYPE,
    Built,
    ClientReply,
    Notification,
    ProtocolError,
    Request,
    encode_error,
    error_status,
    parse_message,
    parse_payload,
    result_message,
)
from mcp_middleware.results import ResponseCollector, error_result
from tests.apps import PNG

VERSIONS = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"]


def collected(mime: bytes, body: bytes, status: int = 200, structured: bool = False) -> dict[str, Any]:
    collector = ResponseCollector(path="/x", structured=structured, max_text=50, max_binary=10_000)
    collector.head(status, ((b"content-type", mime),))
    collector.feed(body, False)
    return collector.result()


BUILT = [
    collected(b"application/json", b'{"id":1,"name":"x","nested":{"a":[1,2,null]}}', structured=True),
    collected(b"application/json", b"[1,2,3]"),
    collected(b"application/json", b"[1,2,3]", structured=True),  # no JSON object: an error
    collected(b"text/plain; charset=latin-1", "caf\xe9".encode("latin-1")),
    collected(b"text/plain", b"x" * 80),  # truncated
    collected(b"image/png", PNG),
    collected(b"audio/wav", b"RIFF...."),
    collected(b"application/pdf", b"%PDF"),
    collected(b"application/json", b'{"detail":"nope"}', status=404),
    collected(b"text/plain", b"", status=204),
    error_result("failed"),
]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("result", BUILT)
def test_built_results_are_already_in_wire_form(result: dict[str, Any], version: str) -> None:
    assert isinstance(result, Built)
    wire = dict(result)
    if version == "2026-07-28":
        wire["resultType"] = "complete"
    assert serialize_server_result("tools/call", version, wire) == wire
    if version in OLDER_REVISIONS:  # reshaped (structuredContent, audio), as a validated result is
        assert result_message(1, "tools/call", version, result) == result_message(1, "tools/call", version, wire)
    else:
        assert result_message(1, "tools/call", version, result)["result"] is result


@pytest.mark.parametrize("version", sorted(OLDER_REVISIONS))
def test_results_of_methods_that_need_no_reshaping_are_left_as_they_are(version: str) -> None:
    completion = {"completion": {"values": ["a"], "total": 1, "hasMore": False}}
    assert result_message(1, "completion/complete", version, completion)["result"] == completion
    assert older("ping", version, built := Built()) is built


def test_other_results_are_validated_and_shaped() -> None:
    with pytest.raises(ValueError, match="content"):
        result_message(1, "tools/call", "2025-06-18", {"content": "not a list"})


def test_the_sdk_unions_narrowed_are_a_complete_type_or_input_required() -> None:
    """Every union among the SDK's result types is ``X | InputRequiredResult``: the narrowing in
    ``result_message`` depends on it, so an SDK that changes the shape fails here."""
    unions = {key: get_args(t) for key, t in SERVER_RESULTS.items() if isinstance(t, UnionType)}
    assert unions, "the 2026-07-28 results with an input_required alternative"
    for key, members in unions.items():
        names = sorted(m.__name__ for m in members)
        assert len(members) == 2, (key, names)
        assert INPUT_REQUIRED_TYPE in names, (key, names)
        assert COMPLETE_RESULTS[key].__name__ != INPUT_REQUIRED_TYPE  # type: ignore[union-attr]
        assert INPUT_REQUIRED_RESULTS[key].__name__ == INPUT_REQUIRED_TYPE  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("method", "bad"),
    [
        ("prompts/get", {"messages": [{"role": "wizard", "content": {"type": "text", "text": "hi"}}]}),
        ("tools/call", {"content": [{"type": "bogus"}]}),
        ("resources/read", {"contents": [{"nope": 1}]}),
    ],
)
def test_a_complete_result_that_fails_its_type_is_refused_not_emptied(method: str, bad: dict[str, Any]) -> None:
    """Against the SDK's ``X | InputRequiredResult`` union such a result would validate as an
    (all-optional) ``InputRequiredResult`` and lose its payload; it must fail instead."""
    assert serialize_server_result(method, "2026-07-28", {**bad, "resultType": "complete"}) == {
        "resultType": "complete"
    }  # the SDK's behaviour this guards against
    for result in (bad, {**bad, "resultType": "complete"}):
        with pytest.raises(ValidationError, match="validation error"):
            result_message(1, method, "2026-07-28", result)
    interim = {"resultType": "input_required", "inputRequests": {"a": {"method": "roots/list"}}}
    assert result_message(1, method, "2026-07-28", interim)["result"]["inputRequests"] == interim["inputRequests"]


def test_error_status_by_era() -> None:
    assert error_status(-32601, "modern") == 404
    assert error_status(-32601, "handshake") == 200
    assert error_status(-32700, "handshake") == 400
    assert error_status(-32603, "modern") == 200
    assert (
        encode_error(ProtocolError(-32600, "bad"))
        == b'{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"bad"}}'
    )


@pytest.mark.parametrize(
    ("mime", "chunks", "pieces", "text"),
    [
        # a character split between two streamed chunks, then a byte that is no UTF-8 (windows-1252's
        # ÿ, as test_text_not_utf8 has it): nothing is lost or mangled
        (b"text/plain", [b"caf\xc3", b"\xa9 ok", b" \xff", b""], ["caf", "\xe9 ok", " \xff"], "caf\xe9 ok \xff"),
        (b"text/plain", [b"\xe2\x82", b"\xac!", b""], ["\u20ac!"], "\u20ac!"),  # split before anything decoded
        (b"text/plain", ["na\xefve".encode(), " caf\xe9".encode(), b""], ["na\xefve", " caf\xe9"], "na\xefve caf\xe9"),
        (b"text/plain; charset=utf-16-le", ["h\xe9".encode("utf-16-le")[:3], b"\x00", b""], ["h", "\xe9"], "h\xe9"),
    ],
)
def test_streamed_text_is_decoded_across_chunk_boundaries(
    mime: bytes, chunks: list[bytes], pieces: list[str], text: str
) -> None:
    collector = ResponseCollector(path="/x", structured=False, max_text=1000, max_binary=1000)
    collector.head(200, ((b"content-type", mime),))
    seen: list[str] = []
    for number, chunk in enumerate(chunks):
        seen += collector.feed(chunk, number < len(chunks) - 1)
    assert seen == pieces
    assert collector.text() == text


# parse_message reads a request with its four members well typed in one step and hands anything
# else to the full rules: each case below is one the quick read declines, classified as before.
_CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "x"}}


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (_CALL, Request(7, "tools/call", {"name": "x"})),
        ({**_CALL, "id": "a"}, Request("a", "tools/call", {"name": "x"})),
        ({**_CALL, "params": None}, Request(7, "tools/call", None)),  # null params: as absent
        ({"jsonrpc": "2.0", "id": 1, "method": "ping"}, Request(1, "ping", None)),
        ({"jsonrpc": "2.0", "method": "notifications/initialized"}, Notification("notifications/initialized", None)),
        (
            {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}},
            Notification("notifications/cancelled", {"requestId": 1}),
        ),
        ({"jsonrpc": "2.0", "id": 3, "result": {}}, ClientReply(3, {"jsonrpc": "2.0", "id": 3, "result": {}})),
    ],
)
def test_messages_are_classified(message: dict[str, Any], expected: object) -> None:
    assert parse_message(message) == expected
    assert type(parse_message(message)) is type(expected)


@pytest.mark.parametrize(
    ("message", "code", "request_id"),
    [
        ({**_CALL, "jsonrpc": "1.0"}, -32600, 7),
        ({**_CALL, "id": True}, -32600, None),  # a boolean is no id
        ({**_CALL, "id": 1.5}, -32600, None),
        ({**_CALL, "id": None}, -32600, None),
        ({**_CALL, "method": 5}, -32600, 7),
        ({"jsonrpc": "2.0", "id": 7, "result": {}, "error": {}}, -32600, 7),  # neither a request nor a reply
        ({**_CALL, "params": [1]}, -32602, 7),
        ({**_CALL, "params": "x"}, -32602, 7),
        ([_CALL], -32600, None),
        ("x", -32600, None),
        (None, -32600, None),
    ],
)
def test_malformed_messages_are_refused_by_the_full_rules(message: Any, code: int, request_id: Any) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_message(message)
    assert (caught.value.code, caught.value.id) == (code, request_id)


def test_a_marked_request_with_every_member_is_refused_for_its_integer() -> None:
    marked = parse_payload(b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n":123456789012345678901234}}')
    with pytest.raises(ProtocolError) as caught:
        parse_message(marked)
    assert (caught.value.code, caught.value.id) == (-32602, 1)
    assert "beyond 64 bits" in caught.value.message
