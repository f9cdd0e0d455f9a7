"""OpenTelemetry: the SDK's per-message span only when something can record it.

Why: the mcp SDK puts ``OpenTelemetryMiddleware`` first on every server ("a no-op until an OTel
exporter is installed. Drop it from this list to opt out", mcp 2.3.0 ``lowlevel/server.py``). The
no-op still costs: attribute dicts, trace-context extraction from ``_meta``, a span and its context
manager per message, ~15% of a tools/list's server CPU in a profile. This image ships only
``opentelemetry-api`` (no SDK, no exporter), so by default nothing could ever receive those spans.

Rule: keep the middleware when a tracer provider is configured when the server is built (an
OpenTelemetry SDK set up by ``opentelemetry-instrument``, ``OTEL_PYTHON_TRACER_PROVIDER`` or a
``sitecustomize``, all of which run before ``main``); drop it otherwise. Tracing then works exactly
as the SDK documents, and costs nothing when off.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.server._otel import OpenTelemetryMiddleware
from opentelemetry import trace

log = logging.getLogger(__name__)


def tracing_configured() -> bool:
    """Is a real tracer provider set (anything but the API's default proxy or no-op)?"""
    return not isinstance(trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


def keep_tracing_only_if_configured(middleware: list[Any]) -> bool:
    """Remove the SDK's OpenTelemetry middleware from ``middleware`` (``MCPServer.middleware``, in
    place) unless tracing is configured. Returns whether spans are emitted."""
    if tracing_configured():
        return True
    middleware[:] = [m for m in middleware if not isinstance(m, OpenTelemetryMiddleware)]
    return False
