#!/usr/bin/env python3
"""`make bench`: every benchmark, one after another, each printing ratios against a baseline it
measures in the same run. Benchmarks print figures; they never fail on them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RUNS = [
    ("hook sync vs no-op Flask echo (same gunicorn settings)", ["hook/throughput.py"]),
    ("mcp-k8s-server vs the seed's TypeScript server", ["mcp/bench.py"]),
    ("fleet: N MCPServers applied at once until all Ready", ["fleet/run.py"]),
    ("mcp-bridge vs the same stdio server driven directly by the SDK's stdio client", ["bridge/run.py"]),
]


def main() -> int:
    failed = []
    for title, (script, *args) in RUNS:
        print(f"\n### {title}\n", flush=True)
        rc = subprocess.call([sys.executable, str(BENCH / script), *args], cwd=BENCH.parent)
        if rc:
            failed.append(script)
    if failed:
        print(f"\nbenchmarks that did not complete: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
