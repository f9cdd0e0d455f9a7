"""Processes for end-to-end runs: the hook under gunicorn, the real Metacontroller binary, and the
MCPServer CRD. Used by tests/e2e_hook/conftest.py and bench/fleet/run.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.kube import free_port
from tests.kube import stop_process
from tests.kube.metacontroller import MetacontrollerProcess, load_controllers, rewrite_hook_urls

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


def start_hook_server(log_dir: Path, workers: int = 2, threads: int = 4, port: int | None = None,
                      env: dict | None = None, name: str = "hook") -> HookServer:
    port = port or free_port()
    extra = env or {}
    env = dict(os.environ)
    env.update({"GUNICORN_BIND": f"127.0.0.1:{port}", "PORT": str(port),
                "GUNICORN_WORKERS": str(workers), "GUNICORN_THREADS": str(threads)})
    env.update(extra)
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    args = [gunicorn, "-c", "python:mcp_operator_hook.gunicorn_conf", "mcp_operator_hook.app:create_app()"]
    hs = HookServer(name, args, env, log_dir / f"{name}.log")
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


MetacontrollerProc = MetacontrollerProcess


def start_metacontroller(cp, hook_url: str, log_dir: Path, workers: int = 5, qps: float | None = None,
                         burst: int | None = None, cc_file: Path = CC_FILE,
                         apply_strategy: str | None = None) -> MetacontrollerProcess:
    """The real Metacontroller (tests/kube/metacontroller.py) running cc_file's CompositeControllers
    with their webhooks pointed at hook_url. `apply_strategy`: dynamic-apply (Metacontroller's
    default, client-side 3-way merge) or server-side-apply; default $MCP_METACONTROLLER_APPLY_STRATEGY
    or dynamic-apply."""
    ccs = [rewrite_hook_urls(cc, hook_url) for cc in load_controllers(cc_file)]
    if not ccs:
        raise RuntimeError(f"no CompositeController in {cc_file}")
    return MetacontrollerProcess.start(cp, ccs, log_dir / "metacontroller.log", workers=workers, qps=qps,
                                       burst=burst, apply_strategy=apply_strategy)


def stop_metacontroller(cp, mc: MetacontrollerProcess) -> None:
    mc.stop(cp)
