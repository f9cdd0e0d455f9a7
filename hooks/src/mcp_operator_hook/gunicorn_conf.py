"""gunicorn settings of the hook server (importable module).

Production command (container, tests and benchmark use exactly this):
    gunicorn -c python:mcp_operator_hook.gunicorn_conf "mcp_operator_hook.app:create_app()"

Environment (the Helm chart and tests/e2e_hook set these):
    GUNICORN_BIND        listen address, default 0.0.0.0:$PORT (exactly one address: gunicorn 27
                         adds rather than replaces when --bind is given twice, so set it here only)
    PORT                 port when GUNICORN_BIND is unset, default 8080
    GUNICORN_WORKERS     worker processes; else WEB_CONCURRENCY; default 2
    GUNICORN_THREADS     threads per worker (gthread worker), default 4
    GUNICORN_TIMEOUT     worker timeout seconds, default 30 (above Metacontroller's 10 s webhook timeout)
    GUNICORN_GRACEFUL_TIMEOUT  seconds to finish in-flight requests after SIGTERM, default 20
    MCP_HOOK_DRAIN_SECONDS  drain window of the preStop `python -m mcp_operator_hook.drain`,
                         default 10 (drain.py)
    MCP_HOOK_DRAIN_FILE  the draining flag shared by the workers; a fresh one per server is
                         created when unset
    GUNICORN_KEEPALIVE   keep-alive seconds, default 75 (Metacontroller reuses connections)
    GUNICORN_ACCESS_LOG  "-" (stdout, default), a file path, or "off"
    LOG_LEVEL            error-log level, default info
    PROMETHEUS_MULTIPROC_DIR  shared metrics directory of the workers; a temporary one is
                         created (and removed at exit) when unset
"""

from __future__ import annotations

import os
import shutil
import tempfile

from mcp_operator_hook.constants import DEFAULT_HOOK_PORT


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {raw}")
    return value


bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int_env('PORT', DEFAULT_HOOK_PORT)}"]
workers = max(1, _int_env("GUNICORN_WORKERS", _int_env("WEB_CONCURRENCY", 2)))
threads = max(1, _int_env("GUNICORN_THREADS", 4))
worker_class = "gthread"
timeout = _int_env("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int_env("GUNICORN_GRACEFUL_TIMEOUT", 20)
keepalive = _int_env("GUNICORN_KEEPALIVE", 75)
# The control socket wants a writable $HOME; containers run with a read-only root filesystem.
control_socket_disable = True
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
errorlog = "-"
_access = os.environ.get("GUNICORN_ACCESS_LOG", "-")
accesslog = None if _access == "off" else _access
logger_class = "mcp_operator_hook.gunicorn_logging.JsonLogger"
proc_name = "mcp-operator-hook"
# Hook requests are small; cap headers like the defaults but keep the body limit in the app.
limit_request_line = 8190

_created_multiproc_dir: str | None = None
_created_drain_dir: str | None = None


def on_starting(server):  # master, before any worker exists
    global _created_multiproc_dir, _created_drain_dir
    from mcp_operator_hook import drain

    if not os.environ.get(drain.DRAIN_FILE_ENV):  # per server: several may share one /tmp
        _created_drain_dir = tempfile.mkdtemp(prefix="mcp-hook-drain-")
        os.environ[drain.DRAIN_FILE_ENV] = os.path.join(_created_drain_dir, "draining")
    elif os.path.exists(os.environ[drain.DRAIN_FILE_ENV]):  # a previous run's flag
        os.unlink(os.environ[drain.DRAIN_FILE_ENV])
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        _created_multiproc_dir = tempfile.mkdtemp(prefix="mcp-hook-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = _created_multiproc_dir
    else:
        path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
        os.makedirs(path, exist_ok=True)
        for entry in os.listdir(path):  # stale files of a previous run would be summed in
            if entry.endswith(".db"):
                os.unlink(os.path.join(path, entry))


def pre_request(worker, req):  # worker, before the app sees the request
    # While draining, answer with `Connection: close` so the client stops reusing the connection
    # (gunicorn ignores a Connection header set by the app: hop-by-hop headers are its own).
    from mcp_operator_hook import drain

    if drain.draining():
        req.must_close = True


def child_exit(server, worker):  # master, after a worker exited
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    for path in (_created_multiproc_dir, _created_drain_dir):
        if path:
            shutil.rmtree(path, ignore_errors=True)
