"""Options accepted when the middleware was built that then failed silently (review of the API):
each is refused at construction with an error naming the option and the value."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from functools import partial
from typing import Any
from unittest.mock import AsyncMock, Mock

import pytest
from fastapi import FastAPI

from mcp_middleware import MCPMiddleware, declare
from mcp_middleware.security import OAuthResource
from tests.apps import build_app
from tests.support import BASE_HEADERS, post, request

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("interval", [1e-6, 0.05, 0.099])
def test_a_keepalive_interval_below_the_minimum_is_refused(interval: float) -> None:
    """Review: ``keepalive_interval=1e-6`` was accepted and made the call watcher a busy loop (its
    ticker runs every half interval: 2,355 keep-alives in 0.6 s). Keep-alives are for idle timeouts
    of proxies, which are seconds long: below 0.1 s is refused."""
    with pytest.raises(ValueError, match=r"^keepalive_interval must be at least") as refused:
        MCPMiddleware(build_app(), keepalive_interval=interval)
    assert str(refused.value) == (
        f"keepalive_interval must be at least 0.1 seconds (keep-alives outlast proxies' idle timeouts, which "
        f"are seconds long; a shorter interval only keeps the call watcher busy), got {interval!r}"
    )


@pytest.mark.parametrize("interval", [0.1, 1, 15.0, float("inf")])
def test_a_keepalive_interval_from_the_minimum_up_is_taken(interval: float) -> None:
    assert MCPMiddleware(build_app(), keepalive_interval=interval).settings.keepalive_interval == interval


@pytest.mark.parametrize("option", ["name", "version"])
@pytest.mark.parametrize("value", ["", " ", "\t\n"])
def test_an_empty_name_or_version_is_refused(option: str, value: str) -> None:
    """Review: ``name=""`` and ``version=""`` were replaced by the app's title and version without a
    word, while ``instructions=""`` sends no instructions. A server's name and version identify it
    to clients (``serverInfo``): an empty or blank one names nothing, so it is refused; None (the
    default) takes the app's."""
    options: dict[str, Any] = {option: value}
    with pytest.raises(ValueError, match=rf"^{option} must be a non-empty string") as refused:
        MCPMiddleware(build_app(), **options)
    default = "title" if option == "name" else "version"
    assert str(refused.value) == (
        f"{option} must be a non-empty string (or None for the app's {default}), got {value!r}"
    )


async def test_empty_instructions_send_none_and_a_given_name_and_version_are_served() -> None:
    """``instructions=""`` is the way to send no instructions where the app has a description."""
    app = build_app(name="things", version="2", instructions="")
    init = request(
        "initialize",
        {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )
    result = (await post(app, init)).result()
    assert result["serverInfo"] == {"name": "things", "version": "2"}
    assert "instructions" not in result


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/mcp%20x", "percent-escapes (ASGI servers pass the path decoded: write '/mcp x', not '/mcp%20x')"),
        ("/mcp%2fx", "percent-escapes (ASGI servers pass the path decoded: write '/mcp x', not '/mcp%20x')"),
        ("/100%", "percent-escapes (ASGI servers pass the path decoded: write '/mcp x', not '/mcp%20x')"),
        ("/mcp\n", "control characters"),
        ("/mcp\x00", "control characters"),
        ("/mcp\x7f", "control characters"),
        ("/mcp/../x", "'.' or '..' segments (clients resolve them before sending the request)"),
        ("/./mcp", "'.' or '..' segments (clients resolve them before sending the request)"),
        ("/mcp/..", "'.' or '..' segments (clients resolve them before sending the request)"),
    ],
)
def test_a_path_no_request_can_reach_is_refused(path: str, reason: str) -> None:
    """Review: ``path="/mcp%20x"`` was accepted and never answered (ASGI servers decode the request's
    path, so ``/mcp%20x`` arrives as ``/mcp x``); so were paths with control characters and dot
    segments, which clients escape or resolve before they send a request."""
    with pytest.raises(ValueError, match=r"^path must have no") as refused:
        MCPMiddleware(build_app(), path=path)
    assert str(refused.value) == f"path must have no {reason}, got {path!r}"


@pytest.mark.parametrize("path", ["/mcp x", "/mcp..x", "/v1.0/mcp", "/.well-known-ish/mcp"])
async def test_a_path_a_request_reaches_is_taken_and_answered(path: str) -> None:
    """What is taken stays reachable: a decoded path (a client sends ``/mcp x`` as ``/mcp%20x``,
    which arrives decoded), dots inside a segment."""
    reply = await post(build_app(path=path), request("ping"), path=path)
    assert reply.status == 200
    assert reply.json()["result"] == {}


def _no_request() -> bool:
    return True


def _two(request: Any, extra: Any) -> bool:
    return True


def _keyword_only(*, request: Any) -> bool:
    return True


def _request_only(request: Any) -> bool:
    return True


@functools.wraps(_request_only)
def _wrapper_without_arguments() -> bool:  # what is called is the wrapper, whatever it wraps
    return True


@pytest.mark.parametrize(
    "guard",
    [_no_request, _two, _keyword_only, _wrapper_without_arguments],
    ids=["no-request", "two", "keyword-only", "wrapper-without-arguments"],
)
def test_an_auth_guard_that_cannot_take_the_request_is_refused(guard: Any) -> None:
    """Review: ``auth=lambda: True`` was accepted, then every POST got 401 ``invalid_token`` (the
    call raised ``TypeError``, logged as the guard failing). A guard whose signature can be read
    must take one positional argument, the request."""
    with pytest.raises(TypeError, match=r"^auth must take one positional argument") as refused:
        MCPMiddleware(build_app(), auth=guard)
    assert str(refused.value) == (
        "auth must take one positional argument, the request (auth(request) -> bool, sync or async), "
        f"got {guard!r} with the signature {inspect.signature(guard, follow_wrapped=False)}"
    )


class _CallableGuard:
    def __call__(self, request: Any) -> bool:
        return True


async def _async_guard(request: Any, scope: str = "read") -> bool:
    return True


def _any(*args: Any, **kwargs: Any) -> bool:
    return True


@pytest.mark.parametrize("guard", [lambda request: True, _CallableGuard(), _async_guard, _any, bool, partial(_two, 1)])
def test_an_auth_guard_that_takes_the_request_or_cannot_be_read_is_taken(guard: Any) -> None:
    """A guard that takes the request (a lambda, a callable object, an async function with
    defaults after it, ``*args``, a partial leaving one argument) is taken; so is one whose
    signature cannot be read (some builtins), which is only called."""
    MCPMiddleware(build_app(), auth=guard)


KEYS = frozenset({"secret"})


def _key_in(request: Any, keys: frozenset[str]) -> bool:
    return request.headers.get("x-api-key") in keys


def _with_keys(check: Callable[[Any, frozenset[str]], Any]) -> Callable[[Any], Any]:
    """A decorator that supplies the keys itself: ``functools.wraps`` gives the guard the checker's
    ``__wrapped__`` and with it, to ``inspect.signature``, the checker's two arguments."""

    @functools.wraps(check)
    def guard(request: Any) -> Any:
        return check(request, KEYS)

    return guard


@_with_keys
def _decorated(request: Any, keys: frozenset[str]) -> bool:
    return _key_in(request, keys)


@_with_keys
async def _decorated_async(request: Any, keys: frozenset[str]) -> bool:
    return _key_in(request, keys)


class _Keys:
    def __init__(self, keys: frozenset[str]) -> None:
        self.keys = keys

    def check(self, request: Any) -> bool:
        return _key_in(request, self.keys)

    def __call__(self, request: Any) -> bool:
        return _key_in(request, self.keys)


async def _async_with_extras(request: Any, keys: frozenset[str] = KEYS, *, header: str = "x-api-key") -> bool:
    return request.headers.get(header) in keys


def _star(*args: Any, **kwargs: Any) -> bool:
    return _key_in(args[0], KEYS)


@pytest.mark.parametrize(
    "guard",
    [
        _decorated,
        _decorated_async,
        partial(lambda keys, request: _key_in(request, keys), KEYS),
        _Keys(KEYS).check,
        _Keys(KEYS),
        _async_with_extras,
        _star,
        Mock(side_effect=lambda request: _key_in(request, KEYS)),
        AsyncMock(side_effect=lambda request: _key_in(request, KEYS)),
    ],
    ids=["wraps", "wraps-async", "partial", "bound-method", "instance", "async-extras", "star", "Mock", "AsyncMock"],
)
async def test_an_auth_guard_called_with_the_request_alone_is_taken_and_guards(guard: Any) -> None:
    """Review: a guard whose decorator supplies an argument (``@with_keys async def auth(request,
    keys)``, the wrapper ``guard(request)``) was refused at start-up: the check read the signature
    ``functools.wraps`` points to, not the wrapper's, which is what is called. Each guard here is
    called as ``guard(request)``: it is taken, and lets the right key in and no other."""
    app = build_app(auth=guard)
    admitted = await post(app, request("ping"), {**BASE_HEADERS, "x-api-key": "secret"})
    refused = await post(app, request("ping"), {**BASE_HEADERS, "x-api-key": "guess"})
    assert (admitted.status, refused.status) == (200, 401)


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"resource_name": 5}, TypeError, "resource_name must be a string, got 5"),
        ({"resource": 5}, TypeError, "resource must be a string, got 5"),
        (
            {"resource_documentation": b"https://a"},
            TypeError,
            "resource_documentation must be a string, got b'https://a'",
        ),
        (
            {"authorization_servers": ["ftp://a"]},
            ValueError,
            "authorization_servers must hold absolute http(s) URLs, got 'ftp://a'",
        ),
        (
            {"authorization_servers": ["https://a#x"]},
            ValueError,
            "authorization_servers must hold URLs without a fragment, got 'https://a#x'",
        ),
        (
            {"authorization_servers": ["https://a b"]},
            ValueError,
            "authorization_servers must hold URLs without spaces, quotes or backslashes, got 'https://a b'",
        ),
        ({"resource": "/mcp"}, ValueError, "resource must be an absolute http(s) URL, got '/mcp'"),
        (
            {"resource_documentation": "https://a/#doc"},
            ValueError,
            "resource_documentation must be a URL without a fragment, got 'https://a/#doc'",
        ),
    ],
)
def test_an_oauth_resource_error_names_its_option(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    """Review: ``OAuthResource(resource_name=5)`` was accepted (and published as the number), and a
    bad URL's error said "an authorization server must be ...", naming no option."""
    given: dict[str, Any] = {"authorization_servers": ["https://auth.example.com"], **options}
    with pytest.raises(error) as refused:
        OAuthResource(**given)
    assert str(refused.value) == message


async def _status(app: Any, host: str, origin: str | None = None, method: str = "POST") -> tuple[int, str | None]:
    headers = {**BASE_HEADERS, "host": host} | ({"origin": origin} if origin else {})
    if method == "OPTIONS":
        headers |= {"access-control-request-method": "POST"}
    reply = await post(app, request("ping") if method == "POST" else b"", headers, method=method)
    return reply.status, reply.headers.get("access-control-allow-origin")


@pytest.mark.parametrize(
    ("allowed", "host", "status"),
    [
        ("api.example.com.", "api.example.com", 200),
        ("api.example.com", "api.example.com.", 200),
        ("api.example.com.", "api.example.com.:8443", 200),
        ("API.Example.COM.", "api.example.com:8000", 200),
        ("api.example.com.", "other.example.com", 403),
        ("api.example.com", "api.example.com..", 403),  # an empty label: no host of the entry's
    ],
)
async def test_a_fully_qualified_host_name_is_the_same_host(allowed: str, host: str, status: int) -> None:
    """Review: ``allowed_hosts=["api.example.com."]`` was accepted and never matched (the request's
    ``Host: api.example.com`` got 403), nor did ``Host: api.example.com.`` match the name without
    its dot. A name with its root's trailing dot is the same host (RFC 1034 §3.1): one trailing dot
    is dropped from the entries and from the request's Host alike."""
    assert (await _status(build_app(allowed_hosts=[allowed]), host))[0] == status


async def test_the_default_host_rule_takes_the_local_names_fully_qualified() -> None:
    app = build_app()
    assert (await _status(app, "localhost."))[0] == 200
    assert (await _status(app, "localhost.:8000", "http://localhost.:8000"))[0] == 200
    assert (await _status(app, "localhost.evil.example"))[0] == 403


@pytest.mark.parametrize(
    ("allowed", "origin", "status"),
    [
        ("https://app.example.com.", "https://app.example.com", 200),
        ("https://app.example.com", "https://app.example.com.", 200),
        ("https://app.example.com.:8443", "https://app.example.com:8443", 200),
        ("https://app.example.com.:443", "https://app.example.com.", 200),
        ("https://app.example.com.", "https://other.example.com", 403),
        ("https://app.example.com", "https://app.example.com..", 403),
    ],
)
async def test_a_fully_qualified_origin_is_the_same_origin_for_the_allowlists(
    allowed: str, origin: str, status: int
) -> None:
    """The same for ``allowed_origins`` (``https://a.com.`` was accepted and never matched) and
    ``cors_allow_origins``, whose preflight answers with the request's own ``Origin``, as sent."""
    explicit = build_app(allowed_hosts=["*"], allowed_origins=[allowed])
    assert (await _status(explicit, "api.example.com", origin))[0] == status
    cors = build_app(allowed_hosts=["*"], cors_allow_origins=[allowed])
    assert (await _status(cors, "api.example.com", origin))[0] == status
    preflight = await _status(cors, "api.example.com", origin, method="OPTIONS")
    assert preflight == ((204, origin) if status == 200 else (403, None)), preflight


@pytest.mark.parametrize("entry", [".", "api.example.com..", ".api.example.com", "api..example.com"])
def test_a_host_name_with_an_empty_label_is_refused(entry: str) -> None:
    """A name with an empty label (two dots, or a dot first) names no host a client sends."""
    with pytest.raises(ValueError, match=r"^allowed_hosts takes host names") as refused:
        MCPMiddleware(build_app(), allowed_hosts=[entry])
    assert str(refused.value) == f"allowed_hosts takes host names ('api.example.com') or '*', got {entry!r}"


@pytest.mark.parametrize("entry", ["https://.", "https://app..example.com", "https://app.example.com..:8443"])
@pytest.mark.parametrize("option", ["allowed_origins", "cors_allow_origins"])
def test_an_origin_whose_host_has_an_empty_label_is_refused(option: str, entry: str) -> None:
    options: dict[str, Any] = {option: [entry]}
    with pytest.raises(ValueError, match=rf"^{option} takes") as refused:
        MCPMiddleware(build_app(), **options)
    assert str(refused.value) == (
        f"{option} takes '*' or full origins like 'http://localhost:6274' (scheme, host, optional port; "
        f"no path), got {entry!r}"
    )


async def test_an_empty_cors_list_is_cors_off_while_an_empty_origin_allowlist_refuses_every_origin() -> None:
    """Review: ``cors_allow_origins=[]`` means CORS off while ``allowed_origins=[]`` refuses every
    Origin. Both say what their option decides: no origin gets CORS headers (so the CORS list makes
    no Origin allowlist, and the default rule, origins on allowed hosts, stays), and no Origin
    passes the Origin check. The README says so in both rows."""
    page = "http://localhost:8000"
    no_cors = build_app(cors_allow_origins=[])
    assert await _status(no_cors, "localhost:8000", page) == (200, None)
    assert (await _status(no_cors, "localhost:8000", "https://elsewhere.example"))[0] == 403
    assert (await _status(no_cors, "localhost:8000", page, method="OPTIONS")) == (405, None)
    no_origin = build_app(allowed_origins=[])
    assert (await _status(no_origin, "localhost:8000", page))[0] == 403
    assert (await _status(no_origin, "localhost:8000"))[0] == 200  # a request without Origin passes


def _filtered_app(**options: Any) -> FastAPI:
    app = FastAPI()

    @app.get("/items", tags=["a"])
    def list_items() -> list[int]:
        return []

    @app.delete("/items/{item_id}", tags=["b"], operation_id="delete.item")
    def delete_item(item_id: int) -> None: ...

    @app.get("/readme", openapi_extra=declare.resource("docs://readme"))
    def readme() -> str:  # declared a resource: no tool, whatever the filters
        return "read me"

    app.add_middleware(MCPMiddleware, **options)
    return app


async def _filter_warnings(caplog: pytest.LogCaptureFixture, **options: Any) -> tuple[list[str], list[str]]:
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await post(_filtered_app(**options), request("tools/list"))
    tools = [tool["name"] for tool in reply.result()["tools"]]
    return tools, [r.getMessage() for r in caplog.records if r.name.startswith("mcp_middleware")]


NONE_LEFT = "leave none of the app's 2 operations as tools, so the MCP endpoint exposes no tools"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"include_tags": ["a"], "exclude_tags": ["a"]}, "include_tags=['a'], exclude_tags=['a']"),
        (
            {"include_operations": ["list_items"], "exclude_operations": ["list_items"]},
            "include_operations=['list_items'], exclude_operations=['list_items']",
        ),
        ({"include_tags": ["a"], "include_methods": ["delete"]}, "include_tags=['a'], include_methods=['DELETE']"),
        ({"include_methods": ["GET"], "exclude_tags": ["a"]}, "exclude_tags=['a'], include_methods=['GET']"),
        (
            {"include_paths": ["/items/*"], "exclude_paths": ["/items/{item_id}"]},
            "include_paths=['/items/*'], exclude_paths=['/items/{item_id}']",
        ),
    ],
)
async def test_filters_that_together_leave_no_tools_are_warned_about(
    options: dict[str, Any], named: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Review: filters whose values each match a route but that together select nothing gave zero
    tools with no log line, while a filter value that matches no route is warned about. Building
    the tools warns once, naming the filters, when they leave none of the app's operations."""
    tools, said = await _filter_warnings(caplog, **options)
    assert tools == []
    assert said == [f"MCPMiddleware's tool filters {named} {NONE_LEFT}"]


async def test_an_include_methods_value_that_matches_no_route_is_named(caplog: pytest.LogCaptureFixture) -> None:
    """``include_methods=["POST"]`` on an app without a POST route: the value is named, as any other
    filter value that matches no route is (the README's rule), and the empty result too."""
    tools, said = await _filter_warnings(caplog, include_methods=["post", "GET", "PUT"], exclude_tags=["a"])
    assert tools == []
    assert said == [
        "MCPMiddleware filter values that match no route (paths are globs over path templates that start with "
        "'/', operations match an operation id or a tool name, methods a route's): include_methods 'POST', "
        "include_methods 'PUT'",
        f"MCPMiddleware's tool filters exclude_tags=['a'], include_methods=['GET', 'POST', 'PUT'] {NONE_LEFT}",
    ]


@pytest.mark.parametrize(
    "options",
    [{}, {"include_methods": ["GET"]}, {"exclude_tags": ["a"]}, {"include_tags": ["b"], "include_methods": ["DELETE"]}],
)
async def test_filters_that_leave_a_tool_are_not_warned_about(
    options: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    tools, said = await _filter_warnings(caplog, **options)
    assert tools
    assert said == []


async def test_an_app_without_tool_routes_is_not_warned_about_its_filters(caplog: pytest.LogCaptureFixture) -> None:
    """No tools for another reason than the filters (every route declared a resource) is no filters' doing."""
    app = FastAPI()

    @app.get("/readme", openapi_extra=declare.resource("docs://readme"))
    def readme() -> str:
        return "read me"

    app.add_middleware(MCPMiddleware, exclude_tags=["x"], include_methods=["GET"])
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        reply = await post(app, request("tools/list"))
    assert reply.result()["tools"] == []
    assert [r.getMessage() for r in caplog.records if "tool filters" in r.getMessage()] == []


async def test_an_empty_include_filter_is_warned_about_once_not_twice(caplog: pytest.LogCaptureFixture) -> None:
    tools, said = await _filter_warnings(caplog, include_tags=[])
    assert tools == []
    assert len(said) == 1
    assert said[0].startswith("MCPMiddleware include filter include_tags=[] selects nothing")
