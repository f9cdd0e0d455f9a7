"""`python -m tests.kube up|down|status [--state DIR]`: a local cluster for a fast dev loop.

`up` starts (or reuses) the cluster and prints the kubeconfig path; with --foreground it stays
attached and stops everything on Ctrl-C. `down` stops it and removes its state.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from .controlplane import ControlPlane, remove_state

DEFAULT_STATE = Path(os.environ.get("MCP_STATE_DIR", Path.cwd() / ".state" / "cluster"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.kube")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="state directory")
    parser.add_argument("--nodes", type=int, default=3, help="number of kwok nodes")
    parser.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops")
    args = parser.parse_args(argv)
    cp = ControlPlane(args.state.resolve(), node_count=args.nodes)

    if args.command == "down":
        cp.stop()
        remove_state(cp.state_dir)
        print(f"stopped; removed {cp.state_dir}")
        return 0
    if args.command == "status":
        up = cp.healthy()
        print(f"{'up' if up else 'down'}: {cp.kubeconfig if up else cp.state_dir}")
        return 0 if up else 1

    started = time.monotonic()
    cp.start()
    print(f"control plane ready in {time.monotonic() - started:.1f}s at {cp.server}")
    print(f"  export KUBECONFIG={cp.kubeconfig}")
    print(f"  export PATH={cp.bin_dir}:$PATH")
    print("  kubectl get nodes")
    print(f"  logs: {cp.logs_dir}   stop: python -m tests.kube down --state {cp.state_dir}")
    if args.foreground:
        stop = lambda *_: (cp.stop(), sys.exit(0))  # noqa: E731
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while True:
            time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
