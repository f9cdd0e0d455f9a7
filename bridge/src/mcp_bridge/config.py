"""Command line and environment of the bridge (the contract the hook renders into the container).

``mcp-bridge [--port 8080] [--path /mcp] [--max-sessions 20] [--session-idle-timeout 1800]
[--host 0.0.0.0] [--allowed-host H ...] -- <stdio command> [args...]``

Environment:
- ``POD_IP``: the pod's IP (downward API); with ``--port`` it names this bridge in session ids.
  ``MCP_BRIDGE_ADVERTISE_ADDRESS`` (``<ip>:<port>``) overrides both (the local pod runner uses it).
- ``MCP_BRIDGE_SESSION_KEY``: HMAC key shared by the replicas (from a Secret). Never logged and
  never passed to the stdio server. Unset: a random per-process key; sessions then work on one
  replica only (another replica answers 404 instead of forwarding).
- Everything else is passed to the stdio server unchanged (proxies, CA bundles, API keys).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
from dataclasses import dataclass, field

from .session_id import parse_owner

SESSION_KEY_ENV = "MCP_BRIDGE_SESSION_KEY"
# Never handed to the stdio server: the bridge's own secret and settings.
PRIVATE_ENV = (SESSION_KEY_ENV,)


@dataclass(frozen=True)
class Settings:
    command: list[str]
    port: int = 8080
    host: str = "0.0.0.0"
    path: str = "/mcp"
    max_sessions: int = 20
    spare_processes: int = 1
    session_idle_timeout: float = 1800.0
    advertise: str = "127.0.0.1:8080"  # <ip>:<port> other replicas reach this bridge at
    session_key: bytes = field(default=b"", repr=False)
    key_is_shared: bool = False
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    max_request_body_bytes: int = 4 * 1024 * 1024
    startup_timeout: float = 120.0  # spawn + initialize + tools/list of the readiness process (npx/uvx download on first start)
    log_level: str = "info"

    def child_env(self) -> dict[str, str]:
        """The stdio server's environment: the pod's, minus the bridge's private settings. The
        SDK's stdio_client starts children with a minimal environment by default, which drops
        proxies and CA bundles (then npx/uvx fail with certificate errors)."""
        return {k: v for k, v in os.environ.items() if k not in PRIVATE_ENV}


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mcp-bridge",
        description="Serve a stdio MCP server over streamable HTTP, one process per MCP session.",
        epilog="Example: mcp-bridge --port 8080 -- npx -y @modelcontextprotocol/server-everything@2026.8.31 stdio",
    )
    p.add_argument("--port", type=_positive_int, default=8080, help="TCP port (default 8080)")
    p.add_argument("--host", default="0.0.0.0", help="listen address (default 0.0.0.0: a pod's own network namespace)")
    p.add_argument("--path", default="/mcp", help="the MCP endpoint path (default /mcp)")
    p.add_argument("--max-sessions", type=_positive_int, default=20, help="concurrent MCP sessions (stdio processes) per pod; past it new sessions get HTTP 503 (default 20)")
    p.add_argument("--spare-processes", type=int, default=1, help="stdio processes kept spawned ahead of new sessions, so a session start skips the process start (default 1; 0: spawn on demand)")
    p.add_argument("--session-idle-timeout", type=_positive_float, default=1800.0, help="seconds a session may go without a request before its process is stopped (default 1800)")
    p.add_argument("--allowed-host", action="append", default=[], help="Host header values to accept on the MCP path (DNS-rebinding protection; repeatable; default: any)")
    p.add_argument("--allowed-origin", action="append", default=[], help="browser Origin values to accept besides loopback ones (repeatable); a request with any other Origin gets 403, one without Origin (agents, SDK clients) passes")
    p.add_argument("--startup-timeout", type=_positive_float, default=120.0, help="seconds to wait for the stdio server to answer initialize and tools/list (default 120)")
    p.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "info").lower(), choices=["debug", "info", "warning", "error"])
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- then the stdio MCP server command and its arguments")
    return p


def parse(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Settings from argv and the environment; SystemExit(2) with a message on bad input."""
    env = os.environ if environ is None else environ
    p = parser()
    args = p.parse_args(argv)
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        p.error("no stdio server command: give it after --, e.g. -- uvx mcp-server-time==2026.10.19")
    if args.spare_processes < 0:
        p.error("--spare-processes must be 0 or more")
    if not args.path.startswith("/"):
        p.error(f"--path must start with /, got {args.path!r}")
    advertise = env.get("MCP_BRIDGE_ADVERTISE_ADDRESS")
    if not advertise:
        pod_ip = env.get("POD_IP") or "127.0.0.1"
        try:
            ip = ipaddress.ip_address(pod_ip)
        except ValueError:
            p.error(f"POD_IP must be an IP address, got {pod_ip!r}")
        advertise = f"[{ip}]:{args.port}" if ip.version == 6 else f"{ip}:{args.port}"
    try:
        parse_owner(advertise)
    except ValueError as exc:
        p.error(f"MCP_BRIDGE_ADVERTISE_ADDRESS: {exc}")
    key = env.get(SESSION_KEY_ENV, "")
    if key and len(key) < 16:
        p.error(f"{SESSION_KEY_ENV} must be at least 16 characters (it signs session ids)")
    return Settings(
        command=command,
        port=args.port,
        host=args.host,
        path=args.path.rstrip("/") or "/",
        max_sessions=args.max_sessions,
        spare_processes=args.spare_processes,
        session_idle_timeout=args.session_idle_timeout,
        advertise=advertise,
        session_key=key.encode() if key else secrets.token_bytes(32),
        key_is_shared=bool(key),
        allowed_hosts=tuple(args.allowed_host),
        allowed_origins=tuple(args.allowed_origin),
        startup_timeout=args.startup_timeout,
        log_level=args.log_level,
    )
