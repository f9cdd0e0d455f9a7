"""python -m tests.metacontroller --kubeconfig K --controller deploy/compositecontroller.yaml

Runs the Metacontroller stand-in in the foreground until SIGINT/SIGTERM. Without --controller it
reads CompositeController objects from the cluster (metacontroller.k8s.io/v1alpha1) and follows
their changes. Flags mirror the real binary where they exist (--workers, --client-go-qps,
--client-go-burst, --discovery-interval).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .controller import Metacontroller, parse_go_duration
from .manifests import load_controllers, rewrite_hook_urls


def _duration(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return parse_go_duration(text, 30.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.metacontroller")
    p.add_argument("--kubeconfig", default=None)
    p.add_argument("--controller", action="append", default=[],
                   help="CompositeController YAML file (repeatable); default: read from the cluster")
    p.add_argument("--hook-base-url", default=None,
                   help="call hooks at this base URL + the hook path (e.g. http://127.0.0.1:8080)")
    p.add_argument("--workers", type=int, default=5)
    p.add_argument("--client-go-qps", type=float, default=5.0)
    p.add_argument("--client-go-burst", type=int, default=10)
    p.add_argument("--discovery-interval", type=_duration, default=30.0,
                   help="seconds or a Go duration (30s)")
    # accepted for command-line compatibility with the real binary; no effect here
    for flag in ("--metrics-address", "--health-probe-bind-address", "--zap-log-level", "--pprof-address",
                 "--cache-flush-interval", "--events-qps", "--events-burst", "--target-label-selector"):
        p.add_argument(flag, default=None, help=argparse.SUPPRESS)
    p.add_argument("--leader-election", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-events", action="store_true", help="do not write Event objects")
    p.add_argument("-v", "--verbose", action="count", default=0)
    args = p.parse_args(argv)
    if args.zap_log_level and args.zap_log_level not in ("error", "0"):
        args.verbose = max(args.verbose, 1)
    logging.basicConfig(level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s %(threadName)s: %(message)s")

    controllers = None
    if args.controller:
        controllers = [cc for f in args.controller for cc in load_controllers(f)]
        if args.hook_base_url:
            controllers = [rewrite_hook_urls(cc, args.hook_base_url) for cc in controllers]
    mc = Metacontroller(args.kubeconfig, controllers, workers=args.workers, qps=args.client_go_qps,
                        burst=args.client_go_burst, events=not args.no_events)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    mc.start(discovery_interval=args.discovery_interval)
    logging.getLogger("metacontroller").warning("metacontroller stand-in started")
    stop.wait()
    mc.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
