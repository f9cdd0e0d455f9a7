#!/usr/bin/env bash
# Copies the top-level CRDs (the source of truth, crds/) into the chart's crds/ folder and the
# MCPServer CRD into the hook package (hooks/src/mcp_operator_hook/crd.yaml, which the hook validates
# specs against), byte for byte, and Metacontroller's release CRDs (from the built tool: <tools>/share/metacontroller, see
# scripts/build-tools.sh) as charts/mcp-operator/crds/metacontroller-crds-v1.yaml. Run it after
# editing a CRD or bumping METACONTROLLER_VERSION; tests/chart/test_chart_static.py fails while they differ.
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
HOOK_CRD="$ROOT/hooks/src/mcp_operator_hook/crd.yaml"
if ! cmp -s "$SRC/mcpservers.mcp.example.com.yaml" "$HOOK_CRD"; then
  if $check; then echo "out of date: ${HOOK_CRD#"$ROOT"/}"; status=1
  else cp "$SRC/mcpservers.mcp.example.com.yaml" "$HOOK_CRD"; echo "synced ${HOOK_CRD#"$ROOT"/}"; fi
fi
MC_CRDS="${MCP_TOOLS_DIR:-$HOME/.cache/mcp-operator/tools}/share/metacontroller/metacontroller-crds-v1.yaml"
MC_DST="$DST/metacontroller-crds-v1.yaml"
if [[ -f "$MC_CRDS" ]] && ! cmp -s "$MC_CRDS" "$MC_DST"; then
  if $check; then echo "out of date: ${MC_DST#"$ROOT"/} (vs $MC_CRDS)"; status=1
  else cp "$MC_CRDS" "$MC_DST"; echo "synced ${MC_DST#"$ROOT"/}"; fi
fi
for t in "$DST"/*.yaml; do
  [[ "$t" == "$MC_DST" ]] && continue
  if [[ ! -e "$SRC/$(basename "$t")" ]]; then
    if $check; then echo "not in crds/: ${t#"$ROOT"/}"; status=1
    else rm "$t"; echo "removed ${t#"$ROOT"/}"; fi
  fi
done
exit $status
