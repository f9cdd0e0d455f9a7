"""Small polling/kubectl helpers shared by the end-to-end tests and the fleet benchmark."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


def kget(cp, *args) -> dict:
    return json.loads(cp.kubectl("get", "-o", "json", *args).stdout)


def exists(cp, *args) -> bool:
    return cp.kubectl("get", *args, check=False).returncode == 0


def wait_for(fn, timeout: float = 60.0, interval: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as exc:  # noqa: BLE001 - keep polling, report the last failure
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


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
