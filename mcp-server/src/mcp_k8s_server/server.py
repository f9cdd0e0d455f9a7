"""Assembles the MCPServer: tools, resources and prompts over one Kubernetes facade."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from . import __version__, prompts, resources, telemetry, tools
from .audit import CallerMiddleware
from .auth import settings as auth_settings
from .auth import setup as auth_setup
from .config import Settings
from .deps import Deps
from .kube import Kube
from .memo import ToolsListMemo
from .metrics import Metrics


def instructions(settings: Settings) -> str:
    parts = [
        "Kubernetes access through bounded tools. Lists are paged: follow nextCursor. Outputs are capped "
        f"at {settings.max_output_bytes} bytes with an explicit notice when cut. Secrets are never returned.",
        "Start with list-pods / describe-pod / list-events; get-pod-logs returns the newest lines only.",
    ]
    if settings.read_only:
        parts.append("This server is read-only: it cannot create or delete anything.")
    if settings.namespaces:
        parts.append(f"Only these namespaces are accessible: {', '.join(settings.namespaces)}.")
    if settings.auth_mode != "none":
        parts.append("Every call acts with the caller's own Kubernetes permissions: use can-i to check before acting.")
    return " ".join(parts)


def build(settings: Settings, kube: Kube | None = None, metrics: Metrics | None = None) -> tuple[MCPServer, Deps]:
    kube = kube or Kube(timeout=settings.kube_timeout_seconds, server_identity=auth_settings.server_identity(settings))
    auth = auth_setup.build(settings, kube)
    deps = Deps(settings=settings, kube=kube, metrics=metrics or Metrics(), auth=auth)
    mcp = MCPServer(
        settings.server_name,
        version=__version__,
        instructions=instructions(settings),
        log_level=settings.log_level,  # type: ignore[arg-type]
        token_verifier=auth.verifier if auth else None,
        auth=auth.auth if auth else None,
        middleware=[CallerMiddleware(identity_mode=auth is not None, audit=settings.audit_log), ToolsListMemo()],
    )
    telemetry.keep_tracing_only_if_configured(mcp.middleware)
    tools.register(mcp, deps)
    resources.register(mcp, deps)
    prompts.register(mcp, deps)
    return mcp, deps
