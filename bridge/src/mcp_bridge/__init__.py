"""mcp-bridge: a stdio MCP server served over streamable HTTP, one process per MCP session.

Library choice (issue 9): built on the official ``mcp`` SDK (v2.3.0, already this project's MCP
library), using its transports at both ends and relaying JSON-RPC messages between them:
``mcp.client.stdio.stdio_client`` for the process, ``StreamableHTTPServerTransport`` for the
client, ``mcp.shared.inbound`` for validating per-request (2026-07-28) envelopes. PyPI
``mcp-proxy`` 0.13.0 was evaluated and not used: it requires ``mcp<2`` (it cannot be installed
beside the SDK everything else here uses), it shares one stdio process among all clients (sessions
would share state), and it re-implements each MCP method as a proxy handler, so whatever it does
not map (server-to-client requests, new methods) is lost; a message relay forwards everything.
See ``bridge/README.md`` for the session design.
"""

__version__ = "0.1.0"
