"""A keyword conversion loosens, in a negative or exclusive position, must not tighten the whole.

The rule (:mod:`mcp_middleware._schema`): the published schema is never stricter than what the app
accepts. Leaving out a keyword with no portable form loosens the subschema it was in, which
loosens the whole only where that subschema is positive. Review: under ``not`` a loosened
subschema refuses more (``not: {}`` refuses everything), under ``oneOf`` a value may now match two
branches, under ``if`` a value may now take ``then`` instead of ``else``, and a loosened
``contains`` counts more items against ``maxContains``. These arise from hand-written schemas only
(``openapi_extra``, ``json_schema_extra``). Each case: a value the original schema takes, which
the published one must take too (``jsonschema``).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs in the test dependencies
import pytest

from mcp_middleware._schema_nulls import nulls_not_required
from mcp_middleware.catalog import build_catalog
from tests.unit.test_unportable_patterns import CATALOG, WHY

WORD = {"type": "string", "pattern": "^\\w+$"}  # no portable form: left out of input schemas
WORD_SAID = "input property 'labels' pattern '^\\\\w+$'"


def _doc(body: Any, components: dict[str, Any] | None = None, *, output: bool = False) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"labels": body}}
    media = {"content": {"application/json": {"schema": schema}}}
    operation: dict[str, Any] = {"operationId": "a", "responses": {"200": {"description": "ok"}}}
    if output:
        operation["responses"]["200"].update(media)
    else:
        operation["requestBody"] = media
    doc = {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/a": {"post": operation}}}
    return {**doc, "components": {"schemas": components}} if components else doc


def _labels(
    body: Any, caplog: pytest.LogCaptureFixture, components: dict[str, Any] | None = None, *, output: bool = False
) -> Any:
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        tool = build_catalog(_doc(body, components, output=output)).tools[0].tool
    return tool["outputSchema" if output else "inputSchema"]["properties"]["labels"]


def _said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == CATALOG]


def _accepts(schema: Any, instance: Any, components: dict[str, Any] | None = None) -> bool:
    """Whether ``jsonschema`` takes ``instance``; ``components`` as ``$defs`` (references rewritten)."""
    if components:
        text = json.dumps({**schema, "$defs": components}).replace("#/components/schemas/", "#/$defs/")
        schema = json.loads(text)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    return bool(jsonschema.Draft202012Validator(schema, format_checker=checker).is_valid(instance))


NEGATED = [
    # (original, a value it takes, what is said)
    pytest.param({"type": "string", "not": WORD}, "a b", id="not pattern"),
    pytest.param({"type": "string", "not": {"not": {"not": WORD}}}, "a b", id="not not not pattern"),
    pytest.param(
        {"type": "object", "not": {"patternProperties": {"^\\w+$": {"type": "integer"}}}},
        {"héllo": "x"},
        id="not patternProperties key",
    ),
    pytest.param(
        {"type": "object", "not": {"patternProperties": {"^\\d$": {"type": "integer"}}}},
        {"٣": "x"},  # ^\d$ matches it in the engines, ^[0-9]$ (its portable form) not
        id="not narrowed patternProperties key",
    ),
    pytest.param({"type": "object", "not": {"propertyNames": WORD}}, {"a b": 1}, id="not propertyNames"),
    pytest.param({"type": "string", "not": {"anyOf": [WORD, {"const": 1}]}}, "a b", id="not anyOf"),
    pytest.param({"type": "array", "items": {"not": WORD}}, ["a b"], id="items not"),
    pytest.param(
        {"$defs": {"P": WORD}, "type": "string", "not": {"$ref": "#/$defs/P"}}, "a b", id="not local reference"
    ),
    pytest.param(
        {"$defs": {"P": {"$ref": "#/$defs/Q"}, "Q": WORD}, "type": "string", "not": {"$ref": "#/$defs/P"}},
        "a b",
        id="not local reference to a local reference",
    ),
]


@pytest.mark.parametrize(("original", "value"), NEGATED)
def test_a_not_over_something_left_out_goes(caplog: pytest.LogCaptureFixture, original: Any, value: Any) -> None:
    """Review: ``not: {"pattern": "^\\w+$"}`` became ``not: {}``, which refuses every value. A
    ``not`` whose subschema lost anything (at any depth, through a reference) goes, and is named."""
    assert _accepts(original, value)
    labels = _labels(original, caplog)
    assert '"not"' not in json.dumps(labels)
    assert _accepts(labels, value)
    (said,) = _said(caplog)
    assert said.startswith(f"Route POST /a: {WHY}")
    assert "property 'labels' not (left out: a keyword below it was" in said


def test_a_not_over_a_component_that_lost_a_pattern_goes(caplog: pytest.LogCaptureFixture) -> None:
    """Through ``$ref``s to components (two deep), converted apart and cached."""
    components = {"Word": {"$ref": "#/components/schemas/Inner"}, "Inner": WORD}
    original = {"type": "string", "not": {"$ref": "#/components/schemas/Word"}}
    assert _accepts(original, "a b", components)
    labels = _labels(original, caplog, components)
    assert "not" not in labels
    assert _accepts(labels, "a b")
    assert "input property 'labels' not (left out" in _said(caplog)[0]


def test_a_not_over_a_recursive_component_that_lost_a_pattern_goes(caplog: pytest.LogCaptureFixture) -> None:
    node = {"type": "object", "properties": {"name": WORD, "child": {"$ref": "#/components/schemas/Node"}}}
    original = {"type": "object", "not": {"$ref": "#/components/schemas/Node"}}
    value = {"child": {"name": "a b"}}
    assert _accepts(original, value, {"Node": node})
    labels = _labels(original, caplog, {"Node": node})
    assert "not" not in labels
    assert _accepts(labels, value)


def test_a_dangling_reference_under_not_is_a_loss_too(caplog: pytest.LogCaptureFixture) -> None:
    """A dangling ``#/components`` reference is dropped (it then takes anything): under ``not``,
    that would refuse everything."""
    labels = _labels({"type": "string", "not": {"$ref": "#/components/schemas/Gone"}}, caplog)
    assert labels == {"type": "string"}


def test_a_not_over_what_was_kept_stays(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing left out: ``not`` stays as written (its portable pattern translated), nothing said."""
    original = {"type": "string", "not": {"pattern": "^[a-z]+$", "format": "date-time"}}
    labels = _labels(original, caplog)
    assert labels == {"type": "string", "not": {"pattern": "^[a-z]+$(?!\\n)", "format": "date-time"}}
    assert _said(caplog) == []


def test_a_one_of_whose_branch_was_loosened_is_an_any_of(caplog: pytest.LogCaptureFixture) -> None:
    """Review: with the pattern left out, ``"a b"`` matched both branches, which ``oneOf`` refuses.
    ``anyOf`` of the same branches is never stricter than the ``oneOf``."""
    original = {"oneOf": [WORD, {"type": "string", "maxLength": 3}]}
    assert _accepts(original, "a b")
    labels = _labels(original, caplog)
    assert labels == {"anyOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]}
    assert _accepts(labels, "a b")
    assert _said(caplog) == [
        f"Route POST /a: {WHY}{WORD_SAID}, input property 'labels' oneOf (now anyOf: a keyword below it was "
        "left out, so a value may match two branches)"
    ]


def test_a_one_of_beside_an_any_of_goes_into_all_of(caplog: pytest.LogCaptureFixture) -> None:
    original = {"anyOf": [{"type": "string"}], "allOf": [{"minLength": 1}], "oneOf": [WORD, {"maxLength": 3}]}
    assert _accepts(original, "a b")
    labels = _labels(original, caplog)
    assert labels == {
        "anyOf": [{"type": "string"}],
        "allOf": [{"minLength": 1}, {"anyOf": [{"type": "string"}, {"maxLength": 3}]}],
    }
    assert _accepts(labels, "a b")


def test_a_one_of_beside_an_any_of_and_a_malformed_all_of_goes(caplog: pytest.LogCaptureFixture) -> None:
    """No place left for its ``anyOf``: the ``oneOf`` goes (looser still); the malformed ``allOf``
    is copied as written."""
    labels = _labels({"anyOf": [{"type": "string"}], "allOf": 5, "oneOf": [WORD, {"maxLength": 3}]}, caplog)
    assert labels == {"anyOf": [{"type": "string"}], "allOf": 5}


def test_a_one_of_through_a_component_is_an_any_of(caplog: pytest.LogCaptureFixture) -> None:
    components = {"Word": WORD}
    original = {"oneOf": [{"$ref": "#/components/schemas/Word"}, {"type": "string", "maxLength": 3}]}
    assert _accepts(original, "a b", components)
    labels = _labels(original, caplog, components)
    assert "oneOf" not in labels
    assert _accepts(labels, "a b")


def test_a_one_of_of_recursive_components_with_nothing_left_out_stays(caplog: pytest.LogCaptureFixture) -> None:
    """pydantic's discriminated union of recursive models: nothing lost, nothing changed or said."""
    components = {
        "Tree": {"oneOf": [{"$ref": "#/components/schemas/Leaf"}, {"$ref": "#/components/schemas/Branch"}]},
        "Leaf": {"type": "object", "properties": {"kind": {"const": "leaf"}}, "required": ["kind"]},
        "Branch": {
            "type": "object",
            "properties": {"kind": {"const": "branch"}, "children": {"items": {"$ref": "#/components/schemas/Tree"}}},
            "required": ["kind"],
        },
    }
    with caplog.at_level(logging.WARNING, logger=CATALOG):
        schema = build_catalog(_doc({"$ref": "#/components/schemas/Tree"}, components)).tools[0].tool["inputSchema"]
    assert "oneOf" in json.dumps(schema)
    assert "anyOf" not in json.dumps(schema)
    assert _said(caplog) == []


def test_an_if_that_was_loosened_takes_then_or_else(caplog: pytest.LogCaptureFixture) -> None:
    """Review: with the ``if`` pattern left out, ``"a b"`` took ``then`` (at most 2 long) instead of
    ``else``. An ``if`` that lost anything is ``anyOf: [{allOf: [if, then]}, else]``: never
    stricter, and each branch keeps what it evaluates (for an ``unevaluated*`` above)."""
    original = {"type": "string", "if": WORD, "then": {"maxLength": 2}, "else": {"minLength": 1}}
    assert _accepts(original, "a b")
    labels = _labels(original, caplog)
    assert labels == {"type": "string", "anyOf": [{"allOf": [{"type": "string"}, {"maxLength": 2}]}, {"minLength": 1}]}
    assert _accepts(labels, "a b")
    assert _said(caplog) == [
        f"Route POST /a: {WHY}{WORD_SAID}, input property 'labels' if (now anyOf [if and then, else]: a keyword "
        "below it was left out, so a value may take then instead of else)"
    ]


def test_an_if_without_else_that_was_loosened(caplog: pytest.LogCaptureFixture) -> None:
    original = {"type": "string", "if": WORD, "then": {"maxLength": 2}, "anyOf": [{"minLength": 0}]}
    assert _accepts(original, "a b")
    labels = _labels(original, caplog)
    assert labels["allOf"] == [{"anyOf": [{"allOf": [{"type": "string"}, {"maxLength": 2}]}, True]}]
    assert _accepts(labels, "a b")


def test_an_if_keeps_what_its_then_evaluated(caplog: pytest.LogCaptureFixture) -> None:
    """``then``'s ``properties`` evaluate ``b``: an ``unevaluatedProperties: false`` beside still sees it."""
    original = {
        "type": "object",
        "properties": {"a": {}},
        "if": {"properties": {"a": WORD}},
        "then": {"properties": {"b": {"type": "integer"}}},
        "else": {"properties": {"b": {"type": "string"}}},
        "unevaluatedProperties": False,
    }
    value = {"a": "x y", "b": "text"}
    assert _accepts(original, value)
    labels = _labels(original, caplog)
    assert labels["unevaluatedProperties"] is False
    assert _accepts(labels, value)
    assert _accepts(labels, {"a": "xy", "b": 1})


def test_only_then_or_else_loosened_is_positive(caplog: pytest.LogCaptureFixture) -> None:
    original = {"type": "string", "if": {"maxLength": 2}, "then": WORD, "else": WORD}
    labels = _labels(original, caplog)
    assert labels == {"type": "string", "if": {"maxLength": 2}, "then": {"type": "string"}, "else": {"type": "string"}}
    assert _said(caplog) == [f"Route POST /a: {WHY}{WORD_SAID}"]


def test_a_loosened_contains_counts_no_maximum(caplog: pytest.LogCaptureFixture) -> None:
    """Review: the loosened ``contains`` matched ``"c d"`` too, two items over ``maxContains: 1``."""
    original = {"type": "array", "contains": WORD, "minContains": 1, "maxContains": 1}
    value = ["ab", "c d"]
    assert _accepts(original, value)
    labels = _labels(original, caplog)
    assert labels == {"type": "array", "contains": {"type": "string"}, "minContains": 1, "items": {}}
    assert _accepts(labels, value)
    assert _said(caplog)[0].endswith(
        "input property 'labels' maxContains (left out: a keyword below contains was, so it would count more items)"
    )


POSITIVE = [
    pytest.param({"type": "object", "dependentSchemas": {"a": {"properties": {"b": WORD}}}}, id="dependentSchemas"),
    pytest.param({"type": "array", "prefixItems": [WORD], "items": WORD}, id="prefixItems items"),
    pytest.param({"type": "object", "propertyNames": WORD}, id="propertyNames"),
    pytest.param({"anyOf": [WORD, {"const": 1}], "allOf": [WORD]}, id="anyOf allOf"),
    pytest.param({"type": "array", "contains": WORD, "minContains": 2}, id="contains without maxContains"),
    pytest.param({"type": "object", "additionalProperties": WORD}, id="additionalProperties"),
    pytest.param({"type": "string", "if": WORD}, id="if without then or else"),
]


@pytest.mark.parametrize("original", POSITIVE)
def test_a_loosened_subschema_in_a_positive_place_stays(caplog: pytest.LogCaptureFixture, original: Any) -> None:
    labels = _labels(original, caplog)
    if "items" not in original and original.get("type") == "array":
        assert labels.pop("items") == {}
    assert labels == json.loads(json.dumps(original).replace(', "pattern": "^\\\\w+$"', ""))
    for said in _said(caplog):
        assert "(left out: " not in said
        assert "(now anyOf" not in said


OUTPUT = [
    pytest.param({"type": "string", "not": {"format": "regex"}}, "(", id="not format"),
    pytest.param({"type": "string", "not": {"format": "email"}}, "a", id="not email"),
    pytest.param({"type": "number", "not": {"multipleOf": 0.5}}, 0.3, id="not multipleOf"),
    pytest.param({"type": "string", "not": {"pattern": "^a"}}, "b", id="not pattern"),
    pytest.param({"oneOf": [{"type": "string", "pattern": "^a"}, {"const": "b"}]}, "b", id="oneOf pattern"),
]


@pytest.mark.parametrize(("original", "value"), OUTPUT)
def test_output_schemas_alike(caplog: pytest.LogCaptureFixture, original: Any, value: Any) -> None:
    """Output schemas leave out every ``pattern`` and an unsure ``format`` (a ``regex`` in
    Python's syntax): under ``not`` or ``oneOf`` the same rule holds. Those are left out by design,
    unsaid, and so is what they make conversion loosen above them (at DEBUG only:
    :mod:`tests.unit.test_quiet_output_rewrites`)."""
    assert _accepts(original, value)
    labels = _labels(original, caplog, output=True)
    assert _accepts(labels, value)
    assert _said(caplog) == []


def test_nulls_not_required_under_not_drops_the_not() -> None:
    """The output pass for ``response_model_exclude_none``: a ``required`` left out under ``not``
    would make it refuse more; under ``oneOf`` two branches could match; under ``if``, ``then``
    could be taken instead of ``else``."""
    maybe = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    negated = {"type": "object", "properties": {"a": maybe}, "not": {"properties": {"a": maybe}, "required": ["a"]}}
    published = nulls_not_required(negated)
    assert "not" not in published
    assert _accepts(negated, {})
    assert _accepts(published, {})
    one_of = {
        "type": "object",
        "oneOf": [
            {"properties": {"a": maybe}, "required": ["a"]},
            {"properties": {"b": {"type": "integer"}}, "required": ["b"]},
        ],
    }
    published = nulls_not_required(one_of)
    assert _accepts(one_of, {"b": 1})
    assert _accepts(published, {"b": 1})
    assert "oneOf" not in published
    conditional = {
        "type": "object",
        "if": {"properties": {"a": maybe}, "required": ["a"]},
        "then": {"required": ["c"]},
        "else": {"properties": {"b": {"type": "integer"}}},
    }
    published = nulls_not_required(conditional)
    assert _accepts(conditional, {"b": 1})
    assert _accepts(published, {"b": 1})
    counted = {"type": "array", "contains": {"properties": {"a": maybe}, "required": ["a"]}, "maxContains": 1}
    published = nulls_not_required(counted)
    assert _accepts(counted, [{"a": None}, {}])
    assert _accepts(published, [{"a": None}, {}])


def test_nulls_not_required_through_a_definition_under_not() -> None:
    maybe = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    node = {"type": "object", "properties": {"a": maybe, "next": {"$ref": "#/$defs/Node"}}, "required": ["a"]}
    schema = {"$defs": {"Node": node}, "type": "object", "not": {"$ref": "#/$defs/Node"}}
    published = nulls_not_required(schema)
    assert _accepts(schema, {})
    assert _accepts(published, {})
    assert "not" not in published


def test_nulls_not_required_keeps_a_not_it_left_alone() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}, "not": {"required": ["a"]}}
    assert nulls_not_required(schema) == schema
