"""Unit tests of what the hook reads beyond its children: the customize rules, pod causes,
ServiceReady from EndpointSlices, name collisions, the referenced-data hash and the hook's own
record (pure functions; the same paths run against the real Metacontroller in
tests/e2e_hook/test_related_e2e.py)."""

from __future__ import annotations

import base64
import copy
import json

import pytest

from mcp_operator_hook import causes
from mcp_operator_hook import constants as C
from mcp_operator_hook import related as rel
from mcp_operator_hook.sync import sync, sync_json

from .helpers import (LATER, NOW, PARENT_UID, as_observed, by_kind, cond, deployment_state, is_record, parent,
                      record_of, request)

NS = "ns1"


def related_req(p, observed=None, **related):
    """A sync request with ``related`` as Metacontroller sends it (v2 keys ``ns/name``); every
    kind the customize hook asks for is present, empty unless given."""
    req = request(p, observed)
    groups = {k: {} for k in (rel.POD_KEY, rel.ENDPOINTSLICE_KEY, rel.DEPLOYMENT_KEY, rel.SERVICE_KEY,
                              rel.CONFIGMAP_KEY, rel.SECRET_KEY)}
    for key, objs in related.items():
        k = {"pods": rel.POD_KEY, "slices": rel.ENDPOINTSLICE_KEY, "deployments": rel.DEPLOYMENT_KEY,
             "services": rel.SERVICE_KEY, "configmaps": rel.CONFIGMAP_KEY, "secrets": rel.SECRET_KEY}[key]
        for o in objs:
            groups[k][f"{o['metadata'].get('namespace', NS)}/{o['metadata']['name']}"] = o
    req["related"] = groups
    return req


def run(p, observed=None, now=NOW, **related):
    return sync(related_req(p, observed, **related), now=now)


def rolled_out(p, **related):
    out = []
    for c in run(p, **related)["children"]:
        o = as_observed(c)
        if c["kind"] == "Deployment":
            o = deployment_state(o)
        out.append(o)
    return out


def owned_related(observed):
    """The observed children as they also show up among the related objects (by name)."""
    return {"deployments": [o for o in observed if o["kind"] == "Deployment"],
            "services": [o for o in observed if o["kind"] == "Service"],
            "configmaps": [o for o in observed if o["kind"] == "ConfigMap"]}


def pod(name="srv-abc", *, phase="Pending", containers=None, init=None, conditions=None, deleting=False,
        spec_containers=None, labels=None):
    meta = {"name": name, "namespace": NS,
            "labels": labels or {C.LABEL_NAME: C.APP_NAME, C.LABEL_INSTANCE: "srv", "pod-template-hash": "x"}}
    if deleting:
        meta["deletionTimestamp"] = NOW
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"containers": spec_containers or [{"name": C.CONTAINER_NAME, "image": "mcp-k8s-server:1",
                                                        "readinessProbe": {"httpGet": {"path": "/ready", "port": "mcp"}}}]},
            "status": {"phase": phase, "conditions": conditions or [], "containerStatuses": containers or [],
                       "initContainerStatuses": init or []}}


def waiting(reason, message=None, name=C.CONTAINER_NAME, image="mcp-k8s-server:1", last=None):
    cs = {"name": name, "image": image, "ready": False, "restartCount": 7,
          "state": {"waiting": {"reason": reason, **({"message": message} if message else {})}}}
    if last:
        cs["lastState"] = {"terminated": last}
    return cs


def slice_(ready: list, name="srv-x", service="srv"):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": NS, "labels": {rel.SERVICE_NAME_LABEL: service}},
            "endpoints": [{"addresses": [f"10.0.0.{i}"], "conditions": {"ready": r}} for i, r in enumerate(ready)]}


def secret(name, data: dict, ns=NS):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def configmap(name, data: dict, owner_uid=None, ns=NS):
    meta = {"name": name, "namespace": ns}
    if owner_uid:
        meta["ownerReferences"] = [{"apiVersion": C.API_VERSION, "kind": C.KIND, "name": "srv",
                                    "uid": owner_uid, "controller": True}]
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


# --- customize ---------------------------------------------------------------------------------

def test_customize_rules_are_namespaced_and_never_select_everything():
    p = parent(env=[{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "t"}}},
                    {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}])
    rules = rel.customize({"controller": {}, "parent": p})["relatedResources"]
    assert all(r["namespace"] == NS for r in rules)
    by = {(r["apiVersion"], r["resource"]): r for r in rules}
    assert by[("v1", "pods")]["labelSelector"] == {"matchLabels": {C.LABEL_NAME: C.APP_NAME, C.LABEL_INSTANCE: "srv"}}
    assert by[("discovery.k8s.io/v1", "endpointslices")]["labelSelector"] == {"matchLabels": {rel.SERVICE_NAME_LABEL: "srv"}}
    assert by[("v1", "secrets")]["names"] == ["tok"]
    assert by[("v1", "configmaps")]["names"] == ["settings", "srv-config", "srv-hook-record", "srv-inventory"]
    assert by[("apps/v1", "deployments")]["names"] == ["srv"] and by[("v1", "services")]["names"] == ["srv"]
    # every child the spec renders is read by name (prober Role/RoleBinding included)
    assert by[("rbac.authorization.k8s.io/v1", "roles")]["names"] == ["srv-prober"]
    assert by[("rbac.authorization.k8s.io/v1", "rolebindings")]["names"] == ["srv-prober"]
    for r in rules:  # names and labelSelector are exclusive; an empty names list selects everything
        assert ("names" in r) != ("labelSelector" in r)
        assert r.get("names", ["x"])


def test_customize_without_secret_references_asks_for_no_secrets():
    rules = rel.customize({"parent": parent()})["relatedResources"]
    assert "secrets" not in {r["resource"] for r in rules}


def test_customize_of_an_invalid_spec_still_answers():
    rules = rel.customize({"parent": parent(transport="stdio", replicas=9, env="nonsense")})["relatedResources"]
    assert {r["resource"] for r in rules} >= {"pods", "deployments"}


def test_customize_http(monkeypatch):
    from mcp_operator_hook.app import create_app

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    client = create_app().test_client()
    r = client.post(C.CUSTOMIZE_PATH, data=json.dumps({"controller": {}, "parent": parent()}),
                    content_type="application/json")
    assert r.status_code == 200 and set(r.get_json()) == {"relatedResources"}
    bad = client.post(C.CUSTOMIZE_PATH, data=json.dumps({"parent": {"metadata": {}}}), content_type="application/json")
    assert bad.status_code == 400 and "namespace" in bad.get_json()["error"]


def test_references_cover_env_envfrom_and_mounted_files():
    refs = rel.references({
        "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "a"}}},
                {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s1", "key": "b"}}},
                {"name": "C", "value": "x"}],
        "envFrom": [{"secretRef": {"name": "s2"}}, {"configMapRef": {"name": "c1"}}],
        "files": [{"mountPath": "/x", "secret": {"secretName": "s3", "items": [{"key": "k", "path": "k"}]}},
                  {"mountPath": "/y", "configMap": {"name": "c2"}}],
    })
    assert refs.secrets == {"s1": {"a", "b"}, "s2": None, "s3": {"k"}}
    assert refs.configmaps == {"c1": None, "c2": None}
    assert rel.references({"env": "garbage", "envFrom": [None, 3]}).empty()


# --- causes -----------------------------------------------------------------------------------

def not_ready(p, observed, **related):
    """Sync with the Deployment rolled out but 0 ready, and the given pods."""
    obs = [deployment_state(o, ready=0) if o["kind"] == "Deployment" else o for o in observed]
    return run(p, obs, **related)


@pytest.mark.parametrize("containers,init,conditions,reason,phase,needles", [
    ([waiting("ImagePullBackOff", 'Back-off pulling image "registry.invalid/x:1"', image="registry.invalid/x:1")],
     None, None, "ImagePullBackOff", "Failed", ["image registry.invalid/x:1", "ImagePullBackOff"]),
    ([waiting("ErrImagePull", "not found", image="registry.invalid/x:1")],
     None, None, "ImagePullBackOff", "Failed", ["image registry.invalid/x:1", "ErrImagePull", "not found"]),
    ([waiting("CrashLoopBackOff", "back-off 5m0s", last={"exitCode": 3, "reason": "Error", "message": "boom: bad config"})],
     None, None, "CrashLoopBackOff", "Failed", ["container mcp-server", "exit code 3", "boom: bad config"]),
    ([waiting("CreateContainerConfigError", 'secret "tok" not found')],
     None, None, "CreateContainerConfigError", "Failed", ['secret "tok" not found']),
    ([], [waiting("CrashLoopBackOff", name="migrate", last={"exitCode": 1, "reason": "Error"})], None,
     "InitContainerFailed", "Failed", ["init container migrate", "exit code 1"]),
    ([], None, [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                 "message": "0/3 nodes are available: 3 Insufficient cpu."}],
     "Unschedulable", "Pending", ["cannot be scheduled", "Insufficient cpu"]),
    ([{"name": C.CONTAINER_NAME, "ready": False, "state": {"running": {"startedAt": NOW}}}], None, None,
     "ReadinessProbeFailing", "Pending", ["running but not ready yet", "HTTP GET /ready on port mcp"]),
], ids=["image-pull-backoff", "err-image-pull", "crash-loop", "config-error", "init-crash", "unschedulable", "probe"])
def test_first_cause_goes_into_ready_and_phase(containers, init, conditions, reason, phase, needles):
    p = parent()
    observed = rolled_out(p)
    resp = not_ready(p, observed, pods=[pod(containers=containers, init=init, conditions=conditions)],
                     **owned_related(observed))
    ready = cond(resp["status"], "Ready")
    assert (ready["status"], ready["reason"], resp["status"]["phase"]) == ("False", reason, phase)
    for n in needles:
        assert n in ready["message"], ready["message"]
    assert "srv-abc" in ready["message"]
    # converges: its own output, synced again, gives the same status
    again = dict(p, status=resp["status"])
    assert not_ready(again, observed, pods=[pod(containers=containers, init=init, conditions=conditions)],
                     **owned_related(observed))["status"] == resp["status"]


def test_cause_order_is_by_kind_then_pod_name_and_ignores_terminating_pods():
    pods = [pod("srv-b", containers=[{"name": C.CONTAINER_NAME, "ready": False, "state": {"running": {}}}]),
            pod("srv-c", containers=[waiting("CrashLoopBackOff", last={"exitCode": 2})]),
            pod("srv-a", containers=[waiting("CrashLoopBackOff", last={"exitCode": 1})]),
            pod("srv-0", containers=[waiting("ImagePullBackOff")], deleting=True)]
    for order in (pods, pods[::-1]):
        c = causes.first_cause(order)
        assert c.reason == "CrashLoopBackOff" and "srv-a" in c.message and "exit code 1" in c.message


def test_cause_message_is_bounded_and_single_line():
    long = "line\n" * 5000
    c = causes.first_cause([pod(containers=[waiting("CrashLoopBackOff", last={"exitCode": 1, "message": long})])])
    assert len(c.message) <= causes.MAX_CAUSE and "\n" not in c.message


def test_ready_pods_give_no_cause_and_a_ready_server_stays_ready():
    p = parent()
    observed = rolled_out(p)
    ok = pod(phase="Running", containers=[{"name": C.CONTAINER_NAME, "ready": True, "state": {"running": {}}}])
    resp = run(p, observed, pods=[ok], slices=[slice_([True])], **owned_related(observed))
    assert resp["status"]["phase"] == "Ready", resp["status"]
    assert "1 ready endpoint" in cond(resp["status"], "ServiceReady")["message"]


# --- ServiceReady from endpoints -------------------------------------------------------------------

@pytest.mark.parametrize("ready,expect", [([], "False"), ([False, False], "False"), ([None], "True"), ([False, True], "True")])
def test_service_ready_needs_a_ready_endpoint(ready, expect):
    p = parent()
    observed = rolled_out(p)
    resp = run(p, observed, slices=[slice_(ready)], **owned_related(observed))
    sr = cond(resp["status"], "ServiceReady")
    assert sr["status"] == expect
    if expect == "False":
        assert sr["reason"] == "NoReadyEndpoints" and resp["status"]["phase"] == "Pending"


def test_slices_of_another_service_do_not_count():
    p = parent()
    observed = rolled_out(p)
    resp = run(p, observed, slices=[slice_([True], service="other")], **owned_related(observed))
    assert cond(resp["status"], "ServiceReady")["status"] == "False"


def test_without_customize_hook_service_object_alone_is_judged():
    p = parent()
    observed = [o for o in rolled_out(p)]
    resp = sync(request(p, observed), now=NOW)  # related == {}
    assert cond(resp["status"], "ServiceReady")["status"] == "True" and resp["status"]["phase"] == "Ready"


def test_scaled_to_zero_needs_no_endpoint():
    p = parent(replicas=0)
    observed = rolled_out(p)
    resp = run(p, observed, slices=[], **owned_related(observed))
    assert resp["status"]["phase"] == "Ready" and cond(resp["status"], "Ready")["reason"] == "ScaledToZero"


# --- name collisions -------------------------------------------------------------------------------

def test_foreign_deployment_on_a_fresh_server_gets_no_children_and_failed():
    p = parent()
    foreign = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "srv", "namespace": NS}}
    resp = run(p, deployments=[foreign])
    assert resp["children"] == []
    st = resp["status"]
    ready = cond(st, "Ready")
    assert st["phase"] == "Failed" and ready["reason"] == "NameConflict"
    assert f"Deployment {NS}/srv already exists and is not owned by MCPServer srv" in ready["message"]
    assert cond(st, "DeploymentReady")["reason"] == "NameConflict"
    # converges
    assert run(dict(p, status=st), deployments=[foreign])["status"] == st


def test_foreign_configmap_is_never_mounted_adopted_or_deleted():
    p = parent(config={"a": "b"})
    foreign = configmap("srv-config", {"config.json": "{}"}, owner_uid="someone-else")
    fresh = run(p, configmaps=[foreign])
    assert fresh["children"] == []  # no Deployment that would mount it, no ConfigMap to apply over it
    assert cond(fresh["status"], "Ready")["reason"] == "NameConflict"
    assert f"ConfigMap {NS}/srv-config" in cond(fresh["status"], "Ready")["message"]
    assert "controlled by MCPServer srv" in cond(fresh["status"], "Ready")["message"]  # another uid


def test_config_added_while_a_foreign_configmap_exists_keeps_the_running_server():
    old = parent()
    observed = rolled_out(old)
    new = parent(config={"a": "b"}, generation=2)
    foreign = configmap("srv-config", {"x": "y"})
    resp = run(new, observed, configmaps=[foreign] + owned_related(observed)["configmaps"],
               deployments=owned_related(observed)["deployments"])
    assert resp["children"] == run(old)["children"]  # the server of generation 1, untouched
    assert resp["status"]["phase"] == "Failed"
    assert "it has no controller" in cond(resp["status"], "Ready")["message"]


def test_own_children_among_related_are_not_collisions():
    p = parent(config={"a": "b"})
    observed = rolled_out(p)
    resp = run(p, observed, slices=[slice_([True])], **owned_related(observed))
    assert resp["status"]["phase"] == "Ready" and resp["children"] == run(p)["children"]


def test_objects_of_other_namespaces_are_ignored():
    p = parent()
    foreign = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "srv", "namespace": "other"}}
    resp = run(p, deployments=[foreign])
    assert {c["kind"] for c in resp["children"]} == {"Deployment", "Service", "ConfigMap", "Role", "RoleBinding"}


# --- referenced Secrets / ConfigMaps roll the pods ------------------------------------------------

SECRET_ENV = [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "token"}}}]


def template_annotations(resp):
    return by_kind(resp["children"])["Deployment"]["spec"]["template"]["metadata"].get("annotations", {})


def test_secret_edit_changes_the_pod_template_and_the_spec_hash():
    p = parent(env=SECRET_ENV)
    a = run(p, secrets=[secret("tok", {"token": "s3cr3t-one", "other": "x"})])
    b = run(p, secrets=[secret("tok", {"token": "s3cr3t-two", "other": "x"})])
    c = run(p, secrets=[secret("tok", {"token": "s3cr3t-one", "other": "changed"})])  # key not read
    missing = run(p, secrets=[])
    ha, hb, hc, hm = (template_annotations(r)[C.REFERENCED_DATA_HASH_ANNOTATION] for r in (a, b, c, missing))
    assert ha != hb and ha == hc and hm not in (ha, hb)
    spec_hash = lambda r: by_kind(r["children"])["Deployment"]["metadata"]["annotations"][C.SPEC_HASH_ANNOTATION]  # noqa: E731
    assert spec_hash(a) != spec_hash(b)


def test_secret_values_never_appear_in_the_answer():
    p = parent(env=SECRET_ENV)
    value = "s3cr3t-value-4711"
    encoded = base64.b64encode(value.encode()).decode()
    req = related_req(p, secrets=[secret("tok", {"token": value})],
                      pods=[pod(containers=[waiting("CreateContainerConfigError", 'couldn\'t find key token in Secret ns1/tok')])])
    text, _ = sync_json(req, now=NOW)
    assert value not in text and encoded not in text


def test_no_reference_no_annotation_and_no_customize_no_annotation():
    assert C.REFERENCED_DATA_HASH_ANNOTATION not in template_annotations(run(parent()))
    resp = sync(request(parent(env=SECRET_ENV)), now=NOW)  # related == {}: no customize hook
    assert C.REFERENCED_DATA_HASH_ANNOTATION not in template_annotations(resp)


def test_configmap_reference_by_envfrom_hashes_the_whole_object():
    p = parent(envFrom=[{"configMapRef": {"name": "settings"}}])
    a = run(p, configmaps=[configmap("settings", {"a": "1"})])
    b = run(p, configmaps=[configmap("settings", {"a": "1", "b": "2"})])
    assert template_annotations(a)[C.REFERENCED_DATA_HASH_ANNOTATION] != template_annotations(b)[C.REFERENCED_DATA_HASH_ANNOTATION]


# --- the hook's own record ---------------------------------------------------------------------------

def test_record_holds_the_last_valid_spec_and_invalid_edits_render_from_it():
    good = parent(env=SECRET_ENV, config={"k": "v"})
    observed = rolled_out(good, secrets=[secret("tok", {"token": "a"})])
    rec = record_of(run(good)["children"])
    assert json.loads(rec["data"]["spec.json"])["config"] == {"k": "v"}
    bad = copy.deepcopy(good)
    bad["spec"]["transport"], bad["spec"]["replicas"], bad["metadata"]["generation"] = "stdio", 3, 2
    for o in observed:  # server-side apply writes no last-applied annotation
        o["metadata"]["annotations"].pop(C.LAST_APPLIED_ANNOTATION, None)
    # the Secret changed meanwhile: the kept server still carries the hash its pods run with
    resp = run(bad, observed, secrets=[secret("tok", {"token": "b"})], **owned_related(observed))
    assert resp["status"]["phase"] == "Failed"
    assert resp["children"] == run(good, secrets=[secret("tok", {"token": "a"})])["children"]


def test_a_corrupt_record_falls_back_to_observed_copies():
    good = parent()
    observed = rolled_out(good)
    for o in observed:
        if is_record(o):
            o["data"]["spec.json"] = "{not json"
    resp = run(parent(transport="stdio", replicas=3), observed)
    assert sorted(c["kind"] for c in resp["children"]) == ["ConfigMap", "ConfigMap", "Deployment", "Role",
                                                           "RoleBinding", "Service"]


# --- the bridge's Secret is a child too ------------------------------------------------------------

BRIDGED = {"transport": "stdio", "package": {"registry": "pypi", "name": "mcp-server-time", "version": "2026.10.19"}}


def test_customize_asks_for_the_bridge_secret_only_when_bridged():
    rules = {r["resource"]: r for r in rel.customize({"parent": parent(**BRIDGED)})["relatedResources"]}
    assert rules["secrets"]["names"] == ["srv-bridge"]
    plain = {r["resource"] for r in rel.customize({"parent": parent(transport="stdio")})["relatedResources"]}
    assert "secrets" not in plain


def test_foreign_bridge_secret_is_never_taken_over_nor_read_by_the_pods():
    p = parent(**BRIDGED)
    foreign = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "srv-bridge", "namespace": NS},
               "data": {"session-key": base64.b64encode(b"theirs").decode()}}
    resp = run(p, secrets=[foreign])
    kinds = sorted(c["kind"] for c in resp["children"])
    assert "Secret" not in kinds and "Deployment" not in kinds
    assert cond(resp["status"], "Ready")["reason"] == "NameConflict"
    assert f"Secret {NS}/srv-bridge already exists" in cond(resp["status"], "Ready")["message"]
    assert "dGhlaXJz" not in json.dumps(resp)


@pytest.mark.parametrize("junk", [{"stdio": True}, {"stdio": [1]}, {"volumes": "x"}, {"package": 3},
                                  {"health": "tcp"}, {"sessions": []}])
def test_schema_violations_are_a_failed_status_not_a_crash(junk):
    """Found by the fuzz tests: cross-field rules on a spec that is not schema-shaped raised."""
    resp = run(parent(transport="stdio", **junk))
    assert resp["status"]["phase"] == "Failed"
    assert cond(resp["status"], "ConfigurationValid")["status"] == "False"


def _related_with(kind_key, obj):
    return {"pods": [], "slices": []} | {kind_key: [obj]}


def test_foreign_prober_role_is_never_bound():
    """A RoleBinding to a foreign Role <name>-prober would grant the pods whatever that Role says."""
    p = parent()
    observed = rolled_out(p)
    foreign = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "srv-prober", "namespace": NS}, "rules": []}
    fresh = sync(dict(related_req(p), related={**related_req(p)["related"],
                                                rel.child_key("Role"): {f"{NS}/srv-prober": foreign},
                                                rel.child_key("RoleBinding"): {}}), now=NOW)
    assert fresh["children"] == []
    assert f"Role {NS}/srv-prober already exists" in cond(fresh["status"], "Ready")["message"]
    # a running server whose Role was replaced by a foreign one: no RoleBinding to it
    running = [o for o in observed if o["kind"] != "Role"]
    req = related_req(p, running, **owned_related(running))
    req["related"][rel.child_key("Role")] = {f"{NS}/srv-prober": foreign}
    req["related"][rel.child_key("RoleBinding")] = {}
    resp = sync(req, now=NOW)
    assert not [c for c in resp["children"] if c["kind"] in ("Role", "RoleBinding")]
    assert resp["status"]["phase"] == "Failed"


def test_foreign_inventory_configmap_is_never_granted_to_the_prober():
    p = parent()
    foreign = configmap("srv-inventory", {"inventory.json": "{}"})
    resp = run(p, configmaps=[foreign])
    assert not [c for c in resp["children"] if c["kind"] == "Role"]
    assert "ConfigMap ns1/srv-inventory already exists" in cond(resp["status"], "Ready")["message"]


def test_a_crash_loop_reads_the_same_between_back_offs():
    """The kubelet alternates waiting(CrashLoopBackOff) and running-not-ready: one cause, one
    message, so the status does not flap between Failed and Pending."""
    last = {"exitCode": 1, "reason": "Error", "message": "boom"}
    waiting_pod = pod(containers=[waiting("CrashLoopBackOff", "back-off 40s", last=last)])
    running_pod = pod(containers=[{"name": C.CONTAINER_NAME, "ready": False, "restartCount": 3,
                                   "state": {"running": {"startedAt": NOW}}, "lastState": {"terminated": last}}])
    a, b = causes.first_cause([waiting_pod]), causes.first_cause([running_pod])
    assert a == b and a.reason == "CrashLoopBackOff" and a.fatal
