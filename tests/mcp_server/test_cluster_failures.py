"""Failure modes against the local control plane: RBAC refusals (a ServiceAccount token bound to the
read-only Role the chart ships) and the API server going away mid-session and coming back."""

import json
from urllib.parse import urlparse

import anyio
import pytest

from .helpers import TcpProxy, connect, http_server, kubeconfig_with, texts, wait_for

pytestmark = pytest.mark.cluster

# the read-only rules of charts/mcp-operator/templates/mcp-server-rbac.yaml (namespaced, no nodes)
READ_ONLY_RULES = [
    {"apiGroups": [""], "resources": ["pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["get", "list", "watch"]},
]


@pytest.fixture
def readonly_kubeconfig(control_plane, namespace, tmp_path):
    cp, ns = control_plane, namespace
    objs = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "mcp-ro", "namespace": ns}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "mcp-ro", "namespace": ns},
         "rules": READ_ONLY_RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "mcp-ro", "namespace": ns},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "mcp-ro"},
         "subjects": [{"kind": "ServiceAccount", "name": "mcp-ro", "namespace": ns}]},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "victim", "namespace": ns},
         "spec": {"containers": [{"name": "main", "image": "registry.example/app:1"}]}},
    ]
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    token = cp.kubectl("create", "token", "mcp-ro", "-n", ns, "--duration=1h").stdout.strip()
    path = kubeconfig_with(cp.kubeconfig, tmp_path / "ro.kubeconfig", token=token)
    wait_for(lambda: cp.kubectl("--kubeconfig", path, "get", "pods", "-n", ns, check=False).returncode == 0, what="RBAC active")
    return path


@pytest.mark.parametrize("transport", ["stdio", "http-modern"])
def test_forbidden_names_verb_and_resource(control_plane, namespace, readonly_kubeconfig, tmp_path, transport):
    ns = namespace

    async def go():
        async with connect(transport, readonly_kubeconfig, tmp_path) as c:
            r = await c.call_tool("list-pods", {"namespace": ns})
            assert not r.is_error and [p["name"] for p in r.structured_content["pods"]] == ["victim"]
            r = await c.call_tool("describe-pod", {"name": "victim", "namespace": ns})
            assert not r.is_error, texts(r)

            r = await c.call_tool("create-pod", {"name": "intruder", "image": "nginx:1.27", "namespace": ns})
            assert r.is_error
            assert f"may not create pods in namespace '{ns}'" in texts(r), texts(r)
            r = await c.call_tool("delete-pod", {"name": "victim", "namespace": ns})
            assert r.is_error and f"may not delete pods in namespace '{ns}'" in texts(r) and "'victim'" in texts(r)
            r = await c.call_tool("list-pods", {"namespace": "default"})
            assert r.is_error and "may not list pods in namespace 'default'" in texts(r)
            with pytest.raises(Exception, match="may not list nodes at cluster scope"):
                await c.read_resource("k8s://cluster/nodes")
            # completion degrades gracefully when namespaces cannot be listed
            comp = await c.complete(
                ref={"type": "ref/resource", "uri": "k8s://namespace/{namespace}/pods"}, argument={"name": "namespace", "value": ""}
            )
            assert comp.completion.values == ["default"]

    anyio.run(go)
    assert control_plane.kubectl("get", "pod", "victim", "-n", ns, check=False).returncode == 0
    assert control_plane.kubectl("get", "pod", "intruder", "-n", ns, check=False).returncode != 0


def test_unreachable_from_the_start(control_plane, tmp_path):
    """A kubeconfig whose server is a closed loopback port: clear errors, /ready 503, /health 200."""
    from .helpers import free_port

    dead = kubeconfig_with(control_plane.kubeconfig, tmp_path / "dead.kubeconfig", server=f"https://127.0.0.1:{free_port()}")
    with http_server(dead, tmp_path, MCP_READY_CACHE_SECONDS="0") as srv:
        assert srv.get("/health")[0] == 200
        status, body = srv.get("/ready")
        assert status == 503 and "Cannot reach the Kubernetes API server" in json.loads(body)["reason"]
        status, body = srv.post({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                 "params": {"name": "list-pods", "arguments": {}}})
        assert status == 200, body
        result = json.loads(body)["result"]
        assert result["isError"] and "Cannot reach the Kubernetes API server" in result["content"][0]["text"]
        assert "127.0.0.1" not in result["content"][0]["text"]  # no raw connection details


def test_api_server_goes_away_mid_session_and_returns(control_plane, namespace, tmp_path):
    """The server talks to the API server through a TCP proxy we stop and restart on the same port:
    the documented honest stand-in for stopping the API server without disturbing the shared
    control plane. Same session throughout (HTTP, 2025-11-25 handshake)."""
    cp, ns = control_plane, namespace
    cp.kubectl("run", "p1", "-n", ns, "--image=registry.example/app:1")
    api = urlparse(cp.server)
    proxy = TcpProxy(api.hostname, api.port).start()
    via_proxy = kubeconfig_with(cp.kubeconfig, tmp_path / "proxy.kubeconfig", server=f"https://127.0.0.1:{proxy.port}")
    try:
        with http_server(via_proxy, tmp_path, MCP_READY_CACHE_SECONDS="0", MCP_KUBE_TIMEOUT_SECONDS="3") as srv:
            from mcp import Client

            async def go():
                async with Client(srv.url, mode="legacy") as c:
                    r = await c.call_tool("list-pods", {"namespace": ns})
                    assert not r.is_error and r.structured_content["count"] == 1
                    assert srv.get("/ready")[0] == 200

                    proxy.stop()  # the API server "stops"
                    r = await c.call_tool("list-pods", {"namespace": ns})
                    assert r.is_error and "Cannot reach the Kubernetes API server" in texts(r), texts(r)
                    r = await c.call_tool("describe-pod", {"name": "p1", "namespace": ns})
                    assert r.is_error and "Cannot reach" in texts(r)
                    status, body = srv.get("/ready")
                    assert status == 503 and "Cannot reach" in json.loads(body)["reason"]
                    assert srv.get("/health")[0] == 200  # liveness is not readiness: do not restart us

                    proxy.start()  # ... and comes back on the same address
                    wait_for(lambda: srv.get("/ready")[0] == 200, timeout=30, what="ready again")
                    r = await c.call_tool("list-pods", {"namespace": ns})
                    assert not r.is_error and r.structured_content["count"] == 1

            anyio.run(go)
            assert "readiness probe failed" in srv.logs()
    finally:
        proxy.stop()
