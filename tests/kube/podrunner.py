"""Runs the container of a (kwok) pod as a local process: the stand-in for a container runtime.

kwok marks pods Running without running anything. For the user journey we start what the pod
describes, from the API's view of it: the container's env (values, fieldRefs, ConfigMap and
Secret refs), its ConfigMap volumes, and a token of its ServiceAccount. Three honest deviations
from a kubelet, all forced by having no container runtime:
- the image is mapped to a local command (``IMAGE_COMMANDS``), not pulled;
- volume mountPaths are re-rooted under a temp dir, and env values that point into a mount are
  rewritten to match (``/etc/mcp/config.json`` -> ``<root>/etc/mcp/config.json``);
- the process listens on a free loopback port instead of the pod IP; a kwok PortForward rule
  sends the pod's port there, so `kubectl port-forward` reaches it through the API server.
"""

from __future__ import annotations

import datetime
import json
import threading
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .controlplane import ControlPlane, free_port

VENV_BIN = Path(sys.executable).parent
# image repository (without tag) -> local command; what the Dockerfile's ENTRYPOINT runs
IMAGE_COMMANDS = {"mcp-k8s-server": [str(VENV_BIN / "mcp-k8s-server")]}


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

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.root, ignore_errors=True)


def _write_cri_log(pipe, stream: str, path: Path) -> None:
    """Copies a process stream into ``path`` in the CRI log format, as a container runtime does."""
    with open(path, "a", buffering=1) as out:
        for raw in iter(pipe.readline, b""):
            now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            out.write(f"{now} {stream} F {raw.decode(errors='replace').rstrip(chr(10))}\n")


def _image_command(image: str) -> list[str]:
    repo = image.rsplit("@", 1)[0]
    if ":" in repo.rsplit("/", 1)[-1]:
        repo = repo.rsplit(":", 1)[0]
    key = repo.rsplit("/", 1)[-1]
    if key not in IMAGE_COMMANDS:
        raise ValueError(f"no local command for image {image!r}; known: {sorted(IMAGE_COMMANDS)}")
    return list(IMAGE_COMMANDS[key])


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
                import base64

                value = base64.b64decode(value).decode()
            env[e["name"]] = value
        elif "resourceFieldRef" in src:
            env[e["name"]] = "0"
        else:
            env[e["name"]] = ""
    return env


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
        vol = volumes.get(vm["name"], {})
        if "configMap" in vol:
            cm = json.loads(cp.kubectl("get", "configmap", vol["configMap"]["name"], "-n", namespace, "-o", "json").stdout)
            for key, value in cm.get("data", {}).items():
                (local / key).write_text(value)

    env = resolve_env(cp, pod, container)
    for mount_path, local in sorted(mounts.items(), key=lambda kv: -len(kv[0])):
        for k, v in env.items():
            if v == mount_path or v.startswith(mount_path.rstrip("/") + "/"):
                env[k] = str(local) + v[len(mount_path.rstrip("/")) :]

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
    if "MCP_PORT" in env:
        env["MCP_PORT"] = str(local_port)
    env.setdefault("MCP_HOST", "127.0.0.1")

    proc_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(root),
        "TMPDIR": str(mounts.get("/tmp", root)),
        "KUBECONFIG": str(kubeconfig),
        **env,
    }
    command = container.get("command") or _image_command(container["image"])
    command = command + container.get("args", [])
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
    return RunningPod(pod_name, namespace, port, local_port, proc, root, log, {"env": env})
