"""Local Kubernetes control plane for tests, demos and benchmarks (see controlplane.py)."""

from .controlplane import ControlPlane, ControlPlaneError, bin_dir, free_port, temp_namespace, tools_dir
from .process import stop_process
from .wait import wait_for

__all__ = ["ControlPlane", "ControlPlaneError", "bin_dir", "free_port", "stop_process", "temp_namespace", "tools_dir", "wait_for"]
