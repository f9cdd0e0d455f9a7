"""Proof with MCP servers nobody here wrote (issue 9): pinned packages from npm and PyPI, run the
way a cluster would run them, reached the way a user reaches them.

For each server: the MCPServer is applied -> the hook (gunicorn) and the real Metacontroller render
it -> it is Ready -> its pods run as local processes (tests/kube/podrunner: the mcp-bridge image as
the `mcp-bridge` console script, third-party images by their command: `npx`, `uvx`) -> the official
MCP SDK client, through `kubectl port-forward svc/<name>`, lists the tools and calls one.
Replicas: 10 concurrent sessions x 20 calls through a balancer that spreads connections over the
Service's ready endpoints as kube-proxy does (tests/kube/balancer.py); port-forward would pin one pod.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request

import anyio
import pytest
from mcp import Client

from mcp_operator_hook import constants as C
from tests.e2e_hook.helpers import is_ready, kget, wait_for
from tests.kube.balancer import Balancer
from tests.kube.controlplane import free_port
from tests.kube.mcp_servers import EVERYTHING_NPM, TIME_PYPI, missing_tools
from tests.kube.podrunner import run_pod
from tests.kube.process import stop_process

pytestmark = [pytest.mark.cluster, pytest.mark.slow]
needs_npx = pytest.mark.skipif(bool(missing_tools(["npx"])), reason="npx (Node) is not installed")
START_TIMEOUT = 180  # first start downloads the package


def mcps(name: str, **spec) -> dict:
    return {"apiVersion": C.API_VERSION, "kind": C.KIND, "metadata": {"name": name}, "spec": spec}


def npm_package(*args: str) -> dict:
    name, _, version = EVERYTHING_NPM.rpartition("@")
    return {"registry": "npm", "name": name, "version": version, "args": list(args)}


def pypi_package(*args: str) -> dict:
    name, _, version = TIME_PYPI.partition("==")
    return {"registry": "pypi", "name": name, "version": version, "args": list(args)}


@contextlib.contextmanager
def served(cp, ns: str, obj: dict, replicas: int = 1):
    """Applies the MCPServer, waits for Ready, runs its pods; yields (mcpserver, running pods)."""
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = ns
    cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
    name = obj["metadata"]["name"]
    server = wait_for(lambda: is_ready(cp, ns, name), timeout=90, what=f"MCPServer {name} Ready")
    pods = wait_for(lambda: _pods(cp, ns, name, replicas), timeout=60, what=f"{replicas} pods of {name}")
    running = []
    try:
        for p in pods:
            running.append(run_pod(cp, ns, p["metadata"]["name"]))
        for p, rp in zip(pods, running):
            wait_for(lambda: probe_passes(p, rp), timeout=START_TIMEOUT, interval=0.5, what=f"readiness of {rp.name}")
        yield server, running
    except BaseException:
        for rp in running:  # what the containers said, for the failure report
            print(f"--- {rp.name} (exit {rp.proc.poll()}): {rp.proc.args}")
            print(rp.log.read_text()[-3000:] if rp.log.exists() else "(no log)")
        raise
    finally:
        for rp in running:
            rp.stop()


def probe_passes(pod: dict, rp) -> bool:
    """The container's readiness probe, run against the local process as a kubelet would (kwok
    marks pods Ready without probing; kubectl port-forward gives up on a refused connection)."""
    if rp.proc.poll() is not None:
        raise AssertionError(f"{rp.name} exited {rp.proc.returncode}: {rp.log.read_text()[-2000:]}")
    probe = pod["spec"]["containers"][0].get("readinessProbe") or {}
    if "httpGet" in probe:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{rp.local_port}{probe['httpGet'].get('path', '/')}", timeout=2) as r:
                return 200 <= r.status < 400
        except (OSError, urllib.error.HTTPError):
            return False
    with socket.socket() as s:  # tcpSocket, or no probe: the port accepts connections
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", rp.local_port)) == 0


def _pods(cp, ns: str, name: str, replicas: int):
    deploy = kget(cp, "deployment", name, "-n", ns)
    selector = ",".join(f"{k}={v}" for k, v in deploy["spec"]["selector"]["matchLabels"].items())
    pods = [p for p in kget(cp, "pods", "-n", ns, "-l", selector)["items"] if not p["metadata"].get("deletionTimestamp")]
    return pods if len(pods) == replicas and all(p.get("status", {}).get("podIP") for p in pods) else None


@contextlib.contextmanager
def port_forward(cp, ns: str, service: str, port: int):
    """`kubectl port-forward svc/<service>`: yields the local port."""
    local = free_port()
    proc = subprocess.Popen(
        [str(cp.bin_dir / "kubectl"), "--kubeconfig", cp.kubeconfig, "port-forward", "-n", ns, f"svc/{service}",
         f"{local}:{port}", "--address=127.0.0.1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def listening():
            if proc.poll() is not None:
                raise AssertionError(f"kubectl port-forward exited: {proc.stderr.read()}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", local)) == 0
        wait_for(listening, timeout=20, what="kubectl port-forward")
        yield local
    finally:
        if proc.poll() is not None:
            print(f"kubectl port-forward svc/{service} had exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
        stop_process(proc, 5)


async def _list_and_call(url: str, tool: str, arguments: dict, mode: str = "auto") -> tuple[set[str], str]:
    async with Client(url, mode=mode) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool(tool, arguments)
        assert not result.is_error, result
        return tools, result.content[0].text


def answer_when_up(url: str, tool: str, arguments: dict, mode: str = "auto", timeout: float = START_TIMEOUT):
    """The first successful list+call; a bridged server is unready until the package is fetched."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return anyio.run(_list_and_call, url, tool, arguments, mode)
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def endpoint_url(server: dict, local_port: int) -> str:
    # status.endpoint is the in-cluster URL; its path is where the server answers
    path = "/" + server["status"]["endpoint"].split("/", 3)[3]
    return f"http://127.0.0.1:{local_port}{path}"


@needs_npx
def test_server_everything_stdio_package_through_the_bridge(control_plane, namespace, metacontroller):
    obj = mcps("everything-stdio", transport="stdio", package=npm_package("stdio"))
    with served(control_plane, namespace, obj) as (server, pods):
        assert server["status"]["endpoint"].endswith(":8080/mcp") or "/mcp" in server["status"]["endpoint"]
        assert pods[0].proc.args[0].endswith("mcp-bridge")  # the bridge image, run as its console script
        port = kget(control_plane, "service", "everything-stdio", "-n", namespace)["spec"]["ports"][0]["port"]
        with port_forward(control_plane, namespace, "everything-stdio", port) as local:
            url = endpoint_url(server, local)
            tools, text = answer_when_up(url, "echo", {"message": "through the bridge"})
            assert {"echo", "get-sum", "toggle-simulated-logging"} <= tools
            assert text == "Echo: through the bridge"
            # the per-request era (2026-07-28) through the same Service
            assert answer_when_up(url, "get-sum", {"a": 2, "b": 3}, mode="2026-07-28")[1].endswith("5.")

            async def two_sessions():
                async with Client(url, mode="legacy") as a, Client(url, mode="legacy") as b:
                    first_a = (await a.call_tool("toggle-simulated-logging", {})).content[0].text
                    first_b = (await b.call_tool("toggle-simulated-logging", {})).content[0].text
                    second_a = (await a.call_tool("toggle-simulated-logging", {})).content[0].text
                return first_a, first_b, second_a

            first_a, first_b, second_a = anyio.run(two_sessions)
            # one process per session: b's toggle does not see a's state
            assert first_a.startswith("Started") and first_b.startswith("Started") and second_a.startswith("Stopped")


def test_mcp_server_time_pypi_package_through_the_bridge(control_plane, namespace, metacontroller):
    obj = mcps("time", transport="stdio", package=pypi_package("--local-timezone", "UTC"))
    with served(control_plane, namespace, obj) as (server, pods):
        port = kget(control_plane, "service", "time", "-n", namespace)["spec"]["ports"][0]["port"]
        with port_forward(control_plane, namespace, "time", port) as local:
            tools, text = answer_when_up(endpoint_url(server, local), "get_current_time", {"timezone": "UTC"})
            assert tools == {"get_current_time", "convert_time"}
            assert json.loads(text)["timezone"] == "UTC"


@needs_npx
def test_server_everything_streamable_http_by_its_own_command(control_plane, namespace, metacontroller):
    """A third-party image run by its command (npx) on the host; it has no /health (404): the
    default TCP probes fit it. Through port-forward at its own MCP path."""
    obj = mcps(
        "everything-http", image="node:22-bookworm-slim", transport="streamable-http", port=3001, mcpPath="/mcp",
        command=["npx", "-y", EVERYTHING_NPM, "streamableHttp"],
        env=[{"name": "PORT", "value": "3001"}, {"name": "HOME", "value": "/tmp/home"},
             {"name": "npm_config_cache", "value": "/tmp/npm"}],
    )
    with served(control_plane, namespace, obj) as (server, pods):
        deploy = kget(control_plane, "deployment", "everything-http", "-n", namespace)
        container = deploy["spec"]["template"]["spec"]["containers"][0]
        assert "httpGet" not in (container.get("livenessProbe") or {}), "a probe on /health would restart it forever"
        with pytest.raises(urllib.error.HTTPError) as missing:  # the fact that rules out HTTP probes
            urllib.request.urlopen(f"http://127.0.0.1:{pods[0].local_port}/health", timeout=5)
        assert missing.value.code == 404
        with port_forward(control_plane, namespace, "everything-http", 3001) as local:
            tools, text = answer_when_up(endpoint_url(server, local), "echo", {"message": "hi"})
            assert "echo" in tools and text == "Echo: hi"


def test_our_own_server_through_port_forward(control_plane, namespace, metacontroller):
    # as a user would: a ServiceAccount that may read this namespace, named in spec.serviceAccount
    control_plane.kubectl("create", "serviceaccount", "own-reader", "-n", namespace)
    control_plane.kubectl("create", "rolebinding", "own-view", "-n", namespace, "--clusterrole=view",
                          f"--serviceaccount={namespace}:own-reader")
    obj = mcps("own", image="mcp-k8s-server:latest", transport="streamable-http", port=3001, serviceAccount="own-reader")
    with served(control_plane, namespace, obj) as (server, pods):
        with port_forward(control_plane, namespace, "own", 3001) as local:
            tools, text = answer_when_up(endpoint_url(server, local), "list-pods", {"namespace": namespace}, timeout=60)
            assert "list-pods" in tools and "own-" in text


def ready_endpoints(cp, ns: str, service: str, pods) -> list[tuple[str, int]]:
    """The Service's ready endpoints (EndpointSlices), as the local ports their pods listen on."""
    local = {rp.name: rp.local_port for rp in pods}
    out = []
    for sl in kget(cp, "endpointslices", "-n", ns, "-l", f"kubernetes.io/service-name={service}")["items"]:
        for ep in sl.get("endpoints") or []:
            name = (ep.get("targetRef") or {}).get("name")
            if (ep.get("conditions") or {}).get("ready") and name in local:
                out.append(("127.0.0.1", local[name]))
    return sorted(out)


@needs_npx
def test_three_replicas_keep_every_session(control_plane, namespace, metacontroller):
    """10 concurrent sessions x 20 calls, every connection balanced over 3 bridge pods: each
    session's toggles alternate Started/Stopped, so all its calls reached one process."""
    obj = mcps("everything-ha", transport="stdio", replicas=3, package=npm_package("stdio"))
    with served(control_plane, namespace, obj, replicas=3) as (server, pods):
        svc = kget(control_plane, "service", "everything-ha", "-n", namespace)
        endpoints = wait_for(lambda: (e := ready_endpoints(control_plane, namespace, "everything-ha", pods)) and len(e) == 3 and e,
                             timeout=60, what="3 ready endpoints")
        with Balancer(lambda: endpoints, svc["spec"].get("sessionAffinity", "None")) as lb:
            url = lb.url + "/" + server["status"]["endpoint"].split("/", 3)[3]
            answer_when_up(url, "echo", {"message": "warm"})  # every pod's bridge has fetched the package
            for rp in pods:
                answer_when_up(f"http://127.0.0.1:{rp.local_port}/mcp", "echo", {"message": "warm"})
            failures: list[str] = []

            async def session(n: int) -> None:
                async with Client(url, mode="legacy") as c:
                    for i in range(20):
                        text = (await c.call_tool("toggle-simulated-logging", {})).content[0].text
                        want = "Started" if i % 2 == 0 else "Stopped"
                        if not text.startswith(want):
                            failures.append(f"session {n} call {i}: {text[:40]}")

            async def all_sessions():
                async with anyio.create_task_group() as tg:
                    for n in range(10):
                        tg.start_soon(session, n)

            anyio.run(all_sessions)
            assert not failures, failures
            if svc["spec"].get("sessionAffinity", "None") == "None":
                used = [b for b, n in lb.connections.items() if n]
                assert len(used) == 3, f"connections were not spread over the 3 pods: {lb.connections}"
