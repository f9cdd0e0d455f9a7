"""The HTTP app in-process (ASGI, the real Kube adapter against the local control plane): the field
reports about the transport, each as the request a real client sent.

- GET /mcp (the listen stream clients open on connect) on this stateless server: 405 with Allow;
- one media-type rule for every request: case-insensitive, parameters ignored, one status and one
  JSON-RPC error shape (before: Application/JSON passed tools/list and failed tools/call);
- the Host allowlist comes from the Service the operator names (MCP_SERVICE_NAME) and the pod IP,
  not from MCP_SERVER_NAME (a display name users override);
- Host/Origin/auth checks and the probes."""

import json

import anyio
import httpx2
import pytest

from mcp_k8s_server import config, server
from mcp_k8s_server.http import build_app
from mcp_k8s_server.kube import Kube

pytestmark = pytest.mark.cluster

LIST = {"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 1}
CALL = {"jsonrpc": "2.0", "method": "tools/call", "id": 2,
        "params": {"name": "list-pods", "arguments": {"namespace": "default", "limit": 1}}}
JSON = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
NEW = {"MCP-Protocol-Version": "2025-11-25"}


def run_app(control_plane, env, fn, base_url="http://127.0.0.1:8080"):
    settings = config.load({"MCP_TRANSPORT": "http", "MCP_HOST": "127.0.0.1", **env})
    kube = Kube(timeout=settings.kube_timeout_seconds, kubeconfig=control_plane.kubeconfig)
    mcp, deps = server.build(settings, kube=kube)
    app = build_app(mcp, deps)

    async def go():
        async with mcp.session_manager.run():
            async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=base_url) as c:
                await fn(c)
        await kube.aclose()

    anyio.run(go)


def is_jsonrpc_error(r, status):
    body = r.json()
    return (r.status_code == status and r.headers["content-type"].startswith("application/json")
            and body["jsonrpc"] == "2.0" and body["id"] is None and isinstance(body["error"]["message"], str))


def test_get_listen_stream_is_405_with_allow(control_plane):
    async def fn(c):
        for headers in ({"Accept": "text/event-stream"}, {"Accept": "text/event-stream", **NEW},
                        {"Accept": "text/event-stream", "MCP-Protocol-Version": "2026-07-28"}):
            r = await c.get("/mcp", headers=headers)
            assert is_jsonrpc_error(r, 405) and r.headers["allow"] == "POST", (headers, r.status_code, r.text)
            assert "text/event-stream" not in r.headers["content-type"]
        r = await c.delete("/mcp", headers=NEW)
        assert is_jsonrpc_error(r, 405) and r.headers["allow"] == "POST"

    run_app(control_plane, {}, fn)


@pytest.mark.parametrize("ctype", ["application/json", "Application/JSON", "APPLICATION/JSON; charset=UTF-8",
                                   "application/json;charset=utf-8", " application/json "])
def test_json_content_types_pass_on_every_method(control_plane, ctype):
    async def fn(c):
        for msg in (LIST, CALL, LIST):
            r = await c.post("/mcp", content=json.dumps(msg), headers={**JSON, **NEW, "Content-Type": ctype})
            assert r.status_code == 200 and "result" in r.json(), (ctype, msg["method"], r.text)

    run_app(control_plane, {}, fn)


@pytest.mark.parametrize("ctype", ["application/jsonl", "text/plain", "application/x-www-form-urlencoded", ""])
def test_other_content_types_get_one_415_shape_on_every_method(control_plane, ctype):
    async def fn(c):
        for msg in (LIST, CALL, LIST):
            headers = {**JSON, **NEW, "Content-Type": ctype} if ctype else {"Accept": "application/json", **NEW}
            r = await c.post("/mcp", content=json.dumps(msg), headers=headers)
            assert is_jsonrpc_error(r, 415), (ctype, msg["method"], r.status_code, r.text)

    run_app(control_plane, {}, fn)


def test_accept_rule(control_plane):
    async def fn(c):
        for accept in ("application/json", "*/*", "application/*", "Application/Json;q=0.9", "text/event-stream, application/json"):
            r = await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, **NEW, "Accept": accept})
            assert r.status_code == 200, (accept, r.text)
        r = await c.post("/mcp", content=json.dumps(LIST), headers={"Content-Type": "application/json", **NEW})
        assert r.status_code == 200  # no Accept at all (curl without -H Accept)
        for accept in ("text/html", "text/event-stream"):
            r = await c.post("/mcp", content=json.dumps(CALL), headers={**JSON, **NEW, "Accept": accept})
            assert is_jsonrpc_error(r, 406), (accept, r.status_code, r.text)

    run_app(control_plane, {}, fn)


def test_host_allowlist_follows_the_service_not_the_server_name(control_plane):
    # MCPServer tools-a in team-a whose user set MCP_SERVER_NAME=k8s-tools; status.endpoint is
    # http://tools-a.team-a.svc.cluster.local:8080/mcp
    env = {"MCP_SERVICE_NAME": "tools-a", "MCP_SERVER_NAME": "k8s-tools", "POD_NAMESPACE": "team-a", "POD_IP": "10.1.2.3"}

    async def fn(c):
        for host in ("tools-a.team-a.svc.cluster.local:8080", "tools-a.team-a.svc.cluster.local", "tools-a",
                     "tools-a.team-a", "tools-a.team-a.svc:8080", "10.1.2.3:8080", "127.0.0.1:8080", "localhost"):
            r = await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, **NEW, "Host": host})
            assert r.status_code == 200, (host, r.status_code, r.text)
        for host in ("k8s-tools", "k8s-tools.team-a.svc.cluster.local", "evil.example", "tools-a.other.svc.cluster.local"):
            r = await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, **NEW, "Host": host})
            assert r.status_code == 421, (host, r.status_code)
        r = await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, **NEW, "Origin": "http://evil.example"})
        assert r.status_code == 403

    run_app(control_plane, env, fn)


def test_auth_probes_and_read_only(control_plane):
    async def fn(c):
        auth = {**JSON, **NEW, "Authorization": "Bearer tok"}
        assert (await c.post("/mcp", content=json.dumps(LIST), headers=auth)).status_code == 200
        assert (await c.post("/mcp", content=json.dumps(LIST), headers=JSON)).status_code == 401
        assert (await c.get("/health")).status_code == 200
        assert (await c.get("/ready")).status_code == 200

    run_app(control_plane, {"MCP_AUTH_TOKEN": "tok"}, fn)

    async def ro(c):
        names = {t["name"] for t in (await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, **NEW})).json()["result"]["tools"]}
        assert "create-pod" not in names and "list-pods" in names

    run_app(control_plane, {"MCP_READ_ONLY": "true"}, ro)


def test_tools_list_answer_is_the_sdks_in_both_eras_every_time(control_plane):
    """The tools/list memo (shaped once per protocol version) answers exactly what the SDK does."""
    modern = {"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/list"}
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}}

    answers = {}

    async def fn(c):
        for era, headers, params in (("2025", NEW, None), ("2026", modern, {"_meta": meta})):
            got = []
            for i in range(3):
                msg = {"jsonrpc": "2.0", "method": "tools/list", "id": i + 10, **({"params": params} if params else {})}
                r = await c.post("/mcp", content=json.dumps(msg), headers={**JSON, **headers})
                assert r.status_code == 200 and r.json()["id"] == i + 10, r.text
                got.append(r.json()["result"])
            assert got[0] == got[1] == got[2]
            answers[era] = got[0]
        assert {t["name"] for t in answers["2025"]["tools"]} == {t["name"] for t in answers["2026"]["tools"]}
        # not memoized: a cursor goes to the SDK (which has no pages to give)
        r = await c.post("/mcp", content=json.dumps({**LIST, "params": {"cursor": "nope"}}), headers={**JSON, **NEW})
        assert r.status_code == 200 and ("error" in r.json() or "tools" in r.json()["result"])

    run_app(control_plane, {}, fn)

    fresh = {}

    async def uncached(c):  # a new process answers its first request through the SDK: same result
        r = await c.post("/mcp", content=json.dumps(LIST), headers={**JSON, **NEW})
        fresh["r"] = r.json()["result"]

    run_app(control_plane, {}, uncached)
    assert fresh["r"] == answers["2025"]
