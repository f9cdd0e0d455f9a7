"""Fixtures for end-to-end tests of the MCPServer hook through Metacontroller.

- `hook_server`: the hook under test as real gunicorn on a free loopback port, started with the
  production command `gunicorn -c python:mcp_operator_hook.gunicorn_conf
  "mcp_operator_hook.app:create_app()"` and GUNICORN_BIND=127.0.0.1:<port>.
- `mcp_crd`: crds/mcpservers.mcp.example.com.yaml applied (real schema + CEL validation).
- `metacontroller`: the real Metacontroller binary (tests/kube/metacontroller.py; its release CRDs are
  applied) running deploy/compositecontroller.yaml with its webhooks given as `url` pointing at
  hook_server, with `--apply-strategy` from `pytest --apply-strategy` (dynamic-apply by default,
  or server-side-apply); the fixture value has `.apply_strategy`, `.controller` and `.log_lines()`.
The hook is session-scoped; the controller is module-scoped (see its fixture).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e_hook.procs import (
    CC_FILE,
    REPO,
    Proc,
    apply_mcp_crd,
    start_hook_server,
    start_metacontroller,
    stop_metacontroller,
)


@pytest.fixture(scope="session")
def e2e_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="session")
def hook_server(e2e_logs):
    hs = start_hook_server(e2e_logs)
    yield hs
    hs.stop()


@pytest.fixture(scope="session")
def mcp_crd(control_plane):
    apply_mcp_crd(control_plane)


@pytest.fixture(scope="module")
def metacontroller(control_plane, mcp_crd, hook_server, e2e_logs, apply_strategy):
    """Module-scoped on purpose: it reconciles MCPServers in every namespace, so it must be gone
    before other test packages (tests/hook, tests/journey, ...) create MCPServers of their own."""
    if not CC_FILE.exists():
        pytest.skip(f"{CC_FILE.relative_to(REPO)} not present")
    mc = start_metacontroller(control_plane, hook_server.url, e2e_logs, qps=50, burst=100,
                              apply_strategy=apply_strategy)
    yield mc
    drain_finalizing(control_plane, mc)
    stop_metacontroller(control_plane, mc)


def drain_finalizing(cp, mc, timeout: float = 60) -> None:
    """Let the controller finish MCPServers that are being deleted (test namespaces are deleted
    with --wait=false) so none is left holding its finalizer once it stops."""
    import json
    import time

    fin = f"metacontroller.io/compositecontroller-{mc.controller['metadata']['name']}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = cp.kubectl("get", "mcpservers", "-A", "-o", "json", check=False)
        items = json.loads(res.stdout).get("items", []) if res.returncode == 0 else []
        if not [o for o in items if o["metadata"].get("deletionTimestamp")
                and fin in (o["metadata"].get("finalizers") or [])]:
            return
        time.sleep(0.5)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the tails of the hook and metacontroller logs to the report."""
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        for name in ("hook_server", "metacontroller"):
            proc = item.funcargs.get(name) if hasattr(item, "funcargs") else None
            if isinstance(proc, Proc) or hasattr(proc, "tail"):
                rep.sections.append((f"{name} log (tail)", proc.tail(80)))
