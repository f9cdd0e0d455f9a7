"""The prober's verdict against real servers: our mcp-k8s-server (over real HTTP, through the
official SDK client), HTTP servers that are not MCP, a closed port, and a third-party server
(server-everything from npm, when npx is available)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess

import pytest

from mcp_prober.probe import probe
from tests.kube import free_port, stop_process, wait_for

from .servers import inventory, mcp_k8s_server, plain_http, prober_process, readyz

WRITE_TOOLS = {"create-pod", "delete-pod"}  # what MCP_READ_ONLY=true removes


def raw_tool_names(url: str) -> list[str]:
    """tools/list as one plain JSON-RPC POST (our server runs stateless JSON): a path to the same
    answer that does not go through the SDK client the prober uses."""
    import httpx2

    r = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
                    headers={"Accept": "application/json, text/event-stream"}, timeout=5)
    return sorted(t["name"] for t in r.json()["result"]["tools"])


def run(url):
    return asyncio.run(probe(url, timeout=3))


def test_our_server_speaks_mcp(tmp_path):
    with mcp_k8s_server(tmp=tmp_path) as url:
        r = run(url)
        expected = raw_tool_names(url)
    assert r.ok, r.message
    doc = r.observation.document()
    assert doc["server"]["name"] == "kubernetes-mcp-server" and doc["server"]["version"]
    assert doc["protocolVersion"] in ("2025-11-25", "2026-07-28")
    assert "tools" in doc["capabilities"]
    assert doc["tools"] == expected and doc["toolCount"] == len(expected) >= 6 and "list-pods" in expected
    assert doc["toolsHash"].startswith("sha256:") and len(doc["toolsHash"]) == 71


def test_read_only_mode_is_a_different_tool_set(tmp_path):
    with mcp_k8s_server(read_only=True, tmp=tmp_path) as url:
        ro = run(url).observation.document()
    with mcp_k8s_server(read_only=False, tmp=tmp_path) as url:
        rw = run(url).observation.document()
    assert set(rw["tools"]) - set(ro["tools"]) == WRITE_TOOLS and set(ro["tools"]) < set(rw["tools"])
    assert ro["toolsHash"] != rw["toolsHash"]
    # stable: the same server twice gives the same hash
    with mcp_k8s_server(read_only=True, tmp=tmp_path) as url:
        assert run(url).observation.document()["toolsHash"] == ro["toolsHash"]


def test_nothing_listening_is_connection_refused():
    r = run(f"http://127.0.0.1:{free_port()}/mcp")
    assert not r.ok and r.message.startswith("connection refused at 127.0.0.1:")
    assert "nothing listens on the MCP port" in r.message


@pytest.mark.parametrize("status,ctype,body,expected", [
    (200, "text/html; charset=utf-8", b"<html><body>Welcome to nginx!</body></html>",
     'answered HTTP 200 (text/html), not an MCP JSON-RPC answer: "<html><body>Welcome to nginx!</body></html>"'),
    (404, "text/plain", b"404 page not found", 'answered HTTP 404 (text/plain), not an MCP endpoint: "404 page not found"'),
    (200, "application/json", b'{"status": "ok"}', "with JSON that is not a JSON-RPC 2.0 response"),
    (200, "application/json", b"OK", "with a body that is not JSON"),
])
def test_http_that_is_not_mcp_says_what_answered(status, ctype, body, expected):
    with plain_http(status, ctype, body) as url:
        r = run(url)
    assert not r.ok
    assert r.message.startswith("POST /mcp ") and expected in r.message, r.message


def test_wrong_path_on_our_server_is_not_ready(tmp_path):
    with mcp_k8s_server(tmp=tmp_path) as url:
        r = run(url.replace("/mcp", "/api"))
    assert not r.ok and "POST /api answered HTTP 404" in r.message, r.message


def test_readyz_of_the_prober_process(tmp_path):
    """The sidecar's own answer, the one the pod's readinessProbe reads."""
    with mcp_k8s_server(tmp=tmp_path) as url, prober_process(url) as base:
        code, text = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(readyz(base)), 30, 0.3, "ready")
        expected = raw_tool_names(url)
        assert text.startswith("ready: MCP server kubernetes-mcp-server") and f"{len(expected)} tools" in text
        assert inventory(base)["inventory"]["tools"] == expected
    with plain_http() as url, prober_process(url) as base:
        code, text = wait_for(lambda: (lambda r: r if "not ready: POST" in r[1] else None)(readyz(base)), 30, 0.3,
                              "a failed probe")
        assert code == 503 and "HTTP 200 (text/html), not an MCP JSON-RPC answer" in text
    with prober_process(f"http://127.0.0.1:{free_port()}/mcp") as base:
        code, text = wait_for(lambda: (lambda r: r if "refused" in r[1] else None)(readyz(base)), 30, 0.3, "refused")
        assert code == 503 and text.startswith("not ready: connection refused at 127.0.0.1:")


def test_readiness_follows_the_server(tmp_path):
    """Ready while the server answers, not ready once it is gone, ready again when it is back."""
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "MCP_TRANSPORT": "streamable-http",
           "MCP_PORT": str(port), "MCP_HOST": "127.0.0.1", "KUBECONFIG": "/nonexistent"}
    from .servers import VENV_BIN
    url = f"http://127.0.0.1:{port}/mcp"
    with prober_process(url) as base:
        assert readyz(base)[0] == 503
        proc = subprocess.Popen([str(VENV_BIN / "mcp-k8s-server")], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: readyz(base)[0] == 200, 30, 0.3, "ready after the server started")
        finally:
            stop_process(proc, grace=5)
        wait_for(lambda: "connection refused" in readyz(base)[1], 30, 0.3, "not ready after the server stopped")


EVERYTHING = "@modelcontextprotocol/server-everything@2026.8.31"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("npx") is None, reason="needs Node's npx")
def test_third_party_server_everything(tmp_path):
    """A server nobody on the project wrote (TypeScript SDK), over its streamable HTTP."""
    port = free_port()
    env = {**os.environ, "PORT": str(port)}
    proc = subprocess.Popen(["npx", "-y", EVERYTHING, "streamableHttp"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        r = wait_for(lambda: (lambda x: x if x.ok else None)(run(url)), 90, 1, "server-everything to speak MCP")
        doc = r.observation.document()
        assert doc["toolCount"] >= 10 and "echo" in doc["tools"], doc["tools"]
        assert {"tools", "resources", "prompts"} <= set(doc["capabilities"])
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # npx runs node as a child: stop the whole group
        stop_process(proc, grace=5)


def test_a_server_that_requires_authorization_is_serving_without_an_inventory(tmp_path):
    """MCP's authorization spec: 401 with a Bearer challenge is an MCP server refusing an
    anonymous client. Ready (the pod serves), but no tools are listed."""
    with plain_http(401, "application/json", b'{"error":"unauthorized"}') as url:
        r = run(url)
    assert not r.ok  # no challenge: just an HTTP 401 from something
    handler_headers = {"WWW-Authenticate": 'Bearer resource_metadata="http://x/.well-known/oauth-protected-resource"'}
    with plain_http(401, "application/json", b'{"error":"unauthorized"}', headers=handler_headers) as url:
        r = run(url)
    assert r.ok and r.observation is None
    assert r.message.startswith("MCP endpoint requires authorization: POST /mcp answered 401 with WWW-Authenticate")
