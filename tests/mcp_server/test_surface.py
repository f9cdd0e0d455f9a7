"""The MCP surface in-process (SDK client <-> MCPServer, both protocol eras) over a fake Kubernetes.

Fast and cluster-free: names, annotations, schemas, read-only mode, allowlist, validation,
redaction, paging with byte budgets, error mapping. The cluster suites repeat the important
parts over stdio and HTTP against a real API server.
"""

import json

import anyio
import pytest
from mcp import Client

from mcp_k8s_server import config, server

from .fakekube import FakeKube, make_pod

SECRET_VALUE = "s3cr3t-VALUE-never-shown"
MODES = ["legacy", "2026-07-28"]


def build(env=None, kube=None):
    settings = config.load(env or {})
    kube = kube or FakeKube()
    mcp, deps = server.build(settings, kube=kube)
    return mcp, kube


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


def texts(result):
    return "".join(getattr(c, "text", "") for c in result.content)


@pytest.mark.parametrize("mode", MODES)
def test_tools_resources_prompts_listed_with_annotations(mode):
    mcp, _ = build()

    async def go():
        async with Client(mcp, mode=mode) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert set(tools) == {"list-pods", "describe-pod", "list-events", "get-pod-logs", "create-pod", "delete-pod"}
            for t in tools.values():
                a = t.annotations
                assert a is not None and a.read_only_hint is not None and a.destructive_hint is not None
                assert a.idempotent_hint is not None and t.output_schema, t.name
            assert tools["delete-pod"].annotations.destructive_hint is True
            assert tools["list-pods"].annotations.read_only_hint is True
            assert tools["create-pod"].input_schema["required"] == ["name", "image"]
            res = [r.uri for r in (await c.list_resources()).resources]
            assert res == ["k8s://cluster/nodes", "k8s://namespace/default/pods"]
            tpl = [t.uri_template for t in (await c.list_resource_templates()).resource_templates]
            assert tpl == ["k8s://namespace/{namespace}/pods"]
            prompts = {p.name: p for p in (await c.list_prompts()).prompts}
            assert set(prompts) == {"troubleshoot-pod", "optimize-resources"}
            args = {a.name: a.required for a in prompts["troubleshoot-pod"].arguments}
            assert args == {"podName": True, "namespace": False}

    run(go)


def test_read_only_mode_removes_write_tools():
    mcp, _ = build({"MCP_READ_ONLY": "true"})

    async def go():
        async with Client(mcp) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert names == {"list-pods", "describe-pod", "list-events", "get-pod-logs"}
            r = await c.call_tool("create-pod", {"name": "x", "image": "nginx"})
            assert r.is_error
            p = await c.get_prompt("troubleshoot-pod", {"podName": "x"})
            assert "delete-pod" not in p.messages[0].content.text

    run(go)


def test_namespace_allowlist():
    kube = FakeKube()
    kube.add(make_pod("a", "team-a"))
    kube.add(make_pod("b", "default"))
    mcp, _ = build({"MCP_NAMESPACES": "team-a"}, kube)

    async def go():
        async with Client(mcp) as c:
            ok = await c.call_tool("list-pods", {})  # default namespace becomes team-a
            assert not ok.is_error and ok.structured_content["namespace"] == "team-a"
            bad = await c.call_tool("list-pods", {"namespace": "default"})
            assert bad.is_error and "allowlist" in texts(bad) and "team-a" in texts(bad)
            with pytest.raises(Exception, match="allowlist"):
                await c.read_resource("k8s://namespace/default/pods")
            comp = await c.complete(
                ref={"type": "ref/resource", "uri": "k8s://namespace/{namespace}/pods"}, argument={"name": "namespace", "value": ""}
            )
            assert comp.completion.values == ["team-a"]

    run(go)


def test_validation_errors_are_actionable():
    mcp, kube = build()

    async def go():
        async with Client(mcp) as c:
            r = await c.call_tool("create-pod", {"name": "My_Pod", "image": "nginx"})
            assert r.is_error and "not a valid Kubernetes name" in texts(r) and "'my-pod'" in texts(r)
            r = await c.call_tool("create-pod", {"name": "ok", "image": "Nginx Latest"})
            assert r.is_error and "whitespace" in texts(r)
            r = await c.call_tool("create-pod", {"name": "ok", "image": "nginx", "namespace": "Bad NS"})
            assert r.is_error and "namespace" in texts(r)
            r = await c.call_tool("list-pods", {"limit": 100000})
            assert r.is_error and "limit" in texts(r)
            r = await c.call_tool("list-pods", {"cursor": "bogus"})
            assert r.is_error and "cursor" in texts(r)
            r = await c.call_tool("describe-pod", {"name": "missing"})
            assert r.is_error and "'missing'" in texts(r) and "does not exist" in texts(r)
            assert not kube.pods  # nothing was created by the rejected calls

    run(go)


def test_create_pod_manifest_matches_seed_and_is_restricted():
    mcp, kube = build()

    async def go():
        async with Client(mcp) as c:
            r = await c.call_tool("create-pod", {"name": "test-pod", "image": "nginx:alpine"})
            assert not r.is_error, texts(r)
            assert r.structured_content["name"] == "test-pod" and r.structured_content["uid"]
            pod = kube.pods[("default", "test-pod")]
            assert pod["metadata"]["labels"] == {"created-by": "mcp-server"}
            ctr = pod["spec"]["containers"][0]
            assert ctr["name"] == "test-pod" and ctr["image"] == "nginx:alpine"
            assert ctr["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
            sc = ctr["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsNonRoot"]
            d = await c.call_tool("delete-pod", {"name": "test-pod"})
            assert not d.is_error and ("default", "test-pod") not in kube.pods
            d = await c.call_tool("delete-pod", {"name": "test-pod"})
            assert d.is_error and "does not exist" in texts(d)

    run(go)


@pytest.mark.parametrize("mode", MODES)
def test_paging_with_small_budget_returns_every_pod_once(mode):
    kube = FakeKube()
    for i in range(300):
        kube.add(make_pod(f"pod-{i:04d}", "team-a", labels={"app": "x" if i % 3 == 0 else "y"}))
    mcp, _ = build({"MCP_MAX_OUTPUT_BYTES": "8192"}, kube)

    async def go():
        async with Client(mcp, mode=mode) as c:
            seen, cursor, pages, truncated = [], None, 0, 0
            while True:
                args = {"namespace": "team-a", "limit": 100}
                if cursor:
                    args["cursor"] = cursor
                r = await c.call_tool("list-pods", args)
                assert not r.is_error, texts(r)
                sc = r.structured_content
                assert len(json.dumps(sc["pods"], separators=(",", ":"))) <= 8192
                truncated += sc["truncated"]
                seen += [p["name"] for p in sc["pods"]]
                pages += 1
                cursor = sc.get("nextCursor")
                if not cursor:
                    break
            assert seen == [f"pod-{i:04d}" for i in range(300)]
            assert truncated > 0 and pages > 3
            r = await c.call_tool("list-pods", {"namespace": "team-a", "labelSelector": "app=x", "limit": 500})
            sc = r.structured_content
            assert sc["truncated"] and sc["nextCursor"] and 0 < sc["count"] < 100  # budget, not limit, cut it
            assert all(int(p["name"][4:]) % 3 == 0 for p in sc["pods"])

    run(go)


def test_secrets_never_in_output():
    kube = FakeKube()
    env = [{"name": "DB_PASSWORD", "value": SECRET_VALUE},
           {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]
    kube.add(make_pod("app", "default", env=env))
    mcp, _ = build({}, kube)

    async def go():
        async with Client(mcp) as c:
            r = await c.call_tool("describe-pod", {"name": "app"})
            assert not r.is_error
            dumped = json.dumps(r.model_dump(mode="json"))
            assert SECRET_VALUE not in dumped
            env = {e["name"]: e for e in r.structured_content["containers"][0]["env"]}
            assert env["FROM_SECRET"]["value"] == "***" and "secret db/pw" in env["FROM_SECRET"]["source"]
            assert "managedFields" not in dumped

    run(go)


def test_kube_errors_become_tool_errors():
    kube = FakeKube()
    mcp, _ = build({}, kube)

    async def go():
        async with Client(mcp) as c:
            kube.forbidden = {"create"}
            r = await c.call_tool("create-pod", {"name": "x", "image": "nginx"})
            assert r.is_error and "may not create pods" in texts(r)
            kube.forbidden = set()
            kube.down = True
            r = await c.call_tool("list-pods", {})
            assert r.is_error and "Cannot reach the Kubernetes API server" in texts(r)
            with pytest.raises(Exception, match="Cannot reach"):
                await c.read_resource("k8s://cluster/nodes")
            kube.down = False
            r = await c.call_tool("list-pods", {})
            assert not r.is_error

    run(go)


def test_logs_tail_and_budget():
    kube = FakeKube()
    kube.add(make_pod("app"))
    kube.logs[("default", "app")] = "".join(f"line {i}\n" for i in range(5000))
    mcp, _ = build({}, kube)

    async def go():
        async with Client(mcp) as c:
            r = await c.call_tool("get-pod-logs", {"name": "app"})
            sc = r.structured_content
            assert sc["lines"] == 100 and sc["logs"].endswith("line 4999\n") and not sc["truncated"]
            r = await c.call_tool("get-pod-logs", {"name": "app", "tailLines": 5000, "limitBytes": 1000})
            sc = r.structured_content
            assert sc["truncated"] and sc["bytes"] <= 1000 and sc["logs"].endswith("line 4999\n") and sc["notice"]

    run(go)


def test_resources_and_prompts():
    kube = FakeKube()
    kube.add(make_pod("a"))
    mcp, _ = build({}, kube)

    async def go():
        async with Client(mcp) as c:
            nodes = json.loads((await c.read_resource("k8s://cluster/nodes")).contents[0].text)
            assert nodes["count"] == 1 and nodes["nodes"][0]["capacity"]["pods"] == "110"
            pods = json.loads((await c.read_resource("k8s://namespace/default/pods")).contents[0].text)
            assert pods["count"] == 1 and set(pods["pods"][0]) >= {"name", "phase", "ready", "restarts", "age"}
            pods = json.loads((await c.read_resource("k8s://namespace/team-a/pods")).contents[0].text)
            assert pods == {"namespace": "team-a", "pods": [], "count": 0}
            comp = await c.complete(
                ref={"type": "ref/resource", "uri": "k8s://namespace/{namespace}/pods"}, argument={"name": "namespace", "value": "te"}
            )
            assert comp.completion.values == ["team-a"]
            p = await c.get_prompt("troubleshoot-pod", {"podName": "web-1", "namespace": "team-a"})
            text = p.messages[0].content.text
            assert "web-1" in text and "team-a" in text and "describe-pod" in text and "get-pod-logs" in text
            p = await c.get_prompt("optimize-resources", {})
            assert '"default"' in p.messages[0].content.text and "list-pods" in p.messages[0].content.text

    run(go)
