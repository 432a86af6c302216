"""Resources, resource templates, prompts and completion, from routes declared with ``declare``.

Reading a resource or getting a prompt runs the route exactly like a tool call (same context,
streaming, cancellation and multi round-trip input), then maps its response: a resource's with
:mod:`mcp_middleware._resource_read`, a prompt's with :mod:`mcp_middleware._prompt_messages`, a
failure with :mod:`mcp_middleware._feature_errors`. A prompt's arguments are strings
(:mod:`mcp_middleware._prompt_arguments`).

A template with an RFC 6570 expression other than ``{var}``, ``{+var}`` and a final form-style
query ``{?var,...}`` is left out, and logged, when the features are built (URIs are matched by
:mod:`mcp_middleware._uri_template`, in time linear in their length), and so is a template whose
route requires an argument none of its variables gives (every read would fail), as is a fixed
resource whose route requires any; a template's variable that its route does not take is logged
then too, and its values are ignored when a resource is read (the read does not fail). A template
that matches a URI but cannot serve it (a required query variable left undefined, a value not
UTF-8) gives way to the next template; when none serves it, the read is -32602 with ``data.uri``,
naming the first one's reason. A prompt name, a URI or a URI template declared by two routes is
the first's; the later is left out, and logged. A declaration written by hand (``declare``
refuses such values) that :mod:`mcp_middleware._declared`'s rules find unusable is left out, and
logged; a bad optional hint in it (a title that is no string, a completion value that is no
string) is left out of it, logged, and the rest is served; so are declared completions for a name
that is no variable of the template, or no argument of the prompt. An unknown prompt is -32602,
and so are arguments the route's request cannot be made from (checked before the run).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from mcp_types import jsonrpc as codes

from ._declared import PROMPT, RESOURCE, TEMPLATE, read
from ._feature_errors import about
from ._once import warn_once
from ._prompt_arguments import _SCALARS, _prompt_arguments
from ._requests import _missing
from .catalog import Catalog, ToolSpec
from .jsonrpc import ProtocolError, loads_exactly

if TYPE_CHECKING:
    from ._uri_template import UriTemplate

__all__ = ["Features", "PromptEntry", "ResourceEntry", "TemplateEntry"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ResourceEntry:
    wire: dict[str, Any]
    spec: ToolSpec


@dataclass(frozen=True, slots=True)
class TemplateEntry:
    wire: dict[str, Any]
    spec: ToolSpec
    pattern: UriTemplate
    completions: Mapping[str, list[str]]
    ignored: frozenset[str]  # variables the route does not take (reported when built)
    needed: tuple[str, ...]  # the query expression's variables the route requires

    def arguments(self, uri: str, match: tuple[str | None, ...]) -> dict[str, str] | ProtocolError:
        """The route's arguments from this template's match of ``uri``, percent-decoded (RFC 6570
        expansion encodes them as UTF-8), or the -32602 (with ``data.uri``) of a URI the template
        cannot serve: a required query variable left undefined, or a value whose bytes are not
        UTF-8. Returned, not raised: another template may serve the URI."""
        values = dict(zip(self.pattern.variables, match, strict=True))
        if missing := [name for name in self.needed if values.get(name) is None]:
            return _invalid(uri, f"{_missing(missing, ())} (the template's query gives it: {self.wire['uriTemplate']})")
        arguments: dict[str, str] = {}
        for name, value in values.items():
            if value is None or name in self.ignored:
                continue
            if (decoded := _decoded(value)) is None:
                return _invalid(uri, f"argument {name!r} is not UTF-8 once percent-decoded")
            arguments[name] = decoded
        return arguments


@dataclass(frozen=True, slots=True)
class PromptEntry:
    wire: dict[str, Any]
    spec: ToolSpec
    completions: Mapping[str, list[str]]
    json_arguments: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name ──▶ its JSON types

    def arguments(self, given: Mapping[str, Any]) -> Mapping[str, Any]:
        """The route's arguments from the prompt's: a string given for an argument whose schema
        takes no string is read as JSON; one that is not JSON goes on as it is when the argument
        takes scalars only (FastAPI reads "007" or "yes" for a query parameter, as over HTTP), and
        is -32602 otherwise (an object or array has no other form)."""
        if not self.json_arguments:
            return given
        parsed = dict(given)
        for name, types in self.json_arguments.items():
            if not isinstance(value := given.get(name), str):
                continue  # absent, or given as JSON already
            parsed[name] = loads_exactly(value)
            if parsed[name] is None and value.strip() != "null":
                if _SCALARS.issuperset(types):
                    parsed[name] = value
                    continue
                why = f"argument {name!r} must be JSON ({' or '.join(types)})"
                raise ProtocolError(codes.INVALID_PARAMS, f"Invalid arguments for prompt {self.wire['name']!r}: {why}")
        return parsed


def _template_entry(spec: ToolSpec, declared: Mapping[str, Any], template: str) -> TemplateEntry | None:
    """The entry for a declared template, or None (logged) when it has an expression other than
    ``{var}``, ``{+var}`` and a final ``{?var,...}`` (``{&q}``, ``{/x}``, ``{a,b}``, ``{var*}``,
    ``{var:3}``, ``{a.b}``... no URI could be read by it), or when its route requires an argument
    that none of its variables gives (every read would be refused). A variable the route does not
    take is logged too, and its values are ignored (a read does not fail)."""
    from ._uri_template import UriTemplate  # on first use: a resource template

    pattern = UriTemplate.parse(template)  # (never fails: the matcher does not compile a regex)
    if not pattern.supported:
        warn_once(
            logger,
            "Resource template %r of %s is skipped: only {var}, {+var} and a final {?var,...} (after no '?') "
            "are supported",
            template,
            spec.name,
        )
        return None
    ignored = [name for name in pattern.variables if not spec.accepts(name)]
    for name in ignored:
        warn_once(
            logger,
            "Resource template %r of %s: the route takes no argument %r; its values are ignored",
            template,
            spec.name,
            name,
        )
    if missing := _unmet(spec, pattern.variables):
        path = UriTemplate.split_query(template)[0]
        query = ",".join((*pattern.query, *missing))
        warn_once(
            logger,
            "Resource template %r of %s is skipped: the route requires %s, which the template does not give%s",
            template,
            spec.name,
            ", ".join(map(repr, missing)),
            _hint("a query expression", path, f"{path}{{?{query}}}"),
        )
        return None
    wire = _describe(spec, declared, {})
    needed = tuple(name for name in pattern.query if name in spec.required)
    variables = pattern.variables
    completions = _completions(
        f"Resource template {template!r} of {spec.name}", "template", "variable", declared, variables
    )
    return TemplateEntry(wire, spec, pattern, completions, frozenset(ignored), needed)


def _checked(what: str, kind: str, spec: ToolSpec, declared: Any) -> Mapping[str, Any] | None:
    """The route's declaration of ``kind`` (an ``x-mcp-*`` key of its operation) as
    :func:`mcp_middleware._declared.read` keeps it, or None when it has none or an unusable one
    (a hand-written one: ``declare`` refuses such values), which is logged: listed, it made the
    whole list an "invalid result". A bad optional hint (a title that is no string, a completion
    value that is no string) is left out of it, logged: the declaration is served without it."""
    if declared is None:
        return None
    reading = read(kind, declared)
    if reading.spec is None:
        warn_once(logger, "%s of %s is skipped: %s", what, spec.name, reading.problems[-1])
        return None
    for problem in reading.problems:
        warn_once(logger, "%s of %s: %s (left out)", what, spec.name, problem)
    return reading.spec


def _completions(
    owner: str, holder: str, noun: str, declared: Mapping[str, Any], names: Collection[str]
) -> dict[str, list[str]]:
    """The declared completions of ``names`` (the template's variables, the prompt's arguments);
    those of another name are left out, logged (a misspelt key's values were never offered, and
    nothing said so)."""
    completions: dict[str, list[str]] = declared.get("completions", {})
    kept = {name: values for name, values in completions.items() if name in names}
    for name in completions.keys() - kept.keys():
        warn_once(
            logger,
            "%s: completions for %r are left out: the %s has no such %s (its %ss: %s)",
            *(owner, name, holder, noun, noun),
            ", ".join(map(repr, dict.fromkeys(names))) or "none",
        )
    return kept


def _add_resource(resources: dict[str, ResourceEntry], spec: ToolSpec, operation: Mapping[str, Any]) -> None:
    if (declared := _checked("Resource", RESOURCE, spec, operation.get(RESOURCE))) is None:
        return
    uri = declared["uri"]
    if _first("Resource", uri, spec, resources) and _requires_nothing(spec, uri):
        resources[uri] = ResourceEntry(_describe(spec, declared, {}), spec)


def _add_template(templates: dict[str, TemplateEntry], spec: ToolSpec, operation: Mapping[str, Any]) -> None:
    if (declared := _checked("Resource template", TEMPLATE, spec, operation.get(TEMPLATE))) is None:
        return
    template = declared["uriTemplate"]
    first = _first("Resource template", template, spec, templates)
    if first and (entry := _template_entry(spec, declared, template)) is not None:
        templates[template] = entry


def _add_prompt(prompts: dict[str, PromptEntry], spec: ToolSpec, operation: Mapping[str, Any]) -> None:
    if (declared := _checked("Prompt", PROMPT, spec, operation.get(PROMPT))) is None:
        return
    arguments, json_arguments = _prompt_arguments(spec)
    wire = _describe(spec, declared, {"arguments": arguments})
    if _first("Prompt", wire["name"], spec, prompts) and _usable_arguments(spec, wire):
        names = [argument["name"] for argument in wire["arguments"]]
        completions = _completions(f"Prompt {wire['name']!r} of {spec.name}", "prompt", "argument", declared, names)
        prompts[wire["name"]] = PromptEntry(wire, spec, completions, json_arguments)


def _usable_arguments(spec: ToolSpec, wire: Mapping[str, Any]) -> bool:
    """Whether a prompt's listed arguments (declared ones replace the route's) name every argument
    its route requires; logged when not (a client following the listing could never get it), and
    so is each listed argument the route does not take (a get that gives it is refused)."""
    names = [argument["name"] for argument in wire["arguments"]]  # (checked: each has a name)
    for name in names:
        if not spec.accepts(name):
            warn_once(
                logger,
                "Prompt %r of %s: the route takes no argument %r; a prompts/get that gives it is refused",
                wire["name"],
                spec.name,
                name,
            )
    if missing := _unmet(spec, names):
        warn_once(
            logger,
            "Prompt %r of %s is skipped: the route requires %s, which its declared arguments do not list",
            wire["name"],
            spec.name,
            ", ".join(map(repr, missing)),
        )
        return False
    return True


def _first(
    what: str, key: str, spec: ToolSpec, entries: Mapping[str, ResourceEntry | TemplateEntry | PromptEntry]
) -> bool:
    """Whether ``spec``'s route is the first to declare ``key`` (a URI, a URI template or a prompt's
    name); a later one is logged and left out, as a later tool of the same name is renamed: the
    first keeps it."""
    if (entry := entries.get(key)) is None:
        return True
    warn_once(logger, "%s %r of %s is skipped: %s declares it already", what, key, spec.name, entry.spec.name)
    return False


def _requires_nothing(spec: ToolSpec, uri: str) -> bool:
    """Whether a fixed resource's route requires no argument (a URI gives it none: every read
    would be refused); logged when it does."""
    if missing := _unmet(spec, ()):
        warn_once(
            logger,
            "Resource %r of %s is skipped: the route requires %s, which a fixed URI does not give%s",
            uri,
            spec.name,
            ", ".join(map(repr, missing)),
            _hint("a resource template", uri, repr(f"{uri}{{?{','.join(missing)}}}")),
        )
        return False
    return True


def _hint(what: str, before: str, suggested: str) -> str:
    """The end of a warning suggesting ``suggested`` (``before`` with a ``{?...}`` expression),
    or nothing when ``before`` has a ``?`` already: an expression after it is no query's."""
    return "" if "?" in before else f" ({what} would: {suggested})"


def _unmet(spec: ToolSpec, given: Collection[str]) -> list[str]:
    """The arguments the route requires that ``given`` lacks, each once, in its input schema's order."""
    if spec.required.issubset(given):
        return []
    return [
        name
        for name in dict.fromkeys(spec.tool["inputSchema"]["required"])
        if name in spec.required and name not in given
    ]


def _describe(spec: ToolSpec, declared: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    wire = {k: v for k, v in declared.items() if k != "completions"}
    wire.setdefault("name", spec.name)
    wire.setdefault("description", spec.tool["description"])
    for key, value in defaults.items():
        wire.setdefault(key, value)
    return wire


def _decoded(value: str) -> str | None:
    """A template value percent-decoded, or None when its bytes are not UTF-8, which RFC 6570
    expansion always writes (decoding them to U+FFFD gave the route another value, and made
    ``%E9`` and ``%FC`` one resource)."""
    try:
        return unquote(value, errors="strict")
    except UnicodeDecodeError:
        return None


def _invalid(uri: str, why: str) -> ProtocolError:
    """A read's -32602, with ``data.uri`` as the spec's resource errors have it."""
    return ProtocolError(codes.INVALID_PARAMS, f"Invalid arguments for resource {uri}: {why}", about(uri))


@dataclass(frozen=True, slots=True)
class Features:
    resources: dict[str, ResourceEntry] = field(default_factory=dict)
    templates: dict[str, TemplateEntry] = field(default_factory=dict)  # by URI template
    prompts: dict[str, PromptEntry] = field(default_factory=dict)

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> Features:
        resources: dict[str, ResourceEntry] = {}
        templates: dict[str, TemplateEntry] = {}  # by URI template
        prompts: dict[str, PromptEntry] = {}
        for item in catalog.declared:
            op, spec = item.operation, item.spec
            _add_resource(resources, spec, op)
            _add_template(templates, spec, op)
            _add_prompt(prompts, spec, op)
        return cls(resources, templates, prompts)

    def capabilities(self, list_changes: bool) -> dict[str, Any]:
        """``list_changes``: the era has a stream for notifications (2026-07-28's listen streams),
        which both list changes and resource updates (``subscribe``) need."""
        caps: dict[str, Any] = {}
        if self.resources or self.templates:
            caps["resources"] = {"subscribe": list_changes, "listChanged": list_changes}
        if self.prompts:
            caps["prompts"] = {"listChanged": list_changes}
        if self.prompts or self.templates:
            caps["completions"] = {}
        return caps

    def find_resource(self, uri: str) -> tuple[ToolSpec, dict[str, str], str | None] | None:
        """The route, arguments and declared type of ``uri``: its fixed resource, else the first
        template, in declaration order, that matches it and can serve it
        (:meth:`TemplateEntry.arguments`). A template that matches but cannot serve it is no
        match; when no other serves it either, the first such template's -32602 is raised (it
        shadowed every later template, as ``teams://{name}{?region}`` did ``teams://{name}``)."""
        entry = self.resources.get(uri)
        if entry is not None:
            return entry.spec, {}, entry.wire.get("mimeType")
        refusal: ProtocolError | None = None
        for template in self.templates.values():
            if (match := template.pattern.match(uri)) is None:
                continue
            arguments = template.arguments(uri, match)
            if not isinstance(arguments, ProtocolError):
                return template.spec, arguments, template.wire.get("mimeType")
            if refusal is None:
                refusal = arguments
        if refusal is not None:
            raise refusal
        return None

    def serves(self, uri: str) -> bool:
        """Whether ``resources/read`` of ``uri`` reaches a route (:meth:`find_resource`): what a
        listen stream may subscribe to."""
        try:
            return self.find_resource(uri) is not None
        except ProtocolError:  # only templates that match but cannot serve it
            return False

    def completions(self, ref: Mapping[str, Any], argument: str) -> list[str]:
        return self._completion_table(ref).get(argument, [])  # (checked: strings)

    def _completion_table(self, ref: Mapping[str, Any]) -> Mapping[str, list[str]]:
        """The declared completions of a prompt or template; a fixed resource has none. A reference
        to neither is -32602 (completion.mdx: invalid prompt name; resources as the TS SDK does)."""
        if ref.get("type") == "ref/prompt":
            prompt = self.prompts.get(str(ref.get("name")))
            if prompt is None:
                raise ProtocolError(codes.INVALID_PARAMS, f"Unknown prompt: {ref.get('name')}")
            return prompt.completions
        uri = ref.get("uri")
        if isinstance(uri, str) and (template := self.templates.get(uri)) is not None:
            return template.completions
        if uri in self.resources:
            return {}
        raise ProtocolError(codes.INVALID_PARAMS, f"Unknown resource template: {uri}")
