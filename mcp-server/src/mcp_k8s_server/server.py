"""Assembles the MCPServer: tools, resources and prompts over one Kubernetes facade."""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

from . import __version__, prompts, resources, tools
from .config import Settings
from .deps import Deps
from .kube import Kube
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
    return " ".join(parts)


def build(settings: Settings, kube: Kube | None = None, metrics: Metrics | None = None) -> tuple[MCPServer, Deps]:
    deps = Deps(settings=settings, kube=kube or Kube(timeout=settings.kube_timeout_seconds), metrics=metrics or Metrics())
    mcp = MCPServer(
        settings.server_name,
        version=__version__,
        instructions=instructions(settings),
        log_level=settings.log_level,  # type: ignore[arg-type]
    )
    tools.register(mcp, deps)
    resources.register(mcp, deps)
    prompts.register(mcp, deps)
    return mcp, deps
