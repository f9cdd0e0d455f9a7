"""Issue 10 (hook part) end to end: the real Metacontroller binary, under BOTH apply strategies,
calls the customize hook and sends the related objects; the hook turns them into a specific Ready
message within one resync (60 s):

- an image that cannot be pulled (kwok stage pod-fail-image-pull: ImagePullBackOff),
- a crash-looping container (kwok stage pod-fail-crash-loop: CrashLoopBackOff, exit code 1),
- a pod no node fits (the real kube-scheduler's Unschedulable message),
- a foreign ConfigMap <name>-config and a foreign Deployment <name> (NameConflict; the foreign
  object is left exactly as it was: not adopted, not overwritten, not mounted, not deleted),
- a Secret edit rolls the pods (pod-template hash), and the Secret's value appears nowhere in
  the MCPServer's status, the namespace's events or the hook's log,
- an invalid spec (admitted by a CRD without the stdio-replicas rule, as an older CRD would)
  keeps the running server exactly as it was, rendered from the hook's own record: server-side
  apply writes no last-applied annotation.
"""

from __future__ import annotations

import base64
import copy
import json
import time

import pytest
import yaml

from mcp_operator_hook import constants as C
from tests.e2e_hook.helpers import condition, is_ready, kget, mcp_status, wait_for
from tests.e2e_hook.procs import REPO, start_metacontroller, stop_metacontroller

pytestmark = pytest.mark.cluster

RESYNC = 60  # deploy/compositecontroller.yaml resyncPeriodSeconds: a message must show within one
IMAGE_PULL_FAILS = "kwok.invalid/image-pull-backoff:1"  # tests/kube/kwok/pod-fail-image-pull.yaml
CRASH_LOOPS = "kwok.invalid/crash-loop:1"  # tests/kube/kwok/pod-fail-crash-loop.yaml


@pytest.fixture(scope="module", params=["dynamic-apply", "server-side-apply"])
def real_metacontroller(request, control_plane, mcp_crd, hook_server, e2e_logs):
    """The real Metacontroller binary under each apply strategy (module-scoped, like the
    `metacontroller` fixture; one instance at a time)."""
    logs = e2e_logs / request.param
    logs.mkdir(exist_ok=True)
    mc = start_metacontroller(control_plane, hook_server.url, logs, qps=50, burst=100,
                              apply_strategy=request.param)
    mc.strategy = request.param
    yield mc
    stop_metacontroller(control_plane, mc)


def mcps(name: str, **spec) -> dict:
    return {"apiVersion": C.API_VERSION, "kind": C.KIND, "metadata": {"name": name},
            "spec": {"image": "mcp-k8s-server:test", **spec}}


def apply(cp, ns: str, obj: dict):
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = ns
    cp.kubectl("apply", "-f", "-", input=json.dumps(obj))


def ready_cond_with(cp, ns, name, reason):
    st = mcp_status(cp, ns, name)
    c = condition(st, "Ready")
    return st if c.get("reason") == reason else None


def assert_converged(cp, ns, name, seconds: float = 6.0):
    """No status-write loop: the MCPServer is not written again while nothing changes."""
    rv = kget(cp, "mcpserver", name, "-n", ns)["metadata"]["resourceVersion"]
    time.sleep(seconds)
    assert kget(cp, "mcpserver", name, "-n", ns)["metadata"]["resourceVersion"] == rv, f"{name} keeps being written"


def within_one_resync(fn, what):
    start = time.monotonic()
    out = wait_for(fn, timeout=RESYNC, interval=0.5, what=what)
    return out, time.monotonic() - start


def test_image_pull_backoff_names_the_image(control_plane, namespace, real_metacontroller):
    cp, ns = control_plane, namespace
    apply(cp, ns, mcps("nopull", image=IMAGE_PULL_FAILS))
    st, took = within_one_resync(lambda: ready_cond_with(cp, ns, "nopull", "ImagePullBackOff"), "ImagePullBackOff")
    msg = condition(st, "Ready")["message"]
    assert IMAGE_PULL_FAILS in msg and "cannot be pulled" in msg and st["phase"] == "Failed", st
    assert condition(st, "ServiceReady")["reason"] == "NoReadyEndpoints"
    assert_converged(cp, ns, "nopull")
    print(f"[{real_metacontroller.strategy}] ImagePullBackOff after {took:.1f}s: {msg}")


def test_crash_loop_names_container_exit_code_and_message(control_plane, namespace, real_metacontroller):
    cp, ns = control_plane, namespace
    apply(cp, ns, mcps("crashy", image=CRASH_LOOPS))
    st, took = within_one_resync(lambda: ready_cond_with(cp, ns, "crashy", "CrashLoopBackOff"), "CrashLoopBackOff")
    msg = condition(st, "Ready")["message"]
    assert "container mcp-server" in msg and "exit code 1" in msg and "cannot read /etc/mcp/config.json" in msg, msg
    assert st["phase"] == "Failed"
    assert_converged(cp, ns, "crashy")
    print(f"[{real_metacontroller.strategy}] CrashLoopBackOff after {took:.1f}s: {msg}")


def test_foreign_configmap_is_reported_and_left_alone(control_plane, namespace, real_metacontroller):
    cp, ns = control_plane, namespace
    cp.kubectl("create", "configmap", "clash-config", "-n", ns, "--from-literal=config.json={\"theirs\":\"yes\"}")
    before = kget(cp, "configmap", "clash-config", "-n", ns)
    apply(cp, ns, mcps("clash", config={"ours": "yes"}))
    st, took = within_one_resync(lambda: ready_cond_with(cp, ns, "clash", "NameConflict"), "NameConflict")
    msg = condition(st, "Ready")["message"]
    assert f"ConfigMap {ns}/clash-config already exists and is not owned by MCPServer clash" in msg, msg
    assert st["phase"] == "Failed"
    assert_converged(cp, ns, "clash", 3)  # and nothing may touch the foreign object meanwhile
    after = kget(cp, "configmap", "clash-config", "-n", ns)
    assert after["data"] == before["data"] and after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert not after["metadata"].get("ownerReferences")
    assert cp.kubectl("get", "deployment", "clash", "-n", ns, check=False).returncode != 0
    print(f"[{real_metacontroller.strategy}] foreign ConfigMap after {took:.1f}s: {msg}")


def test_foreign_deployment_is_reported_and_left_alone(control_plane, namespace, real_metacontroller):
    cp, ns = control_plane, namespace
    cp.kubectl("create", "deployment", "taken", "-n", ns, "--image=theirs:1", "--replicas=0")
    before = kget(cp, "deployment", "taken", "-n", ns)
    apply(cp, ns, mcps("taken"))
    st, took = within_one_resync(lambda: ready_cond_with(cp, ns, "taken", "NameConflict"), "NameConflict")
    msg = condition(st, "Ready")["message"]
    assert f"Deployment {ns}/taken already exists and is not owned by MCPServer taken" in msg, msg
    assert condition(st, "DeploymentReady")["reason"] == "NameConflict" and st["phase"] == "Failed"
    assert_converged(cp, ns, "taken", 3)
    after = kget(cp, "deployment", "taken", "-n", ns)
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "theirs:1"
    assert not after["metadata"].get("ownerReferences")
    print(f"[{real_metacontroller.strategy}] foreign Deployment after {took:.1f}s: {msg}")


def pod_names(cp, ns, name):
    pods = kget(cp, "pods", "-n", ns, "-l", f"{C.LABEL_INSTANCE}={name}")["items"]
    return {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}


def test_secret_edit_rolls_the_pods_and_never_shows_the_value(control_plane, namespace, real_metacontroller,
                                                               hook_server):
    cp, ns = control_plane, namespace
    first, second = "first-s3cr3t-4711", "second-s3cr3t-0815"
    cp.kubectl("create", "secret", "generic", "tok", "-n", ns, f"--from-literal=token={first}")
    apply(cp, ns, mcps("withsecret", env=[{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "token"}}}]))
    wait_for(lambda: is_ready(cp, ns, "withsecret"), timeout=90, what="Ready")
    hash1 = kget(cp, "deployment", "withsecret", "-n", ns)["spec"]["template"]["metadata"]["annotations"][
        C.REFERENCED_DATA_HASH_ANNOTATION]
    pods1 = pod_names(cp, ns, "withsecret")
    patch = {"data": {"token": base64.b64encode(second.encode()).decode()}}
    cp.kubectl("patch", "secret", "tok", "-n", ns, "--type=merge", "-p", json.dumps(patch))

    def rolled():
        d = kget(cp, "deployment", "withsecret", "-n", ns)
        h = d["spec"]["template"]["metadata"]["annotations"][C.REFERENCED_DATA_HASH_ANNOTATION]
        if h == hash1:
            return None
        pods = pod_names(cp, ns, "withsecret")
        return pods if pods and not pods & pods1 and is_ready(cp, ns, "withsecret") else None

    new_pods, took = within_one_resync(rolled, "pods rolled after the Secret edit")
    assert_converged(cp, ns, "withsecret")
    print(f"[{real_metacontroller.strategy}] Secret edit rolled {sorted(pods1)} -> {sorted(new_pods)} in {took:.1f}s")
    shown = json.dumps(kget(cp, "mcpserver", "withsecret", "-n", ns)) + cp.kubectl(
        "get", "events", "-n", ns, "-o", "json").stdout + hook_server.log_path.read_text(errors="replace")
    for value in (first, second):
        assert value not in shown and base64.b64encode(value.encode()).decode() not in shown


def _crd_without_stdio_replicas_rule() -> dict:
    crd = yaml.safe_load((REPO / "crds" / "mcpservers.mcp.example.com.yaml").read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    spec["x-kubernetes-validations"] = [r for r in spec.get("x-kubernetes-validations", [])
                                        if "stdio" not in r.get("message", "")]
    return crd


def test_invalid_spec_keeps_the_server_from_the_hooks_record(control_plane, namespace, real_metacontroller):
    """An MCPServer admitted by an older CRD (here: one without the stdio-replicas rule) with a
    spec the hook refuses keeps its running server exactly as it was."""
    cp, ns = control_plane, namespace
    apply(cp, ns, mcps("keep", config={"a": "b"}))
    wait_for(lambda: is_ready(cp, ns, "keep"), timeout=90, what="Ready")
    before = {k: kget(cp, k, n, "-n", ns) for k, n in (("deployment", "keep"), ("service", "keep"),
                                                       ("configmap", "keep-config"))}
    if real_metacontroller.strategy == "server-side-apply":  # nothing to read back but our own record
        assert "metacontroller.k8s.io/last-applied-configuration" not in before["deployment"]["metadata"].get(
            "annotations", {})
    original = cp.kubectl("get", "crd", C.CRD_NAME, "-o", "json").stdout
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(_crd_without_stdio_replicas_rule()))
    try:
        wait_for(lambda: cp.kubectl("patch", "mcpserver", "keep", "-n", ns, "--type=merge",
                                    "-p", json.dumps({"spec": {"transport": "stdio", "replicas": 3}})),
                 timeout=30, what="invalid edit admitted by the older CRD")
    finally:
        crd = json.loads(original)
        for f in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            crd["metadata"].pop(f, None)
        crd.pop("status", None)
        cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(crd))
    st, took = within_one_resync(lambda: ready_cond_with(cp, ns, "keep", "InvalidSpec"), "InvalidSpec")
    assert st["phase"] == "Failed" and "stdio transport supports at most 1 replica" in condition(
        st, "ConfigurationValid")["message"]
    time.sleep(3)
    for (kind, name), old in zip((("deployment", "keep"), ("service", "keep"), ("configmap", "keep-config")),
                                 before.values()):
        now = kget(cp, kind, name, "-n", ns)
        assert now["metadata"]["uid"] == old["metadata"]["uid"], kind
        assert now.get("spec") == old.get("spec") and now.get("data") == old.get("data"), kind
    print(f"[{real_metacontroller.strategy}] invalid edit reported after {took:.1f}s, children unchanged")


def test_unschedulable_pod_gives_the_schedulers_message(control_plane, namespace, real_metacontroller):
    cp, ns = control_plane, namespace
    apply(cp, ns, mcps("nowhere", nodeSelector={"example.com/no-such-node": "true"}))
    st, took = within_one_resync(lambda: ready_cond_with(cp, ns, "nowhere", "Unschedulable"), "Unschedulable")
    msg = condition(st, "Ready")["message"]
    assert "cannot be scheduled" in msg and "node(s) didn't match Pod's node affinity/selector" in msg, msg
    assert st["phase"] == "Pending"
    assert_converged(cp, ns, "nowhere")
    print(f"[{real_metacontroller.strategy}] Unschedulable after {took:.1f}s: {msg}")
