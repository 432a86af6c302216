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
from mcp_middleware.config import ENV_SECRET
from mcp_middleware.sealing import ASKED, Sealer, Session, Sessions, StateError, bound_target, kept_capabilities

KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"another-secret-of-32-bytes-here!"


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


def sealer_of(**options: Any) -> Sealer:
    sealer: Sealer = MCPMiddleware(FastAPI(), **options).server.sealer
    return sealer


@pytest.mark.parametrize("secret", ["", b"", "x", "fifteen bytes!!", b"k" * 15, "é" * 7 + "e"])
def test_a_state_secret_shorter_than_16_bytes_is_refused(secret: str | bytes) -> None:
    """Hardening: a secret of a few bytes can be found offline from one requestState or session id
    (each carries its HMAC), and then states and ids can be forged; one of less than 16 bytes (128
    bits, counted in UTF-8) is refused, saying how to make one, without showing it. An empty one
    (say, os.environ.get("SECRET", "")) was refused already."""
    with pytest.raises(ValueError, match=r"^state_secret must be at least 16 bytes") as refused:
        MCPMiddleware(FastAPI(), state_secret=secret)
    message = str(refused.value)
    assert 'python -c "import secrets; print(secrets.token_urlsafe(32))"' in message
    assert "fifteen" not in message


@pytest.mark.parametrize("secret", ["0123456789abcdef", b"k" * 16, "é" * 8])
def test_a_state_secret_of_16_bytes_or_more_is_taken(secret: str | bytes) -> None:
    sealer = sealer_of(state_secret=secret)
    assert sealer.unseal(sealer.seal("v", "t"), "t") == "v"


def test_the_secret_variable_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """$MCP_MIDDLEWARE_STATE_SECRET, read when no state_secret is given, has the same minimum (the
    message names the variable); when state_secret is given, the variable is not read."""
    monkeypatch.setenv(ENV_SECRET, "tiny-key")
    with pytest.raises(ValueError, match=rf"^{ENV_SECRET} must be at least 16 bytes") as refused:
        MCPMiddleware(FastAPI())
    assert "tiny" not in str(refused.value)
    assert sealer_of(state_secret=KEY).unseal(Sealer(KEY).seal("v", "t"), "t") == "v"
    monkeypatch.setenv(ENV_SECRET, KEY.decode())
    assert sealer_of().unseal(Sealer(KEY).seal("v", "t"), "t") == "v"  # every worker shares it


@pytest.mark.parametrize("variable", [None, ""])
def test_without_a_secret_each_middleware_makes_a_random_one(
    monkeypatch: pytest.MonkeyPatch, variable: str | None
) -> None:
    """No state_secret and no variable (an empty one counts as unset): a random key per process,
    which opens its own states and no other's."""
    if variable is None:
        monkeypatch.delenv(ENV_SECRET, raising=False)
    else:
        monkeypatch.setenv(ENV_SECRET, variable)
    one, two = sealer_of(), sealer_of(session_ids=True)
    token = one.seal("v", "t")
    assert one.unseal(token, "t") == "v"
    with pytest.raises(StateError):
        two.unseal(token, "t")


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview, lambda key: key.decode()])
def test_a_secret_may_be_any_bytes_like_value_or_a_string(kind: Any) -> None:
    """Regression: the construction-time check refused a bytearray or memoryview secret, which had
    worked. Any bytes-like secret is taken as its bytes: the same key as bytes, or the string."""
    key = b"0123456789abcdef0123456789abcdef"
    sealed = MCPMiddleware(FastAPI(), state_secret=key).server.sealer.seal("v", "t")
    assert MCPMiddleware(FastAPI(), state_secret=kind(key)).server.sealer.unseal(sealed, "t") == "v"


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
    token = Sealer(KEY).seal_round("s", {}, target)
    payload = _payload(token)
    assert hashlib.sha256(principal).hexdigest().encode() not in payload
    assert not [part for part in target.split(" ") if part.encode() in payload]
    assert set(orjson.loads(payload)) == {"v", "b", "e"}
    other_secret = orjson.loads(_payload(Sealer(OTHER).seal_round("s", {}, target)))
    assert other_secret["b"] != orjson.loads(payload)["b"]  # keyed: no digest anyone can compute
    assert Sealer(KEY).unseal_round(token, target) == ("s", {})
    with pytest.raises(StateError, match="does not belong to this request"):
        Sealer(KEY).unseal_round(token, bound_target("tool:ask", b"authorization: Basic bWFsbG9yeTp4", {"amount": 5}))
    with pytest.raises(StateError, match="failed verification"):
        Sealer(OTHER).unseal_round(token, target)


def test_a_state_sealed_with_a_readable_binding_does_not_open() -> None:
    """A state of the earlier format (its binding readable, under "t"), genuinely MACed, carries no
    keyed binding: refused as belonging to no request, like any state without one."""
    target = bound_target("tool:ask", b"authorization: Bearer a", {})
    payload = orjson.dumps({"v": {"s": None, "a": {}}, "t": target, "e": int(time.time() + 60)})
    mac = hmac.new(KEY, payload, hashlib.sha256).digest()
    body, sig = (base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in (payload, mac))
    token = f"{body}.{sig}"  # unpadded, as the sealer writes them
    with pytest.raises(StateError, match="does not belong to this request"):
        Sealer(KEY).unseal_round(token, target)


def test_session_ids_and_request_states_never_open_as_each_other() -> None:
    sealer, sessions = Sealer(KEY), Sessions(KEY)
    target = bound_target("tool:ask", b"authorization: Bearer a", {"x": 1})
    state, session = sealer.seal_round("s", {}, target), sessions.mint({}, "2025-11-25")
    assert sessions.open(session) == Session({}, "2025-11-25")
    assert sessions.open(None) is None  # never required
    with pytest.raises(StateError, match="does not belong to this request"):
        sessions.open(state)
    with pytest.raises(StateError, match="does not belong to this request"):
        sealer.unseal_round(session, target)
    with pytest.raises(StateError):
        sessions.open(session + "x")
    with pytest.raises(StateError):
        Sessions(OTHER).open(session)
    assert Sessions(KEY).open(session) == Session({}, "2025-11-25")  # any worker with the secret


def test_a_session_id_carries_the_capabilities_a_route_s_questions_need() -> None:
    """The handshake era's initialize capabilities, kept in the session id (no store): roots,
    sampling and elicitation, as declared (objects; null or anything else is not declared), their
    sub-capabilities by name (a value true or false as sent, else {}; null is not declared), and the
    negotiated revision."""
    sessions = Sessions(KEY)
    declared = {
        "roots": {"listChanged": True},
        "sampling": {"tools": {"x": [1, {"y": 2}]}, "context": None, "z": False, "n": 3},
        "elicitation": None,
        "experimental": {"x": {}},
        "tasks": {},
    }
    kept = {"roots": {"listChanged": True}, "sampling": {"tools": {}, "n": {}, "z": False}}
    assert Sessions(KEY).open(sessions.mint(declared, "2025-06-18")) == Session(kept, "2025-06-18")
    assert sessions.open(sessions.mint({"sampling": True}, "2025-03-26")) == Session({}, "2025-03-26")
    assert sessions.open(sessions.mint(None, "2024-11-05")) == Session({}, "2024-11-05")  # declares none


def test_a_session_id_stays_small_whatever_the_capabilities() -> None:
    """Review: the id sealed the capabilities as sent: 300 levels deep could not be sealed (orjson
    writes 254), 100 kB made a 133 kB header. At most 8 sub-capabilities of each, named in at most
    32 characters, the ones the rules read first."""
    sessions = Sessions(KEY)
    many = {f"x{i:03}": nested(300, "A" * 1000) for i in range(1000)}
    declared = {name: {**many, "y" * 33: {}, "tools": nested(300, 1), "form": {}} for name in ASKED}
    session = sessions.mint(declared, "2025-11-25")
    assert len(session) < 600
    opened = sessions.open(session)
    assert opened is not None
    first: dict[str, Any] = {"form": {}, "tools": {}, **{f"x{i:03}": {} for i in range(6)}}
    assert opened.declared == {name: first for name in ASKED}
    assert kept_capabilities(opened.declared) == opened.declared


def test_a_session_id_minted_without_capabilities_opens_as_unknown() -> None:
    """An id sealed before session ids kept capabilities (a random value alone) is still valid; what
    its client declared is unknown."""
    sealer = Sealer(KEY, 30 * 24 * 3600.0)
    earlier = sealer.seal_bound("0f" * 16, sealer.binding("session"))
    assert Sessions(KEY).open(earlier) is None


def test_a_session_id_minted_without_a_revision_opens_with_its_capabilities_kept() -> None:
    """An id sealed when ids carried the capabilities whole, and no revision, still opens: the
    capabilities as a new id keeps them, the revision unknown."""
    sealer = Sealer(KEY, 30 * 24 * 3600.0)
    sampling = {"tools": nested(100, 1), "context": None}
    earlier = sealer.seal_bound({"r": "0f" * 16, "c": {"sampling": sampling, "tasks": {}}}, sealer.binding("session"))
    assert Sessions(KEY).open(earlier) == Session({"sampling": {"tools": {}}}, None)


def test_a_session_id_is_checked_with_one_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: each check of a session id (every handshake-era POST with session_ids) computed the
    HMAC of the constant "session" binding again, which made it ~60% slower; the binding is
    computed once per Sessions, and a check computes only the token's MAC."""
    sessions = Sessions(KEY)
    session = sessions.mint({}, "2025-11-25")
    made: list[bytes] = []
    new = hmac.new

    def counting(key: bytes, message: bytes, digestmod: Any) -> hmac.HMAC:
        made.append(message)
        return new(key, message, digestmod)

    monkeypatch.setattr(hmac, "new", counting)  # as sealing calls it
    assert sessions.open(session) == Session({}, "2025-11-25")
    assert sessions.mint({}, "2025-11-25") != session
    assert len(made) == 2  # one MAC to check, one to mint


@pytest.mark.parametrize("where", ["body", "mac"])
@pytest.mark.parametrize("junk", ["!!", "~", "\n", "="])
def test_a_token_is_read_only_in_the_form_it_was_written(where: str, junk: str) -> None:
    """Review: the base64 decoder dropped characters outside its alphabet, so a token with junk
    inserted still opened (nothing could be forged, since the bytes were the same, but one state
    had many spellings). Each part must be the exact unpadded URL-safe base64 of its bytes."""
    sealer = Sealer(KEY)
    body, _, mac = sealer.seal("v", "t").partition(".")
    token = f"{body[:4]}{junk}{body[4:]}.{mac}" if where == "body" else f"{body}.{mac[:4]}{junk}{mac[4:]}"
    with pytest.raises(StateError, match="malformed"):
        sealer.unseal(token, "t")
    assert sealer.unseal(f"{body}.{mac}", "t") == "v"
