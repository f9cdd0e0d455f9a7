"""Build the seed's TypeScript MCP server (Steps 4-5 of the seed document) for the benchmark.

Extracts every ``cat << 'EOF' > workspace/mcp-lab/<path>`` block from the seed file into a build
directory, pins the dependency versions exactly (the seed gives caret ranges; we pin their lower
bounds so every run builds the same thing), runs ``npm install`` and ``npm run build`` (tsc).
Returns the path of the built HTTP server (dist/servers/k8s-mcp-http-server.js).

Usage: python bench/mcp/seed_ts.py [--seed FILE] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# /work/shared beside the repository, or beside the worktree root (/work/wt/<name>)
DEFAULT_SEED = next((p for p in (REPO.parent / "shared" / "seed" / "000_199bd44c71219f0c.txt", REPO.parents[1] / "shared" / "seed" / "000_199bd44c71219f0c.txt") if p.exists()), REPO.parent / "shared" / "seed" / "000_199bd44c71219f0c.txt")
DEFAULT_OUT = REPO / ".cache" / "bench" / "seed-ts"
# exact versions (the lower bounds of the seed's ^ranges)
PINS = {
    "dependencies": {
        "@kubernetes/client-node": "1.3.0",
        "@modelcontextprotocol/sdk": "1.17.3",
        "express": "4.18.2",
        "js-yaml": "4.1.0",
        "zod": "3.25.76",
    },
    "devDependencies": {
        "@types/express": "5.0.3",
        "@types/js-yaml": "4.0.9",
        "@types/node": "24.3.0",
        "typescript": "5.9.2",
    },
}
BLOCK = re.compile(r"cat << 'EOF' > workspace/mcp-lab/(?P<path>[^\n]+)\n(?P<body>.*?)\nEOF\n", re.S)


def extract(seed: Path) -> dict[str, str]:
    files = {m.group("path").strip(): m.group("body") + "\n" for m in BLOCK.finditer(seed.read_text(encoding="utf-8"))}
    if "package.json" not in files or "src/servers/k8s-mcp-http-server.ts" not in files:
        raise SystemExit(f"seed {seed} does not contain the TypeScript server (found {sorted(files)})")
    return files


def build(seed: Path = DEFAULT_SEED, out: Path = DEFAULT_OUT, log=print) -> Path:
    files = extract(seed)
    pkg = json.loads(files["package.json"])
    pkg.update(PINS)
    files["package.json"] = json.dumps(pkg, indent=2) + "\n"
    digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
    server_js = out / "dist" / "servers" / "k8s-mcp-http-server.js"
    stamp = out / ".built"
    if stamp.exists() and stamp.read_text() == digest and server_js.exists():
        return server_js
    if out.exists():
        shutil.rmtree(out / "src", ignore_errors=True)
        shutil.rmtree(out / "dist", ignore_errors=True)
    for rel, body in files.items():
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(body, encoding="utf-8")
    env = {**os.environ, "npm_config_fund": "false", "npm_config_audit": "false", "npm_config_update_notifier": "false"}
    log(f"[seed-ts] npm install in {out} (pinned: {', '.join(f'{k}@{v}' for k, v in PINS['dependencies'].items())})")
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=out, env=env, check=True)
    log("[seed-ts] npm run build (tsc)")
    r = subprocess.run(["npm", "run", "build"], cwd=out, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        # tsc emits JavaScript despite type errors (noEmitOnError is off in the seed's tsconfig);
        # the seed's code has a typing error against its own pinned @types/express 5. Use the
        # emitted JS when it exists, and say so.
        errors = [line for line in (r.stdout + r.stderr).splitlines() if "error TS" in line]
        if not server_js.exists():
            raise RuntimeError("tsc failed:\n" + (r.stdout + r.stderr)[-3000:])
        (out / ".tsc-errors").write_text("\n".join(errors))
        log(f"[seed-ts] tsc reported {len(errors)} type error(s) in the seed's code; JavaScript was emitted anyway: {errors[:2]}")
    stamp.write_text(digest)
    return server_js


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=Path, default=DEFAULT_SEED)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    print(build(args.seed, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
