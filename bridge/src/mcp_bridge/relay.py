"""One MCP session: the client's streamable-HTTP transport relayed, message for message, to the
session's own stdio process.

Both ends are the official SDK's transports: the HTTP side is
``mcp.server.streamable_http.StreamableHTTPServerTransport`` (POST/GET/DELETE, SSE, the routing of
each response to the POST that carried its request), the process side is
``mcp.client.stdio.stdio_client`` (spawn, newline-delimited JSON, graceful stop: close stdin, then
SIGTERM, then SIGKILL). The relay in between only forwards JSON-RPC messages; it never interprets
methods, so everything the stdio server offers (tools, resources, prompts, completions,
subscriptions, progress, server-to-client requests on the GET stream) passes through unchanged.

What the relay adds:
- progress notifications from the process are tied to the POST whose request carried the
  ``progressToken``, so they reach the client on that request's SSE stream;
- when the process ends (crash, exit, failed spawn), every request still waiting is answered with
  a JSON-RPC error saying so, and the session ends (its id then answers 404: the spec's signal to
  start a new session). Other sessions and the pod are untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anyio
from mcp.shared.message import ServerMessageMetadata, SessionMessage
from mcp_types import (
    INTERNAL_ERROR,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
    RequestId,
)

log = logging.getLogger(__name__)

# After the process ends, requests already on their way into the session (such as the opening
# initialize when the spawn itself failed) are still answered, for this long.
LATE_REQUEST_GRACE = 0.5


@dataclass
class InFlight:
    """Requests from the client that the process has not answered yet, by JSON-RPC id."""

    requests: dict[RequestId, str] = field(default_factory=dict)  # id -> method
    progress: dict[Any, RequestId] = field(default_factory=dict)  # progressToken -> request id

    def add(self, request: JSONRPCRequest) -> None:
        self.requests[request.id] = request.method
        meta = (request.params or {}).get("_meta") or {}
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if token is not None:
            self.progress[token] = request.id

    def done(self, request_id: RequestId | None) -> None:
        if request_id is None:
            return
        self.requests.pop(request_id, None)
        for token in [t for t, rid in self.progress.items() if rid == request_id]:
            del self.progress[token]

    def related(self, message: JSONRPCNotification) -> RequestId | None:
        if message.method != "notifications/progress" or not isinstance(message.params, dict):
            return None
        return self.progress.get(message.params.get("progressToken"))


def ended_error(request_id: RequestId, reason: str) -> JSONRPCError:
    return JSONRPCError(
        jsonrpc="2.0",
        id=request_id,
        error=ErrorData(
            code=INTERNAL_ERROR,
            message=f"the MCP server process of this session {reason}; the session is over: initialize a new session",
        ),
    )


class ProcessGone(Exception):
    """The process stopped reading its stdin."""


async def pump_to_process(http_read, process_write, inflight: InFlight) -> None:
    """Client -> process. Returns when the HTTP side closes (DELETE, idle timeout, shutdown)."""
    try:
        async for item in http_read:
            if isinstance(item, Exception):  # a body the transport could not parse: it answered 400 already
                log.debug("client sent an unparseable message: %s", item)
                continue
            if isinstance(item.message, JSONRPCRequest):
                inflight.add(item.message)
            # Only the JSON-RPC message crosses: the HTTP request context stays on this side.
            try:
                await process_write.send(SessionMessage(item.message))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
                raise ProcessGone() from exc
    except (anyio.ClosedResourceError, anyio.EndOfStream):
        return  # the transport closed its read side (terminate)


async def pump_to_client(process_read, http_write, inflight: InFlight) -> None:
    """Process -> client. Ends when the process's stdout closes (the process ended)."""
    async for item in process_read:
        if isinstance(item, Exception):
            log.warning("the MCP server wrote a line that is not JSON-RPC to stdout (ignored): %s", item)
            continue
        message = item.message
        metadata = None
        if isinstance(message, JSONRPCResponse | JSONRPCError):
            inflight.done(message.id)
        elif isinstance(message, JSONRPCNotification):
            related = inflight.related(message)
            if related is not None:
                metadata = ServerMessageMetadata(related_request_id=related)
        await http_write.send(SessionMessage(message, metadata=metadata))


async def fail_session(http_read, http_write, inflight: InFlight, reason: str) -> None:
    """Answers every waiting request, and those arriving within a short grace, with an error."""
    for request_id in list(inflight.requests):
        await _send_quietly(http_write, ended_error(request_id, reason))
    inflight.requests.clear()
    with anyio.move_on_after(LATE_REQUEST_GRACE):
        try:
            async for item in http_read:
                if not isinstance(item, Exception) and isinstance(item.message, JSONRPCRequest):
                    await _send_quietly(http_write, ended_error(item.message.id, reason))
        except (anyio.ClosedResourceError, anyio.EndOfStream):
            pass


async def _send_quietly(http_write, error: JSONRPCError) -> None:
    try:
        await http_write.send(SessionMessage(error))
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass


async def relay(http_read, http_write, process_read, process_write, inflight: InFlight) -> str:
    """Runs both pumps until either side ends; returns who ended it: ``"client"`` or ``"process"``."""
    ended = "client"
    async with anyio.create_task_group() as tg:

        async def to_process() -> None:
            nonlocal ended
            try:
                await pump_to_process(http_read, process_write, inflight)
            except ProcessGone:
                ended = "process"
            tg.cancel_scope.cancel()

        async def to_client() -> None:
            nonlocal ended
            try:
                await pump_to_client(process_read, http_write, inflight)
                ended = "process"  # stdout closed: the process ended
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass  # the HTTP side closed under us
            tg.cancel_scope.cancel()

        tg.start_soon(to_process)
        tg.start_soon(to_client)
    return ended
