"""The sidecar: probe loop, inventory reporting, and the /readyz the pod's readiness rests on.

/readyz answers 200 only while the latest probe completed the MCP handshake and tools/list; 503
with the reason otherwise (what answered instead). Reporting the inventory is best effort: an
API server outage never makes the MCP server unready.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from . import inventory as inv
from .config import Settings
from .probe import Result, probe

log = logging.getLogger("mcp_prober")
RECHECK_SECONDS = 300.0  # how often an unchanged view re-reads the ConfigMap (recreated empty?)


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Reporter:
    """Writes the inventory when this pod's own view changed since its last write (so replicas
    of one rollout do not fight, and an old pod does not overwrite a new one's report), and
    emits a ToolsChanged Event on the MCPServer when the stored tool set changes."""

    def __init__(self, store):
        self.store = store
        self.written: str | None = None  # canonical document (no history) last written or seen
        self.checked = 0.0

    def report(self, obs: inv.Observation, now: str) -> str | None:
        """Returns the change message when the tool set changed (after the write), else None.
        Raises the API client's errors (the caller logs them and retries next probe)."""
        view = inv.dumps(obs.document())
        if view == self.written and time.monotonic() - self.checked < RECHECK_SECONDS:
            return None
        text, owner = self.store.read()
        self.checked = time.monotonic()
        if text is None and owner is None:
            log.warning("inventory ConfigMap %s does not exist yet; will retry", self.store.name)
            return None
        stored = inv.parse_stored(text)
        if view == self.written and stored is not None:
            return None  # periodic re-check: still there, nothing to add
        doc, change = inv.merge(stored, obs, now)
        if stored is None or inv.dumps(doc) != inv.dumps(stored):
            self.store.write(inv.dumps(doc))
            log.info("inventory written: %d tools, %s", doc["toolCount"], doc["toolsHash"])
        self.written = view
        if change is None:
            return None
        message = change.message()
        if owner is not None:
            self.store.event(owner, "ToolsChanged", message)
        return message


class Prober:
    def __init__(self, settings: Settings, reporter: Reporter | None = None):
        self.settings = settings
        self.reporter = reporter
        self.result: Result | None = None
        self.probes = 0

    async def once(self) -> Result:
        result = await probe(self.settings.url, self.settings.timeout)
        if (self.result is None) or result.ok != self.result.ok or result.message != self.result.message:
            (log.info if result.ok else log.warning)("probe %s: %s", "ok" if result.ok else "failed", result.message)
        self.result = result
        self.probes += 1
        if result.ok and self.reporter is not None:
            try:
                change = await asyncio.to_thread(self.reporter.report, result.observation, now_rfc3339())
                if change:
                    log.info("%s", change)
            except Exception as exc:  # best effort: readiness does not depend on the API server
                log.warning("inventory not written: %s", f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
        return result

    async def run(self) -> None:
        while True:
            result = await self.once()
            await asyncio.sleep(self.settings.interval if result.ok else self.settings.retry)


def create_app(prober: Prober) -> Starlette:
    async def readyz(_request):
        r = prober.result
        if r is None:
            return PlainTextResponse("not ready: no probe has completed yet\n", status_code=503)
        if not r.ok:
            return PlainTextResponse(f"not ready: {r.message}\n", status_code=503)
        return PlainTextResponse(f"ready: {r.message}\n")

    async def healthz(_request):
        return PlainTextResponse("ok\n")

    async def inventory(_request):
        r = prober.result
        if r is None or r.observation is None:
            return JSONResponse({"ready": False, "message": r.message if r else "no probe yet"}, status_code=503)
        return JSONResponse({"ready": True, "message": r.message, "inventory": r.observation.document()})

    async def lifespan(_app):
        task = asyncio.create_task(prober.run())
        try:
            yield
        finally:
            task.cancel()

    return Starlette(routes=[Route("/readyz", readyz), Route("/healthz", healthz), Route("/inventory", inventory)],
                     lifespan=lifespan)
