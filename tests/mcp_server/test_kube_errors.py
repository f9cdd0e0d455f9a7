"""Pure tests of Kubernetes error mapping: messages name what was refused or missing, and never
carry client internals (URLs, urllib3 reprs)."""

import asyncio
import json

import urllib3
from kubernetes.client.exceptions import ApiException

from mcp_k8s_server import kube
from mcp_k8s_server.kube import Op


def api_exc(status, message="", reason="Reason"):
    e = ApiException(status=status, reason=reason)
    e.body = json.dumps({"kind": "Status", "message": message}).encode()
    return e


def test_forbidden_names_verb_resource_namespace():
    msg = "pods is forbidden: User \"system:serviceaccount:ns:sa\" cannot create resource \"pods\""
    err = kube.map_api_exception(api_exc(403, msg), Op("create", "pod", "team-a", "web"))
    assert isinstance(err, kube.KubeForbidden)
    assert "may not create pods in namespace 'team-a'" in str(err) and "'web'" in str(err)
    err = kube.map_api_exception(api_exc(403), Op("list", "node"))
    assert "may not list nodes at cluster scope" in str(err)
    err = kube.map_api_exception(api_exc(403), Op("get", "log", "ns", "web"))
    assert "may not get pods/log" in str(err)


def test_not_found_names_the_object():
    err = kube.map_api_exception(api_exc(404, 'pods "web" not found'), Op("get", "pod", "team-a", "web"))
    assert isinstance(err, kube.KubeNotFound) and str(err) == "Not found: pod 'web' in namespace 'team-a' does not exist."
    err = kube.map_api_exception(api_exc(404), Op("list", "pod", "nope"))
    assert "namespace 'nope' does not exist" in str(err)


def test_other_statuses():
    assert isinstance(kube.map_api_exception(api_exc(409, "exists"), Op("create", "pod", "n", "a")), kube.KubeConflict)
    assert "Start the listing again" in str(kube.map_api_exception(api_exc(410), Op("list", "pod", "n")))
    bad = kube.map_api_exception(api_exc(400, "unable to parse requirement"), Op("list", "pod", "n"))
    assert isinstance(bad, kube.KubeInvalid) and "unable to parse requirement" in str(bad)
    assert "retry" in str(kube.map_api_exception(api_exc(503), Op("list", "pod", "n")))
    assert "throttling" in str(kube.map_api_exception(api_exc(429), Op("list", "pod", "n")))
    assert "credentials" in str(kube.map_api_exception(api_exc(401), Op("list", "pod", "n")))


def test_transport_errors_carry_no_urls():
    raw = urllib3.exceptions.MaxRetryError(None, "/api/v1/namespaces/x/pods?limit=100", reason=ConnectionRefusedError(111, "refused"))
    err = kube.map_transport_error(raw, Op("list", "pod", "x"))
    assert isinstance(err, kube.KubeUnavailable) and "Cannot reach the Kubernetes API server" in str(err)
    assert "/api/v1" not in str(err)
    slow = kube.map_transport_error(urllib3.exceptions.ReadTimeoutError(None, "/api", "Read timed out."), Op("get", "pod", "x", "a"))
    assert "did not answer in time" in str(slow)


def test_missing_kubeconfig_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    k = kube.Kube(kubeconfig=str(tmp_path / "missing"))
    try:
        asyncio.run(k.list_pods("default"))
    except kube.KubeUnavailable as exc:
        assert "No Kubernetes credentials" in str(exc) and "names no existing file" in str(exc)
    else:
        raise AssertionError("expected KubeUnavailable")
