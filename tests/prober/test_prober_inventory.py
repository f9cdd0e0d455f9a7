"""Pure parts of the prober: the inventory document, its hash, the change diff, settings."""

from __future__ import annotations

import pytest

from mcp_prober import config
from mcp_prober import inventory as inv


def tool(name, desc="d", meta=None, **props):
    t = {"name": name, "description": desc, "inputSchema": {"type": "object", "properties": props}}
    if meta:
        t["_meta"] = meta
    return t


def obs(*tools):
    return inv.Observation("s", "1", None, "2025-11-25", ("tools",), tuple(tools))


def test_hash_ignores_order_and_meta_but_not_definitions():
    a, b = tool("a"), tool("b", x={"type": "string"})
    assert inv.tools_hash([a, b]) == inv.tools_hash([b, a])
    assert inv.tools_hash([tool("a", meta={"trace": 1})]) == inv.tools_hash([tool("a", meta={"trace": 2})])
    assert inv.tools_hash([tool("a")]) != inv.tools_hash([tool("a", "other text")])
    assert inv.tools_hash([tool("a")]) != inv.tools_hash([tool("a", x={"type": "string"})])


def test_names_are_bounded_but_count_and_hash_cover_all():
    doc = obs(*(tool(f"t{i:03d}") for i in range(200))).document()
    assert doc["toolCount"] == 200 and len(doc["tools"]) == inv.MAX_TOOL_NAMES and doc["tools"][0] == "t000"
    assert len(doc["toolHashes"]) == 200


def test_first_report_then_same_set_keeps_history():
    first, change = inv.merge(None, obs(tool("a")), "T1")
    assert change is None and first["toolsChangedAt"] == "T1" and "previousToolsHash" not in first
    again, change = inv.merge(first, obs(tool("a")), "T2")
    assert change is None and again == first  # nothing moves: no write, status converges


def test_change_is_diffed_and_history_carried_until_the_next_change():
    first, _ = inv.merge(None, obs(tool("a"), tool("b"), tool("c")), "T1")
    second, change = inv.merge(first, obs(tool("a", "new"), tool("c"), tool("d")), "T2")
    assert (change.added, change.removed, change.modified) == (("d",), ("b",), ("a",))
    assert change.message() == "tool set changed (3 -> 3 tools): added d; removed b; modified a"
    assert second["toolsChangedAt"] == "T2" and second["previousToolsHash"] == first["toolsHash"]
    same, change = inv.merge(second, obs(tool("a", "new"), tool("c"), tool("d")), "T3")
    assert change is None and same == second


def test_version_bump_without_tool_change_is_not_a_tool_change():
    first, _ = inv.merge(None, obs(tool("a")), "T1")
    newer = inv.Observation("s", "2", None, "2025-11-25", ("tools",), (tool("a"),))
    doc, change = inv.merge(first, newer, "T2")
    assert change is None and doc["server"]["version"] == "2" and doc["toolsChangedAt"] == "T1"


@pytest.mark.parametrize("text", [None, "", "nope", "[]", '{"tools": []}'])
def test_foreign_or_empty_stored_documents_count_as_absent(text):
    assert inv.parse_stored(text) is None


def test_many_changes_are_bounded_in_the_message():
    first, _ = inv.merge(None, obs(), "T1")
    _, change = inv.merge(first, obs(*(tool(f"t{i:02d}") for i in range(30))), "T2")
    assert change.message().endswith("and 10 more")


@pytest.mark.parametrize("env,needle", [
    ({}, "MCP_PROBE_URL"),
    ({"MCP_PROBE_URL": "127.0.0.1:3001"}, "MCP_PROBE_URL"),
    ({"MCP_PROBE_URL": "http://x/mcp", "MCP_PROBER_PORT": "http"}, "MCP_PROBER_PORT"),
    ({"MCP_PROBE_URL": "http://x/mcp", "MCP_PROBE_INTERVAL": "0"}, "MCP_PROBE_INTERVAL"),
    ({"MCP_PROBE_URL": "http://x/mcp", "MCP_PROBE_TIMEOUT": "soon"}, "MCP_PROBE_TIMEOUT"),
    ({"MCP_PROBE_URL": "http://x/mcp", "MCP_INVENTORY_CONFIGMAP": "s-inventory"}, "POD_NAMESPACE"),
])
def test_bad_settings_exit_with_a_message(env, needle):
    with pytest.raises(SystemExit) as e:
        config.load(env)
    assert needle in str(e.value)


def test_settings_from_the_hooks_env():
    s = config.load({"MCP_PROBE_URL": "http://127.0.0.1:3001/mcp", "MCP_PROBER_PORT": "9465",
                     "MCP_INVENTORY_CONFIGMAP": "srv-inventory", "POD_NAME": "p", "POD_NAMESPACE": "ns"})
    assert (s.url, s.port, s.inventory, s.pod_name, s.namespace) == \
        ("http://127.0.0.1:3001/mcp", 9465, "srv-inventory", "p", "ns")
