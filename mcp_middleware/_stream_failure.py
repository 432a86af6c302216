"""Whether a streamed call's failure is its stream's: what the guard (``_guard._outcome_of``) asks
of an exception raised once the route's response was complete. Something in the app may end a
stream as it fails (an inner ``BaseHTTPMiddleware`` completes the response it re-sends, then
re-raises; FastAPI's own SSE and sse-starlette end the stream when the task that feeds it fails),
so a complete response does not mean the route succeeded: the exception's traceback tells where
it was raised (:func:`cut_short`). And Starlette's wrapper of an exception the app has a handler
for, raised once the response had started (:func:`handled_late`). Reads frames only: imports
nothing of the package (FastAPI and sse-starlette are matched by name: FastAPI is no dependency,
and importing sse-starlette hooks it into the server).
"""

from __future__ import annotations

from types import CodeType, FrameType, TracebackType

from starlette.responses import StreamingResponse

__all__ = ["STREAM_RESPONSE", "cut_short", "handled_late", "streams"]

# Starlette's words (starlette._exception_handler) for an exception the app has a handler for,
# raised once the response had started: it cannot send the handler's response any more, and
# raises a RuntimeError with these words from it
_HANDLED_LATE = "Caught handled exception, but response already started."


def cut_short(exc: Exception, above: TracebackType | None = None) -> Exception | None:
    """The failure of the route's streamed body that ``exc`` is (itself, or the member of a task
    group's ``ExceptionGroup``) when the response was complete only because something in the app
    ended it once the stream had failed, else None. An inner ``BaseHTTPMiddleware`` re-sends the
    route's stream and, when it fails, sends its empty last message before re-raising; FastAPI's
    own SSE pulls the route's generator in a task of its own and ends the stream when that task
    fails. Told by what raised it (:func:`_streamed_from`; for Starlette's wrapper of a handled
    exception, :func:`handled_late`, the exception it was raised from). ``above``: the traceback
    of the group ``exc`` is a member of."""
    if isinstance(exc, ExceptionGroup):
        for member in exc.exceptions:
            found = cut_short(member, exc.__traceback__)
            if found is not None:
                return found
        return None
    return exc if _streamed_from(handled_late(exc) or exc, above) else None


def _streamed_from(exc: BaseException, above: TracebackType | None = None) -> bool:
    """Whether ``exc`` was raised while a response's body was being produced: it passed through
    FastAPI's SSE producer task, or through a streaming response (Starlette's
    ``StreamingResponse.stream_response``, sse-starlette's ``EventSourceResponse._stream_response``)
    anywhere but at its final send. Each ends with that send, the empty last body message, once
    its body iterator is exhausted; what that send raised (an inner pure-ASGI middleware's ``send``
    wrapper failing once it passed the message on) came after the stream's whole content and is
    not its failure. Anywhere else (pulling the body iterator, sending a chunk) the stream was cut
    short. Told by the line the exception passed the frame at (its traceback entry's): the final
    send is the function's last line (Starlette 0.46 to 1.10, sse-starlette 3.0 to 3.7), so no
    matter which response sent the last message to us (one an inner middleware wrapped around the
    route's, or none of the route's own: an inner ``BaseHTTPMiddleware`` re-sends it). So does a
    failure of a task that feeds a streaming response or keeps it alive (:func:`_streaming_frame`;
    sse-starlette's ``data_sender_callable``, found from its response's ``__call__`` among ``exc``'s
    frames, or among ``above``'s: those of the task group's exception group ``exc`` is a member of)."""
    tb = exc.__traceback__
    sender = _data_sender(above)
    while tb is not None:
        code = tb.tb_frame.f_code
        if code is sender or _streaming_frame(tb, code):
            return True
        sender = sender or _data_sender(tb, only=True)
        tb = tb.tb_next
    return False


def _data_sender(tb: TracebackType | None, *, only: bool = False) -> CodeType | None:
    """The code of the ``data_sender_callable`` of the sse-starlette response whose ``__call__``
    (its task group runs that callable in a task of its own: the events it feeds the stream) is a
    frame of ``tb`` (``only``: its first frame alone); None when there is none."""
    while tb is not None:
        frame = tb.tb_frame
        if (frame.f_code.co_name, frame.f_globals.get("__name__")) == _SSE_STARLETTE_CALL:
            return _code_of(getattr(frame.f_locals.get("self"), "data_sender_callable", None))
        tb = None if only else tb.tb_next
    return None


def _streaming_frame(tb: TracebackType, code: CodeType) -> bool:
    """Whether ``tb``'s frame is one that produces a response's body, passed anywhere but at its
    final send (see :func:`_streamed_from`): FastAPI's SSE producer or sse-starlette's ping task (a
    ping goes out only while the stream is active, before its final send), anywhere; a streaming
    response (:func:`streams`) but at its last line: Starlette's ``stream_response`` and
    sse-starlette's ``_stream_response`` end with their final send, and a ``StreamingResponse``
    subclass's own ``stream_response`` is assumed to (a trailer, say: its last line)."""
    if (code.co_name, tb.tb_frame.f_globals.get("__name__")) in _ANYWHERE:
        return True
    if streams(tb.tb_frame) or (
        code.co_name == "stream_response" and isinstance(tb.tb_frame.f_locals.get("self"), StreamingResponse)
    ):
        return tb.tb_lineno != _last_line(code)
    return False


def streams(frame: FrameType) -> bool:
    """Whether ``frame`` is a streaming response's own, sending its body: Starlette's
    ``StreamingResponse.stream_response`` (FastAPI's streams too) or sse-starlette's
    ``EventSourceResponse._stream_response`` (by name: importing sse-starlette hooks it into the
    server, so an app that does not is left alone)."""
    code = frame.f_code
    return code is STREAM_RESPONSE or (code.co_name, frame.f_globals.get("__name__")) == _SSE_STARLETTE


def _code_of(func: object) -> CodeType | None:
    """The code of a function or a bound method (None for anything else: a callable object's
    ``__call__`` is left unmatched)."""
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    return code if isinstance(code, CodeType) else None


def _last_line(code: CodeType) -> int:
    """The last line of a function's code (its last statement's, when that is one line)."""
    return max(line for _, _, line in code.co_lines() if line is not None)


STREAM_RESPONSE = StreamingResponse.stream_response.__code__
# by name: FastAPI is no dependency, and importing sse-starlette hooks it into the server
_SSE_STARLETTE = ("_stream_response", "sse_starlette.sse")
# FastAPI's SSE producer task; sse-starlette's ping task (cancel_on_finish(_ping))
_ANYWHERE = (("_producer", "fastapi.routing"), ("_ping", "sse_starlette.sse"))
# sse-starlette's EventSourceResponse.__call__, whose task group runs its data_sender_callable
_SSE_STARLETTE_CALL = ("__call__", "sse_starlette.sse")


def handled_late(failure: BaseException) -> Exception | None:
    """The route's exception Starlette's wrapper was raised from: the RuntimeError with its exact
    words (``_HANDLED_LATE``) for an exception the app has a handler for, raised once the response
    had started; None for anything else (a RuntimeError the route raised itself from another
    exception is its own)."""
    cause = failure.__cause__
    if type(failure) is RuntimeError and isinstance(cause, Exception) and str(failure) == _HANDLED_LATE:
        return cause
    return None
