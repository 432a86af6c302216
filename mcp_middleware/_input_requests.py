"""What a route can ask the client for, and the error of a request the client refused.

Part of :mod:`mcp_middleware.context`, which re-exports these names (``Elicit``, ``Sample``,
``ListRoots`` and ``ClientRequestError`` are public: ``from mcp_middleware import Elicit``):

- :class:`Elicit`, :class:`Sample`, :class:`ListRoots`: one server→client request each
  (``elicitation/create`` in form mode, ``sampling/createMessage``, ``roots/list``), with the
  client capability it needs and its params in the wire's shape; ``InputRequest`` is any of them,
  what ``MCPContext.ask`` takes by key; a ``Sample`` says which of ``sampling``'s sub-capabilities
  it needs (``tools``, ``context``), and :func:`missing_capabilities` what a client that declared
  some capabilities lacks for a set of requests (both eras' channels refuse that);
- :class:`ClientRequestError`: the client answered one with an error (or an answer that is not a
  valid result of its method), raised to the route in both eras;
- :class:`AskTimeout`: the client did not answer within ``ask_timeout`` (handshake era), a
  ``TimeoutError`` that says which requests went unanswered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._printable import printable

__all__ = [
    "TOOL_FIELDS",
    "AskTimeout",
    "ClientRequestError",
    "Elicit",
    "InputRequest",
    "ListRoots",
    "NotSent",
    "Sample",
    "missing_capabilities",
]

TOOL_FIELDS = ("tools", "toolChoice")  # what makes a sampling request tool-enabled (2025-11-25 on)
_SERVER_CONTEXTS = ("thisServer", "allServers")  # includeContext values that need sampling.context
_OWN_FIELDS = (("messages", "messages"), ("maxTokens", "max_tokens"))  # Sample's params, by its parameters


class ClientRequestError(Exception):
    """A request to the client (``ask``, ``elicit``, ``sample``, ``list_roots``) that failed.

    Either the client answered it with an error, or with an answer that is no valid result of the
    request (-32602); or it was never sent: the client's revision has no such method (-32601), or
    no tool use in sampling (-32602), or the client did not declare the capability it needs
    (-32021, with ``requiredCapabilities`` in ``data``). A question asked once the call is stopped
    (cancelled, its client gone, past its time limit), or that a worker thread waits on then, fails
    too (-32000; README, "Once the call is stopped"). ``method`` is the request's method, ``error``
    the JSON-RPC error object (``code``, ``message``, perhaps ``data``), as the client sent it; the
    exception's text holds its message with line breaks and other control characters escaped
    (``printable``): it is the client's, and it ends up in the log record of a route that does
    not catch it."""

    def __init__(self, method: str, error: Mapping[str, Any]) -> None:
        super().__init__(f"{method} failed: {printable(str(error.get('message', 'error')))}")
        self.method = method
        self.error = dict(error)


class NotSent(Exception):
    """A question refused before anything was sent (the handshake channel: the client's revision
    has no such method, or its session says it did not declare the capability, or the server is
    shutting down): ``error`` is the :class:`ClientRequestError` the route gets, once the context
    has taken the keys back (nothing was asked, so a later question may use them)."""

    def __init__(self, error: ClientRequestError) -> None:
        super().__init__(error)
        self.error = error


class AskTimeout(TimeoutError):
    """The client did not answer a route's requests within ``ask_timeout``: the ``TimeoutError`` a
    route catches, which the cancel guard tells from the route's own (the client's doing: logged
    as such, without traceback)."""

    def __init__(self, methods: Iterable[str], limit: float) -> None:
        unanswered = " and ".join(dict.fromkeys(methods))
        super().__init__(f"the client did not answer {unanswered} within {limit:g} s (ask_timeout)")


@dataclass(frozen=True, slots=True)
class Elicit:
    """``elicitation/create`` (form mode): ask the user to fill ``requested_schema``."""

    message: str
    requested_schema: Mapping[str, Any]

    method = "elicitation/create"
    capability = "elicitation"

    def params(self) -> dict[str, Any]:
        return {"mode": "form", "message": self.message, "requestedSchema": dict(self.requested_schema)}


@dataclass(frozen=True, slots=True)
class Sample:
    """``sampling/createMessage``: ask the client's model. ``messages`` are MCP sampling messages."""

    messages: Sequence[Mapping[str, Any]]
    max_tokens: int
    extra: Mapping[str, Any] = field(default_factory=dict)

    method = "sampling/createMessage"
    capability = "sampling"

    def __post_init__(self) -> None:
        for field_name, parameter in _OWN_FIELDS:
            if field_name in self.extra:  # it would be overridden by the parameter without a word
                raise TypeError(
                    f"Sample got {field_name} both as {parameter} and among its extra fields: "
                    f"give it once, as {parameter}"
                )

    def params(self) -> dict[str, Any]:
        return {**self.extra, "messages": [dict(m) for m in self.messages], "maxTokens": self.max_tokens}

    def tool_fields(self) -> list[str]:
        """The tool-use fields given (``tools``, ``toolChoice``): a tool-enabled sampling request."""
        return [name for name in TOOL_FIELDS if name in self.extra]

    def needs(self) -> list[str]:
        """The ``sampling`` sub-capabilities this request needs (sampling.mdx): ``tools`` when it
        enables tool use (servers MUST NOT send that otherwise), ``context`` when it asks for
        ``includeContext`` "thisServer" or "allServers" (servers SHOULD NOT otherwise)."""
        needs = ["tools"] if self.tool_fields() else []
        if self.extra.get("includeContext") in _SERVER_CONTEXTS:
            needs.append("context")
        return needs


@dataclass(frozen=True, slots=True)
class ListRoots:
    """``roots/list``: ask which roots (directories, repositories) the client exposes."""

    method = "roots/list"
    capability = "roots"

    def params(self) -> dict[str, Any]:
        return {}


InputRequest = Elicit | Sample | ListRoots


def _missing(request: InputRequest, declared: Mapping[str, Any], modes: bool) -> dict[str, dict[str, Any]]:
    """What ``request`` needs of the client's capabilities that ``declared`` lacks: the capability,
    with the sub-capabilities it needs and ``declared`` lacks (a sub-capability sent as null is not
    declared either), or nothing. ``modes``: the revision has sub-capabilities (2025-11-25 on)."""
    have = declared.get(request.capability)
    if not modes:
        return {request.capability: {}} if have is None else {}
    if isinstance(request, Elicit) and isinstance(have, Mapping) and _declares_other_modes_only(have):
        return {"elicitation": {"form": {}}}
    needs = request.needs() if isinstance(request, Sample) else ()
    lacking: dict[str, Any] = {
        sub: {} for sub in needs if not (isinstance(have, Mapping) and have.get(sub) is not None)
    }
    if have is None or lacking:  # a capability sent as null is not declared
        return {request.capability: lacking}
    return {}


def _declares_other_modes_only(elicitation: Mapping[str, Any]) -> bool:
    """An elicitation capability without form mode: some mode declared (not null), form not, or
    sent as null (elicitation.mdx: ``{}`` alone, or every mode null, means form mode)."""
    return elicitation.get("form") is None and any(mode is not None for mode in elicitation.values())


def missing_capabilities(
    requests: Iterable[InputRequest], declared: Mapping[str, Any], modes: bool = True
) -> tuple[dict[str, dict[str, Any]], str]:
    """What ``requests`` need of the client's capabilities that ``declared`` lacks, merged (as
    ``requiredCapabilities``), and their names ("elicitation", "sampling.context, sampling.tools");
    ``({}, "")`` when nothing is lacking. ``modes``: whether the revision has sub-capabilities
    (elicitation's modes, ``sampling.tools`` and ``sampling.context`` came with 2025-11-25; before,
    a request needs only its capability)."""
    required: dict[str, dict[str, Any]] = {}
    for request in requests:
        for name, subs in _missing(request, declared, modes).items():
            required.setdefault(name, {}).update(subs)
    names = [f"{name}.{sub}" if sub else name for name in sorted(required) for sub in sorted(required[name]) or [""]]
    return required, ", ".join(names)
