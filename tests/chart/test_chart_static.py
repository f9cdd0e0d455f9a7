"""The chart, rendered offline with the real helm: structure, security, wiring, values docs/schema.

No cluster needed. `ct lint` (real ct + yamllint + yamale) runs here too.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.parse

import jsonschema
import pytest
import yaml

from tests.chart.chartlib import (
    CC_API,
    CHART,
    CI_VALUES,
    REPO,
    SM_API,
    by_kind,
    helm,
    one,
    render,
    tool,
    tool_env,
)

pytestmark = pytest.mark.skipif(tool("helm") is None, reason="helm not built (scripts/build-tools.sh helm)")

CRD_NAME = "mcpservers.mcp.example.com.yaml"


# --- CRD copy ---------------------------------------------------------------------------------
def test_chart_crd_is_byte_identical_to_top_level_crd():
    src = REPO / "crds" / CRD_NAME
    dst = CHART / "crds" / CRD_NAME
    assert src.exists(), "crds/ holds the source of truth"
    assert dst.read_bytes() == src.read_bytes(), "chart CRD drifted: run scripts/sync-chart-crds.sh"
    top = {p.name for p in (REPO / "crds").glob("*.yaml")}
    # plus Metacontroller's release CRDs (tests/chart/test_chart_metacontroller.py checks that copy)
    chart = {p.name for p in (CHART / "crds").glob("*.yaml")} - {"metacontroller-crds-v1.yaml"}
    assert top == chart


def test_sync_script_check_mode_agrees():
    r = subprocess.run(["bash", str(REPO / "scripts" / "sync-chart-crds.sh"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


# --- Chart.yaml -------------------------------------------------------------------------------
def test_chart_yaml_metadata():
    raw = (CHART / "Chart.yaml").read_text()
    meta = yaml.safe_load(raw)
    assert meta["apiVersion"] == "v2"
    assert meta["name"] == "mcp-operator"
    assert meta["kubeVersion"]
    assert 'appVersion: "' in raw, "appVersion must be quoted"
    assert isinstance(meta["appVersion"], str)
    assert meta["description"] and meta["sources"] and meta["keywords"]


# --- values: documentation and schema ---------------------------------------------------------
def _undocumented_keys(path):
    """Keys of values.yaml without a `# --` comment, except sections whose children are documented."""
    text = path.read_text()
    lines = text.splitlines()
    root = yaml.compose(text)
    missing = []

    def documented(line_no: int) -> bool:
        i = line_no - 1
        while i >= 0 and lines[i].strip().startswith("#"):
            if lines[i].strip().startswith("# --"):
                return True
            i -= 1
        return False

    def walk(node, prefix):
        for key_node, value_node in node.value:
            key = f"{prefix}{key_node.value}"
            is_section = isinstance(value_node, yaml.MappingNode) and value_node.value and not documented(key_node.start_mark.line)
            if is_section:
                walk(value_node, key + ".")
            elif not documented(key_node.start_mark.line):
                missing.append(key)

    walk(root, "")
    return missing


def test_every_value_is_documented():
    assert _undocumented_keys(CHART / "values.yaml") == []


def _schema():
    return json.loads((CHART / "values.schema.json").read_text())


@pytest.mark.parametrize("values_file", [CHART / "values.yaml", *CI_VALUES], ids=lambda p: p.name)
def test_values_files_match_schema(values_file):
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    override = yaml.safe_load(values_file.read_text()) or {}

    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) else v
        return a

    jsonschema.Draft7Validator(_schema()).validate(merge(values, override))


def test_schema_is_strict_and_covers_every_key():
    schema = _schema()
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    def resolve(node):
        while "$ref" in node:
            node = schema["definitions"][node["$ref"].rsplit("/", 1)[1]]
        return node

    def walk(val, node, path):
        node = resolve(node)
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{path or '<root>'} is not strict"
            for k, v in val.items():
                assert k in node["properties"], f"{path}{k} missing from values.schema.json"
                walk(v, node["properties"][k], f"{path}{k}.")

    walk(values, schema, "")


@pytest.mark.parametrize(
    "bad",
    [
        "hook.replicaCount=-1",
        "hook.typo=1",
        "compositeController.childUpdateMethod=Sometimes",
        "compositeController.webhook.externalUrl=not-a-url",
        "exampleMCPServer.transport=carrier-pigeon",
        "mcpServerRbac.namespaces[0]=Bad_Name",
    ],
)
def test_schema_rejects_bad_values(bad):
    r = helm("template", "t", str(CHART), "--set", bad, "--api-versions", CC_API, check=False)
    assert r.returncode != 0
    assert "schema" in r.stderr


# --- the Metacontroller prerequisite ----------------------------------------------------------
def test_fails_clearly_without_compositecontroller_api():
    r = helm("template", "t", str(CHART), check=False)
    assert r.returncode != 0
    assert "Metacontroller is not installed" in r.stderr
    assert "metacontroller.requireApi=false" in r.stderr


def test_check_can_be_skipped_for_offline_rendering():
    docs = render(sets=("metacontroller.requireApi=false",), api_versions=())
    assert one(docs, "CompositeController")


def test_servicemonitor_needs_its_api():
    r = helm("template", "t", str(CHART), "--api-versions", CC_API, "--set", "hook.serviceMonitor.enabled=true", check=False)
    assert r.returncode != 0 and "ServiceMonitor" in r.stderr
    docs = render(sets=("hook.serviceMonitor.enabled=true", "hook.serviceMonitor.labels.release=prom"), api_versions=(CC_API, SM_API))
    sm = one(docs, "ServiceMonitor")
    assert sm["spec"]["endpoints"][0]["path"] == "/metrics"
    assert sm["metadata"]["labels"]["release"] == "prom"


# --- every variant renders valid-looking objects ----------------------------------------------
@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.name)
def test_ci_variants_render(values_file):
    docs = render(values_file)
    assert docs
    for d in docs:
        assert d["apiVersion"] and d["kind"] and d["metadata"]["name"]
        assert len(d["metadata"]["name"]) <= 63
        labels = d["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/managed-by") == "Helm", d["metadata"]["name"]
        assert labels.get("app.kubernetes.io/instance") == "mcp"


def test_default_objects():
    docs = render()
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == sorted(
        ["ClusterRole", "ClusterRoleBinding", "CompositeController", "Deployment", "Job", "PodDisruptionBudget",
         "RoleBinding", "Service", "ServiceAccount"]
    )
    assert not by_kind(docs, "NetworkPolicy") and not by_kind(docs, "MCPServer")


# --- the hook Deployment ----------------------------------------------------------------------
def test_hook_deployment_is_hardened():
    dep = one(render(), "Deployment")
    spec = dep["spec"]
    assert spec["replicas"] == 2
    pod = spec["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 1001
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["resources"]["requests"] and c["resources"]["limits"]
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["image"] == "mcp-operator-hook:0.1.0"
    # selector labels are a subset of the pod labels and contain nothing version-like
    sel = spec["selector"]["matchLabels"]
    assert set(sel) == {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
    assert sel.items() <= spec["template"]["metadata"]["labels"].items()


def test_hook_scheduling_values_propagate():
    docs = render(CHART / "ci" / "full-values.yaml")
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["tolerations"][0]["key"] == "example.com/dedicated"
    assert "podAntiAffinity" in pod["affinity"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["GUNICORN_WORKERS"] == "3" and env["GUNICORN_THREADS"] == "8" and env["EXTRA_SETTING"] == "1"
    assert one(docs, "PodDisruptionBudget")["spec"] == {
        "minAvailable": 1,
        "selector": one(docs, "Deployment")["spec"]["selector"],
    }


def test_bridge_image_reaches_the_hook():
    pod = one(render(), "Deployment")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["MCP_BRIDGE_IMAGE"] == "mcp-bridge:0.1.0"  # the chart's appVersion, like the hook
    digest = "sha256:" + "b" * 64
    pod = one(render(sets=("bridge.image.repository=reg.example.com/mcp-bridge", f"bridge.image.digest={digest}")),
              "Deployment")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["MCP_BRIDGE_IMAGE"] == f"reg.example.com/mcp-bridge@{digest}"


def test_prober_image_reaches_the_hook():
    pod = one(render(), "Deployment")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["MCP_PROBER_IMAGE"] == "mcp-prober:0.1.0"  # the chart's appVersion, like the hook
    digest = "sha256:" + "c" * 64
    pod = one(render(sets=("prober.image.repository=reg.example.com/mcp-prober", f"prober.image.digest={digest}")),
              "Deployment")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["MCP_PROBER_IMAGE"] == f"reg.example.com/mcp-prober@{digest}"


def test_image_digest_wins_over_tag():
    digest = "sha256:" + "a" * 64
    dep = one(render(sets=(f"hook.image.digest={digest}", "hook.image.repository=reg.example/hook")), "Deployment")
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == f"reg.example/hook@{digest}"


def test_optional_resources_can_be_disabled():
    docs = render(sets=("hook.podDisruptionBudget.enabled=false",))
    assert not by_kind(docs, "PodDisruptionBudget")


# --- CompositeController wiring ---------------------------------------------------------------
def test_compositecontroller_calls_the_release_namespace_service():
    docs = render(namespace="any-namespace", release="blue")
    cc = one(docs, "CompositeController")
    svc = one(docs, "Service")
    assert "namespace" not in cc["metadata"], "CompositeController is cluster-scoped"
    assert cc["metadata"]["name"] == "blue-mcp-operator"
    spec = cc["spec"]
    assert spec["generateSelector"] is True
    assert spec["parentResource"] == {"apiVersion": "mcp.example.com/v1alpha1", "resource": "mcpservers"}
    assert [(c["apiVersion"], c["resource"], c["updateStrategy"]["method"]) for c in spec["childResources"]] == [
        ("apps/v1", "deployments", "InPlace"),
        ("v1", "services", "InPlace"),
        ("v1", "configmaps", "InPlace"),
        ("v1", "secrets", "InPlace"),
        ("rbac.authorization.k8s.io/v1", "roles", "InPlace"),
        ("rbac.authorization.k8s.io/v1", "rolebindings", "InPlace"),
    ]
    # No finalize hook by default: no Metacontroller finalizer to leave MCPServers stuck after uninstall.
    assert set(spec["hooks"]) == {"sync", "customize"}
    with_finalize = one(render(namespace="any-namespace", release="blue", sets=("compositeController.finalize=true",)),
                        "CompositeController")
    for hook, path in (("sync", "/sync"), ("finalize", "/finalize"), ("customize", "/customize")):
        wh = with_finalize["spec"]["hooks"][hook]["webhook"]
        assert wh["service"] == {
            "name": svc["metadata"]["name"],
            "namespace": "any-namespace",
            "port": svc["spec"]["ports"][0]["port"],
            "protocol": "http",
        }
        assert wh["path"] == path
        assert wh["timeout"] == "10s"


def test_compositecontroller_external_url_for_dev_loop():
    docs = render(CHART / "ci" / "external-hook-values.yaml")
    cc = one(docs, "CompositeController")
    assert cc["spec"]["hooks"] == {
        h: {"version": "v2", "webhook": {"url": f"http://192.0.2.10:8080/{h}", "timeout": "10s"}}
        for h in ("sync", "customize")
    }
    assert not by_kind(docs, "Deployment") and not by_kind(docs, "Service")


def test_hook_disabled_without_external_url_fails():
    r = helm("template", "t", str(CHART), "--api-versions", CC_API, "--set", "hook.enabled=false", check=False)
    assert r.returncode != 0 and "externalUrl" in r.stderr


def test_compositecontroller_matches_deploy_manifest():
    """The chart renders the same controller as deploy/compositecontroller.yaml (only the hook address differs)."""
    path = REPO / "deploy" / "compositecontroller.yaml"
    if not path.exists():
        pytest.skip("deploy/compositecontroller.yaml not written yet")
    ref = [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == "CompositeController"][0]
    cc = one(render(), "CompositeController")
    for key in ("generateSelector", "parentResource", "childResources"):
        assert cc["spec"][key] == ref["spec"][key], key
    assert set(cc["spec"]["hooks"]) == set(ref["spec"]["hooks"])
    for name, hook in ref["spec"]["hooks"].items():
        mine = cc["spec"]["hooks"][name]
        assert mine.get("version", "v1") == hook.get("version", "v1"), name
        ref_path = hook["webhook"].get("path") or urllib.parse.urlsplit(hook["webhook"]["url"].replace("${HOOK_BASE_URL}", "http://x")).path
        assert mine["webhook"]["path"] == ref_path, name
        assert mine["webhook"]["timeout"] == hook["webhook"].get("timeout", "10s"), name
    if "resyncPeriodSeconds" in ref["spec"]:
        assert cc["spec"]["resyncPeriodSeconds"] == ref["spec"]["resyncPeriodSeconds"]


# --- RBAC ---------------------------------------------------------------------------------------
def _rules(role):
    return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]}


READ = {("", r, v) for r in ("pods", "pods/log", "events") for v in ("get", "list", "watch")} | {
    ("events.k8s.io", "events", v) for v in ("get", "list", "watch")
}


def test_mcp_server_rbac_is_least_privilege_read_only_by_default():
    docs = render()
    role = one(docs, "ClusterRole", "mcp-mcp-operator-mcp-server")
    assert _rules(role) == READ
    nodes = one(docs, "ClusterRole", "mcp-mcp-operator-mcp-server-nodes")
    assert _rules(nodes) == {("", "nodes", v) for v in ("get", "list", "watch")}
    rb = one(docs, "RoleBinding")
    assert rb["metadata"]["namespace"] == "mcp-system"
    assert rb["roleRef"]["name"] == role["metadata"]["name"]
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "mcp-mcp-operator-mcp-server", "namespace": "mcp-system"}]
    assert not [b for b in by_kind(docs, "ClusterRoleBinding") if b["roleRef"]["name"] == role["metadata"]["name"]]


def test_mcp_server_rbac_write_mode_adds_only_pod_create_delete():
    docs = render(sets=("mcpServerRbac.readOnly=false",))
    role = one(docs, "ClusterRole", "mcp-mcp-operator-mcp-server")
    assert _rules(role) - READ == {("", "pods", "create"), ("", "pods", "delete")}


def test_no_role_touches_secrets_or_wildcards():
    for values_file in CI_VALUES:
        for role in by_kind(render(values_file), "ClusterRole"):
            # The bundled Metacontroller manages the Secret children the hook asks for (the bridge's
            # session key; tests/chart/test_chart_metacontroller.py holds it to the resource list).
            engine = role["metadata"]["labels"].get("app.kubernetes.io/component") == "metacontroller"
            for g, r, v in _rules(role):
                assert "*" not in (g, r, v), role["metadata"]["name"]
                assert r != "secrets" or engine, role["metadata"]["name"]


def test_mcp_server_rbac_per_namespace_service_accounts():
    docs = render(sets=("mcpServerRbac.namespaces={team-a,team-b}",))
    sas = {(d["metadata"]["namespace"], d["metadata"]["name"]) for d in by_kind(docs, "ServiceAccount")}
    assert ("team-a", "mcp-mcp-operator-mcp-server") in sas and ("team-b", "mcp-mcp-operator-mcp-server") in sas
    rbs = {d["metadata"]["namespace"]: d["subjects"][0]["namespace"] for d in by_kind(docs, "RoleBinding")}
    assert rbs == {"team-a": "team-a", "team-b": "team-b"}


def test_mcp_server_rbac_cluster_wide():
    docs = render(CHART / "ci" / "full-values.yaml")
    assert not by_kind(docs, "RoleBinding")
    crb = one(docs, "ClusterRoleBinding", "mcp-mcp-operator-mcp-server")
    assert crb["roleRef"]["name"] == "mcp-mcp-operator-mcp-server"


def test_aggregated_roles():
    docs = render()
    edit = one(docs, "ClusterRole", "mcp-mcp-operator-mcpservers-edit")
    view = one(docs, "ClusterRole", "mcp-mcp-operator-mcpservers-view")
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"] == "true"
    assert edit["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"] == "true"
    assert view["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-view"] == "true"
    assert ("mcp.example.com", "mcpservers", "create") in _rules(edit)
    assert ("mcp.example.com", "mcpservers/scale", "update") in _rules(edit)
    assert {v for _, _, v in _rules(view)} == {"get", "list", "watch"}


# --- NetworkPolicy, example, tests, NOTES -------------------------------------------------------
def test_network_policy_admits_only_metacontroller_and_helm_test():
    docs = render(sets=("hook.networkPolicy.enabled=true",))
    np = one(docs, "NetworkPolicy")
    assert np["spec"]["podSelector"] == one(docs, "Deployment")["spec"]["selector"]
    assert np["spec"]["egress"] == []
    (rule,) = np["spec"]["ingress"]
    peers = rule["from"]
    assert peers[0]["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "metacontroller"}}
    assert "podSelector" in peers[0]
    assert peers[1] == {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "mcp-operator",
                                                         "app.kubernetes.io/instance": "mcp",
                                                         "app.kubernetes.io/component": "test"}}}
    assert len(peers) == 2


def test_example_mcpserver_uses_the_rbac_service_account():
    mcps = one(render(CHART / "ci" / "full-values.yaml"), "MCPServer")
    assert mcps["metadata"]["namespace"] == "mcp-system"
    assert mcps["spec"]["serviceAccount"] == "mcp-mcp-operator-mcp-server"
    assert mcps["spec"]["config"]["LOG_LEVEL"] == "info"
    assert mcps["spec"]["transport"] == "streamable-http"


def test_helm_test_job():
    job = one(render(), "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = job["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "http://mcp-mcp-operator.mcp-system.svc:80" in script
    assert "/healthz" in script and "/readyz" in script and "/sync" in script


# --- chart-testing ------------------------------------------------------------------------------
@pytest.mark.skipif(tool("ct") is None or tool("yamllint") is None or tool("yamale") is None,
                    reason="ct, yamllint or yamale missing")
def test_ct_lint():
    r = subprocess.run([tool("ct"), "lint", "--config", "ct.yaml", "--charts", "charts/mcp-operator"],
                       capture_output=True, text=True, cwd=REPO, env=tool_env(), timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert "All charts linted successfully" in r.stdout + r.stderr
    for f in CI_VALUES:
        assert f.name in r.stdout + r.stderr


# --- Helm 4 ---------------------------------------------------------------------------------------
@pytest.mark.skipif(not os.environ.get("HELM4_BIN"), reason="set HELM4_BIN to a helm v4 binary to compare renders")
@pytest.mark.parametrize("values_file", CI_VALUES, ids=lambda p: p.name)
def test_helm4_renders_the_same_objects(values_file, tmp_path):
    """Helm 4 (e.g. `go install helm.sh/helm/v4/cmd/helm@v4.3.1`) renders exactly what Helm 3 does."""
    env = tool_env({"HELM_CACHE_HOME": str(tmp_path / "c"), "HELM_CONFIG_HOME": str(tmp_path / "g"),
                    "HELM_DATA_HOME": str(tmp_path / "d")})
    r = subprocess.run([os.environ["HELM4_BIN"], "template", "mcp", str(CHART), "--namespace", "mcp-system",
                        "-f", str(values_file), "--api-versions", CC_API, "--kube-version", "1.37.0"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert [d for d in yaml.safe_load_all(r.stdout) if d] == render(values_file)


def test_mcp_server_rbac_caller_identity_mode_has_no_data_access():
    """callerIdentity: tokenreviews create + impersonate on the listed callers; no pod/event/node rules."""
    docs = render(sets=("mcpServerRbac.callerIdentity.enabled=true",
                        "mcpServerRbac.callerIdentity.serviceAccounts[0].namespace=agents",
                        "mcpServerRbac.callerIdentity.serviceAccounts[0].names={triage-bot}",
                        "mcpServerRbac.callerIdentity.serviceAccounts[1].namespace=ci",
                        "mcpServerRbac.callerIdentity.users={oidc:alice}",
                        "mcpServerRbac.callerIdentity.groups={oidc:sre}",
                        "mcpServerRbac.callerIdentity.servers={mcp-system/k8s}"))
    names = {d["metadata"]["name"] for d in by_kind(docs, "ClusterRole")}
    assert "mcp-mcp-operator-mcp-server" not in names and "mcp-mcp-operator-mcp-server-nodes" not in names
    role = one(docs, "ClusterRole", "mcp-mcp-operator-mcp-server-identity")
    assert role["rules"] == [
        {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
        {"apiGroups": ["authentication.k8s.io"], "resources": ["userextras/mcp.example.com/server"],
         "verbs": ["impersonate"], "resourceNames": ["mcp-system/k8s"]},
        {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["oidc:alice"]},
        {"apiGroups": [""], "resources": ["groups"], "verbs": ["impersonate"], "resourceNames": ["oidc:sre"]},
    ]
    crb = one(docs, "ClusterRoleBinding", "mcp-mcp-operator-mcp-server-identity")
    assert crb["subjects"] == [{"kind": "ServiceAccount", "name": "mcp-mcp-operator-mcp-server", "namespace": "mcp-system"}]
    roles = {d["metadata"]["namespace"]: d["rules"] for d in by_kind(docs, "Role")}
    assert roles == {
        "agents": [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"], "resourceNames": ["triage-bot"]}],
        "ci": [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}],
    }
    rbs = {d["metadata"]["namespace"]: d for d in by_kind(docs, "RoleBinding")}
    assert set(rbs) == {"agents", "ci"} and all(b["roleRef"]["kind"] == "Role" for b in rbs.values())
    assert ("mcp-system", "mcp-mcp-operator-mcp-server") in {
        (d["metadata"]["namespace"], d["metadata"]["name"]) for d in by_kind(docs, "ServiceAccount")}
