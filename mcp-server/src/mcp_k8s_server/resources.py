"""MCP resources (seed names): cluster nodes, pods of a namespace (template + the default namespace)."""


import json

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import Completion, ResourceTemplateReference

from . import shape
from .deps import Deps
from .kube import KubeError, KubeNotFound


def register(mcp: MCPServer, deps: Deps) -> None:
    s = deps.settings
    kube = deps.kube

    def budgeted(payload: dict, key: str, hint: str) -> str:
        items = payload[key]
        n = shape.fit_items(items, s.max_output_bytes)
        if n < len(items):
            payload[key] = items[:n]
            payload["count"] = n
            payload["truncated"] = True
            payload["notice"] = f"Only {n} of {len(items)} {key} fit the {s.max_output_bytes}-byte budget. {hint}"
        return json.dumps(payload, indent=1)

    @mcp.resource(
        "k8s://cluster/nodes",
        name="Kubernetes Cluster Nodes",
        description="All nodes: name, Ready status, kubelet version, cpu/memory/pods capacity, and the count.",
        mime_type="application/json",
    )
    async def cluster_nodes() -> str:
        try:
            data = await kube.list_nodes(limit=1000)
        except KubeError as exc:
            raise ResourceError(str(exc)) from None
        nodes = [shape.node_summary(n) for n in data.get("items") or []]
        payload = {"nodes": nodes, "count": len(nodes)}
        if (data.get("metadata") or {}).get("continue"):
            payload["notice"] = "More than 1000 nodes; only the first 1000 are listed."
        return budgeted(payload, "nodes", "Use kubectl for the full list.")

    async def namespace_pods(namespace: str) -> str:
        problem = shape.check_dns1123_label(namespace, "namespace")
        if problem:
            raise ResourceNotFoundError(problem)
        if not s.namespace_allowed(namespace):
            raise ResourceNotFoundError(
                f"namespace {namespace!r} is outside this server's allowlist; allowed: {', '.join(s.namespaces)}."
            )
        try:
            data = await kube.list_pods(namespace, limit=s.max_page_size, table=True)
        except KubeNotFound as exc:
            raise ResourceNotFoundError(str(exc)) from None
        except KubeError as exc:
            raise ResourceError(str(exc)) from None
        pods = [shape.pod_row(row, namespace) for row in shape.table_rows(data)]
        payload = {"namespace": namespace, "pods": pods, "count": len(pods)}
        meta = data.get("metadata") or {}
        if meta.get("continue"):
            more = meta.get("remainingItemCount")
            payload["truncated"] = True
            payload["notice"] = (
                f"First {len(pods)} pods shown{f'; {more} more' if more else ''}. "
                "Use the list-pods tool with its cursor for the rest."
            )
        return budgeted(payload, "pods", "Use the list-pods tool, which pages with a cursor.")

    default_ns = s.default_namespace

    @mcp.resource(
        f"k8s://namespace/{default_ns}/pods",
        name=f"{default_ns.capitalize()} Namespace Pods",
        description=f"Pods in the {default_ns!r} namespace as kubectl get pods shows them: status, ready, restarts, age.",
        mime_type="application/json",
    )
    async def default_namespace_pods() -> str:
        return await namespace_pods(default_ns)

    @mcp.resource(
        "k8s://namespace/{namespace}/pods",
        name="Namespace Pods",
        description="Pods in a namespace as kubectl get pods shows them: status, ready, restarts, age (bounded; list-pods pages further).",
        mime_type="application/json",
    )
    async def pods_in_namespace(namespace: str) -> str:
        return await namespace_pods(namespace)

    @mcp.completion()
    async def complete(ref, argument, context):  # noqa: ANN001 - SDK signature
        if argument.name != "namespace":
            return None
        is_template = isinstance(ref, ResourceTemplateReference) and ref.uri == "k8s://namespace/{namespace}/pods"
        is_prompt = getattr(ref, "type", None) == "ref/prompt"
        if not (is_template or is_prompt):
            return None
        names = [n for n in await deps.namespaces() if n.startswith(argument.value or "")]
        return Completion(values=names[:100], total=len(names), has_more=len(names) > 100)
