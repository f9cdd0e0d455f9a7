"""Helpers for the chart tests: locate helm/ct, render the chart, index the objects."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

from tests.kube import bin_dir

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "mcp-operator"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
CC_API = "metacontroller.k8s.io/v1alpha1/CompositeController"
SM_API = "monitoring.coreos.com/v1/ServiceMonitor"


def tool(name: str) -> str | None:
    """Path of a Go-built tool (helm, ct, kubectl) or a venv tool (yamllint, yamale, hadolint)."""
    for d in (bin_dir(), REPO / ".venv" / "bin"):
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


def tool_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(bin_dir()), str(REPO / ".venv" / "bin"), env.get("PATH", "")])
    # Keep helm's caches and config out of the user's home.
    env.setdefault("HELM_CACHE_HOME", str(REPO / ".state" / "helm" / "cache"))
    env.setdefault("HELM_CONFIG_HOME", str(REPO / ".state" / "helm" / "config"))
    env.setdefault("HELM_DATA_HOME", str(REPO / ".state" / "helm" / "data"))
    if extra:
        env.update(extra)
    return env


def helm(*args: str, check: bool = True, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    exe = tool("helm")
    if exe is None:
        raise RuntimeError("helm is not built: run scripts/build-tools.sh helm")
    r = subprocess.run([exe, *args], capture_output=True, text=True, env=env or tool_env(), timeout=timeout, cwd=REPO)
    if check and r.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed ({r.returncode}):\n{r.stderr}")
    return r


def render(
    *values_files: Path | str,
    sets: tuple[str, ...] = (),
    api_versions: tuple[str, ...] = (CC_API,),
    namespace: str = "mcp-system",
    release: str = "mcp",
    show_only: str | None = None,
) -> list[dict]:
    args = ["template", release, str(CHART), "--namespace", namespace]
    for f in values_files:
        args += ["-f", str(f)]
    for s in sets:
        args += ["--set", s]
    for a in api_versions:
        args += ["--api-versions", a]
    if show_only:
        args += ["--show-only", show_only]
    out = helm(*args).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in by_kind(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {[d['metadata']['name'] for d in found]}"
    return found[0]
