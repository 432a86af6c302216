"""A path parameter of an app's own convertor (``register_url_convertor("slug", Slug())``) says in
its input schema what the path accepts: a ``pattern``, ``^(?:regex)$(?!\\n)`` of the convertor's
``regex``, said so that ECMA-262 (JSON Schema's dialect, with and without the ``u`` flag) and
Python's ``re`` (clients' and the router's) read it alike, and none where it cannot be said so (the
route guard still refuses a value the convertor does not take). Starlette's own convertors keep their schemas.

Convertors are registered in Starlette's global table: each test registers its own under a name of
its own, and takes it out again (:func:`convertor`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Path
from starlette import convertors
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import catalog_from_app
from tests.support import call_legacy, call_modern
from tests.support import call_tool as call
from tests.support import refusal_text as refusal
from tests.support import result_json as text

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "modern"]
SLUG = "[a-z0-9]+(?:-[a-z0-9]+)*"

_PY_S = r"\u0009-\u000D\u001C-\u0020\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000"  # Python's \s


class Slug(Convertor[str]):
    regex = SLUG

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class Hex(Convertor[int]):
    """A convertor whose value is not its text: ``ff`` is 255."""

    regex = "[0-9a-f]+"

    def convert(self, value: str) -> int:
        return int(value, 16)

    def to_string(self, value: int) -> str:
        return format(value, "x")


def _of(regex: str) -> Convertor[str]:
    class Custom(Slug):
        pass

    Custom.regex = regex
    return Custom()


@pytest.fixture
def convertor() -> Iterator[Callable[[Convertor[Any]], str]]:
    """Registers a convertor under a fresh name (the table is Starlette's, shared by every test)
    and returns the name; every name registered is taken out after the test."""
    names: list[str] = []

    def register(instance: Convertor[Any]) -> str:
        name = f"c{uuid.uuid4().hex}"
        register_url_convertor(name, instance)
        names.append(name)
        return name

    yield register
    for name in names:
        del convertors.CONVERTOR_TYPES[name]


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({key: value for key, value in request.path_params.items()})


async def listed(app: Any, era: str) -> dict[str, dict[str, Any]]:
    """Each tool's input schema's properties, as ``tools/list`` gives them."""
    reply = await (call_legacy(app, "tools/list") if era == "legacy" else call_modern(app, "tools/list"))
    return {tool["name"]: tool["inputSchema"]["properties"] for tool in reply.result()["tools"]}


def starlette_app(routes: list[Any]) -> Starlette:
    app = Starlette(routes=routes)
    app.add_middleware(MCPMiddleware)
    return app


def ecma_matches(pattern: str, value: str) -> bool:
    """Whether ``pattern`` (which ECMA-262 and Python's ``re`` read alike) takes ``value``, as a
    client's validator would: searched."""
    return re.search(pattern, value) is not None


def test_the_convertor_registered_is_taken_out_after_the_test(convertor: Callable[[Convertor[Any]], str]) -> None:
    """The fixture cleans up what it registers (a name of one test is unknown in the next)."""
    name = convertor(Slug())
    assert name in convertors.CONVERTOR_TYPES
    assert not [key for key in convertors.CONVERTOR_TYPES if key.startswith("c") and len(key) == 33 and key != name]


@pytest.mark.parametrize("era", ERAS)
async def test_a_starlette_route_s_own_convertor_gives_its_pattern(
    era: str, convertor: Callable[[Convertor[Any]], str]
) -> None:
    name = convertor(Slug())
    app = starlette_app([Route(f"/articles/{{slug:{name}}}", echo, name="article")])
    slug = (await listed(app, era))["article"]["slug"]
    assert slug == {"type": "string", "pattern": f"^(?:{SLUG})$(?!\\n)", "minLength": 1}
    assert text(await call(app, era, "article", {"slug": "hello-world"})) == {"slug": "hello-world"}
    assert refusal(await call(app, era, "article", {"slug": "Hello World"})) == (
        f"Invalid arguments for tool 'article': argument 'slug' must match the pattern {SLUG} "
        f"(the path /articles/{{slug:{name}}} accepts only that)"
    )
    # the schema takes what the route takes, and refuses what it refuses
    assert ecma_matches(slug["pattern"], "hello-world")
    for value in ("Hello World", "hello-", "-hello", "hello/world", "hello-world\n"):
        assert not ecma_matches(slug["pattern"], value), value


@pytest.mark.parametrize("era", ERAS)
async def test_a_fastapi_route_s_own_convertor_gives_its_pattern(
    era: str, convertor: Callable[[Convertor[Any]], str]
) -> None:
    """FastAPI's document has the annotation's schema (``string``), the convertor in no way: the
    tool's adds the pattern, beside what the annotation says (``maxLength``)."""
    name = convertor(Slug())
    app = FastAPI()

    @app.get(f"/articles/{{slug:{name}}}", operation_id="article")
    async def article(slug: str = Path(max_length=20)) -> dict[str, str]:
        return {"slug": slug}

    app.add_middleware(MCPMiddleware)
    [parameter] = app.openapi()["paths"]["/articles/{slug}"]["get"]["parameters"]
    assert parameter["schema"] == {"type": "string", "maxLength": 20, "title": "Slug"}
    assert (await listed(app, era))["article"]["slug"] == {
        "type": "string",
        "maxLength": 20,
        "title": "Slug",
        "pattern": f"^(?:{SLUG})$(?!\\n)",
        "minLength": 1,
    }
    assert text(await call(app, era, "article", {"slug": "hello-world"})) == {"slug": "hello-world"}
    assert refusal(await call(app, era, "article", {"slug": "Hello"})).startswith(
        f"Invalid arguments for tool 'article': argument 'slug' must match the pattern {SLUG} "
    )


@pytest.mark.parametrize("era", ERAS)
async def test_a_declared_pattern_and_the_convertor_s_both_hold(
    era: str, convertor: Callable[[Convertor[Any]], str]
) -> None:
    """``Path(pattern=...)`` is checked by FastAPI after the convertor's: a value must take both."""
    name = convertor(Slug())
    app = FastAPI()

    @app.get(f"/articles/{{slug:{name}}}", operation_id="article")
    async def article(slug: str = Path(pattern="^[a-m-]+$")) -> dict[str, str]:
        return {"slug": slug}

    app.add_middleware(MCPMiddleware)
    slug = (await listed(app, era))["article"]["slug"]
    assert slug == {
        "type": "string",
        "pattern": "^[a-m\\-]+$(?!\\n)",
        "title": "Slug",
        "allOf": [{"pattern": f"^(?:{SLUG})$(?!\\n)"}],
        "minLength": 1,
    }
    assert text(await call(app, era, "article", {"slug": "face-bead"})) == {"slug": "face-bead"}
    assert refusal(await call(app, era, "article", {"slug": "Face"})).startswith(
        "Invalid arguments for tool 'article': argument 'slug' must match the pattern"
    )


@pytest.mark.parametrize("era", ERAS)
async def test_a_convertor_whose_value_is_not_its_text_takes_the_text(
    era: str, convertor: Callable[[Convertor[Any]], str]
) -> None:
    """FastAPI documents the value the convertor makes (``int``), but the argument is the path's
    text, which the convertor reads: an integer 255 would be sent as ``255``, which the route reads
    as 0x255. The tool's argument is the text, and says its pattern."""
    name = convertor(Hex())
    app = FastAPI()

    @app.get(f"/colours/{{value:{name}}}", operation_id="colour")
    async def colour(value: int) -> dict[str, int]:
        return {"value": value}

    app.add_middleware(MCPMiddleware)
    [parameter] = app.openapi()["paths"]["/colours/{value}"]["get"]["parameters"]
    assert parameter["schema"] == {"type": "integer", "title": "Value"}
    assert (await listed(app, era))["colour"]["value"] == {
        "type": "string",
        "title": "Value",
        "pattern": "^(?:[0-9a-f]+)$(?!\\n)",
        "minLength": 1,
    }
    assert text(await call(app, era, "colour", {"value": "ff"})) == {"value": 255}
    assert refusal(await call(app, era, "colour", {"value": "red"})).startswith(
        "Invalid arguments for tool 'colour': argument 'value' must match the pattern [0-9a-f]+ "
    )


@pytest.mark.parametrize("era", ERAS)
async def test_a_mount_s_own_convertor_gives_its_pattern(era: str, convertor: Callable[[Convertor[Any]], str]) -> None:
    name = convertor(Slug())
    app = starlette_app([Mount(f"/teams/{{team:{name}}}", routes=[Route("/members/{member}", echo, name="member")])])
    properties = (await listed(app, era))["member"]
    assert properties["team"] == {"type": "string", "pattern": f"^(?:{SLUG})$(?!\\n)", "minLength": 1}
    assert properties["member"] == {"type": "string", "minLength": 1}
    assert text(await call(app, era, "member", {"team": "red-sox", "member": "Ann"})) == {
        "team": "red-sox",
        "member": "Ann",
    }
    assert refusal(await call(app, era, "member", {"team": "Red", "member": "Ann"})).startswith(
        f"Invalid arguments for tool 'member': argument 'team' must match the pattern {SLUG} "
    )


@pytest.mark.parametrize(
    ("regex", "pattern"),
    [
        ("(?P<word>[a-z]+)-[0-9]", "^(?:([a-z]+)-[0-9])$(?!\\n)"),  # no name: Python's re reads no (?<word>
        # Python's . takes \r (and \u2028), ECMA-262's not; an astral character is one (without u: two)
        ("[a-z]+.[0-9]", "^(?:[a-z]+(?:[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]|[^\\n\\uD800-\\uDFFF])[0-9])$(?!\\n)"),
        # Python's \d is any decimal digit: [0-9] is narrower, never wider
        ("\\d{4}-\\d{2}-\\d{2}", "^(?:[0-9]{4}-[0-9]{2}-[0-9]{2})$(?!\\n)"),
        ("[\\d.]+", "^(?:[0-9.]+)$(?!\\n)"),
        ("[a-z\\s]+", f"^(?:[a-z{_PY_S}]+)$(?!\\n)"),  # Python's \s: its code points, each
        ("\\S+", f"^(?:(?:[\\uD800-\\uDBFF][\\uDC00-\\uDFFF]|[^{_PY_S}\\uD800-\\uDFFF])+)$(?!\\n)"),
        ("v[0-9]+$", "^(?:v[0-9]+(?=\\n?$(?!\\n)))$(?!\\n)"),  # Python's $ is also before a final line feed
    ],
)
def test_a_pattern_says_portably_what_python_reads(
    regex: str, pattern: str, convertor: Callable[[Convertor[Any]], str]
) -> None:
    name = convertor(_of(regex))
    [spec] = catalog_from_app(Starlette(routes=[Route(f"/x/{{value:{name}}}", echo, name="x")])).tools
    assert spec.tool["inputSchema"]["properties"]["value"]["pattern"] == pattern


@pytest.mark.parametrize(
    ("regex", "refused"),
    [
        ("(?i:[a-z]+)", "1"),  # a scoped inline flag
        ("[a-z]+\\Z", "1"),
        ("(?>[a-z]+)", "1"),  # an atomic group
        ("[a-z]++", "1"),  # possessive
        ("[\\w-]+", "!"),  # Python's \w is Unicode's letters and digits, ECMA-262's [A-Za-z0-9_]
        ("\\W+", "a"),
        ("[^\\D]+", "a"),  # [^0-9] would take other decimal digits, which the convertor refuses
        ("\\D", "1"),
        ("(?P<w>[a-z])(?P=w)", "ab"),  # no backreference
        ("\\bx", "y"),
        ("x{,3}", "y"),  # Python's {0,3}
    ],
)
@pytest.mark.parametrize("era", ERAS)
async def test_a_pattern_ecma_262_cannot_say_as_python_reads_it_is_left_out(
    era: str, regex: str, refused: str, convertor: Callable[[Convertor[Any]], str]
) -> None:
    """No pattern, nothing broken: the tool is listed with a plain string, and the guard refuses a
    value the convertor does not take."""
    name = convertor(_of(regex))
    app = starlette_app([Route(f"/x/{{value:{name}}}", echo, name="x")])
    assert (await listed(app, era))["x"]["value"] == {"type": "string", "minLength": 1}
    assert refusal(await call(app, era, "x", {"value": refused})).startswith(
        "Invalid arguments for tool 'x': argument 'value' must match the pattern "
    )


@pytest.mark.parametrize("era", ERAS)
async def test_an_untranslatable_pattern_still_makes_the_argument_the_path_s_text(
    era: str, convertor: Callable[[Convertor[Any]], str]
) -> None:
    """A FastAPI ``int`` behind a convertor whose pattern has no ECMA-262 form: a string, with no
    pattern, rather than an integer sent as digits the convertor reads otherwise."""
    name = convertor(type("Words", (Hex,), {"regex": "[\\w]+"})())
    app = FastAPI()

    @app.get(f"/colours/{{value:{name}}}", operation_id="colour")
    async def colour(value: int) -> dict[str, int]:
        return {"value": value}

    app.add_middleware(MCPMiddleware)
    assert (await listed(app, era))["colour"]["value"] == {"type": "string", "title": "Value", "minLength": 1}
    assert text(await call(app, era, "colour", {"value": "1f"})) == {"value": 31}


def test_starlette_s_own_convertors_keep_their_schemas() -> None:
    app = Starlette(
        routes=[
            Route("/i/{v:int}", echo, name="i"),
            Route("/f/{v:float}", echo, name="f"),
            Route("/u/{v:uuid}", echo, name="u"),
            Route("/p/{v:path}", echo, name="p"),
            Route("/s/{v:str}", echo, name="s"),
            Route("/n/{v}", echo, name="n"),
        ]
    )
    schemas = {spec.name: spec.tool["inputSchema"]["properties"]["v"] for spec in catalog_from_app(app).tools}
    assert schemas == {
        "i": {"type": "integer", "minimum": 0},
        "f": {"type": "number", "minimum": 0},
        "u": {"type": "string", "format": "uuid", "minLength": 1},
        "p": {"type": "string", "minLength": 1},
        "s": {"type": "string", "minLength": 1},
        "n": {"type": "string", "minLength": 1},
    }


def test_fastapi_s_own_convertors_keep_their_schemas() -> None:
    app = FastAPI()

    @app.get("/i/{v:int}", operation_id="i")
    async def i(v: int) -> None: ...

    @app.get("/f/{v:float}", operation_id="f")
    async def f(v: float) -> None: ...

    @app.get("/u/{v:uuid}", operation_id="u")
    async def u(v: uuid.UUID) -> None: ...

    @app.get("/p/{v:path}", operation_id="p")
    async def p(v: str) -> None: ...

    schemas = {spec.name: spec.tool["inputSchema"]["properties"]["v"] for spec in catalog_from_app(app).tools}
    assert schemas == {
        "i": {"type": "integer", "title": "V", "minimum": 0},
        "f": {"type": "number", "title": "V", "minimum": 0},
        "u": {"type": "string", "format": "uuid", "title": "V", "minLength": 1},
        "p": {"type": "string", "title": "V", "minLength": 1},
    }
