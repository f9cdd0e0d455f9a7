"""The bridge's ASGI app: the MCP path, ``/healthz`` and ``/readyz``.

Routing of a request on the MCP path:
1. ``MCP-Protocol-Version`` names a per-request era (2026-07-28) and there is no session id:
   ``per_request`` (the shared, pre-initialized process).
2. ``Mcp-Session-Id`` present: the id's HMAC is checked. Invalid -> 404. Owned here -> the
   session's transport; owned here but unknown (ended, reaped) -> 404. Owned by another replica
   -> forwarded there once (``forward``); a forwarded request this pod does not own -> 404.
3. No session id: a POST ``initialize`` opens a session (``sessions``); anything else is 400.

``/healthz`` (liveness) answers from the event loop: if it answers, the loop is alive.
``/readyz`` (readiness) reports the shared process's last handshake, cached, never spawning.
"""

from __future__ import annotations

import contextlib
import logging
from urllib.parse import urlsplit

import anyio
from mcp.server.streamable_http import MCP_SESSION_ID_HEADER
from mcp.server.transport_security import RequestBodyLimitMiddleware, TransportSecuritySettings
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import forward, per_request, session_id
from .config import Settings
from .sessions import SessionManager, jsonrpc_error_response
from .shared_process import SharedProcess

log = logging.getLogger(__name__)


class Bridge:
    """State of one bridge process: settings, sessions, the shared process, the forwarding client."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.security = (
            TransportSecuritySettings(
                enable_dns_rebinding_protection=True,
                allowed_hosts=list(settings.allowed_hosts),
                allowed_origins=list(settings.allowed_origins),
            )
            if settings.allowed_hosts
            else TransportSecuritySettings(enable_dns_rebinding_protection=False)
        )
        self.sessions: SessionManager | None = None
        self.shared: SharedProcess | None = None
        self.client = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app):
        async with anyio.create_task_group() as tg, forward.new_client() as client:
            self.client = client
            self.sessions = SessionManager(self.settings, tg, self.security)
            self.shared = SharedProcess(self.settings, self.sessions.params)
            tg.start_soon(self.shared.run)
            if not self.settings.key_is_shared:
                log.warning("MCP_BRIDGE_SESSION_KEY is not set: session ids are signed with a per-process key, so other replicas cannot forward to this one")
            log.info("serving %s on %s:%d%s (advertised as %s), at most %d sessions",
                     " ".join(self.settings.command), self.settings.host, self.settings.port, self.settings.path,
                     self.settings.advertise, self.settings.max_sessions)
            try:
                yield
            finally:
                tg.cancel_scope.cancel()

    async def mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if origin is not None and not origin_allowed(origin, self.settings.allowed_origins):
            # The MCP spec: servers MUST validate Origin (DNS rebinding). A browser page on another
            # site reaching a `kubectl port-forward` on the user's loopback is the case to stop;
            # agents and SDK clients send no Origin.
            await jsonrpc_error_response(f"Forbidden: Origin {origin!r} is not allowed (--allowed-origin)", 403)(scope, receive, send)
            return
        sid = headers.get(MCP_SESSION_ID_HEADER)
        version = headers.get(MCP_PROTOCOL_VERSION_HEADER)
        if sid is None and version is not None and version not in HANDSHAKE_PROTOCOL_VERSIONS:
            await per_request.handle(self.shared, scope, receive, send)
            return
        if sid is not None:
            owner = session_id.verify(self.settings.session_key, sid)
            if owner is None:
                await jsonrpc_error_response("Session not found", 404)(scope, receive, send)
                return
            if owner == self.settings.advertise:
                transport = self.sessions.owns(sid)
                if transport is None:
                    await jsonrpc_error_response("Session not found: it ended (closed, idle, or its process exited); initialize a new session", 404)(scope, receive, send)
                    return
                await self.sessions.handle_existing(transport, sid, scope, receive, send)
                return
            if forward.FORWARDED_HEADER in headers:
                await jsonrpc_error_response("Session not found", 404)(scope, receive, send)
                return
            await forward.forward(self.client, owner, scope, receive, send)
            return
        if scope["method"] != "POST":
            await jsonrpc_error_response("Bad Request: Missing Mcp-Session-Id header", 400)(scope, receive, send)
            return
        await self.sessions.open(scope, receive, send)

    async def healthz(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> JSONResponse:
        status = self.shared.status() if self.shared else {"ready": False, "reason": "starting"}
        status["sessions"] = len(self.sessions.sessions) if self.sessions else 0
        status["maxSessions"] = self.settings.max_sessions
        return JSONResponse(status, status_code=200 if status["ready"] else 503)


def origin_allowed(origin: str, allowed: tuple[str, ...]) -> bool:
    """Loopback origins (any port) and the ``--allowed-origin`` values pass; nothing else."""
    if origin in allowed:
        return True
    parsed = urlsplit(origin)
    return parsed.scheme in ("http", "https") and parsed.hostname in ("localhost", "127.0.0.1", "::1")


class _Endpoint:
    """An ASGI endpoint Starlette routes every method to (a plain function gets GET only)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class BridgeApp:
    """The ASGI app: a request for exactly the MCP path goes straight to the bridge (body limit
    included); everything else (probes, lifespan, other paths and their 404/405, ``/mcp/``'s
    redirect) goes through Starlette.

    Why: the MCP path is the hot one, one request per JSON-RPC message, and Starlette's error
    middleware, exception middleware and route matching in front of it cost about a sixth of the
    bridge's CPU per ``tools/call`` (profiled: bench/bridge/RESULTS.md) while adding nothing
    there: the bridge answers its own errors, and uvicorn answers 500 to an exception."""

    def __init__(self, starlette: Starlette, path: str, mcp_endpoint):
        self.starlette = starlette
        self.path = path
        self.mcp_endpoint = mcp_endpoint
        self.state = starlette.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.path:
            await self.mcp_endpoint(scope, receive, send)
            return
        await self.starlette(scope, receive, send)


def create_app(settings: Settings) -> BridgeApp:
    bridge = Bridge(settings)
    mcp_endpoint = RequestBodyLimitMiddleware(bridge.mcp, settings.max_request_body_bytes)
    app = Starlette(
        routes=[
            Route("/healthz", bridge.healthz, methods=["GET"]),
            Route("/readyz", bridge.readyz, methods=["GET"]),
            Route(settings.path, _Endpoint(mcp_endpoint)),
        ],
        lifespan=bridge.lifespan,
    )
    app.state.bridge = bridge
    return BridgeApp(app, settings.path, mcp_endpoint)
