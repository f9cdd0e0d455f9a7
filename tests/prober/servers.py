"""Real servers for the prober to probe, on free loopback ports: our mcp-k8s-server, plain HTTP
servers that are not MCP, and the prober process itself."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import httpx2

from tests.kube import free_port, stop_process, wait_for

VENV_BIN = Path(sys.executable).parent


def _get(url: str) -> int | None:
    try:
        return httpx2.get(url, timeout=2).status_code
    except httpx2.HTTPError:
        return None


@contextlib.contextmanager
def mcp_k8s_server(read_only: bool = False, tmp: Path | None = None):
    """Our server over streamable HTTP (no cluster needed to list tools); yields its /mcp URL."""
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp or Path.cwd()), "MCP_TRANSPORT": "streamable-http",
           "MCP_PORT": str(port), "MCP_HOST": "127.0.0.1", "KUBECONFIG": "/nonexistent",
           "MCP_READ_ONLY": "true" if read_only else "false"}
    proc = subprocess.Popen([str(VENV_BIN / "mcp-k8s-server")], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _get(f"http://127.0.0.1:{port}/health") == 200, 30, 0.2, "mcp-k8s-server /health")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop_process(proc, grace=5)


class _Plain(http.server.BaseHTTPRequestHandler):
    """Answers every GET and POST like a web app that is not MCP (body and type per server)."""

    content_type = "text/html; charset=utf-8"
    body = b"<html><body>Welcome to nginx!</body></html>"
    status = 200
    headers_out: dict = {}

    def _answer(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(self.status)
        self.send_header("Content-Type", self.content_type)
        for k, v in self.headers_out.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def plain_http(status: int = 200, content_type: str = "text/html; charset=utf-8", body: bytes | None = None,
               headers: dict | None = None):
    """A plain HTTP server (not MCP) on a free loopback port; yields its /mcp URL."""
    handler = type("H", (_Plain,), {"status": status, "content_type": content_type,
                                    "body": body if body is not None else _Plain.body,
                                    "headers_out": headers or {}})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/mcp"
    finally:
        srv.shutdown()
        srv.server_close()


@contextlib.contextmanager
def prober_process(url: str, extra_env: dict | None = None, log: Path | None = None):
    """The ``mcp-prober`` console script, as the pod runs it; yields its base URL."""
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": "/tmp", "MCP_PROBE_URL": url, "MCP_PROBER_PORT": str(port),
           "MCP_PROBER_HOST": "127.0.0.1", "MCP_PROBE_RETRY": "0.5", "MCP_PROBE_INTERVAL": "1",
           "MCP_PROBE_TIMEOUT": "3", **(extra_env or {})}
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen([str(VENV_BIN / "mcp-prober")], env=env, stdout=out, stderr=out)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _get(base + "/healthz") == 200, 30, 0.2, "mcp-prober /healthz")
        yield base
    finally:
        stop_process(proc, grace=5)
        if log:
            out.close()


def readyz(base: str) -> tuple[int, str]:
    r = httpx2.get(base + "/readyz", timeout=5)
    return r.status_code, r.text


def inventory(base: str) -> dict:
    return json.loads(httpx2.get(base + "/inventory", timeout=5).text)
