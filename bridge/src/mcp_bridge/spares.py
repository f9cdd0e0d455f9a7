"""Warm spares: stdio processes spawned ahead of demand, not yet initialized, so that a new MCP
session skips the process start (seconds for ``npx``/``uvx``) and pays only its ``initialize``.

A spare is fresh: it has never seen a message, so handing it to a session keeps "one process per
session, never shared". Each spare lives in a task of its own (the SDK's ``stdio_client`` must be
exited by the task that entered it); the session that takes it signals ``release`` when it ends,
and the task stops the process. A spare whose process already ended (it crashed while waiting)
is discarded at take time and the session spawns its own. Every take starts a replacement.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import anyio
from anyio.abc import TaskGroup
from mcp.client.stdio import StdioServerParameters, stdio_client

log = logging.getLogger(__name__)


@dataclass
class Spare:
    read: object
    write: object
    release: anyio.Event = field(default_factory=anyio.Event)

    @property
    def alive(self) -> bool:
        # stdio_client closes its end of the read stream when the process's stdout ends
        return self.read.statistics().open_send_streams > 0


class Spares:
    def __init__(self, params: StdioServerParameters, task_group: TaskGroup, count: int):
        self.params = params
        self.task_group = task_group
        self.count = count
        self.idle: list[Spare] = []
        for _ in range(count):
            task_group.start_soon(self._keep_one)

    def take(self) -> Spare | None:
        """A live spare for a new session (and a replacement started), or None."""
        while self.idle:
            spare = self.idle.pop(0)
            self.task_group.start_soon(self._keep_one)
            if spare.alive:
                return spare
            spare.release.set()
            log.warning("a spare stdio process had exited before use; spawning one for the session")
        return None

    async def _keep_one(self) -> None:
        try:
            async with stdio_client(self.params) as (read, write):
                spare = Spare(read, write)
                self.idle.append(spare)
                await spare.release.wait()
        except OSError as exc:
            log.warning("could not pre-spawn a spare stdio process: %s", exc)
