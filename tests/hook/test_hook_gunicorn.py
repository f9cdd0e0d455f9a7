"""HTTP contract through real gunicorn on a free loopback port, started with the production command."""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mcp_operator_hook.sync import sync

from .helpers import EXAMPLES, load_example, parent, request
from tests.kube import free_port, stop_process

GUNICORN = str(Path(sys.executable).parent / "gunicorn")
PRODUCTION_COMMAND = [GUNICORN, "-c", "python:mcp_operator_hook.gunicorn_conf", "mcp_operator_hook.app:create_app()"]




class Server:
    def __init__(self, tmp: Path, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = tmp / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = tmp / "stdout.log", tmp / "stderr.log"
        e = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        e.update({"GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_WORKERS": "2",
                  "GUNICORN_THREADS": "2", "HOME": str(self.home), **env})
        self.proc = subprocess.Popen(PRODUCTION_COMMAND, env=e, stdout=self.out_path.open("wb"),
                                     stderr=self.err_path.open("wb"), start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.logs()
            try:
                if urllib.request.urlopen(self.url + "/readyz", timeout=2).status == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"gunicorn did not become ready:\n{self.logs()}")

    def logs(self) -> str:
        return self.out_path.read_text() + self.err_path.read_text()

    def post(self, path: str, body) -> tuple[int, dict]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def metrics(self) -> str:
        return urllib.request.urlopen(self.url + "/metrics", timeout=5).read().decode()

    def stop(self) -> int:
        return stop_process(self.proc, grace=30)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("gunicorn"))
    yield s
    s.stop()


def _strip_times(resp):
    for c in resp["status"]["conditions"]:
        c.pop("lastTransitionTime")
    return resp


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_sync_over_gunicorn(server, path):
    req = request(load_example(path), v2=True)
    code, body = server.post("/sync", req)
    assert code == 200
    assert _strip_times(body) == _strip_times(sync(req))


def test_bad_requests_over_gunicorn(server):
    code, body = server.post("/sync", b"{oops")
    assert code == 400 and "not valid JSON" in body["error"]
    code, body = server.post("/sync", {"parent": parent()})
    assert code == 400 and "children" in body["error"]
    code, body = server.post("/finalize", [])
    assert code == 400 and "JSON object" in body["error"]


def test_finalize_over_gunicorn(server):
    code, body = server.post("/finalize", request(parent(), [], finalizing=True))
    assert code == 200 and body["finalized"] is True and body["status"]["phase"] == "Terminating"


def _count(text: str, hook: str, code: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith("mcp_hook_requests_total{") and f'hook="{hook}"' in line and f'code="{code}"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_concurrent_requests_and_metrics_aggregate_across_workers(server):
    before = _count(server.metrics(), "sync", "200")
    req = request(parent(config={"a": "b"}))
    n = 60
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: server.post("/sync", req)[0], range(n)))
    assert results == [200] * n
    # each worker keeps its own counters; /metrics must sum all of them
    seen = {_count(server.metrics(), "sync", "200") for _ in range(6)}
    assert seen == {before + n}


def test_two_workers_run(server):
    children = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == server.proc.pid:
                children.append(d.name)
    assert len(children) == 2


def test_json_access_log_and_no_control_socket(server):
    server.post("/sync", request(parent()))
    time.sleep(0.2)
    lines = [json.loads(line) for line in server.out_path.read_text().splitlines() if line.startswith("{")]
    access = [rec for rec in lines if rec.get("type") == "access" and rec["path"] == "/sync"]
    assert access and {"ts", "method", "status", "duration_ms", "remote"} <= set(access[-1])
    assert all(isinstance(json.loads(line), dict) for line in server.err_path.read_text().splitlines() if line)
    assert not (server.home / ".gunicorn").exists()


def test_sigterm_shuts_down_gracefully(tmp_path):
    s = Server(tmp_path, GUNICORN_WORKERS="1")
    assert s.post("/sync", request(parent()))[0] == 200
    start = time.monotonic()
    assert s.stop() == 0
    assert time.monotonic() - start < 20
    assert "Shutting down: Master" in s.logs()


def test_config_reads_environment():
    code = ("import json, mcp_operator_hook.gunicorn_conf as c; print(json.dumps({k: getattr(c, k) for k in "
            "('bind','workers','threads','worker_class','timeout','graceful_timeout','keepalive',"
            "'control_socket_disable','accesslog','loglevel')}))")
    env = {**os.environ, "GUNICORN_BIND": "127.0.0.1:9999", "GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "5",
           "GUNICORN_TIMEOUT": "40", "GUNICORN_GRACEFUL_TIMEOUT": "7", "LOG_LEVEL": "WARNING"}
    got = json.loads(subprocess.check_output([sys.executable, "-c", code], env=env))
    assert got == {"bind": ["127.0.0.1:9999"], "workers": 3, "threads": 5, "worker_class": "gthread",
                   "timeout": 40, "graceful_timeout": 7, "keepalive": 75, "control_socket_disable": True,
                   "accesslog": "-", "loglevel": "warning"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("GUNICORN_")}
    env.update({"PORT": "8123", "WEB_CONCURRENCY": "4"})
    got = json.loads(subprocess.check_output([sys.executable, "-c", code], env=env))
    assert got["bind"] == ["0.0.0.0:8123"] and got["workers"] == 4 and got["timeout"] > 10
