#!/usr/bin/env bash
# The test command: every suite in one pytest session against the real local control plane
# (chart lint included), then a per-suite summary. Extra arguments go to pytest.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export PATH="${MCP_TOOLS_DIR:-$HOME/.cache/mcp-operator/tools}/bin:$ROOT/.venv/bin:$PATH"
mkdir -p .state
junit=.state/junit.xml
rm -f "$junit"
.venv/bin/python -m pytest -q -p no:cacheprovider --junitxml="$junit" "$@"
rc=$?
if [[ $rc -eq 5 ]]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
[[ -f $junit ]] && .venv/bin/python scripts/suite_summary.py "$junit"
exit $rc
