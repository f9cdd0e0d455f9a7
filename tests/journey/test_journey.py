"""The whole user journey as one test, on a control plane of its own (the journey installs
cluster-scoped objects, so it does not share the session cluster with other suites)."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.journey.steps import Journey
from tests.kube import ControlPlane


@pytest.fixture
def own_control_plane():
    state = Path(tempfile.mkdtemp(prefix="mcp-journey-"))
    cp = ControlPlane(state).start()
    yield cp
    cp.stop()
    shutil.rmtree(state, ignore_errors=True)


@pytest.mark.cluster
@pytest.mark.slow
def test_user_journey(own_control_plane, apply_strategy):
    lines: list[str] = []
    results = Journey(own_control_plane, say=lines.append, apply_strategy=apply_strategy).run()

    assert results["endpoint"] == "http://basic-mcpserver.default.svc.cluster.local:3001/mcp"
    # The MCP client reached the server through kubectl port-forward svc/basic-mcpserver.
    assert {"create-pod", "delete-pod", "get-pod-logs", "list-pods", "describe-pod", "list-events"} <= set(results["tools"])
    pods = results["list_pods"].get("pods", results["list_pods"].get("items"))
    assert [p["name"] for p in pods] and all(p["name"].startswith("basic-mcpserver-") for p in pods)
    assert results["service_account"] == "mcp-operator-mcp-server"
    assert results["stdio_package_tools"] == ["convert_time", "get_current_time"]  # mcp-server-time via mcp-bridge
    assert results["stdio_package_answer"][:4].isdigit()
    assert results["scaled_deployment_replicas"] == 2
    assert results["helm_revision"] == 2 and results["upgraded_hook_replicas"] == 3
    assert results["leftovers"] == []
    # helm install alone: the chart's own Metacontroller ran (least-privilege RBAC, no wildcard)
    assert results["metacontroller_pods"]
    for rule in results["metacontroller_rules"]:
        assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"], rule
    refused = sorted({m.group(0) for line in results["metacontroller_forbidden"]
                      for m in [re.search(r'cannot \w+ resource \\*"[^"\\]+\\*"( in API group \\*"[^"\\]*\\*")?', line)] if m}
                     or results["metacontroller_forbidden"][:3])
    assert not refused, refused
    # helm uninstall with an MCPServer left: it and its namespace still delete, nothing stuck
    assert results["leftover_finalizers"] == [] and results["leftover_namespace_deleted"]
    assert any("tools/list" in line for line in lines)
