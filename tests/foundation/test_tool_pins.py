"""Each tool version is pinned once, in tools/versions.env; the Go tool modules must agree."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO / "tools/versions.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out[k] = v
    return out


def requires(module_dir: str) -> dict[str, str]:
    text = (REPO / "tools" / module_dir / "go.mod").read_text()
    return dict(re.findall(r"^\s*(?:require\s+)?(\S+) (v\S+)(?: // indirect)?$", text, re.M))


def test_kubernetes_module_and_staging_replaces_match_the_pin():
    k = pins()["KUBERNETES_VERSION"]
    mod = requires("kubernetes")
    assert mod["k8s.io/kubernetes"] == k
    staging = "v0." + k.removeprefix("v1.")
    replaces = re.findall(r"^\s*(k8s\.io/\S+) => (k8s\.io/\S+) (v\S+)$", (REPO / "tools/kubernetes/go.mod").read_text(), re.M)
    assert len(replaces) >= 30
    assert all(src == dst and ver == staging for src, dst, ver in replaces), replaces


def test_etcd_and_chart_testing_modules_match_the_pins():
    assert requires("etcd")["go.etcd.io/etcd/server/v3"] == pins()["ETCD_VERSION"]
    assert requires("chart-testing")["github.com/helm/chart-testing/v3"] == pins()["CHART_TESTING_VERSION"]
