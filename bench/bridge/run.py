#!/usr/bin/env python3
"""mcp-bridge against the same stdio server driven directly by the SDK's stdio client, in one run.

    .venv/bin/python bench/bridge/run.py                    # defaults: ~2-3 minutes
    .venv/bin/python bench/bridge/run.py --calls 300 --sessions 10 --json out.json

Server: @modelcontextprotocol/server-everything (npm, pinned in tests/kube/mcp_servers.py), tool
``echo``. Clients are the official SDK's (``mcp.Client``), sending what real clients send.
- one tools/call: calls/s and p50/p99, sequential, one session; direct (stdio_client) vs bridge
  (streamable HTTP, session mode); ratio bridge/direct (target >= 0.8);
- session start (spawn + initialize): p50/p99 through the bridge vs a direct stdio spawn;
- RSS per idle session: the bridge's process tree before and after opening N idle sessions;
- replicas: concurrent sessions through a kube-proxy-like balancer (tests/kube/balancer.py) over
  3 bridges vs over 1, same load: throughput ratio.
Figures are printed, never asserted. Loopback only; everything started here is stopped here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import anyio  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

from tests.bridge.helpers import bridge, children  # noqa: E402
from tests.kube.balancer import Balancer  # noqa: E402
from tests.kube.mcp_servers import EVERYTHING_STDIO, host_path, missing_tools  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def stdio_params() -> StdioServerParameters:
    return StdioServerParameters(command=EVERYTHING_STDIO[0], args=EVERYTHING_STDIO[1:], env={**os.environ, "PATH": host_path()})


async def timed_calls(client: Client, n: int) -> tuple[float, list[float]]:
    await client.call_tool("echo", {"message": "warm"})
    lat = []
    began = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        await client.call_tool("echo", {"message": f"m{i}"})
        lat.append(time.perf_counter() - t)
    return n / (time.perf_counter() - began), lat


async def direct_calls(n: int):
    async with Client(stdio_params(), mode="legacy") as c:
        return await timed_calls(c, n)


async def bridge_calls(url: str, n: int):
    async with Client(url, mode="legacy") as c:
        return await timed_calls(c, n)


def raw_http_calls(url: str, n: int) -> tuple[float, list[float]]:
    """The same session and tools/call as plain JSON-RPC POSTs (one keep-alive connection), without
    the SDK client: separates the bridge's share of the cost from the Python client's."""
    import httpx2

    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
    with httpx2.Client(timeout=30) as c:
        sid = c.post(url, headers=headers, json=init).headers["mcp-session-id"]
        headers = {**headers, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"}
        c.post(url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        lat = []
        began = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            c.post(url, headers=headers, json={"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                                               "params": {"name": "echo", "arguments": {"message": f"m{i}"}}}).raise_for_status()
            lat.append(time.perf_counter() - t)
        rate = n / (time.perf_counter() - began)
        c.delete(url, headers=headers)
    return rate, lat


async def session_starts(target, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        async with Client(target, mode="legacy") as c:
            out.append(time.perf_counter() - t)
            await c.list_tools()
    return out


def tree_rss_kib(pid: int) -> int:
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            stack += children(p)
        except OSError:
            pass
    return total


async def idle_sessions_rss(url: str, pid: int, n: int) -> float:
    before = tree_rss_kib(pid)
    async with anyio.create_task_group() as tg:
        opened = anyio.Event()
        release = anyio.Event()
        count = [0]

        async def hold():
            async with Client(url, mode="legacy") as c:
                await c.list_tools()
                count[0] += 1
                if count[0] == n:
                    opened.set()
                await release.wait()

        for _ in range(n):
            tg.start_soon(hold)
        await opened.wait()
        await anyio.sleep(1)
        after = tree_rss_kib(pid)
        release.set()
    return (after - before) / n / 1024


async def load(url: str, sessions: int, calls: int) -> float:
    async def one():
        async with Client(url, mode="legacy") as c:
            for i in range(calls):
                await c.call_tool("echo", {"message": f"m{i}"})

    # sessions open first (spawn), then the timed calls; start-up is measured separately above
    began = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for _ in range(sessions):
            tg.start_soon(one)
    return sessions * calls / (time.perf_counter() - began)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--starts", type=int, default=15)
    ap.add_argument("--idle", type=int, default=8)
    ap.add_argument("--sessions", type=int, default=6)
    ap.add_argument("--session-calls", type=int, default=40)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    if missing_tools(EVERYTHING_STDIO):
        print("npx (Node) is not installed: nothing to measure")
        return 0
    load1 = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    r: dict = {"cpus": cpus, "loadavg_before": load1}
    print(f"machine: {cpus} CPUs, load average {load1:.1f}" + ("  (shared and busy: figures are noisy; compare the ratios)" if load1 > cpus * 0.5 else ""))

    with bridge(EVERYTHING_STDIO, "--max-sessions", "200") as (base, proc):
        url = base + "/mcp"
        # alternate direct/bridge rounds so background noise hits both alike
        d_rates, b_rates, h_rates, d_lat, b_lat, h_lat = [], [], [], [], [], []
        for _ in range(2):
            rate, lat = anyio.run(direct_calls, a.calls // 2)
            d_rates.append(rate), d_lat.extend(lat)
            rate, lat = anyio.run(bridge_calls, url, a.calls // 2)
            b_rates.append(rate), b_lat.extend(lat)
            rate, lat = raw_http_calls(url, a.calls // 2)
            h_rates.append(rate), h_lat.extend(lat)
        r["bridge_raw_http"] = {"calls_per_s": statistics.mean(h_rates), "p50_ms": pct(h_lat, 50) * 1e3, "p99_ms": pct(h_lat, 99) * 1e3}
        r["direct"] = {"calls_per_s": statistics.mean(d_rates), "p50_ms": pct(d_lat, 50) * 1e3, "p99_ms": pct(d_lat, 99) * 1e3}
        r["bridge"] = {"calls_per_s": statistics.mean(b_rates), "p50_ms": pct(b_lat, 50) * 1e3, "p99_ms": pct(b_lat, 99) * 1e3}
        r["ratio_calls_per_s"] = r["bridge"]["calls_per_s"] / r["direct"]["calls_per_s"]
        r["ratio_p99"] = r["bridge"]["p99_ms"] / r["direct"]["p99_ms"]

        b_starts = anyio.run(session_starts, url, a.starts)
        d_starts = anyio.run(session_starts, stdio_params(), max(3, a.starts // 3))
        r["session_start_bridge"] = {"p50_ms": pct(b_starts, 50) * 1e3, "p99_ms": pct(b_starts, 99) * 1e3}
        r["session_start_direct"] = {"p50_ms": pct(d_starts, 50) * 1e3, "p99_ms": pct(d_starts, 99) * 1e3}
        r["bridge_process_rss_mib"] = int(next(l for l in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if l.startswith("VmRSS:")).split()[1]) / 1024
        r["rss_per_idle_session_mib"] = anyio.run(idle_sessions_rss, url, proc.pid, a.idle)

    with bridge(EVERYTHING_STDIO, "--max-sessions", "200") as (b1, _), bridge(EVERYTHING_STDIO, "--max-sessions", "200") as (b2, _), bridge(EVERYTHING_STDIO, "--max-sessions", "200") as (b3, _):
        ports = [("127.0.0.1", int(u.rsplit(":", 1)[1])) for u in (b1, b2, b3)]
        with Balancer(lambda: ports[:1]) as one, Balancer(lambda: ports) as three:
            t1 = anyio.run(load, one.url + "/mcp", a.sessions, a.session_calls)
            t3 = anyio.run(load, three.url + "/mcp", a.sessions, a.session_calls)
            t1b = anyio.run(load, one.url + "/mcp", a.sessions, a.session_calls)
        r["replicas"] = {"one_calls_per_s": (t1 + t1b) / 2, "three_calls_per_s": t3, "ratio": t3 / ((t1 + t1b) / 2)}
    r["loadavg_after"] = os.getloadavg()[0]

    d, b = r["direct"], r["bridge"]
    print(f"one tools/call (echo), sequential, {a.calls} calls each:")
    print(f"  direct stdio_client : {d['calls_per_s']:7.0f} calls/s  p50 {d['p50_ms']:.2f} ms  p99 {d['p99_ms']:.2f} ms")
    print(f"  through mcp-bridge  : {b['calls_per_s']:7.0f} calls/s  p50 {b['p50_ms']:.2f} ms  p99 {b['p99_ms']:.2f} ms")
    h = r["bridge_raw_http"]
    print(f"  ratio bridge/direct : calls/s {r['ratio_calls_per_s']:.2f}x (target >= 0.8x)   p99 {r['ratio_p99']:.2f}x")
    print(f"  bridge, plain HTTP client (no SDK client): {h['calls_per_s']:7.0f} calls/s  p50 {h['p50_ms']:.2f} ms  p99 {h['p99_ms']:.2f} ms"
          f"  -> ratio {h['calls_per_s'] / d['calls_per_s']:.2f}x")
    s, sd = r["session_start_bridge"], r["session_start_direct"]
    print(f"session start (spawn + initialize): bridge p50 {s['p50_ms']:.0f} ms p99 {s['p99_ms']:.0f} ms; direct stdio p50 {sd['p50_ms']:.0f} ms p99 {sd['p99_ms']:.0f} ms")
    print(f"RSS per idle session: {r['rss_per_idle_session_mib']:.1f} MiB (growth of the bridge's process tree over {a.idle} idle sessions:"
          f" `npx` stays resident as the server's parent); the bridge process itself: {r['bridge_process_rss_mib']:.0f} MiB")
    rp = r["replicas"]
    print(f"replicas ({a.sessions} sessions x {a.session_calls} calls through the balancer): 1 bridge {rp['one_calls_per_s']:.0f} calls/s, 3 bridges {rp['three_calls_per_s']:.0f} calls/s, ratio {rp['ratio']:.2f}x"
          f"  ({cpus} CPUs shared by every replica here: a real cluster spreads them over nodes)")
    print(f"load average before/after: {r['loadavg_before']:.1f} / {r['loadavg_after']:.1f}")
    if a.json:
        a.json.write_text(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
