"""The hook's drain on real gunicorn: the chart's preStop (`python -m mcp_operator_hook.drain`)
flips readiness to 503 and makes every answer close its connection, so Metacontroller stops
reusing kept-alive connections to a pod that is about to stop; SIGTERM then exits cleanly.
test_rollout_under_keepalive_load shows the drain is needed: a pod stopped without it fails
Metacontroller's calls, with it none fails.
Under load through the real Metacontroller: tests/e2e_hook/test_hook_drain.py."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from mcp_operator_hook import drain
from tests.e2e_hook.procs import start_hook_server
from tests.hook.helpers import parent, request
from tests.hook.keepalive_client import CONNECTION_ERRORS, KeepAlivePool, Service


def test_drain_seconds_validation(monkeypatch):
    monkeypatch.setenv(drain.DRAIN_SECONDS_ENV, "")
    assert drain.drain_seconds() == drain.DEFAULT_DRAIN_SECONDS
    monkeypatch.setenv(drain.DRAIN_SECONDS_ENV, "-1")
    with pytest.raises(ValueError):
        drain.drain_seconds()


def test_drain_command_needs_the_flag_file():
    env = {k: v for k, v in os.environ.items() if k != drain.DRAIN_FILE_ENV}
    r = subprocess.run([sys.executable, "-m", "mcp_operator_hook.drain"], env=env, capture_output=True, text=True)
    assert r.returncode != 0 and drain.DRAIN_FILE_ENV in r.stderr


def _get(conn: http.client.HTTPConnection, path: str):
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    return resp.status, (resp.getheader("Connection") or "").lower()


@pytest.mark.slow
def test_prestop_flips_readiness_and_closes_connections(tmp_path):
    flag = tmp_path / "draining"
    env = {drain.DRAIN_FILE_ENV: str(flag), drain.DRAIN_SECONDS_ENV: "0.5"}
    hs = start_hook_server(tmp_path, workers=2, threads=2, env=env)
    try:
        port = int(hs.url.rsplit(":", 1)[1])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert _get(conn, "/readyz") == (200, "keep-alive")
        started = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "mcp_operator_hook.drain"], env={**os.environ, **env},
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - started >= 0.5  # it holds SIGTERM back for the drain window
        for _ in range(4):  # every worker sees it
            fresh = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            assert _get(fresh, "/readyz") == (503, "close")
            fresh.close()
        # a sync still answers (in-flight work is served), but closes its connection
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("POST", "/sync", body=json.dumps({"parent": {}}), headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status in (200, 400) and (resp.getheader("Connection") or "").lower() == "close"
    finally:
        code = hs.stop(grace=20)
    assert code == 0, hs.tail()


# The rollout timeline (seconds). Kubernetes removes a deleted pod from the Service's endpoints and
# runs its preStop at the same time; kube-proxy applies the removal KUBE_PROXY_LAG later. The drain
# window must outlast that lag (the chart's default is 10 s against seconds of lag in practice).
KUBE_PROXY_LAG = 1.0
DRAIN_WINDOW = 2.0
# Concurrent sync calls (Metacontroller's workers). Busy: above Go's 2 idle connections per host,
# so connections are closed and dialed all the time. Steady: the same connections are reused
# for the whole run, so only `Connection: close` takes one off the stopping pod.
BUSY, STEADY = 4, 2
THINK_TIME = 0.005  # a worker's own work between two hook calls (reads, applies): connections sit idle


def _hook_env(tmp_path, name):
    return {drain.DRAIN_FILE_ENV: str(tmp_path / f"{name}-draining"), drain.DRAIN_SECONDS_ENV: str(DRAIN_WINDOW),
            "GUNICORN_ACCESS_LOG": "off"}


@pytest.mark.slow
@pytest.mark.parametrize(("prestop", "callers"), [(False, BUSY), (True, BUSY), (True, STEADY)],
                         ids=["sigterm-only", "prestop-drain", "prestop-drain-steady"])
def test_rollout_under_keepalive_load(tmp_path, prestop, callers):
    """One hook pod of two is stopped while sync calls keep coming over kept-alive connections.

    Without the preStop (plain SIGTERM, what the kubelet sends when none is set) the pod stops while
    it is still an endpoint: calls on connections to it fail (reset / EOF / refused), which
    Metacontroller reports as SyncErrors. With the preStop, the pod keeps answering (each answer
    closing its connection) until it is out of rotation, then stops: no call fails, and no
    connection to it is left in the client's pool nor used after its SIGTERM. (Without the preStop,
    a steady client's failures depend on which pod its redials hit: not asserted.)"""
    old_env, new_env = _hook_env(tmp_path, "old"), _hook_env(tmp_path, "new")
    old = start_hook_server(tmp_path, workers=2, threads=2, env=old_env, name="old")
    new = start_hook_server(tmp_path, workers=2, threads=2, env=new_env, name="new")
    old_ep, new_ep = old.url.removeprefix("http://"), new.url.removeprefix("http://")
    service = Service([old_ep, new_ep])
    pool = KeepAlivePool(service)
    body = json.dumps(request(parent())).encode()
    done = threading.Event()
    answers: list[tuple[float, str, bool, int]] = []
    failures: list[tuple[float, BaseException]] = []
    unexpected: list[Exception] = []

    def caller():
        while not done.is_set():
            try:
                status, endpoint, reused = pool.post("/sync", body)
                answers.append((time.monotonic(), endpoint, reused, status))
                time.sleep(THINK_TIME)
            except CONNECTION_ERRORS as e:
                failures.append((time.monotonic(), e))
                time.sleep(0.01)  # a failed call is requeued with backoff, not hammered
            except Exception as e:  # anything else is a broken test, not a drain outcome
                unexpected.append(e)
                return

    threads = [threading.Thread(target=caller, daemon=True) for _ in range(callers)]
    old_code = None
    idle_at_sigterm: list[str] = []
    try:
        for t in threads:
            t.start()
        time.sleep(0.5)  # steady state: kept-alive connections to both pods in the pool
        assert {ep for _, ep, _, _ in answers} == {old_ep, new_ep} and not failures, failures[:3]
        # The pod is deleted: its endpoint goes away after the lag, in parallel with what the
        # kubelet does (preStop to its end, if any, then SIGTERM).
        stop_started = time.monotonic()
        kube_proxy = threading.Timer(KUBE_PROXY_LAG, service.remove, [old_ep])
        kube_proxy.start()
        if prestop:
            r = subprocess.run([sys.executable, "-m", "mcp_operator_hook.drain"], env={**os.environ, **old_env},
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r.stderr
        idle_at_sigterm = pool.idle_endpoints()
        sigterm_at = time.monotonic()
        old.p.send_signal(signal.SIGTERM)
        old_code = old.stop(grace=20)  # waits for the graceful exit that SIGTERM started
        kube_proxy.join()
        stopped = time.monotonic()
        time.sleep(0.5)  # calls keep flowing to the remaining pod
    finally:
        done.set()
        for t in threads:
            t.join(timeout=10)
        pool.close()
        if old_code is None:
            old.stop()
        new_code = new.stop(grace=20)
    assert old_code == 0 and new_code == 0, (old.tail(), new.tail())
    assert not unexpected, unexpected
    assert all(status == 200 for *_, status in answers), {a[3] for a in answers}
    during_stop = [a for a in answers if stop_started <= a[0] <= stopped]
    assert any(ep == new_ep for at, ep, _, _ in answers if at > stopped), "no call after the stop was answered"
    if not prestop:
        # The fault the drain exists for: calls go to a pod that stopped while still an endpoint.
        assert failures, (f"stopping a pod without the drain failed no call ({len(answers)} answered, "
                          f"idle connections at SIGTERM: {idle_at_sigterm}): the test cannot show the drain matters")
        assert all(old_ep in "".join(getattr(e, "__notes__", [])) for _, e in failures), failures[:3]
    else:
        assert not failures, [f"{type(e).__name__}: {e} {getattr(e, '__notes__', '')}" for _, e in failures[:5]]
        # The drain window really carried calls to the draining pod, and its `Connection: close`
        # answers left the client no kept-alive connection to it by SIGTERM.
        assert any(ep == old_ep for _, ep, _, _ in during_stop)
        assert old_ep not in idle_at_sigterm, idle_at_sigterm
        after_sigterm = [a for a in answers if a[0] > sigterm_at and a[1] == old_ep]
        assert not after_sigterm, f"{len(after_sigterm)} calls reached the pod after its SIGTERM"
    print(f"prestop={prestop} callers={callers}: {len(answers)} answered ({len(during_stop)} during the stop), "
          f"{len(failures)} failed: {[f'{type(e).__name__} ({e.__notes__[0]})' for _, e in failures]}; "
          f"idle at SIGTERM: {idle_at_sigterm}")
