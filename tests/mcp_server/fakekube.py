"""An in-memory stand-in for mcp_k8s_server.kube.Kube, for fast tests of the MCP surface.

It honours limit/continue (continue = index of the next item), label selectors of the form
k=v[,k=v], and raises the same KubeError types as the real facade. The cluster tests exercise
the real API server; these exercise our shaping and protocol handling without one.
"""

from __future__ import annotations

import copy
import uuid

from mcp_k8s_server.kube import KubeForbidden, KubeInvalid, KubeNotFound, KubeUnavailable


def make_pod(name, namespace="default", labels=None, env=None, phase="Running", containers=1):
    return {
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()), "labels": labels or {},
                     "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{"manager": "x"}]},
        "spec": {"nodeName": "kwok-node-0", "containers": [
            {"name": f"c{i}" if containers > 1 else "main", "image": "registry.example/app:1", "env": env or []}
            for i in range(containers)]},
        "status": {"phase": phase, "containerStatuses": [{"name": "main", "ready": True, "restartCount": 0, "state": {"running": {}}}]},
    }


class FakeKube:
    def __init__(self):
        self.pods: dict[tuple[str, str], dict] = {}
        self.events: list[dict] = []
        self.logs: dict[tuple[str, str], str] = {}
        self.namespaces = {"default", "team-a"}
        self.down = False
        self.forbidden: set[str] = set()  # verbs refused, e.g. {"create"}
        self.calls: list[tuple] = []

    def _check(self, verb, resource, namespace=None):
        if self.down:
            raise KubeUnavailable("Cannot reach the Kubernetes API server (connection failed); retry shortly.")
        if verb in self.forbidden:
            scope = f" in namespace {namespace!r}" if namespace else ""
            raise KubeForbidden(f"Forbidden: this server's Kubernetes identity may not {verb} {resource}{scope}.")
        if namespace and namespace not in self.namespaces:
            raise KubeNotFound(f"Not found: namespace {namespace!r} does not exist.")

    def add(self, pod):
        self.pods[(pod["metadata"]["namespace"], pod["metadata"]["name"])] = pod
        self.namespaces.add(pod["metadata"]["namespace"])

    def list_nodes(self, limit=None):
        self._check("list", "nodes")
        return {"items": [{"metadata": {"name": "kwok-node-0"}, "status": {
            "conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "fake"},
            "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}}}], "metadata": {}}

    def list_namespaces(self, limit=500):
        self._check("list", "namespaces")
        return {"items": [{"metadata": {"name": n}} for n in sorted(self.namespaces)]}

    def list_pods(self, namespace, *, label_selector=None, field_selector=None, limit=None, continue_token=None):
        self.calls.append(("list_pods", namespace, label_selector, limit, continue_token))
        self._check("list", "pods", namespace)
        items = sorted((p for (ns, _), p in self.pods.items() if ns == namespace), key=lambda p: p["metadata"]["name"])
        if label_selector:
            want = dict(kv.split("=", 1) for kv in label_selector.split(","))
            items = [p for p in items if all(p["metadata"]["labels"].get(k) == v for k, v in want.items())]
        start = int(continue_token or 0)
        end = start + limit if limit else len(items)
        meta = {}
        if end < len(items):
            meta = {"continue": str(end), "remainingItemCount": len(items) - end}
        return {"items": copy.deepcopy(items[start:end]), "metadata": meta}

    def read_pod(self, namespace, name):
        self._check("get", "pods", namespace)
        if (namespace, name) not in self.pods:
            raise KubeNotFound(f"Not found: pod {name!r} in namespace {namespace!r} does not exist.")
        return copy.deepcopy(self.pods[(namespace, name)])

    def list_events(self, namespace, *, field_selector=None, limit=None, continue_token=None):
        self._check("list", "events", namespace)
        return {"items": [e for e in self.events if e["metadata"]["namespace"] == namespace], "metadata": {}}

    def read_pod_log(self, namespace, name, *, container=None, tail_lines=None, limit_bytes=None, previous=False):
        self.read_pod(namespace, name)
        lines = self.logs.get((namespace, name), "").splitlines(keepends=True)
        text = "".join(lines[-tail_lines:] if tail_lines else lines)
        return text.encode()[:limit_bytes].decode("utf-8", "replace") if limit_bytes else text

    def create_pod(self, namespace, manifest):
        self._check("create", "pods", namespace)
        name = manifest["metadata"]["name"]
        if (namespace, name) in self.pods:
            raise KubeInvalid(f"Conflict: pod {name!r} in namespace {namespace!r} already exists.")
        pod = copy.deepcopy(manifest)
        pod["metadata"].update(namespace=namespace, uid=str(uuid.uuid4()))
        pod["status"] = {"phase": "Pending"}
        self.pods[(namespace, name)] = pod
        return copy.deepcopy(pod)

    def delete_pod(self, namespace, name, grace_period_seconds=None):
        self._check("delete", "pods", namespace)
        pod = self.read_pod(namespace, name)
        del self.pods[(namespace, name)]
        return pod

    def probe(self, timeout=2.0):
        self._check("get", "version")
