"""The hook's drain on real gunicorn: the chart's preStop (`python -m mcp_operator_hook.drain`)
flips readiness to 503 and makes every answer close its connection, so Metacontroller stops
reusing kept-alive connections to a pod that is about to stop; SIGTERM then exits cleanly.
Under load through the real Metacontroller: tests/e2e_hook/test_hook_drain.py."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time

import pytest

from mcp_operator_hook import drain
from tests.e2e_hook.procs import start_hook_server


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
