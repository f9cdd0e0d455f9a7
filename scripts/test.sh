#!/usr/bin/env bash
# The test command: every suite, against the real local control plane, then chart lint.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="${MCP_TOOLS_DIR:-$HOME/.cache/mcp-operator/tools}/bin:$ROOT/.venv/bin:$PATH"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
if [[ $rc -eq 5 ]]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit $rc
