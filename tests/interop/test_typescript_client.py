"""The official TypeScript SDK client (``Client`` + ``StreamableHTTPClientTransport``) against the demo.

``ts_client/client.mjs`` connects twice (anonymous, then with ``requestInit.headers`` carrying the
bearer token), lists the tools, calls get_item, whoami and chat, and prints one JSON summary; the
tests below assert on it. Given tool names, it calls those instead (``formats_app``'s routes). The
SDK is pinned in ``ts_client/package.json`` + ``package-lock.json`` and installed with ``npm ci``
when ``ts_client/node_modules`` lacks it. Node and npm are required: without them these tests fail
(CI installs both), they never skip.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .servers import start_app

pytestmark = pytest.mark.interop

CLIENT_DIR = Path(__file__).resolve().parent / "ts_client"
SDK_MANIFEST = CLIENT_DIR / "node_modules" / "@modelcontextprotocol" / "sdk" / "package.json"
INSTALL_TIMEOUT_SECONDS = 300
RUN_TIMEOUT_SECONDS = 60
HANDSHAKE_VERSIONS = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}
DEMO_TOOLS = {"list_items", "get_item", "create_item", "replace_item", "delete_item", "place_order", "whoami", "chat"}


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=CLIENT_DIR, capture_output=True, text=True, timeout=timeout, check=False)


def _install() -> None:
    """Install the pinned SDK into ts_client/node_modules unless it is already there."""
    if SDK_MANIFEST.is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not on PATH (the interop tier needs node and npm)")
    lockfile = (CLIENT_DIR / "package-lock.json").is_file()
    cmd = [npm, "ci" if lockfile else "install", "--no-audit", "--no-fund", "--loglevel=error"]
    done = _run(cmd, INSTALL_TIMEOUT_SECONDS)
    if done.returncode != 0 or not SDK_MANIFEST.is_file():
        raise RuntimeError(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _client_summary(url: str, *tools: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH (the interop tier needs node and npm)")
    _install()
    done = _run([node, "client.mjs", url, *tools], RUN_TIMEOUT_SECONDS)
    if done.returncode != 0:
        raise RuntimeError(f"node client.mjs exited {done.returncode}:\n{done.stderr}\nstdout:\n{done.stdout}")
    summary: dict[str, Any] = json.loads(done.stdout)
    return summary


@dataclass
class ClientRun:
    """One run of client.mjs per session; a test that needs it fails (never skips) if it broke."""

    url: str
    _summary: dict[str, Any] | None = None
    _error: str | None = None
    _done: bool = False

    def summary(self) -> dict[str, Any]:
        if not self._done:
            self._done = True
            try:
                self._summary = _client_summary(self.url)
            except Exception as exc:  # reported by every test that needs the summary
                self._error = f"{type(exc).__name__}: {exc}"
        if self._summary is None:
            pytest.fail(f"the TypeScript client did not produce a summary: {self._error}", pytrace=False)
        return self._summary


@pytest.fixture(scope="module")
def ts_run(demo_server: str) -> ClientRun:
    return ClientRun(demo_server)


def test_handshake(ts_run: ClientRun) -> None:
    summary = ts_run.summary()
    assert summary["protocolVersion"] in HANDSHAKE_VERSIONS
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


def test_get_item(ts_run: ClientRun) -> None:
    # The SDK validated structuredContent against get_item's outputSchema before handing it over.
    result = ts_run.summary()["getItem"]
    assert result["isError"] is False, result
    assert result["structuredContent"] == {"id": 1, "name": "Hammer", "price": 12.5, "tags": ["tools"]}


def test_get_item_bad_arguments(ts_run: ClientRun) -> None:
    result = ts_run.summary()["getItemBadArguments"]
    assert result["isError"] is True, result
    assert "422" in result["text"], result


def test_whoami_without_token(ts_run: ClientRun) -> None:
    result = ts_run.summary()["whoamiAnonymous"]
    assert result["isError"] is True, result
    assert "401" in result["text"], result


def test_whoami_with_token_from_request_init_headers(ts_run: ClientRun) -> None:
    result = ts_run.summary()["whoamiWithToken"]
    assert result["isError"] is False, result
    assert result["structuredContent"] == {"name": "demo", "scopes": ["items:read", "items:write"]}


def test_chat_progress(ts_run: ClientRun) -> None:
    chat = ts_run.summary()["chat"]
    expected = [f"tok{i} " for i in range(5)]
    assert chat["isError"] is False, chat
    assert chat["text"] == "".join(expected)
    messages = [update["message"] for update in chat["progress"] if update["message"] is not None]
    assert messages == expected, chat["progress"]


def test_results_whose_json_a_format_would_refuse_pass_the_clients_output_schema_check() -> None:
    """Regression: the SDK (ajv-formats) threw "Structured content does not match the tool's output
    schema" for a naive datetime (``date-time``), a naive time, a timedelta (``duration``) and a
    Python pattern (``regex``): the output schema no longer names those formats. And its
    ``listTools`` threw (ajv: "Invalid regular expression") for a ``Field(pattern=...)`` with a
    ``(?P<word>...)`` group, so that no tool could be called: output schemas have no ``pattern``,
    input schemas say it in ECMA-262 (``code``). A ``dict[str, X]`` response model's object schema
    without ``properties`` (``flags``, ``stamps``) is an ``outputSchema`` the SDK accepts, its
    values' formats dropped as well."""
    with start_app("tests.interop.formats_app:app") as url:
        calls = _client_summary(url, "event", "slot", "timer", "rx", "code", "flags", "stamps")["calls"]
    assert calls == {
        "event": {
            "isError": False,
            "text": '{"title":"standup","created_at":"2024-05-01T09:30:00"}',
            "structuredContent": {"title": "standup", "created_at": "2024-05-01T09:30:00"},
        },
        "slot": {"isError": False, "text": '{"starts":"09:30:00"}', "structuredContent": {"starts": "09:30:00"}},
        "timer": {"isError": False, "text": '{"elapsed":"-PT1H"}', "structuredContent": {"elapsed": "-PT1H"}},
        "rx": {
            "isError": False,
            "text": '{"pattern":"(?P<word>\\\\w+)"}',
            "structuredContent": {"pattern": "(?P<word>\\w+)"},
        },
        "code": {"isError": False, "text": '{"code":"abc"}', "structuredContent": {"code": "abc"}},
        # dict[str, X]: an object schema without properties is an outputSchema the SDK takes
        "flags": {"isError": False, "text": '{"deleted":true}', "structuredContent": {"deleted": True}},
        "stamps": {
            "isError": False,
            "text": '{"created":"2024-05-01T09:30:00"}',
            "structuredContent": {"created": "2024-05-01T09:30:00"},
        },
    }


def test_results_whose_json_a_format_or_multiple_of_would_refuse_pass_the_clients_check() -> None:
    """Regression: the SDK threw "Structured content does not match the tool's output schema" for a
    float ``multiple_of=0.01`` holding 19.99, an ``EmailStr``'s ``josé@example.com`` (``email``),
    a ``HttpUrl`` with ``|``, ``{``, ``^`` (``uri``) and a scoped ``IPv6Address`` (``ipv6``): the
    output schema keeps neither those formats nor a float's ``multipleOf``."""
    with start_app("tests.interop.formats_app:app") as url:
        calls = _client_summary(url, "sale")["calls"]
    written = {
        "amount": 19.99,
        "boxes": 12,
        "email": "josé@example.com",
        "url": "https://maps.example.com/?markers=a|b&q={x}^",
        "host": "fe80::1%eth0",
    }
    assert calls["sale"].get("isError") is False, calls  # (a client that threw has none)
    assert calls["sale"]["structuredContent"] == written


def test_openapi_30_docstrings_give_tools_the_client_lists_and_whose_results_it_takes() -> None:
    """Regression: a Starlette docstring's boolean ``exclusiveMaximum: true`` (OpenAPI 3.0) made
    the SDK's ``listTools`` throw ("exclusiveMaximum value must be number"), so no tool could be
    called, and its ``nullable: true`` was dropped, so ``"nickname": null`` was refused as not a
    string. ``example`` and an ``x-`` key stay, and the client takes them."""
    with start_app("tests.interop.oas30_app:app") as url:
        calls = _client_summary(url, "get_user", "count")["calls"]
    assert calls == {
        "get_user": {
            "isError": False,
            "text": '{"name":"ann","nickname":null}',
            "structuredContent": {"name": "ann", "nickname": None},
        },
        "count": {"isError": False, "text": '{"n":5}', "structuredContent": {"n": 5}},
    }
