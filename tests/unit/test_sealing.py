"""``sealing``: what a requestState is bound to beside its target, and the secret it is sealed with."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from mcp_middleware import MCPMiddleware
from mcp_middleware.sealing import ENV_SECRET, Sealer, Sessions, StateError, bound_target


def nested(depth: int, leaf: Any) -> Any:
    value: Any = leaf
    for _ in range(depth):
        value = {"k": [value]}
    return value


def test_the_binding_ignores_key_order_and_tells_callers_and_arguments_apart() -> None:
    one = bound_target("tool:t", b"Bearer a", {"x": 1, "y": [1, {"b": 2, "a": 3}]})
    assert one == bound_target("tool:t", b"Bearer a", {"y": [1, {"a": 3, "b": 2}], "x": 1})
    assert one.startswith("tool:t ")
    assert one != bound_target("tool:t", b"Bearer b", {"x": 1, "y": [1, {"b": 2, "a": 3}]})
    assert one != bound_target("tool:t", b"Bearer a", {"x": 2, "y": [1, {"b": 2, "a": 3}]})
    assert one != bound_target("tool:u", b"Bearer a", {"x": 1, "y": [1, {"b": 2, "a": 3}]})


def test_arguments_nested_deeper_than_orjson_writes_still_bind() -> None:
    """orjson refuses depth > 254 (a request may nest deeper); the fallback walks without recursion."""
    deep = nested(600, "a")
    assert bound_target("tool:t", b"", deep) == bound_target("tool:t", b"", nested(600, "a"))
    distinct = [deep, nested(600, "b"), nested(601, "a"), nested(600, ["a"]), nested(600, {"a": None})]
    assert len({bound_target("tool:t", b"", value) for value in distinct}) == len(distinct)
    # keys and string values are kept apart, and objects from arrays
    shallow = [{"k": "v"}, {"k": ["v"]}, [["k", "v"]], ["k", "v"], {"v": "k"}]
    flat = {bound_target("tool:t", b"", {"d": nested(300, value)}) for value in shallow}
    assert len(flat) == len(shallow)


def test_arguments_with_integers_beyond_64_bits_still_bind() -> None:
    """Review: orjson refuses such integers, and the fallback encoded its flat tokens with orjson
    too, so a TypeError escaped (a 500 when a requestState came with them)."""
    big = {"amount": 2**70, "deep": nested(300, 2**80)}
    assert bound_target("tool:t", b"", big) == bound_target(
        "tool:t", b"", {"deep": nested(300, 2**80), "amount": 2**70}
    )
    assert bound_target("tool:t", b"", big) != bound_target("tool:t", b"", {**big, "amount": 2**70 + 1})


@pytest.mark.parametrize("secret", ["", b""])
def test_an_empty_state_secret_is_refused(secret: str | bytes) -> None:
    """state_secret="" (say, os.environ.get("SECRET", "")) used to be an empty HMAC key: anyone
    could forge a requestState or a session id."""
    with pytest.raises(ValueError, match="state_secret must not be empty"):
        MCPMiddleware(FastAPI(), state_secret=secret)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, lambda key: key.decode()])
def test_a_secret_may_be_any_bytes_like_value_or_a_string(kind: Any) -> None:
    """Regression: the construction-time check refused a bytearray or memoryview secret, which had
    worked. Any bytes-like secret is taken as its bytes: the same key as bytes, or the string."""
    key = b"0123456789abcdef0123456789abcdef"
    sealed = MCPMiddleware(FastAPI(), state_secret=key).server.sealer.seal("v", "t")
    assert MCPMiddleware(FastAPI(), state_secret=kind(key)).server.sealer.unseal(sealed, "t") == "v"


def test_an_empty_secret_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SECRET, "")
    token = Sealer().seal("v", "t")
    with pytest.raises(StateError):
        Sealer().unseal(token, "t")  # each made its own random key
    with pytest.raises(StateError):
        Sealer(b"").unseal(token, "t")
    monkeypatch.setenv(ENV_SECRET, "shared")
    assert Sealer().unseal(Sealer().seal("v", "t"), "t") == "v"


def _payload(token: str) -> bytes:
    body = token.partition(".")[0]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def test_the_readable_payload_holds_no_credential_derived_value() -> None:
    """Regression: a requestState's payload (base64 JSON: MACed, not encrypted) carried the bound
    target with an unsalted SHA-256 of the caller's credentials, so anyone who saw a state (client
    logs, a proxy) could test password guesses offline. It carries only an HMAC of the binding,
    keyed with the secret; what opens the state is unchanged."""
    principal = b"authorization: Basic " + base64.b64encode(b"alice:summer2024")
    target = bound_target("tool:ask", principal, {"amount": 5})
    token = Sealer(b"k").seal_round("s", {}, target)
    payload = _payload(token)
    assert hashlib.sha256(principal).hexdigest().encode() not in payload
    assert not [part for part in target.split(" ") if part.encode() in payload]
    assert set(orjson.loads(payload)) == {"v", "b", "e"}
    other_secret = orjson.loads(_payload(Sealer(b"other").seal_round("s", {}, target)))
    assert other_secret["b"] != orjson.loads(payload)["b"]  # keyed: no digest anyone can compute
    assert Sealer(b"k").unseal_round(token, target) == ("s", {})
    with pytest.raises(StateError, match="does not belong to this request"):
        Sealer(b"k").unseal_round(token, bound_target("tool:ask", b"authorization: Basic bWFsbG9yeTp4", {"amount": 5}))
    with pytest.raises(StateError, match="failed verification"):
        Sealer(b"other").unseal_round(token, target)


def test_a_state_sealed_with_a_readable_binding_does_not_open() -> None:
    """A state of the earlier format (its binding readable, under "t"), genuinely MACed, carries no
    keyed binding: refused as belonging to no request, like any state without one."""
    target = bound_target("tool:ask", b"authorization: Bearer a", {})
    payload = orjson.dumps({"v": {"s": None, "a": {}}, "t": target, "e": int(time.time() + 60)})
    mac = hmac.new(b"k", payload, hashlib.sha256).digest()
    token = f"{base64.urlsafe_b64encode(payload).decode()}.{base64.urlsafe_b64encode(mac).decode()}"
    with pytest.raises(StateError, match="does not belong to this request"):
        Sealer(b"k").unseal_round(token, target)


KEY = b"0123456789abcdef0123456789abcdef"


def test_session_ids_and_request_states_never_open_as_each_other() -> None:
    sealer, sessions = Sealer(KEY), Sessions(KEY)
    target = bound_target("tool:ask", b"authorization: Bearer a", {"x": 1})
    state, session = sealer.seal_round("s", {}, target), sessions.mint()
    assert sessions.valid(session)
    assert sessions.valid(None)  # never required
    assert not sessions.valid(state)
    with pytest.raises(StateError, match="does not belong to this request"):
        sealer.unseal_round(session, target)
    assert not sessions.valid(session + "x")
    assert not Sessions(b"another-secret-of-32-bytes-here!").valid(session)
    assert Sessions(KEY).valid(session)  # any worker with the secret


def test_a_session_id_is_checked_with_one_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: each check of a session id (every handshake-era POST with session_ids) computed the
    HMAC of the constant "session" binding again, which made it ~60% slower; the binding is
    computed once per Sessions, and a check computes only the token's MAC."""
    sessions = Sessions(KEY)
    session = sessions.mint()
    made: list[bytes] = []
    new = hmac.new

    def counting(key: bytes, message: bytes, digestmod: Any) -> hmac.HMAC:
        made.append(message)
        return new(key, message, digestmod)

    monkeypatch.setattr(hmac, "new", counting)  # as sealing calls it
    assert sessions.valid(session)
    assert sessions.mint() != session
    assert len(made) == 2  # one MAC to check, one to mint
