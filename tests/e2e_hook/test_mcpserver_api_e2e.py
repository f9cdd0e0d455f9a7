"""The MCPServer API for real servers (issue 9) end to end: the apiserver (schema + CEL), the hook
under gunicorn and Metacontroller, with kwok pods scheduled by the real kube-scheduler.

- a third-party-style HTTP server (its own image and command, an MCP path, envFrom, a Secret
  mounted as a file, pull secret, scheduling, pod labels, stateful sessions) renders as asked,
  spreads over the nodes, becomes Ready with its endpoint and a ClientIP Service;
- a stdio package server becomes a bridged Deployment behind a Service with its session-key
  Secret, which keeps its value across resyncs and spec edits;
- an edit the API refuses changes nothing;
- a server started by its `command`, configured through `envFrom` and a Secret mounted as a file,
  runs (pod runner) and answers an MCP client through `kubectl port-forward svc/...` only with the
  token from that file.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import secrets
import subprocess
import urllib.error
import urllib.request

import pytest

from mcp_operator_hook import constants as C
from tests.e2e_hook.helpers import condition, is_ready, kget, wait_for
from tests.kube import free_port, stop_process
from tests.kube.podrunner import run_pod

pytestmark = pytest.mark.cluster
READY_TIMEOUT = 90


def apply_in(cp, ns: str, obj: dict, check: bool = True):
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = ns
    return cp.kubectl("apply", "-f", "-", input=json.dumps(obj), check=check)


def mcps(name: str, **spec) -> dict:
    return {"apiVersion": C.API_VERSION, "kind": C.KIND, "metadata": {"name": name}, "spec": spec}


def controlled_by(obj: dict, parent: dict) -> bool:
    uid = parent["metadata"]["uid"]
    return any(r.get("uid") == uid and r.get("controller") for r in obj["metadata"].get("ownerReferences") or [])


THIRD_PARTY = dict(
    image="ghcr.io/acme/tools-mcp:2.1",
    command=["node", "dist/http.js"], args=["--port", "9000"], port=9000, mcpPath="/api/mcp", replicas=3,
    envFrom=[{"secretRef": {"name": "tools-token"}}, {"configMapRef": {"name": "tools-settings"}, "prefix": "APP_"}],
    volumes=[{"name": "gcp", "mountPath": "/var/run/secrets/gcp",
              "secret": {"secretName": "tools-gcp", "items": [{"key": "key.json", "path": "credentials.json"}]}}],
    imagePullSecrets=[{"name": "registry-credentials"}],
    nodeSelector={"kubernetes.io/os": "linux"},
    tolerations=[{"key": "dedicated", "operator": "Equal", "value": "ai-tools", "effect": "NoSchedule"}],
    affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
    topologySpreadConstraints=[{"maxSkew": 1, "topologyKey": "kubernetes.io/hostname",
                                "whenUnsatisfiable": "DoNotSchedule"}],
    podMetadata={"labels": {"team": "ai-platform"}, "annotations": {"example.org/owner": "tools"}},
    sessions="stateful",
)


def test_third_party_http_server_renders_and_becomes_ready(control_plane, namespace, metacontroller):
    cp, ns = control_plane, namespace
    cp.kubectl("create", "secret", "generic", "tools-token", "-n", ns, "--from-literal=TOKEN=t0k")
    cp.kubectl("create", "secret", "generic", "tools-gcp", "-n", ns, "--from-literal=key.json={}")
    cp.kubectl("create", "configmap", "tools-settings", "-n", ns, "--from-literal=MODE=fast")
    apply_in(cp, ns, mcps("tools", **THIRD_PARTY))
    parent = kget(cp, "mcpserver", "tools", "-n", ns)

    dep = wait_for(lambda: kget(cp, "deployment", "tools", "-n", ns), what="Deployment")
    assert controlled_by(dep, parent)
    pod = dep["spec"]["template"]
    (ctr,) = [c for c in pod["spec"]["containers"] if c["name"] == C.CONTAINER_NAME]  # + the mcp-prober sidecar
    assert ctr["image"] == THIRD_PARTY["image"]
    assert ctr["command"] == THIRD_PARTY["command"] and ctr["args"] == THIRD_PARTY["args"]
    assert ctr["envFrom"] == THIRD_PARTY["envFrom"]
    assert {"name": "gcp", "mountPath": "/var/run/secrets/gcp", "readOnly": True} in ctr["volumeMounts"]
    gcp = next(v for v in pod["spec"]["volumes"] if v["name"] == "gcp")
    assert gcp["secret"]["secretName"] == "tools-gcp" and gcp["secret"]["items"][0]["path"] == "credentials.json"
    # a third-party image has no /health: TCP probes on the MCP port
    assert ctr["livenessProbe"]["tcpSocket"]["port"] == C.PORT_NAME
    assert ctr["readinessProbe"]["tcpSocket"]["port"] == C.PORT_NAME
    for field in ("imagePullSecrets", "nodeSelector", "tolerations", "affinity"):
        assert pod["spec"][field] == THIRD_PARTY[field], field
    (spread,) = pod["spec"]["topologySpreadConstraints"]
    assert spread["labelSelector"] == {"matchLabels": {C.LABEL_NAME: C.APP_NAME, C.LABEL_INSTANCE: "tools"}}
    assert pod["metadata"]["labels"]["team"] == "ai-platform"
    assert pod["metadata"]["annotations"]["example.org/owner"] == "tools"

    svc = wait_for(lambda: kget(cp, "service", "tools", "-n", ns), what="Service")
    assert svc["spec"]["sessionAffinity"] == "ClientIP"
    assert svc["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == C.SESSION_AFFINITY_TIMEOUT_SECONDS

    ready = wait_for(lambda: is_ready(cp, ns, "tools"), timeout=READY_TIMEOUT, what="MCPServer Ready")
    st = ready["status"]
    assert st["endpoint"] == f"http://tools.{ns}.svc.cluster.local:9000/api/mcp"
    assert st["readyReplicas"] == 3
    routing = condition(st, C.COND_SESSION_ROUTING)
    assert (routing["status"], routing["reason"]) == ("True", C.R_CLIENT_IP_AFFINITY), routing
    # the scheduler honoured the spread: one pod per node (3 kwok nodes, maxSkew 1)
    pods = kget(cp, "pods", "-n", ns, "-l", f"{C.LABEL_INSTANCE}=tools")["items"]
    assert len({p["spec"]["nodeName"] for p in pods}) == 3


def test_stdio_package_is_bridged_with_a_stable_session_key(control_plane, namespace, metacontroller):
    cp, ns = control_plane, namespace
    pkg = {"registry": "pypi", "name": "mcp-server-time", "version": "2026.10.19"}
    apply_in(cp, ns, mcps("time", transport="stdio", replicas=2, package=pkg))
    parent = kget(cp, "mcpserver", "time", "-n", ns)

    dep = wait_for(lambda: kget(cp, "deployment", "time", "-n", ns), what="Deployment")
    (ctr,) = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == C.CONTAINER_NAME]
    assert ctr["image"] == C.BRIDGE_IMAGE
    assert ctr["command"][0] == C.BRIDGE_BINARY and ctr["command"][-3:] == ["--", "uvx", "mcp-server-time==2026.10.19"]
    assert "stdin" not in ctr and ctr["readinessProbe"]["httpGet"]["path"] == C.BRIDGE_READINESS_PATH
    secret = wait_for(lambda: kget(cp, "secret", "time-bridge", "-n", ns), what="bridge Secret")
    assert controlled_by(secret, parent)
    key = secret["data"][C.BRIDGE_SECRET_KEY]
    assert len(base64.b64decode(key)) >= 32

    ready = wait_for(lambda: is_ready(cp, ns, "time"), timeout=READY_TIMEOUT, what="MCPServer Ready")
    assert ready["status"]["endpoint"] == f"http://time.{ns}.svc.cluster.local:8080/mcp"
    assert kget(cp, "service", "time", "-n", ns)["spec"].get("sessionAffinity") in (None, "None")
    assert condition(ready["status"], C.COND_SESSION_ROUTING)["reason"] == C.R_BRIDGE_SESSION_ROUTING
    assert key not in json.dumps(ready["status"])

    # a spec edit rolls the Deployment but keeps the key every replica signs sessions with
    cp.kubectl("patch", "mcps", "time", "-n", ns, "--type=merge", "-p",
               json.dumps({"spec": {"stdio": {"maxSessionsPerPod": 7}}}))
    wait_for(lambda: "7" in kget(cp, "deployment", "time", "-n", ns)["spec"]["template"]["spec"]["containers"][0]
             ["command"], what="Deployment updated")
    wait_for(lambda: is_ready(cp, ns, "time"), timeout=READY_TIMEOUT, what="Ready after the edit")
    assert kget(cp, "secret", "time-bridge", "-n", ns)["data"][C.BRIDGE_SECRET_KEY] == key


def test_refused_edit_changes_nothing(control_plane, namespace, metacontroller):
    cp, ns = control_plane, namespace
    pkg = {"registry": "npm", "name": "@modelcontextprotocol/server-everything", "version": "2026.8.31",
           "args": ["stdio"]}
    apply_in(cp, ns, mcps("every", transport="stdio", package=pkg))
    wait_for(lambda: is_ready(cp, ns, "every"), timeout=READY_TIMEOUT, what="Ready")
    before = kget(cp, "deployment", "every", "-n", ns)["metadata"]["generation"]
    r = apply_in(cp, ns, mcps("every", transport="stdio", package={**pkg, "version": "latest"}), check=False)
    assert r.returncode != 0 and "one exact version" in r.stderr
    r = apply_in(cp, ns, mcps("every", transport="stdio", package=pkg, sessions="stateful"), check=False)
    assert r.returncode != 0 and "spec.sessions applies to the HTTP transports" in r.stderr
    assert kget(cp, "deployment", "every", "-n", ns)["metadata"]["generation"] == before


@contextlib.contextmanager
def port_forward(cp, ns: str, target: str, remote_port: int):
    local = free_port()
    proc = subprocess.Popen([str(cp.bins / "kubectl"), "--kubeconfig", cp.kubeconfig, "port-forward", "-n", ns,
                             target, f"{local}:{remote_port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: proc.poll() is None and _status(f"http://127.0.0.1:{local}/health") == 200, timeout=30,
                 what=f"kubectl port-forward {target}")
        yield local
    finally:
        stop_process(proc, grace=5)


def _status(url: str, data: bytes | None = None, headers: dict | None = None) -> int | None:
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return None


def test_env_from_and_a_secret_file_reach_the_running_server(control_plane, namespace, metacontroller):
    import anyio
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    cp, ns = control_plane, namespace
    token = secrets.token_hex(16)
    cp.kubectl("create", "secret", "generic", "srv-auth", "-n", ns, f"--from-literal=bearer={token}")
    cp.kubectl("create", "configmap", "srv-settings", "-n", ns,
               "--from-literal=MCP_AUTH_TOKEN_FILE=/var/run/mcp-auth/token", "--from-literal=LOG_LEVEL=info")
    apply_in(cp, ns, mcps("authd", image="mcp-k8s-server:latest", command=["mcp-k8s-server"], port=3001,
                          envFrom=[{"configMapRef": {"name": "srv-settings"}}],
                          volumes=[{"name": "auth", "mountPath": "/var/run/mcp-auth", "secret": {
                              "secretName": "srv-auth", "items": [{"key": "bearer", "path": "token"}]}}]))
    wait_for(lambda: is_ready(cp, ns, "authd"), timeout=READY_TIMEOUT, what="MCPServer Ready")
    (pod,) = kget(cp, "pods", "-n", ns, "-l", f"{C.LABEL_INSTANCE}=authd")["items"]
    running = run_pod(cp, ns, pod["metadata"]["name"])
    try:
        wait_for(lambda: running.proc.poll() is None and _status(f"http://127.0.0.1:{running.local_port}/health") == 200,
                 timeout=30, what=f"the server process (log: {running.log})")
        assert running.extra["env"]["LOG_LEVEL"] == "info"  # from envFrom
        with port_forward(cp, ns, "svc/authd", 3001) as local:
            url = f"http://127.0.0.1:{local}/mcp"
            body = json.dumps({"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 1}).encode()
            hdrs = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
            assert _status(url, body, hdrs) == 401  # the token file is in force
            assert _status(url, body, {**hdrs, "Authorization": "Bearer wrong"}) == 401

            async def tools():
                async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http:
                    async with Client(streamable_http_client(url, http_client=http)) as client:
                        return [t.name for t in (await client.list_tools()).tools]

            names = anyio.run(tools)
            assert "list-pods" in names
        assert token not in running.log.read_text()
    finally:
        running.stop()
