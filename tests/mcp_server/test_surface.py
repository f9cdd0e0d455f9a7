"""The MCP surface in-process (SDK client <-> MCPServer, both protocol eras) over the real Kube
adapter talking to the local control plane (kwok nodes).

Names, annotations, schemas, read-only mode, allowlist, validation, redaction, paging with byte
budgets, error mapping (403 from a ServiceAccount with no rights, an API server that goes away and
comes back). No subprocess and no transport: the cluster suites repeat the important parts over
stdio and HTTP. Objects that several tests only read live in module-scoped namespaces created in
bulk; tests that create or delete pods get a fresh namespace of their own.
"""

import base64
import json
import uuid
from urllib.parse import urlparse

import anyio
import pytest
from mcp import Client

from mcp_k8s_server import config, server
from mcp_k8s_server.kube import Kube

from .helpers import TcpProxy, kubeconfig_with, texts, wait_for

pytestmark = pytest.mark.cluster

SECRET_VALUE = "s3cr3t-VALUE-never-shown"
OTHER_SECRET = "pw-from-a-real-Secret-never-shown"
MODES = ["legacy", "2026-07-28"]
IMAGE = "registry.example/app:1"
LOG_LINES = 5000


# -- building the server ---------------------------------------------------------------------------
def build(kubeconfig, env=None):
    """Our server in-process over a real Kube pointed at ``kubeconfig``."""
    settings = config.load(env or {})
    kube = Kube(timeout=settings.kube_timeout_seconds, kubeconfig=kubeconfig)
    mcp, _deps = server.build(settings, kube=kube)
    return mcp


def run(coro_fn, *args):
    return anyio.run(coro_fn, *args)


# -- cluster objects -------------------------------------------------------------------------------
def pod(name, namespace, labels=None, env=None, scheduled=True):
    spec = {"containers": [{"name": "main", "image": IMAGE, "env": env or []}]}
    if not scheduled:  # no scheduler claims it: it stays Pending and nothing (scheduler, kwok) writes to it again
        spec["schedulerName"] = "no-such-scheduler"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels or {}}, "spec": spec}


def create(cp, *objs):
    """Create many objects with one kubectl call (create, not apply: no last-applied annotation)."""
    cp.kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}), timeout=120)


def pod_json(cp, ns, name):
    r = cp.kubectl("get", "pod", name, "-n", ns, "-o", "json", check=False)
    return json.loads(r.stdout) if r.returncode == 0 else None


def pod_names(cp, ns):
    out = cp.kubectl("get", "pods", "-n", ns, "-o", "jsonpath={.items[*].metadata.name}").stdout
    return sorted(out.split())


@pytest.fixture(scope="module")
def make_namespace(control_plane):
    """Module-scoped namespaces named surf-<tag>-<suffix>, deleted after the module."""
    tag = uuid.uuid4().hex[:6]
    made = []

    def make(suffix):
        name = f"surf-{tag}-{suffix}"
        control_plane.kubectl("create", "namespace", name)
        made.append(name)
        return name

    yield make
    for name in made:
        control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def app_ns(control_plane, make_namespace, tmp_path_factory):
    """One Running pod 'app' whose env holds a literal credential and a Secret reference, the Secret
    itself, and a kwok Logs rule serving LOG_LINES lines for it."""
    cp = control_plane
    ns = make_namespace("app")
    log = tmp_path_factory.mktemp("logs") / "app.log"  # kwok reads container logs in CRI format
    log.write_text("".join(f"2026-01-01T00:00:00.000000000Z stdout F line {i}\n" for i in range(LOG_LINES)))
    env = [{"name": "DB_PASSWORD", "value": SECRET_VALUE},
           {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}}]
    create(
        cp,
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": ns}, "stringData": {"pw": OTHER_SECRET}},
        pod("app", ns, labels={"app": "app"}, env=env),
        {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs", "metadata": {"name": "app", "namespace": ns},
         "spec": {"logs": [{"containers": ["main"], "logsFile": str(log)}]}},
    )
    wait_for(lambda: ((pod_json(cp, ns, "app") or {}).get("status") or {}).get("phase") == "Running", what="pod app Running")
    return ns


@pytest.fixture(scope="module")
def other_ns(control_plane, make_namespace):
    """A namespace outside the allowlist, with a pod in it (so a leak would show)."""
    ns = make_namespace("other")
    create(control_plane, pod("b", ns))
    return ns


@pytest.fixture(scope="module")
def paging_ns(control_plane, make_namespace):
    """300 pods created in one call, a third of them labelled app=x. Paging is the API server's
    business, not the nodes': the pods stay unscheduled, so they cost no scheduler/kwok churn."""
    ns = make_namespace("paging")
    labels = lambda i: {"app": "x" if i % 3 == 0 else "y"}  # noqa: E731
    create(control_plane, *(pod(f"pod-{i:04d}", ns, labels=labels(i), scheduled=False) for i in range(300)))
    return ns


# -- tests -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_tools_resources_prompts_listed_with_annotations(control_plane, mode):
    mcp = build(control_plane.kubeconfig)

    async def go():
        async with Client(mcp, mode=mode) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert set(tools) == {"list-pods", "describe-pod", "list-events", "get-pod-logs", "can-i", "create-pod", "delete-pod", "api-resources", "namespaces-list", "resources-list", "resources-get"}
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


def test_read_only_mode_removes_write_tools(control_plane, app_ns, namespace):
    cp = control_plane
    mcp = build(cp.kubeconfig, {"MCP_READ_ONLY": "true"})

    async def go():
        async with Client(mcp) as c:
            names = {t.name for t in (await c.list_tools()).tools}
            assert names == {"list-pods", "describe-pod", "list-events", "get-pod-logs", "can-i", "api-resources", "namespaces-list", "resources-list", "resources-get"}
            r = await c.call_tool("create-pod", {"name": "x", "image": "nginx", "namespace": namespace})
            assert r.is_error
            r = await c.call_tool("delete-pod", {"name": "app", "namespace": app_ns})
            assert r.is_error
            p = await c.get_prompt("troubleshoot-pod", {"podName": "x"})
            assert "delete-pod" not in p.messages[0].content.text

    run(go)
    assert pod_names(cp, namespace) == []
    app = pod_json(cp, app_ns, "app")
    assert app and not app["metadata"].get("deletionTimestamp")


def test_namespace_allowlist(control_plane, app_ns, other_ns):
    mcp = build(control_plane.kubeconfig, {"MCP_NAMESPACES": app_ns})

    async def go():
        async with Client(mcp) as c:
            ok = await c.call_tool("list-pods", {})  # the default namespace becomes the allowlisted one
            assert not ok.is_error, texts(ok)
            assert ok.structured_content["namespace"] == app_ns
            assert [p["name"] for p in ok.structured_content["pods"]] == ["app"]
            bad = await c.call_tool("list-pods", {"namespace": other_ns})
            assert bad.is_error and "allowlist" in texts(bad) and app_ns in texts(bad) and '"b"' not in texts(bad)
            with pytest.raises(Exception, match="allowlist"):
                await c.read_resource(f"k8s://namespace/{other_ns}/pods")
            with pytest.raises(Exception, match="allowlist"):
                await c.read_resource("k8s://namespace/default/pods")
            comp = await c.complete(
                ref={"type": "ref/resource", "uri": "k8s://namespace/{namespace}/pods"}, argument={"name": "namespace", "value": ""}
            )
            assert comp.completion.values == [app_ns]

    run(go)


def test_validation_errors_are_actionable(control_plane, namespace):
    cp = control_plane
    mcp = build(cp.kubeconfig, {"MCP_DEFAULT_NAMESPACE": namespace})

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
            r = await c.call_tool("describe-pod", {"name": "missing"})  # a real 404 from the API server
            assert r.is_error and "'missing'" in texts(r) and "does not exist" in texts(r) and namespace in texts(r)

    run(go)
    assert pod_names(cp, namespace) == []  # nothing was created by the rejected calls


def test_create_pod_manifest_matches_seed_and_is_restricted(control_plane, namespace):
    cp = control_plane
    mcp = build(cp.kubeconfig, {"MCP_DEFAULT_NAMESPACE": namespace})

    async def go():
        async with Client(mcp) as c:
            r = await c.call_tool("create-pod", {"name": "test-pod", "image": "nginx:alpine"})
            assert not r.is_error, texts(r)
            assert r.structured_content["name"] == "test-pod" and r.structured_content["namespace"] == namespace
            made = pod_json(cp, namespace, "test-pod")  # what the API server stored
            assert made and r.structured_content["uid"] == made["metadata"]["uid"]
            assert made["metadata"]["labels"] == {"created-by": "mcp-server"}
            ctr = made["spec"]["containers"][0]
            assert ctr["name"] == "test-pod" and ctr["image"] == "nginx:alpine"
            assert ctr["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}
            sc = ctr["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]} and sc["runAsNonRoot"]
            d = await c.call_tool("delete-pod", {"name": "test-pod"})
            assert not d.is_error, texts(d)
            assert d.structured_content["uid"] == made["metadata"]["uid"]
            wait_for(lambda: pod_json(cp, namespace, "test-pod") is None, timeout=30, what="test-pod gone")
            d = await c.call_tool("delete-pod", {"name": "test-pod"})
            assert d.is_error and "does not exist" in texts(d)

    run(go)


@pytest.mark.parametrize("mode", MODES)
def test_paging_with_small_budget_returns_every_pod_once(control_plane, paging_ns, mode):
    ns = paging_ns
    mcp = build(control_plane.kubeconfig, {"MCP_MAX_OUTPUT_BYTES": "8192"})

    async def go():
        async with Client(mcp, mode=mode) as c:
            seen, cursor, pages, truncated = [], None, 0, 0
            while True:
                args = {"namespace": ns, "limit": 100}
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
            r = await c.call_tool("list-pods", {"namespace": ns, "labelSelector": "app=x", "limit": 500})
            assert not r.is_error, texts(r)
            sc = r.structured_content
            assert sc["truncated"] and sc["nextCursor"] and 0 < sc["count"] < 100  # budget, not limit, cut it
            assert all(int(p["name"][4:]) % 3 == 0 for p in sc["pods"])

    run(go)


def test_secrets_never_in_output(control_plane, app_ns):
    mcp = build(control_plane.kubeconfig, {"MCP_DEFAULT_NAMESPACE": app_ns})

    async def go():
        async with Client(mcp) as c:
            r = await c.call_tool("describe-pod", {"name": "app"})
            assert not r.is_error, texts(r)
            dumped = json.dumps(r.model_dump(mode="json"))
            for value in (SECRET_VALUE, OTHER_SECRET):
                assert value not in dumped and base64.b64encode(value.encode()).decode() not in dumped
            env = {e["name"]: e for e in r.structured_content["containers"][0]["env"]}
            assert env["DB_PASSWORD"]["value"] == "***"
            assert env["FROM_SECRET"]["value"] == "***" and "secret db/pw" in env["FROM_SECRET"]["source"]
            assert "managedFields" not in dumped  # the real pod has them; we strip them

    run(go)


def test_kube_errors_become_tool_errors(control_plane, namespace, tmp_path):
    """403: a ServiceAccount token with no RBAC at all. Unavailable: the adapter talks through a TCP
    proxy we stop and restart on the same port (the same server instance throughout)."""
    cp, ns = control_plane, namespace
    cp.kubectl("create", "serviceaccount", "nobody", "-n", ns)
    token = cp.kubectl("create", "token", "nobody", "-n", ns, "--duration=1h").stdout.strip()
    nobody = kubeconfig_with(cp.kubeconfig, tmp_path / "nobody.kubeconfig", token=token)
    wait_for(lambda: "forbidden" in cp.kubectl("--kubeconfig", nobody, "get", "pods", "-n", ns, check=False).stderr.lower(),
             what="token authenticates")
    mcp = build(nobody, {"MCP_DEFAULT_NAMESPACE": ns})

    async def forbidden():
        async with Client(mcp) as c:
            r = await c.call_tool("create-pod", {"name": "x", "image": "nginx"})
            assert r.is_error and f"may not create pods in namespace '{ns}'" in texts(r), texts(r)
            r = await c.call_tool("list-pods", {})
            assert r.is_error and f"may not list pods in namespace '{ns}'" in texts(r), texts(r)
            with pytest.raises(Exception, match="may not list nodes at cluster scope"):
                await c.read_resource("k8s://cluster/nodes")

    run(forbidden)
    assert pod_names(cp, ns) == []

    api = urlparse(cp.server)
    proxy = TcpProxy(api.hostname, api.port).start()
    via_proxy = kubeconfig_with(cp.kubeconfig, tmp_path / "proxy.kubeconfig", server=f"https://127.0.0.1:{proxy.port}")
    mcp = build(via_proxy, {"MCP_DEFAULT_NAMESPACE": ns, "MCP_KUBE_TIMEOUT_SECONDS": "3"})

    async def down_and_back():
        async with Client(mcp) as c:
            r = await c.call_tool("list-pods", {})
            assert not r.is_error, texts(r)
            proxy.stop()  # the API server "goes away"
            r = await c.call_tool("list-pods", {})
            assert r.is_error and "Cannot reach the Kubernetes API server" in texts(r), texts(r)
            assert "127.0.0.1" not in texts(r) and "urllib3" not in texts(r)  # no raw connection details
            with pytest.raises(Exception, match="Cannot reach"):
                await c.read_resource("k8s://cluster/nodes")
            proxy.start()  # ... and comes back on the same address
            r = await c.call_tool("list-pods", {})
            assert not r.is_error, texts(r)

    try:
        run(down_and_back)
    finally:
        proxy.stop()


def test_logs_tail_and_budget(control_plane, app_ns):
    cp, ns = control_plane, app_ns
    wait_for(lambda: cp.kubectl("logs", "app", "-n", ns, "--tail=1", check=False).returncode == 0, timeout=30,
             what="kwok serves the Logs rule")
    mcp = build(cp.kubeconfig, {"MCP_DEFAULT_NAMESPACE": ns})

    async def go():
        async with Client(mcp) as c:
            r = await c.call_tool("get-pod-logs", {"name": "app"})
            assert not r.is_error, texts(r)
            sc = r.structured_content
            assert sc["lines"] == 100 and sc["logs"].endswith(f"line {LOG_LINES - 1}\n") and not sc["truncated"]
            assert sc["logs"].startswith(f"line {LOG_LINES - 100}\n")
            r = await c.call_tool("get-pod-logs", {"name": "app", "tailLines": LOG_LINES, "limitBytes": 1000})
            assert not r.is_error, texts(r)
            sc = r.structured_content
            assert sc["truncated"] and sc["bytes"] <= 1000 and sc["logs"].endswith(f"line {LOG_LINES - 1}\n") and sc["notice"]

    run(go)


def test_resources_and_prompts(control_plane, app_ns, namespace):
    cp, ns = control_plane, app_ns
    api_nodes = json.loads(cp.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    mcp = build(cp.kubeconfig, {"MCP_DEFAULT_NAMESPACE": ns})

    async def go():
        async with Client(mcp) as c:
            res = [r.uri for r in (await c.list_resources()).resources]
            assert res == ["k8s://cluster/nodes", f"k8s://namespace/{ns}/pods"]  # the configured default namespace
            nodes = json.loads((await c.read_resource("k8s://cluster/nodes")).contents[0].text)
            assert nodes["count"] == len(nodes["nodes"]) == len(api_nodes)
            n0 = next(n for n in nodes["nodes"] if n["name"] == cp.nodes[0])
            want = next(n for n in api_nodes if n["metadata"]["name"] == cp.nodes[0])
            assert n0["capacity"]["pods"] == want["status"]["capacity"]["pods"] and n0["status"] == "True"
            pods = json.loads((await c.read_resource(f"k8s://namespace/{ns}/pods")).contents[0].text)
            assert pods["count"] == 1 and pods["pods"][0]["name"] == "app"
            assert set(pods["pods"][0]) >= {"name", "status", "ready", "restarts", "age"}
            pods = json.loads((await c.read_resource(f"k8s://namespace/{namespace}/pods")).contents[0].text)
            assert pods == {"namespace": namespace, "pods": [], "count": 0}
            comp = await c.complete(
                ref={"type": "ref/resource", "uri": "k8s://namespace/{namespace}/pods"}, argument={"name": "namespace", "value": ns[:-1]}
            )
            assert comp.completion.values == [ns]
            p = await c.get_prompt("troubleshoot-pod", {"podName": "web-1", "namespace": "team-a"})
            text = p.messages[0].content.text
            assert "web-1" in text and "team-a" in text and "describe-pod" in text and "get-pod-logs" in text
            p = await c.get_prompt("optimize-resources", {})
            assert f'"{ns}"' in p.messages[0].content.text and "list-pods" in p.messages[0].content.text

    run(go)
