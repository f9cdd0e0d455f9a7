"""The CRD on a real kube-apiserver: installs within the CEL cost budget, admits and refuses exactly
what the hook's own validation admits and refuses, keeps every status field the hook writes, and
serves printer columns, explain and the scale subresource."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from mcp_operator_hook import constants as C
from mcp_operator_hook import spec as specmod
from mcp_operator_hook.sync import sync

from tests.kube import wait_for

from .helpers import CRD_PATH, EXAMPLES, load_example, request
from .test_hook_sync import rolled_out

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def crd(control_plane):
    control_plane.kubectl("apply", "-f", str(CRD_PATH))
    # kubectl wait fails rather than waits while a just-applied CRD has no status.conditions yet
    wait_for(lambda: control_plane.kubectl("wait", "--for=condition=Established", f"crd/{C.CRD_NAME}",
                                           "--timeout=60s", check=False).returncode == 0,
             timeout=60, what="the MCPServer CRD to be Established")
    return control_plane


def obj(name="srv", namespace="default", **spec):
    return {"apiVersion": C.API_VERSION, "kind": C.KIND, "metadata": {"name": name, "namespace": namespace},
            "spec": {"image": "mcp-k8s-server:1", **spec}}


def _patched(patch: dict) -> dict:
    o = obj()
    for k, v in patch.items():
        if v is None:
            o["spec"].pop(k, None)
        else:
            o["spec"][k] = v
    return o


NPM = {"registry": "npm", "name": "@modelcontextprotocol/server-everything", "version": "2026.8.31"}
PYPI = {"registry": "pypi", "name": "mcp-server-time", "version": "2026.10.19"}
STDIO_PKG = {"transport": "stdio", "package": PYPI}
_S = {"secretName": "s"}
_REQ = "requiredDuringSchedulingIgnoredDuringExecution"


def _node_expr(**expr) -> dict:
    return {"affinity": {"nodeAffinity": {_REQ: {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/arch", **expr}]}]}}}}


def _anti(**expr) -> dict:
    return {"affinity": {"podAntiAffinity": {_REQ: [{"topologyKey": "kubernetes.io/hostname", "labelSelector": {
        "matchExpressions": [{"key": "app", **expr}]}}]}}}


# Core-type fields the apiserver would refuse only in the Deployment (a SyncError Event, nothing in
# the status): the CRD refuses them at admission, with the same words the hook reports.
SCHEDULING_CASES = [
    ("toleration-operator", {"tolerations": [{"key": "k", "operator": "Foo"}]}, False,
     'spec.tolerations[0].operator: Unsupported value: "Foo"'),
    ("toleration-effect", {"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoRun"}]}, False,
     "spec.tolerations[0].effect"),
    ("toleration-all-ok", {"tolerations": [{"operator": "Exists"}, {"key": "k", "value": "v", "effect": ""}]},
     True, None),
    ("node-selector-value", {"nodeSelector": {"kubernetes.io/arch": "amd 64!"}}, False,
     "spec.nodeSelector.kubernetes.io/arch"),
    ("node-selector-key", {"nodeSelector": {"bad key": "x"}}, False, "spec.nodeSelector keys must be valid"),
    ("node-selector-empty-value", {"nodeSelector": {"example.com/gpu": ""}}, True, None),
    ("node-in-no-values", _node_expr(operator="In"), False, "values must be non-empty when operator is In"),
    ("node-notin-empty", _node_expr(operator="NotIn", values=[]), False, "values must be non-empty"),
    ("node-exists-values", _node_expr(operator="Exists", values=["a"]), False,
     "values must be empty when operator is Exists"),
    ("node-gt-two", _node_expr(operator="Gt", values=["1", "2"]), False, "exactly one element"),
    ("node-operator", _node_expr(operator="Equals", values=["a"]), False, "operator: Unsupported value"),
    ("node-exists-ok", _node_expr(operator="Exists"), True, None),
    ("anti-in-no-values", _anti(operator="In"), False, "values must be non-empty when operator is In"),
    ("anti-operator-gt", _anti(operator="Gt", values=["1"]), False, "operator: Unsupported value"),
    ("anti-match-labels", {"affinity": {"podAntiAffinity": {_REQ: [{
        "topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"app": "a b"}}}]}}}, False,
     "matchLabels.app"),
    ("spread-max-skew-0", {"topologySpreadConstraints": [{"maxSkew": 0, "topologyKey": "zone",
                                                          "whenUnsatisfiable": "DoNotSchedule"}]}, False,
     "spec.topologySpreadConstraints[0].maxSkew"),
    ("spread-when", {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                                    "whenUnsatisfiable": "Never"}]}, False,
     "spec.topologySpreadConstraints[0].whenUnsatisfiable"),
    ("spread-selector", {"topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                                                        "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {
                                                            "matchExpressions": [{"key": "a", "operator": "DoesNotExist",
                                                                                  "values": ["x"]}]}}]}, False,
     "values must be empty when operator is Exists or DoesNotExist"),
    ("config-total-size", {"config": {f"k{i}": "x" * 65536 for i in range(3)}}, False,
     "spec.config must total at most 131072 characters"),
    ("config-large-ok", {"config": {"a": "x" * 65536, "b": "y" * 60000}}, True, None),
]

# The issue-9 fields: (id, spec patch, accepted, fragment both report). Every CEL rule they add
# appears here at least once.
API_CASES = [
    ("third-party-full", {"image": "ghcr.io/acme/x:1", "command": ["node", "s.js"], "args": ["--p", "1"],
                          "mcpPath": "/api/mcp", "envFrom": [{"secretRef": {"name": "t"}, "prefix": "A_"}],
                          "volumes": [{"name": "c", "mountPath": "/etc/c", "secret": {
                              "secretName": "s", "items": [{"key": "k", "path": "d/f.json", "mode": 256}]}}],
                          "imagePullSecrets": [{"name": "r"}], "nodeSelector": {"kubernetes.io/os": "linux"},
                          "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                          "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                              "nodeSelectorTerms": [{"matchExpressions": [
                                  {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]}]}]}}},
                          "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                                         "whenUnsatisfiable": "ScheduleAnyway"}],
                          "podMetadata": {"labels": {"example.org/team": "a"}, "annotations": {"a/b": "c"}},
                          "health": {"mode": "tcp", "startupProbe": {"tcpSocket": {"port": "mcp"}, "failureThreshold": 30}},
                          "sessions": "stateful", "replicas": 3}, True, None),
    ("package-npm-3", {"image": None, "transport": "stdio", "package": {**NPM, "args": ["stdio"]}, "replicas": 3,
                       "stdio": {"expose": "bridge", "maxSessionsPerPod": 5, "sessionIdleTimeoutSeconds": 60}}, True, None),
    ("package-pypi", {"image": None, **STDIO_PKG}, True, None),
    ("command-bridge", {"transport": "stdio", "command": ["srv"], "replicas": 2}, True, None),
    ("no-image-no-package", {"image": None}, False, "spec.image is required unless spec.package is set"),
    ("package-http", {"package": PYPI}, False, "spec.package runs a stdio server"),
    ("package-and-command", {**STDIO_PKG, "command": ["x"]}, False, "spec.package and spec.command/spec.args are"),
    ("bridge-needs-command", {"transport": "stdio", "stdio": {"expose": "bridge"}}, False,
     "stdio.expose bridge needs the stdio server's command line"),
    ("attach-2", {"transport": "stdio", "replicas": 2}, False, "at most 1 replica with stdio.expose attach"),
    ("attach-package-2", {**STDIO_PKG, "stdio": {"expose": "attach"}, "replicas": 2}, False, "at most 1 replica"),
    ("stdio-on-http", {"stdio": {"maxSessionsPerPod": 3}}, False, "spec.stdio applies only to transport stdio"),
    ("sessions-on-stdio", {**STDIO_PKG, "sessions": "stateful"}, False, "spec.sessions applies to the HTTP"),
    ("health-attach", {"transport": "stdio", "health": {"mode": "http"}}, False, "health.mode http and tcp probe"),
    ("mcp-path", {"mcpPath": "api/mcp"}, False, "spec.mcpPath must start with '/'"),
    ("mcp-path-space", {"mcpPath": "/a b"}, False, "spec.mcpPath must start with '/'"),
    ("npm-range", {**STDIO_PKG, "package": {**NPM, "version": "^1.2.3"}}, False, "one exact version"),
    ("pypi-latest", {**STDIO_PKG, "package": {**PYPI, "version": "latest"}}, False, "one exact version"),
    ("npm-name", {**STDIO_PKG, "package": {**NPM, "name": "UPPER"}}, False, "not a valid package name"),
    ("env-from", {"envFrom": [{"prefix": "X"}]}, False, "exactly one of configMapRef or secretRef"),
    ("volume-source", {"volumes": [{"name": "v", "mountPath": "/v"}]}, False, "exactly one of secret or configMap"),
    ("volume-name", {"volumes": [{"name": "cache", "mountPath": "/v", "secret": _S}]}, False,
     "the names tmp, config, cache and kube-api-access-prober"),
    ("volume-prober-token", {"volumes": [{"name": "kube-api-access-prober", "mountPath": "/v", "secret": _S}]}, False,
     "kube-api-access-prober are the operator"),
    ("volume-token-path", {"volumes": [{"name": "v", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                        "secret": _S}]}, False, "mountPath must be an absolute path"),
    ("volume-path", {"volumes": [{"name": "v", "mountPath": "/etc/mcp", "secret": _S}]}, False,
     "mountPath must be an absolute path"),
    ("volume-unique", {"volumes": [{"name": "a", "mountPath": "/x", "secret": _S},
                                   {"name": "b", "mountPath": "/x", "secret": _S}]}, False,
     "every mountPath must be unique"),
    ("volume-item", {"volumes": [{"name": "v", "mountPath": "/x", "secret": {
        "secretName": "s", "items": [{"key": "k", "path": "a/../../b"}]}}]}, False, "must not contain '..'"),
    ("own-label", {"podMetadata": {"labels": {"app.kubernetes.io/name": "x"}}}, False,
     "must not set app.kubernetes.io/name"),
    ("label-key", {"podMetadata": {"labels": {"-bad": "x"}}}, False, "must be valid label keys"),
    ("annotation-key", {"podMetadata": {"annotations": {"a b": "x"}}}, False, "must be valid annotation keys"),
    ("own-annotation", {"podMetadata": {"annotations": {"mcp.example.com/x": "y"}}}, False,
     "must not use the prefix mcp.example.com/"),
    ("probe-handlers", {"health": {"readinessProbe": {"periodSeconds": 1}}}, False,
     "a probe needs exactly one of exec, httpGet, tcpSocket or grpc"),
    ("sessions-enum", {"sessions": "sticky"}, False, "spec.sessions"),
    ("health-enum", {"health": {"mode": "mcp-handshake"}}, False, "spec.health.mode"),
] + SCHEDULING_CASES

# (id, object, accepted, message fragment the apiserver and the hook both report)
CASES = [
    ("minimal", obj(), True, None),
    ("stdio-1", obj(transport="stdio", replicas=1), True, None),
    ("stdio-0", obj(transport="stdio", replicas=0), True, None),
    ("stdio-2", obj(transport="stdio", replicas=2), False, "stdio transport supports at most 1 replica"),
    ("requests-eq-limits", obj(resources={"requests": {"cpu": "1", "memory": "1Gi"},
                                          "limits": {"cpu": 1, "memory": "1024Mi"}}), True, None),
    ("requests-over-limits", obj(resources={"requests": {"cpu": "1500m"}, "limits": {"cpu": 1}}), False,
     "must not exceed spec.resources.limits"),
    ("memory-over-limit", obj(resources={"requests": {"memory": "2G"}, "limits": {"memory": "1Gi"}}), False,
     "must not exceed spec.resources.limits"),
    ("bad-quantity", obj(resources={"limits": {"cpu": "fast"}}), False, "spec.resources.limits.cpu"),
    ("env-sources", obj(env=[
        {"name": "A", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": True}}},
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
        {"name": "C", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
        {"name": "D", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "E", "value": ""}]), True, None),
    ("env-dup", obj(env=[{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]), False, None),
    ("env-both", obj(env=[{"name": "A", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]), False,
     "value and valueFrom are mutually exclusive"),
    ("env-no-source", obj(env=[{"name": "A", "valueFrom": {}}]), False, "exactly one of fieldRef"),
    ("config-key", obj(config={"a b": "x"}), False, "spec.config keys must be"),
    ("config-ok", obj(config={"MCP_SERVER_NAME": "x", "log.level": "debug"}), True, None),
    ("transport", obj(transport="sse"), False, "spec.transport"),
    ("port-0", obj(port=0), False, "spec.port"),
    ("replicas-negative", obj(replicas=-1), False, "spec.replicas"),
    ("no-image", {**obj(), "spec": {"transport": "http"}}, False, "image"),
    ("privileged", obj(securityContext={"privileged": True, "allowPrivilegeEscalation": False}), False,
     "allowPrivilegeEscalation cannot be false"),
    ("seccomp-localhost", obj(securityContext={"seccompProfile": {"type": "Localhost"}}), False,
     "localhostProfile must be set"),
    ("seccomp-localhost-ok", obj(securityContext={"seccompProfile": {"type": "Localhost",
                                                                     "localhostProfile": "p.json"}}), True, None),
    ("name-digit", obj(name="1abc"), False, "DNS-1035"),
    ("name-64", obj(name="a" * 64), False, "DNS-1035"),
    ("service-account", obj(serviceAccount="Bad_SA"), False, "spec.serviceAccount"),
] + [(f"api-{case}", _patched(patch), accepted, fragment) for case, patch, accepted, fragment in API_CASES]


@pytest.mark.parametrize("case,o,accepted,fragment", CASES, ids=[c[0] for c in CASES])
def test_apiserver_and_hook_agree(crd, case, o, accepted, fragment):
    r = crd.kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(o), check=False)
    _, errors = specmod.validate(o["metadata"]["name"], o["spec"])
    assert (r.returncode == 0) == accepted, r.stderr
    assert (not errors) == accepted, errors
    if fragment:
        assert fragment in r.stderr, r.stderr
        assert any(fragment in e for e in errors), errors


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_apply_unchanged_and_status_round_trips(crd, namespace, path):
    o = load_example(path)
    o["metadata"]["namespace"] = namespace  # the sample's namespace may not exist in a test cluster
    crd.kubectl("apply", "-f", "-", input=json.dumps(o))
    stored = json.loads(crd.kubectl("get", "mcps", o["metadata"]["name"], "-n", namespace, "-o", "json").stdout)
    status = sync(request(stored, rolled_out(stored)))["status"]
    assert status["phase"] == "Ready"
    crd.kubectl("patch", "mcps", o["metadata"]["name"], "-n", namespace, "--subresource=status",
                "--type=merge", "-p", json.dumps({"status": status}))
    got = json.loads(crd.kubectl("get", "mcps", o["metadata"]["name"], "-n", namespace, "-o", "json").stdout)
    assert got["status"] == status, "the status schema pruned or changed a field the hook writes"
    table = crd.kubectl("get", "mcps", o["metadata"]["name"], "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "PHASE", "READY", "REPLICAS", "TRANSPORT", "TOOLS", "ENDPOINT", "AGE"]
    assert "Ready" in table[1] and status["endpoint"].split()[0] in table[1]
    scale = json.loads(crd.kubectl("get", "--raw", f"/apis/{C.API_VERSION}/namespaces/{namespace}/"
                                                   f"{C.PLURAL}/{o['metadata']['name']}/scale").stdout)
    assert scale["status"]["selector"] == status["selector"]
    assert scale["spec"]["replicas"] == o["spec"]["replicas"]


def test_scale_subresource(crd, namespace):
    crd.kubectl("apply", "-f", "-", input=json.dumps(obj("web", namespace)))
    crd.kubectl("apply", "-f", "-", input=json.dumps(obj("cli", namespace, transport="stdio")))
    crd.kubectl("scale", "mcps", "web", "-n", namespace, "--replicas=4")
    assert crd.kubectl("get", "mcps", "web", "-n", namespace, "-o", "jsonpath={.spec.replicas}").stdout == "4"
    r = crd.kubectl("scale", "mcps", "cli", "-n", namespace, "--replicas=2", check=False)
    assert r.returncode != 0 and "at most 1 replica" in r.stderr
    # a bridged stdio server scales like an HTTP one (kubectl scale, an HPA)
    crd.kubectl("apply", "-f", "-", input=json.dumps(_patched({"image": None, **STDIO_PKG}) | {
        "metadata": {"name": "pkg", "namespace": namespace}}))
    crd.kubectl("scale", "mcps", "pkg", "-n", namespace, "--replicas=3")
    assert crd.kubectl("get", "mcps", "pkg", "-n", namespace, "-o", "jsonpath={.spec.replicas}").stdout == "3"


def test_defaults_are_applied_by_the_apiserver(crd, namespace):
    crd.kubectl("apply", "-f", "-", input=json.dumps(obj("d", namespace)))
    spec = json.loads(crd.kubectl("get", "mcps", "d", "-n", namespace, "-o", "json").stdout)["spec"]
    assert spec == specmod.apply_defaults({"image": "mcp-k8s-server:1"})


def _explain(cp, field: str) -> str:
    """kubectl explain reads the OpenAPI the apiserver publishes a little after Established."""
    import time

    deadline = time.monotonic() + 60
    while True:
        r = cp.kubectl("explain", field, check=False)
        if r.returncode == 0 or time.monotonic() > deadline:
            assert r.returncode == 0, r.stderr
            return r.stdout
        time.sleep(1)


def test_kubectl_explain_reads_well(crd):
    out = _explain(crd, "mcps.spec.env.valueFrom.secretKeyRef")
    assert "A key of a Secret in the namespace." in out and "optional" in out
    out = _explain(crd, "mcps.spec.transport")
    assert "stdio" in out and "kubectl attach" in out


@pytest.mark.parametrize("field,words", [
    ("command", "stdio server's command line"), ("args", "CMD"), ("mcpPath", "status.endpoint"),
    ("envFrom", "environment variables"), ("volumes.mountPath", "Absolute directory"),
    ("volumes.secret.items", "relative path"), ("imagePullSecrets", "private registry"),
    ("nodeSelector", "Node labels"), ("tolerations.effect", "taint effect"),
    ("affinity.podAntiAffinity", "anti-affinity"), ("topologySpreadConstraints.labelSelector", "label"),
    ("podMetadata.labels", "Extra pod labels"), ("health", "proves the process listens"), ("health.mode", "tcp"),
    ("health.startupProbe.tcpSocket", "TCP"), ("sessions", "ClientIP"), ("package.version", "Exact version"),
    ("stdio.expose", "kubectl attach"), ("stdio.maxSessionsPerPod", "Default 100"),
])
def test_kubectl_explain_documents_the_new_fields(crd, field, words):
    out = _explain(crd, f"mcps.spec.{field}")
    assert "DESCRIPTION" in out and words.lower() in out.lower(), out


def test_crd_yaml_is_what_the_server_stores(crd):
    stored = json.loads(crd.kubectl("get", "crd", C.CRD_NAME, "-o", "json").stdout)
    want = yaml.safe_load(CRD_PATH.read_text())
    assert stored["spec"]["versions"][0]["schema"] == want["spec"]["versions"][0]["schema"]
    assert {c["type"]: c["status"] for c in stored["status"]["conditions"]}["Established"] == "True"
    assert copy.deepcopy(stored["spec"]["names"]) == want["spec"]["names"] | {"listKind": "MCPServerList"}


def _not_in_live(desired, live, path=""):
    """Fields of the desired object that the API server dropped or normalised."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return [f"{path}: live {live!r}"]
        return [d for k, v in desired.items()
                for d in ([f"{path}.{k} dropped"] if k not in live else _not_in_live(v, live[k], f"{path}.{k}"))]
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return [f"{path}: live {live!r} != desired {desired!r}"]
        return [d for i, (a, b) in enumerate(zip(desired, live)) for d in _not_in_live(a, b, f"{path}[{i}]")]
    return [] if desired == live else [f"{path}: live {live!r} != desired {desired!r}"]


ODD = obj("odd", transport="http",
          resources={"requests": {"cpu": "0.5", "memory": "1024Mi"}, "limits": {"cpu": 1, "memory": "1.5Gi"}},
          env=[{"name": "E", "value": ""},
               {"name": "M", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1024Ki"}}},
               {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": False}}}],
          serviceAccount="default", config={"z": "1", "a": "ü"},
          securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                           "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}})


THIRD_PARTY = sorted((CRD_PATH.parents[1] / "examples" / "third-party").glob("*.yaml"))


@pytest.mark.parametrize("parent_obj", [load_example(p) for p in EXAMPLES + THIRD_PARTY]
                         + [ODD, obj("zero", replicas=0, transport="stdio"), _patched(API_CASES[0][1])],
                         ids=[p.stem for p in EXAMPLES + THIRD_PARTY] + ["odd-spellings", "stdio-zero", "all-fields"])
def test_desired_children_are_stored_unchanged(crd, namespace, parent_obj):
    """Every field the hook emits survives the API server as written (no dropped false/empty
    values, canonical quantities), so Metacontroller's 3-way merge of a converged child is a no-op
    instead of an update on every sync."""
    p = copy.deepcopy(parent_obj)
    p["metadata"]["namespace"] = namespace
    problems = {}
    for child in sync(request(p))["children"]:
        live = json.loads(crd.kubectl("apply", "--server-side", "--field-manager=hook-test", "-o", "json",
                                      "-f", "-", input=json.dumps(child)).stdout)
        if diff := _not_in_live(child, live):
            problems[child["kind"]] = diff
    assert not problems
