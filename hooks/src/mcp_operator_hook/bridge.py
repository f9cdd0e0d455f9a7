"""Rendering of a stdio MCPServer run behind the mcp-bridge (pure).

The contract with the bridge (package ``bridge/``, image ``mcp-bridge``):

* command: ``mcp-bridge --port <spec.port> --path <spec.mcpPath> --max-sessions <N>
  --session-idle-timeout <S> -- <stdio command...>``; the bridge serves streamable HTTP and starts
  the stdio command once per MCP session.
* the stdio command: ``npx -y <name>@<version> <args...>`` (npm) or ``uvx <name>==<version>
  <args...>`` (pypi) for ``spec.package``, else ``spec.command + spec.args`` (an image built
  FROM mcp-bridge that contains the server).
* image: ``spec.image``, else the installation's bridge image (``$MCP_BRIDGE_IMAGE`` of the hook,
  which the chart sets from ``bridge.image``), else ``mcp-bridge:latest``.
* env: ``POD_IP`` (downward API; the bridge advertises it in signed session ids so that another
  replica can forward a session to its owner), ``MCP_BRIDGE_SESSION_KEY`` (Secret
  ``<name>-bridge``, key ``session-key``; the HMAC key of those ids, shared by the replicas),
  ``HOME``/``npm_config_cache``/``UV_CACHE_DIR`` under the writable emptyDirs (/tmp, /cache): the
  root filesystem stays read-only.
* probes: ``/healthz`` (liveness) and ``/readyz`` (readiness) on the MCP port.

The session key is random, generated here once (when no Secret is observed) and afterwards
re-emitted from the observed Secret, so every sync answers the same key for the server's
lifetime. It is never written to status or logs.
"""

from __future__ import annotations

import base64
import os
import secrets

from . import constants as C


def secret_name(name: str) -> str:
    return name + C.BRIDGE_SECRET_SUFFIX


def default_image() -> str:
    """The installation's bridge image: $MCP_BRIDGE_IMAGE of the hook process (set by the chart),
    else mcp-bridge:latest. Fixed for the process's lifetime, like the rest of its config."""
    return os.environ.get(C.ENV_BRIDGE_IMAGE, "").strip() or C.BRIDGE_IMAGE


def image(spec: dict) -> str:
    """spec.image (built FROM mcp-bridge) or the default bridge image."""
    return spec.get("image") or default_image()


def package_command(package: dict) -> list[str]:
    """The pinned package's stdio command line: npx for npm, uvx for PyPI."""
    args = list(package.get("args") or [])
    if package["registry"] == C.REGISTRY_NPM:
        return ["npx", "-y", f"{package['name']}@{package['version']}", *args]
    return ["uvx", f"{package['name']}=={package['version']}", *args]


def stdio_command(spec: dict) -> list[str]:
    """The stdio server's command line (package, else command + args)."""
    if spec.get("package"):
        return package_command(spec["package"])
    return [*(spec.get("command") or []), *(spec.get("args") or [])]


def bridge_command(spec: dict) -> list[str]:
    """The bridge container's command line (see the module docstring)."""
    stdio = spec.get("stdio") or {}
    return [
        C.BRIDGE_BINARY,
        "--port", str(spec["port"]),
        "--path", spec.get("mcpPath") or C.DEFAULT_MCP_PATH,
        "--max-sessions", str(stdio.get("maxSessionsPerPod", C.DEFAULT_MAX_SESSIONS_PER_POD)),
        "--session-idle-timeout", str(stdio.get("sessionIdleTimeoutSeconds",
                                                C.DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS)),
        "--",
        *stdio_command(spec),
    ]


def runtime_env() -> list[dict]:
    """HOME and the npm/uv caches on the writable emptyDirs (package runners need them)."""
    return [{"name": k, "value": v} for k, v in C.BRIDGE_ENV]


def bridge_env(name: str) -> list[dict]:
    """Env only the bridge needs: the session-signing key (POD_IP is an operator default of
    every server container, see children.env_list)."""
    return [
        {"name": C.ENV_BRIDGE_SESSION_KEY,
         "valueFrom": {"secretKeyRef": {"name": secret_name(name), "key": C.BRIDGE_SECRET_KEY}}},
    ]


def cache_volume() -> dict:
    return {"name": C.CACHE_VOLUME, "emptyDir": {}}


def cache_mount() -> dict:
    return {"name": C.CACHE_VOLUME, "mountPath": C.CACHE_MOUNT_PATH}


def probes() -> tuple[dict, dict]:
    """Liveness and readiness of the bridge itself (it answers them without a stdio process)."""
    return ({"httpGet": {"path": C.BRIDGE_LIVENESS_PATH, "port": C.PORT_NAME}, **C.LIVENESS_PROBE},
            {"httpGet": {"path": C.BRIDGE_READINESS_PATH, "port": C.PORT_NAME}, **C.READINESS_PROBE})


def new_session_key() -> str:
    """32 random bytes, base64url (the Secret's data then base64-encodes this text)."""
    return secrets.token_urlsafe(32)


def observed_key_data(observed: dict | None) -> str | None:
    """The observed Secret's ``data.session-key`` (base64 text), if it is well formed."""
    if not isinstance(observed, dict):
        return None
    value = (observed.get("data") or {}).get(C.BRIDGE_SECRET_KEY) if isinstance(observed.get("data"), dict) else None
    if not isinstance(value, str) or not value:
        return None
    try:
        base64.b64decode(value, validate=True)
    except ValueError:
        return None
    return value


def secret(name: str, namespace: str, labels: dict, observed: dict | None) -> dict:
    """The Secret <name>-bridge: the observed key re-emitted, or a new one when none exists."""
    data = observed_key_data(observed)
    if data is None:
        data = base64.b64encode(new_session_key().encode("ascii")).decode("ascii")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": secret_name(name), "namespace": namespace, "labels": dict(labels)},
        "type": "Opaque",
        "data": {C.BRIDGE_SECRET_KEY: data},
    }
