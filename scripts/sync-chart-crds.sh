#!/usr/bin/env bash
# Copies the top-level CRDs (the source of truth, crds/) into the chart's crds/ folder, byte for
# byte. Run it after editing a CRD; tests/chart/test_chart_static.py fails while they differ.
# Usage: scripts/sync-chart-crds.sh [--check]   (--check: report drift, change nothing, exit 1)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$ROOT/crds"
DST="$ROOT/charts/mcp-operator/crds"
check=false
[[ "${1:-}" == "--check" ]] && check=true
mkdir -p "$DST"
status=0
shopt -s nullglob
for f in "$SRC"/*.yaml; do
  t="$DST/$(basename "$f")"
  if ! cmp -s "$f" "$t"; then
    if $check; then echo "out of date: ${t#"$ROOT"/}"; status=1
    else cp "$f" "$t"; echo "synced ${t#"$ROOT"/}"; fi
  fi
done
for t in "$DST"/*.yaml; do
  if [[ ! -e "$SRC/$(basename "$t")" ]]; then
    if $check; then echo "not in crds/: ${t#"$ROOT"/}"; status=1
    else rm "$t"; echo "removed ${t#"$ROOT"/}"; fi
  fi
done
exit $status
