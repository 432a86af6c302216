"""Server ──▶ client requests from inside a route (elicitation, sampling, roots), both eras.

* ``HandshakeChannel``: the request goes out on the call's SSE stream with a fresh id; the
  client's answer arrives as a separate POST and is handed over through ``PendingReplies``. That
  POST must reach the same process: behind a load balancer this needs sticky routing (README).
  A request the call's revision does not define (elicitation before 2025-06-18) is refused with
  ``ClientRequestError`` before anything is sent; the client's declared capabilities are not known
  (the stateless endpoint keeps nothing of ``initialize``), so its answer is what refuses the rest.
* ``ModernChannel`` (2026-07-28, mrtr.mdx): there are no server→client requests. If the retry
  already carries every answer, ``ask`` returns them; otherwise the requests are recorded and
  the round ends: every unanswered ``ask`` raises :class:`InputNeeded`, and the call answers
  ``resultType: "input_required"`` with all the recorded requests and a sealed ``requestState``
  that keeps the answers this run already used: the client's next retry answers only the new
  requests, and the route runs again from the start. The round does not end at the first
  unanswered ``ask`` but once the event loop has gone round ``QUIET_TURNS`` times without a new
  one, so that questions asked concurrently (``asyncio.gather``, a task group) all go out
  together, with every answer used meanwhile; an ``ask`` after that only raises ``InputNeeded``.
  Capabilities the request's ``_meta`` does not declare are refused with -32021 (form-mode
  elicitation needs ``elicitation: {}`` or its ``form`` key: a client of URL mode only gets none).

``InputNeeded`` and ``ProtocolAbort`` derive from ``BaseException`` so that route code (and
frameworks) catching ``Exception`` do not swallow them; the channel also remembers what happened,
so the call runner knows even if something converted the exception into a 500 response.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import anyio.lowlevel
from mcp_types import jsonrpc as codes
from mcp_types.methods import SERVER_REQUESTS

from ._answers import answer_problem
from .context import ClientRequestError, Elicit, InputRequest
from .jsonrpc import ProtocolError

__all__ = [
    "Abort",
    "HandshakeChannel",
    "InputNeeded",
    "ModernChannel",
    "PendingReplies",
    "ProtocolAbort",
    "RequestOutbox",
]

_NO_MODE_VERSIONS = frozenset({"2024-11-05", "2025-03-26", "2025-06-18"})


class Abort(BaseException):
    """Ends the route's run early; the call runner turns it into the right answer."""


class InputNeeded(Abort):
    pass


class ProtocolAbort(Abort):
    def __init__(self, error: ProtocolError) -> None:
        super().__init__(error.message)
        self.error = error


class RequestOutbox(Protocol):
    async def notify(self, method: str, params: Mapping[str, Any]) -> None: ...

    async def request(self, request_id: str, method: str, params: Mapping[str, Any]) -> None: ...


_Request = tuple[str, Mapping[str, Any]]  # method, params


@dataclass(slots=True)
class _Asked:
    """The requests of one ``ask`` waiting for their answers."""

    caller: str  # who was asked: only the same caller may answer
    replies: dict[str, dict[str, Any]] = field(default_factory=dict)  # by request id; the first counts
    wake: anyio.Event = field(default_factory=anyio.Event)


@dataclass(slots=True)
class PendingReplies:
    """Server→client requests of this process waiting for their answer (handshake era)."""

    _waiting: dict[str, _Asked] = field(default_factory=dict)

    def resolve(self, request_id: Any, reply: dict[str, Any], caller: str) -> bool:
        """Hand ``reply`` to the request it answers, if ``caller`` (the answering POST's caller key)
        is the one the request was sent to and nothing answered it yet; False when ignored."""
        asked = self._waiting.get(request_id) if isinstance(request_id, str) else None
        if asked is None or asked.caller != caller or request_id in asked.replies:
            return False
        asked.replies[request_id] = reply
        asked.wake.set()
        return True

    async def exchange(
        self, outbox: RequestOutbox, requests: Mapping[str, _Request], caller: str, wait_limit: float
    ) -> dict[str, Any]:
        """Send ``requests`` (by key: method and params) on the call's stream and return their
        results by key. The first error ends the wait, and so does ``wait_limit`` (TimeoutError):
        the requests left unanswered are then cancelled (lifecycle.mdx §Timeouts)."""
        ids = {key: f"mcpmw-{uuid.uuid4().hex}" for key in requests}
        asked = _Asked(caller)
        self._waiting.update(dict.fromkeys(ids.values(), asked))
        try:
            for key, (method, params) in requests.items():
                await outbox.request(ids[key], method, params)
            try:
                with anyio.fail_after(wait_limit):
                    return await _collect(asked, ids, requests)
            except (TimeoutError, ClientRequestError) as exc:
                reason = "timed out" if isinstance(exc, TimeoutError) else "another request of the same ask failed"
                for request_id in ids.values():
                    if request_id not in asked.replies:
                        await outbox.notify("notifications/cancelled", {"requestId": request_id, "reason": reason})
                raise
        finally:
            for request_id in ids.values():
                del self._waiting[request_id]

    def __len__(self) -> int:
        return len(self._waiting)


async def _collect(asked: _Asked, ids: Mapping[str, str], requests: Mapping[str, _Request]) -> dict[str, Any]:
    """Every result by key once all have come, or the first error (in the order asked) at once."""
    while True:
        results = {key: _result(*requests[key], asked.replies[i]) for key, i in ids.items() if i in asked.replies}
        if len(results) == len(ids):
            return results
        await asked.wake.wait()
        asked.wake = anyio.Event()


def _result(method: str, params: Mapping[str, Any], reply: Mapping[str, Any]) -> dict[str, Any]:
    if "error" in reply:
        error = reply["error"] if isinstance(reply["error"], Mapping) else {"message": str(reply["error"])}
        raise ClientRequestError(method, error)
    result = reply.get("result")
    problem = answer_problem(method, params, result)  # checked alike in both eras
    if problem is not None:
        message = f"the client's answer is not a valid {method} result: {problem}"
        raise ClientRequestError(method, {"code": codes.INVALID_PARAMS, "message": message})
    return result  # type: ignore[return-value]  # answer_problem: a dict


class Notifier(Protocol):
    """The server, as far as a route's announcements go."""

    async def list_changed(self, kind: str) -> None: ...

    def resource_updated(self, uri: str) -> None: ...


class _Channel:
    """What both eras' channels do alike: notifications on the call's stream, and announcements."""

    __slots__ = ("_notifier", "_outbox")

    def __init__(self, outbox: RequestOutbox, notifier: Notifier) -> None:
        self._outbox = outbox
        self._notifier = notifier

    async def notify(self, method: str, params: Mapping[str, Any]) -> None:
        await self._outbox.notify(method, params)

    async def list_changed(self, kind: str) -> None:
        await self._notifier.list_changed(kind)

    def resource_updated(self, uri: str) -> None:
        self._notifier.resource_updated(uri)


class HandshakeChannel(_Channel):
    __slots__ = ("_caller", "_pending", "_timeout", "_version")

    def __init__(
        self,
        outbox: RequestOutbox,
        pending: PendingReplies,
        caller: str,
        version: str,
        notifier: Notifier,
        timeout: float,
    ) -> None:
        super().__init__(outbox, notifier)
        self._pending = pending
        self._caller = caller
        self._version = version
        self._timeout = timeout

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None) -> dict[str, Any]:
        _defined(requests, self._version)
        wire = {key: (request.method, self._params(request)) for key, request in requests.items()}
        return await self._pending.exchange(self._outbox, wire, self._caller, self._timeout)

    def _params(self, request: InputRequest) -> dict[str, Any]:
        params = request.params()
        if self._version in _NO_MODE_VERSIONS:
            params.pop("mode", None)  # "mode" arrived with 2025-11-25
        return params


def _defined(requests: Mapping[str, InputRequest], version: str) -> None:
    """Refuse, before anything is sent, a request that ``version`` does not define (elicitation
    came with 2025-06-18): the route gets the error a client without the method answers. Whether
    the client declared the capability is unknown here: the stateless handshake era keeps no
    ``initialize`` capabilities."""
    for request in requests.values():
        if (request.method, version) not in SERVER_REQUESTS:
            message = f"Method not found: protocol revision {version} has no {request.method}"
            raise ClientRequestError(request.method, {"code": codes.METHOD_NOT_FOUND, "message": message})


Seal = Callable[[str | None, Mapping[str, Any]], str]

# A 2026-07-28 round ends once this many turns of the event loop have passed without a new
# unanswered ask (each waiting ask checks at every turn, see ModernChannel.ask): a task of the
# route that starts asking at most two turns after another (a task group's or a gather's children
# start in the same turn, those of a gather nested in one a turn later) asks in the same round.
QUIET_TURNS = 3


def _missing(request: InputRequest, declared: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """What ``request`` needs of the client's capabilities that ``declared`` lacks."""
    have = declared.get(request.capability)
    if have is None:  # a capability sent as null is not declared
        return {request.capability: {}}
    if isinstance(request, Elicit) and isinstance(have, Mapping) and have and "form" not in have:
        return {"elicitation": {"form": {}}}  # elicitation.mdx: {} alone means form mode
    return {}


class ModernChannel(_Channel):
    __slots__ = (
        "_capabilities",
        "_open",
        "_responses",
        "_route_state",
        "_seal",
        "_used",
        "error",
        "pending",
        "state",
    )

    def __init__(
        self,
        outbox: RequestOutbox,
        capabilities: Mapping[str, Any],
        responses: Mapping[str, Any] | None,
        answered: Mapping[str, Any],
        notifier: Notifier,
        seal: Seal,
    ) -> None:
        super().__init__(outbox, notifier)
        self._capabilities = capabilities
        # The retry's answers, and those earlier rounds of this run used (sealed: they win).
        self._responses = {**responses, **answered} if responses else answered
        self._used: dict[str, Any] = {}  # the answers this run has used so far
        self._seal = seal  # the route's state and the used answers, as the wire's requestState
        self._open: dict[str, dict[str, Any]] = {}  # the requests this round asks so far
        self._route_state: str | None = None  # the state of the round's latest unanswered ask that gave one
        self.pending: dict[str, dict[str, Any]] | None = None  # set when the round ends: what it asks
        self.state: str | None = None  # as sent: sealed
        self.error: ProtocolError | None = None

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None) -> dict[str, Any]:
        if self.pending is not None:  # the round is over: this run of the route is being interrupted
            raise InputNeeded()
        required: dict[str, dict[str, Any]] = {}
        for request in requests.values():
            required.update(_missing(request, self._capabilities))
        if required:
            names = ", ".join(name + "".join(f".{mode}" for mode in required[name]) for name in sorted(required))
            error = ProtocolError(
                codes.MISSING_REQUIRED_CLIENT_CAPABILITY,
                f"Missing required client capability: {names}",
                {"requiredCapabilities": required},
            )
            self.error = error
            raise ProtocolAbort(error)
        if all(key in self._responses for key in requests):
            answers = {key: self._checked(key, request) for key, request in requests.items()}
            self._used.update(answers)
            return answers
        self._open.update((key, {"method": r.method, "params": r.params()}) for key, r in requests.items())
        if state is not None:
            self._route_state = state
        try:
            await self._end_round()
        except BaseException:
            if self.pending is None:  # the route stopped waiting (cancelled it): the question is withdrawn
                for key in requests:
                    self._open.pop(key, None)
            raise
        raise InputNeeded()

    async def _end_round(self) -> None:
        """Return once the round has ended: after ``QUIET_TURNS`` turns of the event loop in which
        no other ask of the route was left unanswered (keys are unique in a call, so each such ask
        grows ``_open``). Every waiting ask counts the turns itself, so the round ends even if the
        first one is cancelled; the first to count them all seals what the round asks."""
        quiet = 0
        while self.pending is None:
            seen = len(self._open)
            await anyio.lowlevel.checkpoint()
            quiet = quiet + 1 if len(self._open) == seen else 0
            if quiet >= QUIET_TURNS and self.pending is None:
                self.pending = self._open
                self.state = self._seal(self._route_state, self._used)

    def _checked(self, key: str, request: InputRequest) -> Any:
        answer = self._responses[key]
        problem = answer_problem(request.method, request.params(), answer)
        if problem is not None:
            message = f"Invalid params: inputResponses.{key} does not answer {request.method}: {problem}"
            self.error = ProtocolError(codes.INVALID_PARAMS, message)
            raise ProtocolAbort(self.error)
        return answer
