"""The bundled Metacontroller's ClusterRole (as the chart renders it) lets Metacontroller create
the mcp-prober's Role and RoleBinding: Kubernetes refuses a Role that grants what its creator
does not hold (the RBAC escalation check), so the proof is a create *as* that identity on the
real apiserver. Without the events permission the same create is refused (the test can fail)."""

from __future__ import annotations

import copy
import json

import pytest

from mcp_operator_hook import prober
from mcp_operator_hook.sync import sync
from tests.chart.chartlib import one, render

pytestmark = pytest.mark.cluster


def _prober_rbac(namespace: str) -> list[dict]:
    parent = {"apiVersion": "mcp.example.com/v1alpha1", "kind": "MCPServer",
              "metadata": {"name": "srv", "namespace": namespace, "uid": "u1", "generation": 1},
              "spec": {"image": "mcp-k8s-server:latest"}}
    kids = sync({"parent": parent, "children": {}})["children"]
    return [k for k in kids if k["kind"] in ("Role", "RoleBinding")]


def _as_sa(cp, namespace: str, cluster_role: dict, name: str) -> str:
    """Installs ``cluster_role`` bound to a fresh ServiceAccount; returns the --as identity."""
    role = copy.deepcopy(cluster_role)
    role["metadata"] = {"name": name}
    cp.kubectl("apply", "-f", "-", input=json.dumps(role))
    cp.kubectl("create", "serviceaccount", name, "-n", namespace)
    cp.kubectl("create", "clusterrolebinding", name, f"--clusterrole={name}", f"--serviceaccount={namespace}:{name}")
    return f"--as=system:serviceaccount:{namespace}:{name}"


def test_bundled_metacontroller_can_create_the_probers_role(control_plane, namespace):
    cp = control_plane
    docs = render(sets=("metacontroller.bundled.enabled=true",))
    (cr,) = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["labels"].get(
        "app.kubernetes.io/component") == "metacontroller"]
    tag = namespace
    try:
        ok = _as_sa(cp, namespace, cr, f"{tag}-mc")
        for obj in _prober_rbac(namespace):
            r = cp.kubectl("create", ok, "-f", "-", input=json.dumps(obj), check=False)
            assert r.returncode == 0, r.stderr
        got = json.loads(cp.kubectl("get", "role", prober.role_name("srv"), "-n", namespace, "-o", "json").stdout)
        assert got["rules"][0]["resourceNames"] == [prober.inventory_name("srv")]

        # the same role minus events: the escalation check refuses the prober's Role
        weaker = copy.deepcopy(cr)
        weaker["rules"] = [r for r in weaker["rules"] if "events" not in r.get("resources", [])]
        refused = _as_sa(cp, namespace, weaker, f"{tag}-weak")
        role = copy.deepcopy(_prober_rbac(namespace)[0])
        role["metadata"]["name"] = "srv2-prober"
        r = cp.kubectl("create", refused, "-f", "-", input=json.dumps(role), check=False)
        assert r.returncode != 0 and "attempting to grant RBAC permissions not currently held" in r.stderr, r.stderr
    finally:
        for n in (f"{tag}-mc", f"{tag}-weak"):
            cp.kubectl("delete", "clusterrole,clusterrolebinding", n, "--ignore-not-found", check=False)
