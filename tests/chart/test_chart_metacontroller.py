"""The chart's bundled Metacontroller (metacontroller.bundled.*), rendered by real helm: scoping,
least-privilege RBAC from the one resource list, HA, probes, security, pins and the CRD copy.
That it really runs (its RBAC enough, its args right) is proven by the journey (tests/journey),
which runs the chart's Metacontroller pod as the real binary with its ServiceAccount's token."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.chart.chartlib import CHART, REPO, by_kind, one, render, tool

pytestmark = pytest.mark.skipif(tool("helm") is None, reason="helm not built (scripts/build-tools.sh helm)")

BUNDLED = ("metacontroller.bundled.enabled=true",)
MC = "mcp-mcp-operator-metacontroller"


def versions_env() -> dict[str, str]:
    out = {}
    for line in (REPO / "tools" / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            k, v = line.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def mc_objects(docs):
    return [d for d in docs if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "metacontroller"]


def container(docs) -> dict:
    (dep,) = [d for d in mc_objects(docs) if d["kind"] == "Deployment"]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    return c


def flags(c: dict) -> dict[str, str]:
    return dict((a.split("=", 1) + [""])[:2] for a in c["args"])


def test_off_by_default():
    assert mc_objects(render()) == []


def test_scoped_to_this_release_compositecontroller():
    docs = render(sets=BUNDLED)
    cc = one(docs, "CompositeController")
    selector = flags(container(docs))["--target-label-selector"]
    key, value = selector.split("=")
    assert cc["metadata"]["labels"][key] == value == "mcp-mcp-operator"
    # another release gets another scope
    other = render(sets=BUNDLED, release="blue")
    assert flags(container(other))["--target-label-selector"] != selector


def test_image_pinned_with_the_built_binary():
    c = container(render(sets=BUNDLED))
    assert c["image"] == f"ghcr.io/metacontroller/metacontroller:{versions_env()['METACONTROLLER_VERSION']}"
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["metacontroller"]["bundled"]["image"]["tag"] == versions_env()["METACONTROLLER_VERSION"]


def test_chart_carries_metacontroller_release_crds():
    from tests.kube.metacontroller import MetacontrollerMissing, crds_file

    try:
        release = crds_file()
    except MetacontrollerMissing:
        pytest.skip("metacontroller not built (scripts/build-tools.sh metacontroller)")
    assert (CHART / "crds" / "metacontroller-crds-v1.yaml").read_bytes() == release.read_bytes(), \
        "run scripts/sync-chart-crds.sh"


def _rules(docs):
    return one(docs, "ClusterRole", MC)["rules"]


def test_cluster_role_has_no_wildcard_and_no_secret_escalation():
    for sets in (BUNDLED, BUNDLED + ("metacontroller.bundled.highAvailability=true",)):
        for role in by_kind(render(sets=sets), "ClusterRole") + by_kind(render(sets=sets), "Role"):
            for rule in role["rules"]:
                assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"], (role["metadata"]["name"], rule)
                assert not {"bind", "escalate", "impersonate"} & set(rule["verbs"]), rule


def test_rbac_and_childresources_come_from_one_list():
    docs = render(sets=BUNDLED)
    granted = {(g, r): set(rule["verbs"]) for rule in _rules(docs) for g in rule["apiGroups"] for r in rule["resources"]}
    cc = one(docs, "CompositeController")
    for child in cc["spec"]["childResources"]:
        group = child["apiVersion"].split("/")[0] if "/" in child["apiVersion"] else ""
        assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= granted[(group, child["resource"])]
    parent = cc["spec"]["parentResource"]
    group = parent["apiVersion"].split("/")[0]
    assert {"get", "list", "watch", "update", "patch"} == granted[(group, parent["resource"])]
    assert {"update", "patch"} <= granted[(group, parent["resource"] + "/status")]
    # Metacontroller's own needs, and nothing else
    engine = {("metacontroller.k8s.io", "compositecontrollers"), ("metacontroller.k8s.io", "decoratorcontrollers"),
              ("metacontroller.k8s.io", "controllerrevisions"), ("apiextensions.k8s.io", "customresourcedefinitions"),
              ("", "namespaces"), ("", "events"), ("events.k8s.io", "events")}
    listed = {(g, r) for g, r in _documented_resources()}
    assert set(granted) - engine - {(group, parent["resource"] + "/status")} == listed
    assert granted[("apiextensions.k8s.io", "customresourcedefinitions")] == {"get", "list", "watch"}
    leader = one(docs, "Role", MC + "-leader-election")
    assert {r for rule in leader["rules"] for r in rule["resources"]} == {"leases", "events"}


def _documented_resources():
    """(group, resource) rows of the table in docs/chart-usage.md."""
    text = (REPO / "docs" / "chart-usage.md").read_text()
    block = text.split("<!-- metacontroller-resources")[1].split("<!-- /metacontroller-resources -->")[0]
    for m in re.finditer(r"^\| `([a-z]+)(?:\.([a-z0-9.]+))?`", block, re.M):
        yield (m.group(2) or "", m.group(1))


def test_docs_table_matches_the_resource_list():
    listed = yaml.safe_load(_resource_list_yaml())
    want = [((r["apiVersion"].split("/")[0] if "/" in r["apiVersion"] else ""), r["resource"]) for r in listed]
    assert sorted(_documented_resources()) == sorted(want)


def _resource_list_yaml() -> str:
    tpl = (CHART / "templates" / "_metacontroller.tpl").read_text()
    body = tpl.split('{{- define "mcp-operator.metacontroller.resources" -}}')[1].split("{{- end }}")[0]
    return body


def test_leader_election_always_and_ha_adds_replicas_and_pdb():
    single = render(sets=BUNDLED)
    f = flags(container(single))
    assert "--leader-election" in f and f["--leader-election-namespace"] == "mcp-system"
    assert f["--leader-election-id"] == MC
    assert one(single, "Deployment", MC)["spec"]["replicas"] == 1
    assert not [d for d in by_kind(single, "PodDisruptionBudget") if d["metadata"]["name"] == MC]
    ha = render(sets=BUNDLED + ("metacontroller.bundled.highAvailability=true",))
    dep = one(ha, "Deployment", MC)
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    pdb = one(ha, "PodDisruptionBudget", MC)
    assert pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]


def test_probes_ports_and_restricted_security():
    docs = render(sets=BUNDLED)
    c = container(docs)
    f = flags(c)
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert f["--health-probe-bind-address"] == f":{ports['health']}" and f["--metrics-address"] == f":{ports['metrics']}"
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    pod = one(docs, "Deployment", MC)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert pod["serviceAccountName"] == MC


def test_tuned_defaults_are_passed():
    f = flags(container(render(sets=BUNDLED)))
    values = yaml.safe_load((CHART / "values.yaml").read_text())["metacontroller"]["bundled"]
    assert f["--workers"] == str(values["workers"])
    assert f["--client-go-qps"] == str(values["clientGoQps"]) and f["--client-go-burst"] == str(values["clientGoBurst"])
    assert f["--apply-strategy"] == "dynamic-apply"
    f = flags(container(render(sets=BUNDLED + ("metacontroller.bundled.applyStrategy=server-side-apply",))))
    assert f["--apply-strategy"] == "server-side-apply"


def test_network_policy_admits_the_bundled_metacontroller():
    docs = render(sets=BUNDLED + ("hook.networkPolicy.enabled=true",))
    np = one(docs, "NetworkPolicy")
    peer = np["spec"]["ingress"][0]["from"][0]
    mc_labels = one(docs, "Deployment", MC)["spec"]["selector"]["matchLabels"]
    assert peer == {"podSelector": {"matchLabels": mc_labels}}
