"""Whether a tool's route may send a response that has background work after it.

Part of the catalog (:mod:`mcp_middleware.catalog`, through ``ToolSpec.goes_on``): decided once
per tool when the catalog is built, so that a call of any other route pays nothing for the
answer at its last body message (``_tool_run._GoingOnRun``). A FastAPI route does when it takes a
``BackgroundTasks`` parameter, itself or in a dependency (FastAPI gives its response that
background), or when its endpoint is annotated to return a Starlette ``Response`` (the one way it
can give a response a ``background=`` of its own). Anything else (a plain Starlette route, an
endpoint returning a response without saying so) is answered at the ticker's next tick, as before.
"""

from __future__ import annotations

import inspect
from typing import Any, get_type_hints

from starlette.responses import Response

__all__ = ["goes_on"]


def goes_on(route: Any) -> bool:
    """Whether ``route`` (the operation's route object, or None) may answer with a response whose
    app goes on after it (see the module's docstring)."""
    dependant = getattr(route, "dependant", None)
    if dependant is None:  # not a FastAPI route
        return False
    return _takes_background_tasks(dependant, set()) or _returns_response(getattr(route, "endpoint", None))


def _takes_background_tasks(dependant: Any, seen: set[int]) -> bool:
    if id(dependant) in seen:
        return False
    seen.add(id(dependant))
    if getattr(dependant, "background_tasks_param_name", None):
        return True
    return any(_takes_background_tasks(sub, seen) for sub in getattr(dependant, "dependencies", ()))


def _returns_response(endpoint: Any) -> bool:
    try:
        annotation = get_type_hints(endpoint).get("return")
    except Exception:  # no function, or an annotation that does not resolve here
        return False
    return inspect.isclass(annotation) and issubclass(annotation, Response)
