"""Run our server as a subprocess (stdio or HTTP) and talk to it with the SDK's own client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import yaml
from mcp import Client, StdioServerParameters
from tests.kube import wait_for  # noqa: F401  (re-exported for the suite)
from tests.kube import free_port  # noqa: F401  (re-exported for the suite)

SERVER_BIN = str(Path(sys.executable).parent / "mcp-k8s-server")




def server_env(kubeconfig: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCP_", "KUBERNETES_SERVICE"))}
    env.update({"KUBECONFIG": kubeconfig, "LOG_LEVEL": "INFO"})
    env.update(extra)
    return env


class HttpServer:
    def __init__(self, proc: subprocess.Popen, port: int, stderr_path: Path):
        self.proc, self.port, self.stderr_path = proc, port, stderr_path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def get(self, path: str, headers: dict | None = None) -> tuple[int, str]:
        return request("GET", f"http://127.0.0.1:{self.port}{path}", headers=headers)

    def post(self, body: dict | str, headers: dict | None = None, path: str = "/mcp") -> tuple[int, str]:
        data = body if isinstance(body, str) else json.dumps(body)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return request("POST", f"http://127.0.0.1:{self.port}{path}", data=data.encode(), headers=h)

    def logs(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def request(method: str, url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 30):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@contextmanager
def http_server(kubeconfig: str, tmp_path: Path, **env: str):
    port = free_port()
    stderr_path = tmp_path / f"server-{port}.log"
    full_env = server_env(kubeconfig, MCP_TRANSPORT="http", MCP_PORT=str(port), MCP_HOST="127.0.0.1", **env)
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen([SERVER_BIN], env=full_env, stdout=subprocess.DEVNULL, stderr=err)
    srv = HttpServer(proc, port, stderr_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited ({proc.returncode}):\n{srv.logs()}")
            try:
                if srv.get("/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{srv.logs()}")
            time.sleep(0.1)
        yield srv
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def stdio_params(kubeconfig: str, **env: str) -> StdioServerParameters:
    return StdioServerParameters(command=SERVER_BIN, args=[], env=server_env(kubeconfig, MCP_TRANSPORT="stdio", **env))


@asynccontextmanager
async def connect(transport: str, kubeconfig: str, tmp_path: Path, **env: str):
    """An SDK Client over 'stdio' (2025-11-25 handshake), 'stdio-modern' (2026-07-28 per-request),
    'http-legacy' (2025-11-25 handshake) or 'http-modern' (2026-07-28)."""
    if transport in ("stdio", "stdio-modern"):
        mode = "legacy" if transport == "stdio" else "2026-07-28"
        async with Client(stdio_params(kubeconfig, **env), mode=mode) as c:
            yield c
        return
    mode = {"http-legacy": "legacy", "http-modern": "2026-07-28"}[transport]
    with http_server(kubeconfig, tmp_path, **env) as srv:
        async with Client(srv.url, mode=mode) as c:
            yield c


def texts(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def kubeconfig_with(base: str, out: Path, *, server: str | None = None, token: str | None = None) -> str:
    """A copy of ``base`` pointing at another server address and/or authenticating with a token."""
    cfg = yaml.safe_load(Path(base).read_text())
    if server:
        for c in cfg["clusters"]:
            c["cluster"]["server"] = server
    if token:
        for u in cfg["users"]:
            u["user"] = {"token": token}
    out.write_text(yaml.safe_dump(cfg))
    return str(out)


class TcpProxy:
    """A loopback TCP forwarder we can stop and restart on the same port: from the server's point
    of view the API server goes away (connections reset/refused) and comes back."""

    def __init__(self, target_host: str, target_port: int, port: int | None = None):
        self.target = (target_host, target_port)
        self.port = port or free_port()
        self._sock: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(64)
        self._sock = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()
        return self

    def _accept(self, s: socket.socket) -> None:
        while True:
            try:
                client, _ = s.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for x in (a, b):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        if self._sock:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() thread (close alone does not)
            except OSError:
                pass
            self._sock.close()
            self._sock = None
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                    c.close()
                except OSError:
                    pass
            self._conns.clear()


