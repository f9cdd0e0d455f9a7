"""mcpServerRbac.extraReadRules: the kinds the generic read tools (resources-list/resources-get) may
read beyond pods and events, granted get/list/watch only; wildcards are refused by the schema."""

from __future__ import annotations

import pytest

from tests.chart.chartlib import helm, one, render, tool

pytestmark = pytest.mark.skipif(not tool("helm"), reason="helm not installed")


def _rules(role):
    return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


def test_extra_read_rules_grant_only_reads():
    base = _rules(one(render(), "ClusterRole", "mcp-mcp-operator-mcp-server"))
    docs = render(sets=("mcpServerRbac.extraReadRules[0].apiGroups[0]=apps",
                        "mcpServerRbac.extraReadRules[0].resources[0]=deployments",
                        "mcpServerRbac.extraReadRules[1].apiGroups[0]=mcp.example.com",
                        "mcpServerRbac.extraReadRules[1].resources[0]=mcpservers"))
    added = _rules(one(docs, "ClusterRole", "mcp-mcp-operator-mcp-server")) - base
    assert added == {(g, r, v) for g, r in (("apps", "deployments"), ("mcp.example.com", "mcpservers"))
                     for v in ("get", "list", "watch")}


@pytest.mark.parametrize("bad", ["mcpServerRbac.extraReadRules[0].resources[0]=*",
                                 "mcpServerRbac.extraReadRules[0].apiGroups[0]=*"])
def test_wildcards_are_refused(bad):
    other = bad.replace("resources[0]=*", "apiGroups[0]=apps") if "resources" in bad else bad.replace("apiGroups[0]=*", "resources[0]=pods")
    from tests.chart.chartlib import CHART
    r = helm("template", "x", str(CHART), "--set", "metacontroller.requireApi=false", "--set", bad, "--set", other, check=False)
    assert r.returncode != 0 and "extraReadRules" in r.stderr
