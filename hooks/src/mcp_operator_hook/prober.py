"""The mcp-prober sidecar and what it needs, as parts of an MCPServer's desired children (pure).

For every HTTP-exposed server the pod gets a second container, ``mcp-prober``, that performs the
MCP handshake and tools/list against ``http://127.0.0.1:<port><mcpPath>`` and answers its own
``/readyz`` only when they succeed; its readinessProbe is what makes the pod Ready. It writes
what it found into the ConfigMap ``<name>-inventory``, which the hook renders *without data*
(so it is owned and garbage-collected with the MCPServer; apply never touches the prober's
``data``) and reads back as an observed child: the hook itself does no I/O.

Credentials: a Role ``<name>-prober`` (get/patch on that one ConfigMap by ``resourceNames``,
create on events) bound to the pod's ServiceAccount. The pod sets
``automountServiceAccountToken: false`` and mounts a projected token into the prober only; the
server container gets the token only when ``spec.serviceAccount`` names an identity for it.
Environment names are the contract with ``mcp_prober.config``.
"""

from __future__ import annotations

import json
import os
import re

from . import constants as C
from .spec import is_bridged, serves_http

PROBER_IMAGE = "mcp-prober:latest"  # default; the chart sets $MCP_PROBER_IMAGE from prober.image
ENV_PROBER_IMAGE = "MCP_PROBER_IMAGE"
PROBER_CONTAINER = "mcp-prober"
PROBER_PORT = 9464
PROBER_PORT_FALLBACK = 9465  # when the server itself uses PROBER_PORT
PROBER_PORT_NAME = "probe"
READYZ_PATH = "/readyz"
HEALTHZ_PATH = "/healthz"
INVENTORY_SUFFIX = "-inventory"
ROLE_SUFFIX = "-prober"
INVENTORY_KEY = "inventory.json"
TOKEN_VOLUME = C.PROBER_TOKEN_VOLUME
TOKEN_MOUNT_PATH = C.SA_TOKEN_MOUNT_PATH
CALLER_TOKEN_PATH = "mcp-token"  # file in the token volume: a token for the server's own audience
TOKEN_EXPIRATION_SECONDS = 3607  # what the kubelet's own kube-api-access volume asks for
DEFAULT_MCP_PATH = C.DEFAULT_MCP_PATH
PROBE_INTERVAL = 10
BRIDGED_PROBE_INTERVAL = 60

PROBER_READINESS = {"initialDelaySeconds": 1, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 2}
PROBER_LIVENESS = {"initialDelaySeconds": 10, "periodSeconds": 20, "timeoutSeconds": 5, "failureThreshold": 3}
PROBER_RESOURCES = {"requests": {"cpu": "10m", "memory": "48Mi"}, "limits": {"memory": "128Mi"}}



def enabled(spec: dict) -> bool:
    """The prober runs beside every server reachable over HTTP in its pod: the HTTP transports
    and stdio servers behind the mcp-bridge (never ``expose: attach``)."""
    return serves_http(spec)


def probe_interval(spec: dict) -> int:
    """Seconds between probes once Ready. A probe of a bridged server starts a stdio process
    (one per MCP session), so those are probed less often."""
    return BRIDGED_PROBE_INTERVAL if is_bridged(spec) else PROBE_INTERVAL


def inventory_name(name: str) -> str:
    return name + INVENTORY_SUFFIX


def role_name(name: str) -> str:
    return name + ROLE_SUFFIX


def mcp_path(spec: dict) -> str:
    path = spec.get("mcpPath")
    return path if isinstance(path, str) and path.startswith("/") else DEFAULT_MCP_PATH


def prober_port(spec: dict) -> int:
    return PROBER_PORT_FALLBACK if spec.get("port") == PROBER_PORT else PROBER_PORT


def probe_url(spec: dict) -> str:
    return f"http://127.0.0.1:{spec['port']}{mcp_path(spec)}"


def service_account(spec: dict) -> str:
    return spec.get("serviceAccount") or "default"


def _token_mount() -> dict:
    return {"name": TOKEN_VOLUME, "mountPath": TOKEN_MOUNT_PATH, "readOnly": True}


def token_volume(caller_audience: str | None = None) -> dict:
    """The same projected sources as the kubelet's automatic kube-api-access volume (token, the
    cluster CA, the namespace), so in-cluster client configuration works unchanged; plus, for a
    server that verifies its callers, a token minted for that server's audience (``mcp-token``)."""
    sources: list[dict] = [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_EXPIRATION_SECONDS}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]
    if caller_audience:
        sources.append({"serviceAccountToken": {"path": CALLER_TOKEN_PATH, "audience": caller_audience,
                                                "expirationSeconds": TOKEN_EXPIRATION_SECONDS}})
    return {"name": TOKEN_VOLUME, "projected": {"defaultMode": 420, "sources": sources}}


def image() -> str:
    """The installation's prober image: $MCP_PROBER_IMAGE of the hook process, else
    PROBER_IMAGE. Fixed for the process's lifetime, like the rest of its configuration."""
    return os.environ.get(ENV_PROBER_IMAGE, "").strip() or PROBER_IMAGE


def caller_audience(name: str, namespace: str | None, spec: dict) -> str | None:
    """The audience the prober's token must carry when the server verifies callers with
    TokenReview (``MCP_AUTH_MODE: kubernetes`` in ``spec.config``, mcp-k8s-server's per-caller
    identity): the first of ``MCP_AUTH_AUDIENCES``, else that server's default audience, its
    in-cluster URL (mcp_k8s_server.auth.settings.resource_url; MCP_AUTH_RESOURCE_URL wins). None
    for every other server (the prober then sends no token)."""
    config = spec.get("config") or {}
    if str(config.get("MCP_AUTH_MODE", "")).strip().lower() != "kubernetes":
        return None
    audiences = [a for a in re.split(r"[,\s]+", str(config.get("MCP_AUTH_AUDIENCES") or "")) if a]
    if audiences:
        return audiences[0]
    if config.get("MCP_AUTH_RESOURCE_URL"):
        return str(config["MCP_AUTH_RESOURCE_URL"]).strip()
    if not namespace:
        return None
    return f"http://{name}.{namespace}.svc.cluster.local:{spec['port']}{mcp_path(spec)}"


def container(name: str, spec: dict, caller_token: bool = False) -> dict:
    port = prober_port(spec)
    token_env = [{"name": "MCP_PROBE_TOKEN_FILE", "value": f"{TOKEN_MOUNT_PATH}/{CALLER_TOKEN_PATH}"}] if caller_token else []
    return {
        "name": PROBER_CONTAINER,
        "image": image(),
        "env": [
            {"name": "MCP_PROBE_URL", "value": probe_url(spec)},
            {"name": "MCP_PROBER_PORT", "value": str(port)},
            {"name": "MCP_PROBE_INTERVAL", "value": str(probe_interval(spec))},
            {"name": "MCP_INVENTORY_CONFIGMAP", "value": inventory_name(name)},
            {"name": C.ENV_POD_NAME, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
            {"name": C.ENV_POD_NAMESPACE,
             "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
            *token_env,
        ],
        "ports": [{"name": PROBER_PORT_NAME, "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": READYZ_PATH, "port": PROBER_PORT_NAME}, **PROBER_READINESS},
        "livenessProbe": {"httpGet": {"path": HEALTHZ_PATH, "port": PROBER_PORT_NAME}, **PROBER_LIVENESS},
        "resources": json.loads(json.dumps(PROBER_RESOURCES)),
        "securityContext": json.loads(json.dumps(C.DEFAULT_SECURITY_CONTEXT)),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [_token_mount()],
    }


def add_to_pod(pod_spec: dict, name: str, spec: dict, namespace: str | None = None) -> None:
    """Adds the sidecar, its token volume and the token rule to a rendered pod spec (in place;
    ``pod_spec`` is freshly built by children.deployment)."""
    if not enabled(spec):
        return
    pod_spec["automountServiceAccountToken"] = False
    audience = caller_audience(name, namespace, spec)
    pod_spec["volumes"].append(token_volume(audience))
    if spec.get("serviceAccount"):
        # The user gave the server an identity: it keeps its token (at the usual path).
        server = next(c for c in pod_spec["containers"] if c["name"] == C.CONTAINER_NAME)
        server.setdefault("volumeMounts", []).append(_token_mount())
    pod_spec["containers"].append(container(name, spec, caller_token=audience is not None))


def _labels(name: str, spec: dict) -> dict:
    from .children import labels  # children imports this module

    return labels(name, spec["transport"])


def inventory_configmap(name: str, namespace: str, spec: dict) -> dict:
    """No ``data``: the prober owns it (a merge patch of data alone)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": inventory_name(name), "namespace": namespace, "labels": _labels(name, spec)}}


def role(name: str, namespace: str, spec: dict) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": role_name(name), "namespace": namespace, "labels": _labels(name, spec)},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [inventory_name(name)],
             "verbs": ["get", "patch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
        ],
    }


def role_binding(name: str, namespace: str, spec: dict) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": role_name(name), "namespace": namespace, "labels": _labels(name, spec)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name(name)},
        "subjects": [{"kind": "ServiceAccount", "name": service_account(spec), "namespace": namespace}],
    }


def children(name: str, namespace: str, spec: dict) -> list[dict]:
    """The inventory ConfigMap, Role and RoleBinding (empty for servers without a prober)."""
    if not enabled(spec):
        return []
    return [inventory_configmap(name, namespace, spec), role(name, namespace, spec),
            role_binding(name, namespace, spec)]
