"""Shared fixtures: one local control plane per test session, a fresh namespace per test.

MCP_KEEP_CLUSTER=1 leaves the cluster running in .state/test-cluster for a fast next run
(it is reused while it answers); otherwise it is stopped and removed at the end of the session.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.kube import ControlPlane, temp_namespace

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def control_plane():
    keep = os.environ.get("MCP_KEEP_CLUSTER") == "1"
    state = REPO / ".state" / "test-cluster" if keep else Path(tempfile.mkdtemp(prefix="mcp-cluster-"))
    cp = ControlPlane(state)
    cp.start()
    yield cp
    if not keep:
        cp.stop()
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture
def namespace(control_plane):
    with temp_namespace(control_plane) as name:
        yield name


def pytest_collection_modifyitems(config, items):
    # Anything that touches the cluster is marked, so `-m "not cluster"` is a fast pure run.
    for item in items:
        if "control_plane" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


def pytest_addoption(parser):
    # The apply strategy the real Metacontroller runs with in the end-to-end tests and the journey
    # (tests/kube/metacontroller.py); the environment variable is the same switch for bench/ and demos.
    parser.addoption("--apply-strategy", choices=("dynamic-apply", "server-side-apply"),
                     default=os.environ.get("MCP_METACONTROLLER_APPLY_STRATEGY", "dynamic-apply"),
                     help="Metacontroller --apply-strategy for end-to-end tests (default: dynamic-apply, "
                          "its client-side 3-way merge; env MCP_METACONTROLLER_APPLY_STRATEGY)")


@pytest.fixture(scope="session")
def apply_strategy(request) -> str:
    """Metacontroller's --apply-strategy for this session (pytest --apply-strategy)."""
    return request.config.getoption("--apply-strategy")
