"""Middleware options, validated and precomputed once (never per request)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = ["CREDENTIALS", "LOCAL_HOSTS", "TRACE_CONTEXT", "Settings", "normalise_hosts", "strings"]

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

# What the routes get of the MCP request's headers by default (``Settings.forward_headers``):
# credentials, which tell callers apart and bind a requestState (handlers.Server adds the app's
# API-key headers and URL keys to them), and trace context; results redact every forwarded value
# but trace context (results.credential_values).
CREDENTIALS: Final = frozenset({b"authorization", b"cookie"})
TRACE_CONTEXT: Final = frozenset({b"traceparent", b"tracestate"})


@dataclass(frozen=True, slots=True)
class Settings:
    path: str = "/mcp"
    name: str | None = None
    version: str | None = None
    instructions: str | None = None
    # Hostnames (no port) the Host header may name; None = localhost names and the server's own address.
    allowed_hosts: frozenset[str] | None = None
    # Full origins ("https://app.example.com"); None = origins whose host passes the Host rule.
    allowed_origins: frozenset[str] | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_result_chars: int = 200_000
    max_binary_bytes: int = 16 * 1024 * 1024
    keepalive_interval: float = 15.0
    call_timeout: float | None = None
    # Route runs (tool calls, resource reads, prompt gets) in flight per process; excess is refused.
    max_concurrent_calls: int | None = 256
    # Seconds a route waits for the client's answer to elicitation/sampling/roots (handshake era).
    ask_timeout: float = 600.0
    # HMAC key for 2026-07-28 requestState; None = MCP_MIDDLEWARE_STATE_SECRET or a random key.
    state_secret: bytes | str | None = None
    # Handshake era: hand out (signed, never required, never stored) Mcp-Session-Id values.
    session_ids: bool = False
    # Handshake era: "auto" answers JSON unless something streams; "sse" always opens a stream,
    # as the official SDK server does.
    response_mode: str = "auto"
    forward_headers: frozenset[bytes] = CREDENTIALS | TRACE_CONTEXT

    @property
    def paths(self) -> frozenset[str]:
        base = self.path.rstrip("/") or "/"
        return frozenset({base, base + "/"}) if base != "/" else frozenset({"/"})


def strings(value: Iterable[str], option: str) -> tuple[str, ...]:
    """The strings of an option that takes a collection of them (a list, tuple or set). A single
    string is refused, since it would be read as the collection of its characters (an exclude
    filter that excludes nothing); so is anything that is not a collection of strings."""
    if isinstance(value, str | bytes):
        raise TypeError(
            f"{option} must be a collection of strings (a list, tuple or set), not a single string: {value!r}"
        )
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{option} must be a collection of strings, got {value!r}") from None
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{option} must contain strings only, got {item!r}")
    return items


def normalise_hosts(hosts: Sequence[str] | None) -> frozenset[str] | None:
    if hosts is None:
        return None
    return frozenset(h.lower() for h in strings(hosts, "allowed_hosts"))
