"""The options' type hints take what the options take at run time. mypy checks this file (the
tests are in mypy's packages), so a hint narrower than the runtime (``Sequence[str]`` where a set
is taken, ``int`` where ``1e6`` is) fails the type check, as a user's own code would."""

from __future__ import annotations

import inspect
import typing

from fastapi import FastAPI

from mcp_middleware import MCPMiddleware


class Integral:
    """An integer that is no int, as numpy.int64 is: it has ``__index__``."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def test_sets_and_integral_floats_are_typed_as_taken() -> None:
    middleware = MCPMiddleware(
        FastAPI(),
        include_paths={"/items/*"},
        exclude_paths=frozenset({"/admin/*"}),
        allowed_hosts={"api.example.com"},
        allowed_origins={"https://app.example.com"},
        cors_allow_origins={"https://app.example.com"},
        max_tool_name_length=40.0,
        max_body_bytes=1e6,
        max_result_chars=Integral(2000),
        max_binary_bytes=0.0,
        max_concurrent_calls=8.0,
        keepalive_interval=Integral(5),
        call_timeout=Integral(30),
        ask_timeout=1e3,
    )
    settings = middleware.settings
    assert settings.allowed_hosts == frozenset({"api.example.com"})
    assert settings.allowed_origins == frozenset({"https://app.example.com"})
    sizes = (settings.max_tool_name_length, settings.max_body_bytes, settings.max_result_chars)
    assert sizes == (40, 1_000_000, 2000)
    assert (settings.max_binary_bytes, settings.max_concurrent_calls) == (0, 8)
    assert (settings.keepalive_interval, settings.call_timeout, settings.ask_timeout) == (5, 30, 1000.0)


def test_add_middleware_is_typed_as_the_constructor() -> None:
    """Starlette's ``add_middleware`` takes the constructor's parameters (a ParamSpec)."""
    app = FastAPI()
    app.add_middleware(MCPMiddleware, exclude_paths={"/admin/*"}, include_paths=("/items/*",), max_body_bytes=1e6)
    assert len(app.user_middleware) == 1


def test_the_constructors_hints_resolve_at_run_time() -> None:
    """Doc generators, ``inspect.signature(eval_str=True)`` and validate-call wrappers resolve the public
    constructor's annotations; a name kept for the type checker alone would raise NameError there."""
    hints = typing.get_type_hints(MCPMiddleware.__init__)
    assert "Request" in str(hints["auth"])
    assert inspect.signature(MCPMiddleware.__init__, eval_str=True).parameters["auth"].default is None
