"""Request params against the SDK's wire types, remembered for envelopes seen before.

Every request is checked with ``mcp_types.methods.validate_client_request`` for its revision (and
every client notification of a method its revision has with ``validate_client_notification``:
:meth:`RequestValidator.check_notification`, never remembered, as none is on a call's path). The
verdict depends only on the params, and clients repeat the same envelope on every call (the same
``_meta``, client capabilities, tool name), so a request whose params serialise to bytes already
validated is not validated again (bytes no longer than ``KEPT_BYTES``: a larger request is validated
every time, so the verdicts hold at most 1,024 times that). Two parts vary per call and are left out
of that key, because their wire type accepts any value of their JSON type
(``tests/unit/test_validation.py`` holds the SDK to that): a ``tools/call``'s ``arguments`` object
(``dict[str, Any]``) and ``_meta.progressToken`` (a string or an integer). A failure is never
remembered: it is raised again with the SDK's message.

A 2026-07-28 retry's ``inputResponses`` is checked here only as an object of objects: the SDK's type
is the union of every answer type, whose error for an elicitation's bad answer named the last
member tried (``CreateMessageResult.content: Field required``). Each answer is checked against the
result type of the request it answers where it is used (``interaction``), and an answer to no
question asked is ignored (mrtr.mdx: what the server does not recognise or need).
"""

from __future__ import annotations

import enum
import typing
from typing import Any, Final

import orjson
from mcp_types.methods import (
    CLIENT_NOTIFICATIONS,
    CLIENT_REQUESTS,
    validate_client_notification,
    validate_client_request,
)
from pydantic import BaseModel, ConfigDict, Field

from ._once import with_room

__all__ = ["KEPT_BYTES", "PASSED", "UNREAD", "Envelope", "Passed", "RequestValidator", "Unread", "envelope_of", "kept"]

_FREE_ARGUMENTS = frozenset({"tools/call"})  # methods whose ``arguments`` is ``dict[str, Any]``
_LIMIT = 1024
# The longest envelope kept (its bytes): clients' are ~200-400 bytes (the _meta envelope, the tool's
# name), so this leaves room for a large clientInfo or capabilities, and the verdicts of a
# validator and of the 2026-07-28 ladders (modern._checked) hold at most 1,024 x 2 KiB each.
KEPT_BYTES = 2048
# (method, revision) whose params have inputResponses: tools/call, prompts/get, resources/read of 2026-07-28
_ANSWERED = frozenset(
    key
    for key, model in CLIENT_REQUESTS.items()
    for params in typing.get_args(model.model_fields["params"].annotation) or (model.model_fields["params"].annotation,)
    if isinstance(params, type) and issubclass(params, BaseModel)
    if any(f.alias == "inputResponses" for f in params.model_fields.values())
)
# The params' bytes without the free parts, and flags saying which were there and well typed; or,
# for a tools/call of exactly a name (a string) and arguments (an object), (None, the name), and of
# those and a _meta object without a progress token, (None, the name, the _meta's bytes): tuples
# whose first item is no bool, so they never equal (nor are compared item by item with) the first kind
Envelope = tuple[bool, bool, bytes] | tuple[None, str] | tuple[None, str, bytes]


class Unread(enum.Enum):
    """The type of :data:`UNREAD`: no envelope was read yet (``None`` is an envelope's own value)."""

    UNREAD = enum.auto()


class Passed(enum.Enum):
    """The type of :data:`PASSED`, a ``Call``'s envelope when its params passed this check already:
    a remembered 2026-07-28 ladder verdict stands for it (``Server.handle`` skips the check)."""

    PASSED = enum.auto()


UNREAD: Final = Unread.UNREAD
PASSED: Final = Passed.PASSED


class RequestValidator:
    """``check(method, version, params)`` raises ``pydantic.ValidationError`` like the SDK."""

    __slots__ = ("_valid",)

    def __init__(self) -> None:
        self._valid: set[tuple[str, str, Envelope]] = set()

    def check(
        self, method: str, version: str, params: dict[str, Any] | None, envelope: Envelope | Unread | None = UNREAD
    ) -> None:
        """``envelope``: :func:`envelope_of` the params, when the caller has it already."""
        if envelope is UNREAD:
            envelope = envelope_of(method, params)
        key = None if envelope is None else (method, version, envelope)
        if key is not None and key in self._valid:
            return
        if params is not None and "inputResponses" in params and (method, version) in _ANSWERED:
            _Answers.model_validate(params)  # an object of objects; each is checked where it is used
            params = {**params, "inputResponses": None}
        validate_client_request(method, version, params)
        if envelope is not None and (envelope := kept(envelope)) is not None:
            with_room(self._valid, _LIMIT).add((method, version, envelope))

    @staticmethod
    def check_notification(method: str, version: str, params: dict[str, Any] | None) -> None:
        """A client notification's params against ``version``'s wire type for ``method``, raising
        ``pydantic.ValidationError`` like the SDK; nothing for a method that revision has no type
        for (an unknown one, ``notifications/initialized`` in 2026-07-28): none to check it by."""
        if (method, version) in CLIENT_NOTIFICATIONS:
            validate_client_notification(method, version, params)


def kept(envelope: Envelope) -> Envelope | None:
    """``envelope`` as a table of verdicts may keep it: None when its bytes are longer than
    ``KEPT_BYTES`` (such a request is checked every time), else with an exact-size copy of them
    (orjson's bytes keep the buffer it wrote into, 8 to 16 times their length: a 300-byte envelope
    held 4 KiB). A tool's name (:func:`envelope_of`) is kept as it is, when no longer than that in
    characters. Called only to keep a new verdict, never for one found."""
    if len(envelope) == 2:
        return envelope if len(envelope[1]) <= KEPT_BYTES else None
    if envelope[0] is None:  # (None, the name, the _meta's bytes): both count
        _, name, meta = envelope
        return None if len(name) + len(meta) > KEPT_BYTES else (None, name, memoryview(meta).tobytes())
    free_arguments, free_token, raw = envelope
    if len(raw) > KEPT_BYTES:
        return None
    return free_arguments, free_token, memoryview(raw).tobytes()


class _Answers(BaseModel):
    """What is checked of ``inputResponses`` with the request: an object of objects (or null)."""

    model_config = ConfigDict(extra="ignore")
    input_responses: dict[str, dict[str, Any]] | None = Field(None, alias="inputResponses")


_ABSENT: Any = object()
_NAMED = frozenset({"name", "arguments"})  # a tools/call's params keyed by its name (envelope_of)
_NAMED_META = frozenset({"name", "arguments", "_meta"})  # ... and by its name and _meta's bytes
_TOKEN_TYPES = (str, int)  # a progress token's wire types (exactly: a boolean is none)


def envelope_of(method: str, params: dict[str, Any] | None) -> Envelope | None:
    """What a request's verdict depends on besides its method and revision: the params' bytes
    without the free parts, and flags saying which were there and well typed. None when the params
    cannot be written (e.g. an integer beyond 64 bits): such a request is validated every time.

    The free parts are taken out of the dicts for the moment of serialising them and put back at
    once (in the same synchronous step), which is cheaper than copying the dicts without them.
    A ``tools/call`` of exactly ``name`` (a string) and ``arguments`` (an object), as handshake-era
    clients send it, is not taken apart: its envelope is ``(None, name)``, what its bytes would say;
    with a ``_meta`` object besides that holds no progress token, as 2026-07-28 clients send it,
    ``(None, name, the _meta's bytes)``: only the ``_meta`` is serialised, as it is.
    """
    if params is None:
        return False, False, b""
    arguments = params.get("arguments", _ABSENT) if method in _FREE_ARGUMENTS else _ABSENT
    free_arguments = type(arguments) is dict
    if free_arguments:
        keys = params.keys()
        if keys == _NAMED and type(name := params["name"]) is str:
            return None, name
        if (
            keys == _NAMED_META
            and type(name := params["name"]) is str
            and type(meta := params["_meta"]) is dict
            and "progressToken" not in meta
        ):
            try:
                return None, name, orjson.dumps(meta)
            except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: validated every time
                return None
    meta = params.get("_meta")
    token = meta.get("progressToken", _ABSENT) if type(meta) is dict else _ABSENT
    free_token = type(token) in _TOKEN_TYPES
    if free_arguments:
        del params["arguments"]
    if free_token:
        del meta["progressToken"]  # type: ignore[union-attr]  # meta is a dict when there is a token
    try:
        return free_arguments, free_token, orjson.dumps(params)
    except orjson.JSONEncodeError:  # e.g. an integer beyond 64 bits: validated every time
        return None
    finally:
        if free_arguments:
            params["arguments"] = arguments
        if free_token:
            meta["progressToken"] = token  # type: ignore[index]
