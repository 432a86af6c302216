"""Server ──▶ client requests from inside a route (elicitation, sampling, roots), both eras.

* ``HandshakeChannel``: the request goes out on the call's SSE stream with a fresh id; the
  client's answer arrives as a separate POST and is handed over through ``PendingReplies``. That
  POST must reach the same process: behind a load balancer this needs sticky routing (README). The
  id carries a mark of the process (:func:`new_request_id`), which tells an answer that reached
  the wrong one (:func:`asked_elsewhere`).
  A request the call's revision does not define (elicitation before 2025-06-18, tool-enabled
  sampling before 2025-11-25) is refused with ``ClientRequestError`` before anything is sent, and
  so is one the client did not declare in ``initialize`` (-32021, as in 2026-07-28), when its
  session id says what it declared (``session_ids``); otherwise the stateless endpoint does not
  know, and the client's answer is what refuses the rest. Before that, a request that does not
  fit its method's wire type raises ``ValueError`` in the route (:mod:`mcp_middleware._outgoing`,
  in both channels).
* ``ModernChannel`` (2026-07-28, mrtr.mdx): there are no server→client requests. A retry that
  carries every answer gets them; otherwise the requests are recorded, and once the route's
  concurrent questions have all been asked the round ends with ``InputNeeded`` and the call
  answers ``resultType: "input_required"`` (:mod:`mcp_middleware._modern_channel`).

This module keeps the handshake era's side (``HandshakeChannel``, ``PendingReplies``) and
re-exports the rest: ``ModernChannel`` and ``QUIET_TURNS``, and what both channels share
(:mod:`mcp_middleware._channel`): ``Abort``, ``InputNeeded`` and ``ProtocolAbort``, which derive
from ``BaseException`` so that route code (and frameworks) catching ``Exception`` do not swallow
them, and the channels' base and the protocols they talk to.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp_types import jsonrpc as codes
from mcp_types.methods import SERVER_REQUESTS

from . import listen
from ._channel import Abort, InputNeeded, Notifier, ProtocolAbort, RequestOutbox, _Channel
from ._input_requests import AskTimeout, ClientRequestError, InputRequest, NotSent, Sample, missing_capabilities
from ._modern_channel import QUIET_TURNS as QUIET_TURNS
from ._modern_channel import ModernChannel
from .jsonrpc import ProtocolError

__all__ = [
    "SHUTTING_DOWN",
    "Abort",
    "HandshakeChannel",
    "InputNeeded",
    "ModernChannel",
    "PendingReplies",
    "ProtocolAbort",
    "RequestOutbox",
]

# The revisions before 2025-11-25, which brought elicitation's "mode", tool use in sampling and the
# sub-capabilities that go with them (elicitation.form/url, sampling.tools/context).
_BEFORE_2025_11_25 = frozenset({"2024-11-05", "2025-03-26", "2025-06-18"})

_Request = tuple[str, Mapping[str, Any]]  # method, params

# What a question fails with (as ClientRequestError.error) once the server shuts down: the answer POST
# could not reach it (uvicorn accepts no connection by then), as a stopped call's (_call_context.STOPPED)
SHUTTING_DOWN = {"code": codes.CONNECTION_CLOSED, "message": "Connection closed: the server is shutting down"}


# This process's mark on the ids of its questions (mcpmw-<mark>-<uuid>): random, so two hosts whose
# workers have equal pids differ, and drawn again in a forked child (gunicorn --preload imports the
# app before it forks its workers). An answer with another mark reached the wrong process.
_mark = secrets.token_hex(8)
_OURS = re.compile(r"mcpmw-([0-9a-f]{16})-[0-9a-f]{32}")


def _new_mark() -> None:
    global _mark
    _mark = secrets.token_hex(8)


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_new_mark)


def new_request_id() -> str:
    """A fresh id for a question of this process (``PendingReplies.exchange``)."""
    return f"mcpmw-{_mark}-{uuid.uuid4().hex}"


def asked_elsewhere(request_id: Any) -> bool | None:
    """Whether the question an answer's ``request_id`` names was sent by another process: True for
    an id of :func:`new_request_id`'s shape with another mark, False with this process's mark, None
    for any other id (no question of ours, in any process)."""
    ours = _OURS.fullmatch(request_id) if isinstance(request_id, str) else None
    return None if ours is None else ours[1] != _mark


@dataclass(slots=True)
class _Asked:
    """The requests of one ``ask`` waiting for their answers."""

    caller: str  # who was asked: only the same caller may answer
    questions: Mapping[str, _Request]  # by request id: what each asks (an answer is checked against it)
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)  # by request id; the first valid one counts
    wake: anyio.Event = field(default_factory=anyio.Event)
    shut: bool = False  # the wait ended because the server shuts down


@dataclass(slots=True)
class PendingReplies:
    """Server→client requests of this process waiting for their answer (handshake era)."""

    _waiting: dict[str, _Asked] = field(default_factory=dict)
    _shut: bool = False  # a lifespan.shutdown went by, and no lifespan.startup since (see shutting_down)

    def refusal(self, request_id: Any, reply: dict[str, Any], caller: str) -> ProtocolError | None:
        """Why ``reply`` cannot be taken (transports.mdx: input the server cannot accept gets an HTTP
        error), when it answers a request open for ``caller`` (else it is ignored, see
        :meth:`resolve`): a result that is none of the request's result type (``shape_problem``),
        or an error that is no JSON-RPC error object. Such a reply is not taken: the request stays
        open for a valid one. A well-formed result whose content does not fit the request (an
        elicitation's ``requestedSchema``) is taken, and fails the question (:func:`_result`): the
        client sent its answer, and a client told 400 would not send another (the conformance
        suite's client answers ``test_elicitation`` so), so the route would wait out
        ``ask_timeout``."""
        asked = self._open(request_id, caller)
        if asked is None:
            return None
        from ._answers import error_problem, shape_problem  # on first use: an answer

        method, _ = asked.questions[request_id]
        error = "error" in reply
        problem = error_problem(reply["error"]) if error else shape_problem(method, reply.get("result"))
        if problem is None:
            return None
        message = f"Invalid request: the response to {method} {request_id} does not answer it: {problem}"
        return ProtocolError(codes.INVALID_REQUEST, message)

    def resolve(self, request_id: Any, reply: dict[str, Any], caller: str) -> bool:
        """Hand ``reply`` (without a :meth:`refusal`) to the request it answers, if ``caller`` (the
        answering POST's caller key) is the one the request was sent to and nothing answered it
        yet; False when ignored."""
        asked = self._open(request_id, caller)
        if asked is None:
            return False
        asked.replies[request_id] = reply
        asked.wake.set()
        return True

    def shut(self) -> None:
        """The server shuts down (``lifespan.shutdown``): every wait ends, and no request goes out."""
        self._shut = True
        for asked in self._waiting.values():
            asked.wake.set()

    def reopen(self) -> None:
        """The server starts again (``lifespan.startup``: the same app's next lifespan in one process,
        as tests and reloads run it): questions go out again."""
        self._shut = False

    def shutting_down(self) -> bool:
        """Whether the server shuts down: no answer POST can reach this process any more. Read afresh
        (``listen.shutting_down``: uvicorn's flag, sse-starlette's), as the listen streams' ticks do."""
        return self._shut or listen.shutting_down()

    def _open(self, request_id: Any, caller: str) -> _Asked | None:
        """The ask whose request ``request_id`` waits for an answer from ``caller``, if one does."""
        asked = self._waiting.get(request_id) if isinstance(request_id, str) else None
        if asked is None or asked.caller != caller or request_id in asked.replies:
            return None
        return asked

    async def exchange(
        self, outbox: RequestOutbox, requests: Mapping[str, _Request], caller: str, wait_limit: float
    ) -> dict[str, Any]:
        """Send ``requests`` (by key: method and params) on the call's stream and return their
        results by key. The first error ends the wait, and so do ``wait_limit`` (``AskTimeout``, a
        TimeoutError) and the server shutting down (:data:`SHUTTING_DOWN`, checked every
        ``listen.TICK_SECONDS``): the requests left unanswered are then cancelled (lifecycle.mdx
        §Timeouts). Once the server shuts down, nothing is sent: the answers could not come back
        (:class:`NotSent`, carrying the shutdown's error: the keys are not used up)."""
        if self.shutting_down():  # nothing sent: the keys are not used up
            raise NotSent(_shut_down(requests))
        ids = {key: new_request_id() for key in requests}
        asked = _Asked(caller, {ids[key]: request for key, request in requests.items()})
        self._waiting.update(dict.fromkeys(ids.values(), asked))
        try:
            for key, (method, params) in requests.items():
                await outbox.request(ids[key], method, params)
            try:
                with anyio.fail_after(wait_limit):
                    return await _collect(asked, ids, requests, self.shutting_down)
            except (TimeoutError, ClientRequestError) as exc:
                reason = _reason(exc, asked)
                for request_id in ids.values():
                    if request_id not in asked.replies:
                        await outbox.notify("notifications/cancelled", {"requestId": request_id, "reason": reason})
                if isinstance(exc, TimeoutError):
                    unanswered = (requests[key][0] for key, i in ids.items() if i not in asked.replies)
                    raise AskTimeout(unanswered, wait_limit) from None
                raise
        finally:
            for request_id in ids.values():
                del self._waiting[request_id]

    def __len__(self) -> int:
        return len(self._waiting)


async def _collect(
    asked: _Asked, ids: Mapping[str, str], requests: Mapping[str, _Request], closing: Callable[[], bool]
) -> dict[str, Any]:
    """Every result by key once all have come, or the first error (in the order asked) at once;
    once ``closing()`` (the server shuts down), the wait ends (:data:`SHUTTING_DOWN`, named by the
    first request left unanswered)."""
    while True:
        results = {key: _result(*requests[key], asked.replies[i]) for key, i in ids.items() if i in asked.replies}
        if len(results) == len(ids):
            return results
        if closing():
            asked.shut = True
            raise _shut_down({key: requests[key] for key in ids if key not in results})
        with anyio.move_on_after(listen.TICK_SECONDS):  # nothing tells a response of a SIGTERM
            await asked.wake.wait()
        if asked.wake.is_set():
            asked.wake = anyio.Event()


def _shut_down(requests: Mapping[str, _Request]) -> ClientRequestError:
    """The failure of questions the server shutting down leaves unanswered, named by the first one."""
    return ClientRequestError(next(iter(requests.values()))[0], SHUTTING_DOWN)


def _reason(exc: Exception, asked: _Asked) -> str:
    """Why the requests an ask leaves unanswered are cancelled (``notifications/cancelled``)."""
    if asked.shut:
        return "the server is shutting down"
    return "timed out" if isinstance(exc, TimeoutError) else "another request of the same ask failed"


def _result(method: str, params: Mapping[str, Any], reply: Mapping[str, Any]) -> dict[str, Any]:
    """The result of a reply taken (its shape checked by :meth:`PendingReplies.refusal` before), or
    the client's error, raised; so is a result whose content does not fit the request (checked
    alike in both eras: ``answer_problem``). A declined or cancelled elicitation comes without a
    content (``answered``)."""
    if "error" in reply:
        raise ClientRequestError(method, reply["error"])
    from ._answers import answer_problem, answered  # on first use: an answer

    result: dict[str, Any] = reply["result"]
    problem = answer_problem(method, params, result)
    if problem is not None:
        message = f"the client's answer is not a valid {method} result: {problem}"
        raise ClientRequestError(method, {"code": codes.INVALID_PARAMS, "message": message})
    return answered(method, result)


class HandshakeChannel(_Channel):
    __slots__ = ("_caller", "_declared", "_pending", "_timeout", "_version")

    def __init__(
        self,
        outbox: RequestOutbox,
        pending: PendingReplies,
        caller: str,
        version: str,
        notifier: Notifier,
        timeout: float,
        declared: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(outbox, notifier)
        self._pending = pending
        self._caller = caller
        self._version = version
        self._timeout = timeout
        self._declared = declared  # the client's capabilities, when its session id carries them

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None) -> dict[str, Any]:
        from ._outgoing import check_question  # on first use: a question

        _defined(requests, self._version)
        wire = {key: (request.method, self._params(request)) for key, request in requests.items()}
        for key, (method, params) in wire.items():
            check_question(key, method, params, self._version)  # the route's mistake: ValueError
        if self._declared is not None:
            _declared(requests, self._declared, self._version)
        if not self._outbox.streams:
            _unstreamed(requests)
        return await self._pending.exchange(self._outbox, wire, self._caller, self._timeout)

    def _params(self, request: InputRequest) -> dict[str, Any]:
        params = request.params()
        if self._version in _BEFORE_2025_11_25:
            params.pop("mode", None)  # "mode" arrived with 2025-11-25
        return params


def _defined(requests: Mapping[str, InputRequest], version: str) -> None:
    """Refuse (:class:`NotSent`: the keys are not used up), before anything is sent, a request
    that ``version`` does not define (elicitation came with 2025-06-18): the route gets the error
    a client without the method answers; and a
    tool-enabled sampling request to a revision whose sampling has no tools (they came with
    2025-11-25: such a client would ignore them, or refuse the request), as invalid params. Whether
    the client declared the capability is :func:`_declared`'s question (known from a session id
    only: the stateless handshake era keeps nothing of ``initialize``)."""
    for request in requests.values():
        if (request.method, version) not in SERVER_REQUESTS:
            message = f"Method not found: protocol revision {version} has no {request.method}"
            raise NotSent(ClientRequestError(request.method, {"code": codes.METHOD_NOT_FOUND, "message": message}))
        if isinstance(request, Sample) and version in _BEFORE_2025_11_25 and (fields := request.tool_fields()):
            message = (
                f"Invalid params: protocol revision {version} has no tool use in {request.method} "
                f"({' and '.join(fields)}: 2025-11-25 and later)"
            )
            raise NotSent(ClientRequestError(request.method, {"code": codes.INVALID_PARAMS, "message": message}))


def _unstreamed(requests: Mapping[str, InputRequest]) -> None:
    """Refuse (:class:`NotSent`), before anything is sent, a request to a client whose Accept does
    not admit text/event-stream (or that sent none): in this era a request to the client goes out on
    the call's SSE stream, which it does not take; waiting for an answer that cannot come would hang
    the call until ``ask_timeout``. The route gets the first request's ``ClientRequestError``."""
    method = next(iter(requests.values())).method
    message = (
        f"Invalid request: {method} goes out on the call's SSE stream, and the client's Accept header "
        "does not admit text/event-stream"
    )
    raise NotSent(ClientRequestError(method, {"code": codes.INVALID_REQUEST, "message": message}))


def _declared(requests: Mapping[str, InputRequest], declared: Mapping[str, Any], version: str) -> None:
    """Refuse (:class:`NotSent`), before anything is sent, what the client did not declare in ``initialize`` (known
    from its session id): mrtr.mdx and sampling.mdx, no request the client did not declare support
    for. The route gets the error a 2026-07-28 call answers (-32021, ``requiredCapabilities``), as
    the ``ClientRequestError`` of the first request that lacks something; the sub-capabilities
    (elicitation's modes, ``sampling.tools``/``context``) count from 2025-11-25, which has them."""
    required, names = missing_capabilities(requests.values(), declared, version not in _BEFORE_2025_11_25)
    if required:
        method = next(request.method for request in requests.values() if request.capability in required)
        message = f"Missing required client capability: {names}"
        data = {"requiredCapabilities": required}
        error = {"code": codes.MISSING_REQUIRED_CLIENT_CAPABILITY, "message": message, "data": data}
        raise NotSent(ClientRequestError(method, error))
