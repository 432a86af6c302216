"""The context of a real MCP call: what ``MCPContext``'s methods do while a route serves one.

Part of :mod:`mcp_middleware.context`, whose :class:`~mcp_middleware.context.MCPContext` (the
"no MCP call" context) :class:`LiveContext` subclasses; the call runner builds it, through the
call's :class:`~mcp_middleware._context_holder.ContextHolder`, the first time the route asks.
It talks to the client through a :class:`Channel` (one per era, :mod:`mcp_middleware.interaction`):

- progress for the call's token, each value above the last one sent, by the route or by the
  call runner (``automatic_progress``: below the route's next whole step and its last total),
  NaN and infinity dropped; a route's report that is not above the runner's last value is raised
  just above it, without its total when that is below the raised value;
- log messages at or above the level the client asked for;
- requests to the client (``ask``), each key (non-empty) asked at most once in a call; a key left
  out is numbered ("elicitation", "elicitation-2", ...), the same way every time the route runs
  again; a question the channel's check refuses (nothing sent) uses up no key;
- list changes and resource updates, announced through the server.

Once the call is stopped (cancelled, or past its time limit: ``stopped``, given by the call
runner) nothing more goes out for it, though its route may run on (a step in a worker thread, which
no cancellation reaches) and its stream stay open for its handler (a ``resources/read``, a call in a
2025-03-26 batch): progress and logs are dropped, and a question fails at once in the route
(:data:`STOPPED`, a ``ClientRequestError``) without reaching the client. A question already waiting
for its answer then (asked from a worker thread, which no cancellation reaches) fails the same way
at once: the call runner ends its wait (:meth:`LiveContext.stop_questions`).

One exception, by design: a question a worker thread asked through ``anyio.from_thread.run`` and
is waiting on when the stop cancels an anyio scope around that thread (the portable guard's; a
``StreamingResponse``'s task group) gets that cancellation, not ``ClientRequestError``: anyio runs
the question in a task of that scope and cancels it with the scope, as it documents, and the thread
gets the cancellation (a ``BaseException``), which stops it and lets its host unwind as the scope's
owner meant. :meth:`LiveContext.ask` does not turn a cancellation into ``ClientRequestError``, see
the comment there.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import anyio
from mcp_types import jsonrpc as codes

from ._context_holder import progress_below, whole_above
from ._input_requests import ClientRequestError, InputRequest, NotSent
from .context import MCPContext

__all__ = ["LOG_LEVELS", "STOPPED", "Channel", "LiveContext"]

LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_PLAIN = (str, int, float, bool, type(None))  # log data orjson always writes (beyond 64 bits: as digits)
# What a question of a stopped call fails with (as ClientRequestError.error): its stream is closed to it
STOPPED = {
    "code": codes.CONNECTION_CLOSED,
    "message": "Connection closed: the call was stopped (cancelled, past its time limit, or its client left)",
}


def _raised(last: float) -> float:
    """A route's report not above ``last`` (the runner's value): just above it."""
    whole = whole_above(last)
    value = progress_below(last, whole)
    return whole if value is None else value


def _stopped_error(requests: Mapping[str, InputRequest]) -> ClientRequestError:
    """The failure of questions asked in a stopped call (:data:`STOPPED`), named by the first one."""
    return ClientRequestError(next(iter(requests.values())).method, STOPPED)


class Channel(Protocol):
    """How a live context reaches the client (provided by the call runner)."""

    async def notify(self, method: str, params: Mapping[str, Any]) -> None: ...

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None) -> dict[str, Any]: ...

    async def list_changed(self, kind: str) -> None: ...

    def resource_updated(self, uri: str) -> None: ...


class LiveContext(MCPContext):
    """The context of a real call; built by the call runner."""

    active = True

    def __init__(
        self,
        channel: Channel,
        *,
        tool: str,
        protocol_version: str,
        progress_token: str | int | None,
        client_capabilities: Mapping[str, Any],
        client_info: Mapping[str, Any] | None,
        log_level: str | None,
        request_state: str | None,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self._channel = channel
        self._stopped = stopped  # whether the call is stopped: then nothing more goes out for it
        self.tool = tool
        self.protocol_version = protocol_version
        self.progress_token = progress_token
        self.client_capabilities = client_capabilities
        self.client_info = client_info
        self.request_state = request_state
        self._log_floor = LOG_LEVELS.index(log_level) if log_level in LOG_LEVELS else None
        self._last_progress: float | None = None  # the last value sent for the token, by anyone
        self._reported: float | None = None  # the route's own last report (as it gave it)
        self._total: float | None = None  # the last total sent, while no value sent is above it
        self._ceiling = 0.0  # what the runner's values stay below once the route has reported
        self._asked: set[str] = set()  # the keys asked in this run of the route
        self._waiting: set[anyio.CancelScope] = set()  # the asks waiting for their answers

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        from ._outgoing import check_progress  # on first use: a route reporting progress

        check_progress(self.protocol_version or "", self.progress_token, progress, total, message)  # TypeError
        if self.progress_token is None or not math.isfinite(progress):  # JSON has no NaN or infinity
            return
        if self._stopped():
            return
        # progress.mdx: the value MUST increase with each notification. A report not above the
        # route's own last one is dropped; one not above the runner's values (streamed chunks
        # counted 1, 2, 3 before the route's first report) goes out just above them, and without
        # its total when that puts it past the total.
        if self._reported is not None and progress <= self._reported:
            return
        self._reported = progress
        if total is not None and not math.isfinite(total):
            total = None
        last = self._last_progress
        if last is not None and progress <= last:
            progress = _raised(last)
            if total is not None and progress > total:
                total = None
        self._last_progress = progress
        self._limit(progress, total)
        params: dict[str, Any] = {"progressToken": self.progress_token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        await self._channel.notify("notifications/progress", params)

    def _limit(self, progress: float, total: float | None) -> None:
        """After the route's report of ``progress`` (with ``total``, or None) went out: the runner's
        values stay below its next whole step and below the last total sent, until a report goes
        past that total (the route's own word: the total no longer holds)."""
        if total is not None:
            self._total = total if progress <= total else None
        elif self._total is not None and progress > self._total:
            self._total = None
        ceiling = whole_above(progress)
        self._ceiling = ceiling if self._total is None else min(ceiling, self._total)

    def automatic_progress(self, step: bool = True) -> float | None:
        """The value of a progress notification the call runner sends on its own, a streamed chunk
        (``step``) or a heartbeat, for a route that has its context, so may report progress itself
        at any time; None when no value is left for it (the call runner then sends none). Until the
        route reports, chunks count whole numbers (1, 2, 3, as without a context) and a heartbeat
        goes a readable fraction up, below the next whole number; after its report, both go a
        readable fraction up below its next whole step and the last total sent
        (:func:`progress_below`: 1.001, 1.002, ..., 1.9001), never reaching them: the route's next
        whole step goes out as it is, and none exceeds a total. One token's values keep
        increasing."""
        last = self._last_progress or 0.0
        # (until the route reports, the values are the runner's: chunk counts, far below 2**53)
        if self._reported is None:
            value = math.floor(last) + 1 if step else progress_below(last, whole_above(last))
        else:
            value = progress_below(last, self._ceiling)
        if value is not None:
            self._last_progress = value
        return value

    async def log(self, level: str, data: Any, logger: str | None = None) -> None:
        if level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LOG_LEVELS)}")
        if type(data) not in _PLAIN:  # the route's mistake shows whatever level the client asked for
            from ._outgoing import check_log_data  # on first use: a route logging data of its own

            check_log_data(data)  # TypeError
        if self._log_floor is None or LOG_LEVELS.index(level) < self._log_floor:
            return
        if self._stopped():
            return
        params: dict[str, Any] = {"level": level, "data": data}
        if logger is not None:
            params["logger"] = logger
        await self._channel.notify("notifications/message", params)

    async def ask(self, requests: Mapping[str, InputRequest], *, state: str | None = None) -> dict[str, Any]:
        if not requests:
            return {}
        from ._outgoing import QuestionRefused  # on first use: a question (the channel checks it)

        if self._stopped():  # nothing goes out: it fails at once
            raise _stopped_error(requests)
        # A key names one question of this call: a 2026-07-28 retry answers by key, so a key asked
        # twice would get the first answer for the second question (same rule in both eras).
        if "" in requests:  # a key names its question (the retry's answer, in 2026-07-28)
            raise ValueError("an empty key names no question: give each request a non-empty key (or leave it out)")
        repeated = sorted(self._asked.intersection(requests))
        if repeated:
            raise ValueError(
                f"key {repeated[0]!r} was already asked in this call: give each request its own key "
                "(or leave the key out of elicit/sample/list_roots to get a numbered one)"
            )
        self._asked.update(requests)
        # A cancellation from outside (not stop_questions') passes through as it is, even once the
        # call is stopped: here it cannot be told whose it is. In the route's own task it is the
        # stop's (the asyncio guard cancels that task once, and takes back exactly that
        # cancellation), or the route's (its task group, its move_on_after); as a ClientRequestError
        # it would be swallowed: a route falling back on ClientRequestError (what it does for a
        # client that cannot answer) would go on after its call was stopped, and a timeout would read
        # as the route's failure. The one task where converting it would be harmless, the one anyio
        # runs a worker thread's ``from_thread.run`` in (cancelled with the scope around the thread),
        # can be told apart only by anyio's internals; there the thread gets the cancellation, stops,
        # and its host still unwinds (tests/unit/test_stuck_routes.py shows both).
        with anyio.CancelScope() as waiting:
            self._waiting.add(waiting)
            try:
                return await self._channel.ask(requests, state)
            except QuestionRefused as exc:  # nothing was sent: the keys are not used up
                self._asked.difference_update(requests)
                raise ValueError(*exc.args) from None  # the route's ValueError, as documented
            except NotSent as exc:  # refused before sending (a method or capability lacking, a shutdown): likewise
                self._asked.difference_update(requests)
                raise exc.error from None  # the route's ClientRequestError
            finally:
                self._waiting.discard(waiting)
        # stop_questions ended the wait: the call was stopped meanwhile (nothing more goes out)
        raise _stopped_error(requests)

    def stop_questions(self) -> None:
        """The call is stopped: end the wait of every question still waiting for its answer, which
        then fails in the route (:data:`STOPPED`). Called by the call runner once a cancellation
        had its chance to reach the route (an ask in the route's own task has unwound by then); one
        from a worker thread (``anyio.from_thread.run``: a task of its own) would otherwise wait
        until ``ask_timeout``, holding its thread."""
        for waiting in self._waiting:
            waiting.cancel()

    def _key(self, key: str | None, default: str) -> str:
        """The key given, or the next free one of "elicitation", "elicitation-2", ... in this run:
        the same sequence every time the route runs again for a retry."""
        if key is not None:
            return key
        key, count = default, 1
        while key in self._asked:
            count += 1
            key = f"{default}-{count}"
        return key

    async def tools_changed(self) -> None:
        await self._channel.list_changed("tools")

    async def prompts_changed(self) -> None:
        await self._channel.list_changed("prompts")

    async def resources_changed(self) -> None:
        await self._channel.list_changed("resources")

    async def resource_updated(self, uri: str) -> None:
        self._channel.resource_updated(uri)
