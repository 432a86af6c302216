"""The route-facing ``MCPContext`` API on its own: a live context over a recording channel, and the
inactive one a route gets outside an MCP call. ``test_context.py`` drives the same end to end."""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from mcp_middleware._call_context import STOPPED, LiveContext
from mcp_middleware._invocation import _stop_check
from mcp_middleware.context import (
    ClientRequestError,
    ContextHolder,
    Elicit,
    InputRequest,
    ListRoots,
    MCPContext,
    NotInMCPCall,
    Sample,
)

pytestmark = pytest.mark.anyio


class Recorder:
    """A channel that records what the context sends and answers every request with its method."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    async def notify(self, method: str, params: Mapping[str, Any]) -> None:
        self.sent.append((method, dict(params)))

    async def ask(self, requests: Mapping[str, InputRequest], state: str | None) -> dict[str, Any]:
        self.sent.append(("ask", (dict(requests), state)))
        return {key: {"asked": request.method} for key, request in requests.items()}

    async def list_changed(self, kind: str) -> None:
        self.sent.append(("list_changed", kind))

    def resource_updated(self, uri: str) -> None:
        self.sent.append(("resource_updated", uri))


def live(
    channel: Recorder,
    token: str | int | None = "t",
    log_level: str | None = "info",
    stopped: Callable[[], bool] = lambda: False,
) -> LiveContext:
    return LiveContext(
        channel,
        tool="t",
        protocol_version="2025-06-18",
        progress_token=token,
        client_capabilities={},
        client_info=None,
        log_level=log_level,
        request_state=None,
        stopped=stopped,
    )


async def test_the_runners_own_progress_values_stay_above_the_routes_and_below_its_next_report() -> None:
    """Streamed chunks and heartbeats of a route that has its context go the smallest step above
    the last value sent, so the route's own reports, sent before or after them, all go out: one
    token, one increasing sequence (progress.mdx). (Review: numbering them 1, 2, 3 dropped a route's
    later report of 1 of 3, 2 of 3.)"""
    channel = Recorder()
    ctx = live(channel)
    first = ctx.automatic_progress()
    second = ctx.automatic_progress()
    assert 0 < first < second < 1e-300
    await ctx.report_progress(1, 3)  # above the heartbeats: goes out
    beat = ctx.automatic_progress()
    assert 1 < beat < 1.000001
    await ctx.report_progress(2, 3)
    await ctx.report_progress(2)  # not above what was sent for the token: dropped
    assert [m[1]["progress"] for m in channel.sent] == [1, 2]


async def test_heartbeats_before_the_route_takes_its_context_leave_room_for_its_reports() -> None:
    """Heartbeats the runner sends before the route has built its context (a slow start, its
    dependencies still resolving) go the smallest step up, not 1, 2, 3: numbered so, they took
    the values the route then reports itself (1 of 3, 2 of 3), and those were dropped as not
    increasing (found under load, where a 1 ms keep-alive beat the route's dependencies)."""
    channel = Recorder()
    holder = ContextHolder(lambda _: (live(channel), None))
    beats = [holder.automatic_progress(step=False) for _ in range(3)]
    assert 0 < beats[0] < beats[1] < beats[2] < 1e-300
    ctx = holder()
    for step in (1, 2, 3):
        await ctx.report_progress(step, 3)
    assert [m[1]["progress"] for m in channel.sent] == [1, 2, 3]


async def test_streamed_chunks_before_the_context_count_up_and_the_route_goes_on_above() -> None:
    channel = Recorder()
    holder = ContextHolder(lambda _: (live(channel), None))
    values = [holder.automatic_progress(), holder.automatic_progress(step=False), holder.automatic_progress()]
    assert values[0] == 1
    assert 1 < values[1] < 1.000001
    assert values[2] == 2
    await holder().report_progress(2)  # not above what went out: dropped
    await holder().report_progress(3)
    assert [m[1]["progress"] for m in channel.sent] == [3]


async def test_progress_must_increase_and_carries_total_and_message() -> None:
    channel = Recorder()
    ctx = live(channel)
    await ctx.report_progress(1, total=3, message="one")
    await ctx.report_progress(1)  # not an increase: dropped
    await ctx.report_progress(0.5)  # a decrease: dropped
    await ctx.report_progress(2)
    assert channel.sent == [
        ("notifications/progress", {"progressToken": "t", "progress": 1, "total": 3, "message": "one"}),
        ("notifications/progress", {"progressToken": "t", "progress": 2}),
    ]
    silent = Recorder()
    await live(silent, token=None).report_progress(1)  # no token: nothing to report against
    assert silent.sent == []


async def test_non_finite_progress_is_dropped_and_such_a_total_left_out() -> None:
    """JSON has no NaN or infinity: they went out as "progress": null. Such a progress is dropped
    (and does not count as the last value sent); such a total is left out."""
    nan, inf = float("nan"), float("inf")
    channel = Recorder()
    ctx = live(channel)
    await ctx.report_progress(nan, 3)
    await ctx.report_progress(inf)
    await ctx.report_progress(-inf)
    await ctx.report_progress(1, nan)
    await ctx.report_progress(2, inf, "two")
    assert channel.sent == [
        ("notifications/progress", {"progressToken": "t", "progress": 1}),
        ("notifications/progress", {"progressToken": "t", "progress": 2, "message": "two"}),
    ]
    assert 2 < ctx.automatic_progress() < 2.000001  # the last value sent is 2, not infinity


async def test_logs_honour_the_level_and_refuse_unknown_levels() -> None:
    channel = Recorder()
    ctx = live(channel, log_level="warning")
    await ctx.log("info", "below the floor")
    await ctx.log("error", {"x": 1}, logger="db")
    assert channel.sent == [("notifications/message", {"level": "error", "data": {"x": 1}, "logger": "db"})]
    with pytest.raises(ValueError, match="unknown log level 'loud'"):
        await ctx.log("loud", "x")
    unset = Recorder()
    await live(unset, log_level=None).log("emergency", "x")  # the client asked for no logs
    assert unset.sent == []


async def test_asking_helpers_build_their_requests() -> None:
    channel = Recorder()
    ctx = live(channel)
    assert await ctx.ask({}) == {}  # nothing to ask: the channel is not involved
    assert await ctx.sample([{"role": "user", "content": {"type": "text", "text": "hi"}}], 50, temperature=0.2) == {
        "asked": "sampling/createMessage"
    }
    assert await ctx.list_roots(state="s1") == {"asked": "roots/list"}
    assert await ctx.elicit("Name?", {"type": "object"}, key="n") == {"asked": "elicitation/create"}
    (_, (sample, _)), (_, (roots, state)), (_, (elicit, _)) = channel.sent
    assert isinstance(sample["sampling"], Sample)
    assert sample["sampling"].params() == {
        "temperature": 0.2,
        "messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}],
        "maxTokens": 50,
    }
    assert isinstance(roots["roots"], ListRoots)
    assert state == "s1"
    assert isinstance(elicit["n"], Elicit)


async def test_change_notices_reach_the_channel() -> None:
    channel = Recorder()
    ctx = live(channel)
    await ctx.tools_changed()
    await ctx.prompts_changed()
    await ctx.resources_changed()
    await ctx.resource_updated("test://x")
    assert channel.sent == [
        ("list_changed", "tools"),
        ("list_changed", "prompts"),
        ("list_changed", "resources"),
        ("resource_updated", "test://x"),
    ]


async def test_outside_an_mcp_call_the_context_is_inert() -> None:
    ctx = MCPContext()
    assert ctx.active is False
    await ctx.report_progress(1)
    await ctx.log("error", "x")
    await ctx.tools_changed()
    await ctx.prompts_changed()
    await ctx.resources_changed()
    await ctx.resource_updated("test://x")
    for ask in (ctx.elicit("x", {}), ctx.sample([], 1), ctx.list_roots()):
        with pytest.raises(NotInMCPCall):
            await ask


async def test_default_keys_are_numbered_per_run_and_an_explicit_key_is_asked_once() -> None:
    """A key names one question of the call (a 2026-07-28 retry answers by key): default keys go
    "elicitation", "elicitation-2", ... skipping keys already taken; a repeated key is an error."""
    channel = Recorder()
    ctx = live(channel)
    await ctx.elicit("a", {})
    await ctx.ask({"elicitation-2": Elicit("b", {})})
    await ctx.elicit("c", {})
    await ctx.sample([], 1)
    await ctx.sample([], 1)
    await ctx.list_roots()
    keys = [next(iter(requests)) for _, (requests, _) in channel.sent]
    assert keys == ["elicitation", "elicitation-2", "elicitation-3", "sampling", "sampling-2", "roots"]
    for again in (ctx.elicit("d", {}, key="sampling"), ctx.ask({"new": ListRoots(), "roots": ListRoots()})):
        with pytest.raises(ValueError, match=r"key '(sampling|roots)' was already asked in this call"):
            await again
    assert len(channel.sent) == 6  # refused before reaching the client


async def test_once_its_call_is_stopped_a_context_sends_nothing_and_a_question_fails_at_once() -> None:
    """Progress and logs of a stopped call are dropped; a question raises ``ClientRequestError``
    (the first request's method, ``STOPPED``) with nothing sent; announcements go to other streams
    and still go out. ``test_stuck_routes`` drives it end to end."""
    channel, stop = Recorder(), [False]
    ctx = live(channel, stopped=lambda: stop[0])
    await ctx.report_progress(1)
    stop[0] = True
    await ctx.report_progress(2)
    await ctx.log("error", "dropped")
    with pytest.raises(ValueError, match="unknown log level"):
        await ctx.log("loud", "a wrong level is still the route's mistake")
    with pytest.raises(ClientRequestError) as refused:
        await ctx.ask({"roots": ListRoots(), "more": Elicit("?", {"type": "object", "properties": {}})})
    assert (refused.value.method, refused.value.error) == ("roots/list", STOPPED)
    assert await ctx.ask({}) == {}
    await ctx.tools_changed()
    assert channel.sent == [
        ("notifications/progress", {"progressToken": "t", "progress": 1}),
        ("list_changed", "tools"),
    ]
    assert await ctx.list_roots() == {"asked": "roots/list"} if not stop.__setitem__(0, False) else None


class _Run:
    def __init__(self) -> None:
        self.stop = False

    def halted(self) -> bool:
        return self.stop


def test_the_stop_check_follows_its_run_and_reads_a_run_gone_or_none_as_stopped() -> None:
    """The check holds its run weakly (the run holds the context): a run that is gone, or none
    found when the context was built (its call had ended), reads as stopped. It asks the run's
    ``halted`` (stopped, or its client gone: ``test_client_leaves`` runs it)."""
    run = _Run()
    check = _stop_check(run)  # type: ignore[arg-type]
    assert check() is False
    run.stop = True
    assert check() is True
    run.stop = False
    del run
    gc.collect()
    assert check() is True
    assert _stop_check(None)() is True
