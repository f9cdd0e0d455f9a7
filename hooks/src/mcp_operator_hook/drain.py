"""Graceful drain of a hook pod, so that no Metacontroller call is cut off by a rollout.

Kubernetes stops a pod in parallel: it removes the pod from the Service's endpoints and runs its
preStop hook, then sends SIGTERM. Metacontroller (Go net/http) keeps connections alive and reuses
them; a connection that the stopping server closes under a request in flight fails as
`Post .../sync: EOF`, a SyncError. So the chart's preStop runs `python -m mcp_operator_hook.drain`
(an exec hook, not an HTTP endpoint: nobody who can reach the hook's port can make it unready):

1. it marks the pod draining: the file MCP_HOOK_DRAIN_FILE (the chart sets /tmp/draining; under
   gunicorn_conf a fresh one per server otherwise), seen by every gunicorn worker, so `/readyz`
   answers 503 and every response carries `Connection: close` (gunicorn_conf.pre_request): the
   client drops each kept-alive connection right after its answer instead of reusing it;
2. it waits MCP_HOOK_DRAIN_SECONDS (default 10), which holds SIGTERM back until the endpoints
   controller and kube-proxy have taken the pod out of rotation;
3. then the kubelet sends SIGTERM: gunicorn stops accepting and finishes in-flight requests within
   GUNICORN_GRACEFUL_TIMEOUT.

A file, not process memory, because gunicorn runs several worker processes.
"""

from __future__ import annotations

import os
import time

DRAIN_FILE_ENV = "MCP_HOOK_DRAIN_FILE"
DRAIN_SECONDS_ENV = "MCP_HOOK_DRAIN_SECONDS"
DEFAULT_DRAIN_SECONDS = 10.0


def drain_file() -> str | None:
    return os.environ.get(DRAIN_FILE_ENV) or None


def draining() -> bool:
    """Whether this server was asked to drain (one stat(2) per call)."""
    path = drain_file()
    return bool(path) and os.path.exists(path)


def drain_seconds() -> float:
    raw = os.environ.get(DRAIN_SECONDS_ENV, "").strip()
    value = float(raw) if raw else DEFAULT_DRAIN_SECONDS
    if value < 0:
        raise ValueError(f"{DRAIN_SECONDS_ENV} must be >= 0, got {raw}")
    return value


def start_draining(sleep=time.sleep) -> float:
    """Mark the server draining and wait out the drain window; returns the seconds waited.
    Without a drain file (not under gunicorn_conf) only the wait happens."""
    path = drain_file()
    if path:
        with open(path, "a"):
            pass
    seconds = drain_seconds()
    sleep(seconds)
    return seconds


if __name__ == "__main__":  # the preStop hook
    import sys

    if not drain_file():
        sys.exit(f"{DRAIN_FILE_ENV} is not set: nothing tells the server it is draining")
    print(f"draining for {start_draining():g}s", flush=True)
