"""A TCP load balancer that spreads connections over a Service's ready endpoints as kube-proxy
does: one backend per connection, round-robin, or pinned per client IP when the Service has
``sessionAffinity: ClientIP``. Dev tooling for the replica tests and benchmarks: with no
container network here, ``kubectl port-forward svc/...`` pins one pod and proves nothing about
replicas, so requests go through this instead.

``endpoints`` is called on every new connection (the ready set may change), returning
``(host, port)`` pairs that are reachable from here (the pod runner's loopback ports).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable

from .controlplane import free_port


class Balancer:
    def __init__(self, endpoints: Callable[[], list[tuple[str, int]]], session_affinity: str = "None"):
        if session_affinity not in ("None", "ClientIP"):
            raise ValueError(f"sessionAffinity must be None or ClientIP, got {session_affinity!r}")
        self.endpoints = endpoints
        self.session_affinity = session_affinity
        self.port = free_port()
        self.connections: dict[tuple[str, int], int] = {}  # backend -> connections sent there
        self._rr = itertools.count()
        self._affinity: dict[str, tuple[str, int]] = {}
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> "Balancer":
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def _stop(self) -> None:
        if self._server:
            self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def pick(self, client_ip: str) -> tuple[str, int] | None:
        ready = list(self.endpoints())
        if not ready:
            return None
        if self.session_affinity == "ClientIP":
            chosen = self._affinity.get(client_ip)
            if chosen not in ready:
                chosen = self._affinity[client_ip] = ready[next(self._rr) % len(ready)]
            return chosen
        return ready[next(self._rr) % len(ready)]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = self.pick(writer.get_extra_info("peername")[0])
        if backend is None:  # no ready endpoint: kube-proxy rejects the connection
            writer.close()
            return
        self.connections[backend] = self.connections.get(backend, 0) + 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*backend)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                if dst.can_write_eof():
                    try:
                        dst.write_eof()
                    except (OSError, RuntimeError):
                        pass

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                w.close()


__all__ = ["Balancer", "free_port"]
