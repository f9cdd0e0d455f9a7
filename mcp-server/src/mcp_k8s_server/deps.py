"""What the MCP surface needs at call time: settings, the Kubernetes facade, metrics, small caches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from . import audit
from .auth import caller as callers
from .config import Settings
from .kube import Kube, KubeError
from .metrics import Metrics
from .shape import check_dns1123_label


@dataclass
class Deps:
    settings: Settings
    kube: Kube
    metrics: Metrics
    auth: Any = None  # auth.setup.AuthSetup in an identity mode (MCP_AUTH_MODE), else None
    _ns_cache: tuple[float, str, list[str]] | None = field(default=None, repr=False)

    def check_namespace(self, namespace: str) -> str:
        """Validated namespace or ToolError with the reason and what to do."""
        namespace = (namespace or "").strip() or self.settings.default_namespace
        problem = check_dns1123_label(namespace, "namespace")
        if problem:
            raise ToolError(problem)
        if not self.settings.namespace_allowed(namespace):
            raise ToolError(
                f"namespace {namespace!r} is outside this server's allowlist; allowed: "
                f"{', '.join(self.settings.namespaces)}."
            )
        audit.record(namespace=namespace)
        return namespace

    @contextmanager
    def observe(self, tool: str) -> Iterator[None]:
        start = time.perf_counter()
        outcome = "ok"
        try:
            yield
        except KubeError as exc:
            outcome = exc.code
            raise ToolError(str(exc)) from None
        except ToolError:
            outcome = "invalid"
            raise
        except Exception:
            outcome = "exception"
            raise
        finally:
            self.metrics.tool_call(tool, outcome, time.perf_counter() - start)
            audit.record(outcome=outcome)

    async def namespaces(self) -> list[str]:
        """Namespaces for completion: the allowlist, else the cluster's (cached 10 s; [] if forbidden)."""
        if self.settings.namespaces:
            return list(self.settings.namespaces)
        now = time.monotonic()
        who = callers.current()
        owner = who.username if who else ""  # per caller: one caller's view never answers another
        if self._ns_cache and now - self._ns_cache[0] < 10 and self._ns_cache[1] == owner:
            return self._ns_cache[2]
        try:
            data = await self.kube.list_namespaces()
            names = sorted((i.get("metadata") or {}).get("name", "") for i in data.get("items") or [])
        except KubeError:
            names = [self.settings.default_namespace]
        self._ns_cache = (now, owner, names)
        return names
