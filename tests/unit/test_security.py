"""Hardening (auth): the optional guard, OAuth protected-resource metadata (RFC 9728), opt-in CORS."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated, Any

import anyio
import anyio.lowlevel
import pytest
from fastapi import FastAPI, Security
from fastapi.security import APIKeyHeader, APIKeyQuery
from mcp.shared.auth import ProtectedResourceMetadata
from starlette.requests import Request

from mcp_middleware import MCPMiddleware
from mcp_middleware._cors import CORS_ALLOW_HEADERS, allowed_headers
from mcp_middleware._once import Capped
from mcp_middleware.features import Features
from mcp_middleware.security import InsufficientScope, OAuthResource
from tests.apps import Gates, build_app, mcp_of
from tests.support import BASE_HEADERS, Exchange, Reply, call_modern, modern_headers, modern_request, post
from tests.support import request as rpc

pytestmark = pytest.mark.anyio

GUARD = 10  # seconds: a deadlock guard only; nothing waits on time
TOKEN = "Bearer s3cr3t-token-value"
INIT = rpc(
    "initialize",
    {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
)
INSPECTOR = "http://localhost:6274"
PRM_PATH = "/.well-known/oauth-protected-resource"
OAUTH = OAuthResource(
    authorization_servers=["https://auth.example.com"],
    scopes_supported=["items:read", "items:write"],
    resource_name="Test API",
    resource_documentation="https://docs.example.com/mcp",
)
METADATA_URL = "http://127.0.0.1:8000/.well-known/oauth-protected-resource/mcp"


def with_headers(**extra: str) -> dict[str, str]:
    return {**BASE_HEADERS, **{k.replace("_", "-"): v for k, v in extra.items()}}


def token_guard(calls: list[Request]) -> Callable[[Request], bool]:
    def guard(request: Request) -> bool:
        calls.append(request)
        return request.headers.get("authorization") == TOKEN

    return guard


def async_token_guard(calls: list[Request]) -> Callable[[Request], Any]:
    async def guard(request: Request) -> bool:
        calls.append(request)
        await anyio.lowlevel.checkpoint()
        return request.headers.get("authorization") == TOKEN

    return guard


def assert_refusal(reply: Reply, status: int) -> None:
    assert reply.status == status
    assert reply.content_type == "application/json"
    body = reply.json()
    assert body["id"] is None
    assert body["error"]["code"] == -32600
    assert b"s3cr3t" not in reply.body


# ---- the guard --------------------------------------------------------------------------------


@pytest.mark.parametrize("make_guard", [token_guard, async_token_guard], ids=["sync", "async"])
async def test_guard_allows_and_denies(make_guard: Callable[[list[Request]], Any]) -> None:
    calls: list[Request] = []
    app = build_app(auth=make_guard(calls))
    allowed = await post(app, INIT, with_headers(authorization=TOKEN))
    assert allowed.status == 200
    assert allowed.result()["protocolVersion"] == "2025-06-18"
    assert calls[0].headers["authorization"] == TOKEN
    assert calls[0].url.path == "/mcp"

    denied = await post(app, INIT, with_headers(authorization="Bearer s3cr3t-wrong"))
    assert_refusal(denied, 401)
    assert denied.headers["www-authenticate"] == 'Bearer error="invalid_token"'

    anonymous = await post(app, INIT)
    assert_refusal(anonymous, 401)
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert len(calls) == 3


async def test_guard_applies_to_every_post_in_both_eras() -> None:
    app = build_app(auth=token_guard([]))
    assert (await call_modern(app, "tools/list")).status == 401
    notification = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert (await post(app, notification)).status == 401
    headers = {**modern_headers("tools/list"), "authorization": TOKEN}
    reply = await post(app, modern_request("tools/list"), headers)
    assert reply.status == 200
    assert any(t["name"] == "get_thing" for t in reply.result()["tools"])


@pytest.mark.parametrize("verdict", [None, 1, "yes", [True], False])
async def test_only_true_allows(verdict: Any) -> None:
    app = build_app(auth=lambda request: verdict)
    assert_refusal(await post(app, INIT, with_headers(authorization=TOKEN)), 401)


async def test_insufficient_scope_is_403_with_the_scope() -> None:
    def guard(request: Request) -> bool:
        raise InsufficientScope(scope="items:write")

    reply = await post(build_app(auth=guard), INIT, with_headers(authorization=TOKEN))
    assert_refusal(reply, 403)
    assert reply.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="items:write"'


async def test_insufficient_scope_from_an_async_guard_names_the_metadata_with_oauth() -> None:
    async def guard(request: Request) -> bool:
        raise InsufficientScope(["items:read", "items:write"])

    reply = await post(build_app(auth=guard, oauth=OAUTH), INIT, with_headers(authorization=TOKEN))
    assert_refusal(reply, 403)
    assert reply.headers["www-authenticate"] == (
        f'Bearer error="insufficient_scope", scope="items:read items:write", resource_metadata="{METADATA_URL}"'
    )


@pytest.mark.parametrize("scope", ["", 'a"b', "a\\b", "caf\u00e9", []])
def test_insufficient_scope_refuses_what_cannot_go_in_a_header(scope: Any) -> None:
    with pytest.raises(ValueError, match="scope"):
        InsufficientScope(scope)


async def test_a_guard_that_raises_is_401_logged_and_leaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    def guard(request: Request) -> bool:
        raise RuntimeError(f"database down while checking {request.headers['authorization']}")

    with caplog.at_level(logging.ERROR, logger="mcp_middleware.security"):
        reply = await post(build_app(auth=guard), INIT, with_headers(authorization=TOKEN))
    assert_refusal(reply, 401)
    assert b"database" not in reply.body
    assert reply.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    [record] = [r for r in caplog.records if r.name == "mcp_middleware.security"]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


async def test_a_guard_cannot_consume_the_body(caplog: pytest.LogCaptureFixture) -> None:
    async def guard(request: Request) -> bool:
        await request.body()
        return True

    with caplog.at_level(logging.ERROR, logger="mcp_middleware.security"):
        reply = await post(build_app(auth=guard), INIT, with_headers(authorization=TOKEN))
    assert_refusal(reply, 401)
    assert caplog.records


@pytest.mark.parametrize("method", ["GET", "DELETE", "OPTIONS"])
async def test_guard_is_not_called_for_non_post(method: str) -> None:
    calls: list[Request] = []
    reply = await post(build_app(auth=token_guard(calls)), b"", method=method)
    assert reply.status == 405
    assert reply.headers["allow"] == "POST"
    assert calls == []


async def test_transport_refusals_come_before_the_guard() -> None:
    calls: list[Request] = []
    app = build_app(auth=token_guard(calls))
    reply = await post(app, INIT, with_headers(origin="http://evil.example.com"))
    assert reply.status == 403
    assert "www-authenticate" not in reply.headers
    reply = await post(app, INIT, with_headers(content_type="text/plain"))
    assert reply.status == 415
    assert calls == []


async def test_an_accept_admitting_neither_type_meets_the_guard_first() -> None:
    """It was 406 before the guard; now only a request that is no initialize is refused for its
    Accept, which takes reading the body: the guard comes first (an initialize is answered)."""
    calls: list[Request] = []
    app = build_app(auth=token_guard(calls))
    listing = rpc("tools/list")
    assert (await post(app, listing, with_headers(accept="text/html"))).status == 401
    assert (await post(app, listing, with_headers(accept="text/html", authorization=TOKEN))).status == 406
    assert (await post(app, INIT, with_headers(accept="text/html", authorization=TOKEN))).status == 200
    assert len(calls) == 3


async def test_a_route_answering_401_inside_a_tool_call_is_still_a_tool_result_without_oauth() -> None:
    headers = with_headers(authorization="Bearer wrong-for-the-route")
    call = rpc("tools/call", {"name": "secret", "arguments": {}})
    reply = await post(build_app(auth=lambda request: True), call, headers)
    assert reply.status == 200
    assert "www-authenticate" not in reply.headers
    result = reply.result()
    assert result["isError"] is True
    assert "401" in result["content"][0]["text"]


async def test_with_oauth_a_route_answering_401_is_the_endpoints_401() -> None:
    """(tests/unit/test_route_refusals.py has the rest.)"""
    headers = with_headers(authorization="Bearer s3cr3t-for-the-route")
    reply = await post(build_app(oauth=OAUTH), rpc("tools/call", {"name": "secret", "arguments": {}}), headers)
    assert_refusal(reply, 401)
    assert reply.headers["www-authenticate"] == f'Bearer error="invalid_token", resource_metadata="{METADATA_URL}"'


async def test_pass_through_routes_are_never_guarded() -> None:
    calls: list[Request] = []
    app = build_app(auth=token_guard(calls), oauth=OAUTH, cors_allow_origins=[INSPECTOR])
    reply = await post(app, b"", with_headers(origin=INSPECTOR), method="GET", path="/things/3")
    assert reply.status == 200
    assert reply.json()["name"] == "thing-3"
    assert "access-control-allow-origin" not in reply.headers
    assert calls == []


# ---- OAuth protected-resource metadata ----------------------------------------------------------


async def test_oauth_without_credentials_is_401_naming_the_metadata() -> None:
    reply = await post(build_app(oauth=OAUTH), INIT)
    assert_refusal(reply, 401)
    assert reply.headers["www-authenticate"] == (
        f'Bearer resource_metadata="{METADATA_URL}", scope="items:read items:write"'
    )


async def test_oauth_without_scopes_sends_no_scope() -> None:
    reply = await post(build_app(oauth=OAuthResource(["https://auth.example.com"])), INIT)
    assert reply.status == 401
    assert reply.headers["www-authenticate"] == f'Bearer resource_metadata="{METADATA_URL}"'


async def test_oauth_with_credentials_and_no_guard_passes() -> None:
    reply = await post(build_app(oauth=OAUTH), INIT, with_headers(authorization=TOKEN))
    assert reply.status == 200
    assert reply.result()["protocolVersion"] == "2025-06-18"


async def test_oauth_and_a_denying_guard() -> None:
    calls: list[Request] = []
    app = build_app(oauth=OAUTH, auth=token_guard(calls))
    reply = await post(app, INIT, with_headers(authorization="Bearer s3cr3t-expired"))
    assert_refusal(reply, 401)
    assert reply.headers["www-authenticate"] == (f'Bearer error="invalid_token", resource_metadata="{METADATA_URL}"')
    assert (await post(app, INIT, with_headers(authorization=TOKEN))).status == 200
    assert len(calls) == 2
    # Without credentials the guard is not even asked.
    assert (await post(app, INIT)).status == 401
    assert len(calls) == 2


async def test_oauth_401_names_the_public_host_and_scheme() -> None:
    ex = Exchange(build_app(oauth=OAUTH, allowed_hosts=["api.example.com"]), INIT)
    ex.scope["scheme"] = "https"  # what uvicorn's proxy_headers sets from X-Forwarded-Proto
    ex.scope["headers"] = [
        (k.encode(), (b"api.example.com" if k == "host" else v.encode())) for k, v in BASE_HEADERS.items()
    ]
    reply = await ex.run()
    assert reply.status == 401
    assert (
        'resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp"'
        in (reply.headers["www-authenticate"])
    )


@pytest.mark.parametrize("path", [PRM_PATH, PRM_PATH + "/mcp"])
async def test_metadata_is_served_at_both_paths(path: str) -> None:
    reply = await post(build_app(oauth=OAUTH), b"", method="GET", path=path)
    assert reply.status == 200
    assert reply.content_type == "application/json"
    assert reply.json() == {
        "resource": "http://127.0.0.1:8000/mcp",
        "authorization_servers": ["https://auth.example.com"],
        "scopes_supported": ["items:read", "items:write"],
        "bearer_methods_supported": ["header"],
        "resource_name": "Test API",
        "resource_documentation": "https://docs.example.com/mcp",
    }
    parsed = ProtectedResourceMetadata.model_validate(reply.json())  # what the SDK clients parse
    assert str(parsed.resource) == "http://127.0.0.1:8000/mcp"


async def test_the_advertised_metadata_url_is_served() -> None:
    app = build_app(oauth=OAUTH)
    challenge = (await post(app, INIT)).headers["www-authenticate"]
    url = challenge.split('resource_metadata="', 1)[1].split('"', 1)[0]
    path = url.removeprefix("http://127.0.0.1:8000")
    reply = await post(app, b"", method="GET", path=path)
    assert reply.status == 200
    assert reply.json()["resource"] == "http://127.0.0.1:8000/mcp"


async def test_metadata_follows_a_custom_path_and_root_path() -> None:
    app = build_app(oauth=OAUTH, path="/tools/mcp/")
    ex = Exchange(app, b"", method="GET", path="/api" + PRM_PATH + "/tools/mcp")
    ex.scope["root_path"] = "/api"
    reply = await ex.run()
    assert reply.json()["resource"] == "http://127.0.0.1:8000/api/tools/mcp"
    ex = Exchange(app, INIT, path="/api/tools/mcp")
    ex.scope["root_path"] = "/api"
    challenge = (await ex.run()).headers["www-authenticate"]
    assert 'resource_metadata="http://127.0.0.1:8000/api/.well-known/oauth-protected-resource/tools/mcp"' in (challenge)


async def test_explicit_resource_is_used_verbatim() -> None:
    oauth = OAuthResource(["https://auth.example.com"], resource="https://api.example.com/v1/mcp")
    app = build_app(oauth=oauth)
    reply = await post(app, INIT)
    assert reply.headers["www-authenticate"] == (
        'Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/v1/mcp"'
    )
    for path in (PRM_PATH, PRM_PATH + "/mcp", PRM_PATH + "/v1/mcp"):
        reply = await post(app, b"", method="GET", path=path)
        assert reply.json()["resource"] == "https://api.example.com/v1/mcp", path


async def test_an_endpoint_at_the_root_has_its_metadata_at_the_well_known_path_alone() -> None:
    """RFC 9728 §3.1: the resource's path is appended to the well-known path; for ``/`` there is
    nothing to append (a trailing slash would be another path)."""
    assert mcp_of(built(oauth=OAUTH, path="/"))._paths == {"/", PRM_PATH}
    app = build_app(oauth=OAUTH, path="/")
    challenge = (await post(app, INIT, path="/")).headers["www-authenticate"]
    assert challenge.startswith(f'Bearer resource_metadata="http://127.0.0.1:8000{PRM_PATH}",')
    reply = await post(app, b"", method="GET", path=PRM_PATH)
    assert reply.json()["resource"] == "http://127.0.0.1:8000/"
    assert (await post(app, b"", method="GET", path=PRM_PATH + "/")).status == 404  # the app's


async def test_without_a_host_header_or_a_server_address_the_resource_is_localhost() -> None:
    """HTTP/1.0 clients may send no Host, and ASGI servers may give no ``server`` (a Unix socket):
    the resource URL still has a host, the one such a server can only be reached as."""
    ex = Exchange(build_app(oauth=OAUTH), b"", {"accept": "application/json"}, method="GET", path=PRM_PATH)
    ex.scope["server"] = None
    reply = await ex.run()
    assert reply.status == 200
    assert reply.json()["resource"] == "http://localhost/mcp"


async def test_metadata_head_and_wrong_method() -> None:
    app = build_app(oauth=OAUTH)
    head = await post(app, b"", method="HEAD", path=PRM_PATH)
    assert head.status == 200
    assert head.body == b""
    assert int(head.headers["content-length"]) > 0
    reply = await post(app, b"", method="POST", path=PRM_PATH)
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"


async def test_a_hostile_host_header_never_reaches_the_metadata() -> None:
    app = build_app(oauth=OAUTH, allowed_hosts=["*"])  # the Host rule lets it through: not the document
    reply = await post(app, b"", with_headers(host='evil"\\x'), method="GET", path=PRM_PATH)
    assert reply.json()["resource"] == "http://127.0.0.1:8000/mcp"


@pytest.mark.parametrize("path", [PRM_PATH, PRM_PATH + "/mcp"])
@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
async def test_the_metadata_is_refused_for_a_host_the_endpoint_refuses(path: str, method: str) -> None:
    """Regression: the metadata was served for any Host, and reflected it in ``resource`` (a DNS
    rebinding page, or a poisoned cache, could get a document naming its own host). It has the
    endpoint's Host rule now: the same 403, before anything else."""
    app = build_app(oauth=OAUTH, allowed_hosts=["api.example.com"])
    refused = await post(app, b"", with_headers(host="attacker.example"), method=method, path=path)
    assert refused.status == 403
    assert refused.json()["error"]["message"] == "Forbidden: Host not allowed (see the server's allowed_hosts option)"
    assert b"attacker" not in refused.body
    endpoint = await post(app, INIT, with_headers(host="attacker.example"))
    assert (endpoint.status, endpoint.body) == (refused.status, refused.body)
    served = await post(app, b"", with_headers(host="API.example.com:443"), method="GET", path=path)
    assert served.json()["resource"] == "http://api.example.com:443/mcp"


async def test_the_metadata_and_the_endpoint_check_the_host_before_the_method() -> None:
    """Review: the metadata refused a Host before its method check, the endpoint after it (a GET
    to /mcp was 405 for any Host). Both refuse the Host first now, with the same 403; each answers
    its own 405 to a Host it accepts."""
    app = build_app(oauth=OAUTH, cors_allow_origins=["*"], allowed_hosts=["api.example.com"])
    refused = [
        await post(app, b"", with_headers(host="attacker.example"), method=method, path=path)
        for method, path in (("POST", PRM_PATH + "/mcp"), ("PUT", PRM_PATH), ("GET", "/mcp"), ("DELETE", "/mcp/"))
    ]
    assert {(reply.status, reply.body) for reply in refused} == {(403, refused[0].body)}
    assert (
        refused[0].json()["error"]["message"] == "Forbidden: Host not allowed (see the server's allowed_hosts option)"
    )
    good = with_headers(host="api.example.com")
    metadata = await post(app, b"", good, method="POST", path=PRM_PATH + "/mcp")
    endpoint = await post(app, b"", good, method="GET", path="/mcp")
    assert (metadata.status, metadata.headers["allow"]) == (405, "GET, HEAD")
    assert (endpoint.status, endpoint.headers["allow"]) == (405, "POST")


def security_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    records = caplog.records
    return [r.getMessage() for r in records if r.name == "mcp_middleware.security" and r.levelno == logging.WARNING]


async def test_an_http_resource_for_a_public_host_is_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    """Review: behind a TLS-terminating proxy that sends no X-Forwarded-Proto the scheme stays
    ``http``, the advertised resource says ``http://`` and the SDK client refuses it (RFC 9728
    §3.3: it must be the URL the client used). OAuth 2.1 wants https for any host but a loopback
    one, so such metadata is logged, once per host, with the fix."""
    app = build_app(oauth=OAUTH, allowed_hosts=["plain-http.example"])
    public = with_headers(host="plain-http.example:443")
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.security"):
        assert (await post(app, INIT, public)).status == 401
        assert (await post(app, INIT, public)).status == 401
        document = await post(app, b"", public, method="GET", path=PRM_PATH + "/mcp")
    assert document.json()["resource"] == "http://plain-http.example:443/mcp"  # still served as reached
    [warning] = security_warnings(caplog)
    assert "'http://plain-http.example:443'" in warning
    assert "X-Forwarded-Proto" in warning
    assert "--proxy-headers" in warning
    assert "OAuthResource(resource=" in warning


@pytest.mark.parametrize(
    ("scheme", "host", "origin"),
    [
        ("https", "tls.example:443", "https://tls.example"),  # nginx's `Host $host:$server_port` on 443
        ("https", "TLS.example:8443", "https://tls.example:8443"),
        ("http", "localhost:80", "http://localhost"),
        ("http", "localhost:443", "http://localhost:443"),
        ("https", "[::1]:443", "https://[::1]"),
        ("https", "[::443]", "https://[::443]"),
    ],
)
async def test_the_resource_is_the_url_the_client_used_without_its_scheme_s_default_port(
    scheme: str, host: str, origin: str
) -> None:
    """Ops review: behind the README's nginx block (``Host $host:$server_port``) on port 443 the
    resource read ``https://host:443/mcp``, not the URL the client used (RFC 9728 §3.3); a client
    comparing the two as text refuses it. The scheme's default port is left out, as a URL writes it."""
    app = build_app(oauth=OAUTH, allowed_hosts=["tls.example", "localhost", "[::1]", "[::443]"])
    initialize = Exchange(app, INIT, with_headers(host=host))
    initialize.scope["scheme"] = scheme
    challenge = (await initialize.run()).headers["www-authenticate"]
    assert f'resource_metadata="{origin}{PRM_PATH}/mcp"' in challenge
    metadata = Exchange(app, b"", with_headers(host=host), method="GET", path=PRM_PATH + "/mcp")
    metadata.scope["scheme"] = scheme
    assert (await metadata.run()).json()["resource"] == f"{origin}/mcp"


@pytest.mark.parametrize(
    ("scheme", "host", "oauth"),
    [
        ("https", "tls.example", OAUTH),
        ("http", "localhost:8000", OAUTH),
        ("http", "LocalHost", OAUTH),
        ("http", "127.0.0.1", OAUTH),
        ("http", "[::1]:8000", OAUTH),
        ("http", "explicit.example", OAuthResource(["https://auth.example.com"], resource="https://a.example/mcp")),
    ],
)
async def test_https_loopback_hosts_and_a_given_resource_are_not_warned(
    caplog: pytest.LogCaptureFixture, scheme: str, host: str, oauth: OAuthResource
) -> None:
    app = build_app(oauth=oauth, allowed_hosts=["tls.example", "explicit.example", "localhost", "127.0.0.1", "[::1]"])
    with caplog.at_level(logging.WARNING, logger="mcp_middleware.security"):
        for body, method, path in ((INIT, "POST", "/mcp"), (b"", "GET", PRM_PATH + "/mcp")):
            ex = Exchange(app, body, with_headers(host=host), method=method, path=path)
            ex.scope["scheme"] = scheme
            assert (await ex.run()).status in (200, 401)
    assert security_warnings(caplog) == []


@pytest.mark.parametrize("path", [PRM_PATH, PRM_PATH + "/mcp"])
async def test_without_oauth_the_metadata_paths_are_the_apps(path: str) -> None:
    reply = await post(build_app(auth=lambda request: True, cors_allow_origins=["*"]), b"", method="GET", path=path)
    assert reply.status == 404
    assert reply.json() == {"detail": "Not Found"}  # FastAPI's own 404
    assert mcp_of(built(auth=lambda request: True, cors_allow_origins=["*"]))._paths == {"/mcp", "/mcp/"}


def built(**options: Any) -> Any:
    app = build_app(**options)
    app.middleware_stack = app.build_middleware_stack()
    return app


def test_metadata_paths_are_precomputed_into_the_pass_through_set() -> None:
    paths = mcp_of(built(oauth=OAUTH))._paths
    assert paths == {"/mcp", "/mcp/", PRM_PATH, PRM_PATH + "/mcp", PRM_PATH + "/mcp/"}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"authorization_servers": []}, ValueError),
        ({"authorization_servers": "https://auth.example.com"}, TypeError),
        ({"authorization_servers": ["auth.example.com"]}, ValueError),
        ({"authorization_servers": ["https://a"], "resource": "https://a/mcp#frag"}, ValueError),
        ({"authorization_servers": ["https://a"], "scopes_supported": ["a b"]}, ValueError),
        ({"authorization_servers": ["https://a"], "scopes_supported": "items:read"}, TypeError),
        ({"authorization_servers": ["https://a"], "bearer_methods_supported": ["cookie"]}, ValueError),
        ({"authorization_servers": ["https://auth.example.com/a b"]}, ValueError),
        ({"authorization_servers": ["https://a", 7]}, TypeError),
    ],
)
def test_oauth_resource_validation(kwargs: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        OAuthResource(**kwargs)


# ---- CORS -----------------------------------------------------------------------------------------


def preflight_headers(origin: str, requested: str = "content-type, authorization") -> dict[str, str]:
    return {
        "host": "127.0.0.1:8000",
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": requested,
    }


def assert_cors(reply: Reply, origin: str = INSPECTOR) -> None:
    assert reply.headers["access-control-allow-origin"] == origin
    assert reply.headers["access-control-expose-headers"] == "WWW-Authenticate, Mcp-Session-Id"
    assert reply.headers["vary"] == "Origin"


async def test_preflight_for_an_allowed_origin() -> None:
    calls: list[Request] = []
    app = build_app(cors_allow_origins=[INSPECTOR], auth=token_guard(calls))
    requested = "content-type, authorization, mcp-protocol-version, Mcp-Param-Region, x-unlisted"
    reply = await post(app, b"", preflight_headers(INSPECTOR, requested), method="OPTIONS")
    assert reply.status == 204
    assert reply.body == b""
    assert "content-length" not in reply.headers
    assert reply.headers["access-control-allow-origin"] == INSPECTOR
    assert reply.headers["access-control-allow-methods"] == "POST, GET, DELETE, OPTIONS"
    allowed = {h.strip() for h in reply.headers["access-control-allow-headers"].split(",")}
    assert {
        "content-type",
        "accept",
        "authorization",
        "mcp-protocol-version",
        "mcp-method",
        "mcp-name",
        "mcp-session-id",
        "last-event-id",
        "mcp-param-region",
    } <= allowed
    assert "x-unlisted" not in allowed
    assert int(reply.headers["access-control-max-age"]) > 0
    assert "Origin" in reply.headers["vary"]
    assert calls == []  # a preflight is never guarded


async def test_a_header_the_preflight_asks_for_twice_is_allowed_once() -> None:
    app = build_app(cors_allow_origins=[INSPECTOR])
    requested = "Mcp-Param-Region, mcp-param-region, content-type"
    reply = await post(app, b"", preflight_headers(INSPECTOR, requested), method="OPTIONS")
    allowed = [h.strip() for h in reply.headers["access-control-allow-headers"].split(",")]
    assert allowed.count("mcp-param-region") == 1
    assert allowed.count("content-type") == 1


class _CountedText(str):
    """A header name that counts the comparisons made with it (equal names are distinct objects)."""

    __slots__ = ()
    compared = 0

    def __eq__(self, other: object) -> bool:
        _CountedText.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_a_preflights_headers_are_merged_in_linear_work() -> None:
    """Review: each requested ``mcp-param-*`` name was looked for in the growing list, so a
    preflight asking for 40,000 of them took 11 s. The work is now a few comparisons a name, and
    the order is kept (the MCP headers, the API keys, the parameters, each once)."""
    params = [_CountedText(f"mcp-param-p{n}") for n in range(400)] * 2 + [_CountedText("mcp-name")]
    keys = [_CountedText("x-api-key"), _CountedText("authorization")]
    _CountedText.compared = 0
    allow = allowed_headers(keys, params)
    assert _CountedText.compared <= 4 * len(params)  # it was ~400 x 800 (each name against the list)
    assert allow == [*CORS_ALLOW_HEADERS, "x-api-key", *(f"mcp-param-p{n}" for n in range(400))]


async def test_preflight_allows_the_apps_api_key_headers() -> None:
    """Regression: a browser client (the Inspector in direct mode) could not send the app's
    ``APIKeyHeader``: its preflight never allowed the header. The app's API-key headers are allowed
    now, known from the first preflight on (before any POST built the catalog); an API key in the
    query is no header, and a cookie cannot be sent cross-origin, so neither is listed."""
    app = FastAPI()

    @app.get("/items", operation_id="list_items")
    def list_items(key: Annotated[str, Security(APIKeyHeader(name="X-API-Key"))]) -> list[str]:
        return []

    @app.get("/other", operation_id="other")
    def other(key: Annotated[str, Security(APIKeyQuery(name="api_key"))]) -> list[str]:
        return []

    @app.get("/odd", operation_id="odd")  # no header can have this name: never put in the list
    def odd(key: Annotated[str, Security(APIKeyHeader(name="X Key", scheme_name="odd"))]) -> list[str]:
        return []

    app.add_middleware(MCPMiddleware, cors_allow_origins=[INSPECTOR])
    for _ in range(2):
        allowed = await _preflight_allows(app)
        assert "x-api-key" in allowed
        assert not {"cookie", "?api_key", "api_key", "x key"} & set(allowed)


async def _preflight_allows(app: FastAPI) -> list[str]:
    """The headers a preflight asking for an API-key header is allowed (it must be answered 204,
    with its origin allowed)."""
    requested = "content-type, mcp-protocol-version, x-api-key"
    reply = await post(app, b"", preflight_headers(INSPECTOR, requested), method="OPTIONS")
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == INSPECTOR
    return [h.strip() for h in reply.headers["access-control-allow-headers"].split(",")]


async def test_a_preflight_is_answered_when_the_catalog_cannot_be_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: a preflight builds the catalog (for the API-key headers), so when building it
    raised (as a max_tool_name_length of 40.0 made it), every preflight was a 500 without
    Access-Control-Allow-Origin: a browser client saw a CORS failure instead of the error. The
    preflight now allows the MCP headers only, and the POST that follows reports the real error;
    once the catalog builds, the API-key headers are allowed again."""
    built = Features.from_catalog
    broken = [True]

    def flaky(catalog: Any) -> Features:
        if broken[0]:
            raise RuntimeError("the catalog cannot be built")
        return built(catalog)

    monkeypatch.setattr(Features, "from_catalog", flaky)
    app = FastAPI()

    @app.get("/items", operation_id="list_items")
    def list_items(key: Annotated[str, Security(APIKeyHeader(name="X-API-Key"))]) -> list[str]:
        return []

    app.add_middleware(MCPMiddleware, cors_allow_origins=[INSPECTOR])
    for _ in range(2):
        allowed = await _preflight_allows(app)
        assert "mcp-protocol-version" in allowed
        assert "x-api-key" not in allowed
    with pytest.raises(RuntimeError, match="the catalog cannot be built"):
        await post(app, INIT, with_headers(origin=INSPECTOR))
    broken[0] = False
    assert "x-api-key" in await _preflight_allows(app)
    assert (await post(app, INIT, with_headers(origin=INSPECTOR))).status == 200


async def test_preflight_allows_the_forward_headers() -> None:
    """Review: the ``forward_headers`` name headers the client must send (FastAPI's global
    ``verify_token`` reading ``X-Token``), yet a preflight allowed only the app's API-key headers:
    a browser client (the Inspector on another origin) could never send X-Token. They are allowed
    to the endpoint now, also while the catalog cannot be built (they come from the options)."""
    app = FastAPI()

    @app.get("/items", operation_id="list_items")
    def list_items(key: Annotated[str, Security(APIKeyHeader(name="X-API-Key"))]) -> list[str]:
        return []

    app.add_middleware(MCPMiddleware, forward_headers=["X-Token"], cors_allow_origins=[INSPECTOR])
    allowed = await _preflight_allows(app)
    assert {"x-api-key", "x-token"} <= set(allowed)
    assert allowed.count("x-token") == 1


async def test_a_preflight_allows_the_forward_headers_when_the_catalog_cannot_be_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(catalog: Any) -> Features:
        raise RuntimeError("the catalog cannot be built")

    monkeypatch.setattr(Features, "from_catalog", broken)
    app = FastAPI()

    @app.get("/items", operation_id="list_items")
    def list_items() -> list[str]:
        return []

    app.add_middleware(MCPMiddleware, forward_headers=["X-Token"], cors_allow_origins=[INSPECTOR])
    assert "x-token" in await _preflight_allows(app)


async def test_preflight_for_a_refused_origin() -> None:
    app = build_app(cors_allow_origins=[INSPECTOR])
    reply = await post(app, b"", preflight_headers("http://evil.example.com"), method="OPTIONS")
    assert reply.status == 403
    assert not any(k.startswith("access-control-") for k in reply.headers)


async def test_star_echoes_the_origin_never_star() -> None:
    app = build_app(cors_allow_origins=["*"])
    origin = "https://inspector.example.com"
    reply = await post(app, b"", preflight_headers(origin), method="OPTIONS")
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == origin
    assert "access-control-allow-credentials" not in reply.headers
    actual = await post(app, INIT, with_headers(origin=origin))
    assert actual.status == 200
    assert_cors(actual, origin)


async def test_star_with_an_explicit_allowlist_only_serves_the_allowlist() -> None:
    app = build_app(cors_allow_origins=["*"], allowed_origins=["https://good.example.com"])
    good = await post(app, b"", preflight_headers("https://good.example.com"), method="OPTIONS")
    assert good.status == 204
    bad = await post(app, b"", preflight_headers("https://other.example.com"), method="OPTIONS")
    assert bad.status == 403


async def test_cors_headers_on_normal_and_error_replies() -> None:
    app = build_app(cors_allow_origins=[INSPECTOR], auth=token_guard([]))
    ok = await post(app, INIT, with_headers(origin=INSPECTOR, authorization=TOKEN))
    assert ok.status == 200
    assert_cors(ok)
    unauthorized = await post(app, INIT, with_headers(origin=INSPECTOR))
    assert unauthorized.status == 401
    assert_cors(unauthorized)
    not_allowed = await post(app, b"", with_headers(origin=INSPECTOR), method="GET")
    assert not_allowed.status == 405
    assert_cors(not_allowed)
    headers = with_headers(origin=INSPECTOR, accept="text/html", authorization=TOKEN)
    bad_accept = await post(app, rpc("tools/list"), headers)
    assert bad_accept.status == 406
    assert_cors(bad_accept)


async def test_cors_headers_on_403_insufficient_scope_and_on_metadata() -> None:
    def guard(request: Request) -> bool:
        raise InsufficientScope("items:write")

    app = build_app(cors_allow_origins=[INSPECTOR], auth=guard, oauth=OAUTH)
    forbidden = await post(app, INIT, with_headers(origin=INSPECTOR, authorization=TOKEN))
    assert forbidden.status == 403
    assert_cors(forbidden)
    metadata = await post(app, b"", with_headers(origin=INSPECTOR), method="GET", path=PRM_PATH + "/mcp")
    assert metadata.status == 200
    assert_cors(metadata)
    pre = await post(app, b"", preflight_headers(INSPECTOR, "mcp-protocol-version"), method="OPTIONS", path=PRM_PATH)
    assert pre.status == 204
    assert pre.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"


async def test_a_refused_origin_gets_no_cors_headers() -> None:
    app = build_app(cors_allow_origins=[INSPECTOR])
    reply = await post(app, INIT, with_headers(origin="http://evil.example.com"))
    assert reply.status == 403
    assert "access-control-allow-origin" not in reply.headers
    assert reply.headers["vary"] == "Origin"


async def test_requests_without_origin_get_no_cors_headers() -> None:
    reply = await post(build_app(cors_allow_origins=[INSPECTOR]), INIT)
    assert reply.status == 200
    assert not any(k.startswith("access-control-") for k in reply.headers)


async def test_cors_reaches_a_streaming_reply() -> None:
    gates = Gates()
    app = build_app(gates, cors_allow_origins=[INSPECTOR])
    body = rpc("tools/call", {"name": "stream_plain", "arguments": {}, "_meta": {"progressToken": "p"}})
    ex = Exchange(app, body, with_headers(origin=INSPECTOR))
    with anyio.fail_after(GUARD):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ex.run)
            await gates.produced[0].wait()
            while not any(b"t0" in c for c in ex.reply.chunks):
                await ex.chunk_seen.wait()
            assert ex.reply.content_type == "text/event-stream"
            assert_cors(ex.reply)
            for gate in gates.release:
                gate.set()
    assert ex.reply.events()[-1]["result"]["content"][0]["text"] == "t0 t1 t2 "


async def test_cors_origins_feed_the_origin_allowlist() -> None:
    origin = "https://inspector.example.com"
    assert (await post(build_app(), INIT, with_headers(origin=origin))).status == 403
    app = build_app(cors_allow_origins=[origin + "/"])
    assert (await post(app, INIT, with_headers(origin=origin))).status == 200
    # The CORS list replaces the default host-based rule for Origin (documented).
    assert (await post(app, INIT, with_headers(origin="http://localhost:8000"))).status == 403


async def test_origins_compare_without_case() -> None:
    """Scheme and host are case-insensitive: an allowlist written "http://Localhost:6274" must not
    pass the CORS preflight and then refuse the POST with 403."""
    app = build_app(allowed_origins=["http://Localhost:6274/"], cors_allow_origins=[INSPECTOR])
    assert (await post(app, b"", preflight_headers(INSPECTOR), method="OPTIONS")).status == 204
    assert (await post(app, INIT, with_headers(origin=INSPECTOR))).status == 200
    assert (await post(app, INIT, with_headers(origin="HTTP://LOCALHOST:6274"))).status == 200
    assert (await post(app, INIT, with_headers(origin="http://localhost:6275"))).status == 403
    plain = build_app(allowed_origins=["https://App.Example.com"])
    assert (await post(plain, INIT, with_headers(origin="https://app.example.com"))).status == 200


async def test_an_empty_origin_allowlist_refuses_every_origin() -> None:
    """Review: allowed_origins=[] fell back to the default rule (origins on allowed hosts), which
    lets in what the empty list means to keep out: browsers. Requests without Origin still pass."""
    app = build_app(allowed_origins=[])
    assert (await post(app, INIT, with_headers(origin="http://localhost:8000"))).status == 403
    assert (await post(app, INIT)).status == 200
    with pytest.raises(ValueError, match="cors_allow_origins lists"):
        MCPMiddleware(FastAPI(), allowed_origins=[], cors_allow_origins=[INSPECTOR])


@pytest.mark.parametrize("origin", ["HTTP://LocalHost:6274", "http://localhost:6274/", " http://localhost:6274 "])
async def test_the_cors_headers_and_the_origin_check_read_an_origin_alike(origin: str) -> None:
    """Review: the Origin check and the CORS headers normalised an origin each their own way (the
    CORS side did not strip spaces), so a request could pass the check and get no
    Access-Control-Allow-Origin. One helper (_host_options.normal_origin) reads it for both."""
    app = build_app(cors_allow_origins=[INSPECTOR])
    reply = await post(app, INIT, with_headers(origin=origin))
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == origin
    preflight = await post(app, b"", preflight_headers(origin), method="OPTIONS")
    assert preflight.status == 204


@pytest.mark.parametrize(
    ("listed", "sent"),
    [
        ("https://a.example", "https://a.example:443"),
        ("http://a.example:80", "http://a.example"),
        ("wss://a.example", "wss://a.example:443"),
    ],
)
async def test_an_origin_s_default_port_is_read_alike_in_the_option_and_the_request(listed: str, sent: str) -> None:
    """One table of default ports (``_host_options.DEFAULT_PORTS``) for the allowlist and the
    request's Origin: before, the option left out ws's and wss's default port and the request's
    Origin kept it, so ``wss://a.example:443`` listed never matched itself sent."""
    app = build_app(allowed_origins=[listed], allowed_hosts=["*"])
    assert (await post(app, INIT, with_headers(origin=sent))).status == 200
    assert (await post(app, INIT, with_headers(origin=listed))).status == 200


@pytest.mark.parametrize("options", [{}, {"cors_allow_origins": []}])
async def test_options_without_cors_is_still_405(options: dict[str, Any]) -> None:
    app = build_app(**options)
    reply = await post(app, b"", preflight_headers(INSPECTOR), method="OPTIONS")
    assert reply.status == 405
    assert not any(k.startswith("access-control-") for k in reply.headers)
    # ... and the default Origin rule still lets a same-host page in.
    assert (await post(app, INIT, with_headers(origin="http://localhost:8000"))).status == 200


async def test_options_that_is_not_a_preflight_is_405_with_cors_headers() -> None:
    reply = await post(build_app(cors_allow_origins=[INSPECTOR]), b"", with_headers(origin=INSPECTOR), method="OPTIONS")
    assert reply.status == 405
    assert_cors(reply)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"cors_allow_origins": ["localhost:6274"]},
        {"cors_allow_origins": "http://localhost:6274"},
        {"cors_allow_origins": [INSPECTOR], "allowed_origins": ["https://other.example.com"]},
        {"auth": "not callable"},
        {"oauth": {"authorization_servers": ["https://a"]}},
        {"oauth": OAuthResource(authorization_servers=["https://a"]), "path": "/.well-known/oauth-protected-resource"},
    ],
)
def test_option_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises((ValueError, TypeError)):
        built(**kwargs)


# -- a refused Host or Origin is logged, once per value -----------------------------------------------
REFUSED_LOGGER = "mcp_middleware.transport._checks"


class _Clock:
    """A monotonic clock a test moves on itself (no sleeps)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def refusals_told(monkeypatch: pytest.MonkeyPatch) -> Capped:
    """The refused values warned about so far, empty for the test, on a clock of its own."""
    from mcp_middleware.transport import _checks

    told = Capped(_checks._TOLD_MAX, _checks._TOLD_EVERY, _Clock())
    monkeypatch.setattr(_checks, "_TOLD", told)
    return told


def refusal_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == REFUSED_LOGGER and r.levelno == logging.WARNING]


@pytest.mark.usefixtures("refusals_told")
@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_a_refused_host_is_warned_about_once_naming_the_option(
    method: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Review (new user): a refused Host (behind nginx, a k8s service name) was a 403 with nothing
    logged, the commonest first-deployment failure. The first refusal of each value is a WARNING
    naming it and ``allowed_hosts``; the client's error says which option, in the JSON-RPC form."""
    app = build_app(allowed_hosts=["api.example.com"])
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        replies = [
            await post(app, INIT if method == "POST" else b"", with_headers(host=host), method=method)
            for host in ("my-svc.default.svc:8000", "my-svc.default.svc:8000", "other.internal")
        ]
    assert {reply.status for reply in replies} == {403}
    message = replies[0].json()["error"]["message"]
    assert message == "Forbidden: Host not allowed (see the server's allowed_hosts option)"
    warned = refusal_warnings(caplog)
    assert len(warned) == 2
    assert "'my-svc.default.svc:8000'" in warned[0]
    assert "allowed_hosts" in warned[0]
    assert "'other.internal'" in warned[1]


@pytest.mark.usefixtures("refusals_told")
async def test_a_refused_origin_is_warned_about_once_naming_the_option(caplog: pytest.LogCaptureFixture) -> None:
    app = build_app(allowed_hosts=["api.example.com"])
    headers = with_headers(host="api.example.com", origin="https://app.example.com")
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        replies = [await post(app, INIT, headers), await post(app, b"", headers, method="GET")]
    assert {reply.status for reply in replies} == {403}
    message = replies[0].json()["error"]["message"]
    assert message == "Forbidden: Origin not allowed (see the server's allowed_origins option)"
    warned = refusal_warnings(caplog)
    assert len(warned) == 1
    assert "'https://app.example.com'" in warned[0]
    assert "allowed_origins" in warned[0]


@pytest.mark.usefixtures("refusals_told")
async def test_the_metadata_warns_about_a_refused_host_too(caplog: pytest.LogCaptureFixture) -> None:
    app = build_app(oauth=OAUTH, allowed_hosts=["api.example.com"])
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        refused = await post(app, b"", with_headers(host="attacker.example"), method="GET", path=PRM_PATH)
    assert refused.status == 403
    warned = refusal_warnings(caplog)
    assert len(warned) == 1
    assert "'attacker.example'" in warned[0]


@pytest.mark.usefixtures("refusals_told")
async def test_a_refused_value_is_logged_escaped(caplog: pytest.LogCaptureFixture) -> None:
    """The value is the client's: a line break or a terminal escape in it is written escaped."""
    app = build_app(allowed_hosts=["api.example.com"])
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        await post(app, INIT, with_headers(host="evil\n\x1b[31m.example"))
    (warned,) = refusal_warnings(caplog)
    assert "\n" not in warned
    assert "\x1b" not in warned
    assert "evil\\n\\x1b[31m.example" in warned


async def test_the_refused_values_warned_about_are_bounded(
    refusals_told: Capped, caplog: pytest.LogCaptureFixture
) -> None:
    """Review r_sec D3: at 64 values the memory started again, so a scanner sending a new Host each
    time got a WARNING on every request (p15: 1,016 lines for 1,000 refused hosts). Now each of the
    first ``_TOLD_MAX`` values is told once, and past them one new value at most once an hour (the
    text says so): a flood stays bounded, and a value refused after the flood's hour (the
    operator's real host name) is still told."""
    from mcp_middleware.transport import _checks

    clock = refusals_told.clock
    assert isinstance(clock, _Clock)
    app = build_app(allowed_hosts=["api.example.com"])
    with caplog.at_level(logging.WARNING, logger="mcp_middleware"):
        for number in range(_checks._TOLD_MAX + 500):
            assert (await post(app, b"", with_headers(host=f"h{number}.example"), method="GET")).status == 403
        warned = refusal_warnings(caplog)
        assert len(warned) == _checks._TOLD_MAX + 1, len(warned)
        assert len(refusals_told) == _checks._TOLD_MAX
        assert "(logged once per value, for the first 64 values)" in warned[0]
        assert "'h64.example'" in warned[-1]
        assert "64 refused values were logged already: further new ones are logged at most once an hour" in warned[-1]
        caplog.clear()
        await post(app, b"", with_headers(host="h3.example"), method="GET")  # told already
        clock.now += _checks._TOLD_EVERY - 1
        await post(app, b"", with_headers(host="mcp.internal.svc:8000"), method="GET")  # within the hour
        assert refusal_warnings(caplog) == []
        clock.now += 1
        await post(app, b"", with_headers(host="mcp.internal.svc:8000"), method="GET")
        await post(build_app(), b"", with_headers(host="other-app.example"), method="GET")  # the same hour
    warned = refusal_warnings(caplog)
    assert len(warned) == 1, warned
    assert "'mcp.internal.svc:8000'" in warned[0]


@pytest.mark.usefixtures("refusals_told")
async def test_an_allowed_host_and_origin_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    app = build_app(allowed_hosts=["api.example.com"])
    headers = with_headers(host="api.example.com", origin="https://api.example.com")
    with caplog.at_level(logging.DEBUG, logger="mcp_middleware.transport"):
        assert (await post(app, INIT, headers)).status == 200
        assert (await post(app, b"", headers, method="GET")).status == 405
    assert not [r for r in caplog.records if r.name == REFUSED_LOGGER]
