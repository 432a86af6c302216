"""A tool's input and output schemas: its arguments' schemas in one object, and its success body's.

Part of :mod:`mcp_middleware._tool_builder`; each schema is converted by :mod:`mcp_middleware._schema`,
its components inlined (``$defs`` only for recursive ones) before an argument's place adds to it.

    A flattened body's ``additionalProperties`` (pydantic's ``extra="forbid"`` or ``"allow"``)
    becomes the input schema's; where it allows other properties, arguments of other names go
    into the body (any other unknown argument is refused, :mod:`mcp_middleware._requests`). No
    other schema but a tool's without arguments says ``additionalProperties: false``, though
    unknown arguments are refused: clients backed by Gemini have rejected schemas that use it. An
    argument given in base64 (a binary body or file field) says so (``contentEncoding: base64``),
    and a string path parameter that it cannot be empty (``minLength: 1``, :func:`_at_least`);
    a required parameter sent as repeated values (a query, a header, a form field) that may be an
    array, that its arrays cannot be empty (``minItems: 1``, :func:`_at_least`: none would be
    sent); a number path parameter whose route's convertor takes digits only (``{id:int}``, ``{x:float}``,
    known from its route guard) that it cannot be negative (``minimum: 0``, :func:`_at_least_0`); a
    path parameter of an app's own convertor (its guard's ``own_regexes``) that it is the path's
    text, a string matching the convertor's regex (``pattern``, where ECMA-262 can say it:
    :func:`_path_text`).
    ``openapi_extra={"x-mcp-input-schema": {...}}`` replaces the generated input schema verbatim
    (arguments are still mapped, a property it declares that nothing maps is accepted: it goes
    into a body that takes other properties, and is not sent otherwise: the catalog warns, naming
    it); ``x-mcp-output-schema``
    likewise. Otherwise the output schema is the documented success body's, when it is an object
    (with properties or not: a ``dict[str, X]`` response model's ``additionalProperties`` map is
    one) and the route's JSON is sure to fit it (:meth:`_Schemas.output_schema`); a body that is
    no object (``list[Item]``, ``int``, ``Optional[Item]``, ``Cat | Dog``) has it wrapped
    (:func:`wrapped`: ``{"type": "object", "properties": {"result": <its schema>}, ...}``), and the
    tool's ``structuredContent`` is ``{"result": <the body>}`` (``ToolSpec.wraps_result``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from mcp_middleware._naming import _Op
from mcp_middleware._operation_reader import _Entry, _Reader
from mcp_middleware._plan import _JSON, _PATH
from mcp_middleware._request_media import _is_json_media, _media_type, _pick_media
from mcp_middleware._schema_keywords import is_object_schema
from mcp_middleware._schema_nulls import nulls_not_required

__all__ = ["RESULT", "WRAP_MARKER", "_Schemas", "wrapped"]

RESULT: Final = "result"  # the property of a wrapped output schema that holds the body's
WRAP_MARKER: Final = "x-fastmcp-wrap-result"  # a wrapped output schema's extension, as FastMCP's says it


class _Schemas(_Reader):
    """Assembles a tool's schemas; ``reshaped`` and ``nones_dropped`` (set by
    :class:`~mcp_middleware._tool_builder._Builder`) name the operations whose JSON is not
    their documented response model."""

    reshaped: frozenset[tuple[str, str]]
    nones_dropped: frozenset[tuple[str, str]]

    def input_schema(
        self,
        explicit: Mapping[str, Any] | None,
        entries: list[_Entry],
        names: list[str],
        others: Any,
        non_negative: frozenset[str] = frozenset(),
        texts: Mapping[str, str] | None = None,
        filled: frozenset[str] = frozenset(),
    ) -> Any:
        """``explicit``: the operation's ``x-mcp-input-schema``, if any; ``others``: the flattened
        body's ``additionalProperties``, None when it says nothing; ``non_negative``: the path
        parameters whose route's convertor takes digits only (``{id:int}``, ``{x:float}``);
        ``texts``: those of an app's own convertor, each with its regex (Python's ``re``);
        ``filled``: the arguments sent as repeated values that an empty array would leave out
        (``minItems: 1``, :func:`_at_least`)."""
        if explicit is not None:
            return copy.deepcopy(dict(explicit))
        if not entries and others is None:
            return {"type": "object", "properties": {}, "additionalProperties": False}
        refs: set[str] = set()
        properties = {
            name: self.schemas.convert_property(
                entry.schema, refs, collapse=True, required=entry.required, null_sendable=entry.keep_none, name=name
            )
            for entry, name in zip(entries, names, strict=True)
        }
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [name for entry, name in zip(entries, names, strict=True) if entry.required]
        if required:
            schema["required"] = required
        if isinstance(others, (bool, Mapping)):
            schema["additionalProperties"] = self.schemas.convert(others, refs, collapse=True)
        if refs:  # inlined before what follows reads a property's type
            schema = self.schemas.standalone(schema, refs, collapse=True)
        for entry, name in zip(entries, names, strict=True):
            prop = _argument(entry, schema["properties"][name], non_negative, texts)
            schema["properties"][name] = _at_least(prop, "array", "minItems") if name in filled else prop
        return schema

    def output_schema(self, op: _Op) -> dict[str, Any] | None:
        """The operation's ``x-mcp-output-schema``, else its documented success body's schema when
        that is an object (:func:`wrapped` when it is not), and the route's JSON is sure to fit
        it: None when the route reshapes its response model (``reshaped``), when its 2xx
        responses document more than one body (another schema, another media type, none), or
        when its body may be any JSON value (``{}``: a route without a response model)."""
        override = op.operation.get("x-mcp-output-schema")
        if isinstance(override, Mapping):
            return copy.deepcopy(dict(override))
        if (op.path, op.method) in self.reshaped:
            return None  # other properties or other names than the document says
        responses = self.deref(op.operation.get("responses"))
        if not isinstance(responses, Mapping):
            return None
        bodies = [self.json_body(self.deref(r)) for code, r in responses.items() if str(code).startswith("2")]
        if not bodies or any(body != bodies[0] for body in bodies[1:]):
            return None  # a 2xx answer that may not fit the schema of another
        root = bodies[0]
        wrap = not _is_object(root)
        if wrap and not _says_a_shape(root):
            return None  # no schema (a 204), or any JSON value: its shape is unknown
        refs: set[str] = set()
        schema: dict[str, Any] = self.schemas.convert(root, refs, collapse=False)
        if wrap:
            schema = wrapped(schema)
        else:
            schema.setdefault("type", "object")
        if refs:
            schema = self.schemas.standalone(schema, refs, collapse=False)
        if (op.path, op.method) in self.nones_dropped:
            schema = nulls_not_required(schema)
            if wrap:  # the value may be null, its wrapper always has it
                schema["required"] = [RESULT]
        return schema

    def wraps_result(self, op: _Op, schema: Mapping[str, Any] | None) -> bool:
        """Whether the tool's ``structuredContent`` is its JSON body wrapped (:func:`wrapped`):
        ``schema``, its output schema, was made so (never an ``x-mcp-output-schema``, which says
        what the result is as it stands)."""
        if schema is None or schema.get(WRAP_MARKER) is not True:
            return False
        return not isinstance(op.operation.get("x-mcp-output-schema"), Mapping)

    def json_body(self, response: Any) -> Any:
        """The (resolved) schema of a response's JSON body; None when it documents no content,
        no JSON, or another media type besides (which has no structured content)."""
        content = response.get("content") if isinstance(response, Mapping) else None
        if not isinstance(content, Mapping):
            return None
        picked = _pick_media(content)
        if picked is None or picked[0] != _JSON or not isinstance(picked[2], Mapping):
            return None
        if not all(_is_json_media(_media_type(key)) for key in content):
            return None
        return self.schemas.resolve(picked[2].get("schema"))


def wrapped(schema: Any) -> dict[str, Any]:
    """The output schema of a route whose success body is no JSON object (a list, a number, a
    string, a boolean, ``Optional[Item]``, a union): an object whose one required property
    ``result`` has the body's schema, as FastMCP and the official Python SDK's servers make it
    (``structuredContent`` must be an object before 2026-07-28, whose clients take one too).
    :data:`WRAP_MARKER` says so to a client that unwraps it (FastMCP's)."""
    return {"type": "object", "properties": {RESULT: schema}, "required": [RESULT], WRAP_MARKER: True}


def _says_a_shape(schema: Any) -> bool:
    """Whether a (resolved) response schema that is no object's says what the body is: one with
    none of these keywords (FastAPI's ``{}`` for a route without a response model or return
    annotation, only a ``title``) allows any JSON value, whose shape is unknown."""
    return isinstance(schema, Mapping) and not _SHAPE_KEYWORDS.isdisjoint(schema)


_SHAPE_KEYWORDS: Final = frozenset(("type", "anyOf", "oneOf", "allOf", "enum", "const", "items", "$ref"))


def _argument(entry: _Entry, prop: Any, non_negative: frozenset[str], texts: Mapping[str, str] | None) -> Any:
    """An argument's converted (and inlined) schema, with what its place in the request adds."""
    prop = {} if prop is True else prop
    if entry.where == _PATH:
        if texts and entry.wire in texts:
            from mcp_middleware._ecma_regex import whole_match_pattern  # on first use: a convertor's text

            prop = _path_text(prop, whole_match_pattern(texts[entry.wire]))
        prop = _at_least(_at_least_0(prop) if entry.wire in non_negative else prop, "string", "minLength")
    if entry.file is not None and entry.file[1]:
        prop = _as_base64(prop)
    if isinstance(prop, dict) and (entry.description or entry.deprecated):
        prop = {**prop, "description": entry.description} if entry.description else dict(prop)
        if entry.deprecated:
            prop["deprecated"] = True
    return prop


def _is_object(schema: Any) -> bool:
    """Whether a (resolved) response schema is an object's, which is all an ``outputSchema`` must
    be (``type: "object"``; ``properties`` is optional in the spec's schema and the SDKs): one with
    properties (:func:`~mcp_middleware._schema_keywords.is_object_schema`), or a ``dict[str, X]``
    response model's ``{"type": "object", "additionalProperties": ...}``."""
    if is_object_schema(schema):
        return True
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    return kind == "object" or kind == ["object"]


def _at_least(schema: Any, kind: str, keyword: str) -> Any:
    """A converted argument's schema, its values of type ``kind`` saying ``keyword: 1`` (a larger
    declared one stands), through its ``anyOf``/``oneOf`` branches: ``("string", "minLength")`` for
    a path parameter (an empty value would take a segment out of the path, and is refused),
    ``("array", "minItems")`` for a required parameter sent as repeated values (an empty array
    leaves it out)."""
    if not isinstance(schema, dict):
        return schema
    for key in ("anyOf", "oneOf"):
        if isinstance(branches := schema.get(key), list):
            schema = {**schema, key: [_at_least(branch, kind, keyword) for branch in branches]}
    declared = schema.get("type")
    if declared != kind and not (isinstance(declared, list) and kind in declared):
        return schema
    least = schema.get(keyword)
    if isinstance(least, int) and not isinstance(least, bool) and least >= 1:
        return schema
    return {**schema, keyword: 1}


def _path_text(schema: Any, pattern: str | None) -> Any:
    """A converted path parameter's schema where an app's own convertor reads it: a string (the
    path's text, which the convertor turns into the value the route gets: a documented ``integer``
    255 would be sent as ``255``, which a hex convertor reads as 0x255; only the title is kept),
    saying ``pattern`` (beside a declared one, in ``allOf``: the route checks both), the convertor's
    regex as ECMA-262 says it (None where it cannot: no pattern, the route guard still refuses what
    the convertor does not take). A schema with no ``type`` (a recursive model's ``$ref``, any
    value) keeps what it says, and gets the pattern."""
    if not isinstance(schema, dict):
        return schema
    if "type" in schema and schema["type"] != "string":
        schema = {"type": "string", **({"title": schema["title"]} if "title" in schema else {})}
    if pattern is None:
        return schema
    if "pattern" in schema:
        return {**schema, "allOf": [*schema.get("allOf", ()), {"pattern": pattern}]}
    return {**schema, "pattern": pattern}


def _at_least_0(schema: Any) -> Any:
    """A converted path parameter's number schema saying ``minimum: 0`` (a larger declared one
    stands), where the route's convertor takes digits only: a negative value misses it."""
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if not (kind in ("integer", "number") or (isinstance(kind, list) and {"integer", "number"} & set(kind))):
        return schema
    least = schema.get("minimum")
    if isinstance(least, (int, float)) and not isinstance(least, bool) and least >= 0:
        return schema
    return {**schema, "minimum": 0}


def _as_base64(schema: Any) -> Any:
    """A converted file field's schema, its file's string saying ``contentEncoding: base64``."""
    if not isinstance(schema, dict):
        return schema
    for key in ("anyOf", "allOf"):  # an optional file; a file two form models declare differently
        if isinstance(branches := schema.get(key), list):
            return {**schema, key: [_as_base64(branch) for branch in branches]}
    if schema.get("type") == "array":
        return {**schema, "items": _as_base64(schema.get("items"))}
    if schema.get("type") == "string":
        return {**schema, "contentEncoding": "base64"}
    return schema
