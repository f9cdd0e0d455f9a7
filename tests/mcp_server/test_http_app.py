"""The HTTP app in-process (ASGI, the real Kube adapter against the local control plane): the
tools/list answer cache is byte-identical to the SDK's answer and keeps every check (Host, Origin,
Content-Type, Accept, auth); probes (/ready really probes the API server)."""

import json

import anyio
import httpx2

from mcp_k8s_server import config, server
from mcp_k8s_server.http import build_app
from mcp_k8s_server.kube import Kube

LIST = {"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 1}
JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def run_app(control_plane, env, fn):
    settings = config.load({"MCP_TRANSPORT": "http", "MCP_HOST": "127.0.0.1", **env})
    kube = Kube(timeout=settings.kube_timeout_seconds, kubeconfig=control_plane.kubeconfig)
    mcp, deps = server.build(settings, kube=kube)
    app = build_app(mcp, deps)

    async def go():
        async with mcp.session_manager.run():
            async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as c:
                await fn(c)

    anyio.run(go)


def test_tools_list_cache_is_identical_to_the_sdk_answer(control_plane):
    async def fn(c):
        first = await c.post("/mcp", content=json.dumps(LIST), headers=JSON)
        second = await c.post("/mcp", content=json.dumps({**LIST, "id": "abc"}), headers=JSON)
        third = await c.post("/mcp", content=json.dumps({**LIST, "id": 7}), headers={**JSON, "Accept": "*/*"})
        assert first.status_code == second.status_code == third.status_code == 200
        a, b, t = first.json(), second.json(), third.json()
        assert b["id"] == "abc" and t["id"] == 7
        assert a["result"] == b["result"] == t["result"]
        assert first.headers["content-type"] == second.headers["content-type"]
        # params absent is as bare as params {}
        r = await c.post("/mcp", content=json.dumps({"jsonrpc": "2.0", "method": "tools/list", "id": 9}), headers=JSON)
        assert r.json()["result"] == a["result"]

    run_app(control_plane, {}, fn)


def test_cache_hits_keep_every_check(control_plane):
    async def fn(c):
        assert (await c.post("/mcp", content=json.dumps(LIST), headers=JSON)).status_code == 200  # fills the cache
        assert (await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, "Host": "evil.example"})).status_code == 421
        assert (await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, "Origin": "http://evil.example"})).status_code == 403
        assert (await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, "Content-Type": "text/plain"})).status_code == 400
        assert (await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, "Accept": "text/html"})).status_code == 406
        # not bare: cursor, _meta, batches, a protocol header -> the SDK answers
        r = await c.post("/mcp", content=json.dumps({**LIST, "params": {"cursor": "x"}}), headers=JSON)
        assert r.status_code in (200, 400)
        r = await c.post("/mcp", content=json.dumps([LIST]), headers=JSON)
        assert r.status_code in (200, 400)
        r = await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, "MCP-Protocol-Version": "2025-11-25"})
        assert r.status_code == 200 and r.json()["result"]["tools"]

    run_app(control_plane, {}, fn)


def test_auth_is_checked_before_the_cache(control_plane):
    async def fn(c):
        auth = {**JSON, "Authorization": "Bearer tok"}
        assert (await c.post("/mcp", content=json.dumps(LIST), headers=auth)).status_code == 200
        assert (await c.post("/mcp", content=json.dumps(LIST), headers=JSON)).status_code == 401
        assert (await c.get("/health")).status_code == 200
        assert (await c.get("/ready")).status_code == 200

    run_app(control_plane, {"MCP_AUTH_TOKEN": "tok"}, fn)


def test_read_only_server_caches_its_own_list(control_plane):
    async def fn(c):
        for _ in range(2):
            names = {t["name"] for t in (await c.post("/mcp", content=json.dumps(LIST), headers=JSON)).json()["result"]["tools"]}
            assert "create-pod" not in names and "list-pods" in names

    run_app(control_plane, {"MCP_READ_ONLY": "true"}, fn)
