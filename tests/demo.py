"""`make demo`: the whole user journey on a local control plane, narrated.

    python -m tests.demo     # a new cluster in .state/demo-cluster (seconds), then the journey
The cluster stays up afterwards for exploring (`python -m tests.kube down --state
.state/demo-cluster` stops it); the next run replaces it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tests.journey.steps import REPO, Journey
from tests.kube import ControlPlane
from tests.kube.controlplane import remove_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.demo")
    parser.add_argument("--state", type=Path, default=REPO / ".state" / "demo-cluster")
    parser.add_argument("--apply-strategy", choices=("dynamic-apply", "server-side-apply"), default=None,
                        help="Metacontroller --apply-strategy (default: its own, dynamic-apply)")
    args = parser.parse_args(argv)
    cp = ControlPlane(args.state.resolve())
    cp.stop()  # a previous run's cluster holds its release and sample: start clean
    remove_state(cp.state_dir)
    started = time.monotonic()
    print(f"==> local control plane in {cp.state_dir}")
    cp.start()
    print(f"    ok: {cp.server} ({len(cp.nodes)} kwok nodes)")
    journey = Journey(cp, apply_strategy=args.apply_strategy)
    results = journey.run()
    print(f"\nJourney complete in {time.monotonic() - started:.0f}s. The MCP client listed "
          f"{len(results['tools'])} tools and called list-pods through kubectl port-forward.")
    print(f"The cluster is still up:  export KUBECONFIG={cp.kubeconfig}")
    print(f"Stop it:                  make cluster-down  (or .venv/bin/python -m tests.kube down --state {cp.state_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
