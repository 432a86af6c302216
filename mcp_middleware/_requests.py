"""A tool call's arguments ─▶ its HTTP sub-request: :class:`ToolSpec`, and the headers it sends.

Part of :mod:`mcp_middleware.catalog` (which re-exports :class:`ToolSpec` and
:class:`~mcp_middleware._values.ArgumentError`). Everything a call needs is precomputed when the
catalog is built (a :class:`~mcp_middleware._plan._Plan` per tool); :meth:`ToolSpec.build_request`
only walks its small per-argument table, the path rendered by :mod:`mcp_middleware._paths` and the
query values and body encoded by :mod:`mcp_middleware._query_and_body`.

Requests
    A path that another route of the app would answer (one its router tries first), or a value a
    typed convertor of its route refuses (``{id:int}`` given ``"seven"``), is an
    :class:`~mcp_middleware._values.ArgumentError` too, for a tool that has such routes or
    convertors (``ToolSpec.guard``, :mod:`mcp_middleware._route_order`); the others pay one
    attribute test.
    An argument the input schema's top level requires (``required``: presence, a null value
    counts here) that a call leaves out is an :class:`~mcp_middleware._values.ArgumentError` naming all
    that are missing, in the schema's order, before anything is built (tools.mdx: servers MUST
    validate tool inputs; a plain Starlette route reading it would raise, a FastAPI one answer
    422): one set test per call (``ToolSpec.required``). Other omitted arguments are simply not
    sent (the app's own validation answers). A null is not sent either, except for a JSON body's
    property that takes it (``_Arg.keep_none``): a required argument given as null that would be
    dropped so is an :class:`~mcp_middleware._values.ArgumentError` too ("is required and cannot be
    null", naming all such, as a path argument's null is), tested only when a value is None (the
    build loop's own test).
    Header and cookie values with CR, LF or NUL (cookies: also ``;``) are refused.
    Cookie arguments are merged with the forwarded ``cookie`` headers into one, except those the
    client sent a cookie of the same name for: the user's cookie (a session, say) wins over a
    model-made value. Likewise a header the MCP request carries replaces a header argument of that
    name, and a proxy-set header the route reads (no argument) is forwarded
    (:meth:`ToolSpec.from_request`, run only for a plan whose ``taken`` is not empty). Forwarded
    ``content-type``, ``content-length`` and ``transfer-encoding`` are
    dropped: they described the MCP request.
    So is an API key from the MCP URL (a ``?name`` pseudo-header, :mod:`mcp_middleware.query_keys`)
    whose scheme the operation's ``security`` does not name: the plan lists both (``_Plan.withheld``).
    An argument the tool does not have is an :class:`~mcp_middleware._values.ArgumentError` naming
    it and the valid ones (SEP-1303: the model can correct itself), one set test per call
    (``_Plan.known``); unless the body flattened into the arguments takes other properties (its
    schema's ``additionalProperties`` is ``true`` or a schema: pydantic's ``extra="allow"``), where
    they go, the arguments first; or the tool takes no arguments at all, which ignores any it is
    given (some clients put a placeholder into every call of such a tool: Cursor sends
    ``{"random_string": "dummy"}``). A property an explicit input schema declares is an argument
    even when nothing maps it (its author's choice): it goes into a body that takes other
    properties, and is not sent otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any, Final

from mcp_middleware._output_shape import OutputShape, _required_names, output_shape
from mcp_middleware._paths import _plan_for_template, _render_path
from mcp_middleware._plan import _COOKIE, _HEADER, _QUERY, _Arg, _Plan
from mcp_middleware._query_and_body import _encode_body, _items, _shaped
from mcp_middleware._values import ArgumentError, _form_encode, _not_null, _scalar_as
from mcp_middleware.dispatch import SubRequest
from mcp_middleware.param_headers import Annotation
from mcp_middleware.query_keys import MARK

if TYPE_CHECKING:
    from mcp_middleware._route_guard import RouteGuard

__all__ = ["ToolSpec"]

_BAD_HEADER: Final = re.compile(r"[\r\n\x00]")
_BAD_COOKIE: Final = re.compile(r"[;\r\n\x00]")
_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: its wire-shaped MCP ``Tool`` object and how to turn a call into a request.

    ``tool`` is shared, not copied: treat it as read-only. ``required``: the names its
    ``inputSchema``'s top level requires (:func:`_required_names`), which every call's arguments
    must have. ``output``: what its ``outputSchema``'s top level says of a JSON object that is the
    tool's ``structuredContent`` (the names it requires, ``output_required``, and the simple JSON
    types of its properties: :mod:`mcp_middleware._output_shape`), which
    :mod:`mcp_middleware.results` checks.
    """

    name: str
    method: str
    path: str
    tool: dict[str, Any]
    has_output_schema: bool
    _plan: InitVar[_Plan | None] = None  # the request plan; None: one of ``path`` alone (a hand-made spec)
    # ``x-mcp-header`` annotations of the input schema (2026-07-28 ``Mcp-Param-*`` headers)
    param_headers: tuple[Annotation, ...] = field(default=(), repr=False, compare=False)
    # the routes of the app that could answer its requests instead of its own (None: none could)
    guard: RouteGuard | None = field(default=None, repr=False, compare=False)
    # its structuredContent is ``{"result": <the route's JSON>}`` (a body that is no object)
    wraps_result: bool = field(default=False, repr=False, compare=False)
    # its route may send a response with background work after it (``_goes_on.goes_on``): a call
    # looks, at its last body message, whether it does, to answer then (``_tool_run._GoingOnRun``)
    goes_on: bool = field(default=False, repr=False, compare=False)
    plan: _Plan = field(init=False, repr=False, compare=False)
    required: frozenset[str] = field(init=False, repr=False, compare=False)
    output: OutputShape = field(init=False, repr=False, compare=False)
    # what a call of it runs, as its route's context and a ``requestState`` name it ("tool:<name>")
    target: str = field(init=False, repr=False, compare=False)

    def __post_init__(self, _plan: _Plan | None) -> None:
        object.__setattr__(self, "target", f"tool:{self.name}")
        object.__setattr__(self, "plan", _plan if _plan is not None else _plan_for_template(self.path))
        object.__setattr__(self, "required", _required_names(self.tool.get("inputSchema")))
        object.__setattr__(self, "output", output_shape(self.tool.get("outputSchema"), wrapped=self.wraps_result))

    @property
    def output_required(self) -> frozenset[str]:
        """The names the output schema's top level requires (``output.required``)."""
        return self.output.required

    def accepts(self, name: str) -> bool:
        """Whether a call may have the argument ``name``: one of the tool's, or another property
        of a body that takes them."""
        return name in self.plan.known or self.plan.open_body

    def from_request(
        self,
        arguments: Mapping[str, Any],
        forwarded: tuple[tuple[bytes, bytes], ...],
        headers: Iterable[tuple[bytes, bytes]],
    ) -> tuple[Mapping[str, Any], tuple[tuple[bytes, bytes], ...], tuple[tuple[bytes, bytes], ...]]:
        """The arguments, forwarded headers and redacted headers of a call whose plan ``taken``
        some of the MCP request's ``headers``: a header argument's value is replaced by the
        request's header (its first value, or all of them for an array), and a proxy-set header the
        route reads is forwarded (each of its values); unchanged when the request carries none of
        them. The redacted headers are the forwarded ones and the request's lines taken for
        arguments: the client's values (a token, an auth proxy's email) that a route's error text
        must not show the model (``results``), as ``forward_headers`` would redact them."""
        taken = self.plan.taken
        carried: dict[bytes, list[bytes]] = {}
        for name, value in headers:
            if (lower := name.lower()) in taken:
                carried.setdefault(lower, []).append(value)
        if not carried:
            return arguments, forwarded, forwarded
        replaced = dict(arguments)
        added = list(forwarded)
        shown: list[tuple[bytes, bytes]] = []  # the lines taken for arguments (sent as arguments)
        for header, values in carried.items():
            arg = taken[header]
            if arg is None:
                added.extend((header, value) for value in values)
            else:
                texts = [value.decode("latin-1") for value in values]
                replaced[arg.name] = texts[0] if arg.single else texts
                shown.extend((header, value) for value in (values[:1] if arg.single else values))
        sent = tuple(added)
        return replaced, sent, sent + tuple(shown)

    def build_request(self, arguments: Mapping[str, Any], forwarded: Sequence[tuple[bytes, bytes]] = ()) -> SubRequest:
        """The sub-request for a call. Raises :class:`ArgumentError` for unusable arguments."""
        plan = self.plan
        given = arguments.keys()
        others = None if given <= plan.known else _other_properties(plan, arguments)
        if not self.required <= given:
            raise ArgumentError(_missing(self.tool["inputSchema"]["required"], given))
        path = _render_path(plan, arguments) if plan.segments else plan.path[0]
        if self.guard is not None:
            self.guard.check(path, arguments)
        query: list[str] = []  # encoded ``key=value`` pairs
        headers: list[tuple[bytes, bytes]] = []
        cookies: list[str] = []
        fields: dict[str, Any] | None = None  # body properties (made for plans with a body)
        for arg in plan.args:
            value = arguments.get(arg.name)
            if value is None and not (arg.keep_none and arg.name in arguments):
                # left out, or a null not sent: refused if required (a required one left out was above)
                if arg.name in self.required:
                    raise ArgumentError(_not_null(_unsent_nulls(plan, self.tool["inputSchema"]["required"], arguments)))
                continue
            if arg.scalars:  # a query argument written as its scalars: the usual one
                if type(value) is int:  # digits need no encoding
                    query.append(f"{arg.query_key}{value}")
                elif type(value) is str:
                    query.append(arg.query_key + _form_encode(value))
                else:
                    query.extend(arg.query_key + _form_encode(text) for text in _items(arg, value))
                continue
            where = arg.where
            if where == _QUERY:  # an object's properties, or JSON text
                query.extend(_shaped(arg, value))
            elif where == _HEADER:
                _add_header(headers, arg, value)
            elif where == _COOKIE:
                cookies.append(f"{arg.wire}={_cookie_value(arg, value)}")
            else:
                if fields is None:
                    fields = {}
                fields[arg.wire] = value
        if others:
            fields = {**others, **fields} if fields else others
        query_string = "&".join(query).encode("ascii") if query else b""
        if not forwarded and plan.bare:
            return SubRequest(self.method, path, query_string)  # the usual GET: nothing else to build
        body = _encode_body(plan, fields or {})
        return SubRequest(
            self.method,
            path,
            query_string,
            _all_headers(forwarded, headers, cookies, body, plan.withheld)
            if forwarded or headers or cookies or body[0]
            else (),
            body[1],
        )


def _missing(required: list[Any], given: Collection[str]) -> str:
    """The error text for the required names ``given`` lacks, in the schema's order."""
    names = [name for name in dict.fromkeys(required) if isinstance(name, str) and name not in given]
    return f"missing required argument{'s' if len(names) > 1 else ''} {', '.join(map(repr, names))}"


def _unsent_nulls(plan: _Plan, required: list[Any], arguments: Mapping[str, Any]) -> list[str]:
    """The required arguments given as null that ``plan`` does not send (all but a JSON body's
    properties that take null), in the schema's order."""
    dropped = {arg.name for arg in plan.args if not arg.keep_none and arguments.get(arg.name, _MISSING) is None}
    return [name for name in dict.fromkeys(required) if name in dropped]


def _other_properties(plan: _Plan, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments ``plan`` does not know, for a body that takes them; none for a tool without
    arguments, whatever its body (they are ignored: a client's placeholder); else ArgumentError."""
    others = {key: value for key, value in arguments.items() if key not in plan.known}
    if plan.open_body:
        return others
    if not plan.known:
        return {}
    unknown = ", ".join(map(repr, others))
    valid = ", ".join(map(repr, plan.names)) or "none"
    raise ArgumentError(f"unknown argument{'s' if len(others) > 1 else ''} {unknown}; valid arguments: {valid}")


def _add_header(headers: list[tuple[bytes, bytes]], arg: _Arg, value: Any) -> None:
    for text in _items(arg, value):
        if _BAD_HEADER.search(text):
            raise ArgumentError(f"argument {arg.name!r} must not contain line breaks or NUL characters")
        try:
            headers.append((arg.header, text.encode("latin-1")))
        except UnicodeEncodeError:
            raise ArgumentError(f"argument {arg.name!r} must only contain Latin-1 characters") from None


def _cookie_value(arg: _Arg, value: Any) -> str:
    text = _scalar_as(arg.name, value, arg.integer)
    if _BAD_COOKIE.search(text):
        raise ArgumentError(f"argument {arg.name!r} must not contain ';', line breaks or NUL characters")
    if not text.isascii():
        raise ArgumentError(f"argument {arg.name!r} must only contain ASCII characters (a cookie value)")
    return text


def _all_headers(
    forwarded: Sequence[tuple[bytes, bytes]],
    own: list[tuple[bytes, bytes]],
    cookies: list[str],
    body: tuple[bytes, bytes],
    withheld: frozenset[bytes],
) -> tuple[tuple[bytes, bytes], ...]:
    headers: list[tuple[bytes, bytes]] = []
    jar: list[bytes] = []
    for key, value in forwarded:
        lower = key if key[:1] == MARK else key.lower()  # a URL key's name keeps its case (query_keys)
        if lower in withheld:
            continue
        if cookies and lower == b"cookie":
            jar.append(value)
        else:
            headers.append((lower, value))
    headers.extend(own)
    if cookies:
        if jar:
            sent = _cookie_names(jar)
            cookies = [cookie for cookie in cookies if cookie.partition("=")[0] not in sent]
        if cookies:
            jar.append("; ".join(cookies).encode("latin-1", "replace"))
        headers.append((b"cookie", b"; ".join(jar)))
    content_type, data = body
    if content_type:
        headers.append((b"content-type", content_type))
        headers.append((b"content-length", str(len(data)).encode("ascii")))
    return tuple(headers)


def _cookie_names(jar: list[bytes]) -> set[str]:
    """The names of the cookies in ``jar``'s headers, as Starlette reads them (a crumb without
    ``=`` has the empty name)."""
    names: set[str] = set()
    for value in jar:
        for crumb in value.decode("latin-1").split(";"):
            name, equals, _ = crumb.partition("=")
            names.add(name.strip() if equals else "")
    return names
