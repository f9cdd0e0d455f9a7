"""Runs the container of a (kwok) pod as a local process: the stand-in for a container runtime.

kwok marks pods Running without running anything. For the user journey we start what the pod
describes, from the API's view of it: the container's env (values, fieldRefs, ConfigMap and
Secret refs, envFrom), its ConfigMap and Secret volumes, and a token of its ServiceAccount. Three honest deviations
from a kubelet, all forced by having no container runtime:
- the image is not pulled: its command and env come from the Dockerfile target of that name, run
  from this venv (where the packages are installed the way the Dockerfile installs them);
- volume mountPaths are re-rooted under a temp dir, and env values that point into a mount are
  rewritten to match (``/etc/mcp/config.json`` -> ``<root>/etc/mcp/config.json``);
- the process listens on a free loopback port instead of the pod IP; a kwok PortForward rule
  sends the pod's port there, so `kubectl port-forward` reaches it through the API server.
"""

from __future__ import annotations

import base64
import datetime
import json
import threading
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .controlplane import ControlPlane, free_port
from .process import stop_process

VENV_BIN = Path(sys.executable).parent
DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


def image_config(image: str) -> tuple[list[str], dict[str, str]]:
    """The command and env the Dockerfile gives the image, found by its OCI title label, which is
    the image name the chart and the samples use (``mcp-k8s-server``, ``mcp-operator-hook``).
    The command runs from this venv, where the packages are installed as the Dockerfile installs them."""
    from tests.docker import dockerfile as df

    repo = image.rsplit("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    name = last.rsplit(":", 1)[0] if ":" in last else last
    parsed = df.parse(DOCKERFILE)
    for stage in parsed.stages:
        meta = parsed.metadata(stage.name)
        if meta.labels.get("org.opencontainers.image.title") != name:
            continue
        command = meta.command
        if command and (VENV_BIN / command[0]).exists():
            command[0] = str(VENV_BIN / command[0])
        # Image paths (the /opt/venv the image installs into) are this venv here.
        env = {k: v for k, v in meta.env.items() if not v.startswith("/opt/venv") and k != "PATH"}
        return command, env
    raise ValueError(f"no Dockerfile target is labelled with title {name!r} (image {image!r})")


def image_or_host_command(container: dict) -> tuple[list[str], dict[str, str]]:
    """Our images (a Dockerfile target) give the command and env; any other image (a third-party
    one such as ``node:22-bookworm-slim``) needs the container's own ``command``, which then runs
    on this host: ``npx`` from the host's Node, ``uvx`` from the venv's pinned uv. The image's own
    files are not available, so a third-party container without a command cannot run here."""
    try:
        return image_config(container["image"])
    except ValueError:
        if container.get("command"):
            return [], {}
        raise ValueError(
            f"image {container['image']!r} is not built by this repository's Dockerfile and the container "
            "has no command: the pod runner can only run a third-party image by its command (npx, uvx, ...)"
        ) from None


# Host settings a pod on this machine's network would be given (proxies, CA bundles): package
# runners (npx, uvx) fetch from the registries through them.
_NETWORK_ENV = re.compile(r"CERT|PROXY|_CA_|CA_BUNDLE", re.I)


def adapt_to_host(container: dict, command: list[str], env: dict[str, str], local_port: int) -> tuple[list[str], dict[str, str]]:
    """Host-side adjustments for processes that are not our Python servers.

    - ``mcp-bridge`` (the bridge image): ``--port`` moves to the free loopback port, it listens on
      127.0.0.1 only, and advertises 127.0.0.1:<port> in its session ids (the pod IP is kwok's
      fake one), so replicas forward sessions to each other over loopback.
    - every process gets the host's network settings (``_NETWORK_ENV``) unless the pod sets them.
    """
    env = {**{k: v for k, v in os.environ.items() if _NETWORK_ENV.search(k)}, **env}
    if command and os.path.basename(command[0]) == "mcp-bridge":
        head, sep, tail = (command[: command.index("--")], ["--"], command[command.index("--") + 1 :]) if "--" in command else (command, [], [])
        head = list(head)
        if "--port" in head:
            head[head.index("--port") + 1] = str(local_port)
        else:
            head += ["--port", str(local_port)]
        head += ["--host", "127.0.0.1"]
        command = head + sep + tail
        env["MCP_BRIDGE_ADVERTISE_ADDRESS"] = f"127.0.0.1:{local_port}"
    return command, env


@dataclass
class RunningPod:
    name: str
    namespace: str
    port: int  # the container port, as the pod declares it
    local_port: int  # where the local process listens
    proc: subprocess.Popen
    root: Path
    log: Path
    extra: dict = field(default_factory=dict)
    container_name: str = ""
    on_stop: list = field(default_factory=list)  # callables run after the process stopped

    def stop(self) -> None:
        for sidecar in self.extra.get("sidecars", []):
            stop_process(sidecar, grace=10)
        stop_process(self.proc, grace=10)
        for fn in self.on_stop:
            fn()
        shutil.rmtree(self.root, ignore_errors=True)


def _write_cri_log(pipe, stream: str, path: Path) -> None:
    """Copies a process stream into ``path`` in the CRI log format, as a container runtime does."""
    with open(path, "a", buffering=1) as out:
        for raw in iter(pipe.readline, b""):
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            out.write(f"{now} {stream} F {raw.decode(errors='replace').rstrip(chr(10))}\n")


def _field_ref(pod: dict, path: str) -> str:
    meta = pod["metadata"]
    simple = {
        "metadata.name": meta["name"],
        "metadata.namespace": meta["namespace"],
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": pod["spec"].get("nodeName", ""),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
        "status.podIP": pod.get("status", {}).get("podIP", ""),
        "status.hostIP": pod.get("status", {}).get("hostIP", ""),
    }
    if path in simple:
        return simple[path]
    for prefix in ("metadata.labels['", "metadata.annotations['"):
        if path.startswith(prefix):
            key = path[len(prefix) : -2]
            return meta.get(prefix.split(".")[1].split("[")[0], {}).get(key, "")
    raise ValueError(f"unsupported fieldRef {path}")


def resolve_env(cp: ControlPlane, pod: dict, container: dict) -> dict[str, str]:
    ns = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        src = e.get("valueFrom", {})
        if "fieldRef" in src:
            env[e["name"]] = _field_ref(pod, src["fieldRef"]["fieldPath"])
        elif "configMapKeyRef" in src or "secretKeyRef" in src:
            kind, ref = ("configmap", src["configMapKeyRef"]) if "configMapKeyRef" in src else ("secret", src["secretKeyRef"])
            obj = json.loads(cp.kubectl("get", kind, ref["name"], "-n", ns, "-o", "json").stdout)
            value = obj.get("data", {}).get(ref["key"], "")
            if kind == "secret":
                value = base64.b64decode(value).decode()
            env[e["name"]] = value
        elif "resourceFieldRef" in src:
            env[e["name"]] = "0"
        else:
            env[e["name"]] = ""
    return env


def _object_data(cp: ControlPlane, namespace: str, kind: str, name: str, optional: bool) -> dict[str, str] | None:
    """A ConfigMap's data or a Secret's decoded data; None when it is missing and optional (as the
    kubelet starts the container then), else the kubectl error."""
    r = cp.kubectl("get", kind, name, "-n", namespace, "-o", "json", check=not optional)
    if r.returncode != 0:
        return None
    obj = json.loads(r.stdout)
    data = obj.get("data") or {}
    if kind == "secret":
        return {k: base64.b64decode(v).decode() for k, v in data.items()}
    return dict(data)


_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


def resolve_env_from(cp: ControlPlane, pod: dict, container: dict) -> dict[str, str]:
    """``envFrom``: every key of each ConfigMap/Secret (with its prefix) in order, later sources
    winning; keys that are not valid variable names are skipped, as the kubelet does. ``env``
    entries override these (the caller merges them after)."""
    ns = pod["metadata"]["namespace"]
    env: dict[str, str] = {}
    for src in container.get("envFrom", []):
        kind, ref = ("configmap", src["configMapRef"]) if "configMapRef" in src else ("secret", src["secretRef"])
        data = _object_data(cp, ns, kind, ref["name"], bool(ref.get("optional")))
        for key, value in (data or {}).items():
            name = src.get("prefix", "") + key
            if _ENV_NAME.match(name):
                env[name] = value
    return env


def write_volume_files(cp: ControlPlane, namespace: str, volume: dict, local: Path) -> None:
    """The files a ConfigMap or Secret volume shows: every key, or only ``items`` at their paths
    (file modes are not reproduced; Secret files are written owner-only)."""
    for kind, field_name, name_key in (("configmap", "configMap", "name"), ("secret", "secret", "secretName")):
        src = volume.get(field_name)
        if not src:
            continue
        data = _object_data(cp, namespace, kind, src[name_key], bool(src.get("optional"))) or {}
        items = src.get("items") or [{"key": k, "path": k} for k in data]
        for item in items:
            if item["key"] not in data:
                continue
            target = local / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]])
            if kind == "secret":
                target.chmod(0o600)


def run_pod(cp: ControlPlane, namespace: str, pod_name: str, container_name: str | None = None) -> RunningPod:
    pod = json.loads(cp.kubectl("get", "pod", pod_name, "-n", namespace, "-o", "json").stdout)
    containers = pod["spec"]["containers"]
    container = next((c for c in containers if c["name"] == container_name), containers[0])
    root = Path(tempfile.mkdtemp(prefix=f"pod-{pod_name}-"))

    # Volumes: ConfigMaps are written out; emptyDirs become empty dirs; the SA token is requested.
    mounts: dict[str, Path] = {}
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    for vm in container.get("volumeMounts", []):
        local = root / vm["mountPath"].lstrip("/")
        local.mkdir(parents=True, exist_ok=True)
        mounts[vm["mountPath"]] = local
        write_volume_files(cp, namespace, volumes.get(vm["name"], {}), local)

    metacontroller = _is_metacontroller(container)
    image_command, image_env = ([], {}) if metacontroller else image_or_host_command(container)
    env = {**image_env, **resolve_env_from(cp, pod, container), **resolve_env(cp, pod, container)}
    longest_first = sorted(mounts.items(), key=lambda kv: -len(kv[0]))
    for k, v in env.items():  # one rewrite per value, by the deepest mount that holds it
        for mount_path, local in longest_first:
            if v == mount_path or v.startswith(mount_path.rstrip("/") + "/"):
                env[k] = str(local) + v[len(mount_path.rstrip("/")) :]
                break

    # The ServiceAccount's identity, as a pod-bound token in a kubeconfig (no in-cluster network).
    sa = pod["spec"].get("serviceAccountName", "default")
    token = cp.kubectl(
        "create", "token", sa, "-n", namespace, "--bound-object-kind=Pod",
        f"--bound-object-name={pod_name}", f"--bound-object-uid={pod['metadata']['uid']}",
    ).stdout.strip()
    kubeconfig = root / "serviceaccount.kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": cp.server, "certificate-authority": str(cp.state_dir / "pki/ca.crt")}}],
                "users": [{"name": "sa", "user": {"token": token}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "sa", "namespace": namespace}}],
                "current-context": "c",
            }
        )
    )

    ports = [p["containerPort"] for p in container.get("ports", [])]
    port = ports[0] if ports else 0
    local_port = free_port()
    # The process listens on a free loopback port: env values naming the container port move there.
    for k, v in env.items():
        if port and v == str(port):
            env[k] = str(local_port)
        elif port and re.fullmatch(rf"(0\.0\.0\.0|\[::\]|)?:{port}", v):
            env[k] = f"127.0.0.1:{local_port}"
    env.setdefault("MCP_HOST", "127.0.0.1")

    proc_env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(root),
        "TMPDIR": str(mounts.get("/tmp", root)),
        **({"KUBECONFIG": str(kubeconfig)} if has_token(pod, container) else {}),
        **env,
    }
    command = container.get("command") or image_command
    command = command + container.get("args", [])
    on_stop: list = []
    if metacontroller:
        command, proxy_env, on_stop = _metacontroller_command(cp, container, port, local_port)
        proc_env.update(proxy_env)
    else:
        command, proc_env = adapt_to_host(container, command, proc_env, local_port)
    log = root / "container.log"
    proc = subprocess.Popen(
        command,
        env=proc_env,
        cwd=root,
        stdin=subprocess.PIPE if container.get("stdin") else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    for stream, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        threading.Thread(target=_write_cri_log, args=(pipe, stream, log), daemon=True).start()
    running = RunningPod(pod_name, namespace, port, local_port, proc, root, log, {"env": env},
                         container_name=container["name"], on_stop=on_stop)
    try:  # a pod that fails half-started (a kwok rule, its sidecar) leaves no process behind
        if port:
            forward = {
                "apiVersion": "kwok.x-k8s.io/v1alpha1",
                "kind": "PortForward",
                "metadata": {"name": pod_name, "namespace": namespace},
                "spec": {"forwards": [{"ports": [port], "target": {"address": "127.0.0.1", "port": local_port}}]},
            }
            cp.kubectl("apply", "-f", "-", input=json.dumps(forward))
            logs = {
                "apiVersion": "kwok.x-k8s.io/v1alpha1",
                "kind": "Logs",
                "metadata": {"name": pod_name, "namespace": namespace},
                "spec": {"logs": [{"containers": [container["name"]], "logsFile": str(log), "follow": True}]},
            }
            cp.kubectl("apply", "-f", "-", input=json.dumps(logs))
        start_prober(cp, pod, running, kubeconfig)
    except BaseException:
        running.stop()
        raise
    return running


# --- the mcp-prober sidecar ------------------------------------------------------------------------
PROBER_CONTAINER = "mcp-prober"  # mcp_operator_hook.prober.PROBER_CONTAINER


def has_token(pod: dict, container: dict) -> bool:
    """Whether a kubelet would give ``container`` its ServiceAccount's token: the pod automounts
    it (automountServiceAccountToken not false), or the container mounts a projected volume with
    a serviceAccountToken source."""
    if pod["spec"].get("automountServiceAccountToken") is not False:
        return True
    volumes = {v["name"]: v for v in pod["spec"].get("volumes", [])}
    for vm in container.get("volumeMounts", []):
        sources = (volumes.get(vm["name"], {}).get("projected") or {}).get("sources") or []
        if any("serviceAccountToken" in src for src in sources):
            return True
    return False


def start_prober(cp: ControlPlane, pod: dict, server: RunningPod, kubeconfig: Path) -> subprocess.Popen | None:
    """Starts the pod's mcp-prober container (when it has one) as a local process beside the
    server: its probe URL is moved to the server's local port, its own /readyz to a free one
    (``server.extra["prober_url"]``), and it gets the pod's token kubeconfig (it mounts the
    projected token). kwok still decides the pod's Ready condition; the prober's answer is
    what a kubelet would read."""
    container = next((c for c in pod["spec"]["containers"] if c["name"] == PROBER_CONTAINER), None)
    if container is None or server.container_name == PROBER_CONTAINER:
        return None
    image_command, image_env = image_config(container["image"])
    env = {**image_env, **resolve_env(cp, pod, container)}
    if server.port:
        env["MCP_PROBE_URL"] = re.sub(rf"^http://127\.0\.0\.1:{server.port}(?=/|$)",
                                      f"http://127.0.0.1:{server.local_port}", env.get("MCP_PROBE_URL", ""))
    port = free_port()
    env.update({"MCP_PROBER_PORT": str(port), "MCP_PROBER_HOST": "127.0.0.1"})
    proc_env = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(server.root),
                **({"KUBECONFIG": str(kubeconfig)} if has_token(pod, container) else {}), **env}
    log = server.root / "mcp-prober.log"
    proc = subprocess.Popen((container.get("command") or image_command) + container.get("args", []), env=proc_env,
                            cwd=server.root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for stream, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
        threading.Thread(target=_write_cri_log, args=(pipe, stream, log), daemon=True).start()
    server.extra.setdefault("sidecars", []).append(proc)
    server.extra["prober_url"] = f"http://127.0.0.1:{port}"
    server.extra["prober_log"] = log
    return proc


def _is_metacontroller(container: dict) -> bool:
    from . import metacontroller

    return metacontroller.is_image(container["image"])


def _metacontroller_command(cp: ControlPlane, container: dict, port: int, local_port: int):
    """Metacontroller's image is the real binary built into the tool cache, run with the pod's args
    (listen addresses moved to loopback) and, since no cluster DNS resolves `webhook.service` out
    here, HTTP_PROXY of its own ServiceProxy (tests/kube/svcproxy.py), stopped with the pod."""
    from . import metacontroller
    from .svcproxy import ServiceProxy

    proxy = ServiceProxy(cp).start()
    return metacontroller.pod_command(container, port, local_port), proxy.env(), [proxy.stop]
