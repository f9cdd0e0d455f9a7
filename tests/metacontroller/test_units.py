"""Cluster-free unit tests of the stand-in: request shape, response parsing, queue, helpers."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.metacontroller.controller import (
    HookError,
    ParentController,
    TooManyRequests,
    Webhook,
    gvk_key,
    label_selector_matches,
    parse_go_duration,
)
from tests.metacontroller.informer import WorkQueue
from tests.metacontroller.manifests import rewrite_hook_urls


@pytest.mark.parametrize("text,secs", [("10s", 10), ("1m30s", 90), ("500ms", 0.5), ("1h", 3600),
                                       ("", 10), (None, 10), ("bogus", 10), ("-1s", 10), ("0s", 10)])
def test_parse_go_duration(text, secs):
    assert parse_go_duration(text) == pytest.approx(secs)


def test_gvk_key_matches_metacontroller_marshal_text():
    assert gvk_key("apps/v1", "Deployment") == "Deployment.apps/v1"
    assert gvk_key("v1", "Service") == "Service.v1"


@pytest.mark.parametrize("sel,labels,ok", [
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "x"}, False),
    (None, {}, True),
])
def test_label_selector(sel, labels, ok):
    assert label_selector_matches(sel, labels) is ok


def _fake_pc(version="v1"):
    pc = ParentController.__new__(ParentController)
    pc.cc = {"metadata": {"name": "cc"}}
    return pc


def test_build_request_v1_and_v2_keys():
    parent = {"metadata": {"name": "p", "namespace": "ns"}}
    observed = {"ConfigMap.v1": {"ns/a": {"metadata": {"name": "a", "namespace": "ns"}}},
                "Service.v1": {}}
    pc = _fake_pc()
    v1 = pc.build_request(parent, observed, False, "v1")
    assert v1["children"] == {"ConfigMap.v1": {"a": observed["ConfigMap.v1"]["ns/a"]}, "Service.v1": {}}
    assert v1["related"] == {} and v1["finalizing"] is False and v1["controller"] == pc.cc
    v2 = pc.build_request(parent, observed, True, "v2")
    assert set(v2["children"]["ConfigMap.v1"]) == {"ns/a"} and v2["finalizing"] is True
    # cluster-scoped parent, v1: namespaced children keyed ns/name
    v1c = pc.build_request({"metadata": {"name": "p"}}, observed, False, "v1")
    assert set(v1c["children"]["ConfigMap.v1"]) == {"ns/a"}


@pytest.fixture
def server():
    state = {"status": 200, "body": {}, "headers": {}, "delay": 0}

    class H(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(state["delay"])
            data = state["body"] if isinstance(state["body"], bytes) else json.dumps(state["body"]).encode()
            self.send_response(state["status"])
            for k, v in state["headers"].items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{srv.server_address[1]}/sync"
    yield state
    srv.shutdown()


def hook(server, version="v1", timeout="2s", mode=None):
    wh = {"url": server["url"], "timeout": timeout}
    if mode:
        wh["responseUnmarshallMode"] = mode
    return Webhook({"version": version, "webhook": wh}, "sync")


def test_webhook_ok_and_defaults(server):
    server["body"] = {"status": {"a": 1}, "children": [{"apiVersion": "v1", "kind": "X"}]}
    out = hook(server).call({})
    assert out == {"status": {"a": 1}, "children": [{"apiVersion": "v1", "kind": "X"}],
                   "resyncAfterSeconds": 0.0, "finalized": False}
    server["body"] = {"children": [{"apiVersion": "v1"}]}
    with pytest.raises(HookError, match="Kind"):
        hook(server).call({})
    server["body"] = {"children": None}
    assert hook(server).call({})["children"] == []


def test_webhook_non_200_is_error(server):
    server["status"] = 400
    server["body"] = {"error": "bad"}
    with pytest.raises(HookError, match="unsupported status code: 400"):
        hook(server).call({})


def test_webhook_429_retry_after(server):
    server["status"] = 429
    server["headers"] = {"Retry-After": "7"}
    with pytest.raises(TooManyRequests) as exc:
        hook(server).call({})
    assert exc.value.after == 7


def test_webhook_strictness(server):
    server["body"] = {"children": [], "extra": 1}
    assert hook(server, "v1").call({})["children"] == []  # v1: loose
    with pytest.raises(HookError, match="strict"):
        hook(server, "v2").call({})
    assert hook(server, "v2", mode="loose").call({})["children"] == []
    with pytest.raises(HookError, match="strict"):
        hook(server, "v1", mode="strict").call({})


def test_webhook_bad_body_and_timeout(server):
    server["body"] = b"not json"
    with pytest.raises(HookError, match="unmarshal"):
        hook(server).call({})
    server["body"] = {}
    server["delay"] = 1.5
    with pytest.raises(HookError, match="http error"):
        hook(server, timeout="500ms").call({})


def test_webhook_service_url():
    wh = Webhook({"webhook": {"service": {"name": "h", "namespace": "n", "port": 8080}, "path": "/sync"}}, "sync")
    assert wh.url == "http://h.n:8080/sync" and wh.version == "v1" and wh.timeout == 10
    wh = Webhook({"webhook": {"service": {"name": "h", "namespace": "n"}, "path": "/s"}}, "sync")
    assert wh.url == "http://h.n:80/s"


def test_rewrite_hook_urls_keeps_paths_and_timeouts():
    cc = {"spec": {"hooks": {
        "sync": {"version": "v2", "webhook": {"service": {"name": "h", "namespace": "n"}, "path": "/sync",
                                              "timeout": "5s"}},
        "finalize": {"webhook": {"url": "http://x.y:1/finalize"}},
        "customize": {"webhook": {"url": "${HOOK_BASE_URL}/customize"}}}}}
    out = rewrite_hook_urls(cc, "http://127.0.0.1:9/")
    assert out["spec"]["hooks"]["sync"] == {"version": "v2", "webhook": {"url": "http://127.0.0.1:9/sync",
                                                                         "timeout": "5s"}}
    assert out["spec"]["hooks"]["finalize"]["webhook"]["url"] == "http://127.0.0.1:9/finalize"
    assert out["spec"]["hooks"]["customize"]["webhook"]["url"] == "http://127.0.0.1:9/customize"
    assert cc["spec"]["hooks"]["sync"]["webhook"]["path"] == "/sync"  # input untouched


def test_workqueue_dedupes_and_serializes_keys():
    q = WorkQueue()
    q.add("a")
    q.add("a")
    q.add("b")
    assert q.get() == "a"
    q.add("a")  # re-added while processing: queued again only after done()
    assert q.get() == "b"
    got = []
    t = threading.Thread(target=lambda: got.append(q.get()))
    t.start()
    time.sleep(0.1)
    assert got == []
    q.done("a")
    t.join(1)
    assert got == ["a"]
    q.shutdown()


def test_workqueue_rate_limit_and_delay():
    q = WorkQueue()
    start = time.monotonic()
    q.add_after("x", 0.2)
    assert q.get() == "x" and time.monotonic() - start >= 0.19
    q.done("x")
    for _ in range(3):
        q.add_rate_limited("y")
        assert q.get() == "y"
        q.done("y")
    assert q.num_requeues("y") == 3
    q.forget("y")
    assert q.num_requeues("y") == 0
    q.shutdown()
