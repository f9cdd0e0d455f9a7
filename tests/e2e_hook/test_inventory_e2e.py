"""The tool inventory and MCP-level readiness end to end, with the real Metacontroller: the pod
runner runs each pod's server and its mcp-prober sidecar; what the prober learns reaches the
MCPServer's status only through the inventory ConfigMap Metacontroller passes to the hook.

- tools in status and in `kubectl get mcps` (TOOLS column); a new server version that adds tools
  (read-only mode off) shows up in status, in the ToolsChanged condition and as an Event;
- a pod that serves HTTP but not MCP gets a Ready message that says what answered instead.
Run under both apply strategies (`pytest --apply-strategy=server-side-apply`): the prober's
data survives Metacontroller's apply of the data-less ConfigMap either way.
"""

from __future__ import annotations

import copy
import json
import time

import httpx2
import pytest

from mcp_operator_hook import constants as C
from mcp_operator_hook import inventory as hinv
from tests.e2e_hook.helpers import condition, kget, mcp_status, wait_for
from tests.kube.podrunner import run_pod

pytestmark = pytest.mark.cluster
TIMEOUT = 90
WRITE_TOOLS = ["create-pod", "delete-pod"]  # what MCP_READ_ONLY=true removes from mcp-k8s-server


def apply(cp, ns: str, name: str, **spec):
    obj = {"apiVersion": C.API_VERSION, "kind": C.KIND, "metadata": {"name": name, "namespace": ns}, "spec": spec}
    cp.kubectl("apply", "-f", "-", input=json.dumps(obj))


def live_pod(cp, ns: str, name: str, exclude=()):
    """The one running, not deleting, pod of the server (other than ``exclude``)."""
    pods = [p for p in kget(cp, "pods", "-n", ns, "-l", f"{C.LABEL_INSTANCE}={name}")["items"]
            if not p["metadata"].get("deletionTimestamp") and p["metadata"]["name"] not in exclude
            and p.get("status", {}).get("phase") == "Running"]
    return pods[0] if len(pods) == 1 else None


def prober_ready(running) -> bool:
    try:
        return httpx2.get(running.extra["prober_url"] + "/readyz", timeout=3).status_code == 200
    except httpx2.HTTPError:
        return False


def test_tools_reach_status_and_a_new_version_shows_up(control_plane, namespace, metacontroller):
    cp, ns = control_plane, namespace
    spec = dict(image="mcp-k8s-server:latest", port=3001, env=[{"name": "MCP_READ_ONLY", "value": "true"}])
    apply(cp, ns, "inv", **spec)
    pod = wait_for(lambda: live_pod(cp, ns, "inv"), TIMEOUT, what="the server's pod")
    assert [c["name"] for c in pod["spec"]["containers"]] == [C.CONTAINER_NAME, "mcp-prober"]
    running = [run_pod(cp, ns, pod["metadata"]["name"])]
    try:
        wait_for(lambda: prober_ready(running[0]), 60, what=f"the prober's /readyz (log: {running[0].root})")
        st = wait_for(lambda: (lambda s: s if (s.get("server") or {}).get("toolCount") else None)(mcp_status(cp, ns, "inv")),
                      TIMEOUT, what="status.server")
        server = st["server"]
        assert server["name"] == "inv" and server["protocolVersion"]  # MCP_SERVER_NAME, set by the hook
        assert "tools" in server["capabilities"] and not set(WRITE_TOOLS) & set(server["tools"])
        assert server["toolCount"] == len(server["tools"]) and server["toolsHash"].startswith("sha256:")
        assert condition(st, C.COND_TOOLS_CHANGED)["reason"] == hinv.R_TOOLS_UNCHANGED
        header, row = cp.kubectl("get", "mcps", "inv", "-n", ns).stdout.splitlines()
        assert header.split()[5] == "TOOLS" and row.split()[5] == str(server["toolCount"])
        first = server

        # a new version: read-only mode off adds the write tools (a rollout, a new pod)
        spec2 = copy.deepcopy(spec)
        spec2["env"][0]["value"] = "false"
        apply(cp, ns, "inv", **spec2)
        old = pod["metadata"]["name"]
        pod2 = wait_for(lambda: live_pod(cp, ns, "inv", exclude=(old,)), TIMEOUT, what="the new pod")
        running.append(run_pod(cp, ns, pod2["metadata"]["name"]))
        running.pop(0).stop()
        st = wait_for(lambda: (lambda s: s if (s.get("server") or {}).get("toolsAdded") else None)(mcp_status(cp, ns, "inv")),
                      TIMEOUT, what="the tool change in status")
        server = st["server"]
        assert server["toolsAdded"] == WRITE_TOOLS and server["toolCount"] == first["toolCount"] + 2
        assert server["previousToolsHash"] == first["toolsHash"] != server["toolsHash"]
        c = condition(st, C.COND_TOOLS_CHANGED)
        assert (c["status"], c["reason"]) == ("True", hinv.R_TOOLS_CHANGED)
        assert "added create-pod, delete-pod" in c["message"]
        parent = kget(cp, "mcpserver", "inv", "-n", ns)
        events = wait_for(lambda: [e for e in kget(cp, "events", "-n", ns, "--field-selector", "reason=ToolsChanged")["items"]
                                   if e["involvedObject"].get("uid") == parent["metadata"]["uid"]], 30, what="the Event")
        assert "added create-pod, delete-pod" in events[0]["message"]
        assert "ToolsChanged" in cp.kubectl("describe", "mcps", "inv", "-n", ns).stdout
        # converged: no status writes while nothing changes
        rv = parent["metadata"]["resourceVersion"]
        time.sleep(4)
        assert kget(cp, "mcpserver", "inv", "-n", ns)["metadata"]["resourceVersion"] == rv
        cm = kget(cp, "configmap", "inv-inventory", "-n", ns)
        assert any(r.get("uid") == parent["metadata"]["uid"] and r.get("controller")
                   for r in cm["metadata"]["ownerReferences"])
    finally:
        for r in running:
            r.stop()


def test_a_pod_that_serves_http_but_not_mcp_says_what_answered(control_plane, namespace, metacontroller):
    cp, ns = control_plane, namespace
    # our image, but the command is a plain web server on the MCP port: HTTP, not MCP
    apply(cp, ns, "web", image="mcp-k8s-server:latest", port=3001,
          command=["sh", "-c", "exec python3 -m http.server $MCP_PORT --bind 127.0.0.1"])
    pod = wait_for(lambda: live_pod(cp, ns, "web"), TIMEOUT, what="the pod")
    running = run_pod(cp, ns, pod["metadata"]["name"])
    try:
        st = wait_for(lambda: (lambda s: s if condition(s, C.COND_READY).get("reason") == hinv.R_MCP_HANDSHAKE_FAILED
                               else None)(mcp_status(cp, ns, "web")), TIMEOUT, what="Ready=MCPHandshakeFailed")
        msg = condition(st, C.COND_READY)["message"]
        assert msg.startswith(f"MCP handshake with the server in pod {pod['metadata']['name']} (port 3001, path /mcp)")
        assert "POST /mcp answered HTTP 501 (text/html), not an MCP endpoint" in msg, msg
        assert st["phase"] == C.PHASE_PENDING and "server" not in st
        assert httpx2.get(running.extra["prober_url"] + "/readyz", timeout=3).status_code == 503
    finally:
        running.stop()
