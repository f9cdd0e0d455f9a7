"""HTTP contract of the hook through the Flask test client."""

from __future__ import annotations

import json
import re

import pytest

from mcp_operator_hook import constants as C
from mcp_operator_hook.app import create_app
from mcp_operator_hook.sync import sync

from .helpers import EXAMPLES, load_example, parent, request
from .test_hook_sync import rolled_out


@pytest.fixture
def client(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    app = create_app()
    app.testing = True
    return app.test_client()


def post(client, path, body, content_type="application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post(path, data=data, content_type=content_type)


def metric(client, name, **labels) -> float:
    text = client.get("/metrics").get_data(as_text=True)
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^(\w+)\{([^}]*)\} (\S+)$", line)
        if m and m.group(1) == name and ",".join(sorted(m.group(2).split(","))) == want:
            return float(m.group(3))
    return 0.0


def _strip_times(resp):
    for c in resp["status"]["conditions"]:
        c.pop("lastTransitionTime")
    return resp


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_sync_answers_what_the_pure_function_answers(client, path):
    req = request(load_example(path))
    r = post(client, "/sync", req)
    assert r.status_code == 200 and r.mimetype == "application/json"
    body = r.get_json()
    assert set(body) == {"status", "children"}
    assert _strip_times(body) == _strip_times(sync(req))


def test_sync_ready_over_http(client):
    p = parent(replicas=2)
    body = post(client, "/sync", request(p, rolled_out(p), v2=True)).get_json()
    assert body["status"]["phase"] == "Ready"
    assert body["status"]["endpoint"] == "http://srv.ns1.svc.cluster.local:8080/mcp"


def test_content_type_is_not_required(client):
    r = post(client, "/sync", json.dumps(request(parent())), content_type="text/plain")
    assert r.status_code == 200


def test_invalid_spec_is_200_with_failed_status(client):
    p = parent()
    bad = parent(transport="stdio", replicas=2, generation=2)
    r = post(client, "/sync", request(bad, rolled_out(p)))
    assert r.status_code == 200
    body = r.get_json()
    assert body["status"]["phase"] == "Failed"
    assert sorted(c["kind"] for c in body["children"]) == ["ConfigMap", "ConfigMap", "Deployment", "Role",
                                                           "RoleBinding", "Service"]  # + record, inventory
    assert metric(client, "mcp_hook_invalid_spec_total", hook="sync") == 1


@pytest.mark.parametrize("body,needle", [
    (b"", "not valid JSON"),
    (b"{not json", "not valid JSON"),
    (b"[]", "must be a JSON object"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),  # found in the field: was a 500
    (b'{"parent": {"spec": {"replicas": NaN}}, "children": {}}', "not a JSON number"),
    (json.dumps({"parent": parent()}), "request.children is missing"),
    (json.dumps({"children": {}}), "request.parent must be an object"),
])
@pytest.mark.parametrize("path", ["/sync", "/finalize"])
def test_malformed_requests_get_400_json(client, body, needle, path):
    hook = path.strip("/")
    before = metric(client, "mcp_hook_errors_total", hook=hook, kind="bad_request")
    r = post(client, path, body)
    assert r.status_code == 400 and r.mimetype == "application/json"
    assert needle in r.get_json()["error"]
    assert metric(client, "mcp_hook_errors_total", hook=hook, kind="bad_request") == before + 1
    assert metric(client, "mcp_hook_requests_total", hook=hook, code="400") >= 1


def test_finalize_contract(client):
    p = parent()
    r = post(client, "/finalize", request(p, rolled_out(p), finalizing=True))
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"status", "children", "finalized"}
    assert body["children"] == [] and body["finalized"] is False
    assert post(client, "/finalize", request(p, [], finalizing=True)).get_json()["finalized"] is True


def test_internal_error_is_500_json_and_counted(client, monkeypatch):
    import mcp_operator_hook.status as status_mod

    def boom(**_):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(status_mod, "compute", boom)
    r = post(client, "/sync", request(parent()))
    assert r.status_code == 500
    assert r.get_json() == {"error": "internal error in the sync hook"}
    assert metric(client, "mcp_hook_errors_total", hook="sync", kind="internal") == 1


def test_too_large_body_is_413(client):
    r = post(client, "/sync", b"x" * (C.MAX_REQUEST_BYTES + 1))
    assert r.status_code == 413 and "error" in r.get_json()


def test_wrong_method_and_path(client):
    assert client.get("/sync").status_code == 405
    assert client.get("/nope").status_code == 404
    assert client.get("/nope").get_json() == {"error": "not found"}


def test_health_ready_metrics(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}
    for _ in range(3):
        post(client, "/sync", request(parent()))
    post(client, "/finalize", request(parent(), [], finalizing=True))
    assert metric(client, "mcp_hook_requests_total", hook="sync", code="200") == 3
    assert metric(client, "mcp_hook_requests_total", hook="finalize", code="200") == 1
    assert metric(client, "mcp_hook_request_duration_seconds_count", hook="sync") == 3
    assert metric(client, "mcp_hook_request_duration_seconds_bucket", hook="sync", le="+Inf") == 3
    text = client.get("/metrics").get_data(as_text=True)
    assert "# TYPE mcp_hook_request_duration_seconds histogram" in text


def test_readyz_fails_when_sync_is_broken(client, monkeypatch):
    import mcp_operator_hook.sync as sync_mod

    monkeypatch.setattr(sync_mod.specmod, "validate_canonical", lambda *a: (_ for _ in ()).throw(RuntimeError("x")))
    assert client.get("/readyz").status_code == 503
