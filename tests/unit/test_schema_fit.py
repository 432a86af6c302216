"""_schema_fit.fits: whether every value of one schema surely satisfies another (False when unsure)."""

from __future__ import annotations

from typing import Any

import pytest

from mcp_middleware._schema_fit import fits

_DEFS = (
    {
        "Node": {
            "type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}},
            "required": ["children"],
        },
        "Word": {"type": "string"},
        "Loop": {"$ref": "#/components/schemas/Loop"},
    },
    "#/components/schemas/",
)
_MINE = (
    {
        "Node": {
            "type": "object",
            "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            "required": ["children"],
        },
        "Text": {"type": "string", "title": "Text"},
        "Loop": {"$ref": "#/$defs/Loop"},
    },
    "#/$defs/",
)
_INT, _STR, _NUM = {"type": "integer"}, {"type": "string"}, {"type": "number"}


def _obj(properties: dict[str, Any], required: list[str], **others: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, **others}


@pytest.mark.parametrize(
    ("inner", "outer", "expected"),
    [
        (_INT, _INT, True),
        ({**_INT, "title": "A", "readOnly": True}, {**_INT, "title": "B"}, True),  # annotations ignored
        (_INT, _NUM, True),  # an integer is a number
        (_NUM, _INT, False),
        (_STR, {"anyOf": [_NUM, _STR]}, True),  # a Decimal: written as a string, documented either
        ({"anyOf": [_NUM, _STR]}, _STR, False),
        ({"anyOf": [_INT, {"type": "null"}]}, {"anyOf": [_NUM, {"type": "null"}]}, True),
        (
            {"type": "array", "items": _INT},
            {"type": "string", "contentMediaType": "application/json"},
            False,
        ),  # Json[X]
        ({"type": "array", "items": _INT}, {"type": "array", "items": _NUM}, True),
        ({"type": "array", "items": _STR}, {"type": "array", "items": _INT}, False),
        ({"type": "array"}, {"type": "array", "items": _INT}, False),
        ({"type": ["string", "null"]}, {"type": ["string", "null", "integer"]}, True),
        ({"type": ["string", "null"]}, {"type": "string"}, False),
        ({}, _INT, False),  # says nothing: anything
        (True, {"title": "any"}, True),
        (True, _INT, False),
        (_INT, True, True),
        (_INT, False, False),
        (False, _INT, True),
        ({"enum": ["a"], "type": "string"}, {"enum": ["a", "b"], "type": "string"}, True),
        ({"enum": ["a", "c"]}, {"enum": ["a", "b"]}, False),
        ({"const": "a"}, {"enum": ["a", "b"]}, True),
        ({"const": "a"}, {"const": "a"}, True),
        ({"enum": ["a"]}, {"const": "a"}, True),
        (_STR, {"const": "a"}, False),
        (_STR, {"enum": ["a"]}, False),
        ({**_STR, "maxLength": 3}, {**_STR, "maxLength": 3}, True),
        ({**_STR, "format": "binary"}, {**_STR, "contentMediaType": "application/octet-stream"}, True),  # bytes
        (_STR, {**_STR, "maxLength": 3}, False),  # a constraint it does not have
        ({**_STR, "pattern": "^a", "minLength": 1}, {**_STR, "pattern": "^a"}, True),  # more are fine
        # objects: a documented property it does not write (a computed field) is fine when not required
        (_obj({"w": _INT}, ["w"]), _obj({"w": _INT, "area": _INT}, ["w"]), True),
        (_obj({"w": _INT}, ["w"]), _obj({"w": _INT, "area": _INT}, ["w", "area"]), False),
        (_obj({"renamed": _INT}, ["renamed"]), _obj({"ren": _INT}, ["ren"]), False),  # serialization_alias
        (_obj({"w": _INT, "more": _INT}, ["w"]), _obj({"w": _INT}, ["w"], additionalProperties=False), False),
        (_obj({"w": _INT, "more": _INT}, ["w"]), _obj({"w": _INT}, ["w"], additionalProperties=_INT), True),
        (_obj({"w": _INT, "more": _STR}, ["w"]), _obj({"w": _INT}, ["w"], additionalProperties=_INT), False),
        (_obj({"w": _INT}, ["w"], additionalProperties=_STR), _obj({"w": _INT, "x": _INT}, []), False),
        (_obj({"w": _INT}, ["w"], additionalProperties=_INT), _obj({"w": _INT, "x": _INT}, []), True),
        (_obj({"w": _INT}, ["w"], additionalProperties=True), _obj({"w": _INT}, [], additionalProperties=_INT), False),
        ({"type": "object", "additionalProperties": _STR}, {"type": "object", "additionalProperties": _STR}, True),
        ({"type": "object", "additionalProperties": _STR}, {"type": "object", "additionalProperties": _INT}, False),
        ({"type": "object"}, {"type": "object", "additionalProperties": _INT}, False),  # lists none: any
        ({"type": "object", "required": "w"}, {"type": "object", "required": ["w"]}, False),
        # references, each in its own definitions; a recursive model; a dangling or looping one
        ({"$ref": "#/$defs/Node"}, {"$ref": "#/components/schemas/Node"}, True),
        ({"$ref": "#/$defs/Text"}, {"$ref": "#/components/schemas/Word"}, True),
        ({"$ref": "#/$defs/Text"}, {"$ref": "#/components/schemas/Node"}, False),
        ({"$ref": "#/$defs/Gone"}, {"$ref": "#/components/schemas/Word"}, False),
        ({"$ref": "#/$defs/Text"}, {"$ref": "#/components/schemas/Gone"}, False),
        ({"$ref": "#/$defs/Loop"}, {"$ref": "#/components/schemas/Word"}, False),
        ({"$ref": "other.json#/X"}, _STR, False),
        ({"$ref": "#/$defs/Text", "maxLength": 2}, {"$ref": "#/components/schemas/Word", "maxLength": 2}, True),
        ({"$ref": "#/$defs/Text"}, {"$ref": "#/components/schemas/Word", "maxLength": 2}, False),
        # same-named references are still compared by content: a constraint holding one is not trusted
        ({**_STR, "x-ref": {"$ref": "#/$defs/Text"}}, {**_STR, "x-ref": {"$ref": "#/$defs/Text"}}, False),
        # unions and intersections
        ({"oneOf": [_INT, _STR], "discriminator": {}}, {"oneOf": [_INT, _STR], "discriminator": {"x": 1}}, True),
        ({"oneOf": [_INT, _STR]}, {"oneOf": [_STR, _INT]}, False),  # branch by branch
        ({"oneOf": [_INT, _STR]}, {"anyOf": [_NUM, _STR]}, True),
        (_INT, {"oneOf": [_STR, _INT]}, True),
        ({"allOf": [{"$ref": "#/$defs/Text"}]}, _STR, True),
        ({"allOf": [_STR]}, {"allOf": [_STR]}, True),
        (_STR, {"allOf": [_STR]}, False),
        ({"prefixItems": [_INT], "type": "array"}, {"prefixItems": [_NUM], "type": "array"}, True),
        ({"prefixItems": [_INT, _INT]}, {"prefixItems": [_INT]}, False),
    ],
)
def test_fits(inner: Any, outer: Any, expected: bool) -> None:
    assert fits(inner, _MINE, outer, _DEFS) is expected


def test_a_deep_schema_is_unsure() -> None:
    inner: Any = _INT
    for _ in range(100):
        inner = {"type": "array", "items": inner}
    assert fits(inner, ({}, "#/$defs/"), inner, ({}, "#/$defs/")) is False
    assert fits(inner["items"]["items"], ({}, "#/$defs/"), inner["items"]["items"], ({}, "#/$defs/")) is False
    shallow: Any = _INT
    for _ in range(20):
        shallow = {"type": "array", "items": shallow}
    assert fits(shallow, ({}, "#/$defs/"), shallow, ({}, "#/$defs/")) is True


def test_a_failed_branch_assumes_nothing() -> None:
    """A recursive pair is taken to fit only along the comparison that reached it again: the first
    branch of the documented union fails deep down, and the second is compared afresh."""
    mine = ({"A": _obj({"next": {"$ref": "#/$defs/A"}, "v": _STR}, ["v"])}, "#/$defs/")
    theirs = (
        {
            "A": _obj({"next": {"$ref": "#/components/schemas/A"}, "v": _INT}, ["v"]),
            "B": _obj({"next": {"$ref": "#/components/schemas/A"}, "v": _STR}, ["v"]),
        },
        "#/components/schemas/",
    )
    outer = {"anyOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]}
    assert fits({"$ref": "#/$defs/A"}, mine, outer, theirs) is False
