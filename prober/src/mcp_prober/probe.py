"""One probe: an MCP handshake and a complete tools/list through the official SDK client, and,
when that fails, a plain description of what answered instead.

``probe(url)`` connects with ``mcp.Client`` in ``auto`` mode: ``server/discover`` (2026-07-28)
first, the ``initialize`` handshake (2025-11-25 and earlier) when the server does not speak
discover, exactly as an MCP client would. Then every page of ``tools/list``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from .inventory import Observation

MAX_PAGES = 100  # tools/list pages followed per probe (a cursor loop must end)
MAX_EXCERPT = 120  # characters of a non-MCP body quoted in the readiness message
AUTH_REQUIRED = "MCP endpoint requires authorization"


@dataclass(frozen=True)
class Result:
    ok: bool  # serving MCP (or refusing the prober with MCP's 401 Bearer challenge)
    message: str  # one line, for /readyz and logs
    observation: Observation | None = None  # None when not ok or when authorization is required


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return json.dumps(text[:MAX_EXCERPT] + ("..." if len(text) > MAX_EXCERPT else ""))


def auth_headers(token_file: str | None) -> dict[str, str]:
    """``Authorization: Bearer`` from ``token_file``, read at every probe (the kubelet rotates a
    projected token in place); none without a file. For servers that verify their callers
    (mcp-k8s-server's MCP_AUTH_MODE=kubernetes: a token projected for the server's audience)."""
    if not token_file:
        return {}
    try:
        with open(token_file, encoding="utf-8") as fh:
            token = fh.read().strip()
    except OSError:
        return {}  # not projected yet: the probe fails with the server's 401, which says why
    return {"Authorization": f"Bearer {token}"} if token else {}


async def _session(url: str, timeout: float, headers: dict[str, str] | None = None) -> Observation:
    async with httpx2.AsyncClient(timeout=timeout, headers=headers or {}) as http:
        transport = streamable_http_client(url, http_client=http, terminate_on_close=True)
        async with Client(transport, mode="auto", read_timeout_seconds=timeout, cache=None) as client:
            info = client.server_info
            caps = client.server_capabilities.model_dump(exclude_none=True, by_alias=True)
            tools: list[dict] = []
            cursor = None
            for _ in range(MAX_PAGES):
                page = await client.list_tools(cursor=cursor)
                tools.extend(t.model_dump(mode="json", exclude_none=True, by_alias=True) for t in page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            else:
                raise RuntimeError(f"tools/list did not end after {MAX_PAGES} pages (a cursor loop)")
            return Observation(
                server_name=(info.name if info else "") or "",
                server_version=(info.version if info else "") or "",
                server_title=info.title if info else None,
                protocol_version=client.protocol_version,
                capabilities=tuple(sorted(caps)),
                tools=tuple(tools),
            )


_INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "mcp-prober", "version": "0.1.0"}},
}


async def diagnose(url: str, timeout: float, headers: dict[str, str] | None = None) -> str:
    """What answers a plain ``initialize`` POST at ``url``, in one line. Used only after the SDK
    client failed, to say *why* in terms a user can act on (wrong port, wrong path, not MCP)."""
    where = urlsplit(url)
    port = where.port or (443 if where.scheme == "https" else 80)
    target = f"{where.hostname}:{port}"
    try:  # the TCP connect alone first: "refused" is the most common answer and the clearest
        _, writer = await asyncio.wait_for(asyncio.open_connection(where.hostname, port), timeout)
        writer.close()
    except ConnectionRefusedError:
        return f"connection refused at {target}: nothing listens on the MCP port"
    except (OSError, asyncio.TimeoutError) as exc:
        return f"cannot connect to {target}: {type(exc).__name__}: {exc}"
    try:
        async with httpx2.AsyncClient(timeout=timeout) as http:
            r = await http.post(url, json=_INITIALIZE, headers={
                "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25", **(headers or {})})
            body = (await r.aread()).decode("utf-8", errors="replace")
    except httpx2.ConnectError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else f"cannot connect ({exc})"
        return f"{reason} at {target}: nothing listens on the MCP port"
    except httpx2.TimeoutException:
        return f"no answer from {target} within {timeout:g}s"
    except httpx2.HTTPError as exc:
        return f"HTTP exchange with {target} failed: {type(exc).__name__}: {exc}"
    ctype = r.headers.get("content-type", "no content-type").split(";")[0].strip() or "no content-type"
    head = f"POST {where.path or '/'} answered HTTP {r.status_code} ({ctype})"
    challenge = r.headers.get("www-authenticate", "")
    if r.status_code == 401 and challenge.lower().startswith("bearer"):
        # MCP's authorization spec: a protected server answers 401 with a Bearer challenge
        return f"{AUTH_REQUIRED}: POST {where.path or '/'} answered 401 with WWW-Authenticate: {_excerpt(challenge)}"
    if r.status_code >= 400:
        return f"{head}, not an MCP endpoint: {_excerpt(body)}"
    if ctype == "text/event-stream":
        data = [line[5:].strip() for line in body.splitlines() if line.startswith("data:")]
        body = data[0] if data else body
    elif ctype != "application/json":
        return f"{head}, not an MCP JSON-RPC answer: {_excerpt(body)}"
    try:
        msg = json.loads(body)
    except ValueError:
        return f"{head} with a body that is not JSON: {_excerpt(body)}"
    if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0" or ("result" not in msg and "error" not in msg):
        return f"{head} with JSON that is not a JSON-RPC 2.0 response: {_excerpt(body)}"
    if "error" in msg:
        err = msg["error"] if isinstance(msg["error"], dict) else {}
        return f"initialize answered JSON-RPC error {err.get('code')}: {_excerpt(str(err.get('message')))}"
    return f"{head}: initialize succeeded on a plain POST, yet the MCP client failed"


async def probe(url: str, timeout: float = 5.0, token_file: str | None = None) -> Result:
    """Handshake + tools/list at ``url``; never raises (cancellation aside)."""
    headers = auth_headers(token_file)
    try:
        obs = await _session(url, timeout, headers)
    except Exception as exc:  # any failure is a readiness verdict, described by diagnose()
        detail = await diagnose(url, timeout, headers)
        if detail.startswith(AUTH_REQUIRED):
            # It answers as MCP's authorization spec says: serving, but the prober holds no
            # credentials, so there is no inventory.
            return Result(True, detail + "; tools are not listed")
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
            exc = exc.exceptions[0]  # the SDK's task groups wrap the real error
        sdk = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        return Result(False, f"{detail} (MCP client: {sdk})")
    return Result(True, f"MCP server {obs.server_name or '(unnamed)'} {obs.server_version} speaks "
                        f"{obs.protocol_version}; tools/list: {len(obs.tools)} tools", obs)
