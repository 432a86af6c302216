"""A client notification of a known method whose params its revision's wire type refuses
(``mcp_types.methods.validate_client_notification``) is not accepted: HTTP 400 with a JSON-RPC
error (id null, -32602, ``data`` naming the method and the param), as a request with bad params
gets -32602. transports.mdx §Sending Messages (2025-03-26 .. 2025-11-25 item 4, 2026-07-28 §5):
"If the server cannot accept the input, it MUST return an HTTP error status code". It was
answered 202 and dropped (review: repro_malformed_notifications.py), so a client whose
cancellation was malformed was told it was accepted. Unknown notification methods stay 202."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from tests.apps import Gates, build_app
from tests.support import BASE_HEADERS, MODERN, Exchange, cancelled, meta, modern_headers, post, request

pytestmark = pytest.mark.anyio

HANDSHAKE = [None, "2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"]
SLOW = {"name": "slow", "arguments": {}}


def _note(method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def _headers(version: str | None) -> dict[str, str]:
    return BASE_HEADERS if version is None else {**BASE_HEADERS, "mcp-protocol-version": version}


def _refused(reply: Any, method: str, field: str) -> None:
    assert reply.status == 400
    assert reply.content_type == "application/json"
    body = reply.json()
    assert body["id"] is None
    assert body["error"]["code"] == -32602
    assert body["error"]["message"].startswith(f"Invalid params: {field}")
    assert body["error"]["data"] == {"method": method, "param": field}


BAD = [
    ("notifications/cancelled", {"requestId": [5]}, "requestId"),
    ("notifications/cancelled", {"requestId": 5, "reason": 7}, "reason"),
    ("notifications/progress", {"progressToken": 1, "progress": "x"}, "progress"),
    ("notifications/progress", {"progress": 1}, "progressToken"),
    ("notifications/initialized", {"_meta": 5}, "_meta"),
    ("notifications/roots/list_changed", {"_meta": 5}, "_meta"),
    # the SDK takes these (lax), but no request of ours has such an id: a request id 5.0 or true is
    # refused (-32600), so a cancellation naming one is refused as naming no id
    ("notifications/cancelled", {"requestId": 5.0}, "requestId"),
    ("notifications/cancelled", {"requestId": True}, "requestId"),
]


@pytest.mark.parametrize("version", HANDSHAKE)
@pytest.mark.parametrize(("method", "params", "field"), BAD)
async def test_a_handshake_notification_with_bad_params_is_400(
    version: str | None, method: str, params: dict[str, Any], field: str
) -> None:
    reply = await post(build_app(), _note(method, params), _headers(version))
    _refused(reply, method, field)


@pytest.mark.parametrize("version", HANDSHAKE)
@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("notifications/cancelled", {"requestId": 5}),
        ("notifications/cancelled", {"requestId": "a", "reason": "no longer needed"}),
        ("notifications/cancelled", {"requestId": None}),  # the SDK's type takes it; it names nothing
        ("notifications/progress", {"progressToken": "t", "progress": 1, "total": 2}),
        ("notifications/initialized", {"x": 1}),
        ("notifications/roots/list_changed", None),
        ("x/unknown", {"requestId": [5]}),  # an unknown method: no type to check it by, accepted
    ],
)
async def test_a_handshake_notification_with_good_params_or_an_unknown_method_is_still_202(
    version: str | None, method: str, params: Any
) -> None:
    body = _note(method, params) if params is not None else {"jsonrpc": "2.0", "method": method}
    reply = await post(build_app(), body, _headers(version))
    assert (reply.status, reply.body) == (202, b"")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "requestId"),
        ({"requestId": [5]}, "requestId"),
        ({"requestId": None}, "requestId"),
        ({"requestId": 5.0}, "requestId"),
    ],
)
async def test_a_2026_07_28_cancellation_with_bad_params_is_400(params: dict[str, Any], field: str) -> None:
    body = _note("notifications/cancelled", {**params, "_meta": meta()})
    reply = await post(build_app(), body, modern_headers("notifications/cancelled"))
    _refused(reply, "notifications/cancelled", field)


@pytest.mark.parametrize("header", ["2025-06-18", "2025-11-25"])
@pytest.mark.parametrize(("params", "status"), [({}, 400), ({"requestId": 3}, 202)])
async def test_a_tolerated_2026_07_28_cancellation_is_checked_by_its_meta_s_revision(
    header: str, params: dict[str, Any], status: int
) -> None:
    """The tolerated path (a handshake revision's header, a 2026-07-28 ``_meta`` envelope, as
    claude.ai's connectors send): the notification is read as 2026-07-28, its envelope's revision,
    whose cancellation requires ``requestId`` (the handshake revisions' SDK type does not: ``{}``
    would be 202). ``_check_notification`` returning the header's revision survived the suite."""
    body = _note("notifications/cancelled", {**params, "_meta": meta()})
    reply = await post(build_app(), body, _headers(header))
    if status == 400:
        _refused(reply, "notifications/cancelled", "requestId")
    else:
        assert (reply.status, reply.body) == (202, b"")


@pytest.mark.parametrize("method", ["notifications/initialized", "x/unknown"])
async def test_a_2026_07_28_notification_of_no_known_method_is_still_202(method: str) -> None:
    """No type of 2026-07-28 to check it by (initialized is gone there): accepted, as before."""
    reply = await post(build_app(), _note(method, {"_meta": 5}), modern_headers(method, version=MODERN))
    assert (reply.status, reply.body) == (202, b"")


@pytest.mark.parametrize("request_id", [5.0, True, [5], "5"])
async def test_a_refused_cancellation_cancels_nothing_and_a_good_one_then_does(request_id: Any) -> None:
    """``requestId: 5.0`` passed the SDK's type, was answered 202 and cancelled nothing (the call's
    id is 5). It is now refused (400), as a request id 5.0 is: the package takes an id to be a
    string or an integer exactly, never matching 5.0 to 5. ("5" is a good id that names no call:
    202, nothing cancelled.)"""
    gates = Gates()
    app = build_app(gates)
    headers = {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"}
    ex = Exchange(app, request("tools/call", SLOW, id=5), headers)
    with anyio.fail_after(10):  # a deadlock guard only; nothing waits on time
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            reply = await post(app, cancelled(request_id), headers)
            assert reply.status == (202 if request_id == "5" else 400)
            assert not gates.cancelled.is_set()
            assert (await post(app, cancelled(5), headers)).status == 202
            await gates.cancelled.wait()


async def test_a_request_id_5_0_is_refused_as_no_id() -> None:
    """What the cancellation's rule follows: a request whose id is 5.0 is no request (-32600)."""
    reply = await post(build_app(), {"jsonrpc": "2.0", "id": 5.0, "method": "ping"})
    assert reply.status == 400
    assert reply.json()["error"]["code"] == -32600


@pytest.mark.parametrize("bad_first", [True, False])
async def test_a_batch_with_requests_and_a_bad_notification_is_refused_whole(bad_first: bool) -> None:
    """It used to be answered 200 with an error item of id null for the notification and the
    requests answered. JSON-RPC 2.0 §6: "The Server MUST NOT reply to a Notification, including
    those that are within a batch request", and no client takes an item with id null (the TS SDK's
    JSONRPCMessageSchema refuses it; 2025-03-26's JSONRPCError.id is a RequestId). The batch is
    refused whole before any item runs, with the 400 a lone bad notification gets (transports.mdx
    §Sending Messages: input the server cannot accept gets an HTTP error status), as an over-limit
    batch is."""
    bad = _note("notifications/cancelled", {"requestId": [5]})
    batch = [bad, request("ping", id=2)] if bad_first else [request("ping", id=2), bad]
    _refused(await post(build_app(), batch), "notifications/cancelled", "requestId")


async def test_a_bad_cancellation_in_a_batch_with_a_request_acts_on_nothing() -> None:
    """Refused whole before any item runs: the good cancellation of call 5 ahead of the bad one
    is not acted on (it was, when the batch's items ran in order and the bad one got an item)."""
    gates = Gates()
    app = build_app(gates)
    ex = Exchange(app, request("tools/call", SLOW, id=5))
    with anyio.fail_after(10):  # a deadlock guard only; nothing waits on time
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            batch = [cancelled(5), request("ping", id=2), cancelled(5.0)]
            _refused(await post(app, batch), "notifications/cancelled", "requestId")
            assert not gates.cancelled.is_set()
            gates.release[0].set()
            gates.release[1].set()
            gates.release[2].set()
    assert not gates.cancelled.is_set()


async def test_a_batch_of_notifications_with_a_bad_one_is_400_and_acts_on_none() -> None:
    """A batch of only notifications and responses is all or nothing (_answers_only): the good
    cancellation in it is not acted on either."""
    gates = Gates()
    app = build_app(gates)
    ex = Exchange(app, request("tools/call", SLOW, id=5))
    with anyio.fail_after(10):  # a deadlock guard only; nothing waits on time
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            reply = await post(app, [cancelled(5), _note("notifications/progress", {"progress": 1})])
            assert reply.status == 400
            assert [(m["id"], m["error"]["code"]) for m in reply.json()] == [(None, -32602)]
            assert not gates.cancelled.is_set()
            for gate in gates.release[:3]:
                gate.set()
    assert not gates.cancelled.is_set()
