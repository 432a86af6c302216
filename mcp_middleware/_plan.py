"""The request plan of a tool: what the catalog precomputes so that a call only walks a table.

Part of :mod:`mcp_middleware._requests`. The tool builder (:mod:`mcp_middleware._tool_builder`)
makes a :class:`_Plan` per tool, with an :class:`_Arg` per argument that is not a path parameter
and a :class:`_FilePart` per multipart file field (or raw body); :meth:`ToolSpec.build_request
<mcp_middleware._requests.ToolSpec.build_request>` reads it. The codes the plan is written in
live here too: argument locations (``_PATH``…), body encodings (``_NO_BODY``…) and the ways a
query argument is written (``_SCALARS``, ``_EXPLODED``, ``_JSON_TEXT``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from mcp_middleware._values import _form_encode

__all__ = [
    "_BODY",
    "_COOKIE",
    "_EXPLODED",
    "_FORM",
    "_HEADER",
    "_JSON",
    "_JSON_TEXT",
    "_JSON_VALUE",
    "_MULTIPART",
    "_NOT_FORWARDED",
    "_NO_BODY",
    "_PATH",
    "_QUERY",
    "_RAW",
    "_SCALARS",
    "_WHOLE_BODY",
    "_Arg",
    "_FilePart",
    "_Plan",
]

_NOT_FORWARDED: Final = frozenset({b"content-type", b"content-length", b"transfer-encoding"})

# argument locations, in collision-priority order
_PATH, _QUERY, _HEADER, _COOKIE, _BODY, _WHOLE_BODY = range(6)
# body encodings (_JSON_VALUE: the ``body`` argument is the whole JSON body; _RAW: the ``body``
# argument, a string, is the whole body of another media type, in its charset or decoded from base64)
_NO_BODY, _JSON, _FORM, _MULTIPART, _JSON_VALUE, _RAW = range(6)
# how a query argument is written: its scalars (a list repeats the name); an object's properties
# as parameters of their own (OpenAPI's default style, form and exploded: a plain Starlette route's
# free ``query``); its compact JSON text (a parameter of ``application/json`` content)
_SCALARS, _EXPLODED, _JSON_TEXT = range(3)


@dataclass(frozen=True, slots=True)
class _Arg:
    name: str  # the tool argument
    where: int
    wire: str  # parameter or body property name
    header: bytes = b""  # lower-case header name
    keep_none: bool = False
    single: bool = False  # a query or header parameter whose schema is no array: an array is refused
    shape: int = _SCALARS  # how a query argument is written (_EXPLODED, _JSON_TEXT: not its scalars)
    integer: bool = False  # its numbers are integers only (a float 5.0 is written ``5``)
    # a required query (written as its scalars) or header parameter that may be an array: an array
    # without a value that is no null sends nothing, and is refused
    filled: bool = False
    query_key: str = field(init=False, repr=False, compare=False)  # ``wire`` form-encoded, with its ``=``
    # a query argument written as its scalars (``_SCALARS``): the call's first, and usual, branch
    scalars: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "query_key", _form_encode(self.wire) + "=")
        object.__setattr__(self, "scalars", self.where == _QUERY and self.shape == _SCALARS)


@dataclass(frozen=True, slots=True)
class _FilePart:
    """A multipart field sent as a file part."""

    content_type: bytes
    argument: str  # the tool argument, for error messages
    base64: bool  # the argument is the file's bytes in base64 (else text, encoded in ``charset``)
    charset: str = "utf-8"  # a text codec's name (a raw body's declared charset)


@dataclass(frozen=True, slots=True)
class _Plan:
    path: tuple[str, ...]  # literal, argument, literal, …, literal (literals already encoded)
    args: tuple[_Arg, ...] = ()  # everything but path parameters
    body: int = _NO_BODY
    content_type: bytes = b""
    body_required: bool = False
    files: Mapping[str, _FilePart] = field(default_factory=dict)  # multipart file fields, by wire name
    # form fields whose schema is no array (an array is refused): their arguments, by wire name
    singles: Mapping[str, str] = field(default_factory=dict)
    slashes: frozenset[str] = frozenset()  # path arguments whose converter is Starlette's ``:path``
    # forwarded headers this route does not get: framing, and the URL's API keys (query_keys) of
    # schemes its operation's ``security`` does not name
    withheld: frozenset[bytes] = _NOT_FORWARDED
    open_body: bool = False  # the body takes properties of other names: unknown arguments go there
    # an explicit input schema's properties: arguments, mapped or not (those nothing maps go into an
    # open body, and are accepted and not sent otherwise)
    declared: tuple[str, ...] = ()
    integers: frozenset[str] = frozenset()  # path arguments whose numbers are integers only (5.0: ``5``)
    # form fields (no file) whose schema takes no object, nor an array in their array
    # (``SchemaSet.takes_structure``): such a value is refused as a query parameter's is; their
    # arguments, by wire name (another field's is sent as its JSON text)
    flat: Mapping[str, str] = field(default_factory=dict)
    # required form fields that may be arrays: an array without a value that is no null sends
    # nothing, and is refused; their arguments, by wire name
    filled: Mapping[str, str] = field(default_factory=dict)
    # the headers (lower case) whose value the route takes from the MCP request when it carries
    # them: a header argument's (the argument is then replaced; ``_option_lists.request_wins``), or
    # a header parameter a proxy sets, which is no argument (None; ``_option_lists.proxy_set``).
    # Decided when the catalog is built; empty for most tools, which pay one test per call
    taken: Mapping[bytes, _Arg | None] = field(default_factory=dict)
    # ``path`` as (argument, the literal after it) pairs: walked without a range per call
    segments: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)
    # every argument's name, in schema order (an open body's declared properties are no argument:
    # they go into the body with its other properties)
    names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    known: frozenset[str] = field(init=False, repr=False, compare=False)  # ``names``, for the call's set test
    # no body, header or cookie: without forwarded headers, a call's request is its path and query
    bare: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parts = self.path
        object.__setattr__(self, "segments", tuple(zip(parts[1::2], parts[2::2], strict=True)))
        names = (*(() if self.open_body else self.declared), *parts[1::2], *(arg.name for arg in self.args))
        object.__setattr__(self, "names", tuple(dict.fromkeys(names)))
        object.__setattr__(self, "known", frozenset(self.names))
        bare = self.body == _NO_BODY and all(arg.where not in (_HEADER, _COOKIE) for arg in self.args)
        object.__setattr__(self, "bare", bare)
