"""The routes an OAuth2 scheme names as its token or refresh endpoint (reviews s10a, s10a2, s10a4).

FastAPI's OAuth2 tutorial (``OAuth2PasswordBearer(tokenUrl="token")`` beside ``POST /token``
taking ``OAuth2PasswordRequestForm``) would publish its login route as a tool asking the model for
the user's password. :func:`token_routes` finds, from the document alone (never a request's
``root_path``: the tools must not depend on which request came first), the ``POST`` routes each
flow's ``tokenUrl``/``refreshUrl`` names: those taking a form body (RFC 6749's token endpoint) are
left out by ``build_catalog``; those that do not but ask for a password are kept and warned about.

Which routes a URL names, among the paths with a ``POST`` only (review s11tok2: a ``GET /token``
page shadowed the login): its path ``P`` names the route path ``R`` when ``P == R`` (with or
without one trailing ``/``), and that settles it (review s10e: ``tokenUrl="token"`` names
``/token``, never ``/webhooks/token`` too). Only when no route has that path, ``P`` names the routes
that, for an absolute path, ``P`` ends with after a path prefix (a root path the app is served
under: ``"/api" + "/token"``), or, for a relative one, that end with ``P`` after one: of those, the
closest (fewest segments in front), and never one with a ``{parameter}`` in front; of closest
routes tied, those whose form is an OAuth2 grant's (``grant_type``, or ``username`` and
``password``) when only some are, else every one, read as above: each that takes a form is left
out and each that asks for a password is kept, each warned about, and one with neither (a JSON
``/hooks/token``) is not returned, a tool with nothing said, as when a URL names it alone (review
fixrev #5; review s11: a webhook's ``/webhooks/token`` beside the login at ``/auth/token``). The
tied candidates of a relative URL are all its own app's, and an absolute URL's closest is one
path, so which app owns one never breaks a tie. A mounted app's
relative URL (its scheme marked with the mount's prefix, ``MOUNT_KEY``, by ``_mounted_documents``)
is read the same way among the routes under its mount only, without the mount's prefix (review
s10g): ``tokenUrl="token"`` in an app mounted at ``/v1`` names ``/v1/token``, else the closest of
``/v1/.../token`` (its ``/auth/token``), never the parent's ``/token``; mounted at ``/t/{tenant}``,
``/t/{tenant}/token`` exactly (the mount's ``{parameter}`` is not in front within it). A
relative URL is joined to its mount first: one that leaves it (``"../token"`` at ``/v1``) names
the path it resolves to (``/token``) as an absolute URL does (review s10i). A mounted app's
absolute path (or loopback URL, its scheme marked too) is read over the whole app and within its
mount as the app alone reads it (review s11: ``"/token"`` in an app at ``/v1``, its login at
``/v1/token``, beside a parent without one): both readings' routes of its own path are named (the
parent's login ``/token`` and the app's ``/v1/token`` both, review s11tok2: a login left a tool
asks for a password), with the mount reading's closest routes when it has none of its path (the
app as alone); only when all that names none, the whole app's closest (review s11tok2: the whole
app's suffix match reached the parent's form ``POST /token`` before the mount's exact
``/v1/auth/token`` was tried). A relative URL's
closest routes are its own app's (the app each route came from, which the catalog passes: never
a deeper mounted app's, review s10i): the parent's ``"token"`` with its login at
``/api/auth/token`` names that, not a mounted app's ``/v1/token``, as it would alone; and a route
of the parent's that merely sits under a mount's path (``/api/auth/token`` beside an app mounted
at ``/api``, which the parent's own routes are tried before) is still the parent's (review s11). A URL with a host is
the app's when its origin is a ``servers`` URL's (whose ``{variables}`` match any value) or its
host is a loopback name; else it is another service's (Google's token endpoint) and names no
route.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import SplitResult, urlsplit

from mcp_middleware._host_options import normal_origin
from mcp_middleware._operation_reader import object_root
from mcp_middleware._request_media import _media_type
from mcp_middleware._schema_evaluated import followed

__all__ = ["MOUNT_KEY", "TokenRoute", "own_host", "security_schemes", "token_routes"]

_FORM_MEDIA = "application/x-www-form-urlencoded"
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_VARIABLE = re.compile(r"\{[^{}/]*\}")
# a mounted app's scheme with a relative URL: its mount's prefix (route form), put there by _mounted_documents
MOUNT_KEY = "x-mcp-middleware-mount"


@dataclass(frozen=True)
class TokenRoute:
    """A ``POST`` route an OAuth2 flow names: the scheme, the URL's field (``tokenUrl``,
    ``refreshUrl``), and whether it takes a form body (a token endpoint: no tool) or else the
    argument that asks for a password (a login route that stays a tool, warned about)."""

    scheme: str
    field: str
    form: bool
    password: str = ""


def security_schemes(document: Mapping[str, Any]) -> Mapping[str, Any]:
    """The document's ``components.securitySchemes`` (empty when it has none, or no mapping)."""
    return _section(document, "securitySchemes")


def token_routes(document: Mapping[str, Any], apps: Mapping[str, str] | None = None) -> dict[str, TokenRoute]:
    """The ``POST`` routes, by path, that the document's ``oauth2`` flows name as their token or
    refresh URL and that take a form body or ask for a password (see the module docstring);
    ``apps``: the document prefix of the mounted app each path came from (a path not there is the
    document's own app's, prefix "")."""
    paths = document.get("paths")
    if not isinstance(paths, Mapping):
        return {}
    origins = _server_origins(document)
    posts = [route for route, item in paths.items() if isinstance(route, str) and _post(item) is not None]
    reader = _UrlReader(posts, apps or {}, partial(_grant_form, document, paths))
    found: dict[str, TokenRoute] = {}
    for scheme, field, url, mount in _flow_urls(document):
        for route in reader.named(_targets(url, origins, mount)):
            kind = _kind(document, paths[route])
            if kind is not None:
                found.setdefault(route, TokenRoute(scheme, field, *kind))
    return found


_Target = tuple[str, str, bool]


@dataclass
class _UrlReader:
    """Reads a flow's URL among the paths with a ``POST`` (``posts``: a path without one names
    nothing, review s11tok2: a ``GET /token`` page shadowed the login), each reading of a target
    made once (review s11tok2: the same app mounted at many prefixes read the whole app once per
    mount)."""

    posts: list[str]
    apps: Mapping[str, str]
    grant: Callable[[str], bool]
    known: dict[tuple[_Target, bool], list[str]] = dataclasses.field(default_factory=dict)

    def named(self, targets: list[_Target]) -> list[str]:
        """The routes the readings name: every reading's exact routes (the whole app's and the
        mount's both: both apps' logins are left out, review s11tok2), with the last reading's
        (the app's as it reads the URL alone) suffix match when it has no exact route; only when
        all that names none, the suffix match of the readings before it (the whole app's)."""
        alone = targets[-1] if targets else None
        exact = [route for target in targets for route in self._read(target, True)]
        own = self._read(alone, False) if alone is not None and not self._read(alone, True) else []
        found = list(dict.fromkeys(exact + own))
        return found or next((named for target in targets[:-1] if (named := self._read(target, False))), [])

    def _read(self, target: _Target, exact: bool) -> list[str]:
        """A reading's exact routes, or its suffix match (``exact`` false), made once."""
        key = (target, exact)
        if key not in self.known:
            posts = self.posts
            self.known[key] = (
                _exact_routes(target, posts) if exact else _suffix_routes(target, posts, self.apps, self.grant)
            )
        return self.known[key]


def _flow_urls(document: Mapping[str, Any]) -> Iterator[tuple[str, str, str, str]]:
    """Each ``oauth2`` flow's token and refresh URL, with its scheme's name, its field and the
    prefix of the mount it came from ("" when none: ``MOUNT_KEY``)."""
    for name, scheme in security_schemes(document).items():
        flows = scheme.get("flows") if isinstance(scheme, Mapping) and scheme.get("type") == "oauth2" else None
        mount = scheme.get(MOUNT_KEY) if isinstance(flows, Mapping) else None
        mount = mount if isinstance(mount, str) else ""
        for flow in flows.values() if isinstance(flows, Mapping) else ():
            for field in ("tokenUrl", "refreshUrl"):
                url = flow.get(field) if isinstance(flow, Mapping) else None
                if isinstance(url, str):
                    yield str(name), field, url, mount


def _server_origins(document: Mapping[str, Any]) -> list[re.Pattern[str]]:
    """The origins of the document's ``servers`` URLs with a host, a ``{variable}`` matching any value."""
    servers = document.get("servers")
    urls = [s.get("url") for s in servers if isinstance(s, Mapping)] if isinstance(servers, list) else []
    origins = [_origin(urlsplit(url)) for url in urls if isinstance(url, str)]
    return [
        re.compile("[^/?#@]*".join(re.escape(part) for part in _VARIABLE.split(origin)))
        for origin in origins
        if origin is not None
    ]


def _targets(url: str, origins: list[re.Pattern[str]], mount: str) -> list[tuple[str, str, bool]]:
    """How a flow's URL is read, in order until one names a route: the absolute path it names,
    the mount it is read within ("" for the app's root) and whether it is relative there. A
    relative URL is read within its ``mount``, or as an absolute path once it leaves it
    (``"../token"`` at ``/v1`` is ``/token``, review s10i); an absolute path (or the app's own
    URL) from a mounted app, when it names no route of the whole app, within its mount, as that
    app alone reads it (review s11). No reading when it names no route of the app (no path, another
    host's)."""
    parts = urlsplit(url)
    if not parts.path:
        return []
    if parts.scheme or parts.netloc:
        origin = _origin(parts)
        if not own_host(parts.hostname) and (origin is None or not any(o.fullmatch(origin) for o in origins)):
            return []
    elif not parts.path.startswith("/"):
        path = _normal(mount + "/" + parts.path)
        return [(path, mount, True)] if path.startswith(mount + "/") else [(path, "", False)]
    path = _normal(parts.path)
    return [(path, "", False)] + ([(_normal(mount + path), mount, False)] if mount else [])


def own_host(host: str | None) -> bool:
    """Whether a URL's host is a loopback name: the app's own, whatever its ``servers`` say."""
    return host in _LOOPBACK


def _within(target: _Target, posts: list[str]) -> dict[str, str]:
    """The paths with a ``POST`` under the mount ``target`` is read within, by their path there."""
    inside = target[1]
    return {route[len(inside) :]: route for route in posts if route.startswith(inside + "/")}


def _exact_routes(target: _Target, posts: list[str]) -> list[str]:
    """The paths with a ``POST`` that are a flow's URL's own path (with or without one trailing ``/``)."""
    path = _bare(target[0])
    return [route for route in _within(target, posts).values() if _bare(route) == path]


def _suffix_routes(
    target: _Target, posts: list[str], apps: Mapping[str, str], grant: Callable[[str], bool]
) -> list[str]:
    """The closest paths with a ``POST`` that a flow's URL ends with or that end with it (see the
    module docstring). A relative URL is read among the routes under the mount it is read within
    (``target``'s), without its prefix, and its closest routes are that mount's app's own
    (``apps``: never a deeper mount's, review s10i, nor a route that merely sits under a deeper
    mount's path, review s11). Of closest routes tied, those whose ``POST`` form is an OAuth2
    grant's (``grant``) when only some are."""
    path, inside, relative = target
    named = _bare(path[len(inside) :])
    prefixed = [(_prefix(named, _bare(inner), relative), route) for inner, route in _within(target, posts).items()]
    depths = {
        route: prefix.count("/")
        for prefix, route in prefixed
        if prefix and "{" not in prefix and (not relative or apps.get(route, "") == inside)
    }
    closest = min(depths.values(), default=0)
    tied = [route for route, depth in depths.items() if depth == closest]
    granted = [route for route in tied if grant(route)] if len(tied) > 1 else []
    return granted or tied


def _post(item: Any) -> Mapping[str, Any] | None:
    """A path item's ``POST`` operation, None when it has none."""
    operation = item.get("post") if isinstance(item, Mapping) else None
    return operation if isinstance(operation, Mapping) else None


def _grant_form(document: Mapping[str, Any], paths: Mapping[str, Any], route: str) -> bool:
    """Whether a path's ``POST`` takes the form of an OAuth2 grant (RFC 6749 §4.3, §6: a
    ``grant_type``, or ``OAuth2PasswordRequestForm``'s ``username`` and ``password``): what
    breaks a tie of the suffix match (review s11: the login at ``/auth/token`` and a webhook at
    ``/webhooks/token`` for ``tokenUrl="token"``)."""
    operation = _post(paths.get(route))
    content = _body_content(document, operation) if operation is not None else {}
    for media, value in content.items():
        if _media_type(media) == _FORM_MEDIA and isinstance(value, Mapping):
            names = {name for name, _ in _body_properties(document, value.get("schema"))}
            if "grant_type" in names or {"username", "password"} <= names:
                return True
    return False


def _prefix(named: str, route: str, relative: bool) -> str:
    """The whole segments in front of the shorter path in the longer (the URL's path in front of a
    route's for an absolute URL, a route's in front of a relative URL's path): "" when it is not
    in front, or there is nothing in front."""
    longer, shorter = (route, named) if relative else (named, route)
    return longer[: -len(shorter)] if shorter and longer.endswith(shorter) else ""


def _kind(document: Mapping[str, Any], item: Any) -> tuple[bool, str] | None:
    """``(True, "")`` when the path item's ``POST`` takes a form body, ``(False, name)`` when it
    asks for a password (the argument's name), else None."""
    operation = _post(item)
    if operation is None:
        return None
    content = _body_content(document, operation)
    if any(_media_type(media) == _FORM_MEDIA for media in content):
        return True, ""
    password = _password_argument(document, operation, content)
    return (False, password) if password else None


def _body_content(document: Mapping[str, Any], operation: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``content`` of an operation's ``requestBody`` (or of the ``components.requestBodies``
    entry it names); empty when there is none."""
    body = _resolved(document, operation.get("requestBody"), "requestBodies")
    content = body.get("content") if isinstance(body, Mapping) else None
    return content if isinstance(content, Mapping) else {}


def _password_argument(document: Mapping[str, Any], operation: Mapping[str, Any], content: Mapping[str, Any]) -> str:
    """The name of an argument that asks for a password (named ``password``, or of format
    ``password``: a query or header parameter, or a property of a body schema, or one level down,
    a property of what a body property's ``$ref`` (or ``allOf`` of one) names, as
    ``creds.password``: FastAPI's body of two models); "" when none."""
    parameters = operation.get("parameters")
    fields = (
        [(p.get("name"), p.get("schema")) for p in parameters if isinstance(p, Mapping)]
        if isinstance(parameters, list)
        else []
    )
    schemas = _section(document, "schemas")
    for media in content.values():
        schema = _resolved(document, media.get("schema") if isinstance(media, Mapping) else None, "schemas")
        for name, value in _body_properties(document, schema):
            fields.append((name, value))
            fields += [(f"{name}.{inner}", v) for inner, v in _properties(_referred(value, schema, schemas))]
    for name, schema in fields:
        if isinstance(name, str) and (
            name.rsplit(".", 1)[-1].lower() == "password"
            or (isinstance(schema, Mapping) and schema.get("format") == "password")
        ):
            return name
    return ""


def _body_properties(document: Mapping[str, Any], schema: Any) -> list[tuple[Any, Any]]:
    """A body schema's properties, its ``allOf`` members' too, read as the body's arguments are
    (``_operation_reader.object_root``); the schema's own when that reads none."""
    resolve = partial(_resolved, document, section="schemas")
    root = object_root(schema, resolve)
    return _properties(root if root is not None else resolve(schema))


def _properties(schema: Any) -> list[tuple[Any, Any]]:
    """A schema's ``properties``, as pairs (none when it has no mapping of them)."""
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    return list(properties.items()) if isinstance(properties, Mapping) else []


def _referred(value: Any, root: Any, schemas: Mapping[str, Any]) -> Any:
    """What a property schema's ``$ref``, or ``allOf`` of one ``$ref``, names (as
    ``_schema_evaluated.followed`` follows one from ``root``), None when it has neither."""
    all_of = value.get("allOf") if isinstance(value, Mapping) else None
    if isinstance(all_of, list) and len(all_of) == 1:
        value = all_of[0]
    ref = value.get("$ref") if isinstance(value, Mapping) else None
    reached = followed(ref, (root,), schemas) if isinstance(ref, str) else ()
    return next((target for _, target, _ in reached), None)


def _resolved(document: Mapping[str, Any], value: Any, section: str) -> Any:
    """``value``, or the ``components.<section>`` entry its ``$ref`` names (None when missing)."""
    ref = value.get("$ref") if isinstance(value, Mapping) else None
    prefix = f"#/components/{section}/"
    if not isinstance(ref, str) or not ref.startswith(prefix):
        return value
    return _section(document, section).get(ref[len(prefix) :])


def _section(document: Mapping[str, Any], section: str) -> Mapping[str, Any]:
    """The document's ``components.<section>`` (empty when it has none, or no mapping)."""
    components = document.get("components")
    entries = components.get(section) if isinstance(components, Mapping) else None
    return entries if isinstance(entries, Mapping) else {}


def _origin(parts: SplitResult) -> str | None:
    """A URL's origin as the middleware compares origins (``_host_options.normal_origin``: a
    scheme's default port is none of it), None when it has no host."""
    return normal_origin(f"{parts.scheme}://{parts.netloc}") if parts.scheme and parts.netloc else None


def _normal(path: str) -> str:
    """An absolute path without ``.`` and ``..`` segments, keeping a trailing ``/``."""
    normal = posixpath.normpath(path)
    return normal + "/" if path.endswith("/") and normal != "/" else normal


def _bare(path: str) -> str:
    """``path`` without one trailing ``/`` (the root: "")."""
    return path[:-1] if path.endswith("/") else path
