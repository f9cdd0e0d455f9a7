"""The HTTP transport: /mcp (streamable HTTP, stateless JSON), /health, /ready, /metrics.

Why stateless JSON mode: every POST /mcp is answered on its own, with a plain JSON body, and no
``Mcp-Session-Id`` state lives in the process. Behind a Kubernetes Service with several replicas
consecutive requests land on different pods; session-bound (stateful) mode would then fail with
"session not found" unless the Service pinned clients (and a pod restart would still lose every
session). Stateless mode also lets the seed's plain ``curl -X POST /mcp`` tools/list work without an
initialize round-trip, and it answers both 2025-11-25 handshake clients and 2026-07-28 per-request
clients. What it gives up: server-to-client streaming (progress notifications), which no tool needs.

Security: DNS-rebinding protection (Host/Origin checks) on /mcp with loopback and the in-cluster
Service names allowed; optional bearer token on everything but the probes; a per-client rate limit.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import __version__, wire
from .config import Settings
from .deps import Deps
from .kube import KubeError

log = logging.getLogger(__name__)
PROBE_PATHS = ("/health", "/ready", "/metrics")


class ReadyProbe:
    """Is the Kubernetes API reachable? One probe at a time, answer cached for a few seconds."""

    def __init__(self, deps: Deps, cache_seconds: float, timeout: float = 2.0):
        self.deps = deps
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._at = 0.0
        self._result: tuple[bool, str] = (False, "not probed yet")
        self._lock = anyio.Lock()

    async def _probe(self) -> tuple[bool, str]:
        try:
            await self.deps.kube.probe(timeout=self.timeout)
            return True, "kubernetes API reachable"
        except KubeError as exc:
            return False, str(exc)

    async def check(self) -> tuple[bool, str]:
        async with self._lock:
            if time.monotonic() - self._at < self.cache_seconds:
                return self._result
            self._result = await self._probe()
            self._at = time.monotonic()
            self.deps.metrics.kube_ready.set(1 if self._result[0] else 0)
            if not self._result[0]:
                log.warning("readiness probe failed", extra={"reason": self._result[1]})
            return self._result


class Guard:
    """ASGI middleware: metrics, per-client rate limit and bearer-token auth (probes exempt)."""

    def __init__(self, app: ASGIApp, settings: Settings, deps: Deps):
        self.app = app
        self.settings = settings
        self.metrics = deps.metrics
        self.token = settings.auth_token.encode() if settings.auth_token else None
        self.rate = settings.rate_limit_requests  # per minute per client address
        self._buckets: dict[str, tuple[float, float]] = {}

    def _allow(self, client: str) -> tuple[bool, float]:
        now = time.monotonic()
        capacity = float(self.rate)
        tokens, at = self._buckets.get(client, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * capacity / 60.0)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            return True, 0.0
        self._buckets[client] = (tokens, now)
        if len(self._buckets) > 10000:  # forget idle clients
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 120}
        return False, (1.0 - tokens) * 60.0 / capacity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        label = path if path in PROBE_PATHS or path == "/mcp" else "other"
        start = time.perf_counter()
        status_holder = {"status": 500}

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
            await send(message)

        try:
            if path not in PROBE_PATHS:
                if self.rate > 0:
                    client = (scope.get("client") or ("?", 0))[0]
                    ok, wait = self._allow(client)
                    if not ok:
                        self.metrics.rate_limited.inc()
                        resp = JSONResponse(
                            {"error": "rate limit exceeded", "limitPerMinute": self.rate},
                            status_code=429,
                            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
                        )
                        await resp(scope, receive, send_wrapper)
                        return
                if self.token is not None:
                    auth = dict(scope.get("headers") or []).get(b"authorization", b"")
                    scheme, _, given = auth.partition(b" ")
                    if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                        resp = JSONResponse(
                            {"error": "unauthorized", "detail": "send 'Authorization: Bearer <token>'"},
                            status_code=401,
                            headers={"WWW-Authenticate": 'Bearer realm="mcp"'},
                        )
                        await resp(scope, receive, send_wrapper)
                        return
            if path == "/mcp":
                method = scope.get("method")
                if method != "POST":
                    # Stateless server: no listen stream (GET) and no session to end (DELETE). The spec
                    # (2025-11-25, "Listening for Messages from the Server"): a server that does not
                    # offer a stream MUST answer GET with 405.
                    await jsonrpc_error(405, INVALID_REQUEST, f"Method Not Allowed: this stateless MCP endpoint accepts POST only (got {method}).",
                                        {"Allow": "POST"})(scope, receive, send_wrapper)
                    return
                refused, scope = media_types(scope)
                if refused is not None:
                    await refused(scope, receive, send_wrapper)
                    return
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.http_requests.labels(label, str(status_holder["status"])).inc()
            self.metrics.http_seconds.labels(label).observe(time.perf_counter() - start)


INVALID_REQUEST = -32600


def jsonrpc_error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """The one error shape of /mcp: a JSON-RPC error object (id null), the status saying why."""
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def media_type(value: bytes) -> str:
    """``type/subtype`` of a Content-Type or Accept entry: lowercased, parameters dropped (RFC 9110 8.3.1:
    type, subtype and parameter names are case-insensitive)."""
    return value.split(b";", 1)[0].strip().decode("latin-1").lower()


def media_types(scope: Scope) -> tuple[Response | None, Scope]:
    """One media-type rule for every POST /mcp, applied before any other layer sees it.

    Content-Type must be application/json (any case, any parameters): else 415. Accept must allow
    JSON (application/json, application/*, */*, or no Accept header at all, as curl sends): else 406.
    Both refusals are JSON-RPC errors. Accepted requests reach the SDK with canonical headers, so its
    own (case-sensitive, order-sensitive) checks never disagree with this one.
    """
    headers = scope.get("headers") or []
    ctype = next((v for k, v in headers if k == b"content-type"), b"")
    if media_type(ctype) != "application/json":
        given = ctype.decode("latin-1") or "none"
        return jsonrpc_error(415, INVALID_REQUEST, f"Unsupported Media Type: Content-Type must be application/json (got {given})."), scope
    accepts = [v for k, v in headers if k == b"accept"]
    if accepts:
        kinds = {media_type(part) for v in accepts for part in v.split(b",")}
        if not kinds & {"application/json", "application/*", "*/*"}:
            given = b", ".join(accepts).decode("latin-1")
            return jsonrpc_error(406, INVALID_REQUEST, f"Not Acceptable: Accept must allow application/json (got {given})."), scope
    canonical = [(k, v) for k, v in headers if k not in (b"content-type", b"accept")]
    canonical += [(b"content-type", b"application/json"), (b"accept", b"application/json, text/event-stream")]
    return None, dict(scope, headers=canonical)


def transport_security(settings: Settings) -> TransportSecuritySettings:
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=settings.dns_rebinding_protection,
        allowed_hosts=settings.service_hosts(),
        allowed_origins=settings.origins(),
    )


def build_app(mcp: MCPServer, deps: Deps) -> ASGIApp:
    settings = deps.settings
    probe = ReadyProbe(deps, settings.ready_cache_seconds)

    @mcp.custom_route("/health", methods=["GET"])
    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "status": "healthy",
                "transport": "streamable-http",
                "serverInfo": {"name": settings.server_name, "version": __version__},
                "readOnly": settings.read_only,
            }
        )

    @mcp.custom_route("/ready", methods=["GET"])
    async def ready(request: Request) -> Response:
        ok, reason = await probe.check()
        return JSONResponse({"status": "ready" if ok else "not ready", "reason": reason}, status_code=200 if ok else 503)

    if settings.enable_metrics:

        @mcp.custom_route("/metrics", methods=["GET"])
        async def metrics(request: Request) -> Response:
            return Response(deps.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    wire.install()  # one-pass serializer for 2026-07-28 replies (see wire.py)
    app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(settings),
        host=settings.bind_host,
    )
    if deps.auth is not None:
        from .auth.challenge import AuthChallenge

        app = AuthChallenge(app, deps.auth.missing)  # 401s that say why
    return Guard(app, settings, deps)


def describe(settings: Settings) -> dict[str, Any]:
    """What we log at startup (never the token)."""
    return {
        "bind": f"{settings.bind_host}:{settings.port}",
        "allowedHosts": settings.service_hosts(),
        "auth": settings.auth_mode if settings.auth_mode != "none" else "bearer" if settings.auth_token else "none",
        "rateLimitPerMinute": settings.rate_limit_requests or None,
        "metrics": settings.enable_metrics,
    }


__all__ = ["build_app", "describe", "json"]
