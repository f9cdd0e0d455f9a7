"""The stand-in itself against the real local control plane, driven by a tiny in-process hook.

These pin the Metacontroller behaviour the MCPServer end-to-end tests rely on: child creation
(controller-uid label, controllerRef, last-applied annotation, namespace default), the request
shape (children keys per hook version, related, finalizing), 3-way in-place updates that keep
other writers' fields, deletion of undesired children, status + observedGeneration via the status
subresource, error handling (non-200: nothing changes, SyncError event), strict v2 responses,
adoption of orphans, and the finalize flow.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.metacontroller import LAST_APPLIED_ANNOTATION, Metacontroller
from tests.kube import wait_for as _wait_for

pytestmark = pytest.mark.cluster

GROUP = "standin.test.example.com"
CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
        "scope": "Namespaced",
        "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}},
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}},
        }],
    },
}


class Hook:
    """Desired ConfigMaps from parent.spec.configs {name: data}; status {count, names}."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []
        self.fail_status: int | None = None
        self.extra_key = False
        self.finalized = True
        self.lock = threading.Lock()

    def respond(self, path: str, req: dict) -> tuple[int, dict]:
        with self.lock:
            self.requests.append((path, copy.deepcopy(req)))
        if self.fail_status:
            return self.fail_status, {"error": "boom"}
        parent = req["parent"]
        observed = req["children"].get("ConfigMap.v1", {})
        if path == "/finalize":
            body = {"status": {"count": len(observed), "phase": "Terminating"}, "children": [],
                    "finalized": self.finalized and not observed}
            return 200, body
        children = []
        for name, data in sorted(((parent.get("spec") or {}).get("configs") or {}).items()):
            children.append({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": name, "labels": {"app": "widget"}}, "data": data})
        body = {"status": {"count": len(observed), "names": sorted(observed)}, "children": children}
        if self.extra_key:
            body["unexpected"] = True
        return 200, body

    def last(self, path: str = "/sync") -> dict:
        with self.lock:
            return next(r for p, r in reversed(self.requests) if p == path)


@pytest.fixture
def hook_server():
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            status, out = hook.respond(self.path, body)
            data = json.dumps(out).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    hook.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield hook
    srv.shutdown()


@pytest.fixture(scope="module")
def widget_crd(control_plane):
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(CRD))
    control_plane.kubectl("wait", "--for=condition=Established", f"crd/widgets.{GROUP}", "--timeout=30s")
    yield


def make_cc(name: str, url: str, version: str = "v1", finalize: bool = True, resync: int | None = None):
    hooks = {"sync": {"version": version, "webhook": {"url": url + "/sync", "timeout": "5s"}}}
    if finalize:
        hooks["finalize"] = {"version": version, "webhook": {"url": url + "/finalize", "timeout": "5s"}}
    cc = {"apiVersion": "metacontroller.k8s.io/v1alpha1", "kind": "CompositeController",
          "metadata": {"name": name},
          "spec": {"generateSelector": True,
                   "parentResource": {"apiVersion": f"{GROUP}/v1", "resource": "widgets"},
                   "childResources": [{"apiVersion": "v1", "resource": "configmaps",
                                       "updateStrategy": {"method": "InPlace"}}],
                   "hooks": hooks}}
    if resync:
        cc["spec"]["resyncPeriodSeconds"] = resync
    return cc


@pytest.fixture
def run_mc(control_plane, widget_crd):
    started = []

    def run(cc):
        mc = Metacontroller(control_plane.kubeconfig, [cc], workers=2, qps=100, burst=200).start()
        assert mc.wait_ready(30), "stand-in did not sync its caches"
        started.append(mc)
        return mc

    yield run
    for mc in started:
        mc.stop()


def kget(cp, *args):
    return json.loads(cp.kubectl("get", "-o", "json", *args).stdout)


def wait_for(fn, timeout=20.0, interval=0.2, what="condition"):
    return _wait_for(fn, timeout, interval, what, retry_on=(Exception,))


def apply_widget(cp, ns, name, configs, labels=None):
    obj = {"apiVersion": f"{GROUP}/v1", "kind": "Widget",
           "metadata": {"name": name, "namespace": ns, **({"labels": labels} if labels else {})},
           "spec": {"configs": configs}}
    cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
    return kget(cp, "widget", name, "-n", ns)


def delete_widget(cp, ns, name):
    cp.kubectl("delete", "widget", name, "-n", ns, "--wait=false", check=False)


def test_create_update_delete_children_and_status(control_plane, namespace, hook_server, run_mc):
    cp, ns = control_plane, namespace
    run_mc(make_cc("standin-basic", hook_server.url))
    w = apply_widget(cp, ns, "w1", {"a": {"k": "1"}, "b": {"k": "2"}})
    uid = w["metadata"]["uid"]

    cm = wait_for(lambda: kget(cp, "configmap", "a", "-n", ns), what="child a")
    assert cm["metadata"]["labels"] == {"app": "widget", "controller-uid": uid}
    (ref,) = cm["metadata"]["ownerReferences"]
    assert ref == {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "name": "w1", "uid": uid,
                   "controller": True, "blockOwnerDeletion": True}
    last = json.loads(cm["metadata"]["annotations"][LAST_APPLIED_ANNOTATION])
    assert last == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "1"},
                    "metadata": {"name": "a", "namespace": ns,
                                 "labels": {"app": "widget", "controller-uid": uid}}}

    w = wait_for(lambda: (o := kget(cp, "widget", "w1", "-n", ns)).get("status", {}).get("count") == 2 and o,
                 what="status count 2")
    assert w["status"] == {"count": 2, "names": ["a", "b"], "observedGeneration": w["metadata"]["generation"]}
    assert "metacontroller.io/compositecontroller-standin-basic" in w["metadata"]["finalizers"]

    req = hook_server.last()
    assert set(req) == {"controller", "parent", "children", "related", "finalizing"}
    assert req["finalizing"] is False and req["related"] == {}
    assert req["controller"]["metadata"]["name"] == "standin-basic"
    assert set(req["children"]) == {"ConfigMap.v1"}
    assert set(req["children"]["ConfigMap.v1"]) == {"a", "b"}  # v1: keyed by name
    assert req["children"]["ConfigMap.v1"]["a"]["kind"] == "ConfigMap"

    # someone else adds a label: an in-place update keeps it (3-way merge)
    cp.kubectl("label", "configmap", "a", "-n", ns, "other=kept")
    apply_widget(cp, ns, "w1", {"a": {"k": "changed"}})
    wait_for(lambda: kget(cp, "configmap", "a", "-n", ns)["data"] == {"k": "changed"}, what="in-place update")
    assert kget(cp, "configmap", "a", "-n", ns)["metadata"]["labels"]["other"] == "kept"
    wait_for(lambda: cp.kubectl("get", "configmap", "b", "-n", ns, check=False).returncode != 0,
             what="undesired child deleted")
    w = wait_for(lambda: (o := kget(cp, "widget", "w1", "-n", ns))["status"].get("count") == 1 and o,
                 what="status count 1")
    assert w["status"]["observedGeneration"] == w["metadata"]["generation"] == 2

    # deletion: finalize hook is called with finalizing=true, children go, finalizer is removed
    delete_widget(cp, ns, "w1")
    wait_for(lambda: cp.kubectl("get", "widget", "w1", "-n", ns, check=False).returncode != 0,
             what="parent gone")
    assert hook_server.last("/finalize")["finalizing"] is True
    wait_for(lambda: cp.kubectl("get", "configmap", "a", "-n", ns, check=False).returncode != 0,
             what="children gone")


def test_v2_keys_and_strict_response(control_plane, namespace, hook_server, run_mc):
    cp, ns = control_plane, namespace
    run_mc(make_cc("standin-v2", hook_server.url, version="v2", finalize=False))
    apply_widget(cp, ns, "w2", {"c": {"k": "1"}})
    wait_for(lambda: kget(cp, "configmap", "c", "-n", ns), what="child c")
    wait_for(lambda: f"{ns}/c" in hook_server.last()["children"]["ConfigMap.v1"], what="v2 ns/name key")
    w = kget(cp, "widget", "w2", "-n", ns)
    assert not w["metadata"].get("finalizers")  # no finalize hook: no finalizer

    # an unknown top-level key fails v2's strict decoding: nothing changes, SyncError event
    hook_server.extra_key = True
    apply_widget(cp, ns, "w2", {"c": {"k": "1"}, "d": {"k": "2"}})
    wait_for(lambda: any(e["reason"] == "SyncError" and "strict" in e["message"]
                         for e in kget(cp, "events", "-n", ns)["items"]), what="SyncError event")
    assert cp.kubectl("get", "configmap", "d", "-n", ns, check=False).returncode != 0
    hook_server.extra_key = False
    wait_for(lambda: kget(cp, "configmap", "d", "-n", ns), timeout=30, what="recovery after fix")
    delete_widget(cp, ns, "w2")


def test_non_200_changes_nothing_then_recovers(control_plane, namespace, hook_server, run_mc):
    cp, ns = control_plane, namespace
    run_mc(make_cc("standin-errors", hook_server.url, finalize=False))
    apply_widget(cp, ns, "w3", {"e": {"k": "1"}})
    wait_for(lambda: kget(cp, "configmap", "e", "-n", ns), what="child e")
    wait_for(lambda: kget(cp, "widget", "w3", "-n", ns).get("status", {}).get("count") == 1, what="status")
    hook_server.fail_status = 500
    apply_widget(cp, ns, "w3", {})  # would delete e if the error answer were applied
    wait_for(lambda: any(e["reason"] == "SyncError" and "500" in e["message"]
                         for e in kget(cp, "events", "-n", ns)["items"]), what="SyncError event")
    time.sleep(1)
    assert kget(cp, "configmap", "e", "-n", ns)
    w = kget(cp, "widget", "w3", "-n", ns)
    assert w["status"]["observedGeneration"] == 1  # status untouched on error
    hook_server.fail_status = None
    wait_for(lambda: cp.kubectl("get", "configmap", "e", "-n", ns, check=False).returncode != 0,
             timeout=30, what="retry applied the empty desired set")
    delete_widget(cp, ns, "w3")


def test_orphan_with_matching_selector_is_adopted(control_plane, namespace, hook_server, run_mc):
    cp, ns = control_plane, namespace
    run_mc(make_cc("standin-adopt", hook_server.url, finalize=False))
    w = apply_widget(cp, ns, "w4", {"f": {"k": "desired"}})
    uid = w["metadata"]["uid"]
    wait_for(lambda: kget(cp, "configmap", "f", "-n", ns), what="child f")
    orphan = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "orphan", "namespace": ns, "labels": {"controller-uid": uid}}}
    cp.kubectl("apply", "-f", "-", input=json.dumps(orphan))
    # adopted, then (not desired) deleted by the next sync
    wait_for(lambda: cp.kubectl("get", "configmap", "orphan", "-n", ns, check=False).returncode != 0,
             what="orphan adopted and removed")
    other = {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "unrelated", "namespace": ns, "labels": {"controller-uid": "nope"}}}
    cp.kubectl("apply", "-f", "-", input=json.dumps(other))
    time.sleep(1.5)
    assert kget(cp, "configmap", "unrelated", "-n", ns)  # not ours: untouched
    delete_widget(cp, ns, "w4")


def test_finalize_waits_for_finalized_true(control_plane, namespace, hook_server, run_mc):
    cp, ns = control_plane, namespace
    run_mc(make_cc("standin-fin", hook_server.url, resync=1))
    apply_widget(cp, ns, "w5", {"g": {"k": "1"}})
    wait_for(lambda: kget(cp, "configmap", "g", "-n", ns), what="child g")
    wait_for(lambda: kget(cp, "widget", "w5", "-n", ns)["metadata"].get("finalizers"), what="finalizer")
    hook_server.finalized = False
    delete_widget(cp, ns, "w5")
    wait_for(lambda: cp.kubectl("get", "configmap", "g", "-n", ns, check=False).returncode != 0,
             what="children removed by finalize")
    time.sleep(2)
    w = kget(cp, "widget", "w5", "-n", ns)
    assert w["metadata"].get("deletionTimestamp") and w["status"]["phase"] == "Terminating"
    hook_server.finalized = True
    wait_for(lambda: cp.kubectl("get", "widget", "w5", "-n", ns, check=False).returncode != 0,
             what="parent gone after finalized=true")


def test_cli_runs_from_manifest(control_plane, namespace, hook_server, widget_crd, tmp_path):
    import subprocess
    import sys

    cp, ns = control_plane, namespace
    cc = make_cc("standin-cli", "http://unused.invalid", finalize=False)
    cc["spec"]["hooks"]["sync"]["webhook"] = {"service": {"name": "hook", "namespace": "x", "port": 80},
                                              "path": "/sync", "timeout": "5s"}
    f = tmp_path / "cc.yaml"
    f.write_text(yaml.safe_dump(cc))
    proc = subprocess.Popen([sys.executable, "-m", "tests.metacontroller", "--kubeconfig", cp.kubeconfig,
                             "--controller", str(f), "--hook-base-url", hook_server.url,
                             "--client-go-qps", "50", "--client-go-burst", "100"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=str(Path(__file__).resolve().parents[2]))
    try:
        apply_widget(cp, ns, "w6", {"h": {"k": "1"}})
        wait_for(lambda: kget(cp, "configmap", "h", "-n", ns), timeout=30, what="child via CLI")
        delete_widget(cp, ns, "w6")
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
