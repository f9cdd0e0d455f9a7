"""Stopping child processes the way a kubelet stops containers: SIGTERM, a grace period, SIGKILL."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen, grace: float = 15) -> int | None:
    """Stops ``proc`` (if still running) and returns its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode
