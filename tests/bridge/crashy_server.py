"""A tiny stdio MCP server for fault injection: ``crash`` ends the process (exit 3), ``pid`` names
it, ``remember``/``recall`` keep a value in the process. Our test fixture, not a product."""

import os

from mcp.server.mcpserver import MCPServer

mcp = MCPServer("crashy")
_memory: dict[str, str] = {}


@mcp.tool()
def pid() -> str:
    return str(os.getpid())


@mcp.tool()
def crash() -> str:
    os._exit(3)


@mcp.tool()
def remember(value: str) -> str:
    _memory["v"] = value
    return "ok"


@mcp.tool()
def recall() -> str:
    return _memory.get("v", "")


if __name__ == "__main__":
    mcp.run("stdio")
