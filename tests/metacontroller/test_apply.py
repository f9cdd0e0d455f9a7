"""Unit tests of the stand-in's client-side 3-way merge (port of metacontroller's
pkg/dynamic/apply/apply_test.go cases plus ApplyUpdate behaviour from manage_children.go)."""

from __future__ import annotations

import json

import pytest

from tests.metacontroller.apply import (
    LAST_APPLIED_ANNOTATION,
    apply_update,
    detect_list_map_key,
    get_last_applied,
    go_json,
    merge,
    set_last_applied,
)


def test_merge_scalars_objects_and_removals():
    observed = {"a": 1, "b": {"c": 2, "d": 3, "user": "keep"}, "gone": 1, "other": "mine"}
    last = {"a": 1, "b": {"c": 2, "d": 3}, "gone": 1}
    desired = {"a": 9, "b": {"c": 2}, "new": [1, 2]}
    assert merge(observed, last, desired) == {
        "a": 9, "b": {"c": 2, "user": "keep"}, "new": [1, 2], "other": "mine"}


def test_merge_does_not_mutate_inputs():
    observed = {"x": {"y": [1]}}
    desired = {"x": {"y": [2]}}
    merge(observed, None, desired)
    assert observed == {"x": {"y": [1]}} and desired == {"x": {"y": [2]}}


def test_field_never_applied_is_kept_when_absent_from_desired():
    # server defaults (not in lastApplied) survive
    observed = {"spec": {"replicas": 1, "revisionHistoryLimit": 10}}
    assert merge(observed, {"spec": {"replicas": 1}}, {"spec": {"replicas": 3}}) == {
        "spec": {"replicas": 3, "revisionHistoryLimit": 10}}


def test_null_in_desired_is_set():
    assert merge({"a": 1}, {"a": 1}, {"a": None}) == {"a": None}


def test_scalar_list_is_replaced():
    assert merge({"args": ["a", "b"]}, {"args": ["a", "b"]}, {"args": ["c"]}) == {"args": ["c"]}


def test_list_map_merge_by_name_keeps_server_fields_and_order():
    observed = {"containers": [
        {"name": "side", "image": "s:1", "terminationMessagePath": "/dev/termination-log"},
        {"name": "main", "image": "m:1", "imagePullPolicy": "IfNotPresent"},
    ]}
    last = {"containers": [{"name": "main", "image": "m:1"}, {"name": "old", "image": "o"}]}
    desired = {"containers": [{"name": "main", "image": "m:2"}, {"name": "added", "image": "a"}]}
    out = merge(observed, last, desired)
    assert out == {"containers": [
        {"name": "side", "image": "s:1", "terminationMessagePath": "/dev/termination-log"},
        {"name": "main", "image": "m:2", "imagePullPolicy": "IfNotPresent"},
        {"name": "added", "image": "a"},
    ]}


def test_list_map_item_removed_when_dropped_from_desired():
    observed = {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    last = {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    desired = {"env": [{"name": "A", "value": "1"}]}
    assert merge(observed, last, desired) == {"env": [{"name": "A", "value": "1"}]}


def test_list_map_nested_field_removal():
    observed = {"env": [{"name": "A", "value": "1"}]}
    last = {"env": [{"name": "A", "value": "1"}]}
    desired = {"env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}
    assert merge(observed, last, desired) == {
        "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}


@pytest.mark.parametrize("lists,key", [
    (([{"containerPort": 80, "name": "http"}], None, [{"containerPort": 81, "name": "x"}]), "containerPort"),
    (([{"port": 80, "name": "http", "protocol": "TCP"}], [{"port": 80, "name": "http"}]), "port"),
    (([{"mountPath": "/a", "name": "v"}],), "mountPath"),
    (([{"name": "a"}, {"name": "b", "x": 1}],), "name"),
    (([{"name": "a"}, {"other": "b"}],), ""),
    (([{"name": "a"}, "scalar"],), ""),
    (([], None, []), ""),
    (([{"type": "Ready"}],), ""),  # conditions-like lists are replaced, not merged
])
def test_detect_list_map_key(lists, key):
    assert detect_list_map_key(*lists) == key


def test_ports_merge_by_port_number():
    observed = {"ports": [{"port": 8080, "name": "mcp", "protocol": "TCP", "targetPort": 8080}]}
    last = {"ports": [{"port": 8080, "name": "mcp", "targetPort": "mcp"}]}
    desired = {"ports": [{"port": 9090, "name": "mcp", "targetPort": "mcp"}]}
    # key is "port" (precedes "name"): 8080 is removed, 9090 is added
    assert merge(observed, last, desired) == {"ports": [{"port": 9090, "name": "mcp", "targetPort": "mcp"}]}


def test_type_mismatch_is_not_an_error_go_quirk():
    # Go's failed type assertion gives a nil map: mismatching lastApplied is treated as absent.
    assert merge({"a": {"x": 1}}, {"a": "str"}, {"a": {"y": 2}}) == {"a": {"x": 1, "y": 2}}
    # desired scalar where observed is an object: the object is kept (emptied of applied keys)
    assert merge({"a": {"x": 1, "s": 2}}, {"a": {"x": 1}}, {"a": 5}) == {"a": {"s": 2}}


def test_go_json_matches_go_marshal():
    assert go_json({"b": 1, "a": {"d": "<&>", "c": [True, None]}}) == \
        '{"a":{"c":[true,null],"d":"\\u003c\\u0026\\u003e"},"b":1}'
    assert go_json({"u": "é"}) == '{"u":"é"}'


def test_last_applied_roundtrip():
    obj = {"metadata": {"name": "x"}}
    set_last_applied(obj, {"kind": "ConfigMap", "data": {"a": "1"}})
    assert obj["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] == '{"data":{"a":"1"},"kind":"ConfigMap"}'
    assert get_last_applied(obj) == {"kind": "ConfigMap", "data": {"a": "1"}}
    assert get_last_applied({"metadata": {}}) is None
    assert get_last_applied({"metadata": {"annotations": {LAST_APPLIED_ANNOTATION: ""}}}) is None


def _observed_configmap(data, last_applied_data, extra_labels=None):
    desired = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "namespace": "ns", "labels": {"controller-uid": "u"}},
               "data": last_applied_data}
    obs = json.loads(json.dumps(desired))
    obs["metadata"].update({"uid": "123", "resourceVersion": "7", "creationTimestamp": "2026-01-01T00:00:00Z",
                            "ownerReferences": [{"uid": "u", "controller": True}],
                            "managedFields": [{"manager": "m"}]})
    obs["metadata"]["labels"].update(extra_labels or {})
    obs["data"] = data
    set_last_applied(obs, desired)
    return obs, desired


def test_apply_update_noop_when_desired_equals_last_applied():
    obs, desired = _observed_configmap({"a": "1"}, {"a": "1"}, extra_labels={"someone": "else"})
    assert apply_update(obs, desired) == obs


def test_apply_update_changes_and_records_last_applied():
    obs, desired = _observed_configmap({"a": "1"}, {"a": "1"})
    desired2 = json.loads(json.dumps(desired))
    desired2["data"] = {"b": "2"}
    new = apply_update(obs, desired2)
    assert new["data"] == {"b": "2"}
    assert new["metadata"]["ownerReferences"] == obs["metadata"]["ownerReferences"]
    assert new["metadata"]["uid"] == "123" and new["metadata"]["resourceVersion"] == "7"
    assert get_last_applied(new) == desired2


def test_apply_update_reverts_system_fields_and_status():
    obs, desired = _observed_configmap({"a": "1"}, {"a": "1"})
    obs["status"] = {"observed": True}
    desired2 = json.loads(json.dumps(desired))
    desired2["metadata"].update({"uid": "evil", "resourceVersion": "1", "generation": 5})
    desired2["status"] = {"replicas": 9}
    new = apply_update(obs, desired2)
    assert new["metadata"]["uid"] == "123"
    assert new["metadata"]["resourceVersion"] == "7"
    assert "generation" not in new["metadata"]
    assert new["status"] == {"observed": True}


def test_apply_update_without_last_applied_adds_fields_only():
    obs = {"metadata": {"name": "c", "labels": {"x": "1"}}, "data": {"a": "1", "z": "0"}}
    new = apply_update(obs, {"metadata": {"name": "c"}, "data": {"a": "2"}})
    assert new["data"] == {"a": "2", "z": "0"}
    assert new["metadata"]["labels"] == {"x": "1"}


def test_apply_update_ignores_last_applied_set_by_hook():
    obs, desired = _observed_configmap({"a": "1"}, {"a": "1"})
    desired2 = json.loads(json.dumps(desired))
    desired2["metadata"]["annotations"] = {LAST_APPLIED_ANNOTATION: "garbage"}
    new = apply_update(obs, desired2)
    la = get_last_applied(new)
    assert la["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] == ""


def test_deployment_roundtrip_is_stable_against_server_defaults():
    desired = {"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "d", "namespace": "n", "labels": {"app": "a", "controller-uid": "u"}},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "a"}},
                        "template": {"metadata": {"labels": {"app": "a"}, "annotations": {"h": "1"}},
                                     "spec": {"containers": [{"name": "c", "image": "i",
                                                              "ports": [{"name": "mcp", "containerPort": 8080}],
                                                              "env": [{"name": "A", "value": "1"}]}]}}}}
    observed = json.loads(json.dumps(desired))
    c = observed["spec"]["template"]["spec"]["containers"][0]
    c["ports"][0]["protocol"] = "TCP"
    c["imagePullPolicy"] = "IfNotPresent"
    observed["spec"]["strategy"] = {"type": "RollingUpdate"}
    observed["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    observed["metadata"].update({"uid": "x", "resourceVersion": "3", "generation": 1})
    observed["status"] = {"replicas": 1}
    set_last_applied(observed, desired)
    assert apply_update(observed, desired) == observed
    # a config change only touches the annotation
    desired2 = json.loads(json.dumps(desired))
    desired2["spec"]["template"]["metadata"]["annotations"]["h"] = "2"
    new = apply_update(observed, desired2)
    assert new["spec"]["template"]["metadata"]["annotations"] == {"h": "2"}
    assert new["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"
    assert new["spec"]["strategy"] == {"type": "RollingUpdate"}
