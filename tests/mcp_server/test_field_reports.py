"""The field reports of issue 11 that concern the Kubernetes side, each as the input that failed,
against the local control plane through the real server (SDK client in-process, or the HTTP app):

- KUBECONFIG=a.yaml:b.yaml (a holds only current-context) merged like kubectl; an explicit
  KUBECONFIG wins over in-cluster variables; the error says what is wrong;
- get-pod-logs on a two-container pod picks kubectl's default container;
- list-pods shows what kubectl shows (same STATUS/READY/RESTARTS as `kubectl get pod`);
- describe-pod of a pod with 300 long env vars stays within MCP_MAX_OUTPUT_BYTES, flagged;
- 100 concurrent tool calls, many abandoned: no pool warnings, the next call is not delayed;
- generic read tools: any kind incl. MCPServers, selectors, paging, budget, Secret redaction,
  namespace allowlist."""

import json
import logging
import time

import anyio
import httpx2
import pytest
import yaml
from mcp.client import Client

from mcp_k8s_server import config, kube, server
from mcp_k8s_server.http import build_app

pytestmark = pytest.mark.cluster

IMAGE = "registry.example/app:1"
SECRET_VALUE = "pw-never-shown-9f2"


def build(kubeconfig, env=None):
    settings = config.load(env or {})
    k = kube.Kube(timeout=settings.kube_timeout_seconds, kubeconfig=kubeconfig)
    mcp, deps = server.build(settings, kube=k)
    return mcp, deps


def create(cp, *objs):
    cp.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}), timeout=120)


def call(mcp, tool, args):
    async def go():
        async with Client(mcp) as c:
            return await c.call_tool(tool, args)
    return anyio.run(go)


# -- 2. KUBECONFIG -----------------------------------------------------------------------------------
def test_kubeconfig_list_merged_like_kubectl_and_before_in_cluster(control_plane, namespace, tmp_path, monkeypatch):
    full = yaml.safe_load(open(control_plane.kubeconfig))
    a = tmp_path / "a.yaml"
    a.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": full["current-context"]}))
    b = tmp_path / "b.yaml"
    b.write_text(yaml.safe_dump({**full, "current-context": "no-such-context"}))  # the first file's choice wins
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    monkeypatch.setenv("KUBECONFIG", f"{a}:{empty}:{b}")
    # in-cluster variables present (as in a pod with automounted credentials): the explicit KUBECONFIG wins
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    mcp, _ = build(None)
    r = call(mcp, "list-pods", {"namespace": namespace})
    assert not r.is_error, r.content[0].text

    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing.yaml"))
    mcp, _ = build(None)
    r = call(mcp, "list-pods", {"namespace": namespace})
    assert r.is_error and "missing.yaml" in r.content[0].text and "set KUBECONFIG" not in r.content[0].text


def test_in_cluster_without_token_says_so(monkeypatch, tmp_path):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(kube.KubeUnavailable) as err:
        kube.load_configuration()
    assert "in-cluster service account" in str(err.value) and "KUBECONFIG" not in str(err.value).split(":")[0]


# -- 5, 6, 7: pods -----------------------------------------------------------------------------------
def test_logs_use_the_default_container_annotation(control_plane, namespace, tmp_path):
    cp, ns = control_plane, namespace
    log = tmp_path / "app.log"
    log.write_text("2026-01-01T00:00:00.000000000Z stdout F hello from app\n")
    proxy_log = tmp_path / "proxy.log"
    proxy_log.write_text("2026-01-01T00:00:00.000000000Z stdout F proxy line\n")
    create(cp,
           {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "two", "namespace": ns,
            "annotations": {"kubectl.kubernetes.io/default-container": "app"}},
            "spec": {"containers": [{"name": "proxy", "image": IMAGE}, {"name": "app", "image": IMAGE}]}},
           {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain", "namespace": ns},
            "spec": {"containers": [{"name": "proxy", "image": IMAGE}, {"name": "app", "image": IMAGE}]}},
           *({"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs", "metadata": {"name": p, "namespace": ns},
              "spec": {"logs": [{"containers": ["app"], "logsFile": str(log)}, {"containers": ["proxy"], "logsFile": str(proxy_log)}]}}
             for p in ("two", "plain")))
    from tests.kube import wait_for
    wait_for(lambda: "Running" in cp.kubectl("get", "pod", "two", "plain", "-n", ns, "-o", "jsonpath={.items[*].status.phase}").stdout.split()
             and len(set(cp.kubectl("get", "pod", "two", "plain", "-n", ns, "-o", "jsonpath={.items[*].status.phase}").stdout.split())) == 1,
             what="pods Running")
    mcp, _ = build(cp.kubeconfig)
    r = call(mcp, "get-pod-logs", {"name": "two", "namespace": ns})
    assert not r.is_error, r.content[0].text
    assert r.structured_content["container"] == "app" and "hello from app" in r.structured_content["logs"]
    assert r.structured_content["truncated"] is False and "annotation" in r.structured_content["notice"]
    r = call(mcp, "get-pod-logs", {"name": "plain", "namespace": ns})  # kubectl: the first container, with a notice
    assert not r.is_error and r.structured_content["container"] == "proxy" and "Defaulted" in r.structured_content["notice"]
    d = call(mcp, "describe-pod", {"name": "two", "namespace": ns, "events": 0}).structured_content
    assert d["defaultContainer"] == "app"


def test_list_pods_shows_what_kubectl_shows(control_plane, namespace):
    cp, ns = control_plane, namespace
    create(cp, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "init-crash", "namespace": ns},
                "spec": {"schedulerName": "no-such-scheduler", "initContainers": [{"name": "setup", "image": IMAGE}],
                         "containers": [{"name": "app", "image": IMAGE}]}})
    status = {"phase": "Pending", "conditions": [{"type": "Initialized", "status": "False"}],
              "initContainerStatuses": [{"name": "setup", "image": IMAGE, "imageID": "", "ready": False, "restartCount": 6,
                                         "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                         "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                                      "finishedAt": "2026-01-01T00:00:00Z", "startedAt": "2026-01-01T00:00:00Z"}}}],
              "containerStatuses": [{"name": "app", "image": IMAGE, "imageID": "", "ready": False, "restartCount": 0,
                                     "state": {"waiting": {"reason": "PodInitializing"}}}]}
    cp.kubectl("patch", "pod", "init-crash", "-n", ns, "--subresource=status", "--type=merge", "-p", json.dumps({"status": status}))
    cols = cp.kubectl("get", "pod", "init-crash", "-n", ns, "--no-headers").stdout.split()
    mcp, _ = build(cp.kubeconfig)
    r = call(mcp, "list-pods", {"namespace": ns})
    p = next(p for p in r.structured_content["pods"] if p["name"] == "init-crash")
    assert (p["readyContainers"], p["status"], str(p["restarts"])) == (cols[1], cols[2], cols[3]), cols
    # describe-pod computes it from the object with our port of printPod: the same answer
    d = call(mcp, "describe-pod", {"name": "init-crash", "namespace": ns, "events": 0}).structured_content
    assert d["status"] == cols[2]
    assert p["status"] == "Init:CrashLoopBackOff" and p["restarts"] == 6 and p["reason"] == "Init:CrashLoopBackOff"


def test_describe_pod_budget_covers_the_whole_output(control_plane, namespace):
    cp, ns = control_plane, namespace
    env = [{"name": f"VAR_{i:03d}", "value": "x" * 150} for i in range(300)]
    create(cp, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "envy", "namespace": ns},
                "spec": {"schedulerName": "no-such-scheduler", "containers": [{"name": "main", "image": IMAGE, "env": env}]}})
    mcp, _ = build(cp.kubeconfig, {"MCP_MAX_OUTPUT_BYTES": "8192"})
    r = call(mcp, "describe-pod", {"name": "envy", "namespace": ns})
    assert not r.is_error
    size = len(json.dumps(r.structured_content, separators=(",", ":")).encode())
    assert size <= 8192 and len(r.content[0].text.encode()) <= 8192, size
    assert r.structured_content["truncated"] is True and "8192-byte budget" in r.structured_content["notice"]
    assert r.structured_content["name"] == "envy" and r.structured_content["containers"][0]["env"]


# -- 8. concurrency ------------------------------------------------------------------------------------
def test_concurrent_and_abandoned_calls_do_not_exhaust_or_delay(control_plane, namespace, caplog):
    settings = config.load({"MCP_TRANSPORT": "http", "MCP_HOST": "127.0.0.1"})
    k = kube.Kube(timeout=10, kubeconfig=control_plane.kubeconfig, pool_size=8)
    mcp, deps = server.build(settings, kube=k)
    app = build_app(mcp, deps)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "list-pods", "arguments": {"namespace": namespace}}}
    headers = {"Content-Type": "application/json", "Accept": "application/json", "MCP-Protocol-Version": "2025-11-25"}
    caplog.set_level(logging.WARNING)

    async def go():
        async with mcp.session_manager.run():
            async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1:8080") as c:
                async def one():
                    r = await c.post("/mcp", json=body, headers=headers)
                    assert r.status_code == 200 and not r.json()["result"]["isError"]

                async with anyio.create_task_group() as tg:  # 100 at once over a pool of 8 connections
                    for _ in range(100):
                        tg.start_soon(one)
                async with anyio.create_task_group() as tg:  # 50 abandoned by their clients mid-flight
                    for _ in range(50):
                        tg.start_soon(one)
                    await anyio.sleep(0.01)
                    tg.cancel_scope.cancel()
                t0 = time.perf_counter()
                await one()
                assert time.perf_counter() - t0 < 1.0
        connector = k._session.connector
        assert len(connector._conns.get(next(iter(connector._conns), None), []) or []) <= 8
        await k.aclose()

    anyio.run(go)
    assert not [r for r in caplog.records if "pool is full" in r.getMessage().lower()]


# -- generic read tools ---------------------------------------------------------------------------------
def test_generic_read_tools(control_plane, namespace):
    cp, ns = control_plane, namespace
    create(cp,
           {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": ns,
            "annotations": {"api-token": SECRET_VALUE}}, "stringData": {"password": SECRET_VALUE}},
           *({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cm-{i:02d}", "namespace": ns,
              "labels": {"team": "a" if i % 2 else "b"}}, "data": {"k": "v"}} for i in range(30)))
    cp.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
         "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
                  "spec": {"containers": [{"name": "w", "image": IMAGE, "env": [{"name": "DB_PASSWORD", "value": SECRET_VALUE}]}]}}}}))
    cp.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "applied"}, "stringData": {"token": SECRET_VALUE}}))
    mcp, _ = build(cp.kubeconfig)

    async def go():
        async with Client(mcp) as c:
            r = await c.call_tool("api-resources", {})
            names = {x["name"] for x in r.structured_content["resources"]}
            assert {"pods", "deployments", "secrets", "mcpservers"} <= names or {"pods", "deployments", "secrets"} <= names
            r = await c.call_tool("api-resources", {"apiGroup": "apps"})
            assert {x["name"] for x in r.structured_content["resources"]} >= {"deployments", "statefulsets"}

            r = await c.call_tool("namespaces-list", {})
            assert ns in {n["name"] for n in r.structured_content["namespaces"]}

            r = await c.call_tool("resources-list", {"resourceType": "cm", "namespace": ns, "labelSelector": "team=a", "limit": 4})
            seen, pages = [], 0
            while True:
                assert not r.is_error, r.content[0].text
                seen += [i["name"] for i in r.structured_content["items"]]
                pages += 1
                nxt = r.structured_content.get("nextCursor")
                if not nxt:
                    break
                r = await c.call_tool("resources-list", {"resourceType": "cm", "namespace": ns, "labelSelector": "team=a",
                                                         "limit": 4, "cursor": nxt})
            assert sorted(seen) == [f"cm-{i:02d}" for i in range(30) if i % 2] and pages == 4
            assert "Data" in r.structured_content["columns"]

            r = await c.call_tool("resources-list", {"resourceType": "deployments.apps", "namespace": ns,
                                                     "fieldSelector": "metadata.name=web"})
            assert [i["name"] for i in r.structured_content["items"]] == ["web"] and "Ready" in r.structured_content["columns"]

            for name in ("db", "applied"):
                r = await c.call_tool("resources-get", {"resourceType": "secret", "name": name, "namespace": ns})
                assert not r.is_error and SECRET_VALUE not in json.dumps(r.structured_content) + r.content[0].text
                assert set(r.structured_content["object"]["data"]) <= {"password", "token"}
            r = await c.call_tool("resources-list", {"resourceType": "secrets", "namespace": ns})
            assert SECRET_VALUE not in r.content[0].text
            r = await c.call_tool("resources-get", {"resourceType": "Deployment", "name": "web", "namespace": ns})
            text = json.dumps(r.structured_content)
            assert SECRET_VALUE not in text and "last-applied-configuration" not in text and "managedFields" not in text

            r = await c.call_tool("resources-list", {"resourceType": "no-such-kind", "namespace": ns})
            assert r.is_error and "api-resources" in r.content[0].text

    anyio.run(go)

    ro, _ = build(cp.kubeconfig, {"MCP_NAMESPACES": ns, "MCP_READ_ONLY": "true"})

    async def limited():
        async with Client(ro) as c:
            r = await c.call_tool("resources-list", {"resourceType": "pods", "namespace": "kube-system"})
            assert r.is_error and "allowlist" in r.content[0].text
            r = await c.call_tool("resources-list", {"resourceType": "nodes"})
            assert r.is_error and "cluster-scoped" in r.content[0].text
            r = await c.call_tool("resources-list", {"resourceType": "pods", "allNamespaces": True})
            assert r.is_error
            r = await c.call_tool("namespaces-list", {})
            assert [n["name"] for n in r.structured_content["namespaces"]] == [ns]

    anyio.run(limited)


def test_generic_list_budget(control_plane, namespace):
    cp, ns = control_plane, namespace
    create(cp, *({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"big-{i:03d}-" + "x" * 200, "namespace": ns},
                  "data": {"k": "v"}} for i in range(120)))
    mcp, _ = build(cp.kubeconfig, {"MCP_MAX_OUTPUT_BYTES": "8192"})
    r = call(mcp, "resources-list", {"resourceType": "configmaps", "namespace": ns, "limit": 100})
    assert not r.is_error and r.structured_content["truncated"] is True and r.structured_content["nextCursor"]
    assert len(r.content[0].text.encode()) <= 8192
