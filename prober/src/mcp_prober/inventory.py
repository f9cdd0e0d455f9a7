"""What a probe found, as the inventory the operator shows in ``status.server`` (pure).

The stored inventory is one JSON document (ConfigMap key ``inventory.json``)::

    {"server": {"name": str, "version": str, "title"?: str},
     "protocolVersion": str, "capabilities": [str, ...],           # sorted capability keys
     "toolCount": int, "tools": [str, ...],                        # sorted, at most MAX_TOOL_NAMES
     "toolsHash": "sha256:<64 hex>",                               # over every tool's definition
     "toolHashes": {name: "<16 hex>"},                             # per tool, for the change diff
     "toolsChangedAt": RFC 3339,                                   # the prober's clock
     "previousToolsHash"?: str, "toolsAdded"?: [...], "toolsRemoved"?: [...], "toolsModified"?: [...]}

``toolsChangedAt`` moves only when ``toolsHash`` changes, so the hook that copies this into
status converges (same inventory, same status).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable

INVENTORY_KEY = "inventory.json"
MAX_TOOL_NAMES = 64  # names listed in status; toolCount and toolsHash always cover all tools
MAX_NAME = 128  # the MCP spec's tool name limit
MAX_DIFF_NAMES = 20  # names listed per kind of change (added/removed/modified)
MAX_FIELD = 256  # server name, version, title, protocol version


def canonical_json(obj: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 kept: the same value always hashes the same."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _clip(value: Any, limit: int = MAX_FIELD) -> str:
    return str(value)[:limit]


def tool_definition(tool: dict) -> dict:
    """What a tool *is* to a model: everything but ``_meta`` (which servers may vary per call)."""
    return {k: v for k, v in tool.items() if k != "_meta"}


def tool_hash(tool: dict) -> str:
    return hashlib.sha256(canonical_json(tool_definition(tool)).encode()).hexdigest()[:16]


def tools_hash(tools: Iterable[dict]) -> str:
    """``sha256:<hex>`` of the canonical JSON of all tool definitions, sorted by name."""
    defs = sorted((tool_definition(t) for t in tools), key=lambda t: str(t.get("name")))
    return "sha256:" + hashlib.sha256(canonical_json(defs).encode()).hexdigest()


@dataclass(frozen=True)
class Observation:
    """One successful probe: identity from initialize/discover, tools from tools/list
    (each a dict as the wire carries it, camelCase keys)."""

    server_name: str
    server_version: str
    server_title: str | None
    protocol_version: str
    capabilities: tuple[str, ...]
    tools: tuple[dict, ...]

    def document(self) -> dict:
        """The inventory without its history fields (toolsChangedAt and the diff)."""
        names = sorted({_clip(t.get("name"), MAX_NAME) for t in self.tools})
        server = {"name": _clip(self.server_name), "version": _clip(self.server_version)}
        if self.server_title:
            server["title"] = _clip(self.server_title)
        return {
            "server": server,
            "protocolVersion": _clip(self.protocol_version),
            "capabilities": sorted({_clip(c, 64) for c in self.capabilities}),
            "toolCount": len(self.tools),
            "tools": names[:MAX_TOOL_NAMES],
            "toolsHash": tools_hash(self.tools),
            "toolHashes": {_clip(t.get("name"), MAX_NAME): tool_hash(t) for t in self.tools},
        }


@dataclass(frozen=True)
class Change:
    """The tool set differs from the stored one."""

    previous_hash: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    modified: tuple[str, ...]
    previous_count: int
    count: int

    def message(self) -> str:
        parts = []
        for label, names in (("added", self.added), ("removed", self.removed), ("modified", self.modified)):
            if names:
                shown = ", ".join(names[:MAX_DIFF_NAMES])
                more = f" and {len(names) - MAX_DIFF_NAMES} more" if len(names) > MAX_DIFF_NAMES else ""
                parts.append(f"{label} {shown}{more}")
        detail = "; ".join(parts) or "tool definitions changed"
        return f"tool set changed ({self.previous_count} -> {self.count} tools): {detail}"


def parse_stored(text: str | None) -> dict | None:
    """The stored inventory, or None when absent or not one of ours (never raises)."""
    if not text:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("toolsHash"), str):
        return None
    return doc


def _bounded(names: list[str]) -> list[str]:
    return names[:MAX_DIFF_NAMES]


def merge(stored: dict | None, observed: Observation, now: str) -> tuple[dict, Change | None]:
    """The inventory to store after ``observed``, and the change (None on first report or when
    the tool set is the same). History fields are carried over unless the tool set changed."""
    doc = observed.document()
    if stored is None:
        doc["toolsChangedAt"] = now
        return doc, None
    if stored.get("toolsHash") == doc["toolsHash"]:
        for key in ("toolsChangedAt", "previousToolsHash", "toolsAdded", "toolsRemoved", "toolsModified"):
            if key in stored:
                doc[key] = stored[key]
        doc.setdefault("toolsChangedAt", now)
        return doc, None
    old = stored.get("toolHashes") if isinstance(stored.get("toolHashes"), dict) else {}
    new = doc["toolHashes"]
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    modified = sorted(n for n in set(new) & set(old) if new[n] != old[n])
    prev_count = stored.get("toolCount") if isinstance(stored.get("toolCount"), int) else len(old)
    change = Change(stored["toolsHash"], tuple(added), tuple(removed), tuple(modified), prev_count, doc["toolCount"])
    doc["toolsChangedAt"] = now
    doc["previousToolsHash"] = stored["toolsHash"]
    for key, names in (("toolsAdded", added), ("toolsRemoved", removed), ("toolsModified", modified)):
        if names:
            doc[key] = _bounded(names)
    return doc, change


def dumps(doc: dict) -> str:
    """The ConfigMap value: canonical, so an unchanged inventory is byte-identical."""
    return canonical_json(doc)
