"""The official MCP conformance suite's transport-level server scenarios, against the demo app.

The suite (``@modelcontextprotocol/conformance``) is installed exactly as
``tests/interop/conformance/run.sh`` installs it (the team's ``shared/conformance/run.sh``, kept in
the repository so that a clone alone passes): same npm package version, same cache
(``$MCP_CONFORMANCE_CACHE``, default ``/tmp/mcp-conformance-cache``), and a node >= 22 from the npm
package ``node-linux-<arch>`` when the system node is older (the bundle needs ``fs.globSync``). The
version pins are read from run.sh itself.

Each scenario runs on its own::

    node <cache>/node_modules/@modelcontextprotocol/conformance/dist/index.js \
        server --url URL --scenario NAME --spec-version REV -o DIR

and its ``DIR/server-NAME-<timestamp>/checks.json`` is asserted on (the exit status is not: it is 1
whenever any check fails, and a scenario that throws leaves no checks.json at all).

Only transport-level scenarios are here: the demo app has none of the suite's fixture tools,
resources or prompts, so the content scenarios (tools-call-*, resources-*, prompts-*, MRTR, ...)
cannot pass against it and belong to a fixture app.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .node_runtime import RUNNER, node_at_least, npm_install, runner_pin

pytestmark = pytest.mark.interop

SCENARIO_TIMEOUT_SECONDS = 120

Check = dict[str, Any]

# (revision, scenario): every check must be free of FAILURE (WARNING / INFO / SKIPPED are allowed;
# they are SHOULD-level or informational, and the suite's own score ignores them too).
ZERO_FAILURE_SCENARIOS = [
    ("2025-11-25", "server-initialize"),
    ("2025-11-25", "ping"),
    ("2025-11-25", "tools-list"),
    ("2025-11-25", "server-sse-multiple-streams"),
    ("2025-11-25", "dns-rebinding-protection"),
    ("2026-07-28", "tools-list"),
    ("2026-07-28", "server-sse-multiple-streams"),
    ("2026-07-28", "dns-rebinding-protection"),
    # Run but not scored by the suite at 2026-07-28 (requirements "pending"); asserted here anyway.
    ("2026-07-28", "http-header-validation"),
]

# Scenarios that may legitimately end without a single SUCCESS check (every other scenario must have
# at least one, so a scenario that silently exercised nothing cannot pass):
VACUOUS_OK = {
    # At handshake-era revisions this scenario needs an Mcp-Session-Id: without one it stops after a
    # single WARNING ("Server did not provide session ID"). The middleware is stateless and never
    # issues session ids (allowed: "A server ... MAY assign a session ID"), so at 2025-11-25 the
    # concurrent-streams probe is never sent; the 2026-07-28 run of the scenario does exercise it.
    ("2025-11-25", "server-sse-multiple-streams"),
}

# server-stateless (2026-07-28) checks that only the suite's diagnostic fixture tools or the
# subscriptions/listen stream can satisfy. The demo app is an ordinary API: it has none of the
# fixtures, and it declares no listChanged/subscribe capability, so it does not serve
# subscriptions/listen. These are therefore not asserted (they report "Not testable" FAILURE or SKIPPED).
STATELESS_DIAGNOSTIC_CHECKS = frozenset(
    {
        # calls test_missing_capability (needs client capability `sampling`, expects -32021 + HTTP 400)
        "sep-2575-server-rejects-undeclared-capability",
        "sep-2575-missing-capability-http-400",
        # calls test_streaming_elicitation and inspects the frames of its response stream
        "sep-2575-http-server-no-independent-requests-on-stream",
        # calls test_logging_tool without a logLevel and checks no notifications/message arrives
        "sep-2575-server-no-log-without-loglevel",
        # open subscriptions/listen, then mutate via test_trigger_tool_change / test_trigger_prompt_change
        "sep-2575-server-sends-subscription-ack",
        "sep-2575-server-tags-subscription-id",
        "sep-2575-server-honors-notification-filter",
        "sep-2575-server-sends-prompts-list-changed-on-subscription",
        "sep-2575-server-sends-tools-list-changed-on-subscription",
    }
)

# Every other server-stateless check: each must be present and SUCCESS (meta-invalid-400 appears once
# per malformed-_meta probe).
STATELESS_ASSERTED_CHECKS = frozenset(
    {
        "sep-2575-request-meta-invalid-missing-meta",
        "sep-2575-request-meta-invalid-missing-protocol-version",
        "sep-2575-request-meta-invalid-missing-client-capabilities",
        "sep-2575-http-server-meta-invalid-400",
        "sep-2575-request-meta-client-info-optional",
        "sep-2575-server-implements-discover",
        "sep-2575-server-identifies-in-result-meta",
        "sep-2575-server-declares-prompts-in-discover",
        "sep-2575-discover-capabilities-match-handlers",
        "sep-2575-server-unsupported-version-error",
        "sep-2575-http-server-unsupported-version-400",
        "sep-2575-http-server-header-mismatch-400",
        "sep-2575-http-server-method-not-found-404-initialize",
        "sep-2575-http-server-method-not-found-404-ping",
        "sep-2575-http-server-method-not-found-404-logging-setlevel",
        "sep-2575-http-server-method-not-found-404-resources-subscribe",
        "sep-2575-http-server-method-not-found-404-resources-unsubscribe",
        "sep-2575-http-server-method-not-found-404",
        "sep-2575-http-server-error-jsonrpc-id",
    }
)


# ---------------------------------------------------------------------------------------------- suite


@dataclass(frozen=True)
class Suite:
    node: str
    cli: Path
    version: str

    def run(self, url: str, scenario: str, revision: str, out: Path) -> list[Check]:
        """Run one scenario; its checks (fails the test if the scenario produced no checks.json)."""
        cmd = [
            self.node,
            str(self.cli),
            "server",
            "--url",
            url,
            "--scenario",
            scenario,
            "--spec-version",
            revision,
            "-o",
            str(out),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=SCENARIO_TIMEOUT_SECONDS, check=False)
        found = sorted(out.glob(f"server-{scenario}-*/checks.json"))
        if len(found) != 1:
            pytest.fail(
                f"{scenario} @ {revision}: expected one checks.json under {out}, found {len(found)} "
                f"(exit {done.returncode}); output:\n{done.stdout}\n{done.stderr}",
                pytrace=False,
            )
        checks: list[Check] = json.loads(found[0].read_text())
        return checks


@pytest.fixture(scope="session")
def conformance_suite() -> Suite:
    """The pinned conformance CLI and a node >= 22 to run it, installed like run.sh does (idempotent)."""
    if not RUNNER.is_file():
        pytest.fail(f"conformance runner not found at {RUNNER}", pytrace=False)
    try:
        version = os.environ.get("MCP_CONFORMANCE_VERSION") or runner_pin(
            r"^VERSION=\$\{MCP_CONFORMANCE_VERSION:-([^}]+)\}", "suite version"
        )
        prefix = Path(os.environ.get("MCP_CONFORMANCE_CACHE") or "/tmp/mcp-conformance-cache") / version
        prefix.mkdir(parents=True, exist_ok=True)
        cli = prefix / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
        if not cli.is_file():
            npm = shutil.which("npm")
            if npm is None:
                raise RuntimeError("npm is not on PATH (needed to install the conformance suite)")
            npm_install(npm, prefix, f"@modelcontextprotocol/conformance@{version}")
        node = node_at_least(22, runner_pin(r"^NODE22_VERSION=(\S+)", "node 22 version"), prefix)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    return Suite(node=node, cli=cli, version=version)


# ---------------------------------------------------------------------------------------------- helpers


def _describe(check: Check) -> str:
    message = check.get("errorMessage") or ""
    details = json.dumps(check.get("details"), default=str)
    if len(details) > 600:
        details = details[:600] + "..."
    return f"{check.get('status')} {check.get('id')}: {message} details={details}"


def _report(checks: list[Check]) -> str:
    return "\n".join(f"  {_describe(check)}" for check in checks)


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("revision", "scenario"), ZERO_FAILURE_SCENARIOS, ids=lambda v: str(v))
def test_scenario_has_no_failures(
    conformance_suite: Suite, demo_server: str, tmp_path: Path, revision: str, scenario: str
) -> None:
    checks = conformance_suite.run(demo_server, scenario, revision, tmp_path)
    assert checks, f"{scenario} @ {revision} produced an empty checks.json"
    failures = [check for check in checks if check.get("status") == "FAILURE"]
    assert not failures, f"{scenario} @ {revision}: {len(failures)} FAILURE check(s):\n{_report(checks)}"
    if (revision, scenario) not in VACUOUS_OK:
        assert any(check.get("status") == "SUCCESS" for check in checks), (
            f"{scenario} @ {revision} exercised nothing (no SUCCESS check):\n{_report(checks)}"
        )


def test_server_stateless_non_diagnostic_checks(conformance_suite: Suite, demo_server: str, tmp_path: Path) -> None:
    checks = conformance_suite.run(demo_server, "server-stateless", "2026-07-28", tmp_path)
    ids = {check.get("id") for check in checks}
    unknown = ids - STATELESS_DIAGNOSTIC_CHECKS - STATELESS_ASSERTED_CHECKS
    assert not unknown, f"server-stateless has checks this test does not classify: {sorted(map(str, unknown))}"
    missing = STATELESS_ASSERTED_CHECKS - ids
    assert not missing, f"server-stateless did not report: {sorted(missing)}\n{_report(checks)}"
    asserted = [check for check in checks if check.get("id") in STATELESS_ASSERTED_CHECKS]
    bad = [check for check in asserted if check.get("status") != "SUCCESS"]
    assert not bad, f"server-stateless: {len(bad)} non-diagnostic check(s) not SUCCESS:\n{_report(bad)}"
