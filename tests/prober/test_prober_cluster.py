"""The prober's Kubernetes side on the real control plane: the Role the hook renders lets the
pod's ServiceAccount write exactly its inventory ConfigMap and create Events, nothing else; the
data it writes survives both ways the ConfigMap may be applied again (3-way merge with a
last-applied annotation, server-side apply with force), and a tool change makes an Event on the
MCPServer."""

from __future__ import annotations

import json

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from mcp_operator_hook import prober as hp
from mcp_operator_hook.sync import sync
from mcp_prober import inventory as inv
from mcp_prober.app import Reporter
from mcp_prober.kube import InventoryStore
from tests.e2e_hook.procs import apply_mcp_crd

NAME = "srv"


def tool(name, desc="d"):
    return {"name": name, "description": desc, "inputSchema": {"type": "object"}}


def obs(*names, version="1"):
    return inv.Observation("srv", version, None, "2025-11-25", ("tools",), tuple(tool(n) for n in names))


def sa_client(cp, namespace: str, sa: str = "default") -> k8s.ApiClient:
    """An API client that is the ServiceAccount (a real token), as the prober is in a pod."""
    token = cp.kubectl("create", "token", sa, "-n", namespace).stdout.strip()
    cfg = k8s.Configuration()
    cfg.host = cp.server
    cfg.ssl_ca_cert = str(cp.state_dir / "pki" / "ca.crt")
    cfg.api_key = {"authorization": "Bearer " + token}
    return k8s.ApiClient(cfg)


@pytest.fixture
def server(control_plane, namespace):
    """An MCPServer and the prober's children as the hook renders them, owned by it (as
    Metacontroller creates them)."""
    cp = control_plane
    apply_mcp_crd(cp)
    parent = {"apiVersion": "mcp.example.com/v1alpha1", "kind": "MCPServer",
              "metadata": {"name": NAME, "namespace": namespace}, "spec": {"image": "mcp-k8s-server:latest"}}
    cp.kubectl("apply", "-f", "-", input=json.dumps(parent))
    parent = json.loads(cp.kubectl("get", "mcpserver", NAME, "-n", namespace, "-o", "json").stdout)
    req = {"parent": parent, "children": {}}
    desired = [c for c in sync(req)["children"] if c["kind"] in ("Role", "RoleBinding")
               or c["metadata"]["name"] == hp.inventory_name(NAME)]
    assert len(desired) == 3
    owner = {"apiVersion": parent["apiVersion"], "kind": "MCPServer", "name": NAME,
             "uid": parent["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}
    for c in desired:
        c["metadata"]["ownerReferences"] = [owner]
        cp.kubectl("apply", "-f", "-", input=json.dumps(c))
    cp.kubectl("create", "configmap", "other", "-n", namespace, "--from-literal=k=v")
    return parent, desired


def test_prober_writes_its_inventory_and_nothing_else(control_plane, namespace, server):
    cp = control_plane
    parent, _ = server
    api = sa_client(cp, namespace)
    store = InventoryStore(api, namespace, hp.inventory_name(NAME), "srv-pod-1")
    reporter = Reporter(store)

    assert reporter.report(obs("a", "b"), "2026-01-01T00:00:00Z") is None  # first report: no change event
    cm = json.loads(cp.kubectl("get", "configmap", "srv-inventory", "-n", namespace, "-o", "json",
                               "--show-managed-fields").stdout)
    doc = json.loads(cm["data"][inv.INVENTORY_KEY])
    assert doc["tools"] == ["a", "b"] and doc["toolsChangedAt"] == "2026-01-01T00:00:00Z"
    managers = {m["manager"] for m in cm["metadata"]["managedFields"]}
    assert "mcp-prober" in managers

    # the Role is scoped: another ConfigMap can be neither read nor written, none created
    core = k8s.CoreV1Api(api)
    for call in (lambda: core.read_namespaced_config_map("other", namespace),
                 lambda: core.patch_namespaced_config_map("other", namespace, {"data": {"k": "x"}}),
                 lambda: core.create_namespaced_config_map(namespace, {"metadata": {"name": "new"}}),
                 lambda: core.delete_namespaced_config_map("srv-inventory", namespace),
                 lambda: core.list_namespaced_pod(namespace)):
        with pytest.raises(ApiException) as e:
            call()
        assert e.value.status == 403
    assert json.loads(cp.kubectl("get", "configmap", "other", "-n", namespace, "-o", "json").stdout)["data"] == {"k": "v"}

    # a new server version adds a tool: inventory updated, Event on the MCPServer
    message = Reporter(store).report(obs("a", "b", "c", version="2"), "2026-01-02T00:00:00Z")
    assert message == "tool set changed (2 -> 3 tools): added c"
    events = json.loads(cp.kubectl("get", "events", "-n", namespace, "-o", "json",
                                   "--field-selector", "reason=ToolsChanged").stdout)["items"]
    (ev,) = events
    assert ev["involvedObject"]["uid"] == parent["metadata"]["uid"] and ev["involvedObject"]["kind"] == "MCPServer"
    assert ev["message"] == message and ev["source"]["component"] == "mcp-prober"
    described = cp.kubectl("describe", "mcpserver", NAME, "-n", namespace).stdout
    assert "ToolsChanged" in described and "added c" in described


@pytest.mark.parametrize("how", ["client-side", "server-side"])
def test_prober_data_survives_the_operator_applying_the_configmap_again(control_plane, namespace, server, how):
    """Metacontroller re-applies the data-less ConfigMap on every sync: with the 3-way merge (the
    last-applied annotation has no data, so data is not the applier's to delete) and with
    server-side apply (data belongs to the mcp-prober field manager)."""
    cp = control_plane
    _, desired = server
    (cm,) = [c for c in desired if c["kind"] == "ConfigMap"]
    Reporter(InventoryStore(sa_client(cp, namespace), namespace, cm["metadata"]["name"], "p")).report(
        obs("a"), "2026-01-01T00:00:00Z")
    cm = dict(cm, metadata={**cm["metadata"], "labels": {**cm["metadata"]["labels"], "changed": "yes"}})
    args = ["apply", "-f", "-"] if how == "client-side" else \
        ["apply", "--server-side", "--force-conflicts", "--field-manager=metacontroller", "-f", "-"]
    for _ in range(2):
        cp.kubectl(*args, input=json.dumps(cm))
    got = json.loads(cp.kubectl("get", "configmap", "srv-inventory", "-n", namespace, "-o", "json").stdout)
    assert got["metadata"]["labels"]["changed"] == "yes"
    assert json.loads(got["data"][inv.INVENTORY_KEY])["tools"] == ["a"]


def test_failing_verdict_is_written_after_the_threshold_and_cleared_on_success(control_plane, namespace, server):
    """What answered instead of MCP reaches the operator through the same ConfigMap, under the
    same RBAC; stale verdicts of gone pods are dropped."""
    from mcp_prober.app import FAIL_THRESHOLD, Verdicts

    cp = control_plane
    store = InventoryStore(sa_client(cp, namespace), namespace, hp.inventory_name(NAME), "srv-pod-1")
    store.patch_data({"probe.gone-pod": json.dumps({"ready": False, "message": "old", "at": "2020-01-01T00:00:00Z"})})
    v = Verdicts(store, "srv-pod-1")
    data = lambda: json.loads(cp.kubectl("get", "configmap", "srv-inventory", "-n", namespace, "-o", "json").stdout
                              ).get("data") or {}
    for _ in range(FAIL_THRESHOLD - 1):
        v.observe(False, "connection refused at 127.0.0.1:3001", "2026-01-01T00:00:00Z")
    assert "probe.srv-pod-1" not in data()  # one failure is not a verdict (a kubelet waits too)
    v.observe(False, "connection refused at 127.0.0.1:3001", "2026-01-01T00:00:00Z")
    record = json.loads(data()["probe.srv-pod-1"])
    assert record == {"ready": False, "message": "connection refused at 127.0.0.1:3001", "at": "2026-01-01T00:00:00Z"}
    assert "probe.gone-pod" not in data()
    v.observe(True, "ok", "2026-01-01T00:00:05Z")
    assert "probe.srv-pod-1" not in data()
