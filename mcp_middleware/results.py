"""A route's HTTP response ──▶ MCP ``CallToolResult`` content, chunk by chunk.

``ResponseCollector`` is fed the response head and then every body chunk as the route sends it
(the collecting, its limits and the decoding of a body are :class:`~mcp_middleware._body.Body`'s).
For text-like bodies each chunk yields the text that can be shown at once (a streamed token, or the
``data`` of each complete event of an ``text/event-stream`` route), as far as the result keeps it;
the caller turns those into progress notifications. ``result()`` builds the final result from everything collected:

* JSON ──▶ the body as text, plus ``structuredContent`` when the tool has an output schema (a
  tool with one that gets no JSON object, one cut short, or one without a property the schema's
  top level requires or with one of another JSON type than it says, whatever its 2xx status,
  gets an ``isError`` result instead); a tool whose documented body is no object (a list, a
  number, ``Optional[Item]``: ``OutputShape.wrapped``) has ``{"result": <the body>}`` as its
  ``structuredContent``, and an ``isError`` result for a body of another JSON type than its
  schema's ``result`` says, or one that is not JSON;
* ``text/*`` and other textual types ──▶ text (event streams: the events' data joined by newlines);
* no content type ──▶ text if the body starts as valid UTF-8, else binary (``application/octet-stream``);
* ``image/*`` ──▶ image content, base64, when its bytes are a PNG, JPEG, GIF or WebP (the type they
  show) that looks whole (``_signatures.whole``) of at most ``MAX_IMAGE_BASE64`` characters of
  base64 (what Claude's API reads); any other image ──▶ a text block saying why it is none, then an
  embedded resource blob of no ``image/*`` type (the type its bytes show, else
  ``application/octet-stream``), as other binary;
* ``audio/*`` ──▶ audio content, base64;
* any other binary ──▶ an embedded resource blob, its URI the route's path and query string under
  ``http://app`` (never fetchable: it names what answered), after a text block that says the file's
  name, type and size when a ``Content-Disposition`` names one;
* an empty body ──▶ the status line;
* 3xx ──▶ ``isError: true`` with the status line, the ``Location`` and the body's text: a redirect
  is not followed, so it is no result of the tool (as a resource's or prompt's is an error); but a
  304 Not Modified is no redirect (``_result_shapes.is_redirect``): the route answered a
  conditional request "unchanged", a result of its status line (an error only for a tool with an
  output schema, which needs a JSON object); nor is a 303 See Other answering a write
  (``_result_shapes.saw_it_done``): the action was done, its status line and ``Location`` the
  tool's success (an error, saying so, for a tool with an output schema);
* a HEAD request's success (:class:`HeadResponseCollector`) ──▶ the status line and the headers
  that matter to a caller, whatever the route sent as a body (a response to HEAD has none);
* 4xx/5xx ──▶ ``isError: true`` with the status and the route's error detail, so the model can
  correct itself; a 401 or 403 as a :class:`Refusal`, which keeps the route's ``WWW-Authenticate``
  (with ``oauth`` the transport may answer it as an HTTP 401/403 instead).

A result (but a HEAD request's, which lists them, and a route's own ``MCPResponse``) ends with a
text block of the response headers a model needs to go on ("Response headers:", a ``name: value``
line each: ``_response_headers.shown`` says which, ``_Located`` adds it), after the body's blocks,
so the first block stays the body and ``structuredContent`` the body's JSON.

Text beyond ``max_text`` characters is cut with an explicit marker; binary beyond ``max_binary``
bytes raises :class:`ResultTooLarge`. A ``Content-Encoding`` the middleware cannot decode, or a body
not valid in its coding, is an ``isError`` result saying so. The credentials forwarded to the route
are redacted from every error, redirect and HEAD text (:mod:`mcp_middleware._redaction`); the
result shapes and fixed texts are in :mod:`mcp_middleware._result_shapes`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ._body import Body, ResultTooLarge
from ._printable import printable
from ._redaction import REDACTED, credential_values, redacted
from ._response_headers import LONGEST_BLOCK, Placed, _all_values, cut_before, fitted
from ._result_shapes import (
    HINTS,
    NOT_MODIFIED,
    bounded,
    declared_size,
    error_result,
    head_text,
    is_redirect,
    located,
    reason_phrase,
    saw_it_done,
    sentence,
    status_line,
    text_result,
)
from ._signatures import sniffed, whole
from .jsonrpc import Built, ProtocolError, loads_exactly

__all__ = [
    "MAX_IMAGE_BASE64",
    "NOT_MODIFIED",
    "CachingCollector",
    "HeadResponseCollector",
    "Refusal",
    "RefusedError",
    "ResponseCollector",
    "ResultTooLarge",
    "blob_type",
    "credential_values",
    "error_result",
    "is_redirect",
    "reason_phrase",
    "status_line",
    "text_result",
    "unread_image",
]


# The image types Claude's API reads in an image block, and the most base64 text of one it reads
# (5 MiB): it refuses any other block, and Claude Code keeps a refused block in the conversation, so
# every later turn fails. A route's image of another type (its bytes say), or a bigger one, goes out
# as other binary does (``ResponseCollector._binary_blocks``); an app's own ``content.image`` is its own.
# (each with the name of its format, as a result's text says it)
_FORMATS = {b"image/png": "PNG", b"image/jpeg": "JPEG", b"image/gif": "GIF", b"image/webp": "WebP"}
MODEL_IMAGE_TYPES = frozenset(_FORMATS)
MAX_IMAGE_BASE64 = 5 * 1024 * 1024
# the most characters of a downloaded file's name its text block says (a file system's NAME_MAX);
# a longer one is cut, an ellipsis after it
_NAME_MAX = 255


def _cut_name(name: str) -> str:
    """A file name (redacted: cut first, a credential across the cut showed its start) of more
    than ``_NAME_MAX`` characters cut there, an ellipsis after it; a cut that would split a
    ``[redacted]`` goes before it."""
    if len(name) <= _NAME_MAX:
        return name
    return name[: cut_before(name, _NAME_MAX, REDACTED)] + "\u2026"


class Refusal(Built):
    """A route's 401 or 403 as its call's ``isError`` result, which also keeps the status and the
    route's ``WWW-Authenticate`` ("" without one), without the credentials forwarded to the route
    (redacted as the result's text is). With ``oauth`` the transport answers it as the
    endpoint's own HTTP refusal while nothing of the MCP response has gone out
    (``Responder.refused``, ``security.Security.route_refusal``); anywhere else it is the result it
    is (a batch, a stream already started, no ``oauth``)."""

    status: int
    challenge: str

    def __init__(self, result: Mapping[str, Any], status: int, challenge: str) -> None:
        super().__init__(result)
        self.status = status
        self.challenge = challenge


class RefusedError(ProtocolError):
    """The JSON-RPC error of a ``resources/read`` or ``prompts/get`` whose route answered a
    :class:`Refusal` (which it carries, for the transport to answer as for a tool call)."""

    def __init__(self, code: int, message: str, refusal: Refusal, data: Any = None) -> None:
        super().__init__(code, message, data)
        self.refusal = refusal


class ResponseCollector(Body):
    """Collects one sub-response (:class:`~mcp_middleware._body.Body`) and makes its result; see
    the module docstring."""

    def result(self) -> dict[str, Any]:
        # A tool with an output schema and a whole JSON body of a 2xx (a redirect's is no result),
        # the usual call, is decided first: no other case below is one (an MCP body, an error)
        if self._structured and self._kind == "json" and self.status < 300 and not self._dropped:
            text = self.text()
            value = loads_exactly(text)
            if isinstance(value, dict):
                # any 2xx: the body says whether it is the result (a required name missing fails it too)
                if self._output.fits(value):
                    return Built({"content": [{"type": "text", "text": text}], "structuredContent": value})
                return self._not_described(value, text)
            if self._output.wrapped:  # (a body that is no object: never an object's tool)
                return self._wrapped(value, text)
            return self._unstructured()
        if self._kind == "mcp":
            return self._mcp_content()
        if self.status >= 400:
            return self._error()
        if self._structured:
            return self._unstructured()
        if self._refusal:  # (an undecodable body, never textual)
            return error_result(sentence(self._refusal))
        if self.status > 299:  # a 3xx (4xx/5xx are above)
            if is_redirect(self.status):
                return self._redirect(self.text() if self._textual else "")
            return text_result(status_line(self.status))  # a 304 Not Modified: "unchanged", no body
        if not self._textual:
            return Built(content=self._binary_blocks())
        text = self.text()
        return Built({"content": [{"type": "text", "text": text or self._no_text()}]})

    def _no_text(self) -> str:
        """The text of a success whose body has none: its status line ("200 OK"), and for a
        stream that it sent no output ("200 OK (the stream sent no output)"): a chat route's model
        read a bare "200 OK" as the answer."""
        line = status_line(self.status)
        return f"{line} (the stream sent no output)" if self.streamed() else line

    # -- a 201 or 202 with a Location, the headers a result shows -------------------------------
    # The new resource of a 201, the job of a 202, the next page's link, an ETag to send back: the
    # model learns them only from the result's text. ``_rest`` (run for a response with a less
    # usual header only) makes such a collector a ``_Located`` one, whose ``result`` says them, so
    # the usual success's pays nothing for it.

    _lists_headers = False  # a result that lists the response's headers itself (a HEAD's)

    def _rest(self, headers: Sequence[Sequence[bytes]], rest: Placed) -> None:
        super()._rest(headers, rest)
        located = self._location and self.status < 300
        if (located or self._listed) and not self._lists_headers and self._kind != "mcp":
            # a class of its own, not a method put in the instance's dict: a bound method there
            # holds the instance, a cycle, and the collector and its body waited for the cyclic
            # garbage collector (a call frees everything by reference counting)
            self.__class__ = _located_type(type(self))

    def _redirect(self, text: str) -> dict[str, Any]:
        """A redirect, which is not followed, so the tool did not do its work (``HTTPSRedirectMiddleware``
        behind a TLS proxy without ``--proxy-headers`` answers every call so): an ``isError``
        result of its status line, its ``Location`` and its text (a binary body's is left out),
        redacted (a redirect's URL, in its ``Location`` or body, may carry a forwarded key). A 303
        answering a write is the tool's success, of the same text (``saw_it_done``): an error made
        a model repeat a write that was done."""
        line = located(self.status, redacted(self._location, self._forwarded))
        text = redacted(f"{line}\n\n{text}" if text else line, self._forwarded)
        return text_result(text, is_error=not saw_it_done(self.status, self._called[0].method))

    def failed(self, why: str) -> dict[str, Any]:
        """The error result of a call whose route stopped before its response was complete (its
        time limit, or it raised): ``why`` (a sentence), then the text the route had sent, as far as
        the result keeps it (a client without a progress token saw none of it as it streamed),
        redacted as any error text is. A binary body's bytes are left out."""
        return self.failed_as(error_result(why))

    def failed_as(self, result: dict[str, Any]) -> dict[str, Any]:
        """:meth:`failed` for a failure that has an error result of its own (``result``, a text
        block, and a second one for a 201/202's ``Location``: an ``HTTPException`` raised
        mid-stream, the response its handler would have sent): the text the route had sent follows
        that result's first text, as it follows ``why`` there."""
        text = ""
        if self.streamable:
            self.cut_short_here()
            text = self.text()
        if text:
            block = result["content"][0]
            block["text"] += redacted(f"\n\nOutput before the failure:\n{text}", self._forwarded)
        return result

    def _unstructured(self) -> dict[str, Any]:
        """A tool with an output schema must return a conforming ``structuredContent`` (the
        official clients refuse a success without it): anything else is a tool error."""
        if self._refusal:
            return error_result(sentence(self._refusal))
        if (cut := self.cut_short()) is not None:
            whole = "JSON" if self._output.wrapped else "a JSON object"  # (a wrapped one: any JSON value)
            why = f"The tool has an output schema, so its result must be {whole} in full"
            return error_result(f"{why}, but {cut}.")
        answered = "the route answered " + status_line(self.status)
        if self._location:
            answered += f" (Location {bounded(redacted(self._location, self._forwarded))})"
        text = self.text() if self._textual else ""  # redacted with the rest of the error text
        if saw_it_done(self.status, method := self._called[0].method):  # still no structuredContent
            done = f"the {method} was done and its result is at the Location (do not repeat it)"
            why = f"{answered}: {done}, but a redirect is not this tool's result" + (f": {text}" if text else "")
        elif is_redirect(self.status):
            why = f"{answered}: a redirect is not a result" + (f": {text}" if text else "")
        elif self.status == NOT_MODIFIED:
            why = f"{answered} with no content"
        elif self._textual and not text:
            why = f"{answered} with {'a stream that sent no output' if self.streamed() else 'an empty body'}"
        elif self._kind == "json":
            why = f"{answered} with a body that is not a JSON object: {text}"
        elif self._textual:
            why = f"{answered} with {self._mime or 'text'} instead of JSON: {text}"
        else:
            why = f"{answered} with {self._mime} ({self._size} bytes) instead of JSON"
        return error_result(redacted(f"The tool has an output schema, but {why}", self._forwarded))

    def _not_described(self, value: dict[str, Any], text: str) -> dict[str, Any]:
        """A JSON object without a property the output schema's top level requires, or with one
        whose value is of another JSON type than the schema says (a route's own ``JSONResponse``
        past its response model: "accepted, still processing", ``"id": "1"``): it is no result of
        this tool, and the official clients refuse it as ``structuredContent``. Only the top level
        is checked (:mod:`mcp_middleware._output_shape`): deeper, the route's response model is
        trusted. The fast check sends an integral float for an integer here, which is the result."""
        shape = self._output
        if shape.wrapped:
            return self._wrapped(value, text)
        missing = sorted(shape.required - value.keys())
        wrong = shape.mismatches(value)
        if not missing and not wrong:
            return Built({"content": [{"type": "text", "text": text}], "structuredContent": value})
        parts = [f"without {', '.join(map(repr, missing))}, which the schema requires"] if missing else []
        if wrong:
            whose = (
                f"{name!r} is {_a(actual)} where the schema says {' or '.join(kinds)}" for name, actual, kinds in wrong
            )
            parts.append(f"whose {', '.join(whose)}")
        answered = "the route answered " + status_line(self.status)
        why = f"{answered} with a JSON object {', and '.join(parts)}"
        text = f"The tool has an output schema, but {why}, so it is not this tool's result: {text}"
        return error_result(redacted(text, self._forwarded))

    def _wrapped(self, value: Any, text: str) -> dict[str, Any]:
        """The result of a tool whose JSON body is no object (its output schema's ``result`` is the
        body's schema): ``{"result": value}`` as its ``structuredContent``, the text as it is; a
        body of another JSON type than ``result`` says (a route's own ``JSONResponse``), or one
        that is not JSON at all, is no result of this tool, as for an object's
        (:meth:`_not_described`). Only the body's own JSON type is checked."""
        if value is None and text.strip(" \t\r\n") != "null":  # (``loads_exactly``'s None for no JSON)
            answered = "the route answered " + status_line(self.status)
            why = f"The tool has an output schema, but {answered} with a body that is not JSON: {text}"
            return error_result(redacted(why, self._forwarded))
        result = {"result": value}
        wrong = self._output.mismatches(result)
        if not wrong:
            return Built({"content": [{"type": "text", "text": text}], "structuredContent": result})
        [(_, actual, kinds)] = wrong
        answered = "the route answered " + status_line(self.status)
        why = f"{answered} with {_a(actual)} where the schema says {' or '.join(kinds)}"
        text = f"The tool has an output schema, but {why}, so it is not this tool's result: {text}"
        return error_result(redacted(text, self._forwarded))

    def _mcp_content(self) -> dict[str, Any]:
        """A route's own ``MCPResponse``: its blocks are the result (the wire types check them);
        with a 401 or 403 status a :class:`Refusal` carrying them, as a plain refusal's text is
        (``_refused``): the route shaped the result, its status still refuses the credentials."""
        result = self._mcp_blocks()
        return result if self.challenge is None else self._refused(result)

    def _mcp_blocks(self) -> dict[str, Any]:
        try:
            value = orjson.loads(self.text()) if not self._dropped else None
        except orjson.JSONDecodeError:
            value = None
        if not isinstance(value, dict) or not isinstance(value.get("content"), list):
            return error_result("The route's MCP content was not valid (or exceeded the size limit).")
        result: dict[str, Any] = {"content": value["content"]}
        if "structuredContent" in value:
            result["structuredContent"] = value["structuredContent"]
        if value.get("isError") is True or self.status >= 400:
            result["isError"] = True
        elif self._structured and "structuredContent" not in result:
            return error_result("The tool has an output schema, but the route's MCP content has no structuredContent.")
        return result

    def _binary_blocks(self) -> list[dict[str, Any]]:
        """A binary body's blocks: audio ──▶ an audio block; an image a model reads (``unread_image``
        says none is missing) ──▶ an image block of the type its bytes show (a PNG sent as
        ``image/jpeg`` is ``image/png``); anything else ──▶ an embedded blob (``_blob``). Before a
        blob, a text block when there is something a model should know that a blob does not say:
        the file's name a ``Content-Disposition`` gives (``FileResponse(...,
        filename="report.pdf")``: a client that saves the blob to disk gives no name a model
        sees), and why an ``image/*`` response is no image block (``content[0]`` is then text,
        which clients read first)."""
        body = self.body_bytes()
        data = base64.b64encode(body).decode("ascii")
        if self._kind == "audio":
            return [{"type": "audio", "data": data, "mimeType": self._mime}]
        why = ""
        if self._kind == "image":
            shown, why = unread_image(body, len(data))
            if not why:
                return [{"type": "image", "data": data, "mimeType": shown}]
        block = self._blob(data, blob_type(body) if why else self._mime)
        name = None
        if self._disposition:  # redacted whole, before its last segment is taken and before the cut (review s10g)
            from ._disposition import filename  # a file's name: loaded by the first file result

            name = filename(self._disposition, lambda whole: redacted(whole, self._forwarded))
        if name is None and not why:
            return [block]
        if name is None:
            text = f"Not shown as an image: the route's {printable(self._mime)} response ({self._size} bytes) is {why}."
        else:
            shown = printable(_cut_name(name)).replace('"', '\\"')
            text = f'File "{shown}" ({printable(self._mime)}, {self._size} bytes)'
            text += f", not shown as an image: it is {why}." if why else ""
        return [{"type": "text", "text": redacted(text, self._forwarded)}, block]

    def _blob(self, data: str, mime: str) -> dict[str, Any]:
        """An embedded blob resource of ``data`` (base64), its URI the route's path and query
        string under ``<scheme>://app``."""
        request, call, _ = self._called
        scope = call.parent
        uri = f"{scope.get('scheme', 'http')}://app{self._path}"
        query = request.query_string
        if query:  # as the route was called (each ``?page=`` its own), no forwarded credential
            uri = redacted(f"{uri}?{query.decode('latin-1')}", self._forwarded)
        return {"type": "resource", "resource": {"uri": uri, "mimeType": mime, "blob": data}}

    def _error(self) -> dict[str, Any]:
        if self._textual:
            detail = self.text()
        else:
            detail = sentence(self._refusal) if self._refusal else f"<{self._size} bytes of {self._mime}>"
        if self._kind == "json":
            value = loads_exactly(detail)  # an integer beyond 64 bits keeps its digits
            if isinstance(value, dict) and "detail" in value:
                detail = _shown(value["detail"], detail)
        head = "HTTP " + status_line(self.status) + HINTS.get(self.status, "")
        if self._retry_after:  # when to try again (a 429's, a 503's): before the detail, which may be cut
            head += f" (Retry-After: {self._retry_after})"
        result = error_result(redacted(f"{head}: {detail}" if detail else head, self._forwarded))
        if self.challenge is not None:  # a 401 or 403 (its challenge may be the endpoint's header)
            return self._refused(result)
        return result

    def _refused(self, result: dict[str, Any]) -> Refusal:
        """``result``, of a 401 or 403, as a :class:`Refusal`: the status and the route's challenge
        without the credentials forwarded to the route (redacted as the result's text is)."""
        challenge = self.challenge
        return Refusal(result, self.status, redacted(challenge, self._forwarded) if challenge else "")


def unread_image(body: bytes, encoded: int) -> tuple[str, str]:
    """An ``image/*`` body (``encoded``: its base64's length) ──▶ the type its bytes show and "",
    when a model's API reads it as an image: a PNG, JPEG, GIF or WebP (``sniffed``) that looks
    whole (``whole``: the API refuses an image it cannot decode) of at most ``MAX_IMAGE_BASE64``
    characters of base64; else "" and why not, as the result's text says it."""
    found = sniffed(body)
    if found is None or found[0] not in MODEL_IMAGE_TYPES:
        return "", "not a PNG, JPEG, GIF or WebP"
    media = found[0]
    if not whole(media, body):
        return "", f"an incomplete {_FORMATS[media]} (cut short or damaged)"
    if encoded > MAX_IMAGE_BASE64:
        return "", "more than the 5 MiB of base64 a model's API reads in an image"
    return media.decode("ascii"), ""


def blob_type(body: bytes) -> str:
    """The ``mimeType`` of the blob an ``image/*`` body no model reads becomes: the type its bytes
    show when that is no image (a PDF labelled ``image/png``), else ``application/octet-stream``.
    Never ``image/*``: clients turn an ``image/*`` blob into an image block (Claude Code for
    PNG, JPEG, GIF and WebP; others for any), which the API refuses as it would the block."""
    found = sniffed(body)
    if found is not None and not found[0].startswith(b"image/"):
        return found[0].decode("ascii")
    return "application/octet-stream"


def _shown(detail: Any, body: str) -> str:
    """An error body's ``detail`` as its text: a string as it is, any other value as JSON; one
    nested deeper than orjson writes (a 422 echoing the client's deep arguments) as the ``body``
    it came in, which says the same."""
    if isinstance(detail, str):
        return detail
    try:
        return orjson.dumps(detail).decode()
    except TypeError:  # (orjson.JSONEncodeError) "Recursion limit reached"
        return body


def _a(kind: str) -> str:
    """A JSON type's name with its article: "an integer", "a string"."""
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


class CachingCollector(ResponseCollector):
    """A collector that also keeps the response's ``Cache-Control`` (its header lines joined, ""
    without one), for the caching hints of a 2026-07-28 ``resources/read``. Tool calls use the plain
    collector, whose ``head`` reads no more than it needs."""

    def head(self, status: int, headers: Sequence[Sequence[bytes]]) -> None:
        super().head(status, headers)
        self.cache_control = _all_values(headers, b"cache-control")


class HeadResponseCollector(ResponseCollector):
    """The collector of a HEAD request's response. A response to HEAD has no content (RFC 9110
    §9.3.2; a server drops what a route sends, such as FastAPI's ``null`` for a None), so a
    success's result is its status line and the headers that matter to a caller, in the order sent,
    never a ``Set-Cookie`` (``_result_shapes.head_text``), the credentials forwarded to the route
    redacted. An error is any route's (its detail is what the route sent), and a tool with an output
    schema gets its body as any other."""

    _lists_headers = True  # (a success's Location among them)

    def feed(self, chunk: bytes, more: bool) -> list[str]:
        if self.status < 400 and not self._structured:
            return []
        return super().feed(chunk, more)

    def streamed(self) -> bool:
        """No response to HEAD has content, stream or not: its empty body is no silent stream."""
        return False

    def result(self) -> dict[str, Any]:
        if self.status >= 400 or self._structured:
            return super().result()
        # a redirect (not followed) is no success of the tool either; a 304 Not Modified is one
        # (its headers fitted in the size every tool declares, a long value cut: ``fitted``)
        shown = head_text(self.status, self.headers, self._called[2].hidden_headers)
        line, *lines = redacted(shown, self._forwarded).split("\n")
        text = fitted(line, lines, declared_size(self._max_text), REDACTED) or line
        return text_result(text, is_error=is_redirect(self.status))


class _Located(ResponseCollector):
    """The collector of a 201 or 202 with a ``Location``, or of a response with headers a result
    shows (``_response_headers.shown``; not a route's own ``MCPResponse``, which shaped its result,
    nor a HEAD's, which lists its headers): ``ResponseCollector._rest`` makes a collector one (of
    its own class's ``_located_type``) once it has read the head."""

    def result(self) -> dict[str, Any]:
        """An empty body's result is the status line with the ``Location`` (as a redirect's shows
        it, ``located``); a body's text stays the first block as it is (a JSON body's still the
        text of its ``structuredContent``, which must match the output schema, so it does not
        change), the ``Location`` in a text block after it (a model reads text content; ``_meta``
        is the client's, not the model's); an error result (a tool with an output schema that got
        no JSON object) says it already. The headers a result shows go in a last text block,
        after any result's, an error's too ("Response headers:", a line each), fitted in what
        the result's text leaves of the size every tool declares (``_headers_block``). Redacted as
        any text taken from the response's headers (before a value is cut: no start of a
        credential is left)."""
        result = super().result()
        blocks = result["content"]
        if self._location and self.status < 300 and not result.get("isError"):
            line = located(self.status, redacted(self._location, self._forwarded))
            if self._textual and not self.text():  # its text is the status line alone
                blocks[0]["text"] = line
            else:
                blocks.append({"type": "text", "text": line})
        if self._listed and (listed := self._headers_block(blocks)):
            blocks.append({"type": "text", "text": listed})
        return result

    def _headers_block(self, blocks: list[dict[str, Any]]) -> str:
        """The "Response headers:" block, within what the result's ``blocks`` leave of the size
        every tool declares, and ``LONGEST_BLOCK`` characters at most (``fitted``)."""
        used = sum(len(block.get("text", "")) for block in blocks)
        room = min(LONGEST_BLOCK, declared_size(self._max_text) - used)
        return fitted("Response headers:", redacted(self._listed, self._forwarded).split("\n"), room, REDACTED)


# a collector class -> its ``_Located`` kind (made on first use: a class that subclasses
# ``ResponseCollector`` keeps what it does), a ``_Located`` one -> itself
_LOCATED: dict[type[ResponseCollector], type[ResponseCollector]] = {ResponseCollector: _Located}


def _located_type(kind: type[ResponseCollector]) -> type[ResponseCollector]:
    """The ``_Located`` kind of collector class ``kind`` (``kind`` itself when it is one)."""
    made = _LOCATED.get(kind)
    if made is None:
        made = kind if issubclass(kind, _Located) else type(f"Located{kind.__name__}", (_Located, kind), {})
        _LOCATED[kind] = made
    return made
