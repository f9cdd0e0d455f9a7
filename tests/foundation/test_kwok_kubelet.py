"""kwok's kubelet-like server behind the real API server: `kubectl logs` and `kubectl port-forward`
reach fake pods, served from files and local targets configured through kwok's Logs and
PortForward resources. The user journey and the MCP server's log tool rely on both."""

from __future__ import annotations

import http.server
import json
import subprocess
import threading
import time
import urllib.request

from tests.kube import free_port, wait_for


def _running_pod(cp, namespace, name="p"):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "main", "image": "registry.example/app:1", "ports": [{"containerPort": 80}]}]},
    }
    cp.kubectl("apply", "-f", "-", input=json.dumps(pod))
    wait_for(
        lambda: json.loads(cp.kubectl("get", "pod", name, "-n", namespace, "-o", "json").stdout)
        .get("status", {})
        .get("phase")
        == "Running",
        what="pod Running",
    )


def test_kubectl_logs_reads_the_configured_file(control_plane, namespace, tmp_path):
    _running_pod(control_plane, namespace)
    log = tmp_path / "main.log"
    # The CRI log format a container runtime writes, which is what kwok parses.
    log.write_text("".join(f"2026-01-01T00:00:{i:02d}.000000000Z stdout F line {i}\n" for i in range(1, 11)))
    rule = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "Logs",
        "metadata": {"name": "p", "namespace": namespace},
        "spec": {"logs": [{"containers": ["main"], "logsFile": str(log)}]},
    }
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(rule))

    def tail():
        r = control_plane.kubectl("logs", "p", "-n", namespace, "--tail=3", check=False)
        return r.returncode == 0 and r.stdout

    out = wait_for(tail, what="logs served")
    assert out.splitlines() == ["line 8", "line 9", "line 10"]


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = b"hello through port-forward"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_kubectl_port_forward_reaches_a_local_target(control_plane, namespace):
    _running_pod(control_plane, namespace)
    target = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    rule = {
        "apiVersion": "kwok.x-k8s.io/v1alpha1",
        "kind": "PortForward",
        "metadata": {"name": "p", "namespace": namespace},
        "spec": {"forwards": [{"ports": [80], "target": {"address": "127.0.0.1", "port": target.server_address[1]}}]},
    }
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(rule))
    local = free_port()
    pf = subprocess.Popen(
        [str(control_plane.bin_dir / "kubectl"), "--kubeconfig", control_plane.kubeconfig,
         "port-forward", "-n", namespace, "pod/p", f"{local}:80"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        def fetch():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=3) as r:
                    return r.read().decode()
            except OSError:
                time.sleep(0.3)
                return None

        assert wait_for(fetch, timeout=30, what="port-forwarded response") == "hello through port-forward"
    finally:
        pf.terminate()
        pf.wait(timeout=10)
        target.shutdown()
