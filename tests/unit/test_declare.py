"""What ``declare`` refuses at once, and what the catalog leaves out of a declaration, with a warning.

A declaration that passed ``mypy --strict`` (or a hand-written ``x-mcp-*`` mapping, as a plain
Starlette route's YAML docstring gives) made the whole ``prompts/list`` or ``resources/list`` an
"invalid result" at request time, or its route vanish; completions under a misspelt key went
unread in silence, and a string of values completed as its characters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from unittest.mock import ANY

import pytest
from fastapi import FastAPI

from mcp_middleware import MCPMiddleware, declare
from tests.support import BASE_HEADERS, post, request

pytestmark = pytest.mark.anyio

FEATURES = "mcp_middleware.features"

# the helpers as a caller that mypy does not check writes them (some of these values pass it)
untyped: Any = declare

REFUSED: list[tuple[Callable[[], Any], type[Exception], str]] = [
    (lambda: untyped.resource(123), TypeError, "declare.resource: uri must be a string, not 123"),
    (lambda: untyped.resource(""), ValueError, "declare.resource: uri must not be empty, not ''"),
    (lambda: untyped.resource("  "), ValueError, "declare.resource: uri must not be empty, not '  '"),
    (lambda: untyped.resource("data://x", name=5), TypeError, "declare.resource: name must be a string, not 5"),
    (lambda: untyped.resource("data://x", name=""), ValueError, "declare.resource: name must not be empty, not ''"),
    (lambda: untyped.resource("d://x", title=5), TypeError, "declare.resource: title must be a string, not 5"),
    (
        lambda: untyped.resource("data://x", description=b"x"),
        TypeError,
        "declare.resource: description must be a string, not b'x'",
    ),
    (
        lambda: untyped.resource("data://x", mime_type=7),
        TypeError,
        "declare.resource: mime_type must be a string, not 7",
    ),
    (lambda: untyped.resource("data://x", tool=1), TypeError, "declare.resource: tool must be True or False, not 1"),
    (
        lambda: untyped.resource_template(""),
        ValueError,
        "declare.resource_template: uri_template must not be empty, not ''",
    ),
    (
        lambda: untyped.resource_template(None),
        TypeError,
        "declare.resource_template: uri_template must be a string, not None",
    ),
    (
        lambda: untyped.resource_template("u://{id}", mime_type=1),
        TypeError,
        "declare.resource_template: mime_type must be a string, not 1",
    ),
    (
        lambda: untyped.resource_template("u://{id}", completions={"id": "12"}),
        TypeError,
        "declare.resource_template: completions['id'] must be a list of strings, not '12'",
    ),
    (
        lambda: untyped.resource_template("u://{id}", completions={"id": ["1", 2]}),
        TypeError,
        "declare.resource_template: completions['id'][1] must be a string, not 2",
    ),
    (
        lambda: untyped.resource_template("u://{id}", completions=["id"]),
        TypeError,
        "declare.resource_template: completions must be a mapping of argument names to lists of strings, not ['id']",
    ),
    (
        lambda: untyped.resource_template("u://{id}", completions={1: ["a"]}),
        TypeError,
        "declare.resource_template: a completions key must be a string, not 1",
    ),
    (lambda: untyped.prompt(123), TypeError, "declare.prompt: name must be a string, not 123"),
    (lambda: untyped.prompt(""), ValueError, "declare.prompt: name must not be empty, not ''"),
    (lambda: untyped.prompt("p", title=5), TypeError, "declare.prompt: title must be a string, not 5"),
    (
        lambda: untyped.prompt("review", arguments=[{"name": "language"}, {"title": "Diff"}]),
        ValueError,
        "declare.prompt: arguments[1] has no 'name': {'title': 'Diff'}",
    ),
    (
        lambda: untyped.prompt("p", arguments=["language"]),
        TypeError,
        "declare.prompt: arguments[0] must be a mapping with a 'name', not 'language'",
    ),
    (
        lambda: untyped.prompt("p", arguments="language"),
        TypeError,
        "declare.prompt: arguments must be a list of mappings, each with a 'name', not 'language'",
    ),
    (
        lambda: untyped.prompt("p", arguments=[{"name": ""}]),
        ValueError,
        "declare.prompt: arguments[0]['name'] must not be empty, not ''",
    ),
    (
        lambda: untyped.prompt("p", arguments=[{"name": 3}]),
        TypeError,
        "declare.prompt: arguments[0]['name'] must be a string, not 3",
    ),
    (
        lambda: untyped.prompt("p", arguments=[{"name": "a", "description": 3}]),
        TypeError,
        "declare.prompt: arguments[0]['description'] must be a string, not 3",
    ),
    (
        lambda: untyped.prompt("p", arguments=[{"name": "a", "required": "yes"}]),
        TypeError,
        "declare.prompt: arguments[0]['required'] must be True or False, not 'yes'",
    ),
    (
        lambda: untyped.prompt("p", arguments=[{"name": "a"}, {"name": "a"}]),
        ValueError,
        "declare.prompt: arguments[1]: argument 'a' is listed twice",
    ),
    (
        lambda: untyped.prompt("p", completions={"language": "py"}),
        TypeError,
        "declare.prompt: completions['language'] must be a list of strings, not 'py'",
    ),
]


@pytest.mark.parametrize(("declaration", "error", "message"), REFUSED)
def test_a_bad_declaration_is_refused_where_it_is_written(
    declaration: Callable[[], Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        declaration()
    assert str(raised.value) == message


def test_a_long_value_is_shown_by_its_start() -> None:
    with pytest.raises(TypeError) as raised:
        untyped.prompt("p", title=["x" * 100])
    assert str(raised.value) == f"declare.prompt: title must be a string, not ['{'x' * 55}..."


def test_valid_declarations_are_built_as_before() -> None:
    assert declare.resource("data://x", name="x", mime_type="text/plain", tool=True) == {
        "x-mcp-resource": {"uri": "data://x", "name": "x", "mimeType": "text/plain"},
        "x-mcp-tool": True,
    }
    template = declare.resource_template("u://{id}", title="", completions={"id": ("1", "2")})
    assert template == {
        "x-mcp-resource-template": {"uriTemplate": "u://{id}", "title": "", "completions": {"id": ["1", "2"]}}
    }
    arguments = ({"name": "a", "required": True, "title": "A"} for _ in range(1))  # any iterable, as before
    assert untyped.prompt(arguments=arguments, completions={}) == {
        "x-mcp-prompt": {"arguments": [{"name": "a", "required": True, "title": "A"}]}
    }
    assert declare.prompt("p", arguments=[]) == {"x-mcp-prompt": {"name": "p", "arguments": []}}


async def legacy(app: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = await post(app, request(method, params), {**BASE_HEADERS, "mcp-protocol-version": "2025-11-25"})
    assert reply.status == 200, reply.body
    message: dict[str, Any] = reply.json()
    return message


def features_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == FEATURES]


async def test_a_hand_written_declaration_that_breaks_the_rules_is_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What ``declare`` refuses, an ``x-mcp-*`` mapping written by hand (a Starlette route's YAML)
    can still say: one that leaves it unusable (no URI, a name that is no string, arguments
    without names or listed twice) leaves it out, with a warning; the other declarations are
    listed."""
    app = FastAPI()

    @app.get("/good", openapi_extra=declare.prompt("good"))
    async def good() -> str:
        return "fine"

    @app.get("/named", openapi_extra={"x-mcp-prompt": {"arguments": [{"title": "Diff"}]}})
    async def nameless_argument() -> str:
        return "p"

    @app.get("/list", openapi_extra={"x-mcp-prompt": ["p"]})
    async def listed() -> str:
        return "l"

    @app.get("/twice", openapi_extra={"x-mcp-prompt": {"name": "twice", "arguments": [{"name": "a"}, {"name": "a"}]}})
    async def twice(a: str = "") -> str:
        return a

    @app.get("/r1", openapi_extra={"x-mcp-resource": {"uri": 123}})
    async def numbered_uri() -> str:
        return "r1"

    @app.get("/r2", openapi_extra={"x-mcp-resource": {"uri": "data://ok"}})
    async def fine_resource() -> str:
        return "r2"

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger=FEATURES):
        prompts = (await legacy(app, "prompts/list"))["result"]["prompts"]
        resources = (await legacy(app, "resources/list"))["result"]["resources"]
        templates = (await legacy(app, "resources/templates/list"))["result"]["resourceTemplates"]
    assert [p["name"] for p in prompts] == ["good"]
    assert [r["uri"] for r in resources] == ["data://ok"]
    assert templates == []
    assert features_log(caplog) == [
        "Prompt of nameless_argument is skipped: arguments[0] has no 'name': {'title': 'Diff'}",
        "Prompt of listed is skipped: the declaration must be a mapping, not ['p']",
        "Prompt of twice is skipped: arguments[1]: argument 'a' is listed twice",
        "Resource of numbered_uri is skipped: uri must be a string, not 123",
    ]


async def test_completions_for_no_argument_or_variable_are_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A misspelt key's values were never offered, and nothing said so."""
    app = FastAPI()

    @app.get(
        "/users/{user_id}",
        openapi_extra=declare.resource_template("users://{user_id}", completions={"userid": ["1"], "user_id": ["2"]}),
    )
    async def user(user_id: str) -> str:
        return user_id

    @app.get("/review", openapi_extra=declare.prompt("review", completions={"languag": ["py"], "style": ["terse"]}))
    async def review(language: str, style: str = "long") -> str:
        return f"Review {language} {style}"

    @app.get(
        "/declared",
        openapi_extra=declare.prompt("declared", arguments=[{"name": "topic"}], completions={"subject": ["x"]}),
    )
    async def declared(topic: str = "t", subject: str = "s") -> str:
        return topic + subject

    app.add_middleware(MCPMiddleware)

    async def complete(ref: dict[str, str], name: str) -> list[str]:
        params = {"ref": ref, "argument": {"name": name, "value": ""}}
        values: list[str] = (await legacy(app, "completion/complete", params))["result"]["completion"]["values"]
        return values

    template = {"type": "ref/resource", "uri": "users://{user_id}"}
    with caplog.at_level(logging.WARNING, logger=FEATURES):
        assert await complete(template, "user_id") == ["2"]
        assert await complete(template, "userid") == []
        assert await complete({"type": "ref/prompt", "name": "review"}, "style") == ["terse"]
        assert await complete({"type": "ref/prompt", "name": "review"}, "languag") == []
        assert await complete({"type": "ref/prompt", "name": "declared"}, "subject") == []
    assert features_log(caplog) == [
        "Resource template 'users://{user_id}' of user: completions for 'userid' are left out: the template has no "
        "such variable (its variables: 'user_id')",
        "Prompt 'review' of review: completions for 'languag' are left out: the prompt has no such argument (its "
        "arguments: 'language', 'style')",
        "Prompt 'declared' of declared: completions for 'subject' are left out: the prompt has no such argument (its "
        "arguments: 'topic')",
    ]


def test_a_null_title_description_or_mime_type_is_as_if_absent() -> None:
    """A hand-written mapping may say ``title:`` with no value (YAML's null), which the wire form
    leaves out (FastAPI's document drops it before; a Starlette docstring's YAML keeps it)."""
    from mcp_middleware._declared import PROMPT, RESOURCE, TEMPLATE, Reading, read

    nulls = {"title": None, "description": None, "mimeType": None}
    assert read(RESOURCE, {"uri": "data://x", **nulls}) == Reading({"uri": "data://x"}, ())
    assert read(TEMPLATE, {"uriTemplate": "t://{k}", **nulls}) == Reading({"uriTemplate": "t://{k}"}, ())
    assert read(PROMPT, {"title": None, "description": None}) == Reading({}, ())
    unnamed = read(PROMPT, {"name": None})  # (the route's name is no null)
    assert unnamed.spec is None
    assert [str(problem) for problem in unnamed.problems] == ["name must be a string, not None"]


async def test_bad_completion_values_in_a_yaml_docstring_are_left_out_and_the_template_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """YAML reads ``[2023, 2024, "latest"]`` as numbers and a string: the numbers are left out,
    with a warning, and the template is still served (leaving it out took the resources
    capability with it: -32601 for the list, the reads and completion)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def report(request: Request) -> PlainTextResponse:
        """A yearly report.
        ---
        x-mcp-resource-template:
          uriTemplate: reports://{year}
          mimeType: text/plain
          completions:
            year: [2023, 2024, "latest"]
        """
        return PlainTextResponse("report " + request.path_params["year"])

    app = Starlette(routes=[Route("/reports/{year}", report)])
    app.add_middleware(MCPMiddleware)
    ref = {"type": "ref/resource", "uri": "reports://{year}"}
    with caplog.at_level(logging.WARNING, logger=FEATURES):
        templates = (await legacy(app, "resources/templates/list"))["result"]["resourceTemplates"]
        read = (await legacy(app, "resources/read", {"uri": "reports://2024"}))["result"]["contents"]
        completed = await legacy(app, "completion/complete", {"ref": ref, "argument": {"name": "year", "value": ""}})
    assert [t["uriTemplate"] for t in templates] == ["reports://{year}"]
    assert read[0]["text"] == "report 2024"
    assert completed["result"]["completion"]["values"] == ["latest"]
    assert features_log(caplog) == [
        "Resource template of report: completions['year'][0] must be a string, not 2023 (left out)",
        "Resource template of report: completions['year'][1] must be a string, not 2024 (left out)",
    ]


async def test_a_bad_optional_hint_written_by_hand_is_left_out_and_the_declaration_kept(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A title, a description, a mimeType, an argument's title, description or ``required``, or
    completions of the wrong type are hints: each is left out, with a warning, and the entry is
    listed (what makes it unusable, such as a URI or a name that is no string, still leaves it
    out: see above)."""
    app = FastAPI()

    @app.get("/t", openapi_extra={"x-mcp-prompt": {"name": "t", "title": 5, "description": ["d"]}})
    async def numbered_title() -> str:
        return "t"

    arguments = [{"name": "language", "description": 7, "title": 8, "required": "yes"}]
    hinted = {"name": "args", "arguments": arguments, "completions": {"language": "py", "": ["y"]}}

    @app.get("/args", openapi_extra={"x-mcp-prompt": hinted})
    async def argued(language: str = "py") -> str:
        return language

    @app.get("/c", openapi_extra={"x-mcp-prompt": {"name": "c", "completions": ["language"]}})
    async def listed_completions(language: str = "py") -> str:
        return language

    @app.get("/r", openapi_extra={"x-mcp-resource": {"uri": "data://r", "mimeType": 1}})
    async def typed_resource() -> str:
        return "r"

    @app.get("/t/{k}", openapi_extra={"x-mcp-resource-template": {"uriTemplate": "t://{k}", "title": {}}})
    async def titled_template(k: str) -> str:
        return k

    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger=FEATURES):
        prompts = (await legacy(app, "prompts/list"))["result"]["prompts"]
        resources = (await legacy(app, "resources/list"))["result"]["resources"]
        templates = (await legacy(app, "resources/templates/list"))["result"]["resourceTemplates"]
        got = (await legacy(app, "prompts/get", {"name": "args", "arguments": {"language": "go"}}))["result"]
    assert prompts == [
        {"name": "t", "description": "Numbered Title", "arguments": []},
        {"name": "args", "description": "Argued", "arguments": [{"name": "language"}]},
        {"name": "c", "description": "Listed Completions", "arguments": [{"name": "language", "required": False}]},
    ]
    assert got["messages"][0]["content"]["text"] == "go"
    assert resources == [{"uri": "data://r", "name": "typed_resource", "description": "Typed Resource"}]
    assert templates == [{"uriTemplate": "t://{k}", "name": "titled_template", "description": "Titled Template"}]
    assert features_log(caplog) == [
        "Prompt of numbered_title: title must be a string, not 5 (left out)",
        "Prompt of numbered_title: description must be a string, not ['d'] (left out)",
        "Prompt of argued: arguments[0]['title'] must be a string, not 8 (left out)",
        "Prompt of argued: arguments[0]['description'] must be a string, not 7 (left out)",
        "Prompt of argued: arguments[0]['required'] must be True or False, not 'yes' (left out)",
        "Prompt of argued: completions['language'] must be a list of strings, not 'py' (left out)",
        "Prompt of argued: a completions key must not be empty, not '' (left out)",
        "Prompt of listed_completions: completions must be a mapping of argument names to lists of strings, "
        "not ['language'] (left out)",
        "Resource of typed_resource: mimeType must be a string, not 1 (left out)",
        "Resource template of titled_template: title must be a string, not {} (left out)",
    ]


def test_declare_leaves_out_an_argument_s_null_fields() -> None:
    """A table of arguments where some have no description gives ``description=None``: as at the
    top level, a null is left out (it raised "must be a string, not None")."""
    table = {"language": "The language", "diff": None}
    arguments = [{"name": name, "description": text, "required": True} for name, text in table.items()]
    assert declare.prompt("review", arguments=[*arguments, {"name": "x", "title": None, "required": None}]) == {
        "x-mcp-prompt": {
            "name": "review",
            "arguments": [
                {"name": "language", "description": "The language", "required": True},
                {"name": "diff", "required": True},
                {"name": "x"},
            ],
        }
    }
    with pytest.raises(TypeError) as raised:
        untyped.prompt("p", arguments=[{"name": None}])  # (a name is never null)
    assert str(raised.value) == "declare.prompt: arguments[0]['name'] must be a string, not None"


async def test_nulls_in_a_yaml_docstring_are_as_if_absent(caplog: pytest.LogCaptureFixture) -> None:
    """``description:``, ``arguments:`` or ``completions:`` with no value (YAML's null) left the
    entry out ("must be a string, not None"): an argument's null title, description or
    ``required`` is left out of it, null arguments are the route's, null completions none."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def review(request: Request) -> PlainTextResponse:
        """Review a change.
        ---
        x-mcp-prompt:
          name: review
          arguments:
            - name: language
              title:
              description:
              required:
        parameters:
          - {name: language, in: query, required: false, schema: {type: string}}
        """
        return PlainTextResponse("Review " + request.query_params.get("language", ""))

    async def summary(request: Request) -> PlainTextResponse:
        """Summarise.
        ---
        x-mcp-prompt:
          name: summary
          arguments:
          completions:
        """
        return PlainTextResponse("Summarise")

    async def item(request: Request) -> PlainTextResponse:
        """An item.
        ---
        x-mcp-resource-template:
          uriTemplate: items://{item_id}
          completions:
        """
        return PlainTextResponse(request.path_params["item_id"])

    routes = [Route("/review", review), Route("/summary", summary), Route("/items/{item_id}", item)]
    app = Starlette(routes=routes)
    app.add_middleware(MCPMiddleware)
    with caplog.at_level(logging.WARNING, logger=FEATURES):
        prompts = (await legacy(app, "prompts/list"))["result"]["prompts"]
        templates = (await legacy(app, "resources/templates/list"))["result"]["resourceTemplates"]
        got = (await legacy(app, "prompts/get", {"name": "review", "arguments": {"language": "py"}}))["result"]
    free_query = {"name": "query", "description": ANY, "required": False}  # (a Starlette route's own)
    assert prompts == [
        {"name": "review", "description": "Review a change.", "arguments": [{"name": "language"}]},
        {"name": "summary", "description": "Summarise.", "arguments": [free_query]},
    ]
    assert templates == [{"uriTemplate": "items://{item_id}", "name": "item", "description": "An item."}]
    assert got["messages"][0]["content"]["text"] == "Review py"
    assert features_log(caplog) == []
