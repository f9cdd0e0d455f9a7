"""Pinned MCP servers nobody on this project wrote, as the registries publish them (one place for
their versions; the bridge tests, the end-to-end proof, the demo and bench/bridge use these).

Commands run on this host exactly as they run in the bridge image: ``npx`` from Node, ``uvx`` from
the ``uv`` pinned in requirements.lock (installed into the venv).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

EVERYTHING_NPM = "@modelcontextprotocol/server-everything@2026.8.31"
TIME_PYPI = "mcp-server-time==2026.10.19"

# stdio commands
EVERYTHING_STDIO = ["npx", "-y", EVERYTHING_NPM, "stdio"]
TIME_STDIO = ["uvx", TIME_PYPI]
# server-everything's own streamable-HTTP mode (listens on $PORT at /mcp; 404 on /health)
EVERYTHING_HTTP = ["npx", "-y", EVERYTHING_NPM, "streamableHttp"]

VENV_BIN = Path(sys.executable).parent


def host_path() -> str:
    """PATH with this venv's bin first (``uvx``, ``mcp-bridge``, ``mcp-k8s-server``)."""
    return f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def missing_tools(command: list[str]) -> list[str]:
    """The launchers of ``command`` not found on this host (npx needs Node; uvx comes with the venv)."""
    return [c for c in command[:1] if shutil.which(c, path=host_path()) is None]
