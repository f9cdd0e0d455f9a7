"""Pure tests of shaping: summaries, redaction, validation, paging cursors, byte budgets."""

from datetime import UTC, datetime, timedelta

import pytest

from mcp_k8s_server import shape

NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


def ts(**delta):
    return (NOW - timedelta(**delta)).isoformat().replace("+00:00", "Z")


def pod(name, phase="Running", ready=True, restarts=0, waiting=None, **meta):
    cs = {"name": "main", "ready": ready, "restartCount": restarts, "state": {"running": {}}}
    if waiting:
        cs["state"] = {"waiting": {"reason": waiting}}
    return {
        "metadata": {"name": name, "namespace": "ns", "creationTimestamp": ts(minutes=5), "managedFields": [{"x": 1}], **meta},
        "spec": {"nodeName": "n1", "containers": [{"name": "main"}]},
        "status": {"phase": phase, "containerStatuses": [cs]},
    }


def test_pod_row_from_the_api_servers_table():
    cells = {"Name": "a", "Ready": "0/1", "Status": "Init:CrashLoopBackOff", "Restarts": "6 (2m ago)", "Age": "5m",
             "IP": "<none>", "Node": "n1", "Nominated Node": "<none>", "Readiness Gates": "<none>"}
    assert shape.pod_row(cells, "ns") == {"name": "a", "namespace": "ns", "status": "Init:CrashLoopBackOff", "ready": False,
                                          "readyContainers": "0/1", "restarts": 6, "lastRestart": "2m ago", "age": "5m",
                                          "node": "n1", "reason": "Init:CrashLoopBackOff"}
    ok = shape.pod_row({"Name": "b", "Ready": "2/2", "Status": "Running", "Restarts": "0", "Age": "1d"}, "ns")
    assert ok["ready"] is True and "reason" not in ok and ok["restarts"] == 0 and "lastRestart" not in ok
    table = {"columnDefinitions": [{"name": "Name"}, {"name": "Ready"}], "rows": [{"cells": ["x", "1/1"]}]}
    assert shape.table_rows(table) == [{"Name": "x", "Ready": "1/1"}]


def test_humanize_age():
    assert shape.humanize_age(ts(seconds=30), NOW) == "30s"
    assert shape.humanize_age(ts(hours=3, minutes=4), NOW) == "3h4m"
    assert shape.humanize_age(ts(days=3, hours=2), NOW) == "3d2h"
    assert shape.humanize_age(None, NOW) is None


def test_node_summary():
    node = {"metadata": {"name": "n1"}, "status": {"conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": "v1.37.2"}, "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110", "x": "y"}}}
    assert shape.node_summary(node) == {"name": "n1", "status": "True", "ready": True, "version": "v1.37.2",
                                        "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}, "unschedulable": False}


def test_strip_metadata():
    m = shape.strip_metadata({"name": "a", "managedFields": [1], "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{...}"}})
    assert m == {"name": "a"}


@pytest.mark.parametrize("key", [
    "kubectl.kubernetes.io/last-applied-configuration",
    "metacontroller.k8s.io/last-applied-configuration",  # every child the operator manages has it
    "example.com/last-applied-configuration",
])
def test_every_appliers_copy_is_removed_with_what_it_repeats(key):
    """Found in the field: Metacontroller's copy of an applied Secret and of a Deployment's env
    literals was shown in clear. The kind: any `<prefix>/last-applied-configuration`."""
    secret = {"kind": "Secret", "metadata": {"name": "s", "annotations": {
        key: '{"data":{"session-key":"c2VjcmV0LXZhbHVl"}}', "team": "a"}}, "data": {"session-key": "c2VjcmV0LXZhbHVl"}}
    dep = {"kind": "Deployment", "metadata": {"name": "d", "annotations": {
        key: '{"spec":{"template":{"spec":{"containers":[{"env":[{"name":"DB_PASSWORD","value":"hunter2"}]}]}}}}'}},
        "spec": {}}
    for obj, secret_text in ((secret, "c2VjcmV0LXZhbHVl"), (dep, "hunter2")):
        out = shape.redact_object(obj)
        assert secret_text not in str(out) and key not in str(out)
        assert shape.strip_metadata(obj["metadata"]).get("annotations", {}).get(key) is None
    assert shape.redact_object(secret)["metadata"]["annotations"] == {"team": "a"}


def test_redact_env():
    env = [
        {"name": "PLAIN", "value": "hello"},
        {"name": "DB_PASSWORD", "value": "hunter2"},
        {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "CM", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}},
    ]
    out = shape.redact_env(env)
    assert out[0] == {"name": "PLAIN", "value": "hello"}
    assert out[1]["value"] == "***" and "hunter2" not in str(out)
    assert out[2]["value"] == "***" and "secret db/pw" in out[2]["source"]
    assert out[3] == {"name": "POD", "source": "fieldRef metadata.name"}
    assert out[4] == {"name": "CM", "source": "configMapKeyRef cfg/k"}
    assert shape.redact_env_from([{"secretRef": {"name": "s"}}, {"configMapRef": {"name": "c"}, "prefix": "P_"}]) == [
        "secret s (values never shown)", "configmap c prefix P_"]


@pytest.mark.parametrize("name", ["web", "web-1", "a" * 63, "0abc"])
def test_valid_labels(name):
    assert shape.check_dns1123_label(name, "name") is None


@pytest.mark.parametrize("name,hint", [("Web", "'web'"), ("my_pod", "'my-pod'"), ("-x", "'x'"), ("a" * 64, "at most 63"), ("", "empty")])
def test_invalid_labels_give_actionable_message(name, hint):
    msg = shape.check_dns1123_label(name, "name")
    assert msg and hint in msg


@pytest.mark.parametrize("image", ["nginx", "nginx:alpine", "nginx:1.27", "docker.io/library/nginx:1.27",
                                   "localhost:5000/team/app:v1", "ghcr.io/org/app@sha256:" + "a" * 64, "registry.example/app:1"])
def test_valid_images(image):
    assert shape.check_image(image) is None


@pytest.mark.parametrize("image,needle", [("", "empty"), ("nginx latest", "whitespace"), ("Nginx:1", "lowercase"),
                                          ("nginx:", "not a valid"), ("http://x/y", "not a valid")])
def test_invalid_images(image, needle):
    msg = shape.check_image(image)
    assert msg and needle in msg


def test_cursor_roundtrip_and_mismatch():
    fp = shape.query_fingerprint("pods", "ns", None, None, 10)
    c = shape.encode_cursor("k8s-token", "pod-5", fp)
    assert shape.decode_cursor(c, fp) == ("k8s-token", "pod-5")
    with pytest.raises(shape.CursorError, match="different query"):
        shape.decode_cursor(c, shape.query_fingerprint("pods", "other", None, None, 10))
    with pytest.raises(shape.CursorError, match="not one this server issued"):
        shape.decode_cursor("garbage!!", fp)


def test_page_without_budget_pressure():
    items = [pod(f"p{i:03d}") for i in range(10)]
    fp = "f"
    out, cursor, notice = shape.page(items, lambda p: {"name": p["metadata"]["name"], **shape.pod_status(p)}, after=None, used_continue=None,
                                     next_continue="next", fingerprint=fp, budget=1 << 20)
    assert len(out) == 10 and notice is None
    assert shape.decode_cursor(cursor, fp) == ("next", None)
    out, cursor, notice = shape.page(items, lambda p: {"name": p["metadata"]["name"], **shape.pod_status(p)}, after=None, used_continue=None,
                                     next_continue=None, fingerprint=fp, budget=1 << 20)
    assert cursor is None


def test_page_cut_by_budget_resumes_exactly():
    items = [pod(f"p{i:03d}") for i in range(50)]
    seen = []
    after = None
    for _ in range(50):
        out, cursor, notice = shape.page(items, lambda p: {"name": p["metadata"]["name"], **shape.pod_status(p)}, after=after, used_continue="c0",
                                         next_continue=None, fingerprint="f", budget=2000)
        assert shape.json_size(out) <= 2000 or len(out) == 1
        seen += [p["name"] for p in out]
        if cursor is None:
            break
        assert notice and "truncated" in notice
        cont, after = shape.decode_cursor(cursor, "f")
        assert cont == "c0"  # re-read the same API page, skipping what was returned
    assert seen == [f"p{i:03d}" for i in range(50)]


def test_fit_items_always_advances():
    assert shape.fit_items([{"x": "y" * 100}], 10) == 1


def test_cut_log_keeps_newest_whole_lines():
    text = "".join(f"line {i}\n" for i in range(1000))
    out, cut = shape.cut_log(text, 100)
    assert cut and out.endswith("line 999\n") and out.startswith("line ")
    assert len(out.encode()) <= 100
    assert shape.cut_log("short\n", 100) == ("short\n", False)


def test_event_summary():
    ev = {"type": "Warning", "reason": "BackOff", "involvedObject": {"kind": "Pod", "name": "a"},
          "message": "x" * 1000, "count": 4, "lastTimestamp": ts(minutes=2)}
    s = shape.event_summary(ev, NOW)
    assert s["object"] == "Pod/a" and s["count"] == 4 and len(s["message"]) == 400 and s["age"] == "2m"
