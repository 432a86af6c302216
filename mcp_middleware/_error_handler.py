"""The app's 500/``Exception`` handler, for a route that raised during an MCP call.

Starlette (and FastAPI) call that handler from ``ServerErrorMiddleware``, the outermost layer of the
app, above every user middleware: a middleware added with ``add_middleware`` (ours) sends the
route's sub-request below it, where a route's exception reaches no handler. :class:`AppErrorHandler`
does there what ``ServerErrorMiddleware`` does: when the route raised before its response started,
it calls the handler with a ``Request`` of the sub-request's scope (a sync one in a worker thread)
and sends the response it returns, which the call collects as the route's own; then it raises
:class:`HandledFailure`, which the cancel guard (``_guard``) logs as the route's failure and
answers with what was collected. In debug mode the app answers a traceback page: nothing is put
in front of the app then (the call's generic error text stays). A handler that raises is logged,
and the route's exception goes on as if there were none. Never handed to the handler: our own
errors and a ``ClientRequestError`` (a question the client cannot answer, which plain HTTP never
raises), alone or in a group of nothing else (:func:`_not_the_apps`); the call shows the
client's reason.

Put in front of the route app by ``_served_app`` only when the app serving the call is an
application whose stack we are in (``add_middleware``); an app the middleware wraps, directly
(``MCPMiddleware(app)``) or inside other middlewares (``MCPMiddleware(GZipMiddleware(app))``), has
its ``ServerErrorMiddleware`` below us already.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette._utils import is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._input_requests import ClientRequestError
from ._printable import printable
from .dispatch import AppMisbehaved
from .results import ResultTooLarge

# what the route's ``send`` raises of ours (the order in which _guard looks for them in a group)
OURS: tuple[type[Exception], ...] = (ResultTooLarge, AppMisbehaved)


def refusals_only(group: ExceptionGroup[Exception]) -> list[BaseException] | None:
    """The refusals (:class:`ClientRequestError`) of a group holding nothing else (concurrent questions,
    all refused), its nested groups flattened, in order; None when it holds anything else."""
    refused, rest = group.split(ClientRequestError)
    return _leaves(refused) if refused is not None and rest is None else None


def _leaves(group: BaseExceptionGroup[Any]) -> list[BaseException]:
    """The exceptions of ``group`` and of the groups nested in it, in order."""
    return [
        leaf for exc in group.exceptions for leaf in (_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    ]


__all__ = ["AppErrorHandler", "HandledFailure", "error_handler_of", "refusals_only"]

logger = logging.getLogger("mcp_middleware.toolcall")

# (Starlette types it as either an HTTP or a websocket handler: ours get HTTP requests only)
Handler = Callable[..., Any]


class HandledFailure(Exception):
    """The route raised ``exc``; the app's handler answered in its place (the response was sent)."""

    def __init__(self, exc: Exception) -> None:
        super().__init__(exc)
        self.exc = exc


def error_handler_of(app: Any) -> Handler | None:
    """The handler the app's ``ServerErrorMiddleware`` was built with (Starlette's rule: the last of
    its ``exception_handlers`` keyed 500 or ``Exception``), None in debug mode or without one."""
    stack = getattr(app, "middleware_stack", None)
    if not isinstance(stack, ServerErrorMiddleware) or stack.debug:
        return None
    return stack.handler


class AppErrorHandler:
    """The route app, with the app's 500 handler answering for a route that raised before its
    response started."""

    __slots__ = ("app", "handler")

    def __init__(self, app: ASGIApp, handler: Handler) -> None:
        self.app = app
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started or _not_the_apps(exc):
                raise
            response = await self._answer(scope, exc)
            if response is None:
                raise
            await response(scope, receive, send)
            raise HandledFailure(exc) from exc

    async def _answer(self, scope: Scope, exc: Exception) -> Response | None:
        """The handler's response to ``exc``, or None when the handler raised (logged)."""
        request = Request(scope)
        try:
            if is_async_callable(self.handler):
                response: Response = await self.handler(request, exc)
            else:
                response = await run_in_threadpool(self.handler, request, exc)
        except Exception as failure:
            what = printable(f"{scope.get('method')} {scope.get('path')}")  # the path holds arguments
            logger.error("%s: the app's exception handler raised %s", what, type(failure).__name__, exc_info=failure)
            return None
        return response


def _not_the_apps(exc: Exception) -> bool:
    """Whether ``exc`` is no failure of the app's, which its handler would report: our own errors,
    raised by the route's ``send`` (alone, or in a task group's group), and a question the client
    cannot answer (:class:`ClientRequestError`: a method its revision lacks, a capability it did not
    declare, the question of a stopped call), which cannot happen over plain HTTP; the call shows
    the client's reason. A group is the app's unless it holds nothing but those refusals: any other
    exception beside them is an app failure the handler is there to report."""
    if isinstance(exc, ExceptionGroup):
        return exc.subgroup(OURS) is not None or refusals_only(exc) is not None
    return isinstance(exc, (*OURS, ClientRequestError))
