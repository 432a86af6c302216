"""The app ``test_nginx`` serves behind the README's nginx block over TLS: one ``echo`` route (its
result is the length of the text it was given, so a large body makes a small answer) and
``MCPMiddleware`` with ``oauth`` on and every other option at its default (``max_body_bytes``,
4 MiB; no ``auth`` guard: any ``Authorization`` header passes the endpoint)."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

from mcp_middleware import MCPMiddleware
from mcp_middleware.security import OAuthResource

AUTHORIZATION_SERVER = "https://auth.example.com"


class Text(BaseModel):
    text: str


app = FastAPI(title="nginx oauth")


@app.post("/echo", operation_id="echo")
async def echo(body: Text) -> dict[str, int]:
    return {"length": len(body.text)}


app.add_middleware(MCPMiddleware, oauth=OAuthResource(authorization_servers=[AUTHORIZATION_SERVER]))
