"""The prober's settings, from the environment the operator's hook renders (names here are the
contract with mcp_operator_hook.prober)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

DEFAULT_PORT = 9464


@dataclass(frozen=True)
class Settings:
    url: str  # MCP_PROBE_URL: the server's MCP endpoint, e.g. http://127.0.0.1:3001/mcp
    host: str = "0.0.0.0"  # MCP_PROBER_HOST: where /readyz and /healthz listen
    port: int = DEFAULT_PORT  # MCP_PROBER_PORT
    interval: float = 10.0  # MCP_PROBE_INTERVAL (s) between probes once Ready
    retry: float = 2.0  # MCP_PROBE_RETRY (s) between probes while not Ready
    timeout: float = 5.0  # MCP_PROBE_TIMEOUT (s) per HTTP exchange
    inventory: str | None = None  # MCP_INVENTORY_CONFIGMAP: ConfigMap to write; unset = no reporting
    pod_name: str = ""  # POD_NAME
    namespace: str = ""  # POD_NAMESPACE
    token_file: str | None = None  # MCP_PROBE_TOKEN_FILE: bearer token for servers that verify callers (re-read per probe)


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    raw = env.get(key)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"mcp-prober: {key}={raw!r} is not a number of seconds") from None
    if not 0 < value <= 3600:
        raise SystemExit(f"mcp-prober: {key}={raw!r} must be in (0, 3600] seconds")
    return value


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``env`` (default os.environ); SystemExit with a message on a bad value."""
    env = os.environ if env is None else env
    url = env.get("MCP_PROBE_URL", "")
    if not url.startswith(("http://", "https://")):
        raise SystemExit("mcp-prober: MCP_PROBE_URL must be the server's MCP endpoint, e.g. http://127.0.0.1:3001/mcp")
    port_raw = env.get("MCP_PROBER_PORT", str(DEFAULT_PORT))
    if not port_raw.isdigit() or not 0 < int(port_raw) < 65536:
        raise SystemExit(f"mcp-prober: MCP_PROBER_PORT={port_raw!r} must be a TCP port")
    inventory = env.get("MCP_INVENTORY_CONFIGMAP") or None
    namespace = env.get("POD_NAMESPACE", "")
    if inventory and not namespace:
        raise SystemExit("mcp-prober: MCP_INVENTORY_CONFIGMAP needs POD_NAMESPACE")
    return Settings(
        url=url, host=env.get("MCP_PROBER_HOST", "0.0.0.0"), port=int(port_raw),
        interval=_float(env, "MCP_PROBE_INTERVAL", 10.0), retry=_float(env, "MCP_PROBE_RETRY", 2.0),
        timeout=_float(env, "MCP_PROBE_TIMEOUT", 5.0), inventory=inventory,
        pod_name=env.get("POD_NAME", ""), namespace=namespace,
        token_file=env.get("MCP_PROBE_TOKEN_FILE") or None,
    )
