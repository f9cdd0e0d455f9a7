"""helm install / test / upgrade / uninstall --wait of the chart on the local control plane.

kwok makes the hook pods Running and Ready (no container runs: nothing serves HTTP inside them),
and completes the `helm test` Job's pod. Metacontroller is represented by its CRDs only.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
import yaml

from tests.chart.chartlib import CHART, CI_VALUES, REPO, tool
from tests.kube import wait_for

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(tool("helm") is None, reason="helm not built (scripts/build-tools.sh helm)"),
]

CC_CRD = "compositecontrollers.metacontroller.k8s.io"
NAMESPACED_KINDS = "deployments,replicasets,pods,services,serviceaccounts,poddisruptionbudgets,rolebindings,networkpolicies,jobs,configmaps,mcpservers.mcp.example.com"
CLUSTER_KINDS = "clusterroles,clusterrolebindings,compositecontrollers.metacontroller.k8s.io"


def run_helm(env, *args, check=True, timeout=300):
    r = subprocess.run([tool("helm"), *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r


def kget(cp, *args) -> dict:
    return json.loads(cp.kubectl("get", *args, "-o", "json").stdout)


def can_i(cp, user: str, verb: str, resource: str, namespace: str | None = None, subresource: str | None = None) -> bool:
    args = ["auth", "can-i", verb, resource, "--as", user]
    if namespace:
        args += ["-n", namespace]
    if subresource:
        args += ["--subresource", subresource]
    r = cp.kubectl(*args, check=False)
    answer = r.stdout.strip()
    assert answer in ("yes", "no"), r.stdout + r.stderr
    return answer == "yes"


def leftovers(cp, namespace: str, release: str) -> list[str]:
    sel = f"app.kubernetes.io/instance={release}"
    out = []
    r = cp.kubectl("get", NAMESPACED_KINDS, "-n", namespace, "-l", sel, "-o", "name", check=False)
    out += [line for line in r.stdout.split() if line]
    r = cp.kubectl("get", CLUSTER_KINDS, "-l", sel, "-o", "name", check=False)
    out += [line for line in r.stdout.split() if line]
    return out




# --- prerequisite check against a real API server -------------------------------------------------
def test_install_refused_while_metacontroller_api_missing(chart_cluster, namespace, helm_env):
    if chart_cluster.kubectl("get", "crd", CC_CRD, check=False).returncode == 0:
        pytest.skip("the CompositeController CRD is already installed in this session's cluster")
    # Metacontroller's CRDs ship in the chart's crds/, so only an install that skips them lacks the API.
    r = run_helm(helm_env, "install", "pre", str(CHART), "-n", namespace, "--wait", "--timeout", "60s",
                 "--skip-crds", check=False)
    assert r.returncode != 0
    assert "Metacontroller is not installed" in r.stderr and "metacontroller.bundled.enabled=true" in r.stderr
    assert run_helm(helm_env, "status", "pre", "-n", namespace, check=False).returncode != 0, "no release may be left"


# --- the full lifecycle ---------------------------------------------------------------------------
def test_install_test_upgrade_uninstall(metacontroller_crds, namespace, helm_env):
    cp = metacontroller_crds
    release = f"mcp-{uuid.uuid4().hex[:6]}"
    full = f"{release}-mcp-operator"
    sa_user = f"system:serviceaccount:{namespace}:{full}-mcp-server"

    # install ---------------------------------------------------------------------------------------
    r = run_helm(helm_env, "install", release, str(CHART), "-n", namespace, "--wait", "--timeout", "180s")
    notes = r.stdout
    assert "kubectl port-forward" in notes and "@modelcontextprotocol/inspector" in notes
    assert "helm show crds" in notes

    dep = kget(cp, "deployment", full, "-n", namespace)
    assert dep["status"].get("readyReplicas") == 2
    pods = kget(cp, "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={release},app.kubernetes.io/component=hook")
    assert len(pods["items"]) == 2
    for pod in pods["items"]:
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
        assert ready.get("Ready") == "True"
        assert pod["spec"]["automountServiceAccountToken"] is False
        assert not [v for v in pod["spec"].get("volumes", []) if v["name"].startswith("kube-api-access")]
    kget(cp, "service", full, "-n", namespace)
    kget(cp, "pdb", full, "-n", namespace)
    cc = kget(cp, "compositecontroller", full)
    assert cc["spec"]["hooks"]["sync"]["webhook"]["service"]["namespace"] == namespace
    assert cc["spec"]["hooks"]["sync"]["webhook"]["path"] == "/sync"
    crd = kget(cp, "crd", "mcpservers.mcp.example.com")
    assert any(c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"])

    # MCPServers are usable: the CRD from the chart accepts the seed's basic sample
    sample_path = REPO / "examples" / "basic-mcpserver.yaml"
    sample = None
    if sample_path.exists():
        sample = yaml.safe_load(sample_path.read_text())
        sample["metadata"].pop("namespace", None)
        sample = yaml.safe_dump(sample)
        cp.kubectl("apply", "-n", namespace, "-f", "-", input=sample)
        assert cp.kubectl("get", "mcps", "-n", namespace, "-o", "name").stdout.strip()

    # aggregated roles: a user bound to the built-in edit/view roles gets MCPServer rights
    cp.kubectl("create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", namespace)
    cp.kubectl("create", "rolebinding", "bob-view", "--clusterrole=view", "--user=bob", "-n", namespace)
    wait_for(lambda: can_i(cp, "alice", "create", "mcpservers.mcp.example.com", namespace), what="edit aggregation")
    assert can_i(cp, "alice", "delete", "mcpservers.mcp.example.com", namespace)
    assert can_i(cp, "alice", "update", "mcpservers.mcp.example.com", namespace, subresource="scale")
    wait_for(lambda: can_i(cp, "bob", "list", "mcpservers.mcp.example.com", namespace), what="view aggregation")
    assert not can_i(cp, "bob", "create", "mcpservers.mcp.example.com", namespace)
    assert not can_i(cp, "alice", "create", "mcpservers.mcp.example.com", "default"), "bound in one namespace only"

    # MCP server ServiceAccount: exactly what the tools need, read-only by default
    for verb, res, sub in [("list", "pods", None), ("watch", "pods", None), ("get", "pods", "log"),
                           ("list", "events", None), ("list", "events.events.k8s.io", None)]:
        assert can_i(cp, sa_user, verb, res, namespace, sub), (verb, res, sub)
    assert can_i(cp, sa_user, "list", "nodes")
    for verb, res in [("create", "pods"), ("delete", "pods"), ("get", "secrets"), ("list", "configmaps"),
                      ("list", "deployments.apps"), ("create", "mcpservers.mcp.example.com"), ("create", "pods/exec")]:
        assert not can_i(cp, sa_user, verb, res, namespace), (verb, res)
    assert not can_i(cp, sa_user, "list", "pods", "default"), "namespaced mode must not reach other namespaces"
    assert not can_i(cp, sa_user, "delete", "nodes")

    # helm test: a Job whose pod kwok completes (no container actually runs here)
    r = run_helm(helm_env, "test", release, "-n", namespace, "--timeout", "120s")
    assert "Succeeded" in r.stdout

    # upgrade: more replicas, write mode, NetworkPolicy --------------------------------------------
    run_helm(helm_env, "upgrade", release, str(CHART), "-n", namespace, "--wait", "--timeout", "180s",
             "--reuse-values", "--set", "hook.replicaCount=3", "--set", "mcpServerRbac.readOnly=false",
             "--set", "hook.networkPolicy.enabled=true")
    dep = kget(cp, "deployment", full, "-n", namespace)
    assert dep["spec"]["replicas"] == 3 and dep["status"].get("readyReplicas") == 3
    kget(cp, "networkpolicy", full, "-n", namespace)
    assert wait_for(lambda: can_i(cp, sa_user, "create", "pods", namespace), what="write-mode RBAC")
    assert can_i(cp, sa_user, "delete", "pods", namespace)
    assert not can_i(cp, sa_user, "get", "secrets", namespace)
    status = json.loads(run_helm(helm_env, "status", release, "-n", namespace, "-o", "json").stdout)
    assert status["version"] == 2 and status["info"]["status"] == "deployed"

    # uninstall --wait: nothing of the release is left; the CRD stays (Helm never deletes CRDs) ----
    if sample:
        cp.kubectl("delete", "-n", namespace, "-f", "-", "--wait=true", input=sample)
    run_helm(helm_env, "uninstall", release, "-n", namespace, "--wait", "--timeout", "120s")
    assert wait_for(lambda: leftovers(cp, namespace, release) == [] or None, timeout=60, what="no orphans") is True
    assert cp.kubectl("get", "compositecontroller", full, check=False).returncode != 0
    kget(cp, "crd", "mcpservers.mcp.example.com")


# --- chart-testing's own install flow ---------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.skipif(tool("ct") is None, reason="ct not built")
def test_ct_install(metacontroller_crds, helm_env):
    """`ct install`: per ci/*-values.yaml, helm install --wait into a fresh namespace, helm test,
    uninstall and namespace removal."""
    r = subprocess.run([tool("ct"), "install", "--config", "ct.yaml", "--charts", "charts/mcp-operator"],
                       capture_output=True, text=True, env=helm_env, cwd=REPO, timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-6000:]
    assert "All charts installed successfully" in out
    for f in CI_VALUES:
        assert f.name in out
    # ct removes its namespaces and releases
    r = subprocess.run([tool("helm"), "list", "-A", "-o", "json"], capture_output=True, text=True, env=helm_env)
    assert not [x for x in json.loads(r.stdout or "[]") if x["chart"].startswith("mcp-operator")]
