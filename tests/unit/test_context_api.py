"""The route-facing ``MCPContext`` API on its own: a live context over a recording channel, and the
inactive one a route gets outside an MCP call. ``test_context.py`` drives the same end to end."""

from __future__ import annotations

import gc
import itertools
import random
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from mcp_middleware._call_context import STOPPED, LiveContext
from mcp_middleware._context_holder import progress_below
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


def test_a_readable_step_nears_its_ceiling_and_never_reaches_it() -> None:
    """Review s11fs2 item 1: the runner's values after a route's report reached the next whole
    number (1.999999 -> 2, then 2.001 ... past the route's total of 2). They now step a thousandth
    while the room left is above a tenth, then a decimal finer per decade nearer (1.9 -> 1.9001,
    1.99 -> 1.99001): 900 short values a decade, always below the ceiling, then None (no room)."""
    assert [progress_below(x, 2) for x in (0, 1, 1.5, 1.899, 1.9, 1.9999, 1.0005, 2.5e-7, 2, 3)] == [
        0.001,
        1.001,
        1.501,
        1.9,
        1.9001,
        1.9999001,
        1.001,
        0.001,
        None,
        None,
    ]
    assert progress_below(2.3, 2.5) == 2.301  # a total as the ceiling
    assert progress_below(1e300, 1e300 * 1.0000001) is not None
    last: float | None = 1
    seen: list[float] = []
    while last is not None:
        seen.append(last)
        last = progress_below(last, 2)
    assert all(a < b < 2 for a, b in itertools.pairwise(seen))
    assert (seen[900], seen[1800], seen[2700]) == (1.9, 1.99, 1.999)
    assert len(seen) > 10_000
    assert all(len(repr(value)) <= 8 for value in seen[:3601])  # (up to 1.9999: six decimals)


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


async def test_chunks_before_a_route_report_do_not_lift_it_above_its_total() -> None:
    """Review s11fs2 item 1 (a): chunks 1, 2, 3, 4 went out before the route's first report, whose
    "1 of 3" then went out as 4.001 of 3, past its own total. A report raised above its total goes
    out without it (a raised report that stays within its total keeps it)."""
    channel = Recorder()
    ctx = live(channel)
    for _ in range(4):
        ctx.automatic_progress()
    await ctx.report_progress(1, 3, "step 1 of 3")
    await ctx.report_progress(3, 10)  # raised (4.002), within its total: kept
    assert channel.sent == [
        ("notifications/progress", {"progressToken": "t", "progress": 4.001, "message": "step 1 of 3"}),
        ("notifications/progress", {"progressToken": "t", "progress": 4.002, "total": 10}),
    ]


async def test_many_chunks_after_a_report_stay_below_its_total_and_its_next_whole_step() -> None:
    """Review s11fs2 item 1 (b): after the route's "1 of 2", 1,200 chunks went 1.001, 1.002, ...,
    2, 2.173. They now stay below 2 (the total and the next whole step), each above the last; the
    route's own "2 of 2" still goes out as it is; after it nothing is left below the total, so the
    runner's own notifications stop (None: the call runner sends none; the result has the text)."""
    channel = Recorder()
    ctx = live(channel)
    await ctx.report_progress(1, 2)
    sent = [ctx.automatic_progress() for _ in range(5000)]
    values = [v for v in sent if v is not None]
    assert len(values) == len(sent)
    assert all(1 < v < 2 for v in values)
    assert all(a < b for a, b in itertools.pairwise(values))
    await ctx.report_progress(2, 2)
    assert channel.sent[-1] == ("notifications/progress", {"progressToken": "t", "progress": 2, "total": 2})
    assert ctx.automatic_progress() is None
    assert ctx.automatic_progress(step=False) is None
    await ctx.report_progress(2.5)  # past its total, its own word: the runner goes on below 3
    assert ctx.automatic_progress() == 2.501


async def test_a_total_sent_caps_the_runner_until_the_route_goes_past_it() -> None:
    """The runner's values stay below the last total sent, a report without one included; a
    route's report past it (its own word) frees them up to its next whole step."""
    ctx = live(Recorder())
    await ctx.report_progress(1, 1.5)
    await ctx.report_progress(1.2)
    values = [ctx.automatic_progress() for _ in range(1000)]
    assert max(v for v in values if v is not None) < 1.5
    await ctx.report_progress(1.7)
    assert ctx.automatic_progress() == 1.701


def _replay(seed: int) -> list[tuple[str, float, float | None]]:
    """A random run of chunks, heartbeats, bursts of chunks and the route's reports (with a total
    or not; some before the context is built): what went out, as (source, progress, total)."""
    rng = random.Random(seed)
    channel = Recorder()
    holder = ContextHolder(lambda _: (live(channel), None))
    out: list[tuple[str, float, float | None]] = []
    step = 0.0
    for _ in range(rng.randrange(1, 60)):
        before = len(channel.sent)
        kind = rng.choice(("chunk", "chunk", "heartbeat", "burst", "report", "report", "report"))
        if kind == "report":
            step += rng.choice((0, 0.5, 1, 1, 1, 3))
            total = rng.choice((None, step, step + rng.choice((0, 1, 2, 10)), step + 0.5))
            sync(holder().report_progress(step, total))
            out += [("route", p["progress"], p.get("total")) for _, p in channel.sent[before:]]
            continue
        count = rng.randrange(100, 3000) if kind == "burst" else 1
        for _ in range(count):
            value = holder.automatic_progress(kind != "heartbeat")
            if value is not None:
                out.append(("runner", value, None))
    return out


def sync(coroutine: Any) -> None:
    """Run a coroutine that never awaits anything pending (the recording channel) to its end."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise AssertionError("the coroutine waited")


@pytest.mark.parametrize("seed", range(200))
def test_progress_increases_and_stays_within_every_total_whatever_the_order(seed: int) -> None:
    """Property (review s11fs2 item 1): whatever the order of chunks, heartbeats, bursts and the
    route's reports (with a total or without), each value sent is above the last, one sent with a
    total is at most it, and the runner's own stay below the last total sent unless a route report
    since went past it."""
    sent = _replay(seed)
    values = [value for _, value, _ in sent]
    assert all(a < b for a, b in itertools.pairwise(values)), sent
    cap: float | None = None
    for source, value, total in sent:
        if total is not None:
            assert value <= total, sent
            cap = total
        elif source == "route" and cap is not None and value > cap:
            cap = None
        elif source == "runner" and cap is not None:
            assert value < cap, sent
