"""Processes for end-to-end runs: the hook under gunicorn, Metacontroller (stand-in or real binary),
and the MCPServer CRD. Used by tests/e2e_hook/conftest.py and bench/fleet/run.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from tests.kube import free_port
from tests.metacontroller import CRDS_DIR, load_controllers, rewrite_hook_urls
from tests.kube import stop_process

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "crds" / "mcpservers.mcp.example.com.yaml"
CC_FILE = REPO / "deploy" / "compositecontroller.yaml"


class Proc:
    def __init__(self, name: str, args: list[str], env: dict, log_path: Path, cwd: Path = REPO):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.p = subprocess.Popen(args, env=env, cwd=str(cwd), stdout=self.log, stderr=subprocess.STDOUT,
                                  start_new_session=True)

    def alive(self) -> bool:
        return self.p.poll() is None

    def tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, grace: float = 15) -> int | None:
        code = stop_process(self.p, grace)
        self.log.close()
        return code


class HookServer(Proc):
    url: str


def start_hook_server(log_dir: Path, workers: int = 2, threads: int = 4, port: int | None = None) -> HookServer:
    port = port or free_port()
    env = dict(os.environ)
    env.update({"GUNICORN_BIND": f"127.0.0.1:{port}", "PORT": str(port),
                "GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": str(threads)})
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    args = [gunicorn, "-c", "python:mcp_operator_hook.gunicorn_conf", "mcp_operator_hook.app:create_app()"]
    hs = HookServer("hook", args, env, log_dir / "hook.log")
    hs.url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not hs.alive():
            raise RuntimeError(f"gunicorn exited ({hs.p.returncode}):\n{hs.tail()}")
        try:
            with urllib.request.urlopen(hs.url + "/readyz", timeout=2) as r:
                if r.status == 200:
                    return hs
        except OSError:
            time.sleep(0.2)
    hs.stop()
    raise RuntimeError(f"hook server not ready on {hs.url}:\n{hs.tail()}")


def apply_mcp_crd(cp) -> None:
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_FILE))
    cp.kubectl("wait", "--for=condition=Established", "crd/mcpservers.mcp.example.com", "--timeout=60s")
    # Established precedes discovery: wait until kubectl resolves the short name
    deadline = time.monotonic() + 30
    while cp.kubectl("get", "mcps", "-A", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError("mcps not discoverable 30s after the CRD was established")
        time.sleep(0.3)


class MetacontrollerProc(Proc):
    real: bool
    controller: dict


def start_metacontroller(cp, hook_url: str, log_dir: Path, workers: int = 5, qps: float | None = None,
                         burst: int | None = None, cc_file: Path = CC_FILE) -> MetacontrollerProc:
    """Run the stand-in (default) or METACONTROLLER_BIN against the cluster, hooks at hook_url."""
    ccs = [rewrite_hook_urls(cc, hook_url) for cc in load_controllers(cc_file)]
    if not ccs:
        raise RuntimeError(f"no CompositeController in {cc_file}")
    binary = os.environ.get("METACONTROLLER_BIN")
    rate = []
    if qps is not None:
        rate += ["--client-go-qps", str(qps)]
    if burst is not None:
        rate += ["--client-go-burst", str(burst)]
    if binary:
        cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRDS_DIR))
        for crd in ("compositecontrollers", "decoratorcontrollers", "controllerrevisions"):
            cp.kubectl("wait", "--for=condition=Established", f"crd/{crd}.metacontroller.k8s.io", "--timeout=60s")
        for cc in ccs:
            cp.kubectl("apply", "-f", "-", input=json.dumps(cc))
        args = [binary, f"--kubeconfig={cp.kubeconfig}", "--discovery-interval=2s",
                f"--workers={workers}", "--metrics-address=0", "--health-probe-bind-address=0",
                "--zap-log-level=4", *rate]
    else:
        cc_path = log_dir / "compositecontroller.local.yaml"
        cc_path.write_text(yaml.safe_dump_all(ccs))
        args = [sys.executable, "-m", "tests.metacontroller", "--kubeconfig", cp.kubeconfig,
                "--controller", str(cc_path), "--workers", str(workers), "--discovery-interval", "2", "-v",
                *rate]
    mc = MetacontrollerProc("metacontroller", args, cp.env(), log_dir / "metacontroller.log")
    mc.real = bool(binary)
    mc.controller = ccs[0]
    time.sleep(0.5)
    if not mc.alive():
        raise RuntimeError(f"metacontroller exited:\n{mc.tail()}")
    return mc


def stop_metacontroller(cp, mc: MetacontrollerProc) -> None:
    mc.stop()
    if mc.real:
        cp.kubectl("delete", "compositecontroller", mc.controller["metadata"]["name"], "--ignore-not-found",
                   check=False)
