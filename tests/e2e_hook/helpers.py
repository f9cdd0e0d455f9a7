"""Small polling/kubectl helpers shared by the end-to-end tests and the fleet benchmark."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from tests.kube import wait_for as _wait_for

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def kget(cp, *args) -> dict:
    return json.loads(cp.kubectl("get", "-o", "json", *args).stdout)


def exists(cp, *args) -> bool:
    return cp.kubectl("get", *args, check=False).returncode == 0


def wait_for(fn, timeout: float = 60.0, interval: float = 0.25, what: str = "condition"):
    """Polls through transient API errors (objects not created yet, conflicts)."""
    return _wait_for(fn, timeout, interval, what, retry_on=(Exception,))


def sample_files() -> list[Path]:
    out = []
    for f in sorted(EXAMPLES.glob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(f.read_text()) if d]
        if any(d.get("kind") == "MCPServer" for d in docs):
            out.append(f)
    return out


def load_sample(path: Path) -> dict:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "MCPServer"]
    assert len(docs) == 1, f"{path}: expected one MCPServer"
    return docs[0]


def mcp_status(cp, ns: str, name: str) -> dict:
    return kget(cp, "mcpserver", name, "-n", ns).get("status") or {}


def condition(status: dict, ctype: str) -> dict:
    return next((c for c in status.get("conditions") or [] if c.get("type") == ctype), {})


def is_ready(cp, ns: str, name: str):
    obj = kget(cp, "mcpserver", name, "-n", ns)
    st = obj.get("status") or {}
    if (st.get("phase") == "Ready" and condition(st, "Ready").get("status") == "True"
            and st.get("observedGeneration") == obj["metadata"]["generation"]):
        return obj
    return None


def hook_sync_calls(hook_url: str) -> int:
    """Sync requests the hook has answered so far (its Prometheus counter mcp_hook_requests_total)."""
    import re
    import urllib.request

    with urllib.request.urlopen(hook_url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("mcp_hook_requests_total{") and 'hook="sync"' in line:
            m = re.search(r"\}\s+([0-9.eE+]+)$", line)
            if m:
                total += float(m.group(1))
    return int(total)
