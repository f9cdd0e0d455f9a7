#!/usr/bin/env python3
"""Our MCP server vs the seed's TypeScript server, over HTTP, in the same run, same cluster.

    .venv/bin/python bench/mcp/bench.py                       # starts a local control plane (~1-2 min total)
    .venv/bin/python bench/mcp/bench.py --kubeconfig PATH     # use a running cluster
    .venv/bin/python bench/mcp/bench.py --requests 3000 --json out.json

Measures, for each server (alternating rounds, the same bounded loopback load generator: a fixed
number of JSON-RPC POSTs over keep-alive connections from a few processes):
- requests/s and p50/p99 latency of ``tools/list``;
- requests/s and p50/p99 of listing the pods of a namespace with ``--pods`` pods: our ``list-pods``
  tool (the seed has no such tool), and for like-for-like both servers' resource
  ``k8s://namespace/<ns>/pods``;
- the server's CPU time per request (user + system from /proc, the server process and its workers):
  on a shared machine req/s also measures the neighbours, CPU per request much less so;
- RSS after the load (and peak RSS), cold start (spawn -> first successful tools/list, median of 3)
  and the CPU the server used until then.
Prints the figures and ratios ours/seed. The seed server is built from the seed document with npm
(bench/mcp/seed_ts.py); when that is impossible here, our figures are printed with the reason.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE)]

OUR_BIN = str(Path(sys.executable).parent / "mcp-k8s-server")
NAMESPACE = "bench-mcp"
# Both servers pinned to the same single core (the last one), the load generator to the others.
PIN: list[str] = []


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- load generator ----------------------------------------------------------------------------
def _worker(port: int, seq: list, count: int, threads: int, q) -> None:
    lat: list[float] = []
    errors = 0
    lock = threading.Lock()

    def run(n: int) -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, bad = [], 0
        for i in range(n):
            body, headers = seq[i % len(seq)]
            t = time.perf_counter()
            try:
                conn.request("POST", "/mcp", body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                ok = r.status in (200, 202) and b'"error"' not in data[:200] and b'"isError":true' not in data
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            mine.append(time.perf_counter() - t)
            bad += not ok
        with lock:
            lat.extend(mine)
            errors += bad

    per = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    ts = [threading.Thread(target=run, args=(n,)) for n in per]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put((lat, errors))


def load(port: int, seq: list, requests: int, procs: int = 2, threads: int = 4) -> dict:
    """``seq``: the (body, headers) requests one connection sends in turn, as a real client would."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    per = [requests // procs + (1 if i < requests % procs else 0) for i in range(procs)]
    start = time.perf_counter()
    ps = [ctx.Process(target=_worker, args=(port, seq, n, threads, q)) for n in per]
    for p in ps:
        p.start()
    results = [q.get(timeout=600) for _ in ps]
    for p in ps:
        p.join()
    wall = time.perf_counter() - start
    lat = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    return {
        "requests": len(lat),
        "errors": errors,
        "rps": len(lat) / wall,
        "p50_ms": 1000 * lat[len(lat) // 2],
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))],
    }


# -- servers -------------------------------------------------------------------------------------
def rss_kib(pid: int) -> tuple[int, int]:
    fields = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, s) used so far by ``pid`` and its child processes (uvicorn workers):
    unlike req/s, not inflated by other processes sharing the pinned core."""
    tick = os.sysconf("SC_CLK_TCK")

    def own(p: int) -> float:
        with open(f"/proc/{p}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime, stime (stat fields 14, 15)

    total = own(pid)
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != pid:
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        total += own(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return total


class Server:
    def __init__(self, name: str, cmd: list[str], env: dict, port: int, cwd: str | None = None):
        self.name, self.cmd, self.env, self.port, self.cwd = name, cmd, env, port, cwd
        self.proc: subprocess.Popen | None = None
        self.cold_cpu_s = 0.0

    def start(self) -> float:
        """Spawn and wait for the first successful tools/list; return the cold start in seconds."""
        t0 = time.perf_counter()
        self.proc = subprocess.Popen([*PIN, *self.cmd], env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}).encode()
        while time.perf_counter() - t0 < 60:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("POST", "/mcp", body=body, headers=HANDSHAKE)
                r = conn.getresponse()
                data = r.read()
                conn.close()
                if r.status == 200 and b'"tools"' in data:
                    self.cold_cpu_s = cpu_seconds(self.proc.pid)
                    return time.perf_counter() - t0
            except OSError:
                pass
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} did not answer tools/list within 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def ours(kubeconfig: str, workers: int = 1) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCP_")}
    env.update(KUBECONFIG=kubeconfig, MCP_TRANSPORT="http", MCP_HOST="127.0.0.1", MCP_PORT=str(port), LOG_LEVEL="WARNING",
               MCP_WORKERS=str(workers))
    return Server("ours (python)", [OUR_BIN], env, port)


def seed(kubeconfig: str, server_js: Path) -> Server:
    port = free_port()
    env = dict(os.environ, KUBECONFIG=kubeconfig, PORT=str(port))
    return Server("seed (typescript)", ["node", str(server_js)], env, port, cwd=str(server_js.parents[2]))


# -- cluster -------------------------------------------------------------------------------------
def prepare_cluster(kubeconfig: str, pods: int, kubectl: str) -> None:
    def k(*args, input=None):
        return subprocess.run([kubectl, "--kubeconfig", kubeconfig, *args], input=input, capture_output=True, text=True, check=True)

    subprocess.run([kubectl, "--kubeconfig", kubeconfig, "create", "namespace", NAMESPACE], capture_output=True, text=True)
    deploy = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench", "namespace": NAMESPACE},
        "spec": {"replicas": pods, "selector": {"matchLabels": {"app": "bench"}},
                 "template": {"metadata": {"labels": {"app": "bench"}},
                              "spec": {"containers": [{"name": "main", "image": "registry.example/app:1"}]}}},
    }
    k("apply", "-f", "-", input=json.dumps(deploy))
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        out = k("get", "pods", "-n", NAMESPACE, "-o", "jsonpath={range .items[*]}{.status.phase}{\"\\n\"}{end}").stdout.split()
        if len(out) == pods and all(p == "Running" for p in out):
            return
        time.sleep(1)
    raise RuntimeError(f"{pods} pods not Running in {NAMESPACE}")


# -- main ----------------------------------------------------------------------------------------
BASE = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
HANDSHAKE = {**BASE, "MCP-Protocol-Version": "2025-11-25"}  # what a 2025-11-25 client sends after initialize
META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientInfo": {"name": "mcp", "version": "0.1.0"},
        "io.modelcontextprotocol/clientCapabilities": {}}


def req(method: str, params: dict | None = None, era: str = "2025-11-25", id_: int | None = 1) -> tuple[bytes, dict]:
    """One request exactly as the official SDK client sends it (captured from its wire traffic)."""
    msg: dict = {"jsonrpc": "2.0", "method": method}
    if id_ is not None:
        msg["id"] = id_
    if era == "2026-07-28":
        msg["params"] = {**(params or {}), "_meta": META}
        headers = {**BASE, "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": method}
        target = (params or {}).get("name") or (params or {}).get("uri")
        if target:
            headers["Mcp-Name"] = target
    else:
        if params is not None:
            msg["params"] = params
        headers = HANDSHAKE if method != "initialize" else BASE
    return json.dumps(msg, separators=(",", ":")).encode(), headers


LIST_PODS = {"name": "list-pods", "arguments": {"namespace": NAMESPACE}}
POD_RESOURCE = {"uri": f"k8s://namespace/{NAMESPACE}/pods"}
INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "mcp", "version": "0.1.0"}}


def session(call: tuple[str, dict]) -> list:
    """A 2025-11-25 session: initialize, initialized, tools/list, then three calls."""
    return [req("initialize", INIT), req("notifications/initialized", id_=None), req("tools/list"),
            *(req(call[0], call[1], id_=i) for i in range(2, 5))]


# scenario -> (our requests, the seed's requests); the seed has no list-pods tool: its pod resource
SCENARIOS = {
    "tools/list (2025-11-25 header)": ([req("tools/list")],) * 2,
    "tools/list (2026-07-28)": ([req("tools/list", era="2026-07-28")],) * 2,
    "list pods: our list-pods tool | seed resource (2025-11-25)": (
        [req("tools/call", LIST_PODS)], [req("resources/read", POD_RESOURCE)]),
    "list pods: our list-pods tool | seed resource (2026-07-28)": (
        [req("tools/call", LIST_PODS, era="2026-07-28")], [req("resources/read", POD_RESOURCE, era="2026-07-28")]),
    "list pods: resource k8s://namespace/NS/pods": ([req("resources/read", POD_RESOURCE)],) * 2,
    "session mix (initialize, tools/list, 3 calls)": (session(("tools/call", LIST_PODS)), session(("resources/read", POD_RESOURCE))),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kubeconfig", help="use this cluster (default: start a local control plane)")
    ap.add_argument("--requests", type=int, default=2000, help="tools/list requests per server")
    ap.add_argument("--list-requests", type=int, default=300, help="pod-listing requests per scenario per server (API-server bound)")
    ap.add_argument("--pods", type=int, default=100, help="pods in the listed namespace")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4, help="connections per load process")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--no-seed", action="store_true", help="skip the TypeScript baseline")
    ap.add_argument("--only", help="run only scenarios whose name contains this text")
    ap.add_argument("--core", type=int, default=(os.cpu_count() or 1) - 1, help="the core both servers are pinned to (taskset)")
    ap.add_argument("--workers", type=int, default=1,
                    help="scaling run: our server with MCP_WORKERS=N pinned to the last N cores (use with --no-seed)")
    args = ap.parse_args(argv)
    ncpu = os.cpu_count() or 1
    if shutil.which("taskset") and ncpu > 1:
        cores = list(range(ncpu))[-args.workers:] if args.workers > 1 else [args.core]
        PIN[:] = ["taskset", "-c", ",".join(map(str, cores))]
        others = set(range(ncpu)) - set(cores)
        if others:
            os.sched_setaffinity(0, others)  # the load generator (and its forks) off the servers' cores

    cp = None
    state = None
    if args.kubeconfig:
        kubeconfig = str(Path(args.kubeconfig).resolve())
        from tests.kube import bin_dir

        kubectl = str(bin_dir() / "kubectl")
    else:
        from tests.kube import ControlPlane

        state = Path(tempfile.mkdtemp(prefix="mcp-bench-"))
        print(f"[bench] starting a local control plane in {state}", flush=True)
        cp = ControlPlane(state).start()
        kubeconfig, kubectl = cp.kubeconfig, str(cp.bin_dir / "kubectl")

    report: dict = {"pin": " ".join(PIN) or "none", "config": {"workers": args.workers, "requests": args.requests, "list_requests": args.list_requests, "pods": args.pods, "procs": args.procs, "threads": args.threads}}
    try:
        print(f"[bench] {args.pods} pods in namespace {NAMESPACE}", flush=True)
        prepare_cluster(kubeconfig, args.pods, kubectl)
        servers = {"ours": ours(kubeconfig, args.workers)}
        seed_reason = None
        if args.no_seed:
            seed_reason = "skipped (--no-seed)"
        elif not shutil.which("node") or not shutil.which("npm"):
            seed_reason = "node/npm not installed"
        else:
            try:
                import seed_ts

                server_js = seed_ts.build(log=lambda m: print(m, flush=True))
                servers["seed"] = seed(kubeconfig, server_js)
            except Exception as exc:  # noqa: BLE001 - report why and carry on with our figures
                seed_reason = f"TypeScript build failed: {str(exc)[:300]}"
        if seed_reason:
            print(f"[bench] no seed baseline: {seed_reason}", flush=True)
            report["seed_unavailable"] = seed_reason

        results: dict = {name: {} for name in servers}
        # cold start: median of 3 spawns each, alternating
        colds: dict = {name: [] for name in servers}
        cold_cpus: dict = {name: [] for name in servers}
        for _ in range(3):
            for name, srv in servers.items():
                colds[name].append(srv.start())
                cold_cpus[name].append(srv.cold_cpu_s)
                srv.stop()
        for name in servers:
            results[name]["cold_start_s"] = statistics.median(colds[name])
            results[name]["cold_start_cpu_s"] = statistics.median(cold_cpus[name])

        for name, srv in servers.items():
            srv.start()
            results[name]["rss_idle_mib"] = rss_kib(srv.proc.pid)[0] / 1024
        try:
            for scenario, payloads in SCENARIOS.items():
                if args.only and args.only not in scenario:
                    continue
                for idx, (name, srv) in enumerate(servers.items()):
                    seq = payloads[0] if name == "ours" else payloads[1]
                    n = args.requests if scenario.startswith("tools/list") else args.list_requests
                    load(srv.port, seq, min(100, n), args.procs, args.threads)  # warm-up
                    cpu0 = cpu_seconds(srv.proc.pid)
                    r = load(srv.port, seq, n, args.procs, args.threads)
                    r["cpu_us_per_request"] = (cpu_seconds(srv.proc.pid) - cpu0) / max(1, r["requests"]) * 1e6
                    results[name][scenario] = r
                    print(f"[bench] {name:5s} {scenario}: {r['rps']:.0f} req/s, p99 {r['p99_ms']:.1f} ms, "
                          f"server CPU {r['cpu_us_per_request']:.0f} us/request, errors {r['errors']}", flush=True)
            for name, srv in servers.items():
                rss, hwm = rss_kib(srv.proc.pid)
                results[name]["rss_after_mib"] = rss / 1024
                results[name]["rss_peak_mib"] = hwm / 1024
        finally:
            for srv in servers.values():
                srv.stop()
        report["results"] = results
        print_report(report)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))
    finally:
        subprocess.run([kubectl, "--kubeconfig", kubeconfig, "delete", "namespace", NAMESPACE, "--wait=false"],
                       capture_output=True, text=True)
        if cp is not None:
            cp.stop()
            shutil.rmtree(state, ignore_errors=True)
    return 0


def print_report(report: dict) -> None:
    res = report["results"]
    ours_r, seed_r = res["ours"], res.get("seed")
    cfg = report["config"]
    print()
    print(f"MCP server benchmark: {cfg['requests']} tools/list and {cfg['list_requests']} pod-listing requests per server, "
          f"{cfg['procs']}x{cfg['threads']} keep-alive "
          f"connections, {cfg['pods']} pods listed; servers run under `{report.get('pin', 'none')}`, our workers: {cfg.get('workers', 1)}")
    head = f"{'metric':58s} {'ours':>10s}"
    if seed_r:
        head += f" {'seed (TS)':>10s} {'ours/seed':>10s}"
    print(head)
    print("-" * len(head))

    def row(label: str, a: float, b: float | None, fmt: str = "{:.1f}", better: str = "") -> None:
        line = f"{label:58s} {fmt.format(a):>10s}"
        if seed_r is not None and b is not None:
            line += f" {fmt.format(b):>10s} {a / b if b else float('nan'):>9.2f}x"
        print(line + (f"  ({better})" if better else ""))

    for scenario in SCENARIOS:
        if scenario not in ours_r:
            continue
        a = ours_r[scenario]
        b = seed_r[scenario] if seed_r else None
        row(f"{scenario}: req/s", a["rps"], b and b["rps"], "{:.0f}", "higher is better")
        row(f"{scenario}: p99 ms", a["p99_ms"], b and b["p99_ms"], "{:.1f}", "lower is better")
        if "cpu_us_per_request" in a:
            row(f"{scenario}: server CPU us/req", a["cpu_us_per_request"], b and b.get("cpu_us_per_request"), "{:.0f}", "lower is better")
        if a["errors"] or (b and b["errors"]):
            row(f"{scenario}: errors", a["errors"], b and b["errors"], "{:.0f}")
    row("RSS idle (MiB)", ours_r["rss_idle_mib"], seed_r and seed_r["rss_idle_mib"], "{:.1f}", "lower is better")
    row("RSS after load (MiB)", ours_r["rss_after_mib"], seed_r and seed_r["rss_after_mib"], "{:.1f}", "lower is better")
    row("RSS peak (MiB)", ours_r["rss_peak_mib"], seed_r and seed_r["rss_peak_mib"], "{:.1f}", "lower is better")
    row("cold start to first tools/list (s, median of 3)", ours_r["cold_start_s"], seed_r and seed_r["cold_start_s"], "{:.2f}", "lower is better")
    if "cold_start_cpu_s" in ours_r:
        row("cold start: server CPU to first tools/list (s, median)", ours_r["cold_start_cpu_s"], seed_r and seed_r.get("cold_start_cpu_s"), "{:.2f}", "lower is better")
    if not seed_r:
        print(f"(no seed baseline: {report.get('seed_unavailable')})")


if __name__ == "__main__":
    sys.exit(main())
