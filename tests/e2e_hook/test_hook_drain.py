"""The hook drains: rolling it while 50 MCPServers resync every second causes no SyncError.

Real parts: the MCPServer CRD on the API server, the real Metacontroller (resyncPeriodSeconds 1,
keep-alive connections as in production), hook pods as real gunicorn with the chart's own
container env and preStop command (rendered by helm), and a kube-proxy-like balancer
(tests/kube/balancer.py) that sends each new connection to a ready endpoint. The kubelet and the
endpoints controller are emulated, in their documented order: a rolling update (maxSurge 1,
maxUnavailable 0) starts the new pod and waits for its readiness probe; the old pod is then
deleted, which takes it out of the endpoints (after a propagation delay) while its preStop runs;
SIGTERM follows the preStop. Bounded: 5 rollouts of 2 replicas with a 3 s drain window.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e_hook.conftest import drain_finalizing
from tests.e2e_hook.helpers import hook_sync_calls, is_ready, kget, wait_for
from tests.e2e_hook.procs import CC_FILE, start_hook_server
from tests.kube.balancer import Balancer
from tests.kube.metacontroller import MetacontrollerProcess, load_controllers, rewrite_hook_urls

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

SERVERS = 50
ROLLOUTS = 5
REPLICAS = 2
DRAIN_SECONDS = 3
ENDPOINT_PROPAGATION = 1.0  # kube-proxy still sends new connections to a deleted pod meanwhile
READINESS_PERIOD = 0.5


def chart_hook_container() -> dict:
    from tests.chart.chartlib import one, render, tool

    if tool("helm") is None:
        pytest.skip("helm not built")
    docs = render(sets=(f"hook.drainSeconds={DRAIN_SECONDS}",))
    (c,) = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return c


class HookPod:
    """One hook pod: gunicorn with the chart's env (its /tmp of its own), stopped like a kubelet."""

    def __init__(self, container: dict, logs: Path, n: int):
        self.tmp = logs / f"pod-{n}-tmp"
        self.tmp.mkdir()
        env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        for k in ("GUNICORN_BIND", "PORT"):
            env.pop(k, None)
        env["MCP_HOOK_DRAIN_FILE"] = env["MCP_HOOK_DRAIN_FILE"].replace("/tmp", str(self.tmp), 1)
        env.update({"GUNICORN_WORKERS": "1", "GUNICORN_ACCESS_LOG": "off", "TMPDIR": str(self.tmp)})
        self.env = env
        self.pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
        self.server = start_hook_server(logs, workers=1, threads=4, env=env, name=f"hook-{n}")
        self.endpoint = ("127.0.0.1", int(self.server.url.rsplit(":", 1)[1]))
        self.ready = False
        self.terminating = False
        self.calls = 0

    def probe(self) -> None:
        try:
            with urllib.request.urlopen(self.server.url + "/readyz", timeout=1) as r:
                self.ready = r.status == 200
        except OSError:
            self.ready = False

    def delete(self, endpoints_lock: threading.Lock) -> None:
        """Pod deletion: leaves the endpoints after the propagation delay while the preStop runs,
        then SIGTERM; returns once the process exited."""
        self.calls = hook_sync_calls(self.server.url)

        def leave_endpoints():
            time.sleep(ENDPOINT_PROPAGATION)
            with endpoints_lock:
                self.terminating = True

        threading.Thread(target=leave_endpoints, daemon=True).start()
        cmd = [sys.executable if self.pre_stop[0] == "python" else self.pre_stop[0], *self.pre_stop[1:]]
        subprocess.run(cmd, env={**self.server_env(), **self.env}, check=True, timeout=60, capture_output=True)
        self.calls = hook_sync_calls(self.server.url)  # everything it answered
        with endpoints_lock:
            self.terminating = True
        assert self.server.stop(grace=30) is not None

    @staticmethod
    def server_env() -> dict:
        import os

        return dict(os.environ)


@pytest.fixture
def fleet(control_plane, mcp_crd, tmp_path, apply_strategy):
    container = chart_hook_container()
    pods: list[HookPod] = []
    lock = threading.Lock()
    stop = threading.Event()

    def endpoints():
        with lock:
            return [p.endpoint for p in pods if p.ready and not p.terminating]

    def prober():  # the kubelet's readiness probe
        while not stop.is_set():
            for p in list(pods):
                if not p.terminating:
                    p.probe()
            stop.wait(READINESS_PERIOD)

    counter = iter(range(1000))
    for _ in range(REPLICAS):
        pods.append(HookPod(container, tmp_path, next(counter)))
    threading.Thread(target=prober, daemon=True).start()
    with Balancer(endpoints) as lb:
        cc = rewrite_hook_urls(load_controllers(CC_FILE)[0], lb.url)
        cc = copy.deepcopy(cc)
        cc["spec"]["resyncPeriodSeconds"] = 1
        mc = MetacontrollerProcess.start(control_plane, [cc], tmp_path / "metacontroller.log", workers=10,
                                         qps=200, burst=400, apply_strategy=apply_strategy)
        env = {"pods": pods, "lock": lock, "container": container, "counter": counter, "mc": mc, "logs": tmp_path}
        try:
            yield env
        finally:
            drain_finalizing(control_plane, mc)
            mc.stop(control_plane)
            stop.set()
            for p in pods:
                if p.server.alive():
                    p.server.stop()


def test_rolling_the_hook_under_load_causes_no_sync_error(control_plane, namespace, fleet):
    cp, ns = control_plane, namespace
    items = [{"apiVersion": "mcp.example.com/v1alpha1", "kind": "MCPServer",
              "metadata": {"name": f"d-{i:02d}", "namespace": ns},
              "spec": {"image": "mcp-k8s-server:drain", "port": 3001, "replicas": 1,
                       "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}} for i in range(SERVERS)]
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    wait_for(lambda: all(is_ready(cp, ns, f"d-{i:02d}") for i in range(SERVERS)), timeout=240, interval=2,
             what=f"{SERVERS} MCPServers Ready")

    pods, lock = fleet["pods"], fleet["lock"]
    baseline = sum(hook_sync_calls(p.server.url) for p in pods)
    started = time.monotonic()
    retired: list[HookPod] = []
    for _ in range(ROLLOUTS):
        for _ in range(REPLICAS):  # maxSurge 1, maxUnavailable 0: new pod Ready, then one old one goes
            new = HookPod(fleet["container"], fleet["logs"], next(fleet["counter"]))
            with lock:
                pods.append(new)
            wait_for(lambda new=new: new.ready, timeout=60, interval=0.2, what="new hook pod ready")
            old = next(p for p in pods if not p.terminating and p is not new and p not in retired)
            old.delete(lock)
            retired.append(old)
    elapsed = time.monotonic() - started

    events = kget(cp, "events", "-n", ns)["items"]
    errors = [f"{e['involvedObject']['name']}: {e['message']}" for e in events if e.get("reason") == "SyncError"]
    assert not errors, f"{len(errors)} SyncError events during {ROLLOUTS} rollouts: {errors[:5]}"
    live = [p for p in pods if p not in retired]
    answered = sum(p.calls for p in retired) + sum(hook_sync_calls(p.server.url) for p in live) - baseline
    # The load was real: at least a third of the nominal one sync per server per second (a loaded
    # 2-core machine does not keep up with all of it).
    assert answered >= SERVERS * elapsed / 3, (answered, elapsed)
    mc_log = "\n".join(fleet["mc"].log_lines())
    assert "EOF" not in mc_log and "connection reset" not in mc_log
