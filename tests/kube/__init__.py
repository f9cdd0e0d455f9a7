"""Local Kubernetes control plane for tests, demos and benchmarks (see controlplane.py)."""

from .controlplane import ControlPlane, ControlPlaneError, bin_dir, free_port, tools_dir
from .wait import wait_for

__all__ = ["ControlPlane", "ControlPlaneError", "bin_dir", "free_port", "tools_dir", "wait_for"]
