"""Resources, resource templates, prompts and completion, from routes declared with ``declare``.

Reading a resource or getting a prompt runs the route exactly like a tool call (same context,
streaming, cancellation and multi round-trip input), then maps its response:

* resource: textual bodies ──▶ ``TextResourceContents`` (``text/plain`` when untyped), others ──▶
  ``BlobResourceContents``; an ``MCPResponse``'s blocks ──▶ one contents each (text, image/audio
  blobs, an embedded resource's own; a ``resource_link`` is an error); a 404 from the route means
  the resource does not exist; in 2026-07-28 the result's ``ttlMs``/``cacheScope`` come from the
  route's Cache-Control (``cache_hints``);
* prompt: a string ──▶ one user message; a list of messages or strings; or
  ``{"messages": [...], "description": ...}``; a binary body is an error, and so is a message
  whose role is not user/assistant or whose content is not a content block (the error says
  which). A prompt's arguments are strings: one whose schema takes no string (a JSON body, a
  number...) is read as JSON.

A template with an RFC 6570 expression other than ``{var}`` and ``{+var}`` is left out, and
logged, when the features are built; a template's variable that its route does not take is logged
then too, and its values are ignored when a resource is read (the read does not fail). Unknown resources
are -32602 with ``data.uri`` in 2026-07-28 (-32002 was retired) and -32002 in the handshake era;
an unknown prompt is -32602, and so are arguments the route's request cannot be made from
(checked before the run). Route failures are -32602 for 4xx (the arguments were wrong) and
-32603 otherwise (3xx included: a redirect is not followed), since neither method has
an ``isError`` result; so is a body longer than the result limits (text is never cut).
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from mcp_types import jsonrpc as codes

from .catalog import Catalog, ToolSpec
from .jsonrpc import ProtocolError, loads_exactly
from .results import ResponseCollector, reason_phrase

__all__ = ["Features", "PromptEntry", "ResourceEntry", "TemplateEntry"]

logger = logging.getLogger(__name__)

RESOURCE_NOT_FOUND_LEGACY = -32002
_VARIABLE = re.compile(r"\{(\+?)([A-Za-z0-9_]+)\}")


@dataclass(frozen=True, slots=True)
class ResourceEntry:
    wire: dict[str, Any]
    spec: ToolSpec


@dataclass(frozen=True, slots=True)
class TemplateEntry:
    wire: dict[str, Any]
    spec: ToolSpec
    pattern: re.Pattern[str]
    variables: tuple[str, ...]  # the variable of each group of ``pattern``, in order
    completions: Mapping[str, list[str]]
    ignored: frozenset[str] = frozenset()  # variables the route does not take (reported when built)


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


def _template_pattern(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    """RFC 6570 level 1 (``{var}``, no slash) and level 2 reserved expansion (``{+var}``).

    Groups are numbered, not named after the variables (``{1a}`` is no group name); a variable
    that repeats must match the same text again."""
    parts: list[str] = []
    variables: list[str] = []
    last = 0
    for match in _VARIABLE.finditer(template):
        parts.append(re.escape(template[last : match.start()]))
        name = match.group(2)
        if name in variables:
            parts.append(f"(?P=v{variables.index(name)})")
        else:
            parts.append(f"(?P<v{len(variables)}>{'.+' if match.group(1) else '[^/?#]+'})")
            variables.append(name)
        last = match.end()
    parts.append(re.escape(template[last:]))
    return re.compile("".join(parts)), tuple(variables)


def _template_entry(spec: ToolSpec, declared: Mapping[str, Any], template: str) -> TemplateEntry | None:
    """The entry for a declared template, or None (logged) when it has an expression other than
    ``{var}`` and ``{+var}`` (``{?q}``, ``{/x}``, ``{a,b}``, ``{var*}``, ``{var:3}``, ``{a.b}``... no
    URI could be read by it) or cannot be compiled. A variable the route does not take is logged
    too, and its values are ignored (a read does not fail)."""
    if "{" in (rest := _VARIABLE.sub("", template)) or "}" in rest:
        logger.warning(
            "Resource template %r of %s is skipped: only {var} and {+var} expressions are supported",
            template,
            spec.name,
        )
        return None
    try:
        pattern, variables = _template_pattern(template)
    except re.error as exc:
        logger.warning("Resource template %r of %s is skipped: %s", template, spec.name, exc)
        return None
    ignored = [name for name in variables if not spec.accepts(name)]
    for name in ignored:
        logger.warning(
            "Resource template %r of %s: the route takes no argument %r; its values are ignored",
            template,
            spec.name,
            name,
        )
    wire = _describe(spec, declared, {})
    return TemplateEntry(wire, spec, pattern, variables, declared.get("completions", {}), frozenset(ignored))


def _describe(spec: ToolSpec, declared: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    wire = {k: v for k, v in declared.items() if k != "completions"}
    wire.setdefault("name", spec.name)
    wire.setdefault("description", spec.tool["description"])
    for key, value in defaults.items():
        wire.setdefault(key, value)
    return wire


# JSON types whose values FastAPI also reads from a query's text ("007", "yes")
_SCALARS = frozenset({"integer", "number", "boolean", "null"})


def _json_types(schema: Any, defs: Mapping[str, Any]) -> list[str] | None:
    """The JSON types of an argument whose schema takes no string (a local ``$ref``, ``type`` or
    each branch of ``anyOf``/``oneOf``), or None when it takes a string or says nothing."""
    if not isinstance(schema, Mapping):
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return _json_types(defs.get(ref.removeprefix("#/$defs/")), defs)
    kind = schema.get("type")
    if isinstance(kind, str | list):
        kinds = [kind] if isinstance(kind, str) else [str(k) for k in kind]
        return kinds if kinds and "string" not in kinds else None
    branches = schema.get("anyOf") or schema.get("oneOf")
    if not isinstance(branches, list) or not branches:
        return None
    found = [_json_types(branch, defs) for branch in branches]
    if any(types is None for types in found):
        return None
    return list(dict.fromkeys(kind for types in found if types is not None for kind in types))


def _prompt_arguments(spec: ToolSpec) -> tuple[list[dict[str, Any]], dict[str, tuple[str, ...]]]:
    """The prompt's arguments as listed, and the JSON types of those that take no string (their
    description says "JSON: <types>", after the route's own)."""
    schema = spec.tool["inputSchema"]
    required = set(schema.get("required", ()))
    defs = schema.get("$defs") or {}
    out: list[dict[str, Any]] = []
    json_arguments: dict[str, tuple[str, ...]] = {}
    for name, prop in schema.get("properties", {}).items():
        argument: dict[str, Any] = {"name": name, "required": name in required}
        described = prop.get("description") if isinstance(prop, Mapping) else None
        if (types := _json_types(prop, defs)) is not None:
            json_arguments[name] = tuple(types)
            hint = f"JSON: {' or '.join(types)}"
            described = f"{described} ({hint})" if isinstance(described, str) else hint
        if isinstance(described, str):
            argument["description"] = described
        out.append(argument)
    return out, json_arguments


@dataclass(frozen=True, slots=True)
class Features:
    resources: dict[str, ResourceEntry] = field(default_factory=dict)
    templates: tuple[TemplateEntry, ...] = ()
    prompts: dict[str, PromptEntry] = field(default_factory=dict)

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> Features:
        resources: dict[str, ResourceEntry] = {}
        templates: list[TemplateEntry] = []
        prompts: dict[str, PromptEntry] = {}
        for item in catalog.declared:
            op, spec = item.operation, item.spec
            if isinstance(declared := op.get("x-mcp-resource"), Mapping) and isinstance(declared.get("uri"), str):
                resources[declared["uri"]] = ResourceEntry(_describe(spec, declared, {}), spec)
            if isinstance(declared := op.get("x-mcp-resource-template"), Mapping):
                template = declared.get("uriTemplate")
                if isinstance(template, str) and (entry := _template_entry(spec, declared, template)) is not None:
                    templates.append(entry)
            if isinstance(declared := op.get("x-mcp-prompt"), Mapping):
                arguments, json_arguments = _prompt_arguments(spec)
                wire = _describe(spec, declared, {"arguments": arguments})
                prompts[wire["name"]] = PromptEntry(wire, spec, declared.get("completions", {}), json_arguments)
        return cls(resources, tuple(templates), prompts)

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
        """The route, arguments and declared type of ``uri``; template values are percent-decoded
        (RFC 6570 expansion encodes them)."""
        entry = self.resources.get(uri)
        if entry is not None:
            return entry.spec, {}, entry.wire.get("mimeType")
        for template in self.templates:
            match = template.pattern.fullmatch(uri)
            if match is not None:
                values = zip(template.variables, match.groups(), strict=True)
                arguments = {name: unquote(value) for name, value in values if name not in template.ignored}
                return template.spec, arguments, template.wire.get("mimeType")
        return None

    def completions(self, ref: Mapping[str, Any], argument: str) -> list[str]:
        values = self._completion_table(ref).get(argument, [])
        return [v for v in values if isinstance(v, str)]

    def _completion_table(self, ref: Mapping[str, Any]) -> Mapping[str, list[str]]:
        """The declared completions of a prompt or template; a fixed resource has none. A reference
        to neither is -32602 (completion.mdx: invalid prompt name; resources as the TS SDK does)."""
        if ref.get("type") == "ref/prompt":
            prompt = self.prompts.get(str(ref.get("name")))
            if prompt is None:
                raise ProtocolError(codes.INVALID_PARAMS, f"Unknown prompt: {ref.get('name')}")
            return prompt.completions
        uri = ref.get("uri")
        for template in self.templates:
            if template.wire["uriTemplate"] == uri:
                return template.completions
        if uri in self.resources:
            return {}
        raise ProtocolError(codes.INVALID_PARAMS, f"Unknown resource template: {uri}")


def not_found(uri: str, modern: bool) -> ProtocolError:
    code = codes.INVALID_PARAMS if modern else RESOURCE_NOT_FOUND_LEGACY
    return ProtocolError(code, f"Resource not found: {uri}", {"uri": uri})


def first_text(result: Mapping[str, Any]) -> str:
    """The text of a result's first content block, what an error result says ("" without one)."""
    blocks = result.get("content")
    return str(blocks[0].get("text", "")) if blocks else ""


def route_failed(collector: ResponseCollector, what: str) -> ProtocolError:
    """A 3xx or 4xx/5xx answer as a JSON-RPC error."""
    if collector.status < 400:
        answered = f"HTTP {collector.status} {reason_phrase(collector.status)}".rstrip()
        return ProtocolError(codes.INTERNAL_ERROR, f"{what} failed: {answered} (redirects are not followed)")
    text = first_text(collector.result())  # the tool-style error text: status and detail
    code = codes.INVALID_PARAMS if 400 <= collector.status < 500 else codes.INTERNAL_ERROR
    return ProtocolError(code, f"{what} failed: {text}")


def _refuse_cut(collector: ResponseCollector, what: str) -> None:
    """Text cut at ``max_result_chars`` is no resource or prompt (a part of a JSON document is not
    JSON): -32603 with the sizes, as binary beyond ``max_binary_bytes`` is; so is a body in a
    content coding the middleware cannot decode (``cut_short`` says which)."""
    if (cut := collector.cut_short()) is not None:
        raise ProtocolError(codes.INTERNAL_ERROR, f"{what} failed: {cut}.")


def resource_contents(
    uri: str, mime: str | None, modern: bool, collector: ResponseCollector, private: bool = False
) -> dict[str, Any]:
    """The ``ReadResourceResult`` of the route's response; in 2026-07-28 with the caching hints of
    its Cache-Control (``cache_hints``; ``private``: the request carried credentials), which
    ``collector`` (a ``results.CachingCollector``) kept."""
    if collector.status == 404:
        raise not_found(uri, modern)
    if collector.status >= 300:
        raise route_failed(collector, f"Reading {uri}")
    _refuse_cut(collector, f"Reading {uri}")
    if collector.kind == "mcp":
        result: dict[str, Any] = {"contents": _block_contents(uri, collector.result())}
    else:
        untyped = "text/plain" if collector.textual else "application/octet-stream"
        content: dict[str, Any] = {"uri": uri, "mimeType": mime or collector.mime or untyped}
        if collector.textual:
            content["text"] = collector.text()
        else:
            content["blob"] = base64.b64encode(collector.body_bytes()).decode("ascii")
        result = {"contents": [content]}
    if modern:
        result["ttlMs"], result["cacheScope"] = cache_hints(collector.cache_control or "", private)
    return result


# RFC 9111 §1.2.2: a delta-seconds beyond 2^31 is taken as 2^31 (and beyond this many digits, int()
# is not even asked)
_MAX_AGE = 2**31
_MAX_AGE_DIGITS = len(str(_MAX_AGE))


def cache_hints(cache_control: str, private: bool) -> tuple[int, str]:
    """``ttlMs`` and ``cacheScope`` of a resource read from the route's ``Cache-Control``
    (caching.mdx: ``ttlMs`` is analogous to ``max-age``, ``cacheScope`` to public/private).

    Private when the route says ``private`` or the request carried credentials (``private``), else
    public. The TTL is 0 (immediately stale) for ``no-store`` or ``no-cache`` (qualified or not: an
    MCP client has no revalidation), and without a ``max-age`` (so without any Cache-Control: a
    route that never said its data stays fresh gets no made-up freshness); else ``max-age``, or
    ``s-maxage`` for a public result (one that shared caches may keep), in milliseconds. Directive
    names are case-insensitive, a quoted value is read as its content, the first of a repeated
    directive counts, and an invalid value (not a non-negative integer) means stale (RFC 9111
    §4.2.1, §5.2)."""
    directives: dict[str, str] = {}
    for part in cache_control.split(","):
        name, _, value = part.partition("=")
        directives.setdefault(name.strip().lower(), value.strip().strip('"'))
    scope = "private" if private or "private" in directives else "public"
    if "no-store" in directives or "no-cache" in directives:
        return 0, scope
    age = directives.get("s-maxage") if scope == "public" else None
    if age is None:
        age = directives.get("max-age", "")
    if not (age.isascii() and age.isdigit()):
        return 0, scope
    seconds = _MAX_AGE if len(age) > _MAX_AGE_DIGITS else min(int(age), _MAX_AGE)
    return seconds * 1000, scope


def _block_contents(uri: str, result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A route's ``MCPResponse`` as the resource's contents: a text block ──▶ ``text/plain`` text,
    image and audio ──▶ blobs, an embedded resource ──▶ its own contents. A block with no contents
    of its own (a ``resource_link``), or an error result, is -32603."""
    blocks = result.get("content") or []
    if result.get("isError"):
        raise ProtocolError(codes.INTERNAL_ERROR, f"Reading {uri} failed: {first_text(result)}")
    contents: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, Mapping) else type(block).__name__
        if kind == "text":
            contents.append({"uri": uri, "mimeType": "text/plain", "text": block.get("text")})
        elif kind in ("image", "audio"):
            contents.append({"uri": uri, "mimeType": block.get("mimeType"), "blob": block.get("data")})
        elif kind == "resource":
            contents.append(block.get("resource"))
        else:
            why = f"a {kind} block has no contents of its own"
            raise ProtocolError(codes.INTERNAL_ERROR, f"Reading {uri} failed: {why}")
    return contents


# what a prompt message's content block must have besides its type: (field, a string?) each
_BLOCK_FIELDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "text": (("text", True),),
    "image": (("data", True), ("mimeType", True)),
    "audio": (("data", True), ("mimeType", True)),
    "resource": (("resource", False),),
    "resource_link": (("uri", True), ("name", True)),
}
_BLOCK_KINDS = "text, image, audio, resource or resource_link"


def _shown(value: Any) -> str:
    """``value`` as JSON in an error text, its start only when long."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:  # (orjson.JSONEncodeError) an integer beyond 64 bits
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _not_a_message(why: str) -> ProtocolError:
    return ProtocolError(codes.INTERNAL_ERROR, f"The prompt route returned {why}")


def _message(item: Any) -> dict[str, Any]:
    """A prompt message from an item the route returned: a string is a user message; a message's
    role and content block are checked here, so that the client's error says what is wrong (the
    wire type's check would say "invalid result"; what is left to it still does)."""
    if isinstance(item, str):
        return {"role": "user", "content": {"type": "text", "text": item}}
    if not (isinstance(item, Mapping) and "role" in item and "content" in item):
        raise _not_a_message("something that is not a message")
    role, content = item["role"], item["content"]
    if role not in ("user", "assistant"):
        why = 'a prompt message\'s role is "user" or "assistant" (put instructions in a user message)'
        raise _not_a_message(f"a message with role {_shown(role)}: {why}")
    if not isinstance(content, Mapping):
        hint = ""
        if isinstance(content, str):
            hint = "; a plain string is a user message of its own"
        elif isinstance(content, list):
            hint = "; give each block a message of its own"
        shown = "a list" if isinstance(content, list) else _shown(content)
        block = f'a content block (an object whose "type" is {_BLOCK_KINDS})'
        raise _not_a_message(f"a message whose content is {shown}, not {block}{hint}")
    kind = content.get("type")
    if not isinstance(kind, str) or kind not in _BLOCK_FIELDS:
        raise _not_a_message(f"a message whose content has type {_shown(kind)}, not {_BLOCK_KINDS}")
    for name, textual in _BLOCK_FIELDS[kind]:
        value = content.get(name)
        if not (isinstance(value, str) if textual else isinstance(value, Mapping)):
            article = "an" if kind[0] in "aeiou" else "a"
            raise _not_a_message(f'{article} {kind} block without "{name}" (a {"string" if textual else "object"})')
    return dict(item)


def prompt_messages(name: str, collector: ResponseCollector) -> dict[str, Any]:
    if collector.status >= 300:
        raise route_failed(collector, f"Prompt {name!r}")
    _refuse_cut(collector, f"Prompt {name!r}")
    if not collector.textual:
        raise ProtocolError(codes.INTERNAL_ERROR, f"The prompt route returned {collector.mime}, not text or messages")
    if collector.kind == "mcp":  # the route's own MCPResponse: each block a user message
        blocks = collector.result()
        if blocks.get("isError"):
            raise ProtocolError(codes.INTERNAL_ERROR, f"Prompt {name!r} failed: {first_text(blocks)}")
        return {"messages": [_message({"role": "user", "content": block}) for block in blocks["content"]]}
    text = collector.text()
    value: Any = text
    if collector.kind == "json":
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = text
    result: dict[str, Any] = {}
    if isinstance(value, Mapping) and isinstance(value.get("messages"), list):
        if isinstance(value.get("description"), str):
            result["description"] = value["description"]
        value = value["messages"]
    items = value if isinstance(value, list) else [value]
    result["messages"] = [_message(item) for item in items]
    return result
