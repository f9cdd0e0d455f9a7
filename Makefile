# Thin wrappers; the scripts hold the logic. `make help` lists targets.
PY := .venv/bin/python
export PATH := $(or $(MCP_TOOLS_DIR),$(HOME)/.cache/mcp-operator/tools)/bin:$(PATH)

.PHONY: help setup tools demo test test-fast cluster-up cluster-down lint bench clean

help:            ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

setup:           ## venv + pinned packages + Go-built Kubernetes tools (idempotent, cached)
	scripts/setup.sh

tools:           ## only the Go-built tools (kube-apiserver, etcd, kwok, helm, ct, ...)
	scripts/build-tools.sh

demo: setup      ## the main job: local cluster, chart installed, sample MCPServer Ready, MCP client
	$(PY) -m tests.demo

test: setup      ## everything CI runs
	scripts/test.sh

test-fast:       ## pure unit tests only (no cluster)
	$(PY) -m pytest -m "not cluster" -q

cluster-up:      ## start (or reuse) a local control plane in .state/cluster and print its kubeconfig
	$(PY) -m tests.kube up

cluster-down:    ## stop it, and the cluster `make demo` leaves running
	$(PY) -m tests.kube down
	$(PY) -m tests.kube down --state .state/demo-cluster

bench: setup     ## benchmarks (print ratios against a baseline measured in the same run)
	$(PY) bench/run_all.py

clean:           ## remove local state (not the tool cache)
	rm -rf .state
