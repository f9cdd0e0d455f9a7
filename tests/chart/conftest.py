"""Fixtures for installing the chart on the local control plane.

`chart_cluster`: the session's control plane, made ready for the chart:
- Metacontroller's CRDs (from its release, beside the built binary: tests/kube/metacontroller.py)
  are applied so `metacontroller.k8s.io/v1alpha1 CompositeController` is served and the chart's
  prerequisite check passes. No Metacontroller runs the CompositeControllers these tests create
  (the end-to-end suites start theirs scoped by `--target-label-selector`, so they ignore them).
- The chart relies on two kube-controller-manager controllers the harness may not run:
  `clusterrole-aggregation-controller` (the admin/edit/view aggregation) and `job-controller`
  (the `helm test` Job). When tests/kube's CONTROLLERS lacks them, a second kube-controller-manager
  running only those is started against the same API server for the session.
"""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.chart.chartlib import tool_env
from tests.kube import controlplane as cp_mod
from tests.kube import free_port as _free_port
from tests.kube import stop_process

EXTRA_CONTROLLERS = ("clusterrole-aggregation-controller", "job-controller")




@pytest.fixture(scope="session")
def extra_controllers(control_plane):
    running = set(cp_mod.CONTROLLERS.split(","))
    missing = [c for c in EXTRA_CONTROLLERS if c not in running]
    if not missing:
        yield []
        return
    from tests.kube.pki import PKI

    pki = PKI(control_plane.state_dir / "pki")
    log = open(control_plane.state_dir / "kcm-chart-extra.log", "w")
    proc = subprocess.Popen(
        [
            str(control_plane.bin_dir / "kube-controller-manager"),
            f"--kubeconfig={control_plane.kubeconfig}",
            f"--controllers={','.join(missing)}",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--root-ca-file={pki.ca_cert}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={_free_port()}",
            "--v=1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield missing
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture(scope="session")
def chart_cluster(control_plane, extra_controllers):
    # The built-in edit role is itself an aggregate: once it has rules, aggregation works.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = control_plane.kubectl("get", "clusterrole", "edit", "-o", "jsonpath={.rules[*].verbs}", check=False)
        if r.returncode == 0 and r.stdout.strip():
            break
        time.sleep(0.5)
    else:
        pytest.fail("clusterrole 'edit' never received aggregated rules (no clusterrole-aggregation-controller?)")
    return control_plane


@pytest.fixture(scope="session")
def metacontroller_crds(chart_cluster):
    """Serve metacontroller.k8s.io/v1alpha1 (CRDs only; nothing reconciles them here)."""
    from tests.kube.metacontroller import install_crds

    install_crds(chart_cluster)
    # helm discovers API groups through the (cached) discovery API: wait until it is listed.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = chart_cluster.kubectl("api-resources", "--api-group=metacontroller.k8s.io", "-o", "name", check=False)
        if "compositecontrollers" in r.stdout:
            break
        time.sleep(0.5)
    return chart_cluster


@pytest.fixture
def helm_env(control_plane):
    return tool_env({"KUBECONFIG": control_plane.kubeconfig})
