"""The sidecar: probe loop, inventory reporting, and the /readyz the pod's readiness rests on.

/readyz answers 200 only while the latest probe completed the MCP handshake and tools/list; 503
with the reason otherwise (what answered instead). Reporting the inventory is best effort: an
API server outage never makes the MCP server unready.
"""

from __future__ import annotations

import asyncio
import json
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
PROBE_KEY_PREFIX = "probe."  # + pod name: this pod's failing verdict (mcp_operator_hook.inventory)
FAIL_THRESHOLD = 2  # consecutive failures before the verdict is written (the readinessProbe's failureThreshold)
REFRESH_SECONDS = 600.0  # a standing failure verdict is re-stamped this often...
STALE_SECONDS = 3600.0  # ...so verdicts older than this belong to pods that are gone and are dropped


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


class Verdicts:
    """Writes this pod's failing verdict (what answered instead of MCP) into the inventory
    ConfigMap as ``probe.<pod>``, so the operator can say why the pod is not ready; deletes it
    on the next success. Written only on change (and re-stamped every REFRESH_SECONDS)."""

    def __init__(self, store, pod_name: str):
        self.store, self.key = store, PROBE_KEY_PREFIX + pod_name
        self.failures = 0
        self.written: str | None = None  # message last written
        self.written_at = 0.0
        self.clean = False  # known to have no record

    def observe(self, ok: bool, message: str, now: str) -> None:
        if ok:
            self.failures = 0
            if not self.clean:
                self.store.patch_data({self.key: None})
                self.written, self.clean = None, True
            return
        self.failures += 1
        if self.failures < FAIL_THRESHOLD:
            return
        if message == self.written and time.monotonic() - self.written_at < REFRESH_SECONDS:
            return
        data, _ = self.store.read_data()
        if data is None:
            return  # no ConfigMap yet
        patch: dict = {self.key: json.dumps({"ready": False, "message": message, "at": now}, sort_keys=True)}
        for key, text in data.items():  # drop verdicts nobody re-stamped: their pods are gone
            if key.startswith(PROBE_KEY_PREFIX) and key != self.key and _age(text, now) > STALE_SECONDS:
                patch[key] = None
        self.store.patch_data(patch)
        self.written, self.written_at, self.clean = message, time.monotonic(), False


def _age(record: str, now: str) -> float:
    try:
        at = json.loads(record)["at"]
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        return (datetime.strptime(now, fmt) - datetime.strptime(at, fmt)).total_seconds()
    except (ValueError, KeyError, TypeError):
        return float("inf")


class Prober:
    def __init__(self, settings: Settings, reporter: Reporter | None = None, verdicts: Verdicts | None = None):
        self.settings = settings
        self.reporter = reporter
        self.verdicts = verdicts
        self.result: Result | None = None
        self.probes = 0

    async def once(self) -> Result:
        result = await probe(self.settings.url, self.settings.timeout, self.settings.token_file)
        if (self.result is None) or result.ok != self.result.ok or result.message != self.result.message:
            (log.info if result.ok else log.warning)("probe %s: %s", "ok" if result.ok else "failed", result.message)
        self.result = result
        self.probes += 1
        try:  # best effort: readiness never depends on the API server
            if self.verdicts is not None:
                await asyncio.to_thread(self.verdicts.observe, result.ok, result.message, now_rfc3339())
            if result.observation is not None and self.reporter is not None:
                change = await asyncio.to_thread(self.reporter.report, result.observation, now_rfc3339())
                if change:
                    log.info("%s", change)
        except Exception as exc:
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
            return JSONResponse({"ready": bool(r and r.ok), "message": r.message if r else "no probe yet"},
                                status_code=404 if r and r.ok else 503)
        return JSONResponse({"ready": True, "message": r.message, "inventory": r.observation.document()})

    async def lifespan(_app):
        task = asyncio.create_task(prober.run())
        try:
            yield
        finally:
            task.cancel()

    return Starlette(routes=[Route("/readyz", readyz), Route("/healthz", healthz), Route("/inventory", inventory)],
                     lifespan=lifespan)
