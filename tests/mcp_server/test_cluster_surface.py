"""Every resource, tool and prompt through the SDK's own client, over stdio and streamable HTTP
(2025-11-25 handshake and 2026-07-28 per-request), against the local control plane (kwok nodes).
Also: Secrets never appear in any output, read-only mode, bad arguments, pod logs (kwok serves
them through the API server from a Logs rule)."""

import base64
import json

import anyio
import pytest

from .helpers import connect, texts, wait_for

pytestmark = pytest.mark.cluster

SECRET_VALUE = "pw-9f1c7e2a-NEVER-SHOWN"
IMAGE = "registry.example/app:1"


def _pod_running(cp, ns, name):
    def check():
        r = cp.kubectl("get", "pod", name, "-n", ns, "-o", "json", check=False)
        return r.returncode == 0 and json.loads(r.stdout).get("status", {}).get("phase") == "Running"

    wait_for(check, what=f"pod {name} Running")


@pytest.fixture
def workload(control_plane, namespace, tmp_path):
    """A Secret, a pod that references it three ways (env, envFrom, volume), and a kwok Logs rule."""
    cp = control_plane
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-creds", "namespace": namespace},
              "stringData": {"password": SECRET_VALUE}}
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": namespace, "labels": {"app": "web"}},
        "spec": {
            "containers": [{
                "name": "main", "image": IMAGE,
                "env": [
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db-creds", "key": "password"}}},
                    {"name": "API_TOKEN", "value": SECRET_VALUE},  # a literal that looks like a credential
                    {"name": "MODE", "value": "prod"},
                ],
                "envFrom": [{"secretRef": {"name": "db-creds"}}],
                "volumeMounts": [{"name": "creds", "mountPath": "/creds"}],
                "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
            }],
            "volumes": [{"name": "creds", "secret": {"secretName": "db-creds"}}],
        },
    }
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [secret, pod]}))
    log = tmp_path / "web.log"  # kwok reads container logs in CRI format
    log.write_text("".join(f"2026-01-01T00:00:{i:02d}.000000000Z stdout F line {i}\n" for i in range(1, 11)))
    rule = {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "Logs", "metadata": {"name": "web", "namespace": namespace},
            "spec": {"logs": [{"containers": ["main"], "logsFile": str(log)}]}}
    cp.kubectl("apply", "-f", "-", input=json.dumps(rule))
    _pod_running(cp, namespace, "web")
    return namespace


def _kwok_serves_logs(cp, ns, timeout=20) -> bool:
    try:
        wait_for(lambda: cp.kubectl("logs", "web", "-n", ns, "--tail=1", check=False).returncode == 0, timeout=timeout, what="logs")
        return True
    except AssertionError:
        return False


def _dump(obj) -> str:
    if hasattr(obj, "model_dump"):
        return json.dumps(obj.model_dump(mode="json", by_alias=True))
    return json.dumps(obj)


@pytest.mark.parametrize("transport", ["stdio", "stdio-modern", "http-legacy", "http-modern"])
def test_every_resource_tool_and_prompt(control_plane, workload, tmp_path, transport):
    cp, ns = control_plane, workload
    outputs: list[str] = []
    logs_served = _kwok_serves_logs(cp, ns)

    async def go():
        async with connect(transport, cp.kubeconfig, tmp_path) as c:
            tools = {t.name for t in (await c.list_tools()).tools}
            assert tools == {"list-pods", "describe-pod", "list-events", "get-pod-logs", "can-i", "create-pod", "delete-pod", "api-resources", "namespaces-list", "resources-list", "resources-get"}

            # list-pods, with selectors
            r = await c.call_tool("list-pods", {"namespace": ns})
            outputs.append(_dump(r))
            assert not r.is_error, texts(r)
            web = next(p for p in r.structured_content["pods"] if p["name"] == "web")
            assert web["status"] == "Running" and web["ready"] is True and web["node"] in cp.nodes
            r = await c.call_tool("list-pods", {"namespace": ns, "labelSelector": "app=web", "fieldSelector": "status.phase=Running"})
            assert [p["name"] for p in r.structured_content["pods"]] == ["web"]
            r = await c.call_tool("list-pods", {"namespace": ns, "labelSelector": "app=nothing"})
            assert r.structured_content["count"] == 0 and "nextCursor" not in r.structured_content

            # describe-pod: states, resources, masked env, events
            r = await c.call_tool("describe-pod", {"name": "web", "namespace": ns})
            outputs.append(_dump(r))
            assert not r.is_error, texts(r)
            d = r.structured_content
            main = d["containers"][0]
            assert main["state"]["state"] == "running" and main["requests"] == {"cpu": "50m", "memory": "64Mi"}
            env = {e["name"]: e for e in main["env"]}
            assert env["DB_PASSWORD"]["value"] == "***" and "db-creds/password" in env["DB_PASSWORD"]["source"]
            assert env["API_TOKEN"]["value"] == "***" and env["MODE"]["value"] == "prod"
            assert main["envFrom"] == ["secret db-creds (values never shown)"]
            assert {"name": "creds", "type": "secret", "source": "db-creds"} in d["volumes"]
            assert any(e["reason"] == "Scheduled" for e in d["events"]), d["events"]

            # list-events
            r = await c.call_tool("list-events", {"namespace": ns, "objectName": "web"})
            outputs.append(_dump(r))
            assert any(e["reason"] == "Scheduled" and e["object"] == "Pod/web" for e in r.structured_content["events"])
            r = await c.call_tool("list-events", {"namespace": ns, "type": "Warning"})
            assert not r.is_error

            # get-pod-logs (the real path, when kwok serves logs; see test_pod_logs_* for both paths)
            r = await c.call_tool("get-pod-logs", {"name": "web", "namespace": ns, "tailLines": 3})
            outputs.append(_dump(r))
            if logs_served:
                assert not r.is_error, texts(r)
                assert r.structured_content["logs"].splitlines() == ["line 8", "line 9", "line 10"]

            # create-pod / delete-pod
            r = await c.call_tool("create-pod", {"name": "made-by-mcp", "image": "nginx:alpine", "namespace": ns})
            assert not r.is_error, texts(r)
            assert r.structured_content["uid"]
            pod = json.loads(cp.kubectl("get", "pod", "made-by-mcp", "-n", ns, "-o", "json").stdout)
            assert pod["metadata"]["labels"] == {"created-by": "mcp-server"}
            assert pod["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
            r = await c.call_tool("create-pod", {"name": "made-by-mcp", "image": "nginx:alpine", "namespace": ns})
            assert r.is_error and "already exists" in texts(r)
            r = await c.call_tool("delete-pod", {"name": "made-by-mcp", "namespace": ns, "gracePeriodSeconds": 0})
            assert not r.is_error, texts(r)
            wait_for(lambda: cp.kubectl("get", "pod", "made-by-mcp", "-n", ns, check=False).returncode != 0, what="pod gone")

            # resources
            nodes = json.loads((await c.read_resource("k8s://cluster/nodes")).contents[0].text)
            assert nodes["count"] == len(nodes["nodes"]) >= len(cp.nodes)
            n0 = next(n for n in nodes["nodes"] if n["name"] == cp.nodes[0])
            assert n0["status"] == "True" and n0["capacity"]["pods"] and n0["version"]
            pods = json.loads((await c.read_resource(f"k8s://namespace/{ns}/pods")).contents[0].text)
            outputs.append(json.dumps(pods))
            assert pods["namespace"] == ns and [p["name"] for p in pods["pods"]] == ["web"]
            assert {"name", "status", "ready", "restarts", "age"} <= set(pods["pods"][0])
            default = json.loads((await c.read_resource("k8s://namespace/default/pods")).contents[0].text)
            assert default["namespace"] == "default"
            res = [r.uri for r in (await c.list_resources()).resources]
            assert res == ["k8s://cluster/nodes", "k8s://namespace/default/pods"]
            comp = await c.complete(
                ref={"type": "ref/resource", "uri": "k8s://namespace/{namespace}/pods"},
                argument={"name": "namespace", "value": ns[:4]},
            )
            assert ns in comp.completion.values

            # prompts
            p = await c.get_prompt("troubleshoot-pod", {"podName": "web", "namespace": ns})
            assert "web" in p.messages[0].content.text and "describe-pod" in p.messages[0].content.text
            p = await c.get_prompt("optimize-resources", {"namespace": ns})
            assert ns in p.messages[0].content.text

    anyio.run(go)
    blob = "\n".join(outputs)
    assert SECRET_VALUE not in blob
    assert base64.b64encode(SECRET_VALUE.encode()).decode() not in blob


def test_secret_values_never_in_any_output(control_plane, workload, tmp_path):
    """Call every read tool and resource and look for the Secret's value, plain and base64."""
    cp, ns = control_plane, workload
    b64 = base64.b64encode(SECRET_VALUE.encode()).decode()
    blobs = []

    async def go():
        async with connect("http-modern", cp.kubeconfig, tmp_path) as c:
            for name, args in [
                ("list-pods", {"namespace": ns}),
                ("describe-pod", {"name": "web", "namespace": ns, "events": 50}),
                ("list-events", {"namespace": ns}),
                ("get-pod-logs", {"name": "web", "namespace": ns}),
            ]:
                r = await c.call_tool(name, args)
                assert not r.is_error, (name, texts(r))
                blobs.append(_dump(r))
            for uri in ("k8s://cluster/nodes", f"k8s://namespace/{ns}/pods", "k8s://namespace/default/pods"):
                blobs.append(_dump(await c.read_resource(uri)))
            # there is no tool that reads Secrets at all
            assert not any("secret" in t.name for t in (await c.list_tools()).tools)

    anyio.run(go)
    for b in blobs:
        assert SECRET_VALUE not in b and b64 not in b


def test_read_only_mode(control_plane, namespace, tmp_path):
    cp, ns = control_plane, namespace

    async def go():
        async with connect("stdio", cp.kubeconfig, tmp_path, MCP_READ_ONLY="true") as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert set(tools) == {"list-pods", "describe-pod", "list-events", "get-pod-logs", "can-i", "api-resources", "namespaces-list", "resources-list", "resources-get"}
            assert all(t.annotations.read_only_hint for t in tools.values())
            r = await c.call_tool("create-pod", {"name": "nope", "image": "nginx", "namespace": ns})
            assert r.is_error
            r = await c.call_tool("delete-pod", {"name": "nope", "namespace": ns})
            assert r.is_error
            assert "read-only" in (c.instructions or "")

    anyio.run(go)
    assert cp.kubectl("get", "pod", "nope", "-n", ns, check=False).returncode != 0


def test_bad_arguments_get_actionable_errors(control_plane, namespace, tmp_path):
    cp, ns = control_plane, namespace

    async def go():
        async with connect("http-legacy", cp.kubeconfig, tmp_path) as c:
            cases = [
                ("create-pod", {"name": "Bad_Name", "image": "nginx", "namespace": ns}, ["not a valid Kubernetes name", "'bad-name'"]),
                ("create-pod", {"name": "ok", "image": "NGINX:latest", "namespace": ns}, ["lowercase"]),
                ("create-pod", {"name": "ok", "image": "nginx latest", "namespace": ns}, ["whitespace"]),
                ("create-pod", {"name": "ok"}, ["image"]),  # missing required argument
                ("describe-pod", {"name": "ghost", "namespace": ns}, ["'ghost'", "does not exist", ns]),
                ("delete-pod", {"name": "ghost", "namespace": ns}, ["'ghost'", "does not exist"]),
                ("get-pod-logs", {"name": "ghost", "namespace": ns}, ["'ghost'", "does not exist"]),
                ("list-pods", {"namespace": "no-such-ns-zz"}, []),  # empty list: listing a missing namespace is not an error in Kubernetes
                ("list-pods", {"namespace": ns, "labelSelector": "a in (b"}, ["rejected"]),
                ("list-pods", {"namespace": ns, "cursor": "not-a-cursor"}, ["cursor"]),
                ("list-pods", {"namespace": ns, "limit": 0}, ["limit"]),
                ("get-pod-logs", {"name": "x", "namespace": ns, "tailLines": -5}, ["tailLines"]),
                ("list-events", {"namespace": ns, "type": "Fatal"}, ["type"]),
                ("create-pod", {"name": "ok", "image": "nginx", "namespace": "Not Valid"}, ["namespace", "not a valid"]),
            ]
            for tool, args, needles in cases:
                r = await c.call_tool(tool, args)
                if not needles:
                    assert not r.is_error and r.structured_content["count"] == 0
                    continue
                assert r.is_error, (tool, args)
                for n in needles:
                    assert n in texts(r), (tool, args, texts(r))
                # no raw client internals leak to the model
                assert "/api/v1" not in texts(r) and "Traceback" not in texts(r) and "urllib3" not in texts(r)

    anyio.run(go)
    assert cp.kubectl("get", "pods", "-n", ns, "-o", "name").stdout.strip() == ""


def test_pod_logs_real_path(control_plane, workload, tmp_path):
    """kwok answers the API server's pods/log requests from the Logs rule's file (CRI format)."""
    cp, ns = control_plane, workload
    if not _kwok_serves_logs(cp, ns):
        r = cp.kubectl("logs", "web", "-n", ns, "--tail=1", check=False)
        pytest.skip(f"this control plane's kwok does not serve logs (kubectl logs: {r.stderr.strip()}); "
                    "test_pod_logs_error_paths still runs")

    async def go():
        async with connect("http-modern", cp.kubeconfig, tmp_path) as c:
            r = await c.call_tool("get-pod-logs", {"name": "web", "namespace": ns, "tailLines": 3})
            assert not r.is_error, texts(r)
            sc = r.structured_content
            assert sc["logs"].splitlines() == ["line 8", "line 9", "line 10"] and sc["lines"] == 3
            assert not sc["truncated"] and "line 10" in texts(r)
            r = await c.call_tool("get-pod-logs", {"name": "web", "namespace": ns})  # default tail 100
            assert r.structured_content["lines"] == 10
            r = await c.call_tool("get-pod-logs", {"name": "web", "namespace": ns, "limitBytes": 20})
            sc = r.structured_content
            assert sc["truncated"] and sc["notice"] and sc["logs"].endswith("line 10\n") and sc["bytes"] <= 20
            r = await c.call_tool("get-pod-logs", {"name": "web", "namespace": ns, "container": "main"})
            assert not r.is_error

    anyio.run(go)


def test_pod_logs_error_paths(control_plane, workload, tmp_path):
    """Whatever kwok serves: a wrong container, a missing pod and a previous instance that does not
    exist come back as clear tool errors, with no client internals."""
    cp, ns = control_plane, workload

    async def go():
        async with connect("http-legacy", cp.kubeconfig, tmp_path) as c:
            r = await c.call_tool("get-pod-logs", {"name": "web", "namespace": ns, "container": "sidecar"})
            assert r.is_error and "sidecar" in texts(r), texts(r)
            r = await c.call_tool("get-pod-logs", {"name": "ghost", "namespace": ns})
            assert r.is_error and "'ghost'" in texts(r) and "does not exist" in texts(r)
            for r in [r]:
                assert "/api/v1" not in texts(r) and "urllib3" not in texts(r)

    anyio.run(go)
