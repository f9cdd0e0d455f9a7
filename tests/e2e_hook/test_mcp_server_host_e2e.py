"""Issue 11, field report 3, end to end: an MCPServer `tools-a` whose user set
MCP_SERVER_NAME=k8s-tools answers on the Host of its own `status.endpoint` (the operator names the
Service in MCP_SERVICE_NAME), and refuses a Host derived from the display name.

The apiserver, the hook under gunicorn and Metacontroller render the Deployment; the pod runner
runs its container (mcp-k8s-server) locally with the pod's env (downward API included)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from mcp_operator_hook import constants as C
from tests.e2e_hook.helpers import is_ready, kget, wait_for
from tests.kube.podrunner import run_pod

pytestmark = pytest.mark.cluster


def post(url: str, host: str) -> int:
    body = json.dumps({"jsonrpc": "2.0", "method": "tools/list", "id": 1}).encode()
    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Host": host, "Content-Type": "application/json", "Accept": "application/json",
        "MCP-Protocol-Version": "2025-11-25"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_server_answers_on_its_status_endpoint_host(control_plane, namespace, metacontroller):
    cp, ns = control_plane, namespace
    obj = {"apiVersion": C.API_VERSION, "kind": C.KIND, "metadata": {"name": "tools-a", "namespace": ns},
           "spec": {"image": "mcp-k8s-server:latest", "command": ["mcp-k8s-server"], "port": 3001,
                    "env": [{"name": "MCP_SERVER_NAME", "value": "k8s-tools"}]}}
    cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
    wait_for(lambda: is_ready(cp, ns, "tools-a"), timeout=90, what="MCPServer Ready")
    endpoint = kget(cp, "mcpservers", "tools-a", "-n", ns)["status"]["endpoint"]
    host = urllib.parse.urlsplit(endpoint).netloc
    assert host == f"tools-a.{ns}.svc.cluster.local:3001"
    (pod,) = kget(cp, "pods", "-n", ns, "-l", f"{C.LABEL_INSTANCE}=tools-a")["items"]
    running = run_pod(cp, ns, pod["metadata"]["name"])
    try:
        local = f"http://127.0.0.1:{running.local_port}/mcp"
        wait_for(lambda: running.proc.poll() is None and post(local, "127.0.0.1") == 200, timeout=60,
                 what=f"the server process (log: {running.log})")
        assert running.extra["env"]["MCP_SERVER_NAME"] == "k8s-tools"
        assert post(local, host) == 200  # the Host a client of status.endpoint sends
        assert post(local, f"tools-a.{ns}") == 200
        assert post(local, f"k8s-tools.{ns}.svc.cluster.local:3001") == 421
    finally:
        running.stop()
