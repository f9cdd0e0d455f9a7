"""The user journey, step by step, on the local control plane. `make demo` runs it and narrates;
tests/journey/test_journey.py runs it and asserts on each step's result.

helm install the chart (with its bundled Metacontroller) -> apply the seed's basic MCPServer -> it
becomes Ready with its endpoint -> its pod is started as a local process (its env, its mounted
config, its ServiceAccount's token) -> an MCP client connects through `kubectl port-forward
svc/<name>` -> lists tools, calls one -> kubectl scale mcps -> helm upgrade -> kubectl delete ->
helm uninstall while another MCPServer still exists, leaving nothing behind or stuck.

`helm install` alone yields the operator: the pod runner starts the chart's own pods, the hook from
its Dockerfile target and Metacontroller's (image ghcr.io/metacontroller/metacontroller) as the real
binary with the pod's args and its ServiceAccount's token, so its least-privilege RBAC is what it
runs with. Its `webhook.service` calls resolve through a loopback proxy that plays cluster DNS
(tests/kube/svcproxy.py: `http://<hook>.<ns>:80/sync` -> `kubectl port-forward svc/<hook>`).
"""

from __future__ import annotations

import json
import subprocess
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import anyio

from tests.kube import ControlPlane, free_port, stop_process, wait_for
from tests.kube.podrunner import RunningPod, run_pod

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "mcp-operator"
BASIC = REPO / "examples" / "basic-mcpserver.yaml"
RELEASE, OPERATOR_NS = "mcp-operator", "mcp-system"
LEFTOVER_NS = "still-serving"
STDIO_PACKAGE = REPO / "examples" / "third-party" / "time-stdio-package-mcpserver.yaml"


class JourneyError(AssertionError):
    pass


@dataclass
class Journey:
    cp: ControlPlane
    say: Callable[[str], None] = print
    stack: ExitStack = field(default_factory=ExitStack)
    timings: dict[str, float] = field(default_factory=dict)
    results: dict = field(default_factory=dict)
    name: str = "basic-mcpserver"
    namespace: str = "default"
    apply_strategy: str | None = None  # Metacontroller --apply-strategy (None: its default)

    # --- plumbing ---------------------------------------------------------------------------
    def step(self, title: str, fn: Callable, *args):
        self.say(f"\n==> {title}")
        start = time.monotonic()
        out = fn(*args)
        self.timings[title] = time.monotonic() - start
        self.say(f"    ok ({self.timings[title]:.1f}s)")
        return out

    def helm(self, *args: str, timeout: float = 180) -> str:
        r = subprocess.run(
            [str(self.cp.bin_dir / "helm"), "--kubeconfig", self.cp.kubeconfig, *args],
            capture_output=True, text=True, timeout=timeout, env=self.cp.env(),
        )
        if r.returncode != 0:
            raise JourneyError(f"helm {' '.join(args)} failed: {r.stderr.strip()}")
        return r.stdout

    def get(self, *args: str) -> dict:
        return json.loads(self.cp.kubectl("get", *args, "-o", "json").stdout)

    def port_forward(self, namespace: str, target: str, remote_port: int) -> int:
        local = free_port()
        proc = subprocess.Popen(
            [str(self.cp.bin_dir / "kubectl"), "--kubeconfig", self.cp.kubeconfig, "port-forward",
             "-n", namespace, target, f"{local}:{remote_port}", "--address=127.0.0.1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.stack.callback(stop_process, proc, 10)
        wait_for(lambda: proc.poll() is None and _port_open(local) or _check_exited(proc), timeout=30,
                 what=f"kubectl port-forward {target}")
        return local

    def run_pods_of(self, namespace: str, selector: dict[str, str]) -> list[RunningPod]:
        sel = ",".join(f"{k}={v}" for k, v in selector.items())
        pods = [p for p in self.get("pods", "-n", namespace, "-l", sel)["items"]
                if not p["metadata"].get("deletionTimestamp")]
        running = []
        started = self.results.setdefault("started_pods", set())
        for p in pods:
            if (namespace, p["metadata"]["name"]) in started:
                continue
            started.add((namespace, p["metadata"]["name"]))
            rp = run_pod(self.cp, namespace, p["metadata"]["name"])
            self.stack.callback(rp.stop)
            running.append(rp)
        return running

    # --- the steps --------------------------------------------------------------------------
    def helm_install(self):
        self.helm("install", RELEASE, str(CHART), "-n", OPERATOR_NS, "--create-namespace", "--wait",
                  "--timeout", "120s", "--set", f"mcpServerRbac.namespaces={{{self.namespace}}}",
                  "--set", "metacontroller.bundled.enabled=true",
                  *(("--set", f"metacontroller.bundled.applyStrategy={self.apply_strategy}")
                    if self.apply_strategy else ()))
        deploy = self.get("deployment", "-n", OPERATOR_NS, "-l", "app.kubernetes.io/instance=" + RELEASE)["items"]
        hook = next(d for d in deploy if d["status"].get("readyReplicas"))
        self.results["hook_deployment"] = hook["metadata"]["name"]
        self.say(f"    hook Deployment {hook['metadata']['name']}: {hook['status']['readyReplicas']} ready")

    def start_hook_and_controller(self):
        hook = self.get("deployment", self.results["hook_deployment"], "-n", OPERATOR_NS)
        pods = self.run_pods_of(OPERATOR_NS, hook["spec"]["selector"]["matchLabels"])
        self.say(f"    hook pods started locally: {[p.name for p in pods]}")
        mc = self.get("deployment", "-n", OPERATOR_NS, "-l", "app.kubernetes.io/component=metacontroller")["items"]
        if not mc:
            raise JourneyError("the chart deployed no Metacontroller (metacontroller.bundled.enabled)")
        mc_pods = self.run_pods_of(OPERATOR_NS, mc[0]["spec"]["selector"]["matchLabels"])
        self.results["metacontroller_pods"] = mc_pods
        role = self.get("clusterrole", mc[0]["spec"]["template"]["spec"]["serviceAccountName"])
        self.results["metacontroller_rules"] = role["rules"]
        cc = self.get("compositecontrollers", "-l", f"app.kubernetes.io/instance={RELEASE}")["items"][0]
        svc = cc["spec"]["hooks"]["sync"]["webhook"]["service"]
        self.say(f"    Metacontroller pod {mc_pods[0].name} runs as the real binary with its ServiceAccount "
                 f"({len(role['rules'])} RBAC rules, no wildcard) -> CompositeController "
                 f"{cc['metadata']['name']} -> http://{svc['name']}.{svc['namespace']}:{svc.get('port', 80)}")

    def apply_basic_sample(self):
        self.cp.kubectl("apply", "-f", str(BASIC))
        mcps = self.wait_ready(1)
        self.results["endpoint"] = mcps["status"]["endpoint"]
        self.say("    " + self.cp.kubectl("get", "mcps", "-n", self.namespace).stdout.replace("\n", "\n    "))

    def wait_ready(self, replicas: int) -> dict:
        def ready():
            m = self.get("mcps", self.name, "-n", self.namespace)
            st = m.get("status", {})
            ok = (st.get("phase") == "Ready" and st.get("readyReplicas") == replicas
                  and st.get("observedGeneration") == m["metadata"]["generation"])
            return m if ok else None
        return wait_for(ready, timeout=120, what=f"MCPServer Ready with {replicas} replicas")

    def grant_kubernetes_access(self):
        """The sample runs as the namespace's default ServiceAccount, which may read nothing; point
        it at the ServiceAccount the chart created for MCP servers (read-only RBAC). A spec edit
        rolls the pods."""
        sa = next(s["metadata"]["name"] for s in self.get("serviceaccounts", "-n", self.namespace)["items"]
                  if s["metadata"].get("labels", {}).get("app.kubernetes.io/instance") == RELEASE)
        self.cp.kubectl("patch", "mcps", self.name, "-n", self.namespace, "--type=merge",
                        "-p", json.dumps({"spec": {"serviceAccount": sa}}))
        def rolled():
            d = self.get("deployment", self.name, "-n", self.namespace)
            pods = self.get("pods", "-n", self.namespace, "-l", _selector(d))["items"]
            return (d["spec"]["template"]["spec"].get("serviceAccountName") == sa and pods and
                    all(p["spec"].get("serviceAccountName") == sa and not p["metadata"].get("deletionTimestamp")
                        for p in pods))
        wait_for(rolled, timeout=120, what="pods rolled to the new ServiceAccount")
        self.wait_ready(1)
        self.results["service_account"] = sa
        self.say(f"    spec.serviceAccount={sa}; pods rolled")

    def connect_mcp_client(self):
        d = self.get("deployment", self.name, "-n", self.namespace)
        pods = self.run_pods_of(self.namespace, d["spec"]["selector"]["matchLabels"])
        for p in pods:
            wait_for(lambda p=p: _http_ok(f"http://127.0.0.1:{p.local_port}/health") or _dead(p), timeout=30,
                     what=f"MCP server process of {p.name}")
        svc = self.get("service", self.name, "-n", self.namespace)
        port = svc["spec"]["ports"][0]["port"]
        local = self.port_forward(self.namespace, f"svc/{self.name}", port)
        url = f"http://127.0.0.1:{local}/mcp"
        self.say(f"    kubectl port-forward svc/{self.name} {local}:{port}  ->  {url}")
        tools, listing = anyio.run(_mcp_session, url, self.namespace)
        self.results.update(tools=tools, list_pods=listing, mcp_url=url)
        self.say(f"    tools/list: {', '.join(tools)}")
        names = [p["name"] for p in listing.get("pods", listing.get("items", []))]
        self.say(f"    tools/call list-pods namespace={self.namespace}: {names}")

    def serve_stdio_package(self):
        """A stdio server from PyPI (pinned), no image of its own: the mcp-bridge serves it over
        streamable HTTP, one `uvx` process per MCP session (one replica here; the sample has 3)."""
        import yaml

        obj = yaml.safe_load(STDIO_PACKAGE.read_text())
        name = obj["metadata"]["name"]
        obj["metadata"]["namespace"] = self.namespace
        obj["spec"]["replicas"] = 1
        self.cp.kubectl("apply", "-f", "-", input=json.dumps(obj))

        def ready():
            m = self.get("mcps", name, "-n", self.namespace)
            st = m.get("status") or {}
            return m if st.get("phase") == "Ready" and st.get("observedGeneration") == m["metadata"]["generation"] else None

        m = wait_for(ready, timeout=120, what=f"MCPServer {name} Ready")
        self.say(f"    {name}: Ready, endpoint {m['status'].get('endpoint')}")
        d = self.get("deployment", name, "-n", self.namespace)
        pods = self.run_pods_of(self.namespace, d["spec"]["selector"]["matchLabels"])
        for p in pods:  # the bridge is ready once uvx fetched the package and it answered tools/list
            wait_for(lambda p=p: _http_ok(f"http://127.0.0.1:{p.local_port}/readyz") or _dead(p), timeout=180,
                     what=f"mcp-bridge of {p.name} ready")
        port = self.get("service", name, "-n", self.namespace)["spec"]["ports"][0]["port"]
        local = self.port_forward(self.namespace, f"svc/{name}", port)
        url = f"http://127.0.0.1:{local}/mcp"
        self.say(f"    kubectl port-forward svc/{name} {local}:{port}  ->  {url}  ({' '.join(pods[0].proc.args[-4:])})")
        tools, now = anyio.run(_stdio_package_session, url)
        self.results.update(stdio_package_tools=tools, stdio_package_answer=now)
        self.say(f"    tools/list: {', '.join(tools)}; tools/call get_current_time UTC: {now}")
        self.cp.kubectl("delete", "mcps", name, "-n", self.namespace, "--timeout=90s")

    def scale(self):
        self.cp.kubectl("scale", "mcps", self.name, "-n", self.namespace, "--replicas=2")
        self.wait_ready(2)
        d = self.get("deployment", self.name, "-n", self.namespace)
        self.results["scaled_deployment_replicas"] = d["spec"]["replicas"]
        self.say(f"    Deployment {self.name} spec.replicas={d['spec']['replicas']}, MCPServer Ready 2/2")

    def helm_upgrade(self):
        self.helm("upgrade", RELEASE, str(CHART), "-n", OPERATOR_NS, "--reuse-values", "--wait",
                  "--timeout", "120s", "--set", "hook.replicaCount=3")
        d = self.get("deployment", self.results["hook_deployment"], "-n", OPERATOR_NS)
        self.run_pods_of(OPERATOR_NS, d["spec"]["selector"]["matchLabels"])  # the new hook pod
        self.results["upgraded_hook_replicas"] = d["status"].get("readyReplicas")
        self.wait_ready(2)
        revision = json.loads(self.helm("status", RELEASE, "-n", OPERATOR_NS, "-o", "json"))["version"]
        self.results["helm_revision"] = revision
        self.say(f"    release revision {revision}; hook replicas {d['status'].get('readyReplicas')}; MCPServer still Ready")

    def delete_server(self):
        self.cp.kubectl("delete", "mcps", self.name, "-n", self.namespace, "--timeout=90s")
        def gone():
            left = []
            for kind in ("deployment", "service", "configmap"):
                items = self.get(kind, "-n", self.namespace)["items"]
                left += [f"{kind}/{i['metadata']['name']}" for i in items if i["metadata"]["name"].startswith(self.name)]
            return not left or None
        wait_for(gone, timeout=90, what="children of the deleted MCPServer to disappear")
        self.say("    MCPServer and its Deployment, Service and ConfigMap are gone")

    def leave_a_server_running(self):
        """An MCPServer that is still there at `helm uninstall` (a platform engineer removes the
        operator before its users' servers)."""
        self.cp.kubectl("create", "namespace", LEFTOVER_NS)
        import yaml

        obj = yaml.safe_load(BASIC.read_text())
        obj["metadata"]["namespace"] = LEFTOVER_NS
        self.cp.kubectl("apply", "-f", "-", input=json.dumps(obj))
        wait_for(lambda: self._ready_in(LEFTOVER_NS), timeout=120, what=f"MCPServer Ready in {LEFTOVER_NS}")
        self.say(f"    {self.name} in namespace {LEFTOVER_NS} is Ready and stays through the uninstall")

    def _ready_in(self, namespace: str):
        m = self.get("mcps", self.name, "-n", namespace)
        st = m.get("status") or {}
        return m if st.get("phase") == "Ready" and st.get("observedGeneration") == m["metadata"]["generation"] else None

    def helm_uninstall(self):
        # what the real Metacontroller was refused with its least-privilege RBAC (none expected)
        self.results["metacontroller_forbidden"] = [
            line for p in self.results.get("metacontroller_pods", []) if p.log.exists()
            for line in p.log.read_text(errors="replace").splitlines() if "forbidden" in line.lower()]
        self.stack.close()  # stop the controller, port-forwards and local pods first
        self.helm("uninstall", RELEASE, "-n", OPERATOR_NS, "--wait", "--timeout", "120s")
        leftovers = self.cp.kubectl(
            "get", "all,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings,"
            "compositecontrollers,networkpolicies,poddisruptionbudgets",
            "-A", "-l", f"app.kubernetes.io/instance={RELEASE}", "-o", "name",
        ).stdout.split()
        self.results["leftovers"] = leftovers
        if leftovers:
            raise JourneyError(f"helm uninstall left {leftovers}")
        self.say("    no object of the release is left (the CRDs stay, as Helm leaves CRDs)")

    def delete_after_uninstall(self):
        """With the operator gone, the remaining MCPServer and its namespace still delete: no
        finalizer waits for a Metacontroller that is no longer there; the garbage collector removes
        the children through their ownerReferences."""
        m = self.get("mcps", self.name, "-n", LEFTOVER_NS)
        self.results["leftover_finalizers"] = m["metadata"].get("finalizers") or []
        self.cp.kubectl("delete", "mcps", self.name, "-n", LEFTOVER_NS, "--timeout=60s")
        self.cp.kubectl("delete", "namespace", LEFTOVER_NS, "--timeout=90s")
        wait_for(lambda: self.cp.kubectl("get", "namespace", LEFTOVER_NS, check=False).returncode != 0,
                 timeout=90, what=f"namespace {LEFTOVER_NS} gone")
        self.results["leftover_namespace_deleted"] = True
        self.say(f"    kubectl delete mcps and namespace {LEFTOVER_NS}: both gone, nothing stuck")

    def run(self):
        try:
            self.step(f"helm install {RELEASE} charts/mcp-operator -n {OPERATOR_NS}", self.helm_install)
            self.step("the chart's pods: hook and Metacontroller", self.start_hook_and_controller)
            self.step(f"kubectl apply -f {BASIC.relative_to(REPO)}", self.apply_basic_sample)
            self.step("give the server read-only Kubernetes access (spec.serviceAccount)", self.grant_kubernetes_access)
            self.step("MCP client through kubectl port-forward svc/basic-mcpserver", self.connect_mcp_client)
            self.step(f"a stdio package server: kubectl apply -f {STDIO_PACKAGE.relative_to(REPO)}", self.serve_stdio_package)
            self.step(f"kubectl scale mcps {self.name} --replicas=2", self.scale)
            self.step("helm upgrade (hook.replicaCount=3)", self.helm_upgrade)
            self.step(f"kubectl delete mcps {self.name}", self.delete_server)
            self.step(f"another MCPServer in namespace {LEFTOVER_NS}", self.leave_a_server_running)
            self.step(f"helm uninstall {RELEASE} --wait (that MCPServer still exists)", self.helm_uninstall)
            self.step(f"kubectl delete mcps/namespace {LEFTOVER_NS} after the uninstall", self.delete_after_uninstall)
        finally:
            self.stack.close()
        return self.results


async def _mcp_session(url: str, namespace: str):
    from mcp import Client

    async with Client(url) as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        result = await client.call_tool("list-pods", {"namespace": namespace})
        if result.is_error:
            raise JourneyError(f"list-pods failed: {result.content}")
        return tools, result.structured_content or {}


async def _stdio_package_session(url: str):
    from mcp import Client

    async with Client(url) as client:
        tools = sorted(t.name for t in (await client.list_tools()).tools)
        result = await client.call_tool("get_current_time", {"timezone": "UTC"})
        if result.is_error:
            raise JourneyError(f"get_current_time failed: {result.content}")
        return tools, json.loads(result.content[0].text).get("datetime")


def _selector(deployment: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in deployment["spec"]["selector"]["matchLabels"].items())


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _check_exited(proc: subprocess.Popen):
    if proc.poll() is not None:
        raise JourneyError(f"kubectl port-forward exited: {proc.stderr.read()}")
    return None


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _dead(p: RunningPod):
    if p.proc.poll() is not None:
        raise JourneyError(f"process of pod {p.name} exited {p.proc.returncode}:\n{p.log.read_text()[-2000:]}")
    return False
