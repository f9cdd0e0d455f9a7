"""Restricted Pod Security, proven by the real API server's PodSecurity admission.

A namespace labelled `pod-security.kubernetes.io/enforce=restricted` must admit every pod this
project creates: the chart's (hook, bundled Metacontroller in HA, the `helm test` Job's pod) and
the pods of every example MCPServer (the Deployment the hook renders for it, its pods created by
the ReplicaSet controller). A refused pod never exists: the chart's `--wait` times out, and an
MCPServer's ReplicaSet records FailedCreate with the violated rules.
"""

from __future__ import annotations

import json
import uuid

import pytest
import yaml

from mcp_operator_hook.sync import sync
from tests.chart.chartlib import CHART, REPO, tool
from tests.chart.test_chart_cluster import kget, run_helm
from tests.kube import wait_for

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(tool("helm") is None, reason="helm not built (scripts/build-tools.sh helm)"),
]

RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted",
              "pod-security.kubernetes.io/enforce-version": "latest"}


@pytest.fixture
def restricted_namespace(control_plane):
    name = f"psa-{uuid.uuid4().hex[:8]}"
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": RESTRICTED}}))
    yield name
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_namespace_really_enforces_restricted(control_plane, restricted_namespace):
    """The control: a pod that runs as root with no seccomp profile is refused there."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root", "namespace": restricted_namespace},
           "spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}
    r = control_plane.kubectl("create", "-f", "-", input=json.dumps(pod), check=False)
    assert r.returncode != 0 and "violates PodSecurity" in r.stderr and "restricted" in r.stderr, r.stderr


def test_chart_pods_are_admitted(metacontroller_crds, restricted_namespace, helm_env):
    cp, ns = metacontroller_crds, restricted_namespace
    release = f"psa-{uuid.uuid4().hex[:6]}"
    try:
        run_helm(helm_env, "install", release, str(CHART), "-n", ns, "--wait", "--timeout", "120s",
                 "--set", "metacontroller.bundled.enabled=true",
                 "--set", "metacontroller.bundled.highAvailability=true",
                 "--set", "hook.networkPolicy.enabled=true")
        pods = kget(cp, "pods", "-n", ns, "-l", f"app.kubernetes.io/instance={release}")["items"]
        components = sorted(p["metadata"]["labels"]["app.kubernetes.io/component"] for p in pods)
        assert components == ["hook", "hook", "metacontroller", "metacontroller"], components
        run_helm(helm_env, "test", release, "-n", ns, "--timeout", "120s")  # its Job's pod, admitted too
        assert not _refusals(cp, ns)
    finally:
        run_helm(helm_env, "uninstall", release, "-n", ns, "--wait", "--timeout", "120s", check=False)


def example_servers() -> list[tuple[str, dict]]:
    out = []
    for path in sorted((REPO / "examples").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "MCPServer":
                out.append((str(path.relative_to(REPO / "examples")), doc))
    return out


EXAMPLES = example_servers()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_example_mcpserver_pods_are_admitted(control_plane, restricted_namespace, example):
    cp, ns = control_plane, restricted_namespace
    _, parent = example
    parent = json.loads(json.dumps(parent))
    parent["metadata"].update({"namespace": ns, "uid": str(uuid.uuid4()), "generation": 1})
    children = sync({"controller": {"metadata": {"name": "mcp-operator"}}, "parent": parent, "children": {},
                     "related": {}})["children"]
    deployments = [c for c in children if c["kind"] == "Deployment"]
    assert deployments
    if parent["spec"].get("serviceAccount"):  # pods are only created once their ServiceAccount exists
        cp.kubectl("create", "serviceaccount", parent["spec"]["serviceAccount"], "-n", ns)
    for dep in deployments:
        dep["metadata"]["namespace"] = ns
        cp.kubectl("apply", "-f", "-", input=json.dumps(dep))
        replicas = dep["spec"].get("replicas", 1) or 1
        sel = ",".join(f"{k}={v}" for k, v in dep["spec"]["selector"]["matchLabels"].items())

        def created():
            refused = _refusals(cp, ns, any_reason=True)
            assert not refused, refused
            return len(kget(cp, "pods", "-n", ns, "-l", sel)["items"]) >= replicas

        wait_for(created, timeout=90, interval=0.5, what=f"{replicas} pods of {dep['metadata']['name']} admitted")


def _refusals(cp, ns: str, any_reason: bool = False) -> list[str]:
    return [e["message"] for e in kget(cp, "events", "-n", ns)["items"]
            if e.get("reason") == "FailedCreate" and (any_reason or "PodSecurity" in e.get("message", ""))]
