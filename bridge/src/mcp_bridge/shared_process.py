"""The bridge's own long-lived, pre-initialized stdio process: serves per-request clients
(protocol 2026-07-28) and is how the bridge knows it is ready.

Readiness: the process was spawned and answered ``initialize`` and ``tools/list``. The result is
kept (``/readyz`` reads it, never spawns); if the process ends, readiness turns false with the
reason and the process is started again with exponential backoff (1 s .. 30 s).

Per-request clients (2026-07-28) have no session: each POST stands alone. A stdio server speaks
the handshake era (it expects ``initialize`` first), so such requests are relayed to this one
initialized process, their JSON-RPC ids renumbered so concurrent requests cannot collide, and the
answer returned as the POST's JSON body. Spawning a process per request would cost a process
start (about a second for ``npx``) on every call. The consequence, documented for users: state a
stdio server keeps outside any session (it has only one, this process's) is shared by per-request
callers; sessions (2025-11-25 clients) never share a process.
"""

from __future__ import annotations

import itertools
import logging
import time
from typing import Any

import anyio
from mcp.client.stdio import stdio_client
from mcp.shared.message import SessionMessage
from mcp_types import (
    INTERNAL_ERROR,
    METHOD_NOT_FOUND,
    ErrorData,
    JSONRPCError,
    JSONRPCNotification,
    JSONRPCRequest,
    JSONRPCResponse,
)
from mcp_types.version import LATEST_HANDSHAKE_VERSION

from . import __version__
from .config import Settings

log = logging.getLogger(__name__)
BACKOFF_MIN, BACKOFF_MAX = 1.0, 30.0


class NotReady(Exception):
    pass


class SharedProcess:
    def __init__(self, settings: Settings, params):
        self.settings = settings
        self.params = params
        self.ready = False
        self.reason = "starting the stdio server"
        self.tools: list[str] = []
        self.server_info: dict | None = None  # from the process's initialize result
        self.started_at: float | None = None
        self.spawn_seconds: float | None = None
        self._write = None
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[anyio.Event, list]] = {}

    def status(self) -> dict[str, Any]:
        return {"ready": self.ready, "reason": self.reason, "tools": len(self.tools)}

    async def run(self) -> None:
        """Keeps the process up for the bridge's lifetime."""
        backoff = BACKOFF_MIN
        while True:
            began = time.monotonic()
            try:
                async with stdio_client(self.params) as (read, write):
                    self._write = write
                    # Stays this if the process ends (the reader cancels the group) mid-handshake.
                    failure: str | None = "the stdio server process exited before answering initialize"
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(self._read_loop, read, tg.cancel_scope)
                        failure = await self._start(began)
                        if failure:
                            tg.cancel_scope.cancel()
                        else:
                            backoff = BACKOFF_MIN
                    self.reason = failure or "the stdio server process exited"
            except OSError as exc:
                self.reason = f"the stdio server could not be started: {self.settings.command[0]}: {exc.strerror or exc}"
            finally:
                self._write = None
                self.ready = False
                self._fail_pending(self.reason)
            log.warning("not ready: %s; restarting in %.0fs", self.reason, backoff)
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    async def _start(self, began: float) -> str | None:
        """Handshake with a fresh process; None when ready, else why not."""
        try:
            with anyio.fail_after(self.settings.startup_timeout):
                await self._handshake()
        except TimeoutError:
            return f"the stdio server did not answer initialize and tools/list within {self.settings.startup_timeout:g}s"
        except NotReady as exc:
            return str(exc)
        self.spawn_seconds = time.monotonic() - began
        self.ready = True
        self.reason = f"the stdio server answered initialize and tools/list ({len(self.tools)} tools)"
        log.info("ready: %s in %.1fs", self.reason, self.spawn_seconds)
        return None

    async def _handshake(self) -> None:
        init = await self._call(
            "initialize",
            {
                "protocolVersion": LATEST_HANDSHAKE_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "mcp-bridge", "version": __version__},
            },
        )
        if "error" in init:
            raise NotReady(f"the stdio server refused initialize: {init['error'].get('message')}")
        info = init.get("result", {}).get("serverInfo")
        self.server_info = {k: info[k] for k in ("name", "version") if k in info} if isinstance(info, dict) else None
        try:
            await self._write.send(SessionMessage(JSONRPCNotification(jsonrpc="2.0", method="notifications/initialized")))
        except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
            raise NotReady("the stdio server process exited during initialize") from exc
        listed = await self._call("tools/list", {})
        if "error" in listed:
            # A server without tools (prompts/resources only) answers -32601: still a working server.
            if listed["error"].get("code") != METHOD_NOT_FOUND:
                raise NotReady(f"the stdio server failed tools/list: {listed['error'].get('message')}")
            self.tools = []
        else:
            self.tools = [t.get("name", "") for t in listed.get("result", {}).get("tools", [])]

    async def _read_loop(self, read, scope: anyio.CancelScope) -> None:
        async for item in read:
            if isinstance(item, Exception):
                log.warning("the stdio server wrote a line that is not JSON-RPC (ignored): %s", item)
                continue
            msg = item.message
            if isinstance(msg, JSONRPCResponse | JSONRPCError) and isinstance(msg.id, int) and msg.id in self._pending:
                event, box = self._pending.pop(msg.id)
                box.append(msg.model_dump(by_alias=True, exclude_none=True, mode="json"))
                event.set()
            elif isinstance(msg, JSONRPCRequest):
                # 2026-07-28 has no back-channel; answer so the server does not wait forever.
                error = ErrorData(code=METHOD_NOT_FOUND, message=f"{msg.method}: no client to ask (per-request calls have no back-channel)")
                await self._write.send(SessionMessage(JSONRPCError(jsonrpc="2.0", id=msg.id, error=error)))
        scope.cancel()  # stdout closed: the process is gone

    def _fail_pending(self, reason: str) -> None:
        for event, box in self._pending.values():
            box.append({"error": {"code": INTERNAL_ERROR, "message": f"the MCP server process ended before answering: {reason}"}})
            event.set()
        self._pending.clear()

    async def _call(self, method: str, params: dict | None) -> dict[str, Any]:
        if self._write is None:
            raise NotReady(self.reason)
        rid = next(self._ids)
        event, box = anyio.Event(), []
        self._pending[rid] = (event, box)
        try:
            try:
                await self._write.send(SessionMessage(JSONRPCRequest(jsonrpc="2.0", id=rid, method=method, params=params)))
            except (anyio.ClosedResourceError, anyio.BrokenResourceError) as exc:
                raise NotReady("the stdio server process exited") from exc
            await event.wait()
        finally:
            self._pending.pop(rid, None)
        return box[0]

    async def call(self, method: str, params: dict | None) -> dict[str, Any]:
        """One request relayed for a per-request client: the JSON-RPC reply's ``result`` or
        ``error`` member as a dict. NotReady when the process is down."""
        if not self.ready:
            raise NotReady(self.reason)
        return await self._call(method, params)
