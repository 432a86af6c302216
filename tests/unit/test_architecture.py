"""The layering ARCHITECTURE.md promises, enforced with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

import mcp_middleware

PACKAGE = Path(mcp_middleware.__file__).parent


def imports_of(module: Path, typing: bool = True) -> set[str]:
    """Package-internal modules imported by ``module`` (as dotted names relative to the package);
    without ``typing``, only those imported at run time (not under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(module.read_text())
    if not typing:
        tree.body = [n for n in tree.body if not (isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")]
    relative_to = module.relative_to(PACKAGE).with_suffix("").parts[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(relative_to[: len(relative_to) - (node.level - 1)])
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
                names = [target] if node.module else [".".join([*base, a.name]) for a in node.names]
                found.update(names)
            elif node.module and node.module.startswith("mcp_middleware"):
                found.add(node.module.removeprefix("mcp_middleware").lstrip("."))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith(("mcp_middleware", "fastapi", "mcp.")))
    return found


def all_imports(name: str, typing: bool = True) -> set[str]:
    return imports_of(PACKAGE / (name.replace(".", "/") + ".py"), typing)


def third_party(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            out.add(node.module.split(".")[0] if node.module != "mcp_types" else "mcp_types")
    return out


def test_public_names() -> None:
    assert mcp_middleware.__all__ == [
        "ClientRequestError",
        "Elicit",
        "ListRoots",
        "MCPContext",
        "MCPMiddleware",
        "MCPResponse",
        "NotInMCPCall",
        "Sample",
        "content",
        "declare",
        "mcp_context",
    ]
    for name in mcp_middleware.__all__:
        assert hasattr(mcp_middleware, name)


def test_every_public_name_has_its_own_docstring() -> None:
    """What ``help()`` and an editor show: each public class, function and method says what it is
    (``declare``'s helpers, ``MCPResponse``, ``content.text`` and ``audio``, and two of
    ``MCPContext``'s methods said nothing)."""
    from mcp_middleware import MCPContext, content, declare

    public = [getattr(mcp_middleware, name) for name in mcp_middleware.__all__ if name not in ("content", "declare")]
    public += [getattr(content, name) for name in content.__all__ if name != "MCP_CONTENT_TYPE"]
    public += [getattr(declare, name) for name in declare.__all__]
    public += [member for name, member in vars(MCPContext).items() if callable(member) and not name.startswith("_")]
    undocumented = [item.__qualname__ for item in public if not (item.__doc__ or "").strip()]
    assert undocumented == []


def test_leaf_modules_import_nothing_from_the_package() -> None:
    leaves = (
        "_revisions",
        "sse",
        "dispatch",
        "config",
        "sealing",
        "listen",
        "content",
        "_declared",  # what a declaration must hold: declare raises, features warns
        "query_keys",
        "_wire_types",
        "_pieces",  # a streamed text's pieces, joined every _JOIN_EVERY: _body_text's and _event_parser's
        "_values",
        "_route_endpoints",
        "_rpc_messages",
        "_exact_json",
        "_printable",
        "_uri_template",
        "_stream_failure",  # frames only: whether a failure is the stream's (_guard asks)
        "_tool_filter",
        "_schema_keywords",
        "_output_shape",  # the output schema's top level, read once per tool
        "_http_token",  # RFC 9110's token, the one pattern of a header name, a scheme, an x-mcp-header
        "_once",  # the build-time warnings said once however often the catalog is rebuilt
        "_name_rules",  # what a given tool name must be: declare raises, the middleware and catalog too
        "_answer_pattern",  # a requestedSchema pattern with ECMA-262's meaning in Rust's syntax
        "_signatures",  # a file's kind by its first bytes: an upload's type, whether an image is a model's
    )
    for leaf in leaves:
        assert all_imports(leaf) == set(), leaf
    assert all_imports("_event_parser") == {"_pieces"}  # the join of its text as sent, as a body's text
    assert all_imports("declare") == {"_declared", "_name_rules"}  # its checks, shared with features, catalog
    # the client's text in the error a route gets (and logs) is escaped
    assert all_imports("_answers") == {"_printable", "_answer_pattern"}
    assert all_imports("_input_requests") == {"_printable"}
    assert all_imports("_bearer") == {"_http_token"}  # a challenge's scheme and parameter names
    assert all_imports("_header_rules") == {"_http_token"}  # an x-mcp-header value is a token
    assert all_imports("validation") == {"_once"}  # with_room, how its remembered verdicts stay bounded
    assert all_imports("_naming") == {"config"}  # the HTTP methods, one list (config.HTTP_METHODS)
    assert all_imports("_route_docstrings") == {"_once"}  # its warnings, once across rebuilds
    assert all_imports("_route_document") == {
        *("_route_endpoints", "_route_docstrings", "_route_input_schema", "_mounted_documents"),  # its parts
        "_free_arguments",  # the free query and body, and what of a docstring's YAML cannot be read
        "_route_order",  # RouteOrder, the type of the routers' orders its mounted part asks
    }
    assert all_imports("_route_input_schema") == {"_route_docstrings"}  # _resolves, a $ref read in a schema
    assert all_imports("_free_arguments") == {"_once", "_route_docstrings"}  # _resolves, _free_unresolved
    # FastAPI's generated ids, under a mount's prefix; the router's order, which of an outer app's
    # route and a mounted one it reaches first; MOUNT_KEY, the mark its token routes read (review
    # s10g); RouteDocument only as a type (TYPE_CHECKING)
    assert all_imports("_mounted_documents", typing=False) == {
        *("_naming", "_once", "_route_endpoints", "_route_order", "_token_routes"),
    }
    assert all_imports("_mounted_documents") == {
        *("_naming", "_once", "_route_endpoints", "_route_order", "_token_routes", "_route_document"),
    }
    # one check of a collection option (strings), the form hosts and origins are compared in
    assert all_imports("_security_options") == {"_option_lists", "_host_options"}
    # HTTP_METHODS (include_methods), FORWARDED; a header name is a token (forward_headers)
    assert all_imports("_option_lists") == {"config", "_http_token"}
    assert all_imports("_host_options") == {"_option_lists"}  # strings, allowed_hosts' check
    # the serializer, its older revisions' shapes, and its reading side (which imports only itself)
    assert all_imports("jsonrpc") == {"_revisions", "_rpc_messages", "_rpc_parse", "_exact_json"}
    assert all_imports("_rpc_parse") == {"_rpc_messages", "_exact_json"}


def test_eras_never_import_each_other() -> None:
    assert not {i for i in all_imports("transport.handshake") if "modern" in i}
    assert not {i for i in all_imports("transport.modern") if "handshake" in i}
    for shared in ("transport._http", "transport._checks", "transport._responder"):  # what they share
        assert not {i for i in all_imports(shared) if i.split(".")[-1] in {"handshake", "modern", "endpoint"}}, shared
    assert all_imports("transport._checks") == {"config", "_host_options", "_printable", "_once"}  # leaves: log texts


def test_lower_layers_never_import_upper_layers() -> None:
    upper = {"middleware", "transport", "handlers", "toolcall"}
    catalog = (
        *("catalog", "_naming", "_tool_builder", "_requests", "_schema", "_route_document", "_endpoint_overlap"),
        *("_operation_reader", "_request_media", "_tool_labels", "_tool_schemas", "_header_rules"),  # the builder's
        *("_plan", "_paths", "_query_and_body", "_values"),  # the request's parts
        *("_route_endpoints", "_route_docstrings", "_route_input_schema", "_mounted_documents"),  # the route document's
        "_free_arguments",
        "_token_routes",  # the routes an OAuth2 scheme names as its token endpoint
        "_route_order",  # the routes a tool's request could reach instead of its own
        *("_route_guard", "_route_overlap"),  # its guard; whether a route could take another's path
        *("_tool_filter", "_route_details"),  # which operations are tools; what the routes add to the document
        "_loose_serializers",  # the response models whose serializers the document may not describe
        "_shared_headers",  # the header parameters of two tools or more (warned about)
        *("_schema_nulls", "_schema_inline", "_schema_keywords", "_schema_fit", "_ecma_regex"),  # the schemas' parts
        "_schema_evaluated",  # what a patternProperties key left out leaves unevaluated
        "_goes_on",  # whether a tool's route may send a response with background work after it
        "_form_uploads",  # which form fields of a route take an UploadFile
    )
    results = (
        *("results", "_body", "_result_shapes", "_redaction", "_media", "_event_parser", "_coding"),
        *("_body_text", "_response_headers"),  # Body's base (the text it keeps); the route's header list
        "_signatures",  # whether a route's image is one a model reads, by its bytes
        "_disposition",  # the file name a Content-Disposition gives, said before a blob
    )
    jsonrpc = ("jsonrpc", "_rpc_messages", "_rpc_parse", "_exact_json")
    for low in (*catalog, *results, *jsonrpc, "dispatch", "sse"):
        imported = {i.split(".")[0] for i in all_imports(low)}
        assert not imported & upper, (low, imported)
    for method in ("handlers", "_protocol", "_invocation", "_listen_stream", "_served_app"):  # the table, its methods
        imported = {i.split(".")[0] for i in all_imports(method)}
        assert not imported & {"middleware", "transport"}, (method, imported)
    # Server's base: what it serves, built from the app (never the table, nor what runs a call)
    # (and the app's 500 handler, put in front of the route app when the app's stack has one; the
    # size of a result its tools declare; its credential headers, which no result shows, go to the
    # Server's own call limits, _hide_headers)
    assert all_imports("_served_app") == {
        *("_error_handler", "_identity", "catalog", "config", "features", "listen", "query_keys"),
        "_result_shapes",
    }
    assert all_imports("_identity") == set()  # who calls: a leaf the server and the transport read
    assert all_imports("_error_handler") == {
        "dispatch",
        "results",
        "_input_requests",
        "_printable",
    }  # our own errors, the client's refusals; the logged path escaped
    for method in ("_protocol", "_invocation", "_listen_stream"):  # handlers names their types only
        assert "handlers" in all_imports(method) - all_imports(method, typing=False), method
    assert all_imports("_listen_stream", typing=False) == {"jsonrpc", "listen"}  # a flag refused (-32602)
    assert all_imports("_protocol", typing=False) == {"jsonrpc"}
    # one call, under the handlers
    call_modules = (
        *("toolcall", "_guard", "_stream_failure", "_error_handler"),
        *("_ticker", "_tool_run", "_run_handle", "_call_types", "_unforwarded"),
    )
    for call in (*call_modules, "_call_registry"):
        imported = {i.split(".")[0] for i in all_imports(call)}
        assert not imported & {"middleware", "transport", "handlers"}, (call, imported)
    # the refusal's note on a header argument the MCP request carries (ToolSpec only as a type)
    # (and forward_headers' rule: a header it would refuse, Accept, is never suggested)
    assert all_imports("_unforwarded", typing=False) == {"_once", "_option_lists", "_plan"}
    assert all_imports("_ticker") == {"toolcall"}  # only for the type of a run (TYPE_CHECKING)
    # the ticker (and its period); a run and a route's context holder only as types
    assert all_imports("_call_registry", typing=False) == {"_ticker"}
    assert all_imports("_call_registry") == {"_ticker", "_tool_run", "context"}
    # never toolcall; _guard for the timeout result a stopped call's outcome may be;
    # _response_headers (a leaf) for a re-sent body's declared length; results for the limit a
    # streamed binary body outgrows (ResultTooLarge: the route is halted); _stream_failure for the
    # frames of a streaming response (which response sent the last message)
    tool_run = {"_guard", "_response_headers", "_run_handle", "_stream_failure", "context", "results"}
    assert all_imports("_tool_run") == tool_run
    # _ToolRun's base: what stops a call, the disconnect signal (never _guard, which sets its handles)
    assert all_imports("_run_handle") == {"_call_types", "dispatch", "results"}
    assert all_imports("_call_types") == {"context"}  # the route's ContextHolder, in an Invocation
    for part in ("context", "_input_requests", "_context_holder", "_call_context"):  # what a route sees
        imported = {i.split(".")[0] for i in all_imports(part)}
        assert not imported & upper, (part, imported)
    assert all_imports("context") == {"_context_holder", "_input_requests"}  # re-exported
    assert all_imports("_context_holder", typing=False) == set()  # LiveContext only as a type
    # LiveContext(MCPContext); the holder's progress step (progress_below), which imports nothing
    assert all_imports("_call_context") == {"_context_holder", "_input_requests", "_outgoing", "context"}
    assert all_imports("_outgoing") == {"jsonrpc"}  # what a route sends, against the result types it goes in
    # the channels a live context talks through, and the check of what it sends
    for part in ("interaction", "_channel", "_modern_channel", "_outgoing"):
        imported = {i.split(".")[0] for i in all_imports(part)}
        assert not imported & upper, (part, imported)
    # listen (a leaf): whether the server shuts down, and how often a waiting question checks it;
    # jsonrpc: ProtocolError, the refusal of an answer that does not answer its request
    assert all_imports("interaction") == {
        *("_answers", "_channel", "_input_requests", "_modern_channel", "_outgoing", "jsonrpc", "listen"),
    }
    assert all_imports("_channel") == {"jsonrpc"}  # ProtocolError, in a ProtocolAbort
    assert all_imports("_modern_channel") == {"_answers", "_channel", "_input_requests", "_outgoing", "jsonrpc"}
    assert all_imports("_media") == {"content"}
    assert all_imports("_coding") == set()
    # Built, the result dict the serializer knows; printable, a HEAD's header values; credential,
    # the headers a HEAD's result leaves out (_response_headers: a leaf)
    assert all_imports("_result_shapes") == {"_printable", "_response_headers", "jsonrpc"}
    assert all_imports("_response_headers") == set()
    assert all_imports("_redaction") == {"_result_shapes", "config", "query_keys"}
    assert all_imports("_body") == {  # _printable: a Location or Retry-After as the result shows it
        *("_body_text", "_response_headers", "_coding", "_event_parser", "_media", "_output_shape", "_printable"),
        "_pieces",  # _JOIN_EVERY, how often a streamed text's pieces are joined
    }
    # the parser's type; cut_note; NOT_UTF8, the errors a streamed text is decoded with; join_since
    assert all_imports("_body_text") == {"_event_parser", "_result_shapes", "_media", "_pieces"}
    assert all_imports("_response_headers") == set()
    assert all_imports("results") == {
        *("_body", "_redaction", "_response_headers", "_result_shapes", "_signatures", "jsonrpc"),
        *("_disposition", "_printable"),  # a blob's file name, shown escaped
    }
    assert all_imports("_disposition") == {"_http_token"}  # a parameter's name is a token
    for feature in ("features", "_feature_errors", "_resource_read", "_prompt_messages", "_prompt_arguments"):
        imported = {i.split(".")[0] for i in all_imports(feature)}
        assert not imported & upper, (feature, imported)
    # _requests: _missing, the text of a read that lacks a required query variable; _feature_errors:
    # about, the data.uri of every error of a read about its URI
    assert all_imports("features") == {
        *("_declared", "_once", "_prompt_arguments", "_requests", "_uri_template", "catalog", "jsonrpc"),
        "_feature_errors",
    }
    assert all_imports("_prompt_arguments") == {"catalog"}  # ToolSpec, the prompt's route
    assert all_imports("_feature_errors") == {"jsonrpc", "results"}
    for answer in ("_resource_read", "_prompt_messages"):  # a route's response as the method's result
        # what a content block must have (a read image's type is results' verdict, not its own)
        extra = {"content"} if answer == "_prompt_messages" else set()
        assert all_imports(answer) == {"_feature_errors", "jsonrpc", "results", *extra}, answer
    assert all_imports("_plan") == {"_values"}  # the query keys it precomputes (_form_encode)
    assert all_imports("_paths") == {"_plan", "_values"}
    # content: a file's base64 argument read as content.image reads base64 text (_forgiving_b64decode)
    assert all_imports("_query_and_body") == {"_plan", "_signatures", "_values", "content"}
    # the guard it builds, and whether a route could take a path (which names its _Node as a type only)
    assert all_imports("_route_order") == {"_route_guard", "_route_overlap"}
    # ArgumentError, what a refused path is; a path value's text as the request writes it
    assert all_imports("_route_guard") == {"_paths", "_values"}
    assert all_imports("_route_overlap", typing=False) == set()
    assert all_imports("_route_overlap") == {"_route_order"}
    # the routes' :path templates and response-model options: their routes read as the router does,
    # a response model's JSON compared with its documented schema, its serializers read (warned about)
    assert all_imports("_route_details") == {"_route_order", "_schema_fit", "_loose_serializers", "_once"}
    assert all_imports("_loose_serializers") == set()
    # the schemas: conversion, what null means, and the vocabulary both share (and the fit check reads);
    # what a key left out leaves unevaluated (handed the key test: _ecma_regex is imported on first use)
    assert all_imports("_schema") == {
        *("_ecma_regex", "_schema_inline", "_schema_keywords", "_schema_nulls", "_schema_evaluated"),
    }
    assert all_imports("_schema_evaluated") == {"_schema_keywords"}
    assert all_imports("_schema_inline") == {"_schema_keywords"}
    assert all_imports("_schema_nulls") == {"_schema_keywords"}
    assert all_imports("_schema_fit") == {"_schema_keywords"}
    assert all_imports("catalog") == {
        *("_naming", "_tool_builder", "_requests", "_values", "_route_document", "_route_order"),
        *("_tool_filter", "_route_details", "_shared_headers", "_once", "_endpoint_overlap", "_given_names"),
        "_schema",  # Unportable: the patterns a route's schemas left out, which it warns about
        "_name_rules",  # the spec's longest tool name, which bounds max_name_length
        "_token_routes",  # the routes an OAuth2 scheme names as its token endpoint
        "_goes_on",  # whether a tool's route may send a response with background work after it
        "_form_uploads",  # which form fields of a route take an UploadFile (sent as file parts)
    }
    assert all_imports("_form_uploads") == set()
    # an OAuth2 token URL's origin compared as every origin is; a login body's $ref followed as the
    # schemas' code follows one (review s10e: no second resolver); a body's media type read as a
    # request body's is (_request_media._media_type, review mend item 2: no second parser); its
    # properties, allOf members' too, read as a body's arguments are (_operation_reader.object_root)
    assert all_imports("_token_routes") == {"_host_options", "_schema_evaluated", "_request_media", "_operation_reader"}
    # the names given to tools: their rules, the default names, the warnings
    assert all_imports("_given_names") == {"_declared", "_name_rules", "_naming", "_once"}
    # the warnings about routes the endpoint's path takes over: the methods, the routes as the router tries them
    assert all_imports("_endpoint_overlap") == {"_naming", "_once", "_route_order"}
    # ToolSpec only as a type; forward_headers' rule (a header it would refuse is never suggested)
    assert all_imports("_shared_headers", typing=False) == {"_once", "_option_lists", "_plan"}


def test_the_security_layer_is_under_the_middleware_alone() -> None:
    """``middleware → {security, transport}``: the security layer and its parts (``Security``'s bases
    ``_Cors`` and ``_Metadata``, the options' checks) never import the middleware."""
    for part in ("security", "_cors", "_oauth_metadata", "_security_options"):
        imported = {i.split(".")[0] for i in all_imports(part)}
        assert "middleware" not in imported, (part, imported)
    # normal_origin; TOKEN_RE; plain
    assert all_imports("_cors", typing=False) == {"_host_options", "_http_token", "transport._http"}
    assert all_imports("_cors") == {"_host_options", "_http_token", "handlers", "transport._http"}  # Server: a type
    # OAuthResource; Remembered and LOCAL_HOSTS (the http-resource warning, once per host); plain;
    # the Host's name and a default port, as the Host check and the origins read them
    assert all_imports("_oauth_metadata") == {
        "_host_options",
        "_security_options",
        "_once",
        "config",
        "transport._http",
    }


def test_no_sdk_server_and_no_fastapi_at_import_time() -> None:
    for module in PACKAGE.rglob("*.py"):
        names = third_party(module)
        assert "mcp" not in names, f"{module} imports the full SDK; only mcp_types is a runtime dependency"
        assert "fastapi" not in names, f"{module} imports fastapi; plain Starlette apps must work without it"


def test_json_rpc_messages_are_written_in_one_module() -> None:
    """The ONE serializer: however jsonrpc is split, what writes a JSON-RPC message (a result, an
    error, a notification, what a route hands us to write) is defined in jsonrpc.py alone."""
    serializer = {
        *("result_message", "error_message", "encode_error", "encode_notification"),
        *("dumps_exactly", "dumps_again", "_json_pieces"),
    }
    defined = {
        (module.relative_to(PACKAGE).as_posix(), node.name)
        for module in PACKAGE.rglob("*.py")
        for node in ast.parse(module.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name in serializer
    }
    assert defined == {("jsonrpc.py", name) for name in serializer}


def test_the_http_token_is_written_in_one_module() -> None:
    """RFC 9110's token (a header name, an authentication scheme or parameter, an x-mcp-header
    value): one pattern, which the modules reading them import."""
    tchars = "^_`|~0-9A-Za-z"
    written = sorted(m.relative_to(PACKAGE).as_posix() for m in PACKAGE.rglob("*.py") if tchars in m.read_text())
    assert written == ["_http_token.py"]


def test_the_refusal_body_is_built_in_one_place() -> None:
    """The id-less JSON-RPC error of an HTTP-level refusal (403, 405, 401, ...): one function,
    which the endpoint and the security layer share."""
    defined = [
        module.relative_to(PACKAGE).as_posix()
        for module in PACKAGE.rglob("*.py")
        for node in ast.parse(module.read_text()).body
        if isinstance(node, ast.FunctionDef) and node.name.lstrip("_") == "refusal"
    ]
    assert defined == ["transport/_http.py"]


def test_the_default_ports_and_a_host_s_name_are_written_in_one_module() -> None:
    """A scheme's default port (an origin's ``:443``, a Host's, the server's address, an
    allowlisted origin) and a Host header's host name without its port (the Host check, the OAuth
    metadata's http warning): one rule each, in ``_host_options``, which the modules comparing or
    writing them import. The OAuth metadata had a copy of each (and a third default-port check)."""
    written = sorted(
        {
            (module.relative_to(PACKAGE).as_posix())
            for module in PACKAGE.rglob("*.py")
            for node in ast.walk(ast.parse(module.read_text()))
            if isinstance(node, ast.Constant) and node.value in (443, ":443")
        }
        | {
            module.relative_to(PACKAGE).as_posix()
            for module in PACKAGE.rglob("*.py")
            for node in ast.parse(module.read_text()).body
            if isinstance(node, ast.FunctionDef) and node.name.lstrip("_") == "host_only"
        }
    )
    assert written == ["_host_options.py"]
