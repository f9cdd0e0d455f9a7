#!/usr/bin/env python3
"""Throughput and p99 of the gunicorn-served sync hook against a no-op Flask JSON echo.

Both servers run with the production gunicorn configuration
(``-c python:mcp_operator_hook.gunicorn_conf``, same GUNICORN_WORKERS / GUNICORN_THREADS) and are
driven, in alternating rounds, by the same bounded loopback load generator (fixed request count,
keep-alive connections spread over a few processes) with the same request: the sync request of
the seed's advanced MCPServer with its children observed as rolled out (the steady-state resync).

    .venv/bin/python bench/hook/throughput.py                  # ~30 s
    .venv/bin/python bench/hook/throughput.py --requests 1000 --rounds 4 --json

Prints req/s and latency percentiles for each and the ratio sync/echo (target >= 0.8): the median
over rounds of (sync req/s / echo req/s), both measured back to back within a round, which is
robust to background load. ``--check`` exits 1 when the ratio is below the target.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TARGET = 0.8


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sync_request() -> bytes:
    """The advanced sample + its children as Metacontroller observes them once rolled out."""
    from mcp_operator_hook import constants as C
    from mcp_operator_hook.sync import sync

    parent = yaml.safe_load((REPO / "examples" / "advanced-mcpserver.yaml").read_text())
    parent["metadata"].update({"generation": 3, "uid": "00000000-0000-4000-8000-000000000001",
                               "resourceVersion": "4242", "creationTimestamp": "2026-01-01T00:00:00Z"})
    empty = {"controller": {"metadata": {"name": C.COMPOSITE_CONTROLLER_NAME}}, "parent": parent,
             "children": {k: {} for k in C.CHILD_KEYS}, "related": {}}
    desired = sync(empty)["children"]
    children = {k: {} for k in C.CHILD_KEYS}
    for obj in desired:
        o = copy.deepcopy(obj)
        m = o["metadata"]
        m["labels"][C.CONTROLLER_UID_LABEL] = parent["metadata"]["uid"]
        m.setdefault("annotations", {})[C.LAST_APPLIED_ANNOTATION] = json.dumps(obj)
        m.update({"uid": "u-" + o["kind"], "resourceVersion": "99", "generation": 1})
        key = {"Deployment": C.DEPLOYMENT_CHILD_KEY, "Service": C.SERVICE_CHILD_KEY,
               "ConfigMap": C.CONFIGMAP_CHILD_KEY, "Role": C.ROLE_CHILD_KEY,
               "RoleBinding": C.ROLEBINDING_CHILD_KEY}[o["kind"]]
        if o["kind"] == "Deployment":
            n = o["spec"]["replicas"]
            o["status"] = {"observedGeneration": 1, "replicas": n, "updatedReplicas": n, "readyReplicas": n,
                           "availableReplicas": n,
                           "conditions": [{"type": "Available", "status": "True"},
                                          {"type": "Progressing", "status": "True",
                                           "reason": "NewReplicaSetAvailable"}]}
        if o["kind"] == "Service":
            o["spec"]["clusterIP"] = "10.96.0.10"
        children[key][f"{m['namespace']}/{m['name']}"] = o
    req = {**empty, "children": children}
    parent["status"] = sync(req)["status"]  # the status already written: a no-op resync
    return json.dumps(req).encode()


class Server:
    def __init__(self, app: str, env: dict, log: Path):
        self.port = free_port()
        e = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
        e.update(env)
        e.update({"GUNICORN_BIND": f"127.0.0.1:{self.port}", "GUNICORN_ACCESS_LOG": "off",
                  "PYTHONPATH": os.pathsep.join([str(HERE), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)})
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        self.proc = subprocess.Popen([gunicorn, "-c", "python:mcp_operator_hook.gunicorn_conf", app], env=e,
                                     stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{app} did not start; see {log}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)

    def pids(self) -> list[int]:
        out = [self.proc.pid]
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                try:
                    if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                        out.append(int(d.name))
                except (OSError, ValueError, IndexError):
                    continue
        return out

    def cpu_ns(self) -> int:
        """CPU time (ns) consumed so far by the master and its workers, all threads: independent
        of how busy the rest of the machine is."""
        total = 0
        for pid in self.pids():
            try:
                for task in Path(f"/proc/{pid}/task").iterdir():
                    total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError):
                continue
        return total

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _client_process(port: int, body: bytes, count: int, threads: int, out: mp.Queue):
    """One load-generator process: ``threads`` keep-alive connections, ``count`` requests in all."""
    lat: list[float] = []
    errors = [0]
    lock = threading.Lock()
    per = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}

    def worker(n: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        bad = 0
        for _ in range(n):
            t0 = time.perf_counter()
            conn.request("POST", "/sync", body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            mine.append(time.perf_counter() - t0)
            if r.status != 200:
                bad += 1
            if r.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.close()
        with lock:
            lat.extend(mine)
            errors[0] += bad

    ts = [threading.Thread(target=worker, args=(n,)) for n in per]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    out.put((lat, errors[0]))


def drive(port: int, body: bytes, requests: int, procs: int, threads: int) -> dict:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    per = [requests // procs + (1 if i < requests % procs else 0) for i in range(procs)]
    ps = [ctx.Process(target=_client_process, args=(port, body, n, threads, q)) for n in per]
    t0 = time.perf_counter()
    for p in ps:
        p.start()
    results = [q.get() for _ in ps]
    elapsed = time.perf_counter() - t0
    for p in ps:
        p.join()
    lat = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)

    def pct(q_):
        return lat[min(len(lat) - 1, int(q_ * len(lat)))] * 1000

    return {"requests": len(lat), "errors": errors, "seconds": elapsed, "rps": len(lat) / elapsed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1500, help="requests per round and server")
    ap.add_argument("--rounds", type=int, default=8,
                    help="alternating rounds; the ratio is the median of the per-round ratios")
    ap.add_argument("--procs", type=int, default=2, help="load-generator processes")
    ap.add_argument("--threads", type=int, default=4, help="keep-alive connections per process")
    ap.add_argument("--workers", default=os.environ.get("GUNICORN_WORKERS", "2"))
    ap.add_argument("--server-threads", default=os.environ.get("GUNICORN_THREADS", "4"))
    ap.add_argument("--json", action="store_true", help="also print one JSON line with the figures")
    ap.add_argument("--check", action="store_true", help=f"exit 1 when sync/echo < {TARGET}")
    args = ap.parse_args(argv)

    body = sync_request()
    env = {"GUNICORN_WORKERS": str(args.workers), "GUNICORN_THREADS": str(args.server_threads),
           "LOG_LEVEL": "warning"}
    logdir = Path(os.environ.get("TMPDIR", "/tmp"))
    servers = {"echo": Server("echo_app:create_app()", env, logdir / "bench-hook-echo.log"),
               "sync": Server("mcp_operator_hook.app:create_app()", env, logdir / "bench-hook-sync.log")}
    try:
        # sanity: the hook answers this request with 200 and a Ready status
        with urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{servers['sync'].port}/sync", data=body, method="POST")) as r:
            assert json.loads(r.read())["status"]["phase"] == "Ready"
        for s in servers.values():  # warm-up: imports, caches, connections
            drive(s.port, body, 300, args.procs, args.threads)
        rounds: dict[str, list[dict]] = {"echo": [], "sync": []}
        for i in range(args.rounds):
            order = ("echo", "sync") if i % 2 == 0 else ("sync", "echo")  # same background load for both
            for name in order:
                cpu0 = servers[name].cpu_ns()
                r = drive(servers[name].port, body, args.requests, args.procs, args.threads)
                r["cpu_us_per_request"] = (servers[name].cpu_ns() - cpu0) / 1000 / r["requests"]
                rounds[name].append(r)
    finally:
        for s in servers.values():
            s.stop()

    best = {name: max(rs, key=lambda r: r["rps"]) for name, rs in rounds.items()}
    # each round runs both servers back to back, under the same background load: compare within
    # a round, then take the median over rounds
    ratios = sorted(s["rps"] / e["rps"] for s, e in zip(rounds["sync"], rounds["echo"]))
    ratio = ratios[len(ratios) // 2] if len(ratios) % 2 else (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
    p99 = {name: sorted(r["p99_ms"] for r in rs)[len(rs) // 2] for name, rs in rounds.items()}
    cpu = {name: sorted(r["cpu_us_per_request"] for r in rs)[len(rs) // 2] for name, rs in rounds.items()}
    cpu_ratio = cpu["echo"] / cpu["sync"] if cpu["sync"] else float("nan")
    print(f"hook throughput: gunicorn workers={args.workers} threads={args.server_threads}, "
          f"request {len(body)} bytes, {args.requests} requests x {args.rounds} rounds, "
          f"{args.procs}x{args.threads} keep-alive connections, {os.cpu_count()} CPUs")
    print(f"{'server':<6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'median p99':>11} {'CPU us/req':>11} "
          f"{'errors':>7}   (best round; req/s of every round)")
    for name in ("echo", "sync"):
        b = best[name]
        allr = ", ".join(f"{r['rps']:.0f}" for r in rounds[name])
        errs = sum(r["errors"] for r in rounds[name])
        print(f"{name:<6} {b['rps']:>9.0f} {b['p50_ms']:>8.2f} {b['p99_ms']:>8.2f} {p99[name]:>11.2f} "
              f"{cpu[name]:>11.0f} {errs:>7}   ({allr})")
    verdict = "OK" if ratio >= TARGET else "BELOW TARGET"
    print(f"ratio sync/echo req/s: median of {len(ratios)} rounds {ratio:.2f} (range {ratios[0]:.2f}-{ratios[-1]:.2f}), "
          f"best rounds {best['sync']['rps'] / best['echo']['rps']:.2f}; target >= {TARGET}: {verdict}")
    print(f"server CPU per request echo/sync: {cpu_ratio:.2f} (median over rounds; the throughput ratio a "
          f"CPU-bound server reaches, unaffected by other load on the machine)")
    if args.json:
        print(json.dumps({"ratio": round(ratio, 3), "ratios": [round(r, 3) for r in ratios], "target": TARGET,
                          "cpu_ratio": round(cpu_ratio, 3), "cpu_us_per_request": cpu,
                          "echo": best["echo"], "sync": best["sync"], "median_p99_ms": p99}))
    if any(r["errors"] for rs in rounds.values() for r in rs):
        print("errors: some requests did not answer 200", file=sys.stderr)
        return 1
    return 1 if args.check and ratio < TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
