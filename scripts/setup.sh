#!/usr/bin/env bash
# Everything a fresh machine needs: Python venv with pinned packages and both project packages,
# then the Go-built Kubernetes tools (cached; skipped when already built). Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
VENV="${MCP_VENV:-$ROOT/.venv}"
log() { echo "[setup $(date +%H:%M:%S)] $*"; }

for cmd in python3 go git; do
  command -v "$cmd" >/dev/null || { echo "setup: $cmd is required (see README prerequisites)" >&2; exit 1; }
done
if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  log "installing python3-venv (Debian)"; apt-get update -qq && apt-get install -y -qq python3-venv
fi

if [[ ! -x "$VENV/bin/python" ]]; then log "creating $VENV"; python3 -m venv "$VENV"; fi
stamp="$VENV/.lock-sha"
want="$(cat requirements.lock hooks/pyproject.toml mcp-server/pyproject.toml bridge/pyproject.toml prober/pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  log "installing pinned Python packages"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.lock
  "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps -e hooks -e mcp-server -e bridge -e prober
  echo "$want" > "$stamp"
else
  log "Python packages up to date"
fi

"$ROOT/scripts/build-tools.sh"
