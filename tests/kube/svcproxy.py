"""Cluster DNS for processes that play pods out of cluster: a loopback HTTP proxy.

There is no pod network here, so `http://<service>.<namespace>:<port>/path` (what Metacontroller
calls for a CompositeController `webhook.service`, and what in-cluster clients call) resolves to
nothing. Give such a process `HTTP_PROXY=<ServiceProxy.url>` (Go's net/http and Python's urllib
both honour it for plain-HTTP URLs; loopback addresses bypass it) and each request is forwarded
through `kubectl port-forward svc/<service> -n <namespace>`, one per Service port, started on first
use and restarted when it drops (its pod went away).

    with ServiceProxy(cp) as proxy:
        env = {"HTTP_PROXY": proxy.url, "http_proxy": proxy.url}

Written by hand rather than with a proxy library because the routing (Service name -> kubectl
port-forward) is the whole job; the HTTP part is the standard library's server and client.
"""

from __future__ import annotations

import http.client
import http.server
import socket
import subprocess
import threading
import time
import urllib.parse

from .controlplane import free_port
from .process import stop_process

# Headers that belong to one hop (RFC 9110 7.6.1), never forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade", "proxy-connection"}


def service_of(host: str) -> tuple[str, str] | None:
    """(name, namespace) of `<svc>.<ns>`, `<svc>.<ns>.svc` or `<svc>.<ns>.svc.cluster.local`."""
    parts = host.split(".")
    if len(parts) == 2 or (len(parts) >= 3 and parts[2] == "svc"):
        return parts[0], parts[1]
    return None


class _Forward:
    def __init__(self, cp, namespace: str, name: str, port: int):
        self.local = free_port()
        self.proc = subprocess.Popen(
            [str(cp.bin_dir / "kubectl"), "--kubeconfig", cp.kubeconfig, "port-forward", "-n", namespace,
             f"svc/{name}", f"{self.local}:{port}", "--address=127.0.0.1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise OSError(f"kubectl port-forward svc/{name} -n {namespace}: {self.proc.stderr.read().strip()}")
            with socket.socket() as s:
                s.settimeout(0.3)
                if s.connect_ex(("127.0.0.1", self.local)) == 0:
                    return
            time.sleep(0.1)
        self.stop()
        raise OSError(f"kubectl port-forward svc/{name} -n {namespace} did not listen within 20s")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        stop_process(self.proc, 5)


class ServiceProxy:
    def __init__(self, cp):
        self.cp = cp
        self._forwards: dict[tuple[str, str, int], _Forward] = {}
        self._lock = threading.Lock()
        self._server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        """Environment for a process whose plain-HTTP requests should go through this proxy."""
        return {"HTTP_PROXY": self.url, "http_proxy": self.url, "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost"}

    def start(self) -> "ServiceProxy":
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet: the callers log what matters
                pass

            def _relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                status, headers, data = proxy.forward(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="svcproxy", daemon=True).start()
        return self

    def forward(self, method: str, target: str, headers: dict, body: bytes | None):
        """(status, headers, body) of `method target` sent to the Service it names; 502 + a plain
        message when the Service cannot be reached (as a client would see a failed connection)."""
        url = urllib.parse.urlsplit(target)
        svc = service_of(url.hostname or "")
        if url.scheme != "http" or not svc:
            return 502, [("Content-Type", "text/plain")], f"svcproxy: not a Service URL: {target}\n".encode()
        name, ns = svc
        port = url.port or 80
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        fwd_headers = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
        last: Exception | None = None
        for _ in range(2):  # one retry on a fresh port-forward when the old one lost its pod
            try:
                fwd = self._forward_for(ns, name, port)
                conn = http.client.HTTPConnection("127.0.0.1", fwd.local, timeout=60)
                try:
                    conn.request(method, path, body=body, headers=fwd_headers)
                    resp = conn.getresponse()
                    return resp.status, resp.getheaders(), resp.read()
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException) as e:
                last = e
                self._drop(ns, name, port)
        return 502, [("Content-Type", "text/plain")], f"svcproxy: svc/{name} -n {ns}:{port}: {last}\n".encode()

    def _forward_for(self, ns: str, name: str, port: int) -> _Forward:
        key = (ns, name, port)
        with self._lock:
            fwd = self._forwards.get(key)
            if fwd is None or not fwd.alive():
                if fwd is not None:
                    fwd.stop()
                fwd = self._forwards[key] = _Forward(self.cp, ns, name, port)
            return fwd

    def _drop(self, ns: str, name: str, port: int) -> None:
        with self._lock:
            fwd = self._forwards.pop((ns, name, port), None)
        if fwd:
            fwd.stop()

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        with self._lock:
            forwards, self._forwards = list(self._forwards.values()), {}
        for fwd in forwards:
            fwd.stop()

    def __enter__(self) -> "ServiceProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
