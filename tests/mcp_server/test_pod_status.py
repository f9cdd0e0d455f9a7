"""kubectl's pod columns (STATUS, READY, RESTARTS) for the states users report; the expected values
are what ``kubectl get pod`` prints for the same object (kubectl's printPod)."""

import pytest

from mcp_k8s_server import shape


def c(name, *, ready=False, restarts=0, state=None, last_finished=None, started=None):
    cs = {"name": name, "ready": ready, "restartCount": restarts, "state": state or {"running": {}}}
    if last_finished:
        cs["lastState"] = {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": last_finished}}
    if started is not None:
        cs["started"] = started
    return cs


def pod(containers, statuses, *, init=(), init_statuses=(), phase="Running", conditions=(), deleting=False, reason=None):
    meta = {"name": "p", "namespace": "ns"}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status = {"phase": phase, "containerStatuses": list(statuses), "initContainerStatuses": list(init_statuses),
              "conditions": [{"type": t, "status": s, **({"reason": r} if r else {})} for t, s, r in conditions]}
    if reason:
        status["reason"] = reason
    return {"metadata": meta, "spec": {"containers": [{"name": n} for n in containers], "initContainers": list(init)},
            "status": status}


WAIT_CRASH = {"waiting": {"reason": "CrashLoopBackOff"}}
WAIT_INIT = {"waiting": {"reason": "PodInitializing"}}

CASES = {
    # the field report: an init container crash-looping 6 times
    "init crash loop": (
        pod(["app"], [c("app", state=WAIT_INIT)], init=[{"name": "setup"}],
            init_statuses=[c("setup", restarts=6, state=WAIT_CRASH, last_finished="2026-01-01T00:05:00Z")], phase="Pending"),
        ("Init:CrashLoopBackOff", "0/1", 6)),
    "second of three init containers running": (
        pod(["app"], [c("app", state=WAIT_INIT)], init=[{"name": "a"}, {"name": "b"}, {"name": "c"}],
            init_statuses=[c("a", state={"terminated": {"exitCode": 0, "reason": "Completed"}}), c("b"), c("c", state=WAIT_INIT)],
            phase="Pending"),
        ("Init:1/3", "0/1", 0)),
    "init container failed without a reason": (
        pod(["app"], [], init=[{"name": "a"}], init_statuses=[c("a", state={"terminated": {"exitCode": 3}})], phase="Pending"),
        ("Init:ExitCode:3", "0/1", 0)),
    "restarts count every app container": (
        pod(["a", "b"], [c("a", ready=True, restarts=2), c("b", ready=True, restarts=1)]),
        ("Running", "2/2", 3)),
    "crash loop in the second container": (
        pod(["a", "b"], [c("a", ready=True), c("b", restarts=4, state=WAIT_CRASH)]),
        ("CrashLoopBackOff", "1/2", 4)),
    "completed container while another runs, pod ready": (
        pod(["job", "web"], [c("job", state={"terminated": {"exitCode": 0, "reason": "Completed"}}), c("web", ready=True)],
            conditions=[("Ready", "True", None)]),
        ("Running", "1/2", 0)),
    "completed container while another runs, pod not ready": (
        pod(["job", "web"], [c("job", state={"terminated": {"exitCode": 0, "reason": "Completed"}}), c("web", ready=True)],
            conditions=[("Ready", "False", None)]),
        ("NotReady", "1/2", 0)),
    "running but not ready does not count": (
        pod(["a"], [c("a", ready=False)]),
        ("Running", "0/1", 0)),
    "terminating": (
        pod(["a"], [c("a", ready=True)], deleting=True),
        ("Terminating", "1/1", 0)),
    "deleted on an unreachable node": (
        pod(["a"], [c("a", ready=True)], deleting=True, reason="NodeLost"),
        ("Unknown", "1/1", 0)),
    "evicted": (
        pod(["a"], [c("a", state={"terminated": {"exitCode": 137, "reason": "OOMKilled"}})], phase="Failed", reason="Evicted"),
        ("OOMKilled", "0/1", 0)),
    "scheduling gated": (
        pod(["a"], [], phase="Pending", conditions=[("PodScheduled", "False", "SchedulingGated")]),
        ("SchedulingGated", "0/1", 0)),
    "sidecar counts as a container and its restarts count": (
        pod(["app"], [c("app", ready=True)], init=[{"name": "proxy", "restartPolicy": "Always"}],
            init_statuses=[c("proxy", ready=True, restarts=2, started=True)], conditions=[("Initialized", "True", None)]),
        ("Running", "2/2", 2)),
    "killed by a signal": (
        pod(["a"], [c("a", state={"terminated": {"exitCode": 0, "signal": 9}})]),
        ("Signal:9", "0/1", 0)),
}


@pytest.mark.parametrize("name", CASES)
def test_pod_status_matches_kubectl(name):
    obj, (status, ready, restarts) = CASES[name]
    got = shape.pod_status(obj)
    assert (got["status"], got["ready"], got["restarts"]) == (status, ready, restarts)
