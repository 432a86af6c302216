"""From one OpenAPI operation to its MCP ``Tool`` object and its request plan (a :class:`ToolSpec`).

Part of :mod:`mcp_middleware.catalog`. :class:`_Builder` puts together what its parts make: the
arguments read from the operation (:mod:`mcp_middleware._operation_reader`, media types in
:mod:`mcp_middleware._request_media`), their names, the tool's description and annotations
(:mod:`mcp_middleware._tool_labels`), the input and output schemas
(:mod:`mcp_middleware._tool_schemas`, converted by :mod:`mcp_middleware._schema`); and here, the
request plan (:mod:`mcp_middleware._plan`) that :mod:`mcp_middleware._requests` runs per call: each
argument's location and wire name, the body's encoding, the path template, and the forwarded
headers the route does not get (framing, and API keys from the MCP URL whose scheme the
operation's ``security`` does not name). A required JSON body goes out (as ``{}`` when no argument
fills it: a body model without fields, whose tool takes no arguments); an optional one only with
arguments. An ``x-mcp-annotations`` title names the tool too. The input schema is published without
the ``x-mcp-header`` annotations that break the publishing rules (:mod:`mcp_middleware._header_rules`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from mcp_middleware._header_rules import without_invalid_headers
from mcp_middleware._naming import _humanize, _Op, _text
from mcp_middleware._operation_reader import _NOT_ARGUMENTS, _Body, _Entry, _explicit_input
from mcp_middleware._option_lists import request_wins
from mcp_middleware._paths import _plan_for_template
from mcp_middleware._plan import (
    _BODY,
    _FORM,
    _HEADER,
    _JSON,
    _JSON_VALUE,
    _MULTIPART,
    _NO_BODY,
    _NOT_FORWARDED,
    _PATH,
    _QUERY,
    _RAW,
    _SCALARS,
    _WHOLE_BODY,
    _Arg,
    _FilePart,
    _Plan,
)
from mcp_middleware._request_media import is_json_text
from mcp_middleware._requests import ToolSpec
from mcp_middleware._schema import SchemaSet
from mcp_middleware._token_routes import security_schemes
from mcp_middleware._tool_labels import _annotations, _argument_names, _description, _distinct_descriptions
from mcp_middleware._tool_schemas import _Schemas
from mcp_middleware.param_headers import annotations_of
from mcp_middleware.query_keys import pseudo_names

if TYPE_CHECKING:
    from mcp_middleware._route_guard import RouteGuard

__all__ = ["_Builder", "api_key_schemes", "distinct_descriptions"]


def api_key_schemes(document: Mapping[str, Any], where: str) -> dict[str, str]:
    """The document's ``apiKey`` security schemes that live ``in`` ``where``: their parameter
    names, by scheme name."""
    return {
        key: scheme["name"]
        for key, scheme in security_schemes(document).items()
        if isinstance(scheme, Mapping)
        and scheme.get("type") == "apiKey"
        and scheme.get("in") == where
        and isinstance(scheme.get("name"), str)
        and scheme["name"]
    }


def distinct_descriptions(tools: Iterable[ToolSpec]) -> None:
    """Tell apart the listed tools whose descriptions or titles are the same: each says its method
    and path (:func:`~mcp_middleware._tool_labels._distinct_descriptions`)."""
    _distinct_descriptions((spec.tool, spec.method, spec.path) for spec in tools)


class _Builder(_Schemas):
    """Builds the tools of one document, sharing the converted component schemas."""

    def __init__(
        self,
        document: Mapping[str, Any],
        route_paths: Mapping[tuple[str, str], str],
        reshaped: frozenset[tuple[str, str]] = frozenset(),
        nones_dropped: frozenset[tuple[str, str]] = frozenset(),
        forwarded: frozenset[bytes] = frozenset(),
    ) -> None:
        self.document = document
        # header parameters that are no arguments: those the module names, and the headers
        # forwarded from the MCP request (``forward_headers`` and the app's API-key headers:
        # ``forwarded`` holds both), which the route gets from there
        self.not_arguments = _NOT_ARGUMENTS | {name.decode("ascii") for name in forwarded}
        self.route_paths = route_paths
        self.reshaped = reshaped  # operations (path, method) that answer other JSON than documented
        self.nones_dropped = nones_dropped  # operations that leave out properties whose value is None
        components = document.get("components")
        self.schemas = SchemaSet(components.get("schemas") if isinstance(components, Mapping) else None)
        # the query API keys' parameters, by scheme name (what an operation's ``security`` names),
        # and the pseudo-header name of each (query_keys), by parameter name (what the catalog hands on)
        self.query_schemes = api_key_schemes(document, "query")
        self.query_names: dict[str, bytes] = pseudo_names(self.query_schemes.values())
        # the cookie schemes' cookies, which the route gets from the MCP request's Cookie header
        self.key_cookies = frozenset(api_key_schemes(document, "cookie").values())
        # what a route whose operation names none of those schemes does not get
        self.all_withheld = _NOT_FORWARDED | frozenset(self.query_names.values())
        # by tool name: its operation (method, path) and the x-mcp-input-schema properties that no
        # parameter or body field maps and no open body takes (accepted, never sent: the catalog
        # warns, once per tool however often it is built)
        self.unsent: dict[str, tuple[str, str, tuple[str, ...]]] = {}
        # by tool name: why each x-mcp-header annotation left out of its input schema was (the
        # catalog warns, once per tool)
        self.broken_headers: dict[str, tuple[str, ...]] = {}
        # by tool name: its header parameters that a proxy sets, no arguments (the catalog warns,
        # once per tool)
        self.proxied: dict[str, tuple[str, ...]] = {}

    def tool(
        self,
        op: _Op,
        name: str,
        guard: RouteGuard | None = None,
        description: str | None = None,
        goes_on: bool = False,
        uploads: frozenset[str] = frozenset(),
        text_parts: frozenset[str] = frozenset(),
    ) -> ToolSpec:
        """``description``: the one given (``x-mcp-description``) in place of the operation's;
        ``goes_on``: its route may send a response with background work (``_goes_on``);
        ``uploads``, ``text_parts``: its form fields that take an ``UploadFile``, and those that take
        ``bytes`` as text (:func:`~mcp_middleware._form_uploads.form_fields`)."""
        operation = op.operation
        body = self.body(operation)
        entries = self.entries(op, body)
        body = self.with_uploads(body, entries, uploads, text_parts)
        explicit, declared = _explicit_input(operation)
        arg_names = _argument_names(entries, clean=explicit is None)
        filled = self.filled(entries, arg_names, body)
        others = self.other_properties(body)
        title = _text(operation.get("summary")) or _text(op.path_item.get("summary")) or _humanize(name)
        # published without the x-mcp-header annotations that would make clients drop the tool
        digits, texts = (guard.non_negative(), guard.own_regexes()) if guard else (frozenset(), {})
        input_schema, broken = without_invalid_headers(
            self.input_schema(explicit, entries, arg_names, others, digits, texts, filled)
        )
        if broken:
            self.broken_headers[name] = broken
        tool: dict[str, Any] = {
            "name": name,
            "title": title,
            "description": _description(op) if description is None else description,
            "inputSchema": input_schema,
        }
        output = self.output_schema(op)
        if output is not None:
            tool["outputSchema"] = output
        tool["annotations"] = annotations = _annotations(op, title)
        if isinstance(annotations.get("title"), str):  # an x-mcp-annotations title names the tool too:
            tool["title"] = annotations["title"]  # clients show ``title`` before ``annotations.title``
        open_body = others is True or isinstance(others, Mapping)
        # the path parameters whose argument is named otherwise (the plan's template and the guard's refusals)
        renamed = {e.wire: n for e, n in zip(entries, arg_names, strict=True) if e.where == _PATH and e.wire != n}
        proxied = self.proxied_headers(op)
        if proxied:
            self.proxied[name] = proxied
        plan = self.plan(op, entries, arg_names, body, open_body, declared, renamed, filled, proxied)
        unsent = () if open_body else tuple(prop for prop in declared if prop not in arg_names)
        if unsent:
            self.unsent[name] = (op.method, op.path, unsent)
        headers = annotations_of(tool["inputSchema"])
        if guard is not None:  # its refusals name the arguments; it writes their numbers as the path does
            guard = guard.named(renamed, plan.integers)
        wraps = self.wraps_result(op, output)
        return ToolSpec(
            name,
            op.method,
            op.path,
            tool,
            output is not None,
            plan,
            headers,
            guard,
            wraps_result=wraps,
            goes_on=goes_on,
        )

    def plan(
        self,
        op: _Op,
        entries: list[_Entry],
        names: list[str],
        body: _Body | None,
        open_body: bool,
        declared: tuple[str, ...],
        renamed: Mapping[str, str],
        filled: frozenset[str] = frozenset(),
        proxied: tuple[str, ...] = (),
    ) -> _Plan:
        """``declared``: the properties of the operation's ``x-mcp-input-schema``, if any;
        ``renamed``: a path parameter ─▶ its argument, where they differ; ``filled``: the
        arguments an empty array is refused for (:meth:`filled`); ``proxied``: its header
        parameters that a proxy sets (no arguments)."""
        args = tuple(
            _Arg(
                name,
                e.where,
                e.wire,
                e.wire.lower().encode("ascii") if e.where == _HEADER else b"",
                e.keep_none,
                e.where in (_QUERY, _HEADER) and not self.schemas.may_be_array(e.schema),
                e.shape,
                self.schemas.whole_numbers(e.schema),
                name in filled,
            )
            for e, name in zip(entries, names, strict=True)
            if e.where != _PATH
        )
        files = {
            e.wire: _FilePart(e.file[0].encode("ascii"), name, e.file[1], e.file[2])
            for e, name in zip(entries, names, strict=True)
            if e.file is not None
        }
        path = _plan_for_template(self.route_paths.get((op.path, op.method), op.path), renamed)
        template, slashes = path.path, path.slashes
        integers = frozenset(
            name
            for e, name in zip(entries, names, strict=True)
            if e.where == _PATH and self.schemas.whole_numbers(e.schema)
        )
        withheld = self.withheld(op)
        taken: dict[bytes, _Arg | None] = {name.lower().encode("ascii"): None for name in proxied}
        taken.update((a.header, a) for a in args if a.where == _HEADER and request_wins(a.wire))
        if body is None:
            return _Plan(
                template, args, slashes=slashes, withheld=withheld, declared=declared, integers=integers, taken=taken
            )
        content_type = body.content_type.encode("latin-1", "replace")
        kind = _NO_BODY
        if any(a.where == _WHOLE_BODY for a in args):
            kind = _RAW if body.kind == _RAW else _JSON_VALUE
        elif open_body or any(a.where == _BODY for a in args) or (body.required and body.kind == _JSON):
            kind = body.kind  # a required JSON body goes out as ``{}`` when no argument fills it
        form = body.kind in (_FORM, _MULTIPART)
        fields = [(e, name) for e, name in zip(entries, names, strict=True) if form and e.where == _BODY]
        singles = {e.wire: name for e, name in fields if not self.schemas.may_be_array(e.schema)}
        # judged once here, not per call: a call's form field only looks its name up
        takes = self.schemas.takes_structure
        flat = {e.wire: name for e, name in fields if e.file is None and not takes(e.schema, is_json_text)}
        return _Plan(
            template,
            args,
            kind,
            content_type,
            body.required,
            files,
            singles,
            slashes,
            withheld,
            open_body,
            declared,
            integers,
            flat,
            {e.wire: name for e, name in fields if name in filled},
            taken,
        )

    def filled(self, entries: list[_Entry], names: list[str], body: _Body | None) -> frozenset[str]:
        """The required arguments that may be arrays and are sent as repeated values (a query
        parameter written as its scalars, a header, a form field): an empty array would send
        none, so their schemas say ``minItems: 1`` and a call refuses one."""
        form = body is not None and body.kind in (_FORM, _MULTIPART)
        return frozenset(
            name
            for e, name in zip(entries, names, strict=True)
            if e.required
            and ((e.where == _QUERY and e.shape == _SCALARS) or e.where == _HEADER or (form and e.where == _BODY))
            and self.schemas.may_be_array(e.schema)
        )

    def withheld(self, op: _Op) -> frozenset[bytes]:
        """What the route does not get of the forwarded headers: framing, and the URL's API keys
        whose scheme its ``security`` (or the document's) does not name, so a key reaches only the
        routes it guards (a public route echoing ``request.url`` would show it to the model; one
        whose own ``Query()`` parameter merely shares the key's name keeps it as an argument)."""
        if not self.query_schemes:
            return _NOT_FORWARDED
        # (two schemes may read one parameter: it is withheld only if none of the named ones reads it)
        return self.all_withheld - {self.query_names[name] for name in self.guarded_queries(op)}
