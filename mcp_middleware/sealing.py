"""Integrity-protected ``requestState`` for 2026-07-28 multi round-trip requests (SEP-2322).

The state a route hands back travels through the client, so it is attacker-controlled
(mrtr.mdx: servers MUST protect it). It is sealed with HMAC-SHA256 over the value, the tool (or
prompt/resource) it belongs to, the caller and the call's arguments (:func:`bound_target`), and an
expiry; anything that fails verification is rejected with a JSON-RPC error. The payload is
readable (base64 JSON, authenticated, not encrypted), so the binding is in it only as an HMAC keyed
with the secret: a digest of the caller's credentials that anyone could compute would let whoever
sees a state test password guesses offline. A ``requestState`` carries a :class:`Round`: the
route's own state and the answers its run has already used (a retry answers only the latest
requests, mrtr.mdx). The optional handshake-era session ids (:class:`Sessions`) are sealed the
same way, and carry the revision ``initialize`` negotiated and, bounded, what the client declared
there of the capabilities a route's questions need. Every worker behind a load balancer must share the secret: pass
``state_secret`` or set ``MCP_MIDDLEWARE_STATE_SECRET`` (read and checked in :mod:`.config`);
otherwise each process makes a random one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import orjson

__all__ = ["ASKED", "Round", "Sealer", "Session", "Sessions", "StateError", "bound_target", "kept_capabilities"]

# The client capabilities a route's questions need (roots/list, sampling/createMessage,
# elicitation/create): what a session id keeps of the initialize request's.
ASKED = ("elicitation", "roots", "sampling")
# An id keeps at most this many sub-capabilities of each, with names at most this long, and those
# the rules read (_input_requests.missing_capabilities) and roots' listChanged before any other.
_SUB_CAPABILITIES = 8
_NAME_LENGTH = 32
_READ = frozenset({"context", "form", "listChanged", "tools", "url"})


class StateError(Exception):
    """The state is not one this server sealed for this target, or it expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """The bytes of ``_b64(data)``, read only in that exact form (the decoder itself skips
    characters outside its alphabet, which gave one token many spellings): ValueError otherwise."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64(data) != text:
        raise ValueError("not the canonical unpadded URL-safe base64 of its bytes")
    return data


def bound_target(target: str, principal: bytes, arguments: object) -> str:
    """``target`` bound to the caller (``principal``: its credentials) and a digest of the call's
    arguments: mrtr.mdx, servers SHOULD bind a state to the principal and the originating request
    (elicitation.mdx: MUST bind to the user's identity). Only made when a state is sealed or opened."""
    try:
        encoded = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes (it reads 1,024 levels, writes 254)
        # flat, so no depth limit; and any integer, for a direct caller: a request holding one
        # beyond 64 bits is refused before its arguments get here (jsonrpc.parse_message)
        encoded = json.dumps(_tokens(arguments)).encode()
    caller, request = hashlib.sha256(principal).hexdigest(), hashlib.sha256(encoded).hexdigest()
    return f"{target} {caller} {request}"


_CLOSE = object()


def _tokens(value: object) -> list[object]:
    """A JSON value as a flat token list, keys sorted, without recursion: 1 opens an object, 2 an
    array, 0 closes either; ``("k", key)`` is a key, ``[value]`` a scalar."""
    out: list[object] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if item is _CLOSE:
            out.append(0)
        elif isinstance(item, dict):
            out.append(1)
            stack.append(_CLOSE)
            for key in sorted(item, reverse=True):
                stack += (item[key], ("k", key))
        elif isinstance(item, list):
            out.append(2)
            stack.append(_CLOSE)
            stack.extend(reversed(item))
        else:
            out.append(item if isinstance(item, tuple) else [item])
    return out


class Round(NamedTuple):
    """What a 2026-07-28 ``requestState`` carries."""

    state: str | None  # the route's own (``ctx.request_state``)
    answers: dict[str, Any]  # by key, the answers the route's run used before it asked again


class Sealer:
    __slots__ = ("_binding_key", "_key", "_ttl")

    def __init__(self, secret: bytes | None = None, ttl: float = 3600.0) -> None:
        """``secret``: the key (``Settings.secret_key``, checked there); None makes a random one."""
        self._key = os.urandom(32) if secret is None else secret
        # a key of its own for the binding (domain separation from the token's MAC)
        self._binding_key = hmac.new(self._key, b"mcp-middleware requestState binding", hashlib.sha256).digest()
        self._ttl = ttl

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()

    def binding(self, target: str) -> str:
        """What the payload says of ``target``: a keyed HMAC, which only the secret's holder can
        compute (so it tells nothing about the credentials and arguments in it). A caller whose
        target never changes computes it once (``Sessions``) and uses ``seal_bound``/``unseal_bound``."""
        return _b64(hmac.new(self._binding_key, target.encode(), hashlib.sha256).digest())

    def seal(self, value: object, target: str) -> str:
        return self.seal_bound(value, self.binding(target))

    def seal_bound(self, value: object, binding: str) -> str:
        payload = orjson.dumps({"v": value, "b": binding, "e": int(time.time() + self._ttl)})
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def seal_round(self, state: str | None, answers: Mapping[str, Any], target: str) -> str:
        return self.seal({"s": state, "a": answers}, target)

    def unseal_round(self, token: str, target: str) -> Round:
        value = self.unseal(token, target)
        if not isinstance(value, dict) or not isinstance(value.get("a"), dict):
            raise StateError("requestState is malformed")
        state = value.get("s")
        if state is not None and not isinstance(state, str):
            raise StateError("requestState is malformed")
        return Round(state, value["a"])

    def unseal(self, token: str, target: str) -> object:
        return self.unseal_bound(token, self.binding(target))

    def unseal_bound(self, token: str, binding: str) -> object:
        try:
            body, _, mac = token.partition(".")
            payload = _unb64(body)
            if not hmac.compare_digest(_unb64(mac), self._mac(payload)):
                raise StateError("requestState failed verification")
            data = orjson.loads(payload)
        except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
            raise StateError("requestState is malformed") from exc
        bound = data.get("b") if isinstance(data, dict) else None
        if not isinstance(bound, str) or not hmac.compare_digest(bound, binding) or "v" not in data:
            raise StateError("requestState does not belong to this request")
        if not isinstance(data.get("e"), int) or data["e"] < time.time():
            raise StateError("requestState has expired")
        return data["v"]


class Session(NamedTuple):
    """What a session id says of its client (:meth:`Sessions.open`)."""

    declared: dict[str, Any]  # the ASKED capabilities of its initialize, as kept (see kept_capabilities)
    version: str | None  # the revision initialize negotiated; None in an id sealed before ids had it


def kept_capabilities(capabilities: object) -> dict[str, Any]:
    """What an id keeps of ``capabilities`` (the ``initialize`` request's): each ``ASKED`` one
    declared as an object, with the names of its sub-capabilities one level deep: only those not
    null (not declared), at most ``_NAME_LENGTH`` characters long, at most ``_SUB_CAPABILITIES`` of
    them (the ones the rules read first, then by name), each valued true or false as sent, else
    ``{}``. So an id stays small, and can always be sealed, whatever the client sends."""
    declared = capabilities if isinstance(capabilities, dict) else {}
    kept: dict[str, Any] = {}
    for name in ASKED:
        subs = declared.get(name)
        if isinstance(subs, dict):
            names = [sub for sub, value in subs.items() if value is not None and len(sub) <= _NAME_LENGTH]
            names.sort(key=lambda sub: (sub not in _READ, sub))
            kept[name] = {sub: subs[sub] if isinstance(subs[sub], bool) else {} for sub in names[:_SUB_CAPABILITIES]}
    return kept


class Sessions:
    """Optional handshake-era session ids that need no session store.

    An id is a sealed random value: any worker holding the secret can tell one it issued from a
    forged or expired one (404, transports.mdx §Session Management) without remembering anything.
    It also carries the revision ``initialize`` negotiated, and what the client declared there of
    the capabilities a route's questions need (``ASKED``, bounded: :func:`kept_capabilities`), so
    that a question the client did not declare is not sent (sampling.mdx, mrtr.mdx). Ids are never
    required; a request without one is served like any other, what its client declared unknown.
    """

    __slots__ = ("_binding", "_sealer")

    def __init__(self, secret: bytes | None, ttl: float = 30 * 24 * 3600.0) -> None:
        self._sealer = Sealer(secret, ttl)
        self._binding = self._sealer.binding("session")  # a constant: computed once, not per request

    def mint(self, capabilities: object, version: str) -> str:
        """A new id, carrying what :func:`kept_capabilities` keeps of ``capabilities`` (the
        ``initialize`` request's) and ``version``, the revision it negotiated."""
        value = {"r": os.urandom(16).hex(), "c": kept_capabilities(capabilities), "v": version}
        return self._sealer.seal_bound(value, self._binding)

    def open(self, session_id: str | None) -> Session | None:
        """What ``session_id`` says; None without an id, or for one minted before ids carried
        capabilities (what its client declared is unknown). An id that carried them before it
        carried the revision (whole, as sent) gives them as a new id keeps them, and no revision.
        Raises :class:`StateError` for an id this server did not issue, or that expired."""
        if session_id is None:
            return None
        value = self._sealer.unseal_bound(session_id, self._binding)
        if not isinstance(value, dict) or not isinstance(value.get("c"), dict):
            return None
        version = value.get("v")
        if isinstance(version, str):
            return Session(value["c"], version)  # kept_capabilities made it
        return Session(kept_capabilities(value["c"]), None)
