"""status.server on a real kube-apiserver: every field the hook derives from an inventory survives
the CRD's status schema unchanged (nothing pruned), and `kubectl get mcps` shows the Tools column."""

from __future__ import annotations

import json

from mcp_operator_hook import constants as C
from mcp_operator_hook.sync import sync
from mcp_prober import inventory as pinv

from .helpers import CRD_PATH, parent, request
from .test_hook_inventory import observation, rolled_out_with, tool


def test_inventory_status_round_trips_and_shows_in_the_tools_column(control_plane, namespace):
    cp = control_plane
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_PATH))
    cp.kubectl("wait", "--for=condition=Established", f"crd/{C.CRD_NAME}", "--timeout=60s")
    first, _ = pinv.merge(None, observation(tool("a"), tool("b")), "2026-01-01T00:00:00Z")
    doc, _ = pinv.merge(first, observation(tool("a"), tool("b", "v2"), tool("c"), version="2.0.0"),
                        "2026-01-02T00:00:00Z")
    p = parent(name="srv", namespace=namespace)
    p["metadata"].pop("uid")
    p["metadata"].pop("generation")
    cp.kubectl("apply", "-f", "-", input=json.dumps(p))
    stored = json.loads(cp.kubectl("get", "mcps", "srv", "-n", namespace, "-o", "json").stdout)
    status = sync(request(stored, rolled_out_with(stored, doc)))["status"]
    assert status["server"]["toolCount"] == 3 and status["server"]["toolsAdded"] == ["c"]
    cp.kubectl("patch", "mcps", "srv", "-n", namespace, "--subresource=status", "--type=merge",
               "-p", json.dumps({"status": status}))
    got = json.loads(cp.kubectl("get", "mcps", "srv", "-n", namespace, "-o", "json").stdout)
    assert got["status"] == status, "the status schema pruned or changed a field the hook writes"
    header, row = cp.kubectl("get", "mcps", "srv", "-n", namespace).stdout.splitlines()
    assert header.split()[5] == "TOOLS" and row.split()[5] == "3"
