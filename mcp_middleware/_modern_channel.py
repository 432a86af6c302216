"""The 2026-07-28 channel (mrtr.mdx): a route's questions as multi round-trip requests.

Part of :mod:`mcp_middleware.interaction`, which re-exports :class:`ModernChannel` and
``QUIET_TURNS``. There are no server→client requests. If the retry already carries every answer,
``ask`` returns them; otherwise the requests are recorded and the round ends: every unanswered
``ask`` raises :class:`~mcp_middleware._channel.InputNeeded`, and the call answers
``resultType: "input_required"`` with all the recorded requests and a sealed ``requestState``
that keeps the answers this run already used: the client's next retry answers only the new
requests, and the route runs again from the start. The round does not end at the first
unanswered ``ask`` but once the event loop has gone round ``QUIET_TURNS`` times without a new
one, so that questions asked concurrently (``asyncio.gather``, a task group) all go out together,
with every answer used meanwhile; an ``ask`` after that only raises ``InputNeeded``.
Capabilities the request's ``_meta`` does not declare are refused with -32021 (form-mode
elicitation needs ``elicitation: {}`` or its ``form`` key: a client of URL mode only gets none;
tool-enabled sampling needs ``sampling.tools``, and ``includeContext`` "thisServer"/"allServers"
``sampling.context``: :func:`~mcp_middleware._input_requests.missing_capabilities`),
and an answer that does not answer its request with -32602, both as a
:class:`~mcp_middleware._channel.ProtocolAbort` the channel remembers (``error``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import anyio
import anyio.lowlevel
from mcp_types import jsonrpc as codes
from mcp_types.version import LATEST_MODERN_VERSION

from ._channel import InputNeeded, Notifier, ProtocolAbort, RequestOutbox, _Channel
from ._input_requests import InputRequest, missing_capabilities
from .jsonrpc import ProtocolError

__all__ = ["QUIET_TURNS", "ModernChannel", "Seal"]


Seal = Callable[[str | None, Mapping[str, Any]], str]

# A 2026-07-28 round ends once this many turns of the event loop have passed without a new
# unanswered ask (each waiting ask checks at every turn, see ModernChannel.ask): a task of the
# route that starts asking at most two turns after another (a task group's or a gather's children
# start in the same turn, those of a gather nested in one a turn later) asks in the same round.
QUIET_TURNS = 3


class ModernChannel(_Channel):
    __slots__ = (
        "_capabilities",
        "_open",
        "_responses",
        "_route_state",
        "_seal",
        "_used",
        "_version",
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
        version: str = LATEST_MODERN_VERSION,
    ) -> None:
        super().__init__(outbox, notifier)
        self._version = version  # the call's revision: its questions are checked against it
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
        from ._outgoing import check_question  # on first use: a question

        for key, request in requests.items():
            check_question(key, request.method, request.params(), self._version)  # the route's mistake: ValueError
        if self.pending is not None:  # the round is over: this run of the route is being interrupted
            raise InputNeeded()
        required, names = missing_capabilities(requests.values(), self._capabilities)
        if required:
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
        from ._answers import answer_problem, answered  # on first use: an answer

        answer = self._responses[key]
        problem = answer_problem(request.method, request.params(), answer)
        if problem is not None:
            message = f"Invalid params: inputResponses.{key} does not answer {request.method}: {problem}"
            self.error = ProtocolError(codes.INVALID_PARAMS, message)
            raise ProtocolAbort(self.error)
        return answered(request.method, answer)  # a dict: answer_problem found none
