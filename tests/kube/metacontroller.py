"""The real Metacontroller (v4.17.2, built by `scripts/build-tools.sh metacontroller`), run out of
cluster against a control plane. Shared by the end-to-end tests, the journey, `make demo`,
bench/fleet and the pod runner.

    mc = MetacontrollerProcess.start(cp, [cc], log_path, workers=5, qps=50, burst=100)
    ...
    mc.stop()

- `binary()`: `$METACONTROLLER_BIN`, else `<tools>/bin/metacontroller` (honours MCP_TOOLS_DIR).
- `crds_file()`: the release's own CRDs (`manifests/production/metacontroller-crds-v1.yaml`),
  copied by build-tools.sh to `<tools>/share/metacontroller/`, found relative to the binary.
- `args()`: the command line; `--target-label-selector` scopes one instance to the
  CompositeControllers carrying its label, so concurrent runs (and the chart tests' own
  CompositeControllers in a shared cluster) never reconcile each other's objects.
- Out of cluster a `webhook.service` cannot be resolved: `rewrite_hook_urls()` turns it into a
  `url`, or give the process `HTTP_PROXY` of a `ServiceProxy` (tests/kube/svcproxy.py), which
  resolves `<svc>.<ns>[.svc...]` the way cluster DNS would.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

import yaml

from .controlplane import bin_dir
from .process import stop_process

APPLY_STRATEGIES = ("dynamic-apply", "server-side-apply")
DEFAULT_APPLY_STRATEGY = "dynamic-apply"  # Metacontroller's own default (client-side 3-way merge)
CRD_NAMES = ("compositecontrollers", "decoratorcontrollers", "controllerrevisions")
# Label put on the CompositeControllers one instance runs (its --target-label-selector).
INSTANCE_LABEL = "mcp-operator.dev/metacontroller-instance"
# deploy/compositecontroller.yaml writes its webhook URLs as ${HOOK_BASE_URL}/<hook>
PLACEHOLDER = "${HOOK_BASE_URL}"


class MetacontrollerMissing(RuntimeError):
    pass


def binary() -> Path:
    """The metacontroller binary; MetacontrollerMissing (with the build command) when absent."""
    path = Path(os.environ.get("METACONTROLLER_BIN") or bin_dir() / "metacontroller")
    if not path.is_file():
        raise MetacontrollerMissing(f"no metacontroller binary at {path}: run `scripts/build-tools.sh metacontroller`")
    return path


def crds_file(bin_path: Path | None = None) -> Path:
    """Metacontroller's CRDs from its release, beside the binary's tool directory."""
    bin_path = bin_path or binary()
    for base in (bin_path.parent.parent, bin_path.resolve().parent.parent):
        f = base / "share" / "metacontroller" / "metacontroller-crds-v1.yaml"
        if f.is_file():
            return f
    raise MetacontrollerMissing(f"no share/metacontroller/metacontroller-crds-v1.yaml beside {bin_path}: "
                                "run `scripts/build-tools.sh metacontroller`")


def install_crds(cp, timeout: float = 60) -> None:
    """Apply Metacontroller's CRDs (server-side, idempotent) and wait until they are served."""
    cp.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crds_file()))
    for crd in CRD_NAMES:
        cp.kubectl("wait", "--for=condition=Established", f"crd/{crd}.metacontroller.k8s.io", f"--timeout={int(timeout)}s")
    deadline = time.monotonic() + timeout
    while cp.kubectl("get", "compositecontrollers", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise RuntimeError("compositecontrollers not discoverable after their CRD was established")
        time.sleep(0.3)


def load_controllers(path: str | Path) -> list[dict]:
    """All CompositeController documents of a (multi-document) YAML file."""
    with open(path) as fh:
        return [d for d in yaml.safe_load_all(fh) if d and d.get("kind") == "CompositeController"]


def rewrite_hook_urls(cc: dict, base_url: str) -> dict:
    """A copy of cc whose hooks call `base_url + <the hook's path>`: `webhook.service` + `path`, a
    full `url`, or `${HOOK_BASE_URL}/path` becomes `url`; timeout, version and the rest are kept."""
    cc = copy.deepcopy(cc)
    base = base_url.rstrip("/")
    for hook in ((cc.get("spec") or {}).get("hooks") or {}).values():
        wh = (hook or {}).get("webhook")
        if not wh:
            continue
        url = wh.get("url")
        if url and PLACEHOLDER in url:
            path = url.split(PLACEHOLDER, 1)[1] or "/"
        elif url:
            path = urllib.parse.urlsplit(url).path
        else:
            path = wh.get("path") or "/"
        wh.pop("service", None)
        wh.pop("path", None)
        wh["url"] = base + path
    return cc


def args(kubeconfig: str | None, *, workers: int = 5, qps: float | None = None, burst: int | None = None,
         apply_strategy: str = DEFAULT_APPLY_STRATEGY, target_label_selector: str = "",
         metrics_address: str = "0", health_address: str = "0", log_level: int = 4,
         discovery_interval: str = "2s", extra: tuple[str, ...] = ()) -> list[str]:
    """The command line of one out-of-cluster instance (flags of pkg/cmd/metacontroller/main.go)."""
    if apply_strategy not in APPLY_STRATEGIES:
        raise ValueError(f"apply strategy {apply_strategy!r}: expected one of {APPLY_STRATEGIES}")
    out = [str(binary())]
    if kubeconfig:
        out.append(f"--kubeconfig={kubeconfig}")
    out += [f"--discovery-interval={discovery_interval}", f"--workers={workers}",
            f"--metrics-address={metrics_address}", f"--health-probe-bind-address={health_address}",
            f"--zap-log-level={log_level}", f"--apply-strategy={apply_strategy}"]
    if qps is not None:
        out.append(f"--client-go-qps={qps:g}")
    if burst is not None:
        out.append(f"--client-go-burst={burst}")
    if target_label_selector:
        out.append(f"--target-label-selector={target_label_selector}")
    return out + list(extra)


class MetacontrollerProcess:
    """One real Metacontroller process and the CompositeControllers it was started for."""

    def __init__(self, proc: subprocess.Popen, log_path: Path, controllers: list[dict], instance: str,
                 apply_strategy: str):
        self.proc, self.log_path, self.controllers = proc, log_path, controllers
        self.instance, self.apply_strategy = instance, apply_strategy

    @property
    def controller(self) -> dict:
        return self.controllers[0]

    @classmethod
    def start(cls, cp, controllers: list[dict], log_path: Path, *, workers: int = 5, qps: float | None = None,
              burst: int | None = None, apply_strategy: str | None = None, env: dict | None = None,
              extra: tuple[str, ...] = ()) -> "MetacontrollerProcess":
        """Install the CRDs, create `controllers` labelled for a fresh instance and start the binary
        scoped to them. `apply_strategy` defaults to $MCP_METACONTROLLER_APPLY_STRATEGY or
        dynamic-apply."""
        apply_strategy = apply_strategy or os.environ.get("MCP_METACONTROLLER_APPLY_STRATEGY") or DEFAULT_APPLY_STRATEGY
        install_crds(cp)
        instance = uuid.uuid4().hex[:10]
        ccs = []
        for cc in controllers:
            cc = copy.deepcopy(cc)
            cc["metadata"].setdefault("labels", {})[INSTANCE_LABEL] = instance
            cp.kubectl("apply", "-f", "-", input=json.dumps(cc))
            ccs.append(cc)
        return cls.run(cp, log_path, workers=workers, qps=qps, burst=burst, apply_strategy=apply_strategy,
                       target_label_selector=f"{INSTANCE_LABEL}={instance}", env=env, extra=extra,
                       controllers=ccs, instance=instance)

    @classmethod
    def run(cls, cp, log_path: Path, *, target_label_selector: str, workers: int = 5, qps: float | None = None,
            burst: int | None = None, apply_strategy: str | None = None, env: dict | None = None,
            extra: tuple[str, ...] = (), controllers: list[dict] | None = None,
            instance: str = "") -> "MetacontrollerProcess":
        """Start the binary for the CompositeControllers already in the cluster that match
        `target_label_selector` (for example the ones a Helm release created)."""
        apply_strategy = apply_strategy or os.environ.get("MCP_METACONTROLLER_APPLY_STRATEGY") or DEFAULT_APPLY_STRATEGY
        cmd = args(cp.kubeconfig, workers=workers, qps=qps, burst=burst, apply_strategy=apply_strategy,
                   target_label_selector=target_label_selector, extra=extra)
        log = open(log_path, "w")
        try:
            proc = subprocess.Popen(cmd, env={**cp.env(), **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        finally:
            log.close()
        mc = cls(proc, log_path, controllers or [], instance, apply_strategy)
        time.sleep(0.5)
        if not mc.alive():
            raise RuntimeError(f"metacontroller exited ({proc.returncode}):\n{mc.tail()}")
        return mc

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def log_lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def stop(self, cp=None, grace: float = 15) -> int | None:
        """Stop the process; with `cp`, also delete the CompositeControllers it was started for."""
        code = stop_process(self.proc, grace)
        if cp is not None:
            for cc in self.controllers:
                cp.kubectl("delete", "compositecontroller", cc["metadata"]["name"], "--ignore-not-found",
                           "--wait=false", check=False)
        return code


# --- the chart's Metacontroller pod, run by the pod runner (tests/kube/podrunner.py) ---------------
IMAGE = "ghcr.io/metacontroller/metacontroller"


def is_image(image: str) -> bool:
    """Whether a container image is Metacontroller's (any tag or digest)."""
    return image.split("@", 1)[0].rsplit(":", 1)[0] == IMAGE if "/" in image else False


def pod_command(container: dict, port: int, local_port: int) -> list[str]:
    """The local command for a Metacontroller container: the built binary with the container's args,
    every listen address (`--*-address=:P`, health and metrics) moved to loopback: the pod's first
    port to `local_port` (where the pod runner's kwok PortForward points), the others to free ports,
    so replicas never clash. The kubeconfig comes from KUBECONFIG (the pod's ServiceAccount)."""
    from .controlplane import free_port

    out = [str(binary())]
    for arg in container.get("args") or []:
        name, sep, value = arg.partition("=")
        if sep and name.startswith("--") and name.endswith("-address") and ":" in value:
            p = int(value.rsplit(":", 1)[1] or 0)
            arg = f"{name}=127.0.0.1:{local_port if p and p == port else free_port()}"
        out.append(arg)
    return out
