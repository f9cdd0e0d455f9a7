"""Table-driven unit tests of the pure sync/finalize functions."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from mcp_operator_hook import constants as C
from mcp_operator_hook.errors import BadRequest
from mcp_operator_hook.sync import finalize, sync

from .helpers import (EXAMPLES, LATER, NOW, as_observed, by_kind, cond, container_of,
                      PROBER_KINDS, deployment_state, env_of, is_record, load_example, parent, record_of, request)


def run(p, observed=None, now=NOW, **kw):
    return sync(request(p, observed, **kw), now=now)


def rolled_out(p, **state):
    """Observed children after Metacontroller applied the desired set and the Deployment
    controller finished (or reached ``state``)."""
    out = []
    for c in run(p)["children"]:
        o = as_observed(c)
        if c["kind"] == "Deployment":
            o = deployment_state(o, **state)
        out.append(o)
    return out


# --- every seed sample ---------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_produce_their_children(path):
    obj = load_example(path)
    spec = obj["spec"]
    resp = run(obj)
    kids = by_kind(resp["children"])
    name, ns = obj["metadata"]["name"], obj["metadata"]["namespace"]
    transport = spec.get("transport", C.DEFAULT_TRANSPORT)
    assert set(kids) == ({"Deployment"} | ({"Service"} | PROBER_KINDS if transport != "stdio" else set())
                         | ({"ConfigMap"} if spec.get("config") else set()))
    dep = kids["Deployment"]
    assert dep["metadata"]["name"] == name and dep["metadata"]["namespace"] == ns
    assert dep["spec"]["replicas"] == spec["replicas"]
    assert container_of(dep)["image"] == spec["image"]
    names = [e["name"] for e in env_of(dep)]
    assert len(names) == len(set(names)), f"duplicate env names: {names}"
    assert names.count("POD_NAME") == 1 and names.count("POD_NAMESPACE") == 1
    assert resp["status"]["phase"] == C.PHASE_PENDING
    assert cond(resp["status"], C.COND_CONFIGURATION_VALID)["status"] == "True"
    # and once rolled out, Ready with the endpoint
    done = run(obj, rolled_out(obj))
    assert done["status"]["phase"] == C.PHASE_READY, done["status"]
    assert done["status"]["readyReplicas"] == spec["replicas"]
    if transport != "stdio":
        assert done["status"]["endpoint"] == f"http://{name}.{ns}.svc.cluster.local:{spec['port']}/mcp"


def test_advanced_sample_resources_are_used_as_given():
    obj = load_example(next(p for p in EXAMPLES if p.name.startswith("advanced")))
    res = container_of(by_kind(run(obj)["children"])["Deployment"])["resources"]
    assert res == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}


def test_production_sample_security_context_replaces_the_default():
    obj = load_example(next(p for p in EXAMPLES if p.name.startswith("production")))
    c = container_of(by_kind(run(obj)["children"])["Deployment"])
    assert c["securityContext"] == obj["spec"]["securityContext"]
    assert {"name": C.TMP_VOLUME, "mountPath": "/tmp"} in c["volumeMounts"]


# --- transports -----------------------------------------------------------------------------

@pytest.mark.parametrize("transport", C.TRANSPORTS)
@pytest.mark.parametrize("with_config", [False, True])
def test_every_transport(transport, with_config):
    kw = {"config": {"b": "2", "a": "1"}} if with_config else {}
    p = parent(transport=transport, port=9000, replicas=1, **kw)
    kids = by_kind(run(p)["children"])
    dep = kids["Deployment"]
    c = container_of(dep)
    env = {e["name"]: e for e in env_of(dep)}
    assert env["MCP_TRANSPORT"]["value"] == transport
    assert env["MCP_PORT"]["value"] == "9000"
    assert env["MCP_SERVER_NAME"]["value"] == "srv"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert c["resources"]["requests"] == C.DEFAULT_REQUESTS[transport]
    pod = dep["spec"]["template"]
    assert pod["metadata"]["labels"] == {
        "app.kubernetes.io/name": "mcp-server", "app.kubernetes.io/instance": "srv",
        "app.kubernetes.io/component": "server", "app.kubernetes.io/managed-by": "mcp-operator",
        "example.com/transport": transport}
    assert dep["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "mcp-server",
                                                       "app.kubernetes.io/instance": "srv"}}
    if transport == "stdio":
        assert "Service" not in kids
        assert c["stdin"] is True
        assert "stdinOnce" not in c and "tty" not in c  # false defaults the API server omits
        assert "livenessProbe" not in c and "readinessProbe" not in c and "ports" not in c
        assert dep["spec"]["strategy"] == {"type": "Recreate"}
    else:
        svc = kids["Service"]
        assert svc["spec"]["type"] == "ClusterIP"
        assert svc["spec"]["ports"] == [{"name": "mcp", "port": 9000, "targetPort": "mcp", "protocol": "TCP"}]
        assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
        assert c["ports"] == [{"name": "mcp", "containerPort": 9000, "protocol": "TCP"}]
        assert c["livenessProbe"]["httpGet"] == {"path": "/health", "port": "mcp"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "mcp"}
        assert "stdin" not in c
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    vols = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert vols[C.TMP_VOLUME] == {"name": "tmp", "emptyDir": {}}
    if with_config:
        cm = kids["ConfigMap"]
        assert cm["metadata"]["name"] == "srv-config"
        assert cm["data"]["config.json"] == '{\n  "a": "1",\n  "b": "2"\n}\n'
        assert mounts["/etc/mcp"] == {"name": "config", "mountPath": "/etc/mcp", "readOnly": True}
        assert vols["config"]["configMap"]["name"] == "srv-config"
        assert env["MCP_CONFIG_FILE"]["value"] == "/etc/mcp/config.json"
        digest = hashlib.sha256(cm["data"]["config.json"].encode()).hexdigest()
        assert pod["metadata"]["annotations"][C.CONFIG_HASH_ANNOTATION] == digest
    else:
        assert "ConfigMap" not in kids and "/etc/mcp" not in mounts and "MCP_CONFIG_FILE" not in env
        assert C.CONFIG_HASH_ANNOTATION not in pod["metadata"].get("annotations", {})


def test_defaults_apply_when_the_apiserver_did_not():
    dep = by_kind(run(parent())["children"])["Deployment"]
    env = {e["name"]: e.get("value") for e in env_of(dep)}
    assert env["MCP_TRANSPORT"] == C.DEFAULT_TRANSPORT and env["MCP_PORT"] == str(C.DEFAULT_PORT)
    assert dep["spec"]["replicas"] == C.DEFAULT_REPLICAS


def test_restricted_security_context_by_default():
    c = container_of(by_kind(run(parent())["children"])["Deployment"])
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]} and sc["readOnlyRootFilesystem"] is True
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]


def test_service_account_is_used():
    dep = by_kind(run(parent(serviceAccount="mcp-reader"))["children"])["Deployment"]
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == "mcp-reader"
    assert "serviceAccountName" not in by_kind(run(parent())["children"])["Deployment"]["spec"]["template"]["spec"]


# --- env merge ------------------------------------------------------------------------------

def test_user_env_is_normalized_like_the_apiserver_stores_it():
    user = [{"name": "EMPTY", "value": ""},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1024Ki"}}}]
    req = request(parent(env=user))
    snapshot = json.dumps(req, sort_keys=True)
    env = {e["name"]: e for e in env_of(by_kind(sync(req, now=NOW)["children"])["Deployment"])}
    assert env["EMPTY"] == {"name": "EMPTY"}
    assert env["MEM"]["valueFrom"]["resourceFieldRef"] == {"resource": "limits.memory", "divisor": "1Mi"}
    assert json.dumps(req, sort_keys=True) == snapshot, "the request must not be mutated"


def test_user_env_replaces_defaults_in_place_and_appends_the_rest():
    user = [{"name": "EXTRA", "value": "1"},
            {"name": "MCP_SERVER_NAME", "value": "custom"},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    env = env_of(by_kind(run(parent(env=user, config={"a": "b"}))["children"])["Deployment"])
    assert [e["name"] for e in env] == ["MCP_TRANSPORT", "MCP_PORT", "MCP_SERVER_NAME", "POD_NAME",
                                        "POD_NAMESPACE", "POD_IP", "MCP_SERVICE_NAME", "MCP_CONFIG_FILE",
                                        "EXTRA", "SECRET"]
    byname = {e["name"]: e for e in env}
    assert byname["MCP_SERVER_NAME"] == {"name": "MCP_SERVER_NAME", "value": "custom"}
    assert byname["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.uid"
    assert byname["SECRET"] == user[3]


# --- resources ------------------------------------------------------------------------------

@pytest.mark.parametrize("resources,transport,expected", [
    (None, "http", {"requests": {"cpu": "100m", "memory": "128Mi"}}),
    ({"requests": {"cpu": "1"}}, "stdio", {"requests": {"cpu": "1", "memory": "64Mi"}}),
    ({"limits": {"cpu": "100m", "memory": "1Gi"}}, "streamable-http",
     {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "100m", "memory": "1Gi"}}),
    ({"limits": {"memory": 100000000}}, "streamable-http",  # 100 MB < 256Mi: capped at the limit
     {"requests": {"cpu": "200m", "memory": "100M"}, "limits": {"memory": "100M"}}),
    ({"requests": {"nvidia.com/gpu": 1}, "limits": {"nvidia.com/gpu": 1}}, "http",
     {"requests": {"nvidia.com/gpu": "1", "cpu": "100m", "memory": "128Mi"}, "limits": {"nvidia.com/gpu": "1"}}),
    # quantities in the API server's canonical form, so the live Deployment compares equal
    ({"requests": {"cpu": "0.5", "memory": "1024Mi"}, "limits": {"cpu": "1000m", "memory": "1.5Gi"}}, "http",
     {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1536Mi"}}),
])
def test_resources(resources, transport, expected):
    kw = {"resources": resources} if resources is not None else {}
    c = container_of(by_kind(run(parent(transport=transport, **kw))["children"])["Deployment"])
    assert c["resources"] == expected


# --- config changes -------------------------------------------------------------------------

def _hashes(p):
    dep = by_kind(run(p)["children"])["Deployment"]
    return (dep["spec"]["template"]["metadata"].get("annotations", {}).get(C.CONFIG_HASH_ANNOTATION),
            dep["metadata"]["annotations"][C.SPEC_HASH_ANNOTATION])


def test_config_change_rolls_pods_and_key_order_does_not():
    a = _hashes(parent(config={"x": "1", "y": "2"}))
    b = _hashes(parent(config={"y": "2", "x": "1"}))
    c = _hashes(parent(config={"x": "1", "y": "3"}))
    assert a == b
    assert a[0] != c[0] and a[1] != c[1]


def test_selector_never_changes_with_mutable_fields():
    base = by_kind(run(parent())["children"])["Deployment"]["spec"]["selector"]
    for kw in ({"transport": "stdio"}, {"transport": "http", "port": 1}, {"replicas": 0},
               {"config": {"a": "b"}}, {"image": "other:2"}, {"serviceAccount": "sa"}):
        resp = run(parent(**kw))
        assert by_kind(resp["children"])["Deployment"]["spec"]["selector"] == base
        assert resp["status"]["selector"] == "app.kubernetes.io/instance=srv,app.kubernetes.io/name=mcp-server"


def test_config_removed_drops_configmap_mount_and_env():
    with_cfg = run(parent(config={"a": "b"}))
    without = run(parent(), rolled_out(parent(config={"a": "b"})))
    assert "ConfigMap" in by_kind(with_cfg["children"])
    kids = by_kind(without["children"])
    assert "ConfigMap" not in kids  # Metacontroller deletes the observed one
    assert "MCP_CONFIG_FILE" not in {e["name"] for e in env_of(kids["Deployment"])}


# --- observed states: fresh -> rolled out -> failed -------------------------------------------

def test_fresh_parent_is_pending():
    st = run(parent())["status"]
    assert st["phase"] == "Pending"
    assert cond(st, "Ready") | {} == {**cond(st, "Ready"), "status": "False", "reason": "DeploymentNotCreated"}
    assert cond(st, "DeploymentReady")["reason"] == "DeploymentNotCreated"
    assert cond(st, "ServiceReady")["reason"] == "ServiceNotCreated"
    assert st["replicas"] == 0 and st["readyReplicas"] == 0 and "endpoint" not in st
    assert st["observedGeneration"] == 1


@pytest.mark.parametrize("state,phase,dep_reason,ready_status", [
    ({"observed_generation": 0, "replicas": 0, "updated": 0, "ready": 0}, "Pending", "RolloutInProgress", "False"),
    ({"replicas": 3, "updated": 1, "ready": 2}, "Pending", "RolloutInProgress", "False"),
    ({"replicas": 3, "updated": 3, "ready": 2}, "Pending", "RolloutInProgress", "False"),
    ({"replicas": 4, "updated": 3, "ready": 3}, "Pending", "RolloutInProgress", "False"),  # old pod still there
    ({}, "Ready", "RolloutComplete", "True"),
    ({"ready": 1, "progress_deadline_exceeded": True}, "Failed", "ProgressDeadlineExceeded", "False"),
    ({"ready": 0, "replicas": 0, "updated": 0, "replica_failure": 'pods "x" is forbidden: exceeded quota'},
     "Pending", "ReplicaFailure", "False"),
])
def test_rollout_states(state, phase, dep_reason, ready_status):
    p = parent(replicas=3)
    st = run(p, rolled_out(p, **state))["status"]
    assert st["phase"] == phase
    assert cond(st, "DeploymentReady")["reason"] == dep_reason
    assert cond(st, "Ready")["status"] == ready_status
    if phase == "Ready":
        assert cond(st, "Ready")["reason"] == "Ready"
        assert st["endpoint"] == "http://srv.ns1.svc.cluster.local:8080/mcp"
        assert st["readyReplicas"] == 3 and st["replicas"] == 3
    else:
        assert cond(st, "Ready")["reason"] == dep_reason
    if dep_reason == "ProgressDeadlineExceeded":
        assert "timed out progressing" in cond(st, "DeploymentReady")["message"]
    if dep_reason == "ReplicaFailure":
        assert "exceeded quota" in cond(st, "Ready")["message"]


def test_spec_change_not_yet_applied_is_not_ready():
    """The observed Deployment is complete, but for the previous spec: not Ready yet."""
    old = parent(image="img:1")
    new = parent(image="img:2", generation=2)
    st = run(new, rolled_out(old))["status"]
    assert st["phase"] == "Pending"
    assert cond(st, "DeploymentReady")["reason"] == "RolloutInProgress"
    assert run(new, rolled_out(new))["status"]["phase"] == "Ready"


def test_deadline_exceeded_of_an_outdated_spec_is_not_failed():
    old, new = parent(image="img:1"), parent(image="img:2", generation=2)
    st = run(new, rolled_out(old, progress_deadline_exceeded=True, ready=0))["status"]
    assert st["phase"] == "Pending"


def test_scaled_to_zero_is_a_stable_ready_state():
    p = parent(replicas=0)
    resp = run(p, rolled_out(p))
    st = resp["status"]
    assert by_kind(resp["children"])["Deployment"]["spec"]["replicas"] == 0
    assert st["phase"] == "Ready"
    assert cond(st, "Ready")["status"] == "True" and cond(st, "Ready")["reason"] == "ScaledToZero"
    assert "scaled to zero" in cond(st, "Ready")["message"]
    assert st["replicas"] == 0 and st["readyReplicas"] == 0
    again = run(parent(replicas=0, status=st), rolled_out(p), now=LATER)["status"]
    assert again == st


def test_stdio_status_says_how_to_connect():
    p = parent(name="cli", transport="stdio")
    st = run(p, rolled_out(p))["status"]
    assert st["phase"] == "Ready"
    assert st["endpoint"] == "kubectl attach -i -n ns1 deploy/cli -c mcp-server"
    assert cond(st, "ServiceReady") | {} == {**cond(st, "ServiceReady"), "status": "True",
                                             "reason": "NotRequiredForStdio"}
    assert "kubectl attach -i -n ns1 deploy/cli -c mcp-server" in cond(st, "Ready")["message"]


def test_service_port_change_is_reported_until_applied():
    old, new = parent(port=8080), parent(port=9090, generation=2)
    observed = rolled_out(old)
    st = run(new, observed)["status"]
    assert cond(st, "ServiceReady")["status"] == "False"
    assert st["phase"] == "Pending"


# --- invalid specs --------------------------------------------------------------------------

INVALID = [
    ("stdio-2-replicas", {"transport": "stdio", "replicas": 2}, "stdio transport supports at most 1 replica"),
    ("no-image", {"image": None}, "spec.image is required unless spec.package is set"),
    ("empty-image", {"image": ""}, "spec.image: minLength"),
    ("bad-transport", {"transport": "grpc"}, "spec.transport: Unsupported value"),
    ("port-0", {"port": 0}, "spec.port: minimum"),
    ("port-high", {"port": 70000}, "spec.port: maximum"),
    ("port-string", {"port": "80"}, "spec.port: type"),
    ("negative-replicas", {"replicas": -1}, "spec.replicas: minimum"),
    ("config-not-string", {"config": {"a": 1}}, "spec.config.a: type"),
    ("config-bad-key", {"config": {"a b": "1"}}, "spec.config keys must be"),
    ("bad-quantity", {"resources": {"requests": {"cpu": "lots"}}}, "spec.resources.requests.cpu: pattern"),
    ("requests-over-limits", {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "500m"}}},
     "requests must not exceed spec.resources.limits"),
    ("env-dup", {"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}, "duplicate name \"A\""),
    ("env-both", {"env": [{"name": "A", "value": "1", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]},
     "value and valueFrom are mutually exclusive"),
    ("env-two-sources", {"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x"},
                                                            "secretKeyRef": {"name": "s", "key": "k"}}}]},
     "exactly one of fieldRef"),
    ("env-bad-name", {"env": [{"name": "1=A", "value": "1"}]}, "spec.env[0].name: pattern"),
    ("privileged-no-escalation", {"securityContext": {"privileged": True, "allowPrivilegeEscalation": False}},
     "allowPrivilegeEscalation cannot be false"),
    ("seccomp-localhost-without-profile", {"securityContext": {"seccompProfile": {"type": "Localhost"}}},
     "seccompProfile.localhostProfile must be set"),
    ("sa-bad", {"serviceAccount": "Not_Valid"}, "spec.serviceAccount: pattern"),
    ("secctx-wrong-type", {"securityContext": {"runAsUser": "root"}}, "spec.securityContext.runAsUser: type"),
]


@pytest.mark.parametrize("case,spec_patch,message", INVALID,
                         ids=[c[0] for c in INVALID])
def test_invalid_spec_keeps_observed_children_and_fails(case, spec_patch, message):
    good = parent(config={"a": "b"})
    observed = rolled_out(good)
    bad = copy.deepcopy(good)
    bad["metadata"]["generation"] = 2
    for k, v in spec_patch.items():
        if v is None:
            bad["spec"].pop(k, None)
        else:
            bad["spec"][k] = v
    resp = run(bad, observed)
    st = resp["status"]
    assert st["phase"] == "Failed"
    cv = cond(st, "ConfigurationValid")
    assert cv["status"] == "False" and cv["reason"] == "InvalidSpec"
    assert message in cv["message"], cv["message"]
    assert cond(st, "Ready")["reason"] == "InvalidSpec"
    # the running server stays as it was rendered: the very children of the last valid spec,
    # rendered again from the hook's own record (never from Metacontroller's last-applied)
    for o in observed:
        o["metadata"]["annotations"].pop(C.LAST_APPLIED_ANNOTATION, None)
    resp = run(bad, observed)
    assert resp["children"] == run(good)["children"]
    assert record_of(resp["children"]) is not None
    # the pods are still counted, the endpoint still shown
    assert st["readyReplicas"] == 1 and st["endpoint"] == "http://srv.ns1.svc.cluster.local:8080/mcp"


def test_unknown_spec_fields_are_ignored_like_apiserver_pruning():
    """The CRD's structural schema prunes unknown fields, so the hook ignores them too."""
    resp = run(parent(replica=2, extra={"x": 1}))
    assert resp["status"]["phase"] == "Pending"
    assert cond(resp["status"], "ConfigurationValid")["status"] == "True"
    assert by_kind(resp["children"])["Deployment"]["spec"]["replicas"] == 1
    assert "replica" not in json.dumps(list(by_kind(resp["children"]).values())).replace('"replicas"', "")
    recorded = json.loads(record_of(resp["children"])["data"]["spec.json"])
    assert "replica" not in recorded and "extra" not in recorded and recorded["replicas"] == 1


def test_invalid_spec_without_record_strips_server_fields():
    """No record of the hook's own (children of an older hook version): copies of the observed
    children without anything the server or Metacontroller set."""
    good = parent()
    observed = [o for o in rolled_out(good) if not is_record(o)]
    resp = run(parent(transport="stdio", replicas=5), observed)
    assert resp["status"]["phase"] == "Failed"
    assert len(resp["children"]) == len(observed) == 5  # + the prober's inventory, Role, RoleBinding
    for c in resp["children"]:
        assert "status" not in c
        for f in ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "ownerReferences"):
            assert f not in c["metadata"]
        assert C.LAST_APPLIED_ANNOTATION not in c["metadata"].get("annotations", {})
        assert C.CONTROLLER_UID_LABEL not in c["metadata"]["labels"]
        assert (c["apiVersion"], c["kind"]) in (("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "ConfigMap"),
                                                ("rbac.authorization.k8s.io/v1", "Role"),
                                                ("rbac.authorization.k8s.io/v1", "RoleBinding"))
    svc = by_kind(resp["children"])["Service"]
    assert "clusterIP" not in svc["spec"] and "clusterIPs" not in svc["spec"]
    assert svc["spec"]["ports"][0]["port"] == 8080


def test_invalid_fresh_spec_has_no_children():
    resp = run(parent(transport="stdio", replicas=3))
    assert resp["children"] == [] and resp["status"]["phase"] == "Failed"


@pytest.mark.parametrize("name", ["1abc", "a" * 64, "has.dot", "UPPER"])
def test_invalid_names(name):
    st = run(parent(name=name))["status"]
    assert st["phase"] == "Failed"
    assert "DNS-1035" in cond(st, "ConfigurationValid")["message"]


def test_missing_spec_is_invalid_not_malformed():
    p = parent()
    del p["spec"]
    st = run(p)["status"]
    assert st["phase"] == "Failed" and "spec: required" in cond(st, "ConfigurationValid")["message"]


def test_null_fields_are_pruned_like_the_apiserver_does():
    resp = run(parent(replicas=None, port=None, transport=None))
    assert resp["status"]["phase"] == "Pending"
    assert by_kind(resp["children"])["Deployment"]["spec"]["replicas"] == 1


# --- determinism / convergence ----------------------------------------------------------------

SCENARIOS = {
    "fresh": lambda p: None,
    "rolling": lambda p: rolled_out(p, ready=0, updated=0, replicas=0),
    "ready": lambda p: rolled_out(p),
    "failed": lambda p: rolled_out(p, progress_deadline_exceeded=True, ready=0),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("transport", C.TRANSPORTS)
def test_sync_converges_on_its_own_status(scenario, transport):
    p = parent(transport=transport, config={"k": "v"})
    observed = SCENARIOS[scenario](p)
    first = run(p, observed, now=NOW)
    assert run(p, observed, now=NOW) == first  # deterministic
    p2 = copy.deepcopy(p)
    p2["status"] = first["status"]
    second = run(p2, observed, now=LATER)
    assert second == first, "status written back must be a fixed point (no status-write loop)"
    assert json.dumps(second, sort_keys=True) == json.dumps(first, sort_keys=True)


def test_last_transition_time_moves_only_on_status_change():
    p = parent()
    s1 = run(p, None, now=NOW)["status"]
    p1 = parent(status=s1)
    s2 = run(p1, rolled_out(p), now=LATER)["status"]
    assert cond(s2, "Ready")["lastTransitionTime"] == LATER  # False -> True
    assert cond(s2, "ConfigurationValid")["lastTransitionTime"] == NOW  # stayed True
    p2 = parent(status=s2)
    s3 = run(p2, rolled_out(p, ready=0), now="2026-01-01T02:00:00Z")["status"]
    assert cond(s3, "Ready")["lastTransitionTime"] == "2026-01-01T02:00:00Z"


def test_conditions_in_fixed_order_with_observed_generation():
    st = run(parent(generation=7))["status"]
    assert [c["type"] for c in st["conditions"]] == list(C.CONDITION_TYPES)
    assert all(c["observedGeneration"] == 7 for c in st["conditions"])
    assert st["observedGeneration"] == 7


def test_children_are_emitted_in_fixed_order_without_nulls():
    resp = run(parent(config={"a": "b"}))
    assert [c["kind"] for c in resp["children"]] == ["ConfigMap", "Deployment", "Service", "ConfigMap", "Role",
                                                     "RoleBinding", "ConfigMap"]
    assert is_record(resp["children"][-1])
    assert "null" not in json.dumps(resp["children"])
    for c in resp["children"]:
        assert "status" not in c and "uid" not in c["metadata"]


# --- v1 / v2 children keys ----------------------------------------------------------------------

def test_v1_and_v2_children_keys_give_the_same_answer():
    p = parent(config={"a": "b"})
    observed = rolled_out(p)
    v1 = sync(request(p, observed, v2=False), now=NOW)
    v2 = sync(request(p, observed, v2=True), now=NOW)
    assert v1 == v2 and v1["status"]["phase"] == "Ready"


def test_children_of_other_namespaces_are_ignored_for_status():
    p = parent()
    observed = rolled_out(p)
    for o in observed:
        o["metadata"]["namespace"] = "elsewhere"
    assert run(p, observed)["status"]["phase"] == "Pending"


# --- malformed requests ---------------------------------------------------------------------------

def _without(key):
    r = request(parent())
    del r[key]
    return r


MALFORMED = [
    ("not-an-object", [1, 2]),
    ("no-parent", _without("parent")),
    ("no-children", _without("children")),
    ("parent-not-object", {**request(parent()), "parent": "x"}),
    ("no-metadata", {**request(parent()), "parent": {"spec": {}}}),
    ("no-name", {**request(parent()), "parent": {"metadata": {"namespace": "a"}, "spec": {}}}),
    ("no-namespace", {**request(parent()), "parent": {"metadata": {"name": "a"}, "spec": {}}}),
    ("wrong-kind", {**request(parent()), "parent": {**parent(), "kind": "Pod"}}),
    ("wrong-api-version", {**request(parent()), "parent": {**parent(), "apiVersion": "v1"}}),
    ("children-list", {**request(parent()), "children": []}),
    ("children-group-list", {**request(parent()), "children": {"Deployment.apps/v1": []}}),
    ("child-without-name", {**request(parent()), "children": {"Deployment.apps/v1": {"x": {"metadata": {}}}}}),
    ("finalizing-string", {**request(parent()), "finalizing": "yes"}),
]


@pytest.mark.parametrize("case,req", MALFORMED, ids=[m[0] for m in MALFORMED])
@pytest.mark.parametrize("fn", [sync, finalize], ids=["sync", "finalize"])
def test_malformed_requests_raise_bad_request(case, req, fn):
    with pytest.raises(BadRequest) as exc:
        fn(req)
    assert exc.value.message


def test_null_child_group_is_empty():
    r = request(parent())
    r["children"]["Service.v1"] = None
    assert sync(r, now=NOW) == run(parent())


# --- finalize ------------------------------------------------------------------------------------

def test_finalize_deletes_children_then_reports_finalized():
    p = parent(config={"a": "b"})
    observed = rolled_out(p)
    first = finalize(request(p, observed, finalizing=True), now=NOW)
    assert first["children"] == [] and first["finalized"] is False
    assert first["status"]["phase"] == "Terminating"
    assert cond(first["status"], "Ready")["reason"] == "Terminating"
    assert "waiting for 7 child object(s)" in cond(first["status"], "Ready")["message"]
    done = finalize(request(p, [], finalizing=True), now=NOW)
    assert done["finalized"] is True and done["children"] == []
    assert set(done) == {"status", "children", "finalized"}


def test_sync_with_finalizing_delegates_to_finalize():
    p = parent()
    r = request(p, rolled_out(p), finalizing=True)
    assert sync(r, now=NOW) == finalize(r, now=NOW)


def test_finalize_of_invalid_spec_still_finishes():
    resp = finalize(request(parent(transport="stdio", replicas=9), [], finalizing=True), now=NOW)
    assert resp["finalized"] is True and resp["status"]["phase"] == "Terminating"


def test_sync_response_has_only_contract_keys():
    assert set(run(parent())) == {"status", "children"}


def test_memoized_children_are_fresh_objects_per_call():
    p = parent(config={"a": "b"})
    first = run(p)["children"]
    first[1]["spec"]["replicas"] = 99
    first[1]["metadata"]["labels"]["x"] = "y"
    second = run(p)["children"]
    assert second[1]["spec"]["replicas"] == 1 and "x" not in second[1]["metadata"]["labels"]
    # and the memo is keyed on everything the children depend on
    assert run(parent(name="other", config={"a": "b"}))["children"][1]["metadata"]["name"] == "other"
    assert run(parent(namespace="ns2", config={"a": "b"}))["children"][1]["metadata"]["namespace"] == "ns2"
    assert run(parent(config={"a": "c"}))["children"][0]["data"]["config.json"] != second[0]["data"]["config.json"]


def test_invalid_spec_with_nested_last_applied_does_not_nest_further():
    good = parent()
    observed = rolled_out(good)
    for o in observed:  # a last-applied that itself carries the annotation
        inner = json.loads(o["metadata"]["annotations"][C.LAST_APPLIED_ANNOTATION])
        inner["metadata"].setdefault("annotations", {})[C.LAST_APPLIED_ANNOTATION] = "{}"
        o["metadata"]["annotations"][C.LAST_APPLIED_ANNOTATION] = json.dumps(inner)
    for c in run(parent(transport="stdio", replicas=3), observed)["children"]:
        assert C.LAST_APPLIED_ANNOTATION not in c["metadata"].get("annotations", {})


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_sync_json_is_sync(scenario):
    from mcp_operator_hook.sync import finalize_json, sync_json

    p = parent(config={"a": "b"})
    for req in (request(p, SCENARIOS[scenario](p)), request(parent(transport="stdio", replicas=2)),
                request(p, SCENARIOS[scenario](p), finalizing=True)):
        text, status = sync_json(req, now=NOW)
        assert json.loads(text) == sync(req, now=NOW) and status == json.loads(text)["status"]
    text, status = finalize_json(request(p, [], finalizing=True), now=NOW)
    assert json.loads(text) == finalize(request(p, [], finalizing=True), now=NOW)


# --- securityContext: the user's fields over the restricted default ----------------------------

def test_partial_security_context_keeps_the_restricted_default():
    """Found in review: {runAsUser: 2000} used to replace the whole default (root fs writable,
    no drop ALL, no seccomp, no runAsNonRoot)."""
    resp = run(parent(securityContext={"runAsUser": 2000}))
    sc = container_of(by_kind(resp["children"])["Deployment"])["securityContext"]
    assert sc == {**C.DEFAULT_SECURITY_CONTEXT, "runAsUser": 2000}
    cv = cond(resp["status"], "ConfigurationValid")
    assert (cv["status"], cv["reason"], cv["message"]) == ("True", "Valid", "spec is valid")


def test_capabilities_add_keeps_drop_all_and_net_bind_service_passes_restricted():
    resp = run(parent(securityContext={"capabilities": {"add": ["NET_BIND_SERVICE"]}}))
    sc = container_of(by_kind(resp["children"])["Deployment"])["securityContext"]
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}
    assert cond(resp["status"], "ConfigurationValid")["reason"] == "Valid"


def test_explicit_fields_still_win():
    sc = container_of(by_kind(run(parent(securityContext={
        "readOnlyRootFilesystem": False, "capabilities": {"drop": ["NET_RAW"]},
        "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}))["children"])["Deployment"])[
        "securityContext"]
    assert sc["readOnlyRootFilesystem"] is False and sc["capabilities"] == {"drop": ["NET_RAW"]}
    assert sc["seccompProfile"] == {"type": "Localhost", "localhostProfile": "p.json"}
    assert sc["runAsNonRoot"] is True and sc["allowPrivilegeEscalation"] is False


@pytest.mark.parametrize("sc,rendered,words", [
    ({"privileged": True}, {"privileged": True}, ["privileged is true", "allowPrivilegeEscalation is not false"]),
    ({"runAsUser": 0}, {"runAsUser": 0}, ["runAsUser is 0 (root)", "runAsNonRoot is not true"]),
    ({"allowPrivilegeEscalation": True}, {"allowPrivilegeEscalation": True}, ["allowPrivilegeEscalation is not false"]),
    ({"capabilities": {"add": ["SYS_ADMIN", "NET_BIND_SERVICE"]}}, {}, ["capabilities.add has SYS_ADMIN "]),
    ({"capabilities": {"drop": []}}, {}, ["capabilities.drop does not include ALL"]),
])
def test_security_context_failing_restricted_is_rendered_and_warned(sc, rendered, words):
    resp = run(parent(securityContext=sc))
    got = container_of(by_kind(resp["children"])["Deployment"])["securityContext"]
    assert rendered.items() <= got.items()
    if sc.get("privileged"):  # the API refuses privileged with allowPrivilegeEscalation false
        assert "allowPrivilegeEscalation" not in got
    if sc.get("runAsUser") == 0:  # the kubelet refuses runAsNonRoot with user 0
        assert "runAsNonRoot" not in got
    cv = cond(resp["status"], "ConfigurationValid")
    assert cv["status"] == "True" and cv["reason"] == "ValidWithWarnings"
    assert "would not pass the restricted Pod Security level" in cv["message"]
    for w in words:
        assert w in cv["message"], cv["message"]


# --- children that would not fit, or that Metacontroller could not create ----------------------

def test_rendered_config_over_the_annotation_limit_is_refused_and_keeps_the_server():
    """Admitted by the CRD (131072 characters), but 3 bytes each in UTF-8: the ConfigMap's
    last-applied copy would exceed the 256 KiB annotation limit."""
    good = parent(config={"a": "b"})
    observed = rolled_out(good)
    bad = copy.deepcopy(good)
    bad["metadata"]["generation"] = 2
    bad["spec"]["config"] = {"a": "\u20ac" * 65536, "b": "\u20ac" * 65000}
    resp = run(bad, observed)
    assert resp["status"]["phase"] == "Failed"
    cv = cond(resp["status"], "ConfigurationValid")
    assert cv["status"] == "False" and cv["reason"] == "InvalidSpec"
    assert "<name>-config ConfigMap (config.json) would be 391647 bytes" in cv["message"], cv["message"]
    assert "over the limit of 245760 bytes" in cv["message"]
    assert "<name>-hook-record" in cv["message"]  # the spec (with \\u escapes) is larger still
    assert resp["children"] == run(good, observed)["children"]


def test_a_child_not_created_keeps_the_server_not_ready():
    """Found in review: Metacontroller failed to create <name>-config (SyncError Event only) and
    the status said Ready."""
    p = parent(config={"a": "b"})
    observed = [o for o in rolled_out(p) if o["metadata"]["name"] != "srv-config"]
    st = run(p, observed)["status"]
    ready = cond(st, "Ready")
    assert st["phase"] == "Pending" and ready["status"] == "False" and ready["reason"] == "ChildMissing"
    assert ready["message"].startswith("ConfigMap srv-config does not exist yet")
    assert "kubectl describe mcpserver srv -n ns1" in ready["message"]
    assert cond(run(p, rolled_out(p))["status"], "Ready")["status"] == "True"
