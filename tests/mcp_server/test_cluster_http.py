"""The HTTP server as the operator runs it: the seed's curl commands, probes, metrics, DNS-rebinding
protection, bearer auth, rate limit, the config file, and paging across a few hundred pods."""

import json
import subprocess

import anyio
import pytest
from mcp import Client

from .helpers import connect, http_server, texts, wait_for

pytestmark = pytest.mark.cluster

CURL_HEADERS = {"Accept": "*/*"}  # what curl adds by itself; the seed's commands set only Content-Type


def test_seed_curl_commands(control_plane, namespace, tmp_path):
    with http_server(control_plane.kubeconfig, tmp_path) as srv:
        status, body = srv.post({"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 1}, headers=CURL_HEADERS)
        assert status == 200
        tools = {t["name"]: t for t in json.loads(body)["result"]["tools"]}
        assert {"create-pod", "get-pod-logs", "delete-pod"} <= set(tools)
        assert all("annotations" in t and "outputSchema" in t for t in tools.values())

        status, body = srv.post({"jsonrpc": "2.0", "method": "resources/list", "params": {}, "id": 2}, headers=CURL_HEADERS)
        assert status == 200 and "k8s://cluster/nodes" in body

        # the seed's create-pod call (its example uses the default namespace; we target the test's)
        call = {"jsonrpc": "2.0", "method": "tools/call", "id": 2,
                "params": {"name": "create-pod", "arguments": {"name": "test-pod", "image": "nginx:alpine", "namespace": namespace}}}
        status, body = srv.post(call, headers=CURL_HEADERS)
        result = json.loads(body)["result"]
        assert status == 200 and not result["isError"], body
        assert result["structuredContent"]["name"] == "test-pod"
        assert control_plane.kubectl("get", "pod", "test-pod", "-n", namespace, check=False).returncode == 0

        # no Accept header at all is answered too; a non-JSON content type is refused
        assert srv.post({"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 3})[0] == 200
        status, _ = srv.post("x", headers={"Content-Type": "text/plain"})
        assert status == 415

        status, body = srv.get("/health")
        assert status == 200 and json.loads(body)["status"] == "healthy"
        status, body = srv.get("/ready")
        assert status == 200 and json.loads(body)["status"] == "ready"
        assert srv.get("/metrics")[0] == 404  # off unless ENABLE_METRICS


def test_dns_rebinding_protection_and_service_names(control_plane, tmp_path):
    env = {"MCP_SERVER_NAME": "basic-mcpserver", "POD_NAMESPACE": "team-a", "MCP_ALLOWED_HOSTS": "mcp.example.com"}
    with http_server(control_plane.kubeconfig, tmp_path, **env) as srv:
        body = {"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 1}
        for host in ["127.0.0.1:%d" % srv.port, "localhost:%d" % srv.port, "basic-mcpserver:3001",
                     "basic-mcpserver.team-a.svc:3001", "basic-mcpserver.team-a.svc.cluster.local:3001",
                     "basic-mcpserver.team-a.svc.cluster.local", "mcp.example.com"]:
            assert srv.post(body, headers={"Host": host})[0] == 200, host
        assert srv.post(body, headers={"Host": "evil.example.com"})[0] == 421
        assert srv.post(body, headers={"Host": "basic-mcpserver.other-ns.svc:3001"})[0] == 421
        assert srv.post(body, headers={"Origin": "http://evil.example.com"})[0] == 403
        assert srv.post(body, headers={"Origin": f"http://localhost:{srv.port}"})[0] == 200
        # probes answer any Host (kubelet probes the pod IP)
        assert srv.get("/health", headers={"Host": "10.244.0.7:3001"})[0] == 200


def test_bearer_token_auth(control_plane, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("t0ken-for-tests\n")
    with http_server(control_plane.kubeconfig, tmp_path, MCP_AUTH_TOKEN_FILE=str(token_file)) as srv:
        body = {"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 1}
        status, text = srv.post(body)
        assert status == 401 and "Bearer" in text
        assert srv.post(body, headers={"Authorization": "Bearer wrong"})[0] == 401
        assert srv.post(body, headers={"Authorization": "Bearer t0ken-for-tests"})[0] == 200
        assert srv.get("/health")[0] == 200 and srv.get("/ready")[0] == 200  # probes need no token
        assert "t0ken-for-tests" not in srv.logs()

        import httpx2

        async def go():
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer t0ken-for-tests"}) as http:
                from mcp.client.streamable_http import streamable_http_client

                async with Client(streamable_http_client(srv.url, http_client=http), mode="2026-07-28") as c:
                    assert len((await c.list_tools()).tools) == 11

        anyio.run(go)


def test_rate_limit_and_metrics(control_plane, tmp_path):
    with http_server(control_plane.kubeconfig, tmp_path, RATE_LIMIT_REQUESTS="5", ENABLE_METRICS="true") as srv:
        body = {"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 1}
        statuses = [srv.post(body)[0] for _ in range(8)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3
        assert srv.get("/health")[0] == 200  # probes are never rate limited
        status, metrics = srv.get("/metrics")
        assert status == 200
        assert 'mcp_http_requests_total{path="/mcp",status="429"} 3.0' in metrics
        assert "mcp_rate_limited_total 3.0" in metrics
    with http_server(control_plane.kubeconfig, tmp_path, ENABLE_METRICS="true") as srv:
        srv.post({"jsonrpc": "2.0", "method": "tools/call", "id": 1, "params": {"name": "list-pods", "arguments": {}}})
        srv.post({"jsonrpc": "2.0", "method": "tools/call", "id": 2,
                  "params": {"name": "describe-pod", "arguments": {"name": "nope-zz"}}})
        metrics = srv.get("/metrics")[1]
        assert 'mcp_tool_calls_total{outcome="ok",tool="list-pods"} 1.0' in metrics
        assert 'mcp_tool_calls_total{outcome="not_found",tool="describe-pod"} 1.0' in metrics
        assert "mcp_kube_api_ready" in metrics


def test_config_file_from_the_operator(control_plane, tmp_path):
    """The MCPServer's spec.config arrives as /etc/mcp/config.json; its keys take effect, unknown
    keys are reported in the (JSON) log."""
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"MCP_SERVER_NAME": "production-k8s-server", "LOG_LEVEL": "warn",
                               "ENABLE_METRICS": "true", "RATE_LIMIT_REQUESTS": "100", "MCP_READONLY": "true"}))
    with http_server(control_plane.kubeconfig, tmp_path, MCP_CONFIG_FILE=str(cfg), MCP_SERVER_NAME="advanced-mcpserver") as srv:
        async def go():
            async with Client(srv.url, mode="legacy") as c:
                assert c.server_info.name == "production-k8s-server"

        anyio.run(go)
        assert srv.get("/metrics")[0] == 200
        status, _ = srv.post({"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 1},
                             headers={"Host": "advanced-mcpserver:3001"})
        assert status == 200  # the env name still names the Service
        lines = [json.loads(line) for line in srv.logs().splitlines() if line.startswith("{")]
        warn = [entry for entry in lines if entry["level"] == "warning" and "MCP_READONLY" in entry["msg"]]
        assert warn and "MCP_READ_ONLY" in warn[0]["msg"]  # with a did-you-mean hint
        assert not any(entry["level"] == "info" for entry in lines)  # LOG_LEVEL warn took effect


def test_paging_across_hundreds_of_pods(control_plane, namespace, tmp_path):
    cp, ns = control_plane, namespace
    n = 300
    deploy = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "many", "namespace": ns},
        "spec": {"replicas": n, "selector": {"matchLabels": {"app": "many"}},
                 "template": {"metadata": {"labels": {"app": "many"}},
                              "spec": {"containers": [{"name": "main", "image": "registry.example/app:1"}]}}},
    }
    cp.kubectl("apply", "-f", "-", input=json.dumps(deploy))
    cp.kubectl("run", "loner", "-n", ns, "--image=registry.example/app:1", "--labels=app=loner")

    def count():
        out = cp.kubectl("get", "pods", "-n", ns, "-l", "app=many", "-o", "name").stdout.split()
        return len(out) == n

    wait_for(count, timeout=120, what=f"{n} pods")

    async def walk(c, limit, **extra):
        names, cursor, pages, truncated = [], None, 0, 0
        while True:
            args = {"namespace": ns, "limit": limit, **extra}
            if cursor:
                args["cursor"] = cursor
            r = await c.call_tool("list-pods", args)
            assert not r.is_error, texts(r)
            sc = r.structured_content
            names += [p["name"] for p in sc["pods"]]
            truncated += sc["truncated"]
            pages += 1
            cursor = sc.get("nextCursor")
            if not cursor:
                return names, pages, truncated

    async def go():
        async with connect("http-modern", cp.kubeconfig, tmp_path, MCP_MAX_OUTPUT_BYTES="16384") as c:
            names, pages, truncated = await walk(c, 100)
            assert len(names) == n + 1 and len(set(names)) == n + 1 and "loner" in names
            assert truncated > 0 and pages > 3  # the byte budget cut pages; the cursor resumed them exactly
            r = await c.call_tool("list-pods", {"namespace": ns, "limit": 100})
            assert len(r.content[0].text.encode()) < 2 * 16384  # the text block stays within budget too
            names, pages, _ = await walk(c, 50, labelSelector="app=many")
            assert len(set(names)) == n
            # the resource is bounded and says how to get the rest
            pods = json.loads((await c.read_resource(f"k8s://namespace/{ns}/pods")).contents[0].text)
            assert pods["truncated"] and "list-pods" in pods["notice"] and pods["count"] < n
        async with connect("stdio", cp.kubeconfig, tmp_path) as c:  # default budget (64 KiB), pages of 100
            names, pages, truncated = await walk(c, 100)
            assert len(set(names)) == n + 1 and pages == 4 and truncated == 0

    anyio.run(go)


INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


@pytest.mark.slow
def test_mcp_inspector_cli_lists_our_tools(control_plane, tmp_path):
    """The issue's acceptance check: `npx @modelcontextprotocol/inspector --cli <url> --method tools/list`."""
    import shutil

    if not shutil.which("npx"):
        pytest.skip("npx not installed")
    with http_server(control_plane.kubeconfig, tmp_path) as srv:
        r = subprocess.run(["npx", "-y", INSPECTOR, "--cli", srv.url, "--method", "tools/list"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        names = {t["name"] for t in json.loads(r.stdout)["tools"]}
        assert names == {"list-pods", "describe-pod", "list-events", "get-pod-logs", "can-i", "create-pod", "delete-pod", "api-resources", "namespaces-list", "resources-list", "resources-get"}


def test_mcp_inspector_cli_lists_our_tools_over_stdio(control_plane, tmp_path):
    """The same check over stdio: the Inspector CLI starts `mcp-k8s-server` itself."""
    import shutil
    import sys

    if not shutil.which("npx"):
        pytest.skip("npx not installed")
    server_cmd = [sys.executable, "-m", "mcp_k8s_server"]
    r = subprocess.run(["npx", "-y", INSPECTOR, "--cli", "-e", f"KUBECONFIG={control_plane.kubeconfig}",
                        "-e", "MCP_TRANSPORT=stdio", *server_cmd, "--method", "tools/list"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    names = {t["name"] for t in json.loads(r.stdout)["tools"]}
    assert {"api-resources", "namespaces-list", "resources-list", "resources-get", "list-pods"} <= names


def test_several_worker_processes_serve_one_port(control_plane, namespace, tmp_path):
    """MCP_WORKERS=2: a supervisor and two server processes behind one port, each answering real
    clients of both eras (the pod would get this by default with a CPU limit of 2)."""
    async def go(url):
        for mode in ("legacy", "2026-07-28"):
            for _ in range(3):
                async with Client(url, mode=mode) as c:
                    assert {"list-pods", "resources-list", "api-resources"} <= {t.name for t in (await c.list_tools()).tools}
                    r = await c.call_tool("list-pods", {"namespace": namespace})
                    assert not r.is_error

    with http_server(control_plane.kubeconfig, tmp_path, MCP_WORKERS="2") as srv:
        children = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) >= 2, children  # uvicorn's workers (plus, at most, its resource tracker)
        anyio.run(go, srv.url)
