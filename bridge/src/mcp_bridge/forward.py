"""Forwards a request for a session another replica owns to that replica.

Only called with an owner taken from a session id whose HMAC verified (``session_id.verify``):
the address was written by a bridge holding the key, never chosen by the client. The forwarded
request carries ``mcp-bridge-forwarded: 1``; a bridge receiving one for a session it does not own
answers 404 instead of forwarding again, so a request is forwarded at most once. Response bodies
are streamed (SSE streams stay open as long as the owner keeps them open).
"""

from __future__ import annotations

import logging

import httpx2
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from .sessions import jsonrpc_error_response

log = logging.getLogger(__name__)
FORWARDED_HEADER = "mcp-bridge-forwarded"
# Hop-by-hop headers (RFC 9110 7.6.1) and those httpx recomputes.
_DROP = {"host", "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "content-length"}


def new_client() -> httpx2.AsyncClient:
    # No read timeout: an SSE stream (GET, or a long tools/call) may stay open indefinitely.
    return httpx2.AsyncClient(timeout=httpx2.Timeout(connect=5.0, read=None, write=30.0, pool=30.0), trust_env=False)


async def forward(client: httpx2.AsyncClient, owner: str, scope: Scope, receive: Receive, send: Send) -> None:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"] if k.decode("latin-1").lower() not in _DROP]
    headers.append((FORWARDED_HEADER, "1"))
    query = scope.get("query_string", b"").decode("latin-1")
    url = f"http://{owner}{scope['path']}" + (f"?{query}" if query else "")
    try:
        upstream = await client.send(client.build_request(scope["method"], url, headers=headers, content=body), stream=True)
    except httpx2.HTTPError as exc:
        # The owning pod is gone or unreachable: its sessions (and their processes) are gone too.
        log.info("owner %s of a session is unreachable (%s): answering 404", owner, type(exc).__name__)
        await jsonrpc_error_response("Session not found: the replica that owned it is gone; initialize a new session", 404)(scope, receive, send)
        return
    response_headers = {k: v for k, v in upstream.headers.items() if k.lower() not in _DROP}
    response = StreamingResponse(
        upstream.aiter_raw(), status_code=upstream.status_code, headers=response_headers, background=BackgroundTask(upstream.aclose)
    )
    await response(scope, receive, send)
