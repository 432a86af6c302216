"""The in-process benchmark scripts still run and report: each measured with the fewest rounds and
requests it takes, so a change to the middleware or the benchmark app that breaks one shows here,
not the next time someone measures. Nothing is timed or compared: the figures are not checked."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from benchmarks import interleaved, mixed, socket_instructions


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


def test_socket_instructions_reads_a_dump_and_reports_against_both_direct_runs(tmp_path: Path) -> None:
    """What ``benchmarks.socket_instructions`` derives from callgrind's dumps (valgrind itself is not
    run here): each event by name from a dump's ``events:`` and ``summary:`` lines, and each ratio
    against the mean of the two direct runs."""
    dump = tmp_path / "callgrind.1.1"
    dump.write_text("version: 1\nevents: Ir I1mr\nfn=(1) f\n0 5 1\nsummary: 1000 30\ntotals: 1000 30\n")
    assert socket_instructions._summary(dump) == {"Ir": 1000, "I1mr": 30}
    per_request = {
        "direct": {"Ir": 90.0, "I1mr": 3.0},
        "handshake": {"Ir": 150.0, "I1mr": 6.0},
        "modern": {"Ir": 200.0, "I1mr": 4.0},
        "direct again": {"Ir": 110.0, "I1mr": 5.0},
    }
    table = socket_instructions.report(per_request)
    assert "| handshake | 150 | 1.500x | 6 | 1.500x |" in table
    assert "| modern | 200 | 2.000x | 4 | 1.000x |" in table
    assert "| direct again | 110 | 1.100x | 5 | 1.250x |" in table
