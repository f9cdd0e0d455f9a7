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
import threading
import time
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from . import __version__
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
        self._tlock = threading.Lock()

    def _probe(self) -> tuple[bool, str]:
        try:
            self.deps.kube.probe(timeout=self.timeout)
            return True, "kubernetes API reachable"
        except KubeError as exc:
            return False, str(exc)

    async def check(self) -> tuple[bool, str]:
        async with self._lock:
            if time.monotonic() - self._at < self.cache_seconds:
                return self._result
            self._result = await anyio.to_thread.run_sync(self._probe)
            self._at = time.monotonic()
            self.deps.metrics.kube_ready.set(1 if self._result[0] else 0)
            if not self._result[0]:
                log.warning("readiness probe failed", extra={"reason": self._result[1]})
            return self._result


class ToolsListCache:
    """Serves repeated bare ``tools/list`` requests from the SDK's own earlier answer.

    The tool list is fixed for the life of the process (tools are registered at startup), and
    handshake-era clients ask for it at the start of every session, so it is the hottest request
    on a busy server. The first bare request (JSON-RPC ``tools/list`` with no params other than an
    empty object, no cursor, no ``_meta``, no ``MCP-Protocol-Version`` header) goes through the SDK;
    its 200 answer is kept and replayed with the new request id. Everything else, including every
    2026-07-28 request (they carry ``_meta``) and anything unusual, goes through the SDK as usual.
    Host/Origin/Content-Type/Accept are checked with the SDK's own validator on every hit.
    """

    MAX_BODY = 4096

    def __init__(self, app: ASGIApp, settings: Settings):
        self.app = app
        self.security = TransportSecurityMiddleware(transport_security(settings))
        self.result: bytes | None = None
        self.headers: list[tuple[bytes, bytes]] = []

    @staticmethod
    def _cacheable(body: bytes, headers: dict[bytes, bytes]) -> Any:
        """The request id when the request is a bare tools/list, else a sentinel."""
        if b"tools/list" not in body or b"mcp-protocol-version" in headers:
            return _MISS
        try:
            msg = json.loads(body)
        except ValueError:
            return _MISS
        if (
            not isinstance(msg, dict)
            or msg.get("jsonrpc") != "2.0"
            or msg.get("method") != "tools/list"
            or not isinstance(msg.get("id"), (int, str))
            or isinstance(msg.get("id"), bool)
            or msg.get("params", {}) not in ({}, None)
            or set(msg) - {"jsonrpc", "method", "id", "params"}
        ):
            return _MISS
        return msg["id"]

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        try:
            length = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            length = -1
        if not 0 <= length <= self.MAX_BODY:
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        request_id = self._cacheable(body, headers)
        accept = headers.get(b"accept", b"")
        if request_id is _MISS or not (b"application/json" in accept or b"*/*" in accept):
            await self.app(scope, replay, send)
            return
        if self.result is not None:
            refused = await self.security.validate_request(Request(scope, replay), is_post=True)
            if refused is not None:
                await refused(scope, replay, send)
                return
            out = b'{"jsonrpc":"2.0","id":' + json.dumps(request_id).encode() + b',"result":' + self.result + b"}"
            await send({"type": "http.response.start", "status": 200,
                        "headers": [*self.headers, (b"content-length", str(len(out)).encode())]})
            await send({"type": "http.response.body", "body": out})
            return
        # first time: let the SDK answer, and keep its answer
        status: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["headers"] = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"content-length"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        await self.app(scope, replay, capture)
        if status.get("code") != 200:
            return
        try:
            answer = json.loads(b"".join(chunks))
        except ValueError:
            return
        if isinstance(answer, dict) and answer.get("id") == request_id and isinstance(answer.get("result"), dict):
            self.result = json.dumps(answer["result"], separators=(",", ":"), ensure_ascii=False).encode()
            self.headers = status["headers"]


_MISS = object()


class Guard:
    """ASGI middleware: metrics, per-client rate limit and bearer-token auth (probes exempt)."""

    def __init__(self, app: ASGIApp, settings: Settings, deps: Deps):
        self.app = app
        self.settings = settings
        self.metrics = deps.metrics
        self.token = settings.auth_token.encode() if settings.auth_token else None
        self.rate = settings.rate_limit_requests  # per minute per client address
        self._buckets: dict[str, tuple[float, float]] = {}
        self.tools_list_cache = ToolsListCache(app, settings)

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
            if path == "/mcp" and scope.get("method") == "POST":
                headers = scope.get("headers") or []
                if not any(k == b"accept" for k, _ in headers):
                    # A bare JSON-RPC POST (no Accept at all) is answered like curl's "Accept: */*".
                    scope = dict(scope, headers=[*headers, (b"accept", b"application/json")])
                await self.tools_list_cache.handle(scope, receive, send_wrapper)
                return
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.http_requests.labels(label, str(status_holder["status"])).inc()
            self.metrics.http_seconds.labels(label).observe(time.perf_counter() - start)


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

    app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(settings),
        host=settings.bind_host,
    )
    return Guard(app, settings, deps)


def describe(settings: Settings) -> dict[str, Any]:
    """What we log at startup (never the token)."""
    return {
        "bind": f"{settings.bind_host}:{settings.port}",
        "allowedHosts": settings.service_hosts(),
        "auth": "bearer" if settings.auth_token else "none",
        "rateLimitPerMinute": settings.rate_limit_requests or None,
        "metrics": settings.enable_metrics,
    }


__all__ = ["build_app", "describe", "json"]
