"""Every fixture of the official MCP conformance suite, written as ordinary FastAPI routes.

    uvicorn examples.conformance_app:app        →  MCP at http://127.0.0.1:8000/mcp
    tests/interop/conformance/run.sh http://127.0.0.1:8000/mcp

Tools are routes (rich content through ``MCPResponse``, input through ``Depends(mcp_context)``);
resources, resource templates and prompts are routes declared with ``mcp_middleware.declare``.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Response
from fastapi.responses import PlainTextResponse

from mcp_middleware import (
    Elicit,
    ListRoots,
    MCPContext,
    MCPMiddleware,
    MCPResponse,
    Sample,
    content,
    declare,
    mcp_context,
)

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
WAV = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="
JSON_SCHEMA_2020_12 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "$defs": {
        "address": {
            "$anchor": "addressDef",
            "type": "object",
            "properties": {"street": {"type": "string"}, "city": {"type": "string"}},
        }
    },
    "properties": {
        "name": {"type": "string"},
        "address": {"$ref": "#/$defs/address"},
        "contactMethod": {"type": "string", "enum": ["phone", "email"]},
        "phone": {"type": "string"},
        "email": {"type": "string"},
    },
    "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
    "if": {"properties": {"contactMethod": {"const": "phone"}}, "required": ["contactMethod"]},
    "then": {"required": ["phone"]},
    "else": {"required": ["email"]},
    "additionalProperties": False,
}

app = FastAPI(title="mcp-middleware conformance", version="1.0.0", description="The conformance suite's fixtures.")
Ctx = Annotated[MCPContext, Depends(mcp_context)]


def tool(name: str, description: str, **extra: Any) -> dict[str, Any]:
    return {"operation_id": name, "summary": description, **extra}


# --- tools: content -------------------------------------------------------------------------------


@app.post("/tools/simple-text", **tool("test_simple_text", "Returns a simple text response"))
async def simple_text() -> MCPResponse:
    return MCPResponse("This is a simple text response for testing.")


@app.post("/tools/image", **tool("test_image_content", "Returns an image"))
async def image_content() -> MCPResponse:
    return MCPResponse(content.image(PNG, "image/png"))


@app.post("/tools/audio", **tool("test_audio_content", "Returns audio"))
async def audio_content() -> MCPResponse:
    return MCPResponse(content.audio(WAV, "audio/wav"))


@app.post("/tools/embedded-resource", **tool("test_embedded_resource", "Returns an embedded resource"))
async def embedded_resource() -> MCPResponse:
    text = "This is an embedded resource content."
    return MCPResponse(content.embedded_resource("test://embedded-resource", text=text, mime_type="text/plain"))


@app.post("/tools/mixed", **tool("test_multiple_content_types", "Returns text, an image and a resource"))
async def mixed_content() -> MCPResponse:
    data = '{"test":"data","value":123}'
    return MCPResponse(
        [
            content.text("Multiple content types test:"),
            content.image(PNG, "image/png"),
            content.embedded_resource("test://mixed-content-resource", text=data, mime_type="application/json"),
        ]
    )


@app.post("/tools/error", **tool("test_error_handling", "Always fails"))
async def error_handling() -> None:
    raise HTTPException(500, "This tool intentionally returns an error for testing")


@app.post(
    "/tools/json-schema",
    **tool("json_schema_2020_12_tool", "Declares a JSON Schema 2020-12 input schema"),
    openapi_extra={"x-mcp-input-schema": JSON_SCHEMA_2020_12},
)
async def json_schema_tool() -> MCPResponse:
    return MCPResponse("ok")


@app.post(
    "/tools/headers",
    **tool("test_header_tool", "Mirrors its region argument into an Mcp-Param-Region header"),
    openapi_extra={
        "x-mcp-input-schema": {
            "type": "object",
            "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
            "required": ["region"],
        }
    },
)
async def header_tool(region: str) -> MCPResponse:
    return MCPResponse(f"region={region}")


# --- tools: progress, logging, asking the client ---------------------------------------------


@app.post("/tools/progress", **tool("test_tool_with_progress", "Reports progress"))
async def with_progress(ctx: Ctx) -> MCPResponse:
    for step in (0, 50, 100):
        await ctx.report_progress(step, 100, f"Completed step {step} of 100")
        if step < 100:
            await asyncio.sleep(0.05)
    return MCPResponse(str(ctx.progress_token))


@app.post("/tools/logging", **tool("test_tool_with_logging", "Logs while it runs"))
async def with_logging(ctx: Ctx) -> MCPResponse:
    for i, line in enumerate(("Tool execution started", "Tool processing data", "Tool execution completed")):
        await ctx.log("info", line)
        if i < 2:
            await asyncio.sleep(0.05)
    return MCPResponse("Tool with logging executed successfully")


@app.post("/tools/logging-diagnostic", **tool("test_logging_tool", "Logs at info level"))
async def logging_tool(ctx: Ctx) -> MCPResponse:
    for line in ("one", "two", "three"):
        await ctx.log("info", line)
    return MCPResponse("logged")


@app.post("/tools/sampling", **tool("test_sampling", "Asks the client's model"))
async def sampling(prompt: str, ctx: Ctx) -> MCPResponse:
    result = await ctx.sample([{"role": "user", "content": {"type": "text", "text": prompt}}], 100)
    answer = result.get("content", {})
    text = answer.get("text", "") if isinstance(answer, dict) else ""
    return MCPResponse(f"LLM response: {text}")


@app.post("/tools/elicitation", **tool("test_elicitation", "Asks the user"))
async def elicitation(message: str, ctx: Ctx) -> MCPResponse:
    schema = {"type": "object", "properties": {"response": {"type": "string"}}, "required": ["response"]}
    result = await ctx.elicit(message, schema)
    return MCPResponse(f"User response: action={result.get('action')}, content={result.get('content')}")


@app.post("/tools/elicitation-defaults", **tool("test_elicitation_sep1034_defaults", "Elicitation with defaults"))
async def elicitation_defaults(ctx: Ctx) -> MCPResponse:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string", "default": "John Doe"},
            "age": {"type": "integer", "default": 30},
            "score": {"type": "number", "default": 95.5},
            "status": {"type": "string", "enum": ["active", "inactive", "pending"], "default": "active"},
            "verified": {"type": "boolean", "default": True},
        },
    }
    result = await ctx.elicit("Please review and update the form fields with defaults", schema)
    return MCPResponse(f"Elicitation completed: action={result.get('action')}, content={result.get('content')}")


@app.post("/tools/elicitation-enums", **tool("test_elicitation_sep1330_enums", "Elicitation with enum schemas"))
async def elicitation_enums(ctx: Ctx) -> MCPResponse:
    titled = [{"const": f"value{i}", "title": f"Option {i}"} for i in (1, 2, 3)]
    schema = {
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
            "titledSingle": {"type": "string", "oneOf": titled},
            "legacyEnum": {"type": "string", "enum": ["opt1", "opt2", "opt3"], "enumNames": ["One", "Two", "Three"]},
            "untitledMulti": {"type": "array", "items": {"type": "string", "enum": ["option1", "option2", "option3"]}},
            "titledMulti": {"type": "array", "items": {"anyOf": titled}},
        },
    }
    result = await ctx.elicit("Please select options", schema)
    return MCPResponse(f"Elicitation completed: action={result.get('action')}, content={result.get('content')}")


# --- tools: 2026-07-28 diagnostics and multi round-trip requests -------------------------------


@app.post("/tools/missing-capability", **tool("test_missing_capability", "Needs the sampling capability"))
async def missing_capability(ctx: Ctx) -> MCPResponse:
    await ctx.sample([{"role": "user", "content": {"type": "text", "text": "hi"}}], 10)
    return MCPResponse("sampled")


@app.post("/tools/streaming-elicitation", **tool("test_streaming_elicitation", "Asks the user mid-call"))
async def streaming_elicitation(ctx: Ctx) -> MCPResponse:
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
    result = await ctx.elicit("Anything to add?", schema)
    return MCPResponse(f"action={result.get('action')}")


@app.post("/tools/trigger-tools", **tool("test_trigger_tool_change", "Changes the tool list"))
async def trigger_tool_change(ctx: Ctx) -> MCPResponse:
    await ctx.tools_changed()
    return MCPResponse("tools changed")


@app.post("/tools/trigger-prompts", **tool("test_trigger_prompt_change", "Changes the prompt list"))
async def trigger_prompt_change(ctx: Ctx) -> MCPResponse:
    await ctx.prompts_changed()
    return MCPResponse("prompts changed")


NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


@app.post("/mrtr/elicitation", **tool("test_input_required_result_elicitation", "Asks for a name"))
async def mrtr_elicitation(ctx: Ctx) -> MCPResponse:
    answer = await ctx.elicit("What is your name?", NAME_SCHEMA, key="user_name")
    return MCPResponse(f"Hello, {answer.get('content', {}).get('name')}!")


@app.post("/mrtr/sampling", **tool("test_input_required_result_sampling", "Asks the client's model"))
async def mrtr_sampling(ctx: Ctx) -> MCPResponse:
    question = [{"role": "user", "content": {"type": "text", "text": "What is the capital of France?"}}]
    answer = await ctx.sample(question, 100, key="sample_request")
    return MCPResponse(f"Model said: {answer.get('content', {}).get('text')}")


@app.post("/mrtr/roots", **tool("test_input_required_result_list_roots", "Asks for the client's roots"))
async def mrtr_roots(ctx: Ctx) -> MCPResponse:
    answer = await ctx.list_roots(key="roots_request")
    return MCPResponse(f"Roots: {[root.get('uri') for root in answer.get('roots', [])]}")


@app.post("/mrtr/request-state", **tool("test_input_required_result_request_state", "Confirms with state"))
async def mrtr_request_state(ctx: Ctx) -> MCPResponse:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    answer = await ctx.elicit("Confirm?", schema, key="confirm", state="awaiting-confirm")
    if ctx.request_state != "awaiting-confirm":
        return MCPResponse("the requestState was not echoed", is_error=True)
    ok = answer.get("content", {}).get("ok")
    return MCPResponse("state-ok" if ok else "state-ok (declined)")


@app.post("/mrtr/multiple", **tool("test_input_required_result_multiple_inputs", "Asks for three inputs"))
async def mrtr_multiple(ctx: Ctx) -> MCPResponse:
    greeting = [{"role": "user", "content": {"type": "text", "text": "Say hello"}}]
    answers = await ctx.ask(
        {
            "user_name": Elicit("What is your name?", NAME_SCHEMA),
            "greeting": Sample(greeting, 50),
            "client_roots": ListRoots(),
        },
        state="multi",
    )
    return MCPResponse(f"Got {', '.join(sorted(answers))}")


@app.post("/mrtr/multi-round", **tool("test_input_required_result_multi_round", "Asks in two rounds"))
async def mrtr_multi_round(ctx: Ctx) -> MCPResponse:
    if ctx.request_state is None:
        await ctx.elicit("What is your name?", NAME_SCHEMA, key="step1", state="round-1")
    color = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
    answer = await ctx.elicit("Favourite colour?", color, key="step2", state="round-2")
    return MCPResponse(f"Colour: {answer.get('content', {}).get('color')}")


@app.post("/mrtr/tampered", **tool("test_input_required_result_tampered_state", "Rejects tampered state"))
async def mrtr_tampered(ctx: Ctx) -> MCPResponse:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    await ctx.elicit("Confirm?", schema, key="confirm", state="protected")
    return MCPResponse("state verified")


@app.post("/mrtr/capabilities", **tool("test_input_required_result_capabilities", "Asks only what the client supports"))
async def mrtr_capabilities(ctx: Ctx) -> MCPResponse:
    wanted: dict[str, Elicit | Sample | ListRoots] = {}
    if "sampling" in ctx.client_capabilities:
        wanted["sample"] = Sample([{"role": "user", "content": {"type": "text", "text": "Pick a colour"}}], 20)
    if "elicitation" in ctx.client_capabilities:
        wanted["ask"] = Elicit("Pick a colour", {"type": "object", "properties": {"colour": {"type": "string"}}})
    if not wanted:
        return MCPResponse("nothing to ask: the client declared neither sampling nor elicitation")
    answers = await ctx.ask(wanted)
    return MCPResponse(f"answered: {', '.join(sorted(answers))}")


# --- resources ------------------------------------------------------------------------------------


@app.get(
    "/resources/static-text",
    openapi_extra=declare.resource(
        "test://static-text", name="static-text", description="A static text resource", mime_type="text/plain"
    ),
)
async def static_text() -> PlainTextResponse:
    return PlainTextResponse("This is the content of the static text resource.")


@app.get(
    "/resources/static-binary",
    openapi_extra=declare.resource(
        "test://static-binary", name="static-binary", description="A static image", mime_type="image/png"
    ),
)
async def static_binary() -> Response:
    return Response(base64.b64decode(PNG), media_type="image/png")


@app.get(
    "/resources/template/{id}",
    openapi_extra=declare.resource_template(
        "test://template/{id}/data", name="template", description="A templated resource", mime_type="application/json"
    ),
)
async def template_resource(id: str) -> dict[str, Any]:
    return {"id": id, "templateTest": True, "data": f"Data for ID: {id}"}


@app.get(
    "/resources/watched",
    openapi_extra=declare.resource(
        "test://watched-resource", name="watched", description="A resource to subscribe to", mime_type="text/plain"
    ),
)
async def watched() -> PlainTextResponse:
    return PlainTextResponse("Watched resource content")


# --- prompts --------------------------------------------------------------------------------------


@app.get("/prompts/simple", openapi_extra=declare.prompt("test_simple_prompt", description="A simple prompt"))
async def simple_prompt() -> str:
    return "This is a simple prompt for testing."


@app.get(
    "/prompts/arguments",
    openapi_extra=declare.prompt(
        "test_prompt_with_arguments",
        description="A prompt with arguments",
        completions={"arg1": ["test", "testValue1", "other"]},
    ),
)
async def prompt_with_arguments(arg1: str, arg2: str) -> str:
    return f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"


@app.get(
    "/prompts/embedded",
    openapi_extra=declare.prompt("test_prompt_with_embedded_resource", description="A prompt with a resource"),
)
async def prompt_with_embedded_resource(resourceUri: str) -> list[Any]:
    text = "Embedded resource content for testing."
    resource = content.embedded_resource(resourceUri, text=text, mime_type="text/plain")
    return [{"role": "user", "content": resource}, "Please process the embedded resource above."]


@app.get("/prompts/image", openapi_extra=declare.prompt("test_prompt_with_image", description="A prompt with an image"))
async def prompt_with_image() -> list[Any]:
    return [{"role": "user", "content": content.image(PNG, "image/png")}, "Please analyze the image above."]


@app.get(
    "/prompts/input-required",
    openapi_extra=declare.prompt("test_input_required_result_prompt", description="Asks for context first"),
)
async def prompt_input_required(ctx: Ctx) -> str:
    schema = {"type": "object", "properties": {"context": {"type": "string"}}, "required": ["context"]}
    answer = await ctx.elicit("What context should the prompt use?", schema, key="user_context")
    return f"Prompt with context: {answer.get('content', {}).get('context')}"


# The suite's tool names reach 43 characters. Session ids and SSE replies in the handshake era
# make the server look like the official SDK's, so every stateful scenario runs in full.
app.add_middleware(MCPMiddleware, max_tool_name_length=64, session_ids=True, response_mode="sse")
