"""What conversion loosens above a keyword an output schema leaves out by design is not warned about.

Output schemas leave out every ``pattern``, most ``format`` and a non-integer ``multipleOf``
(:mod:`mcp_middleware._schema`): by design, unsaid, since the route's results are what they were
and the app's author can do nothing about it. Review: the ``oneOf`` those losses turn into an
``anyOf`` (a discriminated union of response models, one with a ``Field(pattern=...)``) was named
in a WARNING for any ordinary app. Such a rewrite is still done, said at DEBUG only; one caused by
something warned about itself (an input pattern, a ``patternProperties`` key left out) is named.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

import pytest
from fastapi import FastAPI
from pydantic import BaseModel, Field

from mcp_middleware.catalog import build_catalog
from tests.unit.test_unportable_patterns import CATALOG, OUTPUT_WHY, WHY

ONE_OF_SAID = "oneOf (now anyOf: a keyword below it was left out, so a value may match two branches)"
WORD_KEY = {"type": "object", "patternProperties": {"^\\w+$": {"type": "string"}}}  # no portable form


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    bark: str = Field(pattern=r"^w(o+)f$")  # portable: kept in input schemas, left out of output ones


class Bird(BaseModel):
    kind: Literal["bird"] = "bird"
    song: str = Field(pattern=r"^\w+$")  # no portable form: left out of input schemas too, and said


class Owner(BaseModel):
    pet: Annotated[Cat | Dog, Field(discriminator="kind")]


class Keeper(BaseModel):
    pet: Annotated[Cat | Bird, Field(discriminator="kind")]


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/search", operation_id="search", response_model=list[Owner])
    def search() -> list[Owner]:
        return []

    @app.post("/owners", operation_id="owners", response_model=Owner)
    def owners(owner: Owner) -> Owner:
        return owner

    @app.post("/keepers", operation_id="keepers")
    def keepers(keeper: Keeper) -> None:
        return None

    return app


def _said(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == CATALOG and r.levelno == level]


def _output_doc(labels: Any, components: dict[str, Any] | None = None) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"labels": labels}}
    ok = {"description": "ok", "content": {"application/json": {"schema": schema}}}
    operation = {"operationId": "a", "responses": {"200": ok}}
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"get": operation}}}
    return {**doc, "components": {"schemas": components}} if components else doc


def _output_labels(caplog: pytest.LogCaptureFixture, labels: Any, components: dict[str, Any] | None = None) -> Any:
    with caplog.at_level(logging.DEBUG, logger=CATALOG):
        tool = build_catalog(_output_doc(labels, components)).tools[0].tool
    return tool["outputSchema"]["properties"]["labels"]


def test_a_discriminated_union_of_response_models_with_a_pattern_warns_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The review's app: GET /search returns ``list[Owner]``, ``Owner.pet`` a ``Cat | Dog`` whose
    ``Dog.bark`` has a pattern. Its output schema's ``oneOf`` is an ``anyOf`` (never stricter),
    said at DEBUG only; POST /owners, whose input schema keeps the portable pattern, says nothing
    either. POST /keepers's input pattern has no portable form: its ``oneOf`` is named."""
    with caplog.at_level(logging.DEBUG, logger=CATALOG):
        tools = {spec.name: spec.tool for spec in build_catalog(_app().openapi()).tools}
    search = json.dumps(tools["search"]["outputSchema"])
    assert '"oneOf"' not in search
    assert '"anyOf"' in search
    assert '"oneOf"' in json.dumps(tools["owners"]["inputSchema"])
    assert _said(caplog) == [
        f"Route POST /keepers: {WHY}input property 'pet' {ONE_OF_SAID}, "
        "input schema 'Bird' property 'song' pattern '^\\\\w+$'"
    ]
    debug = _said(caplog, logging.DEBUG)
    assert any(said.startswith("Route GET /search: ") and f"'pet' {ONE_OF_SAID}" in said for said in debug)
    assert any(said.startswith("Route POST /owners: ") for said in debug)


def test_a_quiet_loss_through_a_component_warns_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """A branch's component loses only an output pattern (found by the dry conversion that follows
    references): rewritten, unsaid."""
    components = {"Word": {"type": "string", "pattern": "^a"}}
    labels = _output_labels(caplog, {"oneOf": [{"$ref": "#/components/schemas/Word"}, {"const": "b"}]}, components)
    assert "oneOf" not in labels
    assert _said(caplog) == []


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param({"oneOf": [WORD_KEY, {"type": "object", "maxProperties": 1}]}, id="key"),
        pytest.param(
            {"oneOf": [{"type": "string", "pattern": "^a"}, WORD_KEY, {"type": "object", "maxProperties": 1}]},
            id="a key beside a pattern",
        ),
    ],
)
def test_an_output_rewrite_for_a_key_left_out_is_named(caplog: pytest.LogCaptureFixture, labels: Any) -> None:
    """A ``patternProperties`` key left out is warned about in output schemas too: the ``oneOf``
    it loosens is named with it, under the heading of an output schema (not "the route still
    checks its arguments", which is about input), also beside a pattern left out unsaid."""
    converted = _output_labels(caplog, labels)
    assert "oneOf" not in converted
    assert _said(caplog) == [
        f"Route GET /a: {OUTPUT_WHY}output property 'labels' patternProperties key '^\\\\w+$', "
        f"output property 'labels' {ONE_OF_SAID}"
    ]


def test_an_output_rewrite_for_a_key_left_out_in_a_component_is_named(caplog: pytest.LogCaptureFixture) -> None:
    """The key lost in a component, found by the dry conversion: the rewrite is named."""
    components = {"Keyed": WORD_KEY}
    labels = {"oneOf": [{"$ref": "#/components/schemas/Keyed"}, {"type": "object", "maxProperties": 1}]}
    assert "oneOf" not in _output_labels(caplog, labels, components)
    assert _said(caplog) == [
        f"Route GET /a: {OUTPUT_WHY}output property 'labels' {ONE_OF_SAID}, "
        f"output schema 'Keyed' patternProperties key '^\\\\w+$'"
    ]


@pytest.mark.parametrize(
    ("labels", "gone"),
    [
        pytest.param({"type": "string", "not": {"format": "email"}}, "not", id="not format"),
        pytest.param({"type": "number", "not": {"multipleOf": 0.5}}, "not", id="not multipleOf"),
        pytest.param(
            {"type": "object", "not": {"patternProperties": {"^\\d$": {"type": "integer"}}}},
            "not",
            id="not narrowed key",
        ),
        pytest.param(
            {"type": "array", "contains": {"type": "string", "pattern": "^a"}, "maxContains": 1},
            "maxContains",
            id="contains pattern",
        ),
        pytest.param(
            {"if": {"type": "string", "pattern": "^a"}, "then": {"maxLength": 2}, "else": {"type": "string"}},
            "if",
            id="if pattern",
        ),
    ],
)
def test_each_quiet_output_loss_loosens_unsaid(caplog: pytest.LogCaptureFixture, labels: Any, gone: str) -> None:
    """Every keyword an output schema leaves out by design (a ``format``, a ``multipleOf``, a
    ``pattern``, a key narrowed: ``\\d`` as ``[0-9]``) loosens the place above it unsaid, at
    DEBUG only."""
    assert gone not in _output_labels(caplog, labels)
    assert _said(caplog) == []
    (debug,) = _said(caplog, logging.DEBUG)
    assert f"output property 'labels' {gone} (" in debug
