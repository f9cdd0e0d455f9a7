"""telemetry.py: the SDK's OpenTelemetry span per message only when a tracer provider can record it."""

from __future__ import annotations

from mcp.server._otel import OpenTelemetryMiddleware
from opentelemetry import trace

from mcp_k8s_server import config, telemetry
from mcp_k8s_server.kube import Kube
from mcp_k8s_server.server import build


def _build():
    settings = config.load({"KUBECONFIG": "/nonexistent"})
    mcp, _ = build(settings, kube=Kube())
    return mcp


def test_no_tracer_provider_no_otel_middleware() -> None:
    assert not telemetry.tracing_configured()  # opentelemetry-api only: nothing could receive spans
    middleware = _build().middleware
    assert not any(isinstance(m, OpenTelemetryMiddleware) for m in middleware)
    assert middleware, "our own middleware (caller binding, tools/list memo) stays"


def test_configured_tracer_provider_keeps_the_sdk_span(monkeypatch) -> None:
    class Recording(trace.TracerProvider):  # what an OpenTelemetry SDK (opentelemetry-instrument) installs
        def get_tracer(self, *args, **kwargs):
            return trace.NoOpTracer()

    monkeypatch.setattr(trace, "get_tracer_provider", lambda: Recording())
    assert telemetry.tracing_configured()
    middleware = _build().middleware
    assert isinstance(middleware[0], OpenTelemetryMiddleware), "the SDK's span stays outermost"
