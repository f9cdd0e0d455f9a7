"""Prometheus metrics in a registry of our own (served at /metrics when ENABLE_METRICS)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "mcp_http_requests_total", "HTTP requests by path and status", ["path", "status"], registry=self.registry
        )
        self.http_seconds = Histogram(
            "mcp_http_request_duration_seconds", "HTTP request latency", ["path"], registry=self.registry
        )
        self.tool_calls = Counter(
            "mcp_tool_calls_total", "Tool calls by tool and outcome", ["tool", "outcome"], registry=self.registry
        )
        self.tool_seconds = Histogram(
            "mcp_tool_duration_seconds", "Tool call latency", ["tool"], registry=self.registry
        )
        self.rate_limited = Counter("mcp_rate_limited_total", "Requests refused by the rate limit", registry=self.registry)
        self.kube_ready = Gauge("mcp_kube_api_ready", "1 if the last readiness probe reached the API server", registry=self.registry)

    def tool_call(self, tool: str, outcome: str, seconds: float) -> None:
        self.tool_calls.labels(tool, outcome).inc()
        self.tool_seconds.labels(tool).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
