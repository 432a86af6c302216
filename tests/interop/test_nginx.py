"""Behind nginx: two uvicorn instances of the demo app, round-robin, driven by the official Python SDK.

The set-up a deployment would have (README, "Deployment notes"): a stateless endpoint on two
upstreams with no affinity, nginx in front with response buffering off, HTTP/1.1 and keep-alive to
the upstreams. Through it the SDK client (``mcp.client.Client``) lists tools and calls ``get_item``
many times in both eras (the handshake era's ``initialize`` and every later request may each land
on a different upstream), and a streaming ``chat`` call must deliver its tokens as progress, in
order and as they are produced (not buffered by the proxy), before the result.

The nginx configuration is the README's ("A tested nginx setup"), read from it: the test fills in
the upstreams' and the listener's addresses and adds one response header, nothing else. On a TLS
listener (a throw-away certificate made with ``openssl req``) in front of an app with ``oauth`` on,
the 401 and the metadata name the ``https://`` resource the client used (the block's
``X-Forwarded-Proto``), a 2 MB body is served and one above ``max_body_bytes`` gets the
middleware's JSON-RPC 413 (the block's ``client_max_body_size``).

With the README's sticky variant (its ``upstream`` line, read from it, in place of the block's),
a handshake-era client with a token has a route's questions (``ctx.elicit``, in
``question_nginx_app``) answered call after call, all on one worker; through the block as written,
the answer reaches the other worker and the call fails at ``ask_timeout`` (the contrast).

Which upstream answered is read from a response header nginx adds (``X-Upstream: $upstream_addr``),
recorded by an httpx event hook on the SDK's own HTTP client: exact, per response, no log scraping.

nginx and openssl are required: CI installs them (``.ci/run``). Without them these tests fail, they
do not skip.
nginx runs in the foreground as a child process (``nginx -c <conf> -p <tmpdir> -e <log>
-g 'daemon off;'``) with every path (pid, logs, temp files) inside its temporary directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import textwrap
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import ProtectedResourceMetadata
from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url
from mcp_types import CallToolResult, ElicitResult, TextContent

from mcp_middleware.config import Settings

from .question_nginx_app import ASK_TIMEOUT_SECONDS, QUESTION
from .servers import REPO_ROOT, free_port, start_app

pytestmark = [pytest.mark.interop, pytest.mark.anyio]

MODES = ("legacy", "2026-07-28")
DEMO_TOOLS = {"list_items", "get_item", "create_item", "replace_item", "delete_item", "place_order", "whoami", "chat"}
HAMMER = {"id": 1, "name": "Hammer", "price": 12.5, "tags": ["tools"]}
GET_ITEM_CALLS = 20
CHAT_TOKENS = 12
CHAT_DELAY_SECONDS = 0.02  # examples.demo.CHAT_DELAY_SECONDS: the route sleeps this long per token
STARTUP_DEADLINE_SECONDS = 20.0
POLL_INTERVAL_SECONDS = 0.05
SHUTDOWN_GRACE_SECONDS = 10.0

README = REPO_ROOT / "README.md"

# What the test puts around the README's block: nginx's process settings and every path in the
# temporary directory. The block itself (``upstream`` and ``server``) is the README's, read from it.
NGINX_CONF = """\
{user}worker_processes 1;
error_log {tmp}/error.log info;
pid {tmp}/nginx.pid;

events {{
    worker_connections 1024;
}}

http {{
    log_format upstreams '$remote_addr "$request" $status upstream=$upstream_addr';
    access_log {tmp}/access.log upstreams;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;

{block}
}}
"""

# The README block's placeholders, and what the test puts in their place (each must occur once).
DOCUMENTED_UPSTREAMS = "server 127.0.0.1:8001; server 127.0.0.1:8002;"
DOCUMENTED_LISTEN = "listen 443 ssl;  # ..."
DOCUMENTED_PROXY_PASS = "proxy_pass http://api;"


def documented_block() -> str:
    """The nginx block of README's deployment notes ("A tested nginx setup"), as written there."""
    text = README.read_text()
    start = text.index("A tested nginx setup")
    opening = text.index("```nginx\n", start) + len("```nginx\n")
    return textwrap.dedent(text[opening : text.index("```", opening)])


def documented_sticky_upstream() -> str:
    """The ``upstream`` line of README's sticky variant: the nginx block after the tested one, which
    replaces that block's ``upstream`` line for handshake-era clients whose routes ask them questions."""
    text = README.read_text()
    tested = text.index("```nginx\n", text.index("A tested nginx setup"))
    opening = text.index("```nginx\n", text.index("```\n", tested + len("```nginx\n"))) + len("```nginx\n")
    lines = [line.strip() for line in text[opening : text.index("```", opening)].splitlines() if line.strip()]
    if len(lines) != 1 or not lines[0].startswith("upstream api {"):
        pytest.fail(f"README's sticky nginx variant should be one `upstream api {{...}}` line: {lines}", pytrace=False)
    return lines[0]


def _replace_once(block: str, old: str, new: str) -> str:
    if block.count(old) != 1:
        pytest.fail(
            f"README's nginx block should hold {old!r} once (the test fills it in); the block:\n{block}",
            pytrace=False,
        )
    return block.replace(old, new)


def documented_conf(
    directory: Path,
    port: int,
    upstreams: tuple[str, str],
    tls: tuple[Path, Path] | None = None,
    upstream: str | None = None,
) -> str:
    """nginx.conf: the README's block on ``127.0.0.1:port`` (TLS with ``tls``, a certificate and
    its key, else plain HTTP) over ``upstreams``, with an ``X-Upstream`` response header; with
    ``upstream``, that line (the README's sticky variant) in place of the block's ``upstream`` line."""
    block = documented_block()
    if upstream is not None:
        written = next(line for line in block.splitlines() if line.startswith("upstream "))
        block = _replace_once(block, written, upstream)
    block = _replace_once(block, DOCUMENTED_UPSTREAMS, " ".join(f"server {up};" for up in upstreams))
    if tls is None:
        listen = f"listen 127.0.0.1:{port};"
    else:
        listen = f"listen 127.0.0.1:{port} ssl; ssl_certificate {tls[0]}; ssl_certificate_key {tls[1]};"
    block = _replace_once(block, DOCUMENTED_LISTEN, listen)
    block = _replace_once(
        block, DOCUMENTED_PROXY_PASS, DOCUMENTED_PROXY_PASS + " add_header X-Upstream $upstream_addr always;"
    )
    # Run as root, nginx's master would start its workers as "nobody", who cannot enter pytest's
    # temporary directory (mode 0700); so the workers keep root. Run as a user, nothing changes.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return NGINX_CONF.format(user=user, tmp=directory, block=textwrap.indent(block, "    "))


def nginx_binary() -> str:
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
    )
    if found is None:
        pytest.fail(
            "nginx is not installed: the reverse-proxy interop test needs it. Install it with "
            "`apt-get update && apt-get install -y nginx` (bash .ci/run does this), then rerun.",
            pytrace=False,
        )
    return found


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _host_port(url: str) -> str:
    """``http://127.0.0.1:PORT/mcp`` → ``127.0.0.1:PORT`` (the form of nginx's ``$upstream_addr``)."""
    return url.split("://", 1)[1].split("/", 1)[0]


@dataclass(frozen=True)
class Proxy:
    url: str  # the MCP endpoint through nginx
    upstreams: frozenset[str]  # "127.0.0.1:PORT" of each uvicorn
    directory: Path

    def log(self, name: str) -> str:
        path = self.directory / name
        return path.read_text(errors="replace") if path.exists() else "(none)"


@contextmanager
def running_nginx(
    upstream_a: str,
    upstream_b: str,
    directory: Path,
    tls: tuple[Path, Path] | None = None,
    upstream: str | None = None,
) -> Iterator[Proxy]:
    """nginx in the foreground on a free port of 127.0.0.1, serving the README's block over the two
    upstreams (over TLS with ``tls``: the certificate and its key; ``upstream``: see
    :func:`documented_conf`)."""
    binary = nginx_binary()
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(documented_conf(directory, port, (upstream_a, upstream_b), tls, upstream))
    cmd = [binary, "-c", str(conf), "-p", str(directory), "-e", str(directory / "startup.log"), "-g", "daemon off;"]
    with (directory / "stderr.log").open("wb") as stderr:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stderr, stderr=subprocess.STDOUT)
    scheme = "http" if tls is None else "https"
    proxy = Proxy(f"{scheme}://127.0.0.1:{port}/mcp", frozenset({upstream_a, upstream_b}), directory)
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        while not _accepts_connections(port):
            problem = None
            try:
                proc.wait(timeout=POLL_INTERVAL_SECONDS)
                problem = f"exited with status {proc.returncode}"
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    problem = f"did not accept connections within {STARTUP_DEADLINE_SECONDS:g} s"
            if problem is not None:
                pytest.fail(
                    f"`{' '.join(cmd)}` {problem}.\nstderr:\n{proxy.log('stderr.log')}\n"
                    f"error.log:\n{proxy.log('error.log')}\nnginx.conf:\n{conf.read_text()}",
                    pytrace=False,
                )
        yield proxy
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()  # SIGTERM: nginx's fast shutdown
    try:
        proc.wait(timeout=SHUTDOWN_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Two uvicorn instances of ``examples.demo:app`` behind one nginx; torn down after the module."""
    nginx_binary()  # fail before starting anything when nginx is missing
    with ExitStack() as stack:
        # One state secret for both workers: a multi-round-trip retry may land on either of them.
        env = {"MCP_MIDDLEWARE_STATE_SECRET": "nginx-interop-secret"}
        first = stack.enter_context(start_app("examples.demo:app", env=env))
        second = stack.enter_context(start_app("examples.demo:app", env=env))
        directory = tmp_path_factory.mktemp("nginx")
        yield stack.enter_context(running_nginx(_host_port(first), _host_port(second), directory))


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@dataclass
class Served:
    """Which upstream served each HTTP response the client received (nginx's ``X-Upstream``)."""

    by: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    async def record(self, response: httpx2.Response) -> None:
        self.statuses[response.status_code] += 1
        upstream = response.headers.get("x-upstream")
        if upstream is not None:
            self.by[upstream] += 1


@asynccontextmanager
async def connect(proxy: Proxy, mode: str, served: Served) -> AsyncIterator[Client]:
    """The SDK client, through nginx, on an HTTP client that records which upstream answered."""
    async with (
        httpx2.AsyncClient(
            timeout=httpx2.Timeout(30.0), trust_env=False, event_hooks={"response": [served.record]}
        ) as http,
        Client(streamable_http_client(proxy.url, http_client=http), mode=mode) as client,
    ):
        yield client


def text_of(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def describe(result: CallToolResult) -> str:
    return f"isError={result.is_error} text={text_of(result)!r} structured={result.structured_content!r}"


async def test_tools_and_calls_are_balanced_over_both_upstreams(proxy: Proxy, mode: str) -> None:
    served = Served()
    async with connect(proxy, mode, served) as client:
        listing = await client.list_tools()
        assert {tool.name for tool in listing.tools} == DEMO_TOOLS
        for _ in range(GET_ITEM_CALLS):
            result = await client.call_tool("get_item", {"item_id": 1})
            assert result.is_error is not True, describe(result)
            assert result.structured_content == HAMMER, describe(result)
    assert set(served.statuses) <= {200, 202}, f"HTTP statuses seen through nginx: {dict(served.statuses)}"
    assert sum(served.by.values()) >= GET_ITEM_CALLS + 1, f"responses without X-Upstream: {served}"
    assert set(served.by) == proxy.upstreams, (
        f"round robin should reach both upstreams {sorted(proxy.upstreams)}; served: {dict(served.by)}\n"
        f"nginx access log:\n{proxy.log('access.log')}"
    )


async def test_chat_streams_through_nginx_in_order(proxy: Proxy, mode: str) -> None:
    served = Served()
    updates: list[tuple[float, float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((time.monotonic(), progress, message))

    async with connect(proxy, mode, served) as client:
        result = await client.call_tool(
            "chat", {"prompt": "through the proxy", "tokens": CHAT_TOKENS}, progress_callback=on_progress
        )
        finished = time.monotonic()
    assert result.is_error is not True, describe(result)
    expected = [f"tok{i} " for i in range(CHAT_TOKENS)]
    assert text_of(result) == "".join(expected)
    messages = [message for _, _, message in updates if message is not None]
    assert messages == expected, f"progress must carry every token, in order: {updates}"
    progress = [value for _, value, _ in updates]
    assert progress == sorted(set(progress)), f"progress must increase: {updates}"
    assert all(at <= finished for at, _, _ in updates), "every token arrives before the result"
    # The route sleeps CHAT_DELAY_SECONDS before each token, so the tokens are produced over at least
    # (n - 1) x delay. Unbuffered, they arrive spread out as much; a buffering proxy would hand them
    # over in one burst with the result. Half the production time leaves room for scheduling jitter.
    arrivals = [at for at, _, message in updates if message is not None]
    spread = arrivals[-1] - arrivals[0]
    minimum = 0.5 * CHAT_DELAY_SECONDS * (CHAT_TOKENS - 1)
    assert spread >= minimum, (
        f"tokens arrived within {spread * 1000:.0f} ms of each other (produced over at least "
        f"{CHAT_DELAY_SECONDS * (CHAT_TOKENS - 1) * 1000:.0f} ms): the proxy buffered the stream"
    )
    assert set(served.by) <= proxy.upstreams, dict(served.by)


# -- 2026-07-28 multi-round-trip calls through the proxy ----------------------------------------------
# Each round of a multi-round-trip call is a separate POST that round robin may send to the other
# upstream; the sealed requestState carries everything, so no affinity is needed.

ORDERS = 10


async def test_multi_round_trip_orders_need_no_affinity(proxy: Proxy) -> None:
    served = Served()
    asked: list[str] = []

    async def confirm(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"confirm": True})

    async with (
        httpx2.AsyncClient(
            timeout=httpx2.Timeout(30.0), trust_env=False, event_hooks={"response": [served.record]}
        ) as http,
        Client(
            streamable_http_client(proxy.url, http_client=http), mode="2026-07-28", elicitation_callback=confirm
        ) as client,
    ):
        for _ in range(ORDERS):
            result = await client.call_tool("place_order", {"item_id": 2, "quantity": 3})
            assert result.is_error is not True, describe(result)
            assert result.structured_content is not None
            assert result.structured_content["total"] == 12.6
    assert len(asked) == ORDERS, "every order is confirmed once, through an input_required round"
    assert asked[0] == "Order 3 x Screwdriver for 12.60 EUR?"
    assert set(served.statuses) == {200}, dict(served.statuses)
    assert set(served.by) == proxy.upstreams, f"both upstreams took part: {dict(served.by)}"


async def test_declining_an_order_is_a_tool_error(proxy: Proxy) -> None:
    async def decline(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="decline")

    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(30.0), trust_env=False) as http,
        Client(
            streamable_http_client(proxy.url, http_client=http), mode="2026-07-28", elicitation_callback=decline
        ) as client,
    ):
        result = await client.call_tool("place_order", {"item_id": 1})
    assert result.is_error is True
    assert "409" in text_of(result)


# -- handshake-era questions: the README's sticky variant -----------------------------------------
# A handshake-era client answers a route's question (ctx.elicit) in a POST of its own, which must
# reach the worker whose route waits for it. The sticky variant (README: hash on the client's
# Authorization) sends each client's requests to one worker; the round-robin block sends the
# answer, the request after the call's, to the other one, where it answers nothing.

QUESTION_APP = "tests.interop.question_nginx_app:app"
QUESTIONS = 5
TOKEN = {"authorization": "Bearer nginx-sticky-user"}
ACCEPTED = {"action": "accept", "content": {"ok": True}}


@pytest.fixture(scope="module")
def question_workers() -> Iterator[tuple[str, str]]:
    """Two uvicorn workers of the question app, with one state secret; their ``host:port``."""
    nginx_binary()
    with ExitStack() as stack:
        env = {"MCP_MIDDLEWARE_STATE_SECRET": "nginx-interop-secret"}
        first, second = (stack.enter_context(start_app(QUESTION_APP, env=env)) for _ in range(2))
        yield _host_port(first), _host_port(second)


@pytest.fixture(scope="module")
def sticky_proxy(question_workers: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The README's block with its sticky ``upstream`` line, over the question app's workers."""
    directory = tmp_path_factory.mktemp("nginx-sticky")
    with running_nginx(*question_workers, directory, upstream=documented_sticky_upstream()) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def round_robin_proxy(question_workers: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The README's block as written (round-robin), over the question app's workers."""
    with running_nginx(*question_workers, tmp_path_factory.mktemp("nginx-rr")) as proxy:
        yield proxy


async def test_sticky_upstream_brings_handshake_era_answers_to_the_worker_that_asked(sticky_proxy: Proxy) -> None:
    served = Served()
    asked: list[str] = []

    async def accept(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(action="accept", content={"ok": True})

    async with (
        httpx2.AsyncClient(
            headers=TOKEN, timeout=httpx2.Timeout(30.0), trust_env=False, event_hooks={"response": [served.record]}
        ) as http,
        Client(
            streamable_http_client(sticky_proxy.url, http_client=http), mode="legacy", elicitation_callback=accept
        ) as client,
    ):
        assert client.protocol_version == "2025-11-25"  # the handshake era
        for _ in range(QUESTIONS):
            result = await client.call_tool("confirm", {})
            assert result.is_error is not True, describe(result)
            assert result.structured_content == ACCEPTED, describe(result)
    assert asked == [QUESTION] * QUESTIONS
    assert set(served.statuses) <= {200, 202}, dict(served.statuses)
    assert len(served.by) == 1, f"one client's requests all go to one worker: {dict(served.by)}"
    assert set(served.by) <= sticky_proxy.upstreams, dict(served.by)


async def test_round_robin_sends_a_handshake_era_answer_to_the_other_worker(round_robin_proxy: Proxy) -> None:
    """The contrast: the call and its answer are two requests in a row, which round robin sends to
    the two workers in turn; the answer is taken (202) by the worker that did not ask, and the call
    ends when the route's ``ask_timeout`` runs out."""
    headers = {**JSON_ACCEPT, **TOKEN, "mcp-protocol-version": "2025-11-25"}
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "confirm", "arguments": {}}}
    final: dict[str, Any] | None = None
    async with (
        httpx2.AsyncClient(timeout=httpx2.Timeout(30.0), trust_env=False) as http,
        http.stream("POST", round_robin_proxy.url, json=call, headers=headers) as stream,
    ):
        asking = stream.headers["x-upstream"]
        async for line in stream.aiter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[len("data:") :])
            if message.get("method") == "elicitation/create":
                assert message["params"]["message"] == QUESTION
                reply = {"jsonrpc": "2.0", "id": message["id"], "result": ACCEPTED}
                answer = await http.post(round_robin_proxy.url, json=reply, headers=headers)
                assert answer.status_code == 202, answer.text
                assert answer.headers["x-upstream"] != asking, "round robin: the answer went to the other worker"
            elif message.get("id") == 7:
                final = message
                break
    assert final is not None, "the call ended without its result"
    result = final["result"]
    assert result["isError"] is True, result
    expected = f"the client did not answer elicitation/create within {ASK_TIMEOUT_SECONDS} s (ask_timeout)"
    assert expected in result["content"][0]["text"], result


# -- OAuth and request bodies through the README's block, over TLS --------------------------------
# A TLS-terminating nginx must tell the upstream the scheme the client used (X-Forwarded-Proto,
# read by uvicorn's --proxy-headers), or the OAuth resource says http:// and clients refuse it
# (RFC 9728 §3.3); and its client_max_body_size must let through every body the middleware's
# max_body_bytes accepts, so those are served and larger ones get the middleware's JSON-RPC 413.

OAUTH_APP = "tests.interop.oauth_nginx_app:app"
SERVED_BODY_BYTES = 2_000_000  # above nginx's default client_max_body_size (1 MiB)
JSON_ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
CREDENTIALS = {"authorization": "Bearer any-token"}  # oauth without auth: any token passes the endpoint


def openssl_binary() -> str:
    found = shutil.which("openssl")
    if found is None:
        pytest.fail(
            "openssl is not installed: the TLS reverse-proxy test makes its certificate with it. Install "
            "it with `apt-get update && apt-get install -y openssl` (bash .ci/run does this), then rerun.",
            pytrace=False,
        )
    return found


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate for 127.0.0.1 and its key, made by ``openssl req`` in ``directory``."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    names = ["-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)]
    subprocess.run([openssl_binary(), *request, *names], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def tls_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Two uvicorn instances of the OAuth app (``--proxy-headers``, as the README's Auth section
    says) behind the README's block on a TLS listener; torn down after the module."""
    nginx_binary()
    directory = tmp_path_factory.mktemp("nginx-tls")
    tls = self_signed_certificate(directory)
    with ExitStack() as stack:
        first, second = (stack.enter_context(start_app(OAUTH_APP, extra_args=("--proxy-headers",))) for _ in range(2))
        yield stack.enter_context(running_nginx(_host_port(first), _host_port(second), directory, tls))


def documented_body_limit() -> int:
    """The README block's ``client_max_body_size``, in bytes (nginx's ``k``/``m`` suffixes)."""
    match = re.search(r"client_max_body_size\s+(\d+)([kKmM]?);", documented_block())
    if match is None:
        pytest.fail("README's nginx block sets no client_max_body_size (nginx's default is 1 MiB)", pytrace=False)
    number, unit = match.groups()
    return int(number) * {"": 1, "k": 1024, "m": 1024 * 1024}[unit.lower()]


def echo_call(length: int) -> bytes:
    params = {"name": "echo", "arguments": {"text": "x" * length}}
    return json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}).encode()


async def test_oauth_behind_tls_advertises_the_https_resource_the_client_used(tls_proxy: Proxy) -> None:
    async with httpx2.AsyncClient(verify=False, trust_env=False, timeout=httpx2.Timeout(30.0)) as http:
        refused = await http.post(tls_proxy.url, content=echo_call(1), headers=JSON_ACCEPT)
        assert refused.status_code == 401, refused.text
        origin = tls_proxy.url.removesuffix("/mcp")
        assert refused.headers["www-authenticate"] == (
            f'Bearer resource_metadata="{origin}/.well-known/oauth-protected-resource/mcp"'
        )
        document = await http.get(f"{origin}/.well-known/oauth-protected-resource/mcp")
    assert document.status_code == 200, document.text
    metadata = ProtectedResourceMetadata.model_validate(document.json())
    assert str(metadata.resource) == tls_proxy.url
    # What the SDK's OAuth client checks before it asks for a token (RFC 9728 §3.3).
    assert check_resource_allowed(resource_url_from_server_url(tls_proxy.url), str(metadata.resource))


async def test_bodies_up_to_max_body_bytes_are_served_and_larger_ones_get_the_middlewares_413(
    tls_proxy: Proxy,
) -> None:
    limit = Settings().max_body_bytes
    nginx_limit = documented_body_limit()
    assert limit < nginx_limit, "client_max_body_size must let through every body max_body_bytes accepts"
    headers = {**JSON_ACCEPT, **CREDENTIALS}
    async with httpx2.AsyncClient(verify=False, trust_env=False, timeout=httpx2.Timeout(60.0)) as http:
        served = await http.post(tls_proxy.url, content=echo_call(SERVED_BODY_BYTES), headers=headers)
        assert served.status_code == 200, served.text[:500]
        assert served.json()["result"]["structuredContent"] == {"length": SERVED_BODY_BYTES}
        too_large = await http.post(tls_proxy.url, content=echo_call((limit + nginx_limit) // 2), headers=headers)
        assert too_large.status_code == 413, too_large.text[:500]
        assert too_large.headers["content-type"] == "application/json"
        assert too_large.json()["error"]["message"] == f"Payload Too Large: the body exceeds {limit} bytes"
        # Beyond client_max_body_size nginx answers itself (README says so): the upstream never sees it.
        beyond = await http.post(tls_proxy.url, content=echo_call(nginx_limit + 1), headers=headers)
        assert beyond.status_code == 413, beyond.text[:500]
        assert beyond.headers["content-type"].startswith("text/html")
