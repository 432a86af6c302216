"""The remembered SDK validation: same verdicts as the SDK, and what may vary really is free."""

from __future__ import annotations

import copy
import tracemalloc
import types
import typing
from typing import Any

import orjson
import pytest
from mcp_types.methods import CLIENT_REQUESTS, validate_client_request
from pydantic import ValidationError

from mcp_middleware import validation
from mcp_middleware.validation import RequestValidator

MODERN = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": MODERN,
    "io.modelcontextprotocol/clientCapabilities": {},
}


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []

    def counted(method: str, version: str, params: Any) -> None:
        seen.append((method, version))
        validate_client_request(method, version, params)

    monkeypatch.setattr(validation, "validate_client_request", counted)
    return seen


def _call(arguments: Any, token: Any = None, name: str = "get_item") -> dict[str, Any]:
    meta = dict(META) if token is None else {**META, "progressToken": token}
    return {"name": name, "arguments": arguments, "_meta": meta}


def test_the_same_envelope_is_validated_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _counting(monkeypatch)
    checker = RequestValidator()
    checker.check("tools/call", MODERN, _call({"item_id": 1}, token="a"))
    checker.check("tools/call", MODERN, _call({"item_id": 2, "q": [1, {"x": None}]}, token=7))
    checker.check("tools/call", MODERN, _call({}, token="b"))
    assert len(seen) == 1
    checker.check("tools/call", MODERN, _call({}, name="other"))  # another envelope
    checker.check("tools/call", "2025-06-18", _call({}))  # another revision
    checker.check("ping", "2025-06-18", None)
    checker.check("ping", "2025-06-18", None)
    assert len(seen) == 4


@pytest.mark.parametrize(
    "params",
    [
        # the twin's token too, so that only what is invalid tells them apart from the twin:
        _call(True, token="t"),  # arguments must be an object: not mistaken for "an object was there"
        _call([1, 2], token="t"),
        _call({"a": 1}, token=1.5),
        _call({"a": 1}, token={"t": 1}),
        {"arguments": {}, "_meta": {**META, "progressToken": "t"}},  # no name
        {"name": 3, "arguments": {}, "_meta": {**META, "progressToken": "t"}},
    ],
)
def test_invalid_params_fail_every_time_even_after_a_valid_twin(params: dict[str, Any]) -> None:
    checker = RequestValidator()
    checker.check("tools/call", MODERN, _call({"a": 1}, token="t"))
    for _ in range(2):
        with pytest.raises(ValidationError):
            checker.check("tools/call", MODERN, params)


def test_params_beyond_what_json_can_encode_are_validated_every_time(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _counting(monkeypatch)
    checker = RequestValidator()
    for _ in range(2):
        checker.check("tools/call", MODERN, _call({"a": 1}, token="t") | {"big": 2**70})
    assert len(seen) == 2


def test_the_memory_is_bounded() -> None:
    checker = RequestValidator()
    for number in range(validation._LIMIT + 10):
        checker.check("tools/call", MODERN, _call({}, name=f"tool_{number}"))
    assert len(checker._valid) <= validation._LIMIT


def _free(annotation: Any, wanted: set[Any]) -> bool:
    args = set(typing.get_args(annotation)) if isinstance(annotation, types.UnionType) else {annotation}
    return args == wanted


@pytest.mark.parametrize("key", [key for key in CLIENT_REQUESTS if key[0] in validation._FREE_ARGUMENTS])
def test_the_parts_left_out_of_the_key_accept_any_value_of_their_json_type(key: tuple[str, str]) -> None:
    """If a revision of the SDK ever constrains them, the remembered check would be wrong: fail here."""
    params_model: Any = CLIENT_REQUESTS[key].model_fields["params"].annotation
    assert _free(params_model.model_fields["arguments"].annotation, {dict[str, Any], type(None)})
    meta_model: Any = params_model.model_fields["meta"].annotation
    meta_model = (
        next(a for a in typing.get_args(meta_model) if a is not type(None)) if _is_optional(meta_model) else meta_model
    )
    token = meta_model.model_fields["progress_token"].annotation
    assert set(typing.get_args(token)) - {type(None)} == {str, int}


def _is_optional(annotation: Any) -> bool:
    return isinstance(annotation, types.UnionType) and type(None) in typing.get_args(annotation)


@pytest.mark.parametrize("name", ["get_item", 3])
def test_params_are_left_as_they_were(name: Any) -> None:
    params = {"name": name, "arguments": {"a": [1]}, "_meta": {**META, "progressToken": "t"}}
    before = copy.deepcopy(params)
    try:
        RequestValidator().check("tools/call", MODERN, params)
    except ValidationError:
        assert name == 3
    assert params == before


@pytest.mark.parametrize("method", ["tools/call", "prompts/get", "resources/read"])
def test_input_responses_are_checked_as_objects_only(method: str) -> None:
    """Each answer is checked against the result type of the request it answers, where it is used
    (interaction): against the SDK's union of every answer type an elicitation's bad answer was told
    in the last member's terms (``CreateMessageResult.content: Field required``)."""
    params: dict[str, Any] = {"tools/call": _call({}), "prompts/get": {"name": "p", "_meta": META}}.get(
        method, {"uri": "file:///a", "_meta": META}
    )
    answers = {"a": {"action": "maybe"}, "b": {"content": {}}}
    RequestValidator().check(method, MODERN, {**params, "inputResponses": answers})
    RequestValidator().check(method, MODERN, {**params, "inputResponses": None})
    for bad, where in [({"a": 5}, ("inputResponses", "a")), ([], ("inputResponses",))]:
        with pytest.raises(ValidationError) as caught:
            RequestValidator().check(method, MODERN, {**params, "inputResponses": bad})
        assert caught.value.errors()[0]["loc"] == where
    broken = {**params, "inputResponses": answers, "_meta": {}}  # the rest of the params is still checked
    with pytest.raises(ValidationError):
        RequestValidator().check(method, MODERN, broken)
    assert broken["inputResponses"] is answers  # the params are left as they were


def test_input_responses_of_a_handshake_request_are_left_to_the_sdk() -> None:
    """No handshake revision has them: the SDK ignores them, and so does the check."""
    RequestValidator().check("tools/call", "2025-11-25", {"name": "t", "arguments": {}, "inputResponses": 5})


def test_large_envelopes_are_validated_every_time_and_never_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Review: each distinct envelope was kept whole (1,000 pings of 4 MB with distinct ``_meta``
    held ~4 GB). One longer than ``KEPT_BYTES`` is checked each time and never kept."""
    seen = _counting(monkeypatch)
    checker = RequestValidator()
    large = {"_meta": {"note": "x" * (validation.KEPT_BYTES - 20)}}  # params of KEPT_BYTES + 1 bytes
    for _ in range(2):
        checker.check("ping", "2025-11-25", large)
    assert len(seen) == 2
    assert checker._valid == set()
    small = {"_meta": {"note": "x" * (validation.KEPT_BYTES - 21)}}
    for _ in range(2):
        checker.check("ping", "2025-11-25", small)
    assert len(seen) == 3
    assert [len(envelope[-1]) for _, _, envelope in checker._valid] == [validation.KEPT_BYTES]


@pytest.mark.parametrize(
    ("token", "size"), [(1, 194), (None, len(orjson.dumps(META)))], ids=["serialised", "name-meta"]
)
def test_a_kept_envelope_holds_its_own_length_only(token: int | None, size: int) -> None:
    """orjson's bytes keep the buffer it wrote into, 8 to 16 times their length (a 300-byte
    envelope held 4 KiB): what is kept is an exact-size copy (of the params without their free
    parts, or of a named call's ``_meta``)."""
    checker = RequestValidator()
    checker.check("tools/call", MODERN, _call({}, token, name="tool_warm_" + "x" * 60))  # the SDK's models built
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(200):
            checker.check("tools/call", MODERN, _call({}, token, name=f"tool_{number:04}_" + "x" * 60))
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    sizes = {len(envelope[-1]) for _, _, envelope in checker._valid}
    assert sizes == {size}
    assert held < 200 * 1024  # bytes, the tuples and the set's slots: ~0.5 KiB each


def test_a_call_of_only_a_name_and_arguments_is_keyed_by_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``tools/call`` whose params are exactly ``name`` (a string) and ``arguments`` (an object),
    as handshake-era clients send it, is keyed by the name, not by its serialised envelope: its
    verdict is remembered per name, whatever the arguments."""
    seen = _counting(monkeypatch)
    monkeypatch.setattr(orjson, "dumps", None)  # not serialised at all
    checker = RequestValidator()
    for arguments in ({"item_id": 1}, {"item_id": 2, "q": [1]}, {}):
        checker.check("tools/call", "2025-11-25", {"name": "get_item", "arguments": arguments})
    assert len(seen) == 1
    checker.check("tools/call", "2025-11-25", {"arguments": {}, "name": "other"})  # another name
    checker.check("tools/call", "2025-06-18", {"name": "get_item", "arguments": {}})  # another revision
    assert len(seen) == 3


@pytest.mark.parametrize(
    "params",
    [
        {"name": "get_item"},  # no arguments
        {"name": "get_item", "arguments": None},
        {"name": "get_item", "arguments": {}, "_meta": {"progressToken": 1}},
        {"name": "get_item", "arguments": {}, "extra": 1},
        {"name": 3, "arguments": {}},
        {"tool": "get_item", "arguments": {}},
    ],
    ids=["no-arguments", "null-arguments", "meta", "extra-key", "name-not-a-string", "no-name"],
)
def test_params_not_exactly_a_named_call_are_keyed_by_their_serialised_envelope(params: dict[str, Any]) -> None:
    """What the name's key declines takes the serialised envelope's, a tuple of another shape
    (a bool first where the name's key has None), so the two never meet in one table."""
    envelope = validation.envelope_of("tools/call", params)
    assert envelope is not None
    assert isinstance(envelope[0], bool)
    assert isinstance(envelope[-1], bytes)
    assert validation.envelope_of("tools/call", {"name": "get_item", "arguments": {}}) == (None, "get_item")
    assert validation.envelope_of("prompts/get", {"name": "p", "arguments": {}})[0] is False  # type: ignore[index]


def test_a_name_key_never_stands_for_a_serialised_envelope() -> None:
    """A valid call named as another's serialised params does not make those params valid."""
    checker = RequestValidator()
    checker.check("tools/call", "2025-11-25", {"name": '{"name":"t","arguments":true}', "arguments": {}})
    checker.check("tools/call", "2025-11-25", {"name": "t", "arguments": {}})
    for _ in range(2):
        with pytest.raises(ValidationError):
            checker.check("tools/call", "2025-11-25", {"name": "t", "arguments": True})
        with pytest.raises(ValidationError):
            checker.check("tools/call", "2025-11-25", {"name": 3, "arguments": {}})


def test_a_long_name_is_validated_every_time_and_never_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _counting(monkeypatch)
    checker = RequestValidator()
    for _ in range(2):
        checker.check("tools/call", "2025-11-25", {"name": "n" * (validation.KEPT_BYTES + 1), "arguments": {}})
    assert len(seen) == 2
    assert checker._valid == set()
    for _ in range(2):
        checker.check("tools/call", "2025-11-25", {"name": "n" * validation.KEPT_BYTES, "arguments": {}})
    assert len(seen) == 3


def test_a_named_call_with_an_envelope_is_keyed_by_its_name_and_meta(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``tools/call`` of exactly ``name`` (a string), ``arguments`` (an object) and ``_meta`` (an
    object without a progress token), as 2026-07-28 clients send it, is keyed by its name and its
    ``_meta``'s bytes: the params are not taken apart and serialised, and the verdict is remembered
    per name and envelope, whatever the arguments."""
    seen = _counting(monkeypatch)
    checker = RequestValidator()
    assert validation.envelope_of("tools/call", _call({"a": 1})) == (None, "get_item", orjson.dumps(META))
    for arguments in ({"item_id": 1}, {"item_id": 2, "q": [1]}, {}):
        checker.check("tools/call", MODERN, _call(arguments))
    assert len(seen) == 1
    checker.check("tools/call", MODERN, _call({}, name="other"))  # another name
    checker.check("tools/call", MODERN, {**_call({}), "_meta": {**META, "x": 1}})  # another envelope
    checker.check("tools/call", "2025-11-25", _call({}))  # another revision
    assert len(seen) == 4


@pytest.mark.parametrize(
    "params",
    [
        _call({}, token="t"),  # a progress token: the serialised envelope's, without it
        {"name": "get_item", "arguments": {}, "_meta": None},
        {"name": "get_item", "arguments": {}, "_meta": [1]},
        {"name": 3, "arguments": {}, "_meta": META},
        {"name": "get_item", "arguments": None, "_meta": META},
        {"name": "get_item", "arguments": {}, "_meta": META, "extra": 1},
    ],
    ids=["token", "null-meta", "list-meta", "name-not-a-string", "null-arguments", "extra-key"],
)
def test_what_the_name_and_meta_key_declines_is_keyed_by_its_serialised_envelope(params: dict[str, Any]) -> None:
    envelope = validation.envelope_of("tools/call", params)
    assert envelope is not None
    assert isinstance(envelope[0], bool)
    assert isinstance(envelope[-1], bytes)


@pytest.mark.parametrize(
    "meta",
    [
        META,
        {},
        {"io.modelcontextprotocol/protocolVersion": 5},
        {**META, "io.modelcontextprotocol/clientCapabilities": []},
        {**META, "io.modelcontextprotocol/logLevel": "loud"},
        {**META, "io.modelcontextprotocol/clientInfo": {"name": "c"}},
        {**META, "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "1"}},
    ],
)
@pytest.mark.parametrize("version", [MODERN, "2025-11-25"])
def test_a_name_and_meta_key_gives_the_sdks_verdict_warm_and_cold(meta: dict[str, Any], version: str) -> None:
    """Whatever the ``_meta``, a checker that already passed another call (warm) says what the SDK
    says, every time; and what it remembered never stands for a call with another ``_meta``."""
    params = {"name": "get_item", "arguments": {"x": 1}, "_meta": meta}
    try:
        validate_client_request("tools/call", version, params)
        valid = True
    except ValidationError:
        valid = False
    checker = RequestValidator()
    checker.check("tools/call", version, {"name": "get_item", "arguments": {}, "_meta": {**META, "other": 1}})
    for _ in range(2):
        try:
            checker.check("tools/call", version, copy.deepcopy(params))
            assert valid
        except ValidationError:
            assert not valid


def test_a_name_and_meta_key_is_bounded_and_kept_at_its_own_length() -> None:
    """The name and the ``_meta``'s bytes together no longer than ``KEPT_BYTES``, or not kept;
    the bytes kept an exact-size copy (``kept``)."""
    name = "n" * 40
    meta = orjson.dumps({"note": "x" * 100})
    kept = validation.kept((None, name, meta))
    assert kept == (None, name, meta)
    assert kept is not None
    assert kept[-1] is not meta
    room = validation.KEPT_BYTES - len(name)
    assert validation.kept((None, name, b"x" * room)) is not None
    assert validation.kept((None, name, b"x" * (room + 1))) is None


def test_a_name_and_meta_key_of_a_meta_json_cannot_write_is_validated_every_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = _counting(monkeypatch)
    checker = RequestValidator()
    params: dict[str, Any] = {"name": "get_item", "arguments": {}, "_meta": {**META, "big": 2**70}}
    assert validation.envelope_of("tools/call", params) is None
    for _ in range(2):
        checker.check("tools/call", MODERN, params)
    assert len(seen) == 2
    assert params["_meta"]["big"] == 2**70
