#!/usr/bin/env python3
"""mcp-bridge against the same stdio server driven directly by the SDK's stdio client, in one run.

    .venv/bin/python bench/bridge/run.py                    # defaults: ~2-3 minutes
    .venv/bin/python bench/bridge/run.py --calls 300 --sessions 10 --json out.json

Server: @modelcontextprotocol/server-everything (npm, pinned in tests/kube/mcp_servers.py), tool
``echo``. Clients are the official SDK's (``mcp.Client``), sending what real clients send.
- one tools/call: calls/s and p50/p99, sequential, one session, and the CPU each process spends
  per call (client / bridge / server). Rounds alternate, so load drifts hit every row alike:
  * direct: ``Client`` over ``stdio_client`` (the issue's baseline: ratio bridge/direct, target >= 0.8);
  * bridge: ``Client`` over streamable HTTP (2025-11-25 session: Mcp-Session-Id and
    MCP-Protocol-Version on every POST, the GET stream it opens), through mcp-bridge;
  * bridge per request: ``Client(mode="2026-07-28")`` through mcp-bridge (no session);
  * native HTTP: the same ``Client`` over streamable HTTP to the same server's own HTTP mode
    (``streamableHttp``): like with like for the bridge's own cost, since only the bridge differs;
  * plain HTTP: the same session's POSTs from a bare httpx2 client (the SDK client's headers),
    separating the bridge's share from the SDK HTTP client's;
- session start (spawn + initialize): p50/p99 through the bridge vs a direct stdio spawn;
- RSS per idle session: the bridge's process tree before and after opening N idle sessions;
- replicas: concurrent sessions through a kube-proxy-like balancer (tests/kube/balancer.py) over
  3 bridges vs over 1, same load: throughput ratio.
Figures are printed, never asserted. Loopback only; everything started here is stopped here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import subprocess
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
from tests.kube.controlplane import free_port  # noqa: E402
from tests.kube.mcp_servers import EVERYTHING_HTTP, EVERYTHING_STDIO, host_path, missing_tools  # noqa: E402
from tests.kube.process import stop_process  # noqa: E402


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def stdio_params() -> StdioServerParameters:
    return StdioServerParameters(command=EVERYTHING_STDIO[0], args=EVERYTHING_STDIO[1:], env={**os.environ, "PATH": host_path()})


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU of these processes (and their descendants) so far, in seconds."""
    total, stack, tick = 0.0, list(pids), os.sysconf("SC_CLK_TCK")
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            stack += children(p)
        except OSError:
            pass
    return total


def own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def settle(pids: list[int], timeout: float = 60.0) -> None:
    """Waits until these process trees use under 5% of a CPU over half a second: a session that
    took the bridge's warm spare makes it start a replacement (npx + node, seconds of CPU), which
    must not be billed to the calls measured next, nor slow them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pids)
        time.sleep(0.5)
        if cpu_seconds(pids) - before < 0.025:
            return


async def timed_calls(client: Client, n: int, bridge_pid: int | None, server_pids) -> dict:
    """Sequential ``echo`` calls. CPU per call: this (client) process, the bridge process alone,
    and the server's processes (npx + node; for the bridge its children)."""
    await client.call_tool("echo", {"message": "warm"})
    servers = server_pids()
    settle(([bridge_pid] if bridge_pid else []) + servers)
    lat = []
    cpu0 = (own_cpu(), cpu_seconds([bridge_pid]) - cpu_seconds(children(bridge_pid)) if bridge_pid else 0.0, cpu_seconds(servers))
    began = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        await client.call_tool("echo", {"message": f"m{i}"})
        lat.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - began
    cpu1 = (own_cpu(), cpu_seconds([bridge_pid]) - cpu_seconds(children(bridge_pid)) if bridge_pid else 0.0, cpu_seconds(servers))
    return {"rate": n / elapsed, "lat": lat, "cpu": [(b - a) / n for a, b in zip(cpu0, cpu1)]}


async def direct_calls(n: int):
    others = set(children(os.getpid()))  # the bridges and servers this benchmark started
    async with Client(stdio_params(), mode="legacy") as c:
        return await timed_calls(c, n, None, lambda: [p for p in children(os.getpid()) if p not in others])


async def http_calls(url: str, n: int, bridge_pid: int | None, server_pid: int, mode: str = "legacy"):
    async with Client(url, mode=mode) as c:
        return await timed_calls(c, n, bridge_pid, lambda: children(bridge_pid) if bridge_pid else [server_pid])


def raw_http_calls(url: str, n: int, bridge_pid: int) -> dict:
    """The same session and tools/call as plain JSON-RPC POSTs (one keep-alive connection) with the
    headers the SDK client sends, without the SDK client: separates the bridge's share of the cost
    from the Python client's."""
    import httpx2

    headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}}
    with httpx2.Client(timeout=30) as c:
        sid = c.post(url, headers=headers, json=init).headers["mcp-session-id"]
        headers = {**headers, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"}
        c.post(url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        servers = children(bridge_pid)
        settle([bridge_pid])
        lat = []
        cpu0 = (own_cpu(), cpu_seconds([bridge_pid]) - cpu_seconds(children(bridge_pid)), cpu_seconds(servers))
        began = time.perf_counter()
        for i in range(n):
            t = time.perf_counter()
            c.post(url, headers=headers, json={"jsonrpc": "2.0", "id": i + 1, "method": "tools/call",
                                               "params": {"name": "echo", "arguments": {"message": f"m{i}"}}}).raise_for_status()
            lat.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - began
        cpu1 = (own_cpu(), cpu_seconds([bridge_pid]) - cpu_seconds(children(bridge_pid)), cpu_seconds(servers))
        c.delete(url, headers=headers)
    return {"rate": n / elapsed, "lat": lat, "cpu": [(b - a) / n for a, b in zip(cpu0, cpu1)]}


@contextlib.contextmanager
def native_http_server():
    """server-everything's own streamable-HTTP mode on a loopback port: yields (url, pid)."""
    port = free_port()
    log = open(f"/tmp/bench-everything-http-{port}.log", "wb")
    proc = subprocess.Popen(EVERYTHING_HTTP, env={**os.environ, "PATH": host_path(), "PORT": str(port)},
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server-everything streamableHttp did not start (see {log.name})")
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp", proc.pid
    finally:
        stop_process(proc)
        log.close()


def summarize(rounds: list[dict]) -> dict:
    lat = [x for r in rounds for x in r["lat"]]
    cpu = [statistics.mean(r["cpu"][i] for r in rounds) * 1e3 for i in range(3)]
    return {"calls_per_s": statistics.mean(r["rate"] for r in rounds), "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3,
            "cpu_ms_per_call": {"client": cpu[0], "bridge": cpu[1], "server": cpu[2]}}


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
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only-calls", action="store_true", help="measure the tools/call rows only")
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
        # alternate the rows round by round so background noise hits all alike
        rows: dict[str, list[dict]] = {k: [] for k in ("direct", "bridge", "bridge_per_request", "native_http", "bridge_raw_http")}
        with native_http_server() as (native_url, native_pid):
            for _ in range(a.rounds):
                n = a.calls // a.rounds
                rows["direct"].append(anyio.run(direct_calls, n))
                rows["bridge"].append(anyio.run(http_calls, url, n, proc.pid, 0))
                rows["native_http"].append(anyio.run(http_calls, native_url, n, None, native_pid))
                rows["bridge_per_request"].append(anyio.run(http_calls, url, n, proc.pid, 0, "2026-07-28"))
                rows["bridge_raw_http"].append(raw_http_calls(url, n, proc.pid))
        for k, v in rows.items():
            r[k] = summarize(v)
        r["ratio_calls_per_s"] = r["bridge"]["calls_per_s"] / r["direct"]["calls_per_s"]
        r["ratio_p99"] = r["bridge"]["p99_ms"] / r["direct"]["p99_ms"]
        r["ratio_vs_native_http"] = r["bridge"]["calls_per_s"] / r["native_http"]["calls_per_s"]

        if a.only_calls:
            return report(r, a)
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
    return report(r, a)


def report(r: dict, a: argparse.Namespace) -> int:
    r["loadavg_after"] = os.getloadavg()[0]
    d = r["direct"]
    print(f"one tools/call (echo), sequential, {a.calls} calls per row in {a.rounds} alternating rounds;"
          " CPU per call of the client / bridge / server processes:")
    labels = {"direct": "SDK Client, stdio_client (direct)", "bridge": "SDK Client -> mcp-bridge (session)",
              "bridge_per_request": "SDK Client -> mcp-bridge (2026-07-28)", "native_http": "SDK Client -> server's own HTTP",
              "bridge_raw_http": "plain httpx2 -> mcp-bridge (session)"}
    for k, label in labels.items():
        x, c = r[k], r[k]["cpu_ms_per_call"]
        print(f"  {label:40s}: {x['calls_per_s']:6.0f} calls/s ({x['calls_per_s'] / d['calls_per_s']:.2f}x)  p50 {x['p50_ms']:6.2f} ms  p99 {x['p99_ms']:6.2f} ms"
              f"   cpu {c['client']:.2f} / {c['bridge']:.2f} / {c['server']:.2f} ms")
    print(f"  ratio bridge/direct: calls/s {r['ratio_calls_per_s']:.2f}x (target >= 0.8x), p99 {r['ratio_p99']:.2f}x;"
          f" bridge/native HTTP (same SDK HTTP client, like with like): {r['ratio_vs_native_http']:.2f}x")
    if "replicas" in r:
        report_rest(r, a)
    print(f"load average before/after: {r['loadavg_before']:.1f} / {r['loadavg_after']:.1f}")
    if a.json:
        a.json.write_text(json.dumps({k: v for k, v in r.items()}, indent=2, default=str))
    return 0


def report_rest(r: dict, a: argparse.Namespace) -> None:
    s, sd = r["session_start_bridge"], r["session_start_direct"]
    print(f"session start (spawn + initialize): bridge p50 {s['p50_ms']:.0f} ms p99 {s['p99_ms']:.0f} ms; direct stdio p50 {sd['p50_ms']:.0f} ms p99 {sd['p99_ms']:.0f} ms")
    print(f"RSS per idle session: {r['rss_per_idle_session_mib']:.1f} MiB (growth of the bridge's process tree over {a.idle} idle sessions:"
          f" `npx` stays resident as the server's parent); the bridge process itself: {r['bridge_process_rss_mib']:.0f} MiB")
    rp = r["replicas"]
    print(f"replicas ({a.sessions} sessions x {a.session_calls} calls through the balancer): 1 bridge {rp['one_calls_per_s']:.0f} calls/s, 3 bridges {rp['three_calls_per_s']:.0f} calls/s, ratio {rp['ratio']:.2f}x"
          f"  ({r['cpus']} CPUs shared by every replica here: a real cluster spreads them over nodes)")


if __name__ == "__main__":
    sys.exit(main())
