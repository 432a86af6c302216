"""The in-process benchmark scripts still run and report: each measured with the fewest rounds and
requests it takes, so a change to the middleware or the benchmark app that breaks one shows here,
not the next time someone measures. Nothing is timed or compared: the figures are not checked."""

from __future__ import annotations

import math

import pytest

from benchmarks import interleaved, mixed


def _finite(times: dict[str, list[float]], rounds: int) -> None:
    assert times
    for name, values in times.items():
        assert len(values) == rounds, name
        assert all(math.isfinite(value) and value > 0 for value in values), name


def test_interleaved_measures_every_row_and_reports_each_group() -> None:
    times = interleaved.measure(rounds=3, per_round=2)
    _finite(times, 3)
    table = interleaved.report(times)
    for group in ("get_item", "create_item", "pass-through"):
        assert f"| {group} |" in table
    assert "tools/call get_item 2026-07-28" in table


def test_mixed_measures_every_row_and_derives_its_figures() -> None:
    times = mixed.measure(rounds=3, per_round=2)
    _finite(times, 3)
    table = mixed.report(times)
    assert "| our code, hot (stand-in route: ours minus the stand-in) |" in table
    assert "| ratio, mixed workload (both tools in turn / both routes in turn) |" in table


def test_mixed_refuses_a_stand_in_that_answers_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in must answer what the route answers: a call it answers with a failure stops the
    measurement (the check each row's requests go through first)."""
    real = mixed._stand_in
    monkeypatch.setattr(mixed, "_stand_in", lambda body: real(b"not the route's JSON"))
    with pytest.raises(SystemExit, match="structured result"):
        mixed.measure(rounds=3, per_round=2)
