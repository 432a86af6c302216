"""The route-facing ``MCPContext`` API on its own: a live context over a recording channel, and the
inactive one a route gets outside an MCP call. ``test_context.py`` drives the same end to end."""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from mcp_middleware._call_context import STOPPED, LiveContext
from mcp_middleware._context_holder import progress_above
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


def values(channel: Recorder) -> list[Any]:
    return [params["progress"] for _, params in channel.sent]


async def test_the_runners_own_progress_counts_whole_chunks_until_the_route_reports() -> None:
    """Review s11 item 2: a streaming route that merely declared ``Depends(mcp_context)`` got
    chunks numbered 5e-324, 1e-323, ... (the smallest float steps), which clients show as 0. Until
    the route reports, chunks count 1, 2, 3 as without the dependency; a heartbeat goes a readable
    fraction up, below the next whole number."""
    ctx = live(Recorder())
    assert [ctx.automatic_progress() for _ in range(3)] == [1, 2, 3]
    assert ctx.automatic_progress(step=False) == 3.001
    assert ctx.automatic_progress(step=False) == 3.002
    assert ctx.automatic_progress() == 4


async def test_the_runners_own_progress_after_a_route_report_goes_up_in_readable_fractions() -> None:
    """Once the route reports, chunks and heartbeats go a thousandth up (not the smallest float
    step: 1.0000000000000002 shows as a frozen 1), staying below the next whole number, so the
    route's next report (2 of 10) is above them and goes out as it is."""
    channel = Recorder()
    ctx = live(channel)
    await ctx.report_progress(1, 10, "one")
    assert [ctx.automatic_progress(), ctx.automatic_progress(step=False), ctx.automatic_progress()] == [
        1.001,
        1.002,
        1.003,
    ]
    await ctx.report_progress(2, 10)
    assert ctx.automatic_progress() == 2.001
    assert channel.sent[0][1] == {"progressToken": "t", "progress": 1, "total": 10, "message": "one"}
    assert values(channel) == [1, 2]


async def test_a_route_report_not_above_the_runners_values_is_raised_just_above_them() -> None:
    """A route that reports after chunks went out (1, 2, 3) reports below them: its report goes out
    a thousandth above the last value sent, with its total and message, rather than being dropped
    (progress values MUST increase). A report not above the route's own previous one is still
    dropped; one above every value sent goes out as it is."""
    channel = Recorder()
    ctx = live(channel)
    for _ in range(3):
        ctx.automatic_progress()
    await ctx.report_progress(1, 10, "starting")
    assert ctx.automatic_progress() == 3.002
    await ctx.report_progress(2, 10)  # above its own 1, not above 3.002: raised
    await ctx.report_progress(2, 10)  # not above its own 2: dropped
    await ctx.report_progress(5, 10)
    assert channel.sent == [
        ("notifications/progress", {"progressToken": "t", "progress": 3.001, "total": 10, "message": "starting"}),
        ("notifications/progress", {"progressToken": "t", "progress": 3.003, "total": 10}),
        ("notifications/progress", {"progressToken": "t", "progress": 5, "total": 10}),
    ]


def test_a_readable_step_stays_below_the_next_whole_number_as_long_as_it_can() -> None:
    """The fractions go a thousandth up, then finer as the next whole number nears (1.999,
    1.9991, ...), up to six decimals; past that the next whole number. Always increasing, never a
    subnormal or a value longer than six decimals."""
    assert [progress_above(x) for x in (0, 1, 1.5, 1.999, 1.9991, 1.99999, 1.999999, 1.0005, 2.5e-7)] == [
        0.001,
        1.001,
        1.501,
        1.9991,
        1.9992,
        1.999991,
        2,
        1.001,
        0.001,
    ]
    last: float = 1
    seen = []
    while last < 2:
        last, before = progress_above(last), last
        assert last > before
        assert last == round(last, 6)
        seen.append(last)
    assert len(seen) == 999 + 3 * 9 + 1  # (1.001 to 1.999, three finer decimals of nine each, then 2)
    assert progress_above(1e300) > 1e300
    assert isinstance(progress_above(2.0**70), float)  # (a whole number past 2**53: no int JSON may not hold)


async def test_heartbeats_before_the_route_takes_its_context_leave_room_for_its_reports() -> None:
    """Heartbeats the runner sends before the route has built its context (a slow start, its
    dependencies still resolving) go a fraction up, not 1, 2, 3: numbered so, they took the values
    the route then reports itself (1 of 3, 2 of 3), which went out raised (found under load, where
    a 1 ms keep-alive beat the route's dependencies)."""
    channel = Recorder()
    holder = ContextHolder(lambda _: (live(channel), None))
    beats = [holder.automatic_progress(step=False) for _ in range(3)]
    assert beats == [0.001, 0.002, 0.003]
    ctx = holder()
    for step in (1, 2, 3):
        await ctx.report_progress(step, 3)
    assert values(channel) == [1, 2, 3]


async def test_streamed_chunks_before_the_context_count_up_and_the_context_goes_on_above() -> None:
    """The holder's chunks count 1, 2 (a heartbeat between them a fraction up); the context built
    after them goes on above: its chunks whole numbers, a route report not above them raised."""
    channel = Recorder()
    holder = ContextHolder(lambda _: (live(channel), None))
    sent = [holder.automatic_progress(), holder.automatic_progress(step=False), holder.automatic_progress()]
    assert sent == [1, 1.001, 2]
    assert holder().automatic_progress() == 3
    await holder().report_progress(2)  # not above what went out: raised
    await holder().report_progress(4)
    assert values(channel) == [3.001, 4]


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
    assert ctx.automatic_progress() == 2.001  # the last value sent is 2, not infinity


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
