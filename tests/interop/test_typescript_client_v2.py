"""The official TypeScript SDK v2 client (``@modelcontextprotocol/client``) against the demo, in each
protocol era it speaks.

``ts_client_v2/client.mjs URL MODE`` connects with ``versionNegotiation: {mode}`` twice (anonymous,
then with ``requestInit.headers`` carrying the bearer token), lists the tools, calls get_item (good
and bad arguments), whoami and chat (with an ``onprogress`` handler), and prints one JSON summary;
the tests below assert on it, once per mode:

- ``legacy``: the v2 client's default, the ``initialize`` handshake (2025-11-25);
- ``auto``: ``server/discover`` first, the modern era (2026-07-28) when the server offers it, which
  the demo does;
- ``2026-07-28``: ``{pin: '2026-07-28'}``, that revision or a failed connect.

The client is pinned in ``ts_client_v2/package.json`` + ``package-lock.json`` and installed with
``npm ci`` when ``ts_client_v2/node_modules`` lacks it. It needs node 20 or later: an older system
node (Debian 12's is 18) is replaced by the npm package ``node-linux-<arch>`` at the version
``conformance/run.sh`` pins, as the conformance tests do. Node and npm are required: without them
these tests fail (CI installs both), they never skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from .node_runtime import node_at_least, runner_pin

pytestmark = pytest.mark.interop

CLIENT_DIR = Path(__file__).resolve().parent / "ts_client_v2"
CLIENT_MANIFEST = CLIENT_DIR / "node_modules" / "@modelcontextprotocol" / "client" / "package.json"
NODE_MAJOR = 20  # the client's `engines`
INSTALL_TIMEOUT_SECONDS = 300
RUN_TIMEOUT_SECONDS = 60
MODES = ("legacy", "auto", "2026-07-28")
NEGOTIATED = {"legacy": "2025-11-25", "auto": "2026-07-28", "2026-07-28": "2026-07-28"}
ERA = {"legacy": "legacy", "auto": "modern", "2026-07-28": "modern"}
DEMO_TOOLS = {"list_items", "get_item", "create_item", "replace_item", "delete_item", "place_order", "whoami", "chat"}
AUTH = {"Authorization": "Bearer demo-token"}


def _node() -> str:
    """A node >= 20: the system's, or one from npm cached beside the conformance suite's."""
    version = runner_pin(r"^NODE22_VERSION=(\S+)", "node 22 version")
    cache = Path(os.environ.get("MCP_CONFORMANCE_CACHE") or "/tmp/mcp-conformance-cache") / f"node-{version}"
    return node_at_least(NODE_MAJOR, version, cache)


def _install() -> None:
    """Install the pinned client into ts_client_v2/node_modules unless it is already there."""
    if CLIENT_MANIFEST.is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH (the interop tier needs node and npm)")
    cmd = [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    done = subprocess.run(
        cmd, cwd=CLIENT_DIR, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_SECONDS, check=False
    )
    if done.returncode != 0 or not CLIENT_MANIFEST.is_file():
        raise RuntimeError(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _client_summary(url: str, mode: str) -> dict[str, Any]:
    if shutil.which("node") is None:
        raise RuntimeError("node is not on PATH (the interop tier needs node and npm)")
    _install()
    cmd = [_node(), "client.mjs", url, mode]
    done = subprocess.run(cmd, cwd=CLIENT_DIR, capture_output=True, text=True, timeout=RUN_TIMEOUT_SECONDS, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"node client.mjs {mode} exited {done.returncode}:\n{done.stderr}\nstdout:\n{done.stdout}")
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


@dataclass
class ClientRun:
    """One run of client.mjs per mode; a test that needs it fails (never skips) if it broke."""

    url: str
    mode: str
    _summary: dict[str, Any] | None = None
    _error: str | None = None
    _done: bool = False

    def summary(self) -> dict[str, Any]:
        if not self._done:
            self._done = True
            try:
                self._summary = _client_summary(self.url, self.mode)
            except Exception as exc:  # reported by every test that needs the summary
                self._error = f"{type(exc).__name__}: {exc}"
        if self._summary is None:
            failure = f"the TypeScript v2 client ({self.mode}) did not produce a summary: {self._error}"
            pytest.fail(failure, pytrace=False)
        return self._summary


@pytest.fixture(scope="module", params=MODES)
def ts_run(demo_server: str, request: pytest.FixtureRequest) -> ClientRun:
    mode: str = request.param
    return ClientRun(demo_server, mode)


def _direct_get(mcp_url: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """The demo's own REST answer to GET ``path``, the route a tool call runs."""
    response = httpx.get(mcp_url.removesuffix("/mcp") + path, headers=headers, timeout=30.0)
    assert response.status_code == 200, response.text
    return response


def test_negotiated_version(ts_run: ClientRun) -> None:
    summary = ts_run.summary()
    assert summary["protocolVersion"] == NEGOTIATED[ts_run.mode]
    assert summary["transportProtocolVersion"] == NEGOTIATED[ts_run.mode]  # its MCP-Protocol-Version header
    assert summary["era"] == ERA[ts_run.mode]
    assert summary["sessionId"] is None  # stateless in both eras
    discover = summary["discover"]
    if ts_run.mode == "legacy":
        assert discover is None  # no probe
    else:
        assert "2026-07-28" in discover["supportedVersions"], discover
        assert discover["_meta"]["io.modelcontextprotocol/serverInfo"] == {"name": "Demo Store", "version": "1.0.0"}


def test_server_identity(ts_run: ClientRun) -> None:
    summary = ts_run.summary()
    assert summary["serverVersion"] == {"name": "Demo Store", "version": "1.0.0"}
    assert "tools" in summary["serverCapabilities"]


def test_list_tools(ts_run: ClientRun) -> None:
    tools = {tool["name"]: tool for tool in ts_run.summary()["tools"]}
    assert set(tools) == DEMO_TOOLS
    for name, tool in tools.items():
        assert tool["description"], f"{name} has no description"
        assert tool["inputSchemaType"] == "object", name
    assert tools["get_item"]["annotations"]["readOnlyHint"] is True
    assert tools["get_item"]["hasOutputSchema"] is True


def test_get_item_matches_a_direct_get(ts_run: ClientRun) -> None:
    # The SDK validated structuredContent against get_item's outputSchema before handing it over.
    result = ts_run.summary()["getItem"]
    direct = _direct_get(ts_run.url, "/items/1")
    assert result["isError"] is False, result
    assert result["structuredContent"] == direct.json() == {"id": 1, "name": "Hammer", "price": 12.5, "tags": ["tools"]}
    assert result["text"] == direct.text


def test_get_item_bad_arguments(ts_run: ClientRun) -> None:
    result = ts_run.summary()["getItemBadArguments"]
    assert result["isError"] is True, result
    assert result["structuredContent"] is None, result
    assert result["text"].startswith("HTTP 422 Unprocessable "), result  # Entity, or Content from Python 3.13
    assert '"loc":["path","item_id"]' in result["text"], result
    assert "Input should be a valid integer" in result["text"], result


def test_whoami_without_token(ts_run: ClientRun) -> None:
    result = ts_run.summary()["whoamiAnonymous"]
    assert result["isError"] is True, result
    assert result["text"].startswith("HTTP 401 Unauthorized"), result
    assert "Not authenticated" in result["text"], result


def test_whoami_with_token_from_request_init_headers(ts_run: ClientRun) -> None:
    result = ts_run.summary()["whoamiWithToken"]
    direct = _direct_get(ts_run.url, "/me", AUTH)
    assert result["isError"] is False, result
    assert result["structuredContent"] == direct.json() == {"name": "demo", "scopes": ["items:read", "items:write"]}
    assert result["text"] == direct.text


def test_chat_progress(ts_run: ClientRun) -> None:
    """Each token reaches the ``onprogress`` handler as a progress notification before the result
    (as with the v1 client, whose test checks the same messages), counting up from 1."""
    chat = ts_run.summary()["chat"]
    expected = [f"tok{i} " for i in range(5)]
    assert chat["isError"] is False, chat
    assert chat["text"] == "".join(expected)
    assert chat["progress"] == [
        {"progress": i + 1, "total": None, "message": token, "afterResult": False} for i, token in enumerate(expected)
    ]
