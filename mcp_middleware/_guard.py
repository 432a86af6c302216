"""The cancel guard a route runs under, and the one mapping of what its run can raise.

Part of :mod:`mcp_middleware.toolcall`, whose ``run_tool`` runs the route through
:func:`_guarded_fast` on asyncio and :func:`_guarded` on any other anyio backend (or when tests
force the portable path). Either returns None when the route ran to completion, or the error
result of a timeout, a failure or a broken ASGI contract; a cancellation of the call
(``_ToolRun.cancel``) ends in None too, and one from outside propagates.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import TYPE_CHECKING, Any

import anyio
import orjson
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware

from ._call_context import STOPPED
from ._error_handler import OURS, HandledFailure, refusals_only
from ._input_requests import AskTimeout, ClientRequestError
from ._once import Remembered
from ._stream_failure import cut_short, handled_late
from .dispatch import AppMisbehaved
from .interaction import SHUTTING_DOWN, Abort
from .jsonrpc import dumps_exactly
from .results import ResultTooLarge, error_result, status_line

if TYPE_CHECKING:
    from .toolcall import _ToolRun

__all__ = ["_described", "_guarded", "_guarded_fast"]

# The records keep the name they had before the guard left toolcall (logging configurations use it).
logger = logging.getLogger("mcp_middleware.toolcall")


async def _guarded(run: _ToolRun, limit: float | None) -> dict[str, Any] | None:
    """Run the route; map what can go wrong to an error result (None = ran to completion).

    The portable path (any anyio backend): an anyio cancel scope, and ``move_on_after`` for the
    optional time limit, so a ``TimeoutError`` the route raises itself is not mistaken for ours.
    """
    run._scope = anyio.CancelScope()
    if run.cancelled:
        run._scope.cancel()
    with run._scope:
        try:
            with anyio.move_on_after(math.inf if limit is None else limit) as timer:
                run._timer = timer if limit is not None else None
                await run.run_route()
            if timer.cancelled_caught:
                return _timed_out(run, limit)
            return run.overflowed
        except BaseException as exc:
            return _outcome_of(exc, run)
    return run.overflowed  # (None after a cancel)


async def _guarded_fast(run: _ToolRun, limit: float | None) -> dict[str, Any] | None:
    """:func:`_guarded` on asyncio. Without a time limit, a cancellation (``_ToolRun.cancel``)
    cancels this task, and the guard takes back exactly that cancellation, as ``asyncio.timeout``
    does; with a limit, ``asyncio.timeout`` is the guard and a cancellation an immediate expiry.
    Either costs a small fraction of an anyio scope."""
    if limit is not None:
        return await _guarded_timed(run, limit)
    task = asyncio.current_task(run.loop)  # with the loop given: no system call (see _LoopCache)
    assert task is not None
    if run.cancelled:
        return None
    base = task.cancelling()
    run._task = task
    try:
        await run.run_route()
        return run.overflowed
    except asyncio.CancelledError:
        run._task = None
        if (run.cancelled or run.overflowed is not None) and task.uncancel() <= base:
            run._stop_questions()  # a worker thread's, which the cancellation did not reach
            return run.overflowed  # exactly our own cancellation: taken back (None after a cancel)
        raise
    except BaseException as exc:
        return _outcome_of(exc, run)
    finally:
        if run._task is not None:
            run._task = None
            if run.cancelled or (run.overflowed is not None and task.cancelling() > base):
                task.uncancel()  # requested, but the route ended before it was delivered


async def _guarded_timed(run: _ToolRun, limit: float) -> dict[str, Any] | None:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(limit) as guard:
            run._guard = guard
            if run.cancelled:
                guard.reschedule(loop.time())
            try:
                await run.run_route()
            finally:
                run._guard = None
        return run.overflowed
    except TimeoutError as exc:
        if run.cancelled or run.overflowed is not None:
            run._stop_questions()
            return run.overflowed  # (None after a cancel)
        if guard.expired():
            run._guard = guard  # still stopped once unwound: its context may outlive it (a worker thread)
            return _timed_out(run, limit)
        return _outcome_of(exc, run)  # the route's own TimeoutError
    except BaseException as exc:
        return _outcome_of(exc, run)


def _described(what: str, name: str) -> str:
    """What runs, as error texts name it: ``what`` ("prompt 'greet'"), or "tool '<name>'"."""
    return what or f"tool {name!r}"


def _subject(run: _ToolRun) -> str:
    """:func:`_described` for the start of a sentence ("Tool 'name' failed: ...")."""
    described = _described(run.what, run.name)
    return described[:1].upper() + described[1:]


def _timed_out(run: _ToolRun, limit: float | None) -> dict[str, Any]:
    run.set()
    run._stop_questions()
    return _failure(run, error_result(f"{_subject(run)} timed out after {limit:g} s and was cancelled."))


def _failure(run: _ToolRun, result: dict[str, Any]) -> dict[str, Any]:
    """The error result (one text block) of a route stopped before its response was complete: a
    tool's carries the text the route had sent (``ResponseCollector.failed_as``); a resource's or
    prompt's (``run.what``) becomes a JSON-RPC error, whose message stays the result's text alone."""
    return result if run.what else run.collector.failed_as(result)


def _outcome_of(exc: BaseException, run: _ToolRun) -> dict[str, Any] | None:
    """The one mapping of what a route's run can raise; cancellations and the like propagate."""
    if isinstance(exc, Abort):
        return None  # the channel knows why (input needed, or a protocol error)
    if isinstance(exc, BaseExceptionGroup):
        if exc.subgroup(Abort) is not None:
            return None
        if not isinstance(exc, ExceptionGroup):
            raise exc
        exc = _ours(exc)
    if isinstance(exc, ResultTooLarge):  # (the last chunk's, or a whole body's: before the test below)
        return _too_large(run, exc)
    if isinstance(exc, AppMisbehaved):
        subject = _subject(run)
        logger.error("%s: the route broke the ASGI contract: %s", subject, exc)
        return error_result(f"{subject} failed: the route did not produce a valid HTTP response.")
    if isinstance(exc, HandledFailure):  # the app's 500 handler answered: its response is the result
        failure = exc.exc
        logger.error(
            "%s: the route raised %s; the app's exception handler answered",
            _subject(run),
            type(failure).__name__,
            exc_info=failure,
        )
        return None
    if isinstance(exc, Exception):  # an ExceptionGroup too
        if run._complete or run.answered:
            cut = None if run.answered else cut_short(exc)
            if cut is None:
                # After a complete response, or once a stopped call's outcome went out without its
                # route: the result stands, as over HTTP, however soon the failure came.
                logger.error("%s: %s", _subject(run), _after(run, exc), exc_info=exc)
                return None
            return _route_failed(run, cut, mid_stream=True)  # what the app wrapped around the stream ended it
        failed = _route_failed(run, exc)
        # (raised as a route stopped over its limit unwound: the limit's result stands)
        return failed if run.overflowed is None else run.overflowed
    raise exc


def _too_large(run: _ToolRun, exc: ResultTooLarge) -> dict[str, Any]:
    """The error result of a response past ``max_binary_bytes`` (its route is stopped: see
    ``_RunHandle.overflow``)."""
    run.set()
    return error_result(f"{_subject(run)} failed: {exc}.")


def _after(run: _ToolRun, exc: Exception) -> str:
    """What failed once the call's outcome was settled, as the log says it. The route's own
    exception is one a wrapped app's ``ServerErrorMiddleware`` answered for: it sends its 500 (or
    its handler's response) itself, then re-raises what the route raised, so the call's result is
    that answer. A complete response the app sent otherwise (a route's own 503 too) is the route's
    answer, and the failure came after it (a middleware's, or background work)."""
    if not run._complete:
        return "the app failed after its call was stopped"
    if _in_background(exc):
        return "the app failed after its response, in its background work"
    status = status_line(run.collector.status)
    if _error_middleware_answered(exc):
        return f"the route raised {type(exc).__name__}; the app answered {status}"
    return f"the app failed after its response ({status})"


def _error_middleware_answered(exc: BaseException) -> bool:
    """Whether Starlette's ``ServerErrorMiddleware`` sent the response for ``exc`` itself: one of
    the frames ``exc`` passed through is its ``__call__``, whose ``response_started`` was still
    False when it caught ``exc`` (it sets that flag for the app's responses only, never its own)."""
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        if frame.f_code is _ERROR_MIDDLEWARE and frame.f_locals.get("response_started") is False:
            return True
        tb = tb.tb_next
    return False


_ERROR_MIDDLEWARE = ServerErrorMiddleware.__call__.__code__


def _in_background(exc: BaseException) -> bool:
    """Whether ``exc`` was raised in a Starlette ``BackgroundTask`` (work after the response)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__") == "starlette.background":
            return True
        tb = tb.tb_next
    return False


def _ours(group: ExceptionGroup[Exception]) -> Exception:
    """The first of our own errors (raised by the route's ``send``) in ``group``, a route that
    sends from a task group; else the group itself."""
    for kind in OURS:
        found: BaseException | None = group.subgroup(kind)
        while isinstance(found, BaseExceptionGroup):
            found = found.exceptions[0]
        if isinstance(found, Exception):
            return found
    return group


def _route_failed(run: _ToolRun, exc: BaseException, *, mid_stream: bool = False) -> dict[str, Any]:
    """The error result of the route's failure ``exc``; ``mid_stream``: a failure of its stream
    that something in the app ended (``_stream_failure.cut_short``), where an HTTPException of its own
    (FastAPI's SSE raises the route's, from its task group) is the response its handler would have
    sent, as Starlette's wrapper made from one is."""
    subject = _subject(run)
    failure = _lone(exc)
    handled = handled_late(failure)
    http = _http_exception(failure, handled, alone=mid_stream or failure is not exc)
    if http is not None:
        where = "after its response started" if run._started else _UNSEEN
        logger.warning("%s: the route raised HTTPException(%d) %s", subject, http.status_code, where)
        return _http_error(run, http)
    if handled is not None:
        logger.error("%s: the route raised %s %s", subject, type(handled).__name__, _TOO_LATE, exc_info=handled)
        failure = handled
    else:
        refused = _refusals(failure)
        if refused is not None:
            _tell_refused(subject, refused)
        elif isinstance(failure, AskTimeout):
            _tell_unanswered(subject, failure)
        else:
            logger.error("%s: the route raised %s", subject, type(failure).__name__, exc_info=exc)
    return _failure(run, error_result(f"{subject} failed: the route raised {_raised(failure)}."))


_UNSEEN = "inside an exception group, where the app's handlers do not see it"
_TOO_LATE = "after its response started (the app's handler for it could not answer)"


def _lone(exc: BaseException) -> BaseException:
    """The one exception a group holds, however deeply nested (a task group's, when only one of
    its tasks failed: FastAPI's own SSE runs a yielding route in one); else ``exc`` itself (a
    group of several stays a group: which of them to name would be arbitrary). Only an
    ``ExceptionGroup``: a cancellation in a group propagates before this (``_outcome_of``)."""
    while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _http_exception(failure: BaseException, handled: Exception | None, *, alone: bool) -> HTTPException | None:
    """The HTTPException the route raised where the app's handler could not answer it: the one
    Starlette's wrapper was raised from once the response had started (``handled``: a streaming
    generator's check on its first or a later step), or the failure itself when the handlers never
    saw it (``alone``: in a group, whose type they look up, not its contents; or raised in a stream
    the app ended); None for anything else."""
    if handled is not None:
        return handled if isinstance(handled, HTTPException) else None
    return failure if alone and isinstance(failure, HTTPException) else None


def _refusals(exc: BaseException) -> list[BaseException] | None:
    """The refusals (``ClientRequestError``) ``exc`` is: one, or a group holding nothing but them
    (concurrent questions, all refused); None when it is anything else."""
    if isinstance(exc, ClientRequestError):
        return [exc]
    return refusals_only(exc) if isinstance(exc, ExceptionGroup) else None


_TOLD = Remembered(256)  # (subject, method, code, reason) of the refusals logged; (subject, text, "ask_timeout")


# why a question failed that no client refused: the call stopped, or the server shut down, while it
# waited for its answer (a handshake-era answer that reached another process never comes; review mend
# item 6), or before it was sent
_UNANSWERED = (
    (STOPPED, "got no answer before the call was stopped (cancelled, past its time limit, or its client left)"),
    (SHUTTING_DOWN, "got no answer before the server shut down"),
)


def _tell_refused(subject: str, refused: list[BaseException]) -> None:
    """A route failing because its question to the client failed (the client's error answer, a
    capability it lacks, a stopped call, a server shutting down): not the route's own failure, and
    the client's doing as often as not, as a refused Host or Origin is (``transport._checks``), so a WARNING without
    traceback, once per tool, method, error code and reason (what the client sends never writes an
    ERROR line); the client reads why in the error result. A question no client answered (our own
    error, ``_UNANSWERED``) says it got no answer, not that it failed or was refused."""
    first = refused[0]
    error = first.error if isinstance(first, ClientRequestError) else {}
    method = first.method if isinstance(first, ClientRequestError) else ""
    code = error.get("code")
    code = code if type(code) is int else None  # what the client sent is logged only as an integer
    why = next((text for ours, text in _UNANSWERED if error == ours), "failed or was refused")
    if _TOLD.first((subject, method, code, why)):
        logger.warning(
            "%s: the route raised ClientRequestError (%s %s: its request to the client %s; logged once per tool, "
            "method, code and reason)",
            subject,
            method,
            code,
            why,
        )


def _tell_unanswered(subject: str, exc: AskTimeout) -> None:
    """A route failing because the client left its question unanswered until ``ask_timeout``
    (ops review: an ERROR and a ~50-line traceback per call): the client's doing, as a refusal is
    (:func:`_tell_refused`), so a WARNING without traceback, once per tool, methods left unanswered
    and time limit (the exception's text, which is ours: those methods and that time)."""
    if _TOLD.first((subject, str(exc), "ask_timeout")):
        logger.warning(
            "%s: %s, and the route did not catch the TimeoutError (logged once per tool, unanswered methods and "
            "time limit)",
            subject,
            exc,
        )


def _raised(exc: BaseException) -> str:
    """What the route raised, as its error text names it: the exception's type, and for a
    ``ClientRequestError`` (its text is ours and the client's own answer, escaped: the client may
    read why) that text too; a group holding nothing but them (concurrent questions, all refused)
    names them so, one alone as it would read by itself, several with each distinct reason in
    order; an ``AskTimeout`` is the ``TimeoutError`` it is, with its text (ours: the methods left
    unanswered and ``ask_timeout``)."""
    if isinstance(exc, AskTimeout):
        return f"TimeoutError: {exc}"
    refused = _refusals(exc)
    if refused is None:
        return type(exc).__name__
    reasons = list(dict.fromkeys(map(str, refused)))
    if len(reasons) == 1:
        return f"ClientRequestError: {reasons[0]}"
    return f"ClientRequestErrors: {'; '.join(reasons)}"


_JSON = ((b"content-type", b"application/json"),)


def _http_error(run: _ToolRun, http: HTTPException) -> dict[str, Any]:
    """The result of the response the app's handler would have sent for ``http`` had its response
    not started (FastAPI's: the status, the exception's headers, and ``{"detail": ...}``), built as
    any route's error is (the text after the status, a Retry-After, the result limit, credentials
    the detail echoes redacted); a tool's then carries the text the route had sent, as any failure
    of a route stopped mid-stream does (:func:`_failure`)."""
    collector = run.collector.fresh(structured=False)
    # (a value Latin-1 cannot hold, which Starlette refuses: "?"; a name or value that is no str,
    # which Starlette's response fails on as it encodes it, so it never goes out: left out)
    headers = tuple(
        (name.encode("latin-1", "replace"), value.encode("latin-1", "replace"))
        for name, value in (http.headers or {}).items()
        if isinstance(name, str) and isinstance(value, str)
    )
    collector.head(http.status_code, _JSON + headers)
    try:
        body = dumps_exactly({"detail": http.detail})
    except TypeError:  # (orjson.JSONEncodeError) a detail JSON cannot hold: its text
        body = orjson.dumps({"detail": str(http.detail)})
    collector.feed(body, False)
    return _failure(run, collector.result())
