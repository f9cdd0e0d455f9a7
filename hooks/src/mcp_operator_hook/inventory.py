"""``status.server`` and the ToolsChanged condition from the observed inventory ConfigMap (pure).

The mcp-prober sidecar writes ``<name>-inventory`` (key ``inventory.json``; shape in
``mcp_prober.inventory``). The document comes from a pod, so it is treated as untrusted input:
every field is type-checked and clipped to the CRD's status schema bounds, anything else is
dropped. Same ConfigMap in, same status out: the only time in it is the prober's
``toolsChangedAt``, never the hook's clock.
"""

from __future__ import annotations

import json
import re

from . import constants as C
from . import prober as pr
from .status import Cond

COND_TOOLS_CHANGED = C.COND_TOOLS_CHANGED
R_TOOLS_CHANGED = "ToolsChanged"
R_TOOLS_UNCHANGED = "ToolsUnchanged"
R_NOT_REPORTED = "InventoryNotReported"
R_NOT_PROBED = "NotProbed"
R_MCP_HANDSHAKE_FAILED = "MCPHandshakeFailed"  # Ready=False: a pod's server does not speak MCP
PROBE_KEY_PREFIX = "probe."  # + pod name: the prober's failing verdict (mcp_prober.app)
MAX_PROBE_MESSAGE = 512

MAX_TOOLS = 64  # names in status.server.tools (toolCount counts all)
MAX_DIFF = 20  # names in toolsAdded/toolsRemoved/toolsModified
MAX_NAME = 128
MAX_FIELD = 256
MAX_CAPABILITIES = 32
_HASH = re.compile(r"^sha256:[0-9a-f]{64}$")
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def _str(value, limit: int = MAX_FIELD) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _names(value, limit: int, item_limit: int = MAX_NAME) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v[:item_limit] for v in value if isinstance(v, str) and v][:limit]


def observed_document(configmap: dict | None) -> dict | None:
    """The prober's document from the observed ConfigMap, or None (absent, empty, not ours)."""
    if not isinstance(configmap, dict):
        return None
    data = configmap.get("data")
    text = data.get(pr.INVENTORY_KEY) if isinstance(data, dict) else None
    if not isinstance(text, str):
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("toolsHash"), str) else None


def server_status(doc: dict | None) -> dict | None:
    """``status.server``: identity, protocol version, capabilities and the tool inventory."""
    if doc is None:
        return None
    out: dict = {}
    server = doc.get("server") if isinstance(doc.get("server"), dict) else {}
    for key in ("name", "version", "title"):
        if (v := _str(server.get(key))) is not None:
            out[key] = v
    if (v := _str(doc.get("protocolVersion"), 64)) is not None:
        out["protocolVersion"] = v
    out["capabilities"] = sorted(set(_names(doc.get("capabilities"), MAX_CAPABILITIES, 64)))
    tools = sorted(set(_names(doc.get("tools"), 10_000)))[:MAX_TOOLS]
    count = doc.get("toolCount")
    out["toolCount"] = count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else len(tools)
    out["tools"] = tools
    if _HASH.match(doc["toolsHash"]):
        out["toolsHash"] = doc["toolsHash"]
    if isinstance(doc.get("toolsChangedAt"), str) and _TIME.match(doc["toolsChangedAt"]):
        out["toolsChangedAt"] = doc["toolsChangedAt"]
    if isinstance(doc.get("previousToolsHash"), str) and _HASH.match(doc["previousToolsHash"]):
        out["previousToolsHash"] = doc["previousToolsHash"]
        for key in ("toolsAdded", "toolsRemoved", "toolsModified"):
            names = _names(doc.get(key), MAX_DIFF)
            if names:
                out[key] = names
    return out


def tools_condition(name: str, spec: dict | None, server: dict | None) -> Cond:
    """ToolsChanged: True once a rollout (or the running server) changed the tool set, with what
    changed; False while the set is the one first reported; Unknown before any report.
    ``spec`` None: invalid, so whether a prober runs is not judged."""
    if server is None and spec is not None and not pr.enabled(spec):
        return Cond(COND_TOOLS_CHANGED, "Unknown", R_NOT_PROBED,
                    "the tool inventory is probed for HTTP-exposed servers only")
    if server is None:
        return Cond(COND_TOOLS_CHANGED, "Unknown", R_NOT_REPORTED,
                    f"no pod has reported its tools yet (the {pr.PROBER_CONTAINER} sidecar writes ConfigMap "
                    f"{pr.inventory_name(name)} after its first successful MCP handshake and tools/list)")
    at = server.get("toolsChangedAt", "an unknown time")
    count = server["toolCount"]
    if "previousToolsHash" not in server:
        return Cond(COND_TOOLS_CHANGED, "False", R_TOOLS_UNCHANGED,
                    f"{count} tools, unchanged since first reported at {at}")
    parts = [f"{label} {', '.join(server[key])}" for key, label in
             (("toolsAdded", "added"), ("toolsRemoved", "removed"), ("toolsModified", "modified")) if server.get(key)]
    detail = "; ".join(parts) or "tool definitions changed"
    return Cond(COND_TOOLS_CHANGED, "True", R_TOOLS_CHANGED, f"tool set changed at {at}: {detail} (now {count} tools)")


def probe_failures(configmap: dict | None, pods: list[dict] | None) -> list[tuple[str, str]]:
    """(pod, message) of every live pod whose prober reports that its server does not speak MCP,
    sorted by pod. Records of pods that no longer exist are ignored (``pods`` None: the pods
    are unknown, so no record is trusted)."""
    if not isinstance(configmap, dict) or not isinstance(configmap.get("data"), dict) or pods is None:
        return []
    live = {p["metadata"]["name"] for p in pods if isinstance(p, dict) and isinstance(p.get("metadata"), dict)
            and isinstance(p["metadata"].get("name"), str) and not p["metadata"].get("deletionTimestamp")}
    out = []
    for key, text in sorted(configmap["data"].items()):
        pod = key[len(PROBE_KEY_PREFIX):] if isinstance(key, str) and key.startswith(PROBE_KEY_PREFIX) else None
        if pod not in live or not isinstance(text, str):
            continue
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("ready") is False and isinstance(record.get("message"), str):
            out.append((pod, " ".join(record["message"].split())[:MAX_PROBE_MESSAGE]))
    return out


def mcp_not_ready(failures: list[tuple[str, str]], spec: dict) -> Cond | None:
    """The Ready condition while a pod's server answers its prober with something that is not MCP
    (the pod is unready then too: the prober's /readyz is its readinessProbe)."""
    if not failures:
        return None
    pod, message = failures[0]
    where = f" (port {spec['port']}, path {pr.mcp_path(spec)})" if isinstance(spec.get("port"), int) else ""
    more = f" (and {len(failures) - 1} more pod(s))" if len(failures) > 1 else ""
    return Cond(C.COND_READY, "False", R_MCP_HANDSHAKE_FAILED,
                f"MCP handshake with the server in pod {pod}{where} fails: {message}{more}")


def strip_reported(obj: dict, name: str) -> dict:
    """A kept inventory ConfigMap (invalid-spec path) without the prober's data: the hook never
    asserts data it did not render, so the apply cannot take the prober's field over."""
    if obj.get("kind") == "ConfigMap" and obj.get("metadata", {}).get("name") == pr.inventory_name(name):
        return {k: v for k, v in obj.items() if k not in ("data", "binaryData")}
    return obj
