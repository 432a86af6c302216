"""A Starlette app whose YAML docstrings speak OpenAPI 3.0, as ``SchemaGenerator`` docstrings do by
convention: ``nullable: true`` and boolean ``exclusiveMinimum``/``exclusiveMaximum``.
``test_typescript_client`` lists its tools (ajv threw on a boolean bound, for every tool) and calls
them (a dropped ``nullable`` made the client refuse ``"nickname": null``)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from mcp_middleware import MCPMiddleware


async def get_user(request: Request) -> JSONResponse:
    """Get a user.

    ---
    parameters:
      - {name: page, in: query, required: false, schema: {type: integer, minimum: 0, exclusiveMinimum: true}}
    responses:
      200:
        description: a user
        content:
          application/json:
            schema:
              type: object
              required: [name, nickname]
              properties:
                name: {type: string}
                nickname: {type: string, nullable: true, example: ann}
    """
    return JSONResponse({"name": "ann", "nickname": None})


async def count(request: Request) -> JSONResponse:
    """Count.

    ---
    responses:
      200:
        description: n
        content:
          application/json:
            schema:
              type: object
              x-origin: legacy
              properties:
                n: {type: integer, minimum: 0, maximum: 100, exclusiveMaximum: true}
    """
    return JSONResponse({"n": 5})


app = Starlette(routes=[Route("/user", get_user), Route("/count", count)])
app.add_middleware(MCPMiddleware)
