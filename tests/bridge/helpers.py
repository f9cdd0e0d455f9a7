"""Runs a real ``mcp-bridge`` process on a loopback port for a test, and stops it."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.kube.controlplane import free_port
from tests.kube.mcp_servers import VENV_BIN, host_path
from tests.kube.process import stop_process

KEY = "test-session-key-0123456789abcdef"


def get_json(url: str, timeout: float = 5) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@contextlib.contextmanager
def bridge(command: list[str], *flags: str, key: str | None = KEY, port: int | None = None, wait_ready: bool = True, log_dir: Path | None = None):
    """Yields ``(base_url, proc)``; the MCP endpoint is ``base_url + "/mcp"``."""
    port = port or free_port()
    env = {**os.environ, "PATH": host_path(), "MCP_BRIDGE_ADVERTISE_ADDRESS": f"127.0.0.1:{port}"}
    env.pop("MCP_BRIDGE_SESSION_KEY", None)
    if key:
        env["MCP_BRIDGE_SESSION_KEY"] = key
    log_path = (log_dir or Path("/tmp")) / f"mcp-bridge-{port}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [str(VENV_BIN / "mcp-bridge"), "--host", "127.0.0.1", "--port", str(port), *flags, "--", *command],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while wait_ready:
            if proc.poll() is not None:
                raise RuntimeError(f"mcp-bridge exited {proc.returncode}: {log_path.read_text()[-2000:]}")
            try:
                status, body = get_json(base + "/readyz", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"mcp-bridge not ready: {log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        proc.log_path = log_path
        yield base, proc
    finally:
        stop_process(proc, grace=10)
        log.close()
        with contextlib.suppress(OSError):
            log_path.unlink()


def children(pid: int) -> list[int]:
    """Direct child pids of ``pid`` (Linux /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            out += [int(p) for p in (task / "children").read_text().split()]
    return out
