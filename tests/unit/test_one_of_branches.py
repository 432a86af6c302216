"""A ``oneOf`` whose branches may overlap is an ``anyOf`` in tool schemas: ``oneOf`` refuses a value
two branches take, which the route may well take.

Review (D2): pydantic writes a union with a callable ``Discriminator`` as a ``oneOf`` of its members,
with no ``discriminator`` keyword, and nothing tells ``A = {x}`` from ``B = {x, y = 0}``:
``{"x": 1, "y": 0}`` is valid under both, so the official client refused every result of such a
route ("Invalid structured content returned by tool holder"), and an argument checked against the
input schema was refused alike. Output schemas have no ``oneOf`` at all (clients only validate with
them; an ``anyOf`` of branches that are exclusive takes the same values); input schemas, which a
model reads, keep one whose branches are provably exclusive: object schemas with a tag property
(required by each, or the ``discriminator``'s ``propertyName``) whose ``const``/``enum`` values
no two branches share, as pydantic's tagged unions with a string discriminator have. The rewrite
takes more values, so an enclosing ``not`` is loosened in turn (:mod:`tests.unit.test_schema_exclusive`).
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

import jsonschema  # type: ignore[import-untyped]  # no stubs in the test dependencies
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Discriminator, Field, Tag

from mcp_middleware import MCPMiddleware
from mcp_middleware.catalog import build_catalog
from tests.support import MODERN, result_json, tool_result
from tests.unit.test_schema_exclusive import WORD, _accepts, _doc, _labels, _said
from tests.unit.test_unportable_patterns import CATALOG
from tests.unit.test_wrapped_results import tools

pytestmark = pytest.mark.anyio


class A(BaseModel):
    x: int


class B(BaseModel):
    x: int
    y: int = 0


def _which(value: Any) -> str:
    if isinstance(value, dict):
        return "b" if "y" in value else "a"
    return "b" if isinstance(value, B) else "a"


class Holder(BaseModel):
    item: Annotated[Annotated[A, Tag("a")] | Annotated[B, Tag("b")], Discriminator(_which)]


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"  # a defaulted tag: not required in the input schema
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"


class Owner(BaseModel):
    pet: Annotated[Cat | Dog, Field(discriminator="kind")]


def _app() -> Any:
    app = FastAPI()

    @app.get("/holder", operation_id="holder")
    def holder() -> Holder:
        return Holder(item=B(x=1))

    @app.post("/keep", operation_id="keep")
    def keep(holder: Holder) -> dict[str, str]:
        return {"kind": type(holder.item).__name__}

    @app.post("/owner", operation_id="owner")
    def owner(owner: Owner) -> Owner:
        return owner

    app.add_middleware(MCPMiddleware)
    return app


def _valid(value: Any, schema: dict[str, Any]) -> bool:
    """The official Python client's check (the schema's dialect, 2020-12 by default)."""
    return bool(jsonschema.validators.validator_for(schema)(schema).is_valid(value))


@pytest.mark.parametrize("version", [MODERN, "2025-06-18"])
async def test_a_callable_discriminator_result_fits_its_output_schema(version: str) -> None:
    """The review's app: GET /holder's ``{"item": {"x": 1, "y": 0}}`` was valid under both branches."""
    app = _app()
    schema = (await tools(app))["holder"]["outputSchema"]
    result = await tool_result(app, version, "holder")
    assert result_json(result) == {"item": {"x": 1, "y": 0}}
    assert "oneOf" not in json.dumps(schema)
    assert _valid(result["structuredContent"], schema)


async def test_a_callable_discriminator_argument_fits_the_input_schema() -> None:
    """What the route takes, as a client checking its arguments against the input schema sees it:
    ``{"x": 1}`` (an ``A``) is valid under ``B`` too."""
    app = _app()
    schema = (await tools(app))["keep"]["inputSchema"]
    assert "oneOf" not in json.dumps(schema)
    for item, kind in (({"x": 1}, "A"), ({"x": 1, "y": 0}, "B")):
        arguments = {"holder": {"item": item}} if "holder" in schema["properties"] else {"item": item}
        assert _valid(arguments, schema)
        assert result_json(await tool_result(app, MODERN, "keep", arguments)) == {"kind": kind}


async def test_a_tagged_union_keeps_its_one_of_in_input_schemas_only() -> None:
    """pydantic's string discriminator: its tags (``const``, defaulted, named by ``discriminator``)
    tell the branches apart, so the input schema keeps the ``oneOf``; the output schema has none."""
    app = _app()
    listed = (await tools(app))["owner"]
    assert '"oneOf"' in json.dumps(listed["inputSchema"])
    assert '"oneOf"' not in json.dumps(listed["outputSchema"])
    result = await tool_result(app, MODERN, "owner", {"pet": {"kind": "cat"}})
    assert result["structuredContent"] == {"pet": {"kind": "cat", "lives": 9}}
    assert _valid(result["structuredContent"], listed["outputSchema"])


def _tagged(first: Any, second: Any, *, required: bool = True, kind: Any = "object") -> list[dict[str, Any]]:
    def branch(tag: Any, name: str) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": kind, "properties": {"kind": tag, name: {"type": "integer"}}}
        return {**schema, "required": ["kind"]} if required else schema

    return [branch(first, "a"), branch(second, "b")]


EXCLUSIVE = [
    pytest.param({"oneOf": _tagged({"const": "a"}, {"const": "b"})}, id="required consts"),
    pytest.param({"oneOf": _tagged({"enum": ["a", "c"]}, {"enum": ["b"]})}, id="required enums"),
    pytest.param({"oneOf": _tagged({"const": 1}, {"enum": [2, "1"]})}, id="numbers and strings"),
    pytest.param(
        {"oneOf": _tagged({"const": "a"}, {"const": "b"}, required=False), "discriminator": {"propertyName": "kind"}},
        id="discriminator",
    ),
    pytest.param({"oneOf": _tagged({"const": "a"}, {"const": "b"}, kind=["object"])}, id="type list"),
    pytest.param({"oneOf": [{"type": "string"}]}, id="one branch"),
]


@pytest.mark.parametrize("original", EXCLUSIVE)
def test_an_exclusive_one_of_stays_in_input_schemas(caplog: pytest.LogCaptureFixture, original: Any) -> None:
    labels = _labels(original, caplog)
    assert "oneOf" in labels
    assert "anyOf" not in labels
    assert _said(caplog) == []
    assert "oneOf" not in _labels(original, caplog, output=True)


OVERLAPPING = [
    # (original, a value two branches take)
    pytest.param({"oneOf": _tagged({"const": "a"}, {"const": "a"})}, {"kind": "a"}, id="one const"),
    pytest.param({"oneOf": _tagged({"enum": ["a", "c"]}, {"enum": ["c"]})}, {"kind": "c"}, id="shared enum value"),
    pytest.param({"oneOf": _tagged({"const": 1}, {"const": 1.0})}, {"kind": 1}, id="1 and 1.0"),
    pytest.param({"oneOf": _tagged({"const": "a"}, {"const": "b"}, required=False)}, {"a": 1}, id="tag not required"),
    pytest.param(
        {
            "oneOf": _tagged({"const": "a"}, {"const": "b"}, required=False),
            "discriminator": {"propertyName": "kind", "defaultMapping": "#/components/schemas/X"},
        },
        {"a": 1},
        id="discriminator with a default (OpenAPI 3.2)",
    ),
    pytest.param(
        {
            "oneOf": _tagged({"const": "a"}, {"const": "b"}, required=False),
            "discriminator": {"propertyName": "other"},
        },
        {"a": 1},
        id="discriminator naming another property",
    ),
    pytest.param({"oneOf": _tagged({"const": "a"}, {"const": "b"}, kind="string")}, "x", id="not objects"),
    pytest.param({"oneOf": _tagged({"type": "string"}, {"const": "b"})}, {"kind": "b"}, id="a tag without values"),
    pytest.param(
        {"oneOf": _tagged({"enum": ["a"], "nullable": True}, {"enum": ["b"], "nullable": True})},
        {"kind": None},
        id="nullable tags",
    ),
    pytest.param({"oneOf": [{"type": "integer"}, {"type": "number"}]}, 1, id="no tags"),
    pytest.param(
        {
            "oneOf": [
                _tagged({"const": "a"}, {"const": "b"})[0],
                *_tagged({"const": "b"}, {"const": "c"}, required=False),
            ]
        },
        {},
        id="the tag required by one branch of three",
    ),
    pytest.param({"oneOf": [{"type": "object", "required": ["kind"]}] * 2}, {"kind": 1}, id="no properties"),
    pytest.param({"oneOf": [{"$ref": "#/$defs/X"}, {"type": "object"}], "$defs": {"X": {}}}, {}, id="local reference"),
]


@pytest.mark.parametrize(("original", "value"), OVERLAPPING)
@pytest.mark.parametrize("output", [False, True])
def test_an_overlapping_one_of_is_an_any_of(
    caplog: pytest.LogCaptureFixture, original: Any, value: Any, output: bool
) -> None:
    """Branches that may overlap: the value both take is refused by the ``oneOf``, taken by what
    is published, unsaid (nothing the app can do; the route's checks are as they were)."""
    assert not _accepts(original, value)
    labels = _labels(original, caplog, output=output)
    assert "oneOf" not in labels
    assert _accepts(labels, value)
    assert _said(caplog) == []


COMPONENTS = {
    "Kind": {"type": "string", "enum": ["a", "b"]},
    "A": {"type": "object", "properties": {"kind": {"const": "a"}}, "required": ["kind"]},
    "B": {"type": "object", "properties": {"kind": {"$ref": "#/components/schemas/KindB"}}, "required": ["kind"]},
    "KindB": {"enum": ["b"]},
    "C": {"type": "object", "properties": {"kind": {"$ref": "#/components/schemas/Kind"}}, "required": ["kind"]},
    "Loop": {"$ref": "#/components/schemas/Loop"},
    "D": {"type": "object", "properties": {"kind": {"$ref": "#/components/schemas/Loop"}}, "required": ["kind"]},
}
A_OR_B = [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]


def test_branches_and_tags_are_read_through_components(caplog: pytest.LogCaptureFixture) -> None:
    """A branch and its tag may be references to components: read as they are."""
    exclusive = {"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]}
    assert "oneOf" in _labels(exclusive, caplog, COMPONENTS)
    overlapping = {"oneOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/C"}]}
    labels = _labels(overlapping, caplog, COMPONENTS)
    assert "oneOf" not in labels
    assert _accepts(labels, {"kind": "a"}, COMPONENTS)
    assert not _accepts(overlapping, {"kind": "a"}, COMPONENTS)


@pytest.mark.parametrize(
    "original",
    [
        pytest.param({"oneOf": [{**ref, "nullable": True} for ref in A_OR_B]}, id="nullable branches"),
        pytest.param({"oneOf": [*A_OR_B, {"$ref": "#/components/schemas/Loop"}]}, id="a branch that loops"),
        pytest.param({"oneOf": [*A_OR_B, {"$ref": "#/components/schemas/D"}]}, id="a tag that loops"),
    ],
)
def test_branches_unsure_through_components_make_an_any_of(caplog: pytest.LogCaptureFixture, original: Any) -> None:
    """A branch that takes ``null`` too (OpenAPI 3.0's ``nullable``, beside a reference), or a
    reference that leads back to itself, says nothing sure: an ``anyOf``, found without looping."""
    labels = _labels(original, caplog, COMPONENTS)
    assert "oneOf" not in labels
    if "nullable" in json.dumps(original):
        assert _accepts(labels, None, COMPONENTS)


@pytest.mark.parametrize("output", [False, True])
def test_a_not_over_a_rewritten_one_of_goes(caplog: pytest.LogCaptureFixture, output: bool) -> None:
    """The ``anyOf`` takes more than the ``oneOf`` did, so a ``not`` above it would refuse more:
    ``{"a": 1, "b": 1}`` matches both branches, which the ``oneOf`` refused, so the ``not`` took it.
    The ``not`` goes, at DEBUG only (the rewrite is by design)."""
    original = {"type": "object", "not": {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]}}
    value = {"a": 1, "b": 1}
    assert _accepts(original, value)
    with caplog.at_level(logging.DEBUG, logger=CATALOG):
        tool = build_catalog(_doc(original, output=output)).tools[0].tool
    labels = tool["outputSchema" if output else "inputSchema"]["properties"]["labels"]
    assert _accepts(labels, value)
    assert "not" not in labels
    assert [r.levelno for r in caplog.records if "not (left out" in r.getMessage()] == [logging.DEBUG]


def test_a_rewritten_one_of_beside_a_loss_keeps_the_warning(caplog: pytest.LogCaptureFixture) -> None:
    """The rewrite is a quiet loss counted with the others: a ``pattern`` left out beside it, under
    the same ``not``, is still named at WARNING (the rewrite alone is at DEBUG, above)."""
    original = {"type": "string", "not": {**WORD, "oneOf": [{"type": "integer"}, {"type": "number"}]}}
    assert _accepts(original, "a b")
    labels = _labels(original, caplog)
    assert "not" not in labels
    (said,) = _said(caplog)
    assert "property 'labels' not (left out: a keyword below it was" in said
    assert [r.levelno for r in caplog.records if "not (left out" in r.getMessage()] == [logging.WARNING]


def test_a_not_over_an_exclusive_one_of_stays(caplog: pytest.LogCaptureFixture) -> None:
    """In an input schema an exclusive ``oneOf`` stays, and so does the ``not`` above it."""
    original = {"type": "object", "not": {"oneOf": _tagged({"const": "a"}, {"const": "b"})}}
    assert _labels(original, caplog) == original


def test_a_malformed_one_of_is_copied_as_written(caplog: pytest.LogCaptureFixture) -> None:
    """A ``oneOf`` that is no list is no schema's: copied as written, as conversion copies any."""
    for output in (False, True):
        assert _labels({"oneOf": 5}, caplog, output=output) == {"oneOf": 5}
