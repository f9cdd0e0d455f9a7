"""MCP prompts (seed names) that walk a model through our own tools."""


from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from .deps import Deps


def register(mcp: MCPServer, deps: Deps) -> None:
    default_ns = deps.settings.default_namespace
    writes = not deps.settings.read_only

    @mcp.prompt(name="troubleshoot-pod", description="A systematic workflow to find out why a pod is unhealthy.")
    def troubleshoot_pod(
        podName: Annotated[str, Field(description="Name of the pod to troubleshoot")],
        namespace: Annotated[str, Field(description="Namespace of the pod")] = default_ns,
    ) -> str:
        restart = (
            "\n7. Only if a restart is the fix and the pod is managed by a controller (ownerReferences), "
            "offer to call `delete-pod` so it is recreated; ask before doing it."
            if writes
            else ""
        )
        return (
            f'Diagnose the Kubernetes pod "{podName}" in namespace "{namespace}". Use the tools, in this order, '
            "and base every conclusion on what they return:\n"
            f'1. `describe-pod` (name="{podName}", namespace="{namespace}"): note the phase, the conditions that '
            "are False, and for each container its state, last state (exit code, reason such as OOMKilled or "
            "Error), restart count, requests and limits.\n"
            "2. Read the recent events in that answer; if they are cut short, call `list-events` with "
            f'objectName="{podName}" (and type="Warning" to focus on problems).\n'
            "3. If a container has restarted or is crashing, call `get-pod-logs`, first with previous=true "
            "(the crashed instance), then without; keep tailLines small (50-200) and widen only if needed.\n"
            "4. Check scheduling: a Pending pod with no node usually means insufficient resources, taints, "
            "or an unbound volume; the events say which.\n"
            "5. Check image problems (ImagePullBackOff / ErrImagePull: name, tag, registry credentials) and "
            "configuration problems (CreateContainerConfigError: a missing ConfigMap or Secret key).\n"
            "6. If it looks like a wider problem, `list-pods` in the namespace with a label selector taken "
            "from the pod's labels to see whether its siblings fail the same way."
            f"{restart}\n\n"
            "Answer with: the root cause (or the most likely causes, ranked, with the evidence for each), "
            "the exact fix, and how to verify it. Never ask for or reveal Secret values."
        )

    @mcp.prompt(name="optimize-resources", description="Review CPU/memory requests and limits of a namespace's pods.")
    def optimize_resources(
        namespace: Annotated[str, Field(description="Namespace to analyze")] = default_ns,
    ) -> str:
        return (
            f'Review resource settings of the workloads in Kubernetes namespace "{namespace}" and recommend '
            "changes. Work from data returned by the tools:\n"
            f'1. `list-pods` (namespace="{namespace}"), following nextCursor until it is absent, to see every '
            "pod's status (as kubectl shows it), readiness and restarts.\n"
            "2. `describe-pod` for a representative pod of each workload (group pods by their owner / labels): "
            "record each container's requests and limits and its QoS class.\n"
            "3. Flag containers with no requests (BestEffort: first to be evicted), no memory limit, limits far "
            "above requests (overcommit risk), and restarts whose last state is OOMKilled (memory too low).\n"
            f'4. `list-events` (namespace="{namespace}", type="Warning") for evictions, FailedScheduling '
            "(requests too high for the nodes) and OOM kills.\n"
            "5. Read the resource `k8s://cluster/nodes` to compare requests with node capacity.\n\n"
            "Note that these tools do not report live usage (no metrics API): say so, and suggest what to measure. "
            "Recommend concrete requests/limits per container, show the YAML snippet for each change, and "
            "suggest a HorizontalPodAutoscaler or a ResourceQuota/LimitRange where it fits."
        )
