"""The whole official conformance suite against ``examples/conformance_app.py`` (issue: 100%).

Runs ``tests/interop/conformance/run.sh`` (the team's ``shared/conformance/run.sh``, kept in the
repository so that a clone alone passes) exactly as a person would (it installs the suite and a Node 22
runtime from npm into its cache once), then asserts its last line: every scored check passes at
both revisions, with the reference totals (the official SDK server scores 70/70 and 120/120), and
that the not-scored scenarios the issue names have no failure either.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from .servers import REPO_ROOT, start_app

pytestmark = pytest.mark.interop

RUNNER = REPO_ROOT / "tests" / "interop" / "conformance" / "run.sh"  # the team's runner, kept in the repo
SUITE_TIMEOUT_SECONDS = 600
EXPECTED_TOTALS = {"2025-11-25": 70, "2026-07-28": 120}
NOT_SCORED_MUST_PASS = {
    "2026-07-28": ("http-header-validation", "http-custom-header-server-validation", "json-schema-2020-12"),
    "2025-11-25": ("json-schema-2020-12",),
}


@pytest.fixture(scope="module")
def suite_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    assert RUNNER.is_file(), f"conformance runner not found at {RUNNER}"
    out = tmp_path_factory.mktemp("conformance")
    with start_app("examples.conformance_app:app") as url:
        proc = subprocess.run(
            ["bash", str(RUNNER), url],
            env={**os.environ, "MCP_CONFORMANCE_OUT": str(out)},
            capture_output=True,
            text=True,
            timeout=SUITE_TIMEOUT_SECONDS,
            check=False,
        )
    assert proc.returncode == 0, f"run.sh failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.stdout, out


def test_every_scored_check_passes_at_both_revisions(suite_output: tuple[str, Path]) -> None:
    stdout, _ = suite_output
    last = stdout.strip().splitlines()[-1]
    figures = dict(re.findall(r"(\d{4}-\d{2}-\d{2}): (\d+/\d+)", last))
    assert figures == {rev: f"{total}/{total}" for rev, total in EXPECTED_TOTALS.items()}, stdout[-4000:]


@pytest.mark.parametrize(("revision", "scenario"), [(r, s) for r, names in NOT_SCORED_MUST_PASS.items() for s in names])
def test_named_not_scored_scenarios_pass(suite_output: tuple[str, Path], revision: str, scenario: str) -> None:
    _, out = suite_output
    found = sorted((out / revision).glob(f"server-{scenario}-2*/checks.json"))
    assert found, f"{scenario} left no checks.json at {revision}"
    checks = json.loads(found[-1].read_text())
    failures = [c for c in checks if c["status"] == "FAILURE"]
    assert not failures, failures
    assert any(c["status"] == "SUCCESS" for c in checks)
