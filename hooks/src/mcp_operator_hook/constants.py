"""Every name, label, port and default the hook decides, in one place.

Tests import these instead of repeating literals. Defaults that the CRD also declares
(transport, port, replicas) are checked against the CRD by tests/hook/test_crd.py.
"""

from __future__ import annotations

# --- the API ------------------------------------------------------------------------------
GROUP = "mcp.example.com"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "MCPServer"
PLURAL = "mcpservers"
CRD_NAME = f"{PLURAL}.{GROUP}"
SHORT_NAME = "mcps"

TRANSPORT_STDIO = "stdio"
TRANSPORT_HTTP = "http"
TRANSPORT_STREAMABLE_HTTP = "streamable-http"
TRANSPORTS = (TRANSPORT_STDIO, TRANSPORT_HTTP, TRANSPORT_STREAMABLE_HTTP)
HTTP_TRANSPORTS = (TRANSPORT_HTTP, TRANSPORT_STREAMABLE_HTTP)

DEFAULT_TRANSPORT = TRANSPORT_STREAMABLE_HTTP
DEFAULT_PORT = 8080
DEFAULT_REPLICAS = 1
DEFAULT_MCP_PATH = "/mcp"
MAX_STDIO_REPLICAS = 1  # with stdio.expose attach

# spec.stdio.expose
EXPOSE_BRIDGE = "bridge"
EXPOSE_ATTACH = "attach"
DEFAULT_MAX_SESSIONS_PER_POD = 100
DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS = 600

# spec.sessions (HTTP transports)
SESSIONS_STATELESS = "stateless"
SESSIONS_STATEFUL = "stateful"

# spec.health.mode
HEALTH_HTTP = "http"
HEALTH_TCP = "tcp"
HEALTH_NONE = "none"

# spec.package.registry
REGISTRY_NPM = "npm"
REGISTRY_PYPI = "pypi"

# Our own server's image (repository basename): probed on its /health and /ready by default.
OWN_IMAGE_NAME = "mcp-k8s-server"

# Per-transport default *requests* (the seed's SetDefaultResources). Applied only for a
# resource the spec does not request; capped at the spec's limit for that resource.
DEFAULT_REQUESTS = {
    TRANSPORT_STDIO: {"cpu": "50m", "memory": "64Mi"},
    TRANSPORT_HTTP: {"cpu": "100m", "memory": "128Mi"},
    TRANSPORT_STREAMABLE_HTTP: {"cpu": "200m", "memory": "256Mi"},
}

# --- children -----------------------------------------------------------------------------
DEPLOYMENT_CHILD_KEY = "Deployment.apps/v1"
SERVICE_CHILD_KEY = "Service.v1"
CONFIGMAP_CHILD_KEY = "ConfigMap.v1"
SECRET_CHILD_KEY = "Secret.v1"
# The mcp-prober's projected ServiceAccount token (prober.py): reserved for user volumes.
PROBER_TOKEN_VOLUME = "kube-api-access-prober"
SA_TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
ROLE_CHILD_KEY = "Role.rbac.authorization.k8s.io/v1"  # the mcp-prober's Role (prober.py)
ROLEBINDING_CHILD_KEY = "RoleBinding.rbac.authorization.k8s.io/v1"
CHILD_KEYS = (DEPLOYMENT_CHILD_KEY, SERVICE_CHILD_KEY, CONFIGMAP_CHILD_KEY, SECRET_CHILD_KEY, ROLE_CHILD_KEY,
              ROLEBINDING_CHILD_KEY)

CONTAINER_NAME = "mcp-server"
PORT_NAME = "mcp"
CONFIGMAP_SUFFIX = "-config"
CONFIG_FILE_KEY = "config.json"
CONFIG_MOUNT_PATH = "/etc/mcp"
CONFIG_FILE_PATH = f"{CONFIG_MOUNT_PATH}/{CONFIG_FILE_KEY}"
CONFIG_VOLUME = "config"
TMP_VOLUME = "tmp"
TMP_MOUNT_PATH = "/tmp"
MCP_PATH = DEFAULT_MCP_PATH
LIVENESS_PATH = "/health"
READINESS_PATH = "/ready"

# --- the stdio bridge (package bridge/, image mcp-bridge; rendering in bridge.py) ---------
BRIDGE_IMAGE = "mcp-bridge:latest"  # default image of a bridged stdio server
# The hook's own environment may name the bridge image of this installation (the chart sets it
# to bridge.image, the operator's version): a registry-qualified, pinned default.
ENV_BRIDGE_IMAGE = "MCP_BRIDGE_IMAGE"
BRIDGE_BINARY = "mcp-bridge"
BRIDGE_LIVENESS_PATH = "/healthz"
BRIDGE_READINESS_PATH = "/readyz"
BRIDGE_SECRET_SUFFIX = "-bridge"
BRIDGE_SECRET_KEY = "session-key"  # data key of the Secret <name>-bridge
ENV_BRIDGE_SESSION_KEY = "MCP_BRIDGE_SESSION_KEY"
BRIDGE_HOME = "/tmp/home"
CACHE_VOLUME = "cache"
CACHE_MOUNT_PATH = "/cache"
BRIDGE_ENV = (("HOME", BRIDGE_HOME), ("npm_config_cache", "/cache/npm"), ("UV_CACHE_DIR", "/cache/uv"))

# Service.spec.sessionAffinity for spec.sessions stateful (kube-proxy's default timeout, 3 h).
SESSION_AFFINITY_TIMEOUT_SECONDS = 10800

LIVENESS_PROBE = {"initialDelaySeconds": 10, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3}
READINESS_PROBE = {"initialDelaySeconds": 2, "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 3}

# Environment the operator sets; a user env entry of the same name replaces the default.
ENV_TRANSPORT = "MCP_TRANSPORT"
ENV_PORT = "MCP_PORT"
ENV_SERVER_NAME = "MCP_SERVER_NAME"
ENV_POD_NAME = "POD_NAME"
ENV_POD_NAMESPACE = "POD_NAMESPACE"
ENV_POD_IP = "POD_IP"
# The Service in front of the pods (= the MCPServer name): servers derive their allowed Host headers from it.
ENV_SERVICE_NAME = "MCP_SERVICE_NAME"
ENV_CONFIG_FILE = "MCP_CONFIG_FILE"

# --- labels and annotations ---------------------------------------------------------------
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_TRANSPORT = "example.com/transport"
APP_NAME = "mcp-server"
COMPONENT = "server"
MANAGED_BY = "mcp-operator"

# The Deployment selector (immutable!) and the Service selector use only these two labels,
# which never change for a given MCPServer. status.selector is their string form.
SELECTOR_LABEL_KEYS = (LABEL_NAME, LABEL_INSTANCE)

# Pod-template annotation: sha256 of config.json, so a config change rolls the pods.
CONFIG_HASH_ANNOTATION = f"{GROUP}/config-hash"
# Pod-template annotation: sha256 over the data of the Secrets and ConfigMaps the spec references
# (env valueFrom, envFrom, mounted files), so an edit of one rolls the pods (related.py).
REFERENCED_DATA_HASH_ANNOTATION = f"{GROUP}/referenced-data-hash"
# Deployment annotation: sha256 of the desired Deployment spec. The rollout counts as complete
# only when the observed Deployment carries the hash of what this sync wants.
SPEC_HASH_ANNOTATION = f"{GROUP}/spec-hash"

# Metacontroller's own names.
CONTROLLER_UID_LABEL = "controller-uid"
LAST_APPLIED_ANNOTATION = "metacontroller.k8s.io/last-applied-configuration"

# Restricted default security context (Pod Security "restricted" compliant).
DEFAULT_RUN_AS_USER = 1000
DEFAULT_SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "readOnlyRootFilesystem": True,
    "runAsGroup": DEFAULT_RUN_AS_USER,
    "runAsNonRoot": True,
    "runAsUser": DEFAULT_RUN_AS_USER,
    "seccompProfile": {"type": "RuntimeDefault"},
}

# --- status -------------------------------------------------------------------------------
PHASE_PENDING = "Pending"
PHASE_READY = "Ready"
PHASE_FAILED = "Failed"
PHASE_TERMINATING = "Terminating"
PHASES = (PHASE_PENDING, PHASE_READY, PHASE_FAILED, PHASE_TERMINATING)

COND_READY = "Ready"
COND_DEPLOYMENT_READY = "DeploymentReady"
COND_SERVICE_READY = "ServiceReady"
COND_CONFIGURATION_VALID = "ConfigurationValid"
COND_SESSION_ROUTING = "SessionRouting"
# Order in which conditions appear in status (deterministic).
COND_TOOLS_CHANGED = "ToolsChanged"  # from the mcp-prober's inventory (inventory.py)
CONDITION_TYPES = (COND_READY, COND_DEPLOYMENT_READY, COND_SERVICE_READY, COND_CONFIGURATION_VALID,
                   COND_SESSION_ROUTING, COND_TOOLS_CHANGED)

# Reasons
R_READY = "Ready"
R_SCALED_TO_ZERO = "ScaledToZero"
R_VALID = "Valid"
R_VALID_WITH_WARNINGS = "ValidWithWarnings"
R_CHILD_MISSING = "ChildMissing"
R_INVALID_SPEC = "InvalidSpec"
R_DEPLOYMENT_MISSING = "DeploymentNotCreated"
R_ROLLOUT_IN_PROGRESS = "RolloutInProgress"
R_ROLLOUT_COMPLETE = "RolloutComplete"
R_PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
R_REPLICA_FAILURE = "ReplicaFailure"
R_SERVICE_MISSING = "ServiceNotCreated"
R_SERVICE_AVAILABLE = "ServiceAvailable"
R_SERVICE_NOT_REQUIRED = "NotRequiredForStdio"
R_TERMINATING = "Terminating"
R_NO_READY_ENDPOINTS = "NoReadyEndpoints"
R_NAME_CONFLICT = "NameConflict"
# (pod-level reasons, e.g. ImagePullBackOff and CrashLoopBackOff, are in causes.py)
# SessionRouting
R_SINGLE_REPLICA = "SingleReplica"
R_STATELESS = "Stateless"
R_CLIENT_IP_AFFINITY = "ClientIPAffinity"
R_AFFINITY_NOT_APPLIED = "AffinityNotApplied"
R_BRIDGE_SESSION_ROUTING = "BridgeSessionRouting"

# The kubectl command shown as the endpoint of a stdio server.
STDIO_ENDPOINT_TEMPLATE = "kubectl attach -i -n {namespace} deploy/{name} -c " + CONTAINER_NAME

# --- CompositeController ------------------------------------------------------------------
COMPOSITE_CONTROLLER_NAME = "mcp-operator"
# deploy/compositecontroller.yaml has this placeholder in its webhook URLs
# ("${HOOK_BASE_URL}/sync", "${HOOK_BASE_URL}/finalize"); substitute it (envsubst or
# str.replace) with e.g. http://mcp-operator-hook.mcp-system.svc.cluster.local:8080
HOOK_BASE_URL_PLACEHOLDER = "${HOOK_BASE_URL}"
FINALIZER = f"metacontroller.io/compositecontroller-{COMPOSITE_CONTROLLER_NAME}"

# --- the hook server ----------------------------------------------------------------------
DEFAULT_HOOK_PORT = 8080
SYNC_PATH = "/sync"
FINALIZE_PATH = "/finalize"
CUSTOMIZE_PATH = "/customize"
MAX_REQUEST_BYTES = 8 * 1024 * 1024
