"""The MCP tools, one module per concern; each validates its input, calls ``kube``, then ``shape``s.

Every tool carries annotations (read-only / destructive / idempotent) and declares
``Annotated[CallToolResult, Model]``: clients get the model's outputSchema and structuredContent
next to a compact text block. Write tools are not registered at all in read-only mode. Errors
reach the model as tool errors (isError) with a message it can act on.

- ``models``: the output models; ``common``: annotations, argument types, ``result``;
- ``paging``: the one cursor/budget loop; ``pods``, ``events``, ``cluster`` (any resource kind): the tools.
"""

from mcp.server.mcpserver import MCPServer

from ..deps import Deps
from . import access, cluster, events, pods
from .pods import container_name, pod_manifest

WRITE_TOOLS = ("create-pod", "delete-pod")
READ_TOOLS = ("list-pods", "describe-pod", "list-events", "get-pod-logs", "api-resources", "namespaces-list", "resources-list", "resources-get", "can-i")


def register(mcp: MCPServer, deps: Deps) -> None:
    """Register every tool on ``mcp`` (write tools only when the server is not read-only)."""
    pods.register(mcp, deps)
    events.register(mcp, deps)
    cluster.register(mcp, deps)
    access.register(mcp, deps)  # can-i


__all__ = ["READ_TOOLS", "WRITE_TOOLS", "container_name", "pod_manifest", "register"]
