"""mcp-prober: the sidecar that tells whether an MCPServer's pod really speaks MCP.

Modules: ``inventory`` (pure: what a probe found, its hash, how it changed), ``probe`` (the MCP
handshake + tools/list through the official SDK client, and a diagnosis of what answered
instead), ``kube`` (writes the inventory ConfigMap and the ToolsChanged Event), ``app`` (the
/readyz + /healthz server and the probe loop), ``config`` (environment).
"""

__version__ = "0.1.0"
