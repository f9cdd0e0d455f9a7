"""The hook goes away and comes back: Metacontroller changes nothing while it cannot get a 200
(SyncError events, backoff), and converges on the pending edit once the hook answers again.
Own hook server and controller (module-scoped), so the shared ones are not disturbed."""

from __future__ import annotations

import json

import pytest

from mcp_operator_hook import constants as C
from tests.e2e_hook.conftest import drain_finalizing
from tests.e2e_hook.helpers import is_ready, kget, wait_for
from tests.e2e_hook.procs import CC_FILE, REPO, start_hook_server, start_metacontroller, stop_metacontroller

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def outage_env(control_plane, mcp_crd, tmp_path_factory, apply_strategy):
    if not CC_FILE.exists():
        pytest.skip(f"{CC_FILE.relative_to(REPO)} not present")
    logs = tmp_path_factory.mktemp("outage-logs")
    hook = start_hook_server(logs)
    mc = start_metacontroller(control_plane, hook.url, logs, qps=50, burst=100, apply_strategy=apply_strategy)
    env = {"hook": hook, "mc": mc, "logs": logs}
    yield env
    if env["hook"].alive() is False:
        env["hook"] = start_hook_server(logs, port=int(hook.url.rsplit(":", 1)[1]))
    drain_finalizing(control_plane, mc)
    stop_metacontroller(control_plane, mc)
    env["hook"].stop()


def test_edit_during_hook_outage_waits_for_the_hook(control_plane, namespace, outage_env):
    cp, ns = control_plane, namespace
    obj = {"apiVersion": C.API_VERSION, "kind": C.KIND, "metadata": {"name": "o1", "namespace": ns},
           "spec": {"image": "mcp-k8s-server:test", "port": 3001, "replicas": 1, "config": {"A": "1"}}}
    cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
    wait_for(lambda: is_ready(cp, ns, "o1"), timeout=90, what="Ready")
    dep_before = kget(cp, "deployment", "o1", "-n", ns)

    port = int(outage_env["hook"].url.rsplit(":", 1)[1])
    assert outage_env["hook"].stop() is not None
    cp.kubectl("patch", "mcps", "o1", "-n", ns, "--type=merge", "-p",
               json.dumps({"spec": {"replicas": 2, "config": {"A": "2"}}}))
    wait_for(lambda: any(e.get("reason") == "SyncError" for e in kget(cp, "events", "-n", ns)["items"]),
             timeout=30, what="SyncError event while the hook is down")
    dep = kget(cp, "deployment", "o1", "-n", ns)
    assert dep["spec"]["replicas"] == 1
    assert dep["metadata"]["resourceVersion"] == dep_before["metadata"]["resourceVersion"] or \
        dep["spec"] == dep_before["spec"]
    parent = kget(cp, "mcpserver", "o1", "-n", ns)
    assert parent["status"]["observedGeneration"] == parent["metadata"]["generation"] - 1  # untouched

    outage_env["hook"] = start_hook_server(outage_env["logs"], port=port)
    # backoff is exponential (5ms * 2^n): after a short outage the retry comes within seconds
    wait_for(lambda: (o := is_ready(cp, ns, "o1")) and o["status"]["readyReplicas"] == 2, timeout=120,
             what="converged on the pending edit after the hook returned")
    cm = kget(cp, "configmap", "o1" + C.CONFIGMAP_SUFFIX, "-n", ns)
    assert json.loads(cm["data"][C.CONFIG_FILE_KEY]) == {"A": "2"}
