"""The official Python SDK client against ``examples.conformance_app`` over a real socket, in both eras.

Beyond tools: progress, logging, asking the client (elicitation, sampling, roots: in the handshake
era a server-to-client request on the call's SSE stream answered by a POST; in 2026-07-28
``resultType: "input_required"`` answered by the SDK's automatic retry with ``inputResponses``),
resources, resource templates, prompts, completion, rich tool content, capabilities and (2026-07-28
only) ``subscriptions/listen``.

Every test runs as ``legacy`` (``initialize`` handshake, 2025-11-25) and ``2026-07-28`` (the version
adopted directly: every request stands alone with its ``_meta``).

SDK API notes (mcp 2.3):

* callbacks are ``Client`` fields: ``elicitation_callback(context, params)``,
  ``sampling_callback(context, params)``, ``list_roots_callback(context)``,
  ``logging_callback(params)``; each one also makes the client declare the matching capability.
  Progress is per call: ``call_tool(..., progress_callback=fn(progress, total, message))``.
* 2026-07-28 logging is opted into per request with ``_meta["io.modelcontextprotocol/logLevel"]``:
  ``Client(log_level=...)`` stamps it on every request, ``call_tool(meta={LOG_LEVEL_META_KEY: ...})``
  on one. ``Client.set_logging_level`` (handshake era) is deprecated and warns.
* ``Client.call_tool`` / ``get_prompt`` / ``read_resource`` drive ``input_required`` themselves:
  the callbacks run and the request is retried with ``inputResponses`` and ``requestState``
  (``mcp/client/_input_required.py``); ``client.session.call_tool(..., allow_input_required=True)``
  returns the raw ``InputRequiredResult`` instead.
* ``Client.listen(tools_list_changed=True)`` opens ``subscriptions/listen`` (2026-07-28 only; it
  raises ``ListenNotSupportedError`` on a handshake-era connection).
* ``mode="2026-07-28"`` adopts a synthesized ``DiscoverResult`` with empty capabilities, so the
  server's capabilities are read with an explicit ``session.send_discover``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, cast

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.client.session import ClientRequestContext
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError, ToolsListChanged
from mcp.shared.exceptions import MCPDeprecationWarning, MCPError
from mcp_types import (
    LOG_LEVEL_META_KEY,
    BlobResourceContents,
    CallToolResult,
    CreateMessageRequestParams,
    CreateMessageResult,
    DiscoverResult,
    ElicitRequestParams,
    ElicitResult,
    EmbeddedResource,
    ErrorData,
    ImageContent,
    InputRequiredResult,
    ListRootsResult,
    LoggingLevel,
    LoggingMessageNotificationParams,
    PromptReference,
    RequestParamsMeta,
    Root,
    ServerCapabilities,
    TextContent,
    TextResourceContents,
)
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from .servers import start_app

pytestmark = pytest.mark.interop

MODES = ("legacy", "2026-07-28")
MODERN = "2026-07-28"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SAMPLED_TEXT = "Paris, said the test model"
ROOT_URI = "file:///work/sdk-features-root"
EVENT_TIMEOUT_SECONDS = 5.0


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``examples.conformance_app:app`` under uvicorn; the value is its MCP URL."""
    with start_app("examples.conformance_app:app") as url:
        yield url


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


# --- client-side callbacks ------------------------------------------------------------------------


class Recorder:
    """The client's answers to the server's requests, and what it was asked."""

    def __init__(self) -> None:
        self.elicitations: list[ElicitRequestParams] = []
        self.samplings: list[CreateMessageRequestParams] = []
        self.roots_calls = 0
        self.logs: list[LoggingMessageNotificationParams] = []

    async def elicit(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        """Accept, answering every string property of the form with ``answer-<property>``."""
        self.elicitations.append(params)
        schema: dict[str, Any] = getattr(params, "requested_schema", None) or {}
        content: dict[str, str | int | float | bool | list[str] | None] = {
            name: f"answer-{name}" for name in schema.get("properties", {})
        }
        return ElicitResult(action="accept", content=content)

    async def sample(
        self, context: ClientRequestContext, params: CreateMessageRequestParams
    ) -> CreateMessageResult | ErrorData:
        self.samplings.append(params)
        return CreateMessageResult(
            role="assistant",
            content=TextContent(type="text", text=SAMPLED_TEXT),
            model="sdk-features-test-model",
            stop_reason="endTurn",
        )

    async def list_roots(self, context: ClientRequestContext) -> ListRootsResult | ErrorData:
        self.roots_calls += 1
        return ListRootsResult(roots=[Root.model_validate({"uri": ROOT_URI, "name": "sdk-features"})])

    async def log(self, params: LoggingMessageNotificationParams) -> None:
        self.logs.append(params)


class Wire:
    """Every JSON-RPC message the client POSTs (recorded by an ``httpx2`` request hook)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def on_request(self, request: httpx2.Request) -> None:
        if request.method == "POST":
            body = json.loads(request.content)
            self.sent.extend(body if isinstance(body, list) else [body])

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [message for message in self.sent if message.get("method") == method]

    def answers(self) -> list[dict[str, Any]]:
        """The client's responses to server-to-client requests (handshake era)."""
        return [message for message in self.sent if "method" not in message]


@asynccontextmanager
async def connect(
    url: str,
    mode: str,
    recorder: Recorder | None = None,
    *,
    log_level: LoggingLevel | None = None,
    wire: Wire | None = None,
) -> AsyncIterator[Client]:
    """A connected ``Client``; with a ``recorder`` every server-to-client callback is installed,
    with a ``wire`` every POSTed message is recorded."""
    hooks = {"request": [wire.on_request]} if wire is not None else {}
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30.0), event_hooks=hooks) as http:
        transport = streamable_http_client(url, http_client=http)
        client = Client(
            transport,
            mode=mode,
            log_level=log_level,
            elicitation_callback=recorder.elicit if recorder is not None else None,
            sampling_callback=recorder.sample if recorder is not None else None,
            list_roots_callback=recorder.list_roots if recorder is not None else None,
            logging_callback=recorder.log if recorder is not None else None,
        )
        async with client:
            assert client.protocol_version == (LATEST_HANDSHAKE_VERSION if mode == "legacy" else MODERN)
            yield client


def assert_asked_through_the_era(wire: Wire, mode: str, tool: str, asks: int, rounds: int) -> None:
    """``asks`` inputs in ``rounds`` rounds went the era's way: server requests on the call's SSE
    stream answered by POSTs (handshake), or ``input_required`` and retries (2026-07-28)."""
    calls = [call for call in wire.calls("tools/call") if call["params"]["name"] == tool]
    if mode == "legacy":
        assert len(calls) == 1, calls
        answers = wire.answers()
        assert len(answers) == asks, answers
        assert all("result" in answer for answer in answers), answers
        assert "inputResponses" not in calls[0]["params"], calls
        return
    assert wire.answers() == []
    assert len(calls) == rounds + 1, calls
    assert "inputResponses" not in calls[0]["params"], calls[0]
    assert sum(len(call["params"].get("inputResponses", {})) for call in calls[1:]) == asks, calls
    assert all(call["params"].get("inputResponses") for call in calls[1:]), calls


def text_of(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def describe(result: CallToolResult) -> str:
    return f"isError={result.is_error} content={result.content!r}"


# --- progress -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_progress_arrives_before_the_result(server: str, mode: str) -> None:
    updates: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append((progress, total, message))

    async with connect(server, mode) as client:
        result = await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
        seen_when_result_arrived = list(updates)
    assert result.is_error is not True, describe(result)
    # The route echoes the progress token the SDK sent: the call carried one.
    assert text_of(result) not in ("", "None"), describe(result)
    assert len(seen_when_result_arrived) >= 3, f"progress after the result? {seen_when_result_arrived} / {updates}"
    values = [progress for progress, _, _ in seen_when_result_arrived]
    assert values == sorted(set(values)), f"progress must increase: {updates}"
    assert all(total == 100 for _, total, _ in seen_when_result_arrived), updates
    assert [message for _, _, message in seen_when_result_arrived][-1] == "Completed step 100 of 100"


# --- logging --------------------------------------------------------------------------------------

LOG_LINES = ["Tool execution started", "Tool processing data", "Tool execution completed"]


@pytest.mark.anyio
async def test_logging_legacy_set_level(server: str) -> None:
    recorder = Recorder()
    async with connect(server, "legacy", recorder) as client:
        with pytest.warns(MCPDeprecationWarning):
            await client.set_logging_level("debug")
        result = await client.call_tool("test_tool_with_logging", {})
        logs_when_result_arrived = list(recorder.logs)
    assert result.is_error is not True, describe(result)
    assert text_of(result) == "Tool with logging executed successfully"
    assert len(logs_when_result_arrived) >= 3, recorder.logs
    assert [log.data for log in logs_when_result_arrived] == LOG_LINES
    assert {log.level for log in logs_when_result_arrived} == {"info"}


@pytest.mark.anyio
async def test_logging_legacy_level_above_info_filters(server: str) -> None:
    recorder = Recorder()
    async with connect(server, "legacy", recorder) as client:
        with pytest.warns(MCPDeprecationWarning):
            await client.set_logging_level("error")
        result = await client.call_tool("test_tool_with_logging", {})
    assert result.is_error is not True, describe(result)
    assert recorder.logs == [], "info messages were sent although the client asked for error and above"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("client_level", "meta_level", "expected"),
    [
        (None, None, []),  # a logging callback alone is no opt-in
        ("debug", None, LOG_LINES),  # Client(log_level=...) stamps every request
        (None, "info", LOG_LINES),  # one request opts in through its _meta
        ("error", None, []),  # info is below the requested floor
        ("error", "debug", LOG_LINES),  # the per-request _meta entry overrides the client default
    ],
)
async def test_logging_2026_opt_in_through_meta(
    server: str,
    client_level: LoggingLevel | None,
    meta_level: LoggingLevel | None,
    expected: list[str],
) -> None:
    recorder = Recorder()
    meta: RequestParamsMeta | None = None
    if meta_level is not None:
        # An open TypedDict (extra_items=Any, PEP 728), which mypy does not model yet: cast.
        meta = cast(RequestParamsMeta, {LOG_LEVEL_META_KEY: meta_level})
    async with connect(server, MODERN, recorder, log_level=client_level) as client:
        result = await client.call_tool("test_tool_with_logging", {}, meta=meta)
        logs_when_result_arrived = list(recorder.logs)
    assert result.is_error is not True, describe(result)
    assert [log.data for log in logs_when_result_arrived] == expected, recorder.logs


# --- asking the client: elicitation, sampling, roots, several rounds --------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("test_elicitation", {"message": "Say something"}, "content={'response': 'answer-response'}"),
        ("test_input_required_result_elicitation", {}, "Hello, answer-name!"),
    ],
)
async def test_elicitation(server: str, mode: str, tool: str, arguments: dict[str, Any], expected: str) -> None:
    recorder = Recorder()
    wire = Wire()
    async with connect(server, mode, recorder, wire=wire) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error is not True, describe(result)
    assert expected in text_of(result), describe(result)
    assert "action=accept" in text_of(result) or tool != "test_elicitation", describe(result)
    assert len(recorder.elicitations) == 1, recorder.elicitations
    assert_asked_through_the_era(wire, mode, tool, asks=1, rounds=1)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("test_sampling", {"prompt": "What is the capital of France?"}, f"LLM response: {SAMPLED_TEXT}"),
        ("test_input_required_result_sampling", {}, f"Model said: {SAMPLED_TEXT}"),
    ],
)
async def test_sampling(server: str, mode: str, tool: str, arguments: dict[str, Any], expected: str) -> None:
    recorder = Recorder()
    wire = Wire()
    async with connect(server, mode, recorder, wire=wire) as client:
        result = await client.call_tool(tool, arguments)
    assert result.is_error is not True, describe(result)
    assert text_of(result) == expected, describe(result)
    assert len(recorder.samplings) == 1, recorder.samplings
    [asked] = recorder.samplings
    assert asked.max_tokens == 100
    assert isinstance(asked.messages[0].content, TextContent)
    assert asked.messages[0].content.text == "What is the capital of France?"
    assert_asked_through_the_era(wire, mode, tool, asks=1, rounds=1)


@pytest.mark.anyio
async def test_list_roots(server: str, mode: str) -> None:
    # The app has no handshake-era-only roots tool, but ``ctx.list_roots`` is era-neutral: in the
    # handshake era this tool sends ``roots/list`` on its SSE stream, so it covers both eras.
    recorder = Recorder()
    wire = Wire()
    async with connect(server, mode, recorder, wire=wire) as client:
        result = await client.call_tool("test_input_required_result_list_roots", {})
    assert result.is_error is not True, describe(result)
    assert text_of(result) == f"Roots: [{ROOT_URI!r}]", describe(result)
    assert recorder.roots_calls == 1
    assert_asked_through_the_era(wire, mode, "test_input_required_result_list_roots", asks=1, rounds=1)


@pytest.mark.anyio
async def test_multi_round(server: str, mode: str) -> None:
    recorder = Recorder()
    wire = Wire()
    async with connect(server, mode, recorder, wire=wire) as client:
        result = await client.call_tool("test_input_required_result_multi_round", {})
    assert result.is_error is not True, describe(result)
    assert text_of(result) == "Colour: answer-color", describe(result)
    asked = [getattr(params, "message", None) for params in recorder.elicitations]
    assert asked == ["What is your name?", "Favourite colour?"], asked
    assert_asked_through_the_era(wire, mode, "test_input_required_result_multi_round", asks=2, rounds=2)
    if mode == MODERN:
        # Each retry echoes the requestState of the round it answers, byte for byte.
        calls = wire.calls("tools/call")
        assert all(call["params"].get("requestState") for call in calls[1:]), calls
        assert calls[1]["params"]["requestState"] != calls[2]["params"]["requestState"], calls


@pytest.mark.anyio
async def test_multiple_inputs_in_one_round(server: str, mode: str) -> None:
    recorder = Recorder()
    wire = Wire()
    async with connect(server, mode, recorder, wire=wire) as client:
        result = await client.call_tool("test_input_required_result_multiple_inputs", {})
    assert result.is_error is not True, describe(result)
    assert text_of(result) == "Got client_roots, greeting, user_name", describe(result)
    assert (len(recorder.elicitations), len(recorder.samplings), recorder.roots_calls) == (1, 1, 1)
    assert_asked_through_the_era(wire, mode, "test_input_required_result_multiple_inputs", asks=3, rounds=1)


@pytest.mark.anyio
async def test_input_required_wire_shape_2026(server: str) -> None:
    """What the SDK's automatic retry hides: the first round is an ``InputRequiredResult``."""
    recorder = Recorder()
    async with connect(server, MODERN, recorder) as client:
        first = await client.session.call_tool("test_input_required_result_elicitation", {}, allow_input_required=True)
        assert isinstance(first, InputRequiredResult), first
        assert first.input_requests is not None
        assert set(first.input_requests) == {"user_name"}
        answer = ElicitResult(action="accept", content={"name": "Ada"})
        final = await client.session.call_tool(
            "test_input_required_result_elicitation",
            {},
            input_responses={"user_name": answer},
            request_state=first.request_state,
            allow_input_required=True,
        )
    assert isinstance(final, CallToolResult), final
    assert text_of(final) == "Hello, Ada!", describe(final)
    assert recorder.elicitations == [], "the manual path must not run the callback"


# --- resources ------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_list_resources_and_templates(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        resources = await client.list_resources()
        templates = await client.list_resource_templates()
    by_uri = {str(resource.uri): resource for resource in resources.resources}
    assert {"test://static-text", "test://static-binary", "test://watched-resource"} <= set(by_uri), by_uri
    assert by_uri["test://static-text"].mime_type == "text/plain"
    assert by_uri["test://static-binary"].mime_type == "image/png"
    uri_templates = {template.uri_template: template for template in templates.resource_templates}
    assert "test://template/{id}/data" in uri_templates, uri_templates
    assert uri_templates["test://template/{id}/data"].mime_type == "application/json"


@pytest.mark.anyio
async def test_read_text_resource(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.read_resource("test://static-text")
    [contents] = result.contents
    assert isinstance(contents, TextResourceContents), contents
    assert str(contents.uri) == "test://static-text"
    assert contents.text == "This is the content of the static text resource."
    assert contents.mime_type is not None
    assert contents.mime_type.startswith("text/plain")


@pytest.mark.anyio
async def test_read_binary_resource(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.read_resource("test://static-binary")
    [contents] = result.contents
    assert isinstance(contents, BlobResourceContents), contents
    assert str(contents.uri) == "test://static-binary"
    assert contents.mime_type == "image/png"
    assert base64.b64decode(contents.blob).startswith(PNG_SIGNATURE)


@pytest.mark.anyio
async def test_read_templated_resource(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.read_resource("test://template/123/data")
    [contents] = result.contents
    assert isinstance(contents, TextResourceContents), contents
    assert str(contents.uri) == "test://template/123/data"
    assert contents.mime_type == "application/json"
    assert json.loads(contents.text) == {"id": "123", "templateTest": True, "data": "Data for ID: 123"}


@pytest.mark.anyio
async def test_read_unknown_resource_is_an_error(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        with pytest.raises(MCPError) as caught:
            await client.read_resource("test://no-such-resource")
    # Resource not found: -32002 in the handshake era; 2026-07-28 retired it for -32602.
    assert caught.value.code == (-32002 if mode == "legacy" else -32602), caught.value
    if mode == MODERN:
        assert isinstance(caught.value.data, dict), caught.value.data
        assert caught.value.data.get("uri") == "test://no-such-resource"


# --- prompts and completion ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_list_prompts(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        listing = await client.list_prompts()
    prompts = {prompt.name: prompt for prompt in listing.prompts}
    assert {"test_simple_prompt", "test_prompt_with_arguments", "test_prompt_with_image"} <= set(prompts), prompts
    arguments = {argument.name: argument for argument in prompts["test_prompt_with_arguments"].arguments or []}
    assert set(arguments) == {"arg1", "arg2"}, arguments
    assert all(argument.required for argument in arguments.values()), arguments


@pytest.mark.anyio
async def test_get_prompt_with_arguments(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.get_prompt("test_prompt_with_arguments", {"arg1": "alpha-one", "arg2": "beta-two"})
    [message] = result.messages
    assert message.role == "user"
    assert isinstance(message.content, TextContent), message
    assert "alpha-one" in message.content.text, message.content.text
    assert "beta-two" in message.content.text, message.content.text


@pytest.mark.anyio
async def test_get_prompt_with_image(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.get_prompt("test_prompt_with_image")
    images = [message.content for message in result.messages if isinstance(message.content, ImageContent)]
    assert len(images) == 1, result.messages
    assert images[0].mime_type == "image/png"
    assert base64.b64decode(images[0].data).startswith(PNG_SIGNATURE)
    assert any(isinstance(message.content, TextContent) for message in result.messages), result.messages


@pytest.mark.anyio
async def test_get_unknown_prompt_is_an_error(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("no_such_prompt")
    assert caught.value.code == -32602, caught.value


@pytest.mark.anyio
async def test_complete_prompt_argument(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.complete(
            PromptReference(type="ref/prompt", name="test_prompt_with_arguments"), {"name": "arg1", "value": "te"}
        )
    values = result.completion.values
    assert values, result
    assert all(value.startswith("te") for value in values), values
    assert set(values) == {"test", "testValue1"}, values


# --- rich tool content ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_multiple_content_types(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        result = await client.call_tool("test_multiple_content_types", {})
    assert result.is_error is not True, describe(result)
    text, image, resource = result.content
    assert isinstance(text, TextContent), result.content
    assert text.text == "Multiple content types test:"
    assert isinstance(image, ImageContent), result.content
    assert image.mime_type == "image/png"
    assert base64.b64decode(image.data).startswith(PNG_SIGNATURE)
    assert isinstance(resource, EmbeddedResource), result.content
    embedded = resource.resource
    assert isinstance(embedded, TextResourceContents), embedded
    assert str(embedded.uri) == "test://mixed-content-resource"
    assert json.loads(embedded.text) == {"test": "data", "value": 123}


# --- capabilities -------------------------------------------------------------------------------------


async def served_capabilities(client: Client, mode: str) -> ServerCapabilities:
    if mode == "legacy":
        return client.server_capabilities
    # mode="2026-07-28" adopts a synthesized DiscoverResult with empty capabilities: ask the server.
    raw = await client.session.send_discover(MODERN)
    discovered = DiscoverResult.model_validate(raw)
    assert MODERN in discovered.supported_versions, discovered
    return discovered.capabilities


@pytest.mark.anyio
async def test_capabilities_match_what_is_served(server: str, mode: str) -> None:
    list_changed = mode == MODERN  # only 2026-07-28 listen streams can carry list changes
    async with connect(server, mode) as client:
        caps = await served_capabilities(client, mode)
        assert caps.tools is not None, caps
        assert bool(caps.tools.list_changed) is list_changed, caps.tools
        assert caps.resources is not None, caps
        # updates reach 2026-07-28 listen streams only: the handshake era does not advertise subscribe
        assert bool(caps.resources.subscribe) is list_changed, caps.resources
        assert bool(caps.resources.list_changed) is list_changed, caps.resources
        assert caps.prompts is not None, caps
        assert bool(caps.prompts.list_changed) is list_changed, caps.prompts
        assert caps.completions is not None, caps
        assert caps.logging is not None, caps
        # ...and each advertised feature answers.
        assert (await client.list_tools()).tools
        assert (await client.list_resources()).resources
        assert (await client.list_prompts()).prompts
        if mode == "legacy":
            with pytest.warns(MCPDeprecationWarning):
                await client.subscribe_resource("test://watched-resource")
            with pytest.warns(MCPDeprecationWarning):
                await client.set_logging_level("info")
        else:
            async with client.listen(resource_subscriptions=["test://watched-resource"]) as subscription:
                assert subscription.honored.resource_subscriptions == ["test://watched-resource"]


# --- subscriptions/listen (2026-07-28) -------------------------------------------------------------------


@pytest.mark.anyio
async def test_listen_for_tool_list_changes(server: str, mode: str) -> None:
    async with connect(server, mode) as client:
        if mode == "legacy":
            # The SDK refuses listen on a handshake-era connection before anything goes on the wire.
            with pytest.raises(ListenNotSupportedError):
                async with client.listen(tools_list_changed=True):
                    pass  # pragma: no cover
            return
        async with client.listen(tools_list_changed=True) as subscription:
            assert subscription.honored.tools_list_changed is True, subscription.honored
            result = await client.call_tool("test_trigger_tool_change", {})
            assert result.is_error is not True, describe(result)
            with anyio.fail_after(EVENT_TIMEOUT_SECONDS):
                event = await subscription.__anext__()
        assert isinstance(event, ToolsListChanged), event
        # The list still answers after the change.
        assert "test_trigger_tool_change" in {tool.name for tool in (await client.list_tools()).tools}
