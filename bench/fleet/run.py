"""Fleet benchmark: N MCPServers applied at once on a local control plane; time until all Ready,
against a floor measured in the same run: the same children (the Deployment, Service and
ConfigMap the hook renders for each server) created directly, with no controller, until every
Deployment has its pod Ready. Prints operator/floor.

    .venv/bin/python bench/fleet/run.py                 # N=100, own throwaway control plane
    .venv/bin/python bench/fleet/run.py --n 1000 --nodes 6
    .venv/bin/python bench/fleet/run.py --kubeconfig K  # an existing cluster (CRD is applied)
    .venv/bin/python bench/fleet/run.py --apply-strategy server-side-apply

The hook runs as real gunicorn (production command), Metacontroller is the real binary
(tests/kube/metacontroller.py; METACONTROLLER_BIN overrides the tool cache's), pods become Ready
through kwok. "Ready" means
status.phase=Ready, the Ready condition True and status.observedGeneration == metadata.generation.
Prints the floor, the operator's summary line and operator/floor (and --json for a record);
`--no-floor` skips the floor.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.e2e_hook.helpers import hook_sync_calls  # noqa: E402
from tests.e2e_hook.procs import (  # noqa: E402
    CC_FILE,
    apply_mcp_crd,
    start_hook_server,
    start_metacontroller,
    stop_metacontroller,
)
from tests.kube import ControlPlane  # noqa: E402
from tests.kube import metacontroller as mcbin  # noqa: E402

GROUP, VERSION, PLURAL = "mcp.example.com", "v1alpha1", "mcpservers"


def mcpserver(name: str, ns: str, config: bool) -> dict:
    spec = {"image": "mcp-k8s-server:bench", "transport": "streamable-http", "port": 3001, "replicas": 1,
            # small requests so that 1000 pods fit on a handful of kwok nodes
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}
    if config:
        spec["config"] = {"MCP_SERVER_NAME": name, "LOG_LEVEL": "info"}
    return {"apiVersion": "mcp.example.com/v1alpha1", "kind": "MCPServer",
            "metadata": {"name": name, "namespace": ns, "labels": {"bench": "fleet"}}, "spec": spec}


def is_ready(obj: dict) -> bool:
    st = obj.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
    return st.get("phase") == "Ready" and ready and st.get("observedGeneration") == obj["metadata"].get("generation")


def pct(sorted_vals: list[float], p: float) -> float:
    if not sorted_vals:
        return float("nan")
    return sorted_vals[min(len(sorted_vals) - 1, max(0, math.ceil(p / 100 * len(sorted_vals)) - 1))]


def scrape_hook_calls(url: str) -> int:
    """Sync requests the hook has answered so far (its Prometheus counter); -1 if unreachable."""
    try:
        return hook_sync_calls(url)
    except OSError:
        return -1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100, help="number of MCPServers (default 100, up to 1000+)")
    ap.add_argument("--kubeconfig", help="use this cluster instead of starting a local control plane")
    ap.add_argument("--nodes", type=int, default=0, help="kwok nodes for the own control plane (default: N/300, min 3)")
    chart = chart_defaults()
    ap.add_argument("--workers", type=int, default=chart["workers"],
                    help=f"Metacontroller --workers (default: the chart's, {chart['workers']}; upstream 5)")
    ap.add_argument("--qps", type=float, default=float(chart["clientGoQps"]),
                    help=f"Metacontroller --client-go-qps (default: the chart's, {chart['clientGoQps']}; upstream 5)")
    ap.add_argument("--burst", type=int, default=chart["clientGoBurst"],
                    help=f"Metacontroller --client-go-burst (default: the chart's, {chart['clientGoBurst']}; upstream 10)")
    ap.add_argument("--apply-strategy", choices=mcbin.APPLY_STRATEGIES, default=mcbin.DEFAULT_APPLY_STRATEGY,
                    help="Metacontroller --apply-strategy")
    ap.add_argument("--hook-workers", type=int, default=2, help="GUNICORN_WORKERS")
    ap.add_argument("--hook-threads", type=int, default=4, help="GUNICORN_THREADS")
    ap.add_argument("--no-config", action="store_true", help="MCPServers without spec.config (no ConfigMap)")
    ap.add_argument("--no-floor", action="store_true", help="skip the floor (children created directly)")
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--keep", action="store_true", help="leave the namespace and cluster behind")
    ap.add_argument("--json", action="store_true", help="also print a JSON record")
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="mcp-fleet-"))
    cp = None
    hook = mc = None
    own_cluster = not args.kubeconfig
    try:
        if own_cluster:
            nodes = args.nodes or max(3, math.ceil(args.n / 300))
            cp = ControlPlane(work / "cluster", node_count=nodes)
            t = time.monotonic()
            cp.start()
            print(f"control plane up in {time.monotonic() - t:.1f}s ({nodes} kwok nodes)", flush=True)
        else:
            cp = _ExistingCluster(args.kubeconfig)
        apply_mcp_crd(cp)
        floor = None if args.no_floor else run_floor(cp, args)
        hook = start_hook_server(work, workers=args.hook_workers, threads=args.hook_threads)
        mc = start_metacontroller(cp, hook.url, work, workers=args.workers, qps=args.qps, burst=args.burst,
                                  cc_file=CC_FILE, apply_strategy=args.apply_strategy)
        api = _custom_objects(cp.kubeconfig)
        ns = f"fleet-{uuid.uuid4().hex[:6]}"
        cp.kubectl("create", "namespace", ns)
        time.sleep(2)  # let the controller's informers sync before the burst

        items = [mcpserver(f"mcp-{i:04d}", ns, not args.no_config) for i in range(args.n)]
        # observe through a watch (a 1000-item LIST every half second would load the box it measures)
        ready_at: dict[str, float] = {}
        clock = {"t0": time.monotonic()}

        def seen(obj: dict) -> None:
            meta = obj["metadata"]
            if meta.get("namespace") == ns and meta["name"] not in ready_at and is_ready(obj):
                ready_at[meta["name"]] = time.monotonic() - clock["t0"]

        observer = _Watcher(api, ns, seen).start()

        t0 = clock["t0"] = time.monotonic()
        # "at once": concurrent creates (kubectl apply of a 1000-item List is itself client-throttled)
        with ThreadPoolExecutor(max_workers=32) as pool:
            list(pool.map(lambda o: api.create_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, o,
                                                                        _request_timeout=120), items))
        t_applied = time.monotonic() - t0
        last_print = 0.0
        while len(ready_at) < args.n:
            now = time.monotonic() - t0
            if now > args.timeout:
                break
            if now - last_print >= 10:
                print(f"  t={now:6.1f}s ready {len(ready_at)}/{args.n}", flush=True)
                last_print = now
            time.sleep(0.2)
        observer.stop()
        total = time.monotonic() - t0
        hook_calls = scrape_hook_calls(hook.url)
        times = sorted(ready_at.values())
        ok = len(times) == args.n
        controller = f"metacontroller {mcbin.binary()} ({args.apply_strategy})"
        summary = (f"fleet: N={args.n} {'all Ready in' if ok else 'TIMEOUT, Ready'} "
                   f"{(times[-1] if ok else total):.1f}s"
                   f"{'' if ok else f' ({len(times)}/{args.n})'} | applied in {t_applied:.1f}s, "
                   f"first {pct(times, 0):.1f}s, p50 {pct(times, 50):.1f}s, p90 {pct(times, 90):.1f}s | "
                   f"{args.n / times[-1] if ok and times[-1] else 0:.1f} servers/s | controller={controller} "
                   f"workers={args.workers} qps={args.qps:g} burst={args.burst} | "
                   f"hook gunicorn workers={args.hook_workers} threads={args.hook_threads}, "
                   f"{hook_calls} sync calls ({hook_calls / args.n:.1f} per server)")
        print(summary, flush=True)
        if floor is not None:
            ratio = (times[-1] / floor) if ok and floor else float("nan")
            print(f"fleet: N={args.n} operator/floor = {ratio:.2f} (operator {times[-1] if ok else total:.1f}s, "
                  f"floor {floor:.1f}s: the same children created directly, no controller)", flush=True)
        if args.json:
            print(json.dumps({"n": args.n, "all_ready": ok, "ready": len(times),
                              "seconds_all_ready": times[-1] if ok else None, "seconds_total": total,
                              "apply_seconds": t_applied, "p50": pct(times, 50), "p90": pct(times, 90),
                              "controller": controller, "workers": args.workers, "qps": args.qps,
                              "burst": args.burst, "hook_workers": args.hook_workers,
                              "hook_threads": args.hook_threads, "hook_sync_calls": hook_calls,
                              "floor_seconds": floor,
                              "operator_over_floor": (times[-1] / floor) if ok and floor else None}))
        if not args.keep:
            cp.kubectl("delete", "mcps", "--all", "-n", ns, "--wait=false", timeout=300)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and api.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL,
                                                                                    limit=1).get("items"):
                time.sleep(1)
            cp.kubectl("delete", "namespace", ns, "--wait=false", check=False)
        return 0 if ok else 1
    finally:
        if mc is not None:
            stop_metacontroller(cp, mc)
        if hook is not None:
            hook.stop()
        if own_cluster and cp is not None and not args.keep:
            cp.stop()
            shutil.rmtree(work, ignore_errors=True)
        elif args.keep:
            print(f"kept: {work}")


def chart_defaults() -> dict:
    """The bundled Metacontroller's tuned settings (charts/mcp-operator/values.yaml): the bench
    measures what the chart ships."""
    import yaml

    values = yaml.safe_load((REPO / "charts" / "mcp-operator" / "values.yaml").read_text())
    return values["metacontroller"]["bundled"]


def desired_children(server: dict) -> list[dict]:
    """What the hook answers for a fresh MCPServer: the children the floor creates directly."""
    from mcp_operator_hook.sync import sync

    parent = json.loads(json.dumps(server))
    parent["metadata"].update({"uid": str(uuid.uuid4()), "generation": 1})
    return sync({"controller": {"metadata": {"name": "mcp-operator"}}, "parent": parent, "children": {},
                 "related": {}})["children"]


def run_floor(cp, args) -> float:
    """Seconds until N servers' children, exactly as the hook renders them (Deployment, Service,
    ConfigMap, and the prober's Role/RoleBinding) created directly, 32 servers at a time like the
    operator run, all have their pod Ready; the namespace is then deleted and waited for."""
    from kubernetes import utils

    ns = f"floor-{uuid.uuid4().hex[:6]}"
    cp.kubectl("create", "namespace", ns)
    objects = _custom_objects(cp.kubeconfig)
    servers = [mcpserver(f"mcp-{i:04d}", ns, not args.no_config) for i in range(args.n)]
    ready_at: dict[str, float] = {}
    clock = {"t0": time.monotonic()}

    def seen(obj: dict) -> None:
        st, meta = obj.get("status") or {}, obj["metadata"]
        if meta["name"] not in ready_at and (st.get("readyReplicas") or 0) >= (obj["spec"].get("replicas") or 0) \
                and st.get("observedGeneration") == meta.get("generation"):
            ready_at[meta["name"]] = time.monotonic() - clock["t0"]

    watcher = _Watcher(objects, ns, seen, "apps", "v1", "deployments").start()

    def create(server: dict) -> None:
        for child in desired_children(server):  # every kind the hook renders (Role, Secret, ...)
            child["metadata"]["namespace"] = ns
            utils.create_from_dict(objects.api_client, child, namespace=ns)

    t0 = clock["t0"] = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(create, servers))
    last_print = 0.0
    while len(ready_at) < args.n and time.monotonic() - t0 < args.timeout:
        now = time.monotonic() - t0
        if now - last_print >= 10:
            print(f"  floor t={now:6.1f}s ready {len(ready_at)}/{args.n}", flush=True)
            last_print = now
        time.sleep(0.2)
    watcher.stop()
    floor = max(ready_at.values()) if len(ready_at) == args.n else float("nan")
    print(f"floor: N={args.n} servers' children ({', '.join(sorted({c['kind'] for c in desired_children(servers[0])}))}) "
          f"created directly, all pods Ready in {floor:.1f}s", flush=True)
    cp.kubectl("delete", "namespace", ns, "--wait=true", "--timeout=600s", check=False, timeout=620)
    return floor


def _custom_objects(kubeconfig: str):
    """A CustomObjectsApi with a connection pool for the 32 concurrent creates; not rate limited
    (the benchmark measures the controller, not its own client)."""
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
    cfg.connection_pool_maxsize = 40
    return client.CustomObjectsApi(client.ApiClient(cfg))


class _Watcher:
    """Calls `seen(obj)` for every object (MCPServers by default) of a namespace as it is listed,
    added or modified: a watch, since a 1000-item LIST every half second would load the box it
    measures. Any namespaced resource through the custom-objects API (plain JSON paths)."""

    def __init__(self, api, ns: str, seen, group: str = GROUP, version: str = VERSION, plural: str = PLURAL):
        import threading

        self.api, self.ns, self.seen = api, ns, seen
        self.resource = (group, version, ns, plural)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fleet-watch", daemon=True)

    def start(self) -> "_Watcher":
        self._relist()
        self._thread.start()
        return self

    def _relist(self) -> None:
        first = self.api.list_namespaced_custom_object(*self.resource)
        self._rv = first["metadata"]["resourceVersion"]
        for obj in first.get("items", []):
            self.seen(obj)

    def _run(self) -> None:
        from kubernetes import watch

        while not self._stop.is_set():
            w = watch.Watch()
            try:
                for ev in w.stream(self.api.list_namespaced_custom_object, *self.resource,
                                   resource_version=self._rv, timeout_seconds=60, allow_watch_bookmarks=True):
                    obj = ev["object"]
                    self._rv = obj.get("metadata", {}).get("resourceVersion", self._rv)
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        self.seen(obj)
                    if self._stop.is_set():
                        break
            except Exception:  # noqa: BLE001 - a dropped or expired watch: list again, then watch on
                time.sleep(0.5)
                try:
                    self._relist()
                except Exception:  # noqa: BLE001
                    pass
            finally:
                w.stop()

    def stop(self) -> None:
        self._stop.set()


class _ExistingCluster:
    """Just enough of ControlPlane for an existing kubeconfig."""

    def __init__(self, kubeconfig: str):
        from tests.kube import bin_dir

        self.kubeconfig = kubeconfig
        self.bins = bin_dir()
        self.bin_dir = self.bins

    def env(self, **extra):
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kubeconfig
        env["PATH"] = f"{self.bins}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra)
        return env

    def kubectl(self, *args, input=None, check=True, timeout=60):
        import subprocess

        res = subprocess.run([str(self.bins / "kubectl"), "--kubeconfig", self.kubeconfig, *args],
                             input=input, capture_output=True, text=True, timeout=timeout)
        if check and res.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {res.stderr.strip()}")
        return res


if __name__ == "__main__":
    sys.exit(main())
