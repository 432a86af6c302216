"""The "Response headers:" block of a tool's result, bounded and without credentials, in both eras.

Bounded: every tool declares ``_meta["anthropic/maxResultSizeChars"]`` as ``max_result_chars``
plus 1,000 characters of room for what follows a text cut at the limit (the cut note, a Location,
the headers block); the block fits what is left of it (at most 800 characters, a value cut past 500
with a marker, after the last whole item of a list that fits: a Link's first link whole, the
headers that do not fit said to be left out), so all of a result's text never
exceeds the declared size: a body at or past the limit with a long ``Link``, hundreds of ``X-*``
headers, one huge header, a streamed body, a 201's Location, an error, a small limit. A HEAD's
result, which lists the headers itself, keeps within the declared size too.

Without credentials: like ``Set-Cookie``, a header the app issues or echoes a credential in is
left out: one named as one of the app's credential headers (an ``APIKeyHeader``'s, a
``forward_headers`` one), or whose name has a part that says so (``token``, ``key``, ``secret``,
``password``, ``auth``, ``session``, ``csrf``, ``signature``, ``credential``, ...)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Depends, FastAPI, HTTPException, Response, Security
from fastapi.responses import PlainTextResponse, StreamingResponse
from fastapi.security import APIKeyHeader

from mcp_middleware import MCPMiddleware, _response_headers
from mcp_middleware._result_shapes import bounded
from mcp_middleware.results import HeadResponseCollector, ResponseCollector
from tests.support import BASE_HEADERS, MODERN, modern_headers, modern_request, post, request

pytestmark = pytest.mark.anyio

ERAS = ["2025-11-25", MODERN]
KEY = "anthropic/maxResultSizeChars"
CURSOR = "Q" * 240  # an opaque pagination cursor
LINK = ", ".join(f'<https://api.example.com/v1/orders?per_page=100&cursor={CURSOR}>; rel="{rel}"' for rel in "abcd")


def make_app(**options: Any) -> FastAPI:
    app = FastAPI()
    service_key = APIKeyHeader(name="X-Tenant", auto_error=False)  # a credential header of a name that says nothing

    @app.get("/page", response_class=PlainTextResponse)
    def page(size: int) -> PlainTextResponse:
        return PlainTextResponse("o" * size, headers={"link": LINK, "x-total-count": "48213"})

    @app.get("/debug", response_class=PlainTextResponse)
    def debug(size: int, count: int, length: int) -> PlainTextResponse:
        headers = {f"x-debug-{i}": "d" * length for i in range(count)}
        return PlainTextResponse("o" * size, headers=headers)

    @app.get("/streamed")
    def streamed(size: int) -> StreamingResponse:
        async def pieces() -> Any:
            for _ in range(4):
                yield "s" * (size // 4)

        return StreamingResponse(pieces(), media_type="text/plain", headers={"link": LINK, "x-big": "b" * 5000})

    @app.post("/things", response_class=PlainTextResponse)
    def create(size: int) -> PlainTextResponse:
        return PlainTextResponse("t" * size, 201, {"location": "/things/" + "7" * 200, "link": LINK})

    @app.post("/presigned", response_class=PlainTextResponse)
    def presigned(size: int, status: int) -> PlainTextResponse:
        url = "https://bucket.s3.amazonaws.com/o?X-Amz-Signature=" + "S" * 1_500
        return PlainTextResponse("p" * size, status, {"location": url, "link": LINK})

    @app.post("/listed", response_class=PlainTextResponse)
    def listed() -> PlainTextResponse:
        return PlainTextResponse("", 201, {"location": "/things/a, b/" + "x" * 600})

    @app.get("/failing")
    def failing(size: int) -> None:
        raise HTTPException(404, "n" * size, headers={"link": LINK, **{f"x-why-{i}": "w" * 50 for i in range(40)}})

    @app.post("/login", response_class=PlainTextResponse)
    def login(key: str | None = Security(service_key)) -> PlainTextResponse:
        issued = {
            "X-Auth-Token": "sess-3f9a8b7c6d5e4f",
            "X-Service-Key": "svc-NEW-key-777777",
            "X-CSRF-Token": "csrf-abcdef123456",
            "X-Upstream-Authorization": "Bearer upstreamsecret999",
            "X-Api-Key-Echo": "sk-client-secret-0001",
            "X-Session-Id": "s-1",
            "X-Apikey": "k-1",
            "X-Request-Signature": "sig",
            "X-Tenant": "t-new-tenant-key",  # the app's APIKeyHeader name
            "X-Org": "org-1",  # a forward_headers name
            "Set-Cookie": "session=abc",
            "X-Total-Count": "1",
            "X-Author": "ada",  # "author" is no credential word
        }
        return PlainTextResponse("logged in", headers=issued)

    @app.head("/probe")
    def probe() -> Response:
        return Response(headers={"x-auth-token": "t-1", "x-big": "b" * 5000, "etag": '"p"'})

    @app.head("/moved")
    def moved() -> Response:
        return Response(status_code=302, headers={"location": "/things/a, b/" + "x" * 600, "link": LINK})

    app.add_middleware(MCPMiddleware, **options)
    return app


async def rpc(app: FastAPI, version: str, method: str, params: Any, name: str | None = None) -> Any:
    if version == MODERN:
        body, sent = modern_request(method, params), modern_headers(method, name)
    else:
        body, sent = request(method, params), {**BASE_HEADERS, "mcp-protocol-version": version}
    return (await post(app, body, sent)).result()


async def call(app: FastAPI, version: str, name: str, **arguments: Any) -> tuple[dict[str, Any], int]:
    """A tool's result and the size its tool declares."""
    tools = (await rpc(app, version, "tools/list", {}))["tools"]
    declared = next(tool["_meta"][KEY] for tool in tools if tool["name"] == name)
    result = await rpc(app, version, "tools/call", {"name": name, "arguments": arguments}, name)
    return result, declared


def texts(result: dict[str, Any]) -> list[str]:
    return [block["text"] for block in result["content"] if block["type"] == "text"]


def within(result: dict[str, Any], declared: int) -> list[str]:
    """The result's texts, whose total length is checked against the declared size."""
    found = texts(result)
    assert sum(map(len, found)) <= declared, [len(text) for text in found]
    return found


@pytest.mark.parametrize("version", ERAS)
@pytest.mark.parametrize("size", [2_000, 2_001, 50_000])
async def test_a_body_at_or_past_the_limit_and_a_long_link_fit_the_declared_size(version: str, size: int) -> None:
    result, declared = await call(make_app(max_result_chars=2_000), version, "page", size=size)
    assert declared == 3_000
    body, block = within(result, declared)
    assert body.startswith("o" * 2_000)
    assert ("truncated" in body) == (size > 2_000)
    first, rest = LINK.split(", ", 1)  # the first link, whole (a model can follow it), then a marker
    assert block.startswith(f"Response headers:\nlink: {first}[… {len(rest) + 2} more characters]\n")
    assert len(block) <= 800
    assert "x-total-count: 48213" in block  # a long value is cut, the next header still shown


@pytest.mark.parametrize("version", ERAS)
async def test_the_default_limit_with_a_long_link_fits_the_declared_size(version: str) -> None:
    result, declared = await call(make_app(), version, "page", size=100_000)
    assert declared == 101_000
    body, block = within(result, declared)
    assert len(body) == 100_000
    assert "x-total-count: 48213" in block


@pytest.mark.parametrize("version", ERAS)
async def test_many_headers_are_cut_to_a_block_that_says_the_rest_are_left_out(version: str) -> None:
    result, declared = await call(make_app(max_result_chars=2_000), version, "debug", size=2_000, count=300, length=100)
    body, block = within(result, declared)
    assert body.startswith("o" * 2_000)
    assert len(block) <= 800
    lines = block.split("\n")
    assert lines[0] == "Response headers:"
    assert lines[1] == "x-debug-0: " + "d" * 100
    assert lines[-1] == "[… more headers left out]"
    assert 2 < len(lines) < 10


@pytest.mark.parametrize("version", ERAS)
async def test_one_huge_header_is_cut_with_a_marker(version: str) -> None:
    result, declared = await call(make_app(), version, "debug", size=10, count=1, length=200_000)
    body, block = within(result, declared)
    assert body == "o" * 10
    name, _, value = block.removeprefix("Response headers:\n").partition(": ")
    assert name == "x-debug-0"
    assert value == "d" * 500 + "[… 199500 more characters]"
    assert len(block) <= 800


@pytest.mark.parametrize("version", ERAS)
async def test_a_streamed_result_fits_the_declared_size(version: str) -> None:
    result, declared = await call(make_app(max_result_chars=2_000), version, "streamed", size=8_000)
    body, block = within(result, declared)
    assert body.startswith("s" * 2_000)
    assert "truncated" in body
    assert block.startswith("Response headers:\nlink: ")


@pytest.mark.parametrize("version", ERAS)
async def test_a_201s_location_and_headers_fit_the_declared_size(version: str) -> None:
    result, declared = await call(make_app(max_result_chars=2_000), version, "create", size=5_000)
    body, located, block = within(result, declared)
    assert body.startswith("t" * 2_000)
    assert located == "201 Created: Location /things/" + "7" * 200
    assert block.startswith("Response headers:\nlink: ")


@pytest.mark.parametrize("version", ERAS)
@pytest.mark.parametrize("status", [201, 202, 303])
@pytest.mark.parametrize("limit", [100_000, 10])
async def test_a_long_location_is_cut_to_fit_the_declared_size(version: str, status: int, limit: int) -> None:
    """A presigned URL of 1,500 characters beside a body at the limit: cut as a header's value is."""
    app = make_app(max_result_chars=limit)
    result, declared = await call(app, version, "presigned", size=limit + 50, status=status)
    assert "isError" not in result  # (a 303 answering a POST is a success)
    found = within(result, declared)
    (line,) = [text for text in found if ": Location " in text]
    assert "S" * 450 + "[… 1050 more characters]" in line
    assert "S" * 451 not in line


@pytest.mark.parametrize("version", ERAS)
async def test_a_long_location_is_cut_at_its_length_not_at_a_comma(version: str) -> None:
    """A Location is one URI, no list: a ``, `` written into it raw is no place to cut (a Link's is)."""
    result, declared = await call(make_app(), version, "listed")
    (line,) = [text for text in within(result, declared) if ": Location " in text]
    location = "/things/a, b/" + "x" * 600
    kept = location[:500]
    assert line == f"201 Created: Location {kept}[… {len(location) - 500} more characters]"


@pytest.mark.parametrize("version", ERAS)
async def test_an_errors_headers_fit_the_declared_size(version: str) -> None:
    result, declared = await call(make_app(max_result_chars=2_000), version, "failing", size=5_000)
    assert result["isError"] is True
    error, block = within(result, declared)
    assert error.startswith('HTTP 404 Not Found: {"detail":"nnn')
    assert block.endswith("[… more headers left out]")


@pytest.mark.parametrize("version", ERAS)
async def test_a_small_limit_still_fits_the_declared_size(version: str) -> None:
    app = make_app(max_result_chars=10)
    for name, arguments in [
        ("page", {"size": 50}),
        ("debug", {"size": 50, "count": 300, "length": 100}),
        ("create", {"size": 50}),
        ("failing", {"size": 50}),
        ("streamed", {"size": 400}),
    ]:
        result, declared = await call(app, version, name, **arguments)
        assert declared == 1_010
        assert within(result, declared)[-1].startswith("Response headers:\n")


@pytest.mark.parametrize("version", ERAS)
async def test_a_head_results_headers_fit_the_declared_size_and_leave_credentials_out(version: str) -> None:
    result, declared = await call(make_app(max_result_chars=10), version, "probe")
    (text,) = within(result, declared)
    assert text.startswith("200 OK\n")
    assert 'etag: "p"' in text
    assert "x-auth-token" not in text
    assert "x-big: " + "b" * 500 + "[… 4500 more characters]" in text


@pytest.mark.parametrize("version", ERAS)
async def test_a_head_results_long_location_is_cut_at_its_length_not_at_a_comma(version: str) -> None:
    """Review: 8611f5d cut a made response's Location at its length, but a HEAD's result, which lists
    its headers itself, still cut it after '/things/a' (9 characters that read as another URL). A
    Link beside it is still cut after its last whole link."""
    result, declared = await call(make_app(), version, "moved")
    (text,) = within(result, declared)
    location = "/things/a, b/" + "x" * 600
    assert f"location: {location[:500]}[… {len(location) - 500} more characters]" in text.split("\n")
    (link,) = [line for line in text.split("\n") if line.startswith("link: ")]
    assert link.endswith("more characters]")
    assert link.removeprefix("link: ").split("[…")[0] in LINK
    assert len(link.split("[…")[0]) < len("link: ") + 500


@pytest.mark.parametrize("version", ERAS)
async def test_credentials_an_app_issues_or_echoes_are_left_out(version: str) -> None:
    result, _ = await call(make_app(forward_headers=["x-org"]), version, "login")
    assert texts(result) == ["logged in", "Response headers:\nx-total-count: 1\nx-author: ada"]


TENANT_HEADERS = {"x-tenant": "acme", "x-org": "org-1", "x-total-count": "3"}


def two_apps() -> tuple[FastAPI, FastAPI]:
    """Two apps served in one process, each by its own middleware, each a route that answers with
    ``X-Tenant`` and ``X-Org`` (and a HEAD route that does): the first declares ``X-Tenant`` an
    ``APIKeyHeader`` and forwards ``X-Org``, the second neither."""
    apps = []
    for declared in (True, False):
        app = FastAPI()
        tenant = APIKeyHeader(name="X-Tenant", auto_error=False)

        async def no_key() -> None:
            return None

        key = Security(tenant) if declared else Depends(no_key)

        @app.get("/tenant", response_class=PlainTextResponse)
        def tenant_route(key: Any = key) -> PlainTextResponse:
            return PlainTextResponse("ok", headers=TENANT_HEADERS)

        @app.head("/tenant")
        def tenant_head(key: Any = key) -> Response:
            return Response(headers=TENANT_HEADERS)

        app.add_middleware(MCPMiddleware, forward_headers=["x-org"] if declared else [])
        apps.append(app)
    return apps[0], apps[1]


@pytest.mark.parametrize("version", ERAS)
async def test_an_apps_credential_headers_are_its_own_not_another_apps_in_the_process(version: str) -> None:
    """Review mend item 4: the names an app declares as credentials (its ``APIKeyHeader``s, its
    ``forward_headers``) were kept process-wide, so another app served in the same process, which
    declares neither, had them left out of its results too. Each middleware keeps its own."""
    first, second = two_apps()
    for _ in range(2):  # (and once more, each app's catalog built: neither's names reach the other)
        every = ["x-tenant: acme", "x-org: org-1", "x-total-count: 3"]
        for app, shown in ((first, every[2:]), (second, every)):
            result, _ = await call(app, version, "tenant_route")
            assert texts(result) == ["ok", "\n".join(["Response headers:", *shown])]
            head, _ = await call(app, version, "tenant_head")
            assert texts(head) == ["\n".join(["200 OK", *shown, "content-length: 0"])]


@pytest.mark.parametrize(
    ("name", "credential"),
    [
        (b"x-auth-token", True),
        (b"x-service-key", True),
        (b"x-csrf-token", True),
        (b"x-xsrf-token", True),
        (b"x-upstream-authorization", True),
        (b"x-api-key", True),
        (b"x-apikey", True),
        (b"x_access_token", True),
        (b"x-client-secret", True),
        (b"x-password", True),
        (b"x-db-passwd", True),
        (b"x-session", True),
        (b"x-webhook-signature", True),
        (b"x-amz-credential", True),
        (b"x-apitoken", True),
        (b"x-jwt", True),
        (b"x-jwt-assertion", True),
        (b"x-access-jwt", True),
        (b"x-clientsecret", True),
        (b"x-sessionkey", True),
        (b"x-total-count", False),
        (b"x-author", False),
        (b"x-keyboard", False),
        (b"x-monkey", False),
        (b"etag", False),
        (b"link", False),
    ],
)
def test_a_credential_is_told_by_a_part_of_its_name(name: bytes, credential: bool) -> None:
    assert _response_headers.credential(name) is credential
    assert _response_headers.shown(name) is (not credential)


@pytest.mark.parametrize("version", ERAS)
async def test_no_block_when_the_body_leaves_no_room(version: str) -> None:
    """At Claude Code's ceiling (500,000) the declared size has no room past a limit of as much."""
    result, declared = await call(make_app(max_result_chars=500_000), version, "page", size=500_000)
    assert declared == 500_000
    assert within(result, declared) == ["o" * 500_000]


def test_a_block_is_fitted_in_its_room() -> None:
    fitted, more, title = _response_headers.fitted, _response_headers.MORE, "Response headers:"
    lines = ["a: 1", "b: " + "2" * 40]
    whole = "\n".join([title, *lines])
    assert fitted(title, lines, len(whole)) == whole
    one = f"{title}\na: 1\n{more}"
    assert fitted(title, lines, len(whole) - 1) == one
    assert fitted(title, lines, len(one) - 1) == f"{title}\n{more}"
    assert fitted(title, lines, len(title) + 1 + len(more) - 1) == ""
    assert fitted(title, lines, -5) == ""
    listed = ", ".join(["<" + "u" * 200 + ">"] * 3)  # three items: two fit in 500 characters
    assert fitted("T", [f"link: {listed}"], 800) == f"T\nlink: {listed[:406]}[… {len(listed) - 406} more characters]"


SECRET = b"sk-live-0123456789"


@pytest.mark.parametrize("start", [491, 495, 499])  # "[redacted]" across the 500th character
def test_a_cut_location_or_header_never_splits_a_redaction_marker(start: int) -> None:
    """Review mend item 5: a ``Location`` (or a shown header's value) cut at 500 characters after
    its credentials were redacted could cut ``[redacted]`` in two ("[redac[… 512 more
    characters]"). The cut goes before the marker."""
    value = "/" + "x" * (start - 1) + SECRET.decode() + "y" * 500
    collector = ResponseCollector("/p", False, 100_000, 1_000, forwarded=((b"x-api-key", SECRET),))
    collector.head(201, ((b"location", value.encode()), (b"x-next", value.encode())))
    collector.feed(b"", False)
    texts = [block["text"] for block in collector.result()["content"]]
    kept = "/" + "x" * (start - 1)
    rest = len(value) - len(SECRET) + len("[redacted]") - len(kept)
    assert f"201 Created: Location {kept}[… {rest} more characters]" in texts
    assert f"Response headers:\nx-next: {kept}[… {rest} more characters]" in texts


def test_a_marker_before_or_after_the_cut_stays_as_it_is() -> None:
    """A ``[redacted]`` that ends at the 500th character is kept whole; one that starts there is
    left out whole (the cut is where it always was)."""
    before = "/" + "x" * 489 + "[redacted]" + "y" * 100
    after = "/" + "x" * 499 + "[redacted]" + "y" * 100
    assert bounded(before) == before[:500] + "[… 100 more characters]"
    assert bounded(after) == after[:500] + "[… 110 more characters]"


@pytest.mark.parametrize("start", [491, 495, 499])  # "[redacted]" across the 500th character
def test_a_head_results_cut_header_never_splits_a_redaction_marker(start: int) -> None:
    """Review remend item 2: a HEAD's result lists its headers itself (``fitted`` in
    ``HeadResponseCollector.result``), so its Location and ``x-*`` values are cut there, after
    the credentials forwarded to the route were redacted; the cut goes before a ``[redacted]`` that
    spans it there too."""
    value = "/" + "x" * (start - 1) + SECRET.decode() + "y" * 500
    collector = HeadResponseCollector("/p", False, 100_000, 1_000, forwarded=((b"x-api-key", SECRET),))
    collector.head(200, ((b"location", value.encode()), (b"x-next", value.encode())))
    collector.feed(b"", False)
    [block] = collector.result()["content"]
    kept = "/" + "x" * (start - 1)
    rest = len(value) - len(SECRET) + len("[redacted]") - len(kept)
    assert block["text"].split("\n") == [
        "200 OK",
        f"location: {kept}[… {rest} more characters]",
        f"x-next: {kept}[… {rest} more characters]",
    ]
