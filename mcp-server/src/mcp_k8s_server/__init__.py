"""A Kubernetes MCP server: bounded, redacted, read-only-capable tools over stdio and streamable HTTP."""

__version__ = "0.1.0"
