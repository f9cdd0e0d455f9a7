"""A real Kubernetes control plane on 127.0.0.1, built from Go modules (scripts/build-tools.sh).

etcd + kube-apiserver (RBAC, admission, CEL) + kube-controller-manager + kube-scheduler + kwok
(fake nodes whose pods become Running and Ready, and a kubelet-like server that answers the API
server's logs and port-forward requests). Used by the pytest fixtures, the demo and benchmarks.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .pki import PKI

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
KWOK_DIR = HERE / "kwok"
NODE_ANNOTATION = "kwok.x-k8s.io/node"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"

CONTROLLERS = ",".join(
    [
        "deployment-controller",
        "replicaset-controller",
        "garbage-collector-controller",
        "namespace-controller",
        "serviceaccount-controller",
        "serviceaccount-token-controller",
        "root-ca-certificate-publisher-controller",
        "endpoints-controller",
        "endpointslice-controller",
        "disruption-controller",
        "node-lifecycle-controller",  # lifts the not-ready taint admission puts on new nodes
        "clusterrole-aggregation-controller",  # admin/edit/view pick up aggregated rules
        "job-controller",  # `helm test` hooks are Jobs
    ]
)


def tools_dir() -> Path:
    return Path(os.environ.get("MCP_TOOLS_DIR", Path.home() / ".cache/mcp-operator/tools"))


def bin_dir() -> Path:
    return tools_dir() / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ControlPlaneError(RuntimeError):
    pass


@dataclass
class ControlPlane:
    """One local cluster. ``start()`` is idempotent for a state dir whose cluster still answers."""

    state_dir: Path
    node_count: int = 3
    bins: Path = field(default_factory=bin_dir)
    procs: dict[str, subprocess.Popen] = field(default_factory=dict, repr=False)

    # --- paths -----------------------------------------------------------------------------
    @property
    def kubeconfig(self) -> str:
        return str(self.state_dir / "admin.kubeconfig")

    @property
    def info_file(self) -> Path:
        return self.state_dir / "cluster.json"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def bin_dir(self) -> Path:
        return self.bins

    @property
    def nodes(self) -> list[str]:
        return [f"kwok-node-{i}" for i in range(self.node_count)]

    @property
    def server(self) -> str:
        return json.loads(self.info_file.read_text())["server"]

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 120) -> "ControlPlane":
        self._check_binaries()
        if self.healthy():
            return self  # reuse a cluster left running in this state dir
        self.stop()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(exist_ok=True)
        pki = PKI(self.state_dir / "pki").ensure()
        ports = {k: free_port() for k in ("etcd", "etcd_peer", "apiserver", "kcm", "sched", "kwok")}
        server = f"https://127.0.0.1:{ports['apiserver']}"
        self.info_file.write_text(json.dumps({"server": server, "ports": ports, "pids": {}}))
        self._write_kubeconfig(pki, server)
        deadline = time.monotonic() + timeout
        try:
            self._spawn("etcd", self._etcd_args(ports))
            self._wait_http(f"http://127.0.0.1:{ports['etcd']}/health", deadline, "etcd")
            self._spawn("kube-apiserver", self._apiserver_args(pki, ports))
            self._wait_http(f"{server}/readyz", deadline, "kube-apiserver", pki)
            self._spawn("kube-controller-manager", self._kcm_args(pki, ports))
            self._spawn("kube-scheduler", self._scheduler_args(ports))
            self.kubectl("apply", "--server-side", "-f", str(KWOK_DIR / "crds"))
            self._write_kwok_config()
            self._spawn("kwok", self._kwok_args(pki, ports))
            self._create_nodes()
            self._wait_nodes_ready(deadline)
            self._wait_default_serviceaccount(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stops every process this state dir started (also ones a previous run left behind)."""
        pids = {name: p.pid for name, p in self.procs.items()}
        if self.info_file.exists():
            try:
                pids.update(json.loads(self.info_file.read_text()).get("pids", {}))
            except (ValueError, OSError):
                pass
        for name in ("kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
            pid = pids.get(name)
            if pid:
                _terminate(pid)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs.clear()
        if self.info_file.exists():
            self.info_file.unlink()

    def healthy(self) -> bool:
        if not self.info_file.exists() or not Path(self.kubeconfig).exists():
            return False
        try:
            pki = PKI(self.state_dir / "pki")
            ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
            ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
            with urllib.request.urlopen(f"{self.server}/readyz", context=ctx, timeout=3) as r:
                return r.status == 200
        except (OSError, ValueError, KeyError):
            return False

    # --- helpers for callers -----------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kubeconfig
        env["PATH"] = f"{self.bins}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra)
        return env

    def kubectl(self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60):
        result = subprocess.run(
            [str(self.bins / "kubectl"), "--kubeconfig", self.kubeconfig, *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise ControlPlaneError(
                f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    def api_client(self):
        from kubernetes import config

        return config.new_client_from_config(config_file=self.kubeconfig)

    # --- process plumbing --------------------------------------------------------------------
    def _check_binaries(self) -> None:
        missing = [
            b
            for b in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok", "kubectl")
            if not (self.bins / b).exists()
        ]
        if missing:
            raise ControlPlaneError(
                f"missing {', '.join(missing)} in {self.bins}: run `make tools` (scripts/build-tools.sh)"
            )

    def _spawn(self, name: str, args: list[str]) -> None:
        log = open(self.logs_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [str(self.bins / name), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in a terminal reaches us, and we stop them in order
        )
        self.procs[name] = proc
        info = json.loads(self.info_file.read_text())
        info["pids"][name] = proc.pid
        self.info_file.write_text(json.dumps(info))

    def _wait_http(self, url: str, deadline: float, name: str, pki: PKI | None = None) -> None:
        ctx = None
        if pki:
            ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
            ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        while time.monotonic() < deadline:
            self._check_alive(name)
            try:
                with urllib.request.urlopen(url, context=ctx, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.25)
        raise ControlPlaneError(f"{name} not healthy at {url}; see {self.logs_dir / name}.log")

    def _check_alive(self, name: str) -> None:
        proc = self.procs.get(name)
        if proc is not None and proc.poll() is not None:
            tail = (self.logs_dir / f"{name}.log").read_text(errors="replace")[-3000:]
            raise ControlPlaneError(f"{name} exited with {proc.returncode}:\n{tail}")

    def _write_kubeconfig(self, pki: PKI, server: str) -> None:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": "local", "cluster": {"server": server, "certificate-authority": str(pki.ca_cert)}}
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate": str(pki.admin_cert),
                        "client-key": str(pki.admin_key),
                    },
                }
            ],
            "contexts": [
                {"name": "local", "context": {"cluster": "local", "user": "admin", "namespace": "default"}}
            ],
            "current-context": "local",
        }
        Path(self.kubeconfig).write_text(yaml.safe_dump(cfg))

    def _etcd_args(self, p: dict) -> list[str]:
        peer = f"http://127.0.0.1:{p['etcd_peer']}"
        return [
            "--name=local",
            f"--data-dir={self.state_dir / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{p['etcd']}",
            f"--advertise-client-urls=http://127.0.0.1:{p['etcd']}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=local={peer}",
            "--unsafe-no-fsync",  # throwaway data: trade durability for speed
            "--log-level=warn",
        ]

    def _apiserver_args(self, pki: PKI, p: dict) -> list[str]:
        return [
            f"--etcd-servers=http://127.0.0.1:{p['etcd']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            # The `kubernetes` Service may not point at loopback; nothing in-cluster dials it here.
            "--endpoint-reconciler-type=none",
            f"--secure-port={p['apiserver']}",
            f"--tls-cert-file={pki.apiserver_cert}",
            f"--tls-private-key-file={pki.apiserver_key}",
            f"--client-ca-file={pki.ca_cert}",
            "--authorization-mode=Node,RBAC",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--kubelet-client-certificate={pki.admin_cert}",
            f"--kubelet-client-key={pki.admin_key}",
            f"--kubelet-certificate-authority={pki.ca_cert}",
            "--kubelet-preferred-address-types=InternalIP",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ]

    def _kcm_args(self, pki: PKI, p: dict) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig}",
            f"--controllers={CONTROLLERS}",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--root-ca-file={pki.ca_cert}",
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={p['kcm']}",
            "--kube-api-qps=200",
            "--kube-api-burst=400",
            "--concurrent-deployment-syncs=10",
            "--concurrent-replicaset-syncs=10",
            "--v=1",
        ]

    def _scheduler_args(self, p: dict) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={p['sched']}",
            "--kube-api-qps=200",
            "--kube-api-burst=400",
            "--v=1",
        ]

    def _write_kwok_config(self) -> None:
        docs = [
            {
                "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
                "kind": "KwokConfiguration",
                "options": {
                    "cidr": POD_CIDR,
                    "nodeIP": "127.0.0.1",
                    "manageAllNodes": False,
                    "manageNodesWithAnnotationSelector": f"{NODE_ANNOTATION}=fake",
                    "nodeLeaseDurationSeconds": 40,
                    # A config file replaces kwok's defaults wholesale: restate the ones it needs.
                    "nodeLeaseParallelism": 4,
                    "podPlayStageParallelism": 8,
                    "nodePlayStageParallelism": 4,
                    "enablePodsOnNodeSyncStreamWatch": True,
                    "enableDebuggingHandlers": True,  # serves logs and port-forward
                    # Logs and port-forward rules come from the API, so tests can add them per pod.
                    "enableCRDs": ["Logs", "ClusterLogs", "PortForward", "ClusterPortForward"],
                },
            }
        ]
        text = "\n---\n".join(yaml.safe_dump(d) for d in docs)
        for stage in sorted(KWOK_DIR.glob("*.yaml")):
            text += "\n---\n" + stage.read_text()
        (self.state_dir / "kwok.yaml").write_text(text)

    def _kwok_args(self, pki: PKI, p: dict) -> list[str]:
        return [
            f"--kubeconfig={self.kubeconfig}",
            f"--config={self.state_dir / 'kwok.yaml'}",
            "--node-ip=127.0.0.1",
            f"--node-port={p['kwok']}",
            f"--server-address=127.0.0.1:{p['kwok']}",
            f"--tls-cert-file={pki.kwok_cert}",
            f"--tls-private-key-file={pki.kwok_key}",
        ]

    def _create_nodes(self) -> None:
        version = subprocess.run(
            [str(self.bins / "kube-apiserver"), "--version"], capture_output=True, text=True
        ).stdout.split()[-1]
        for name in self.nodes:
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "annotations": {NODE_ANNOTATION: "fake"},
                    "labels": {
                        "type": "kwok",
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                    },
                },
                "status": {
                    "capacity": {"cpu": "16", "memory": "64Gi", "pods": "1000"},
                    "allocatable": {"cpu": "16", "memory": "64Gi", "pods": "1000"},
                    "nodeInfo": {"kubeletVersion": version, "architecture": "amd64", "operatingSystem": "linux"},
                },
            }
            self.kubectl("apply", "-f", "-", input=json.dumps(node))

    def _wait_nodes_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive("kwok")
            out = self.kubectl("get", "nodes", "-o", "json").stdout
            ready = [
                n["metadata"]["name"]
                for n in json.loads(out)["items"]
                if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
            ]
            if set(self.nodes) <= set(ready):
                return
            time.sleep(0.5)
        raise ControlPlaneError(f"kwok nodes not Ready; see {self.logs_dir / 'kwok.log'}")

    def _wait_default_serviceaccount(self, deadline: float) -> None:
        """Pods are refused until the ServiceAccount admission finds `default`: wait for the controller."""
        while time.monotonic() < deadline:
            self._check_alive("kube-controller-manager")
            if self.kubectl("get", "serviceaccount", "default", "-n", "default", check=False).returncode == 0:
                return
            time.sleep(0.5)
        raise ControlPlaneError("default ServiceAccount never appeared; see kube-controller-manager.log")


def _terminate(pid: int, grace: float = 10) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + grace
    while time.monotonic() < end:
        try:
            os.kill(pid, 0)
            # reap if it is our child; ignore if not
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    return
            except ChildProcessError:
                pass
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def remove_state(state_dir: Path) -> None:
    shutil.rmtree(state_dir, ignore_errors=True)


@contextmanager
def temp_namespace(cp: ControlPlane):
    """A fresh namespace ``t-<8 hex>`` for the block, deleted afterwards without waiting."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    cp.kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        cp.kubectl("delete", "namespace", name, "--wait=false", check=False)
