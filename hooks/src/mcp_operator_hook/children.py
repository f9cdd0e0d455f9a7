"""Desired children of an MCPServer (pure): Deployment, Service, ConfigMap (the bridge's
Secret is rendered per sync by sync.py from bridge.py: it carries an observed value).

Objects are minimal: explicit apiVersion/kind, only the fields the operator owns, no nulls,
nothing server-set. Metacontroller adds the ``controller-uid`` label and the ownerReference.
"""

from __future__ import annotations

import hashlib
import json

from . import bridge
from . import prober
from . import constants as C
from .quantity import canonical_quantity, parse_quantity
from .spec import is_bridged, serves_http, stdio_expose


_DEFAULT_SC_JSON = json.dumps(C.DEFAULT_SECURITY_CONTEXT)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_json(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def selector_labels(name: str) -> dict:
    """Deployment/Service selector: stable for the MCPServer's lifetime (never the transport)."""
    return {C.LABEL_NAME: C.APP_NAME, C.LABEL_INSTANCE: name}


def selector_string(name: str) -> str:
    """status.selector, the string form of selector_labels (sorted, as kubectl prints it)."""
    return ",".join(f"{k}={v}" for k, v in sorted(selector_labels(name).items()))


def labels(name: str, transport: str) -> dict:
    """Labels of every child and of the pods (the seed's set)."""
    return {
        C.LABEL_NAME: C.APP_NAME,
        C.LABEL_INSTANCE: name,
        C.LABEL_COMPONENT: C.COMPONENT,
        C.LABEL_MANAGED_BY: C.MANAGED_BY,
        C.LABEL_TRANSPORT: transport,
    }


def configmap_name(name: str) -> str:
    return name + C.CONFIGMAP_SUFFIX


def config_json(config: dict) -> str:
    """config.json content: sorted keys, stable formatting."""
    return json.dumps(config, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _normalized_env(entry: dict) -> dict:
    """A user EnvVar as the API server stores it: an empty value is omitted, a resourceFieldRef
    divisor is a canonical quantity. The request's own dicts are never mutated."""
    if entry.get("value") == "":
        entry = {k: v for k, v in entry.items() if k != "value"}
    rf = (entry.get("valueFrom") or {}).get("resourceFieldRef")
    if isinstance(rf, dict) and "divisor" in rf:
        try:
            divisor = canonical_quantity(rf["divisor"])
        except ValueError:
            divisor = rf["divisor"]
        entry = {**entry, "valueFrom": {**entry["valueFrom"], "resourceFieldRef": {**rf, "divisor": divisor}}}
    return entry


def env_list(name: str, spec: dict) -> list[dict]:
    """Operator defaults first, a user entry replacing the default of the same name in place,
    the user's other entries after them in their order. No duplicate names."""
    defaults = [
        {"name": C.ENV_TRANSPORT, "value": spec["transport"]},
        {"name": C.ENV_PORT, "value": str(spec["port"])},
        {"name": C.ENV_SERVER_NAME, "value": name},
        {"name": C.ENV_POD_NAME, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": C.ENV_POD_NAMESPACE, "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": C.ENV_POD_IP, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": C.ENV_SERVICE_NAME, "value": name},
    ]
    if spec.get("config"):
        defaults.append({"name": C.ENV_CONFIG_FILE, "value": C.CONFIG_FILE_PATH})
    if runs_package_runner(spec):
        defaults.extend(bridge.runtime_env())
    if is_bridged(spec):
        defaults.extend(bridge.bridge_env(name))
    user: dict[str, dict] = {}
    for entry in spec.get("env") or []:
        user[entry["name"]] = _normalized_env(entry)  # last wins (the schema forbids duplicates)
    out = []
    for entry in defaults:
        out.append(user.pop(entry["name"], entry))
    out.extend(user.values())
    return out


def resources(spec: dict) -> dict:
    """Spec resources + per-transport default requests (capped at the limit when one is set),
    every quantity in the API server's canonical form (so live and desired compare equal)."""
    res = spec.get("resources") or {}
    requests = dict(res.get("requests") or {})
    limits = dict(res.get("limits") or {})
    # A bridge serves HTTP and runs one stdio process per session: size it as an HTTP server.
    kind = C.TRANSPORT_STREAMABLE_HTTP if is_bridged(spec) else spec["transport"]
    for key, default in C.DEFAULT_REQUESTS[kind].items():
        if key in requests:
            continue
        value = default
        if key in limits:
            try:
                if parse_quantity(limits[key]) < parse_quantity(default):
                    value = limits[key]
            except ValueError:
                pass
        requests[key] = value
    out = {"requests": {k: canonical_quantity(v) for k, v in requests.items()}}
    if limits:
        out["limits"] = {k: canonical_quantity(v) for k, v in limits.items()}
    return out


def security_context(spec: dict) -> dict:
    """The container's securityContext: spec.securityContext's fields over the restricted
    default (C.DEFAULT_SECURITY_CONTEXT), so ``{runAsUser: 2000}`` keeps runAsNonRoot, drop ALL,
    seccomp RuntimeDefault and the read-only root fs. capabilities merge per field (``add``
    alone keeps ``drop: [ALL]``). Two defaults give way to an explicit contrary request the API
    would otherwise refuse or the kubelet never start: allowPrivilegeEscalation when privileged
    is true, runAsNonRoot when runAsUser is 0. (restricted_violations says what then fails the
    restricted Pod Security level.)"""
    out = json.loads(_DEFAULT_SC_JSON)  # a fresh copy of the constant
    sc = spec.get("securityContext")
    if not sc:
        return out
    if sc.get("privileged") is True:
        out.pop("allowPrivilegeEscalation")
    if sc.get("runAsUser") == 0:
        out.pop("runAsNonRoot")
    for key, value in sc.items():
        if key == "capabilities" and isinstance(value, dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def restricted_violations(sc: dict) -> list[str]:
    """What in a rendered container securityContext fails the ``restricted`` Pod Security level
    (https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted), the
    checks a user can break through spec.securityContext; empty when it passes."""
    out = []
    if sc.get("privileged") is True:
        out.append("privileged is true")
    if sc.get("allowPrivilegeEscalation") is not False:
        out.append("allowPrivilegeEscalation is not false")
    if sc.get("runAsUser") == 0:
        out.append("runAsUser is 0 (root)")
    if sc.get("runAsNonRoot") is not True:
        out.append("runAsNonRoot is not true")
    caps = sc.get("capabilities") or {}
    added = [c for c in caps.get("add") or [] if c != "NET_BIND_SERVICE"]
    if added:
        out.append("capabilities.add has " + ", ".join(added) + " (only NET_BIND_SERVICE is allowed)")
    if "ALL" not in (caps.get("drop") or []):
        out.append("capabilities.drop does not include ALL")
    if (sc.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        out.append("seccompProfile.type is not RuntimeDefault or Localhost")
    return out


def runs_package_runner(spec: dict) -> bool:
    """The container runs npx/uvx or the bridge (the bridge image): it needs HOME and the caches
    on writable emptyDirs, since the root filesystem is read-only."""
    return spec.get("transport") == C.TRANSPORT_STDIO and (is_bridged(spec) or bool(spec.get("package")))


def image_name(image: str) -> str:
    """Repository basename of an image reference: registry.io/team/mcp-k8s-server:1@sha256:.. ->
    mcp-k8s-server."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def _http_probes() -> tuple[dict, dict]:
    return ({"httpGet": {"path": C.LIVENESS_PATH, "port": C.PORT_NAME}, **C.LIVENESS_PROBE},
            {"httpGet": {"path": C.READINESS_PATH, "port": C.PORT_NAME}, **C.READINESS_PROBE})


def _tcp_probes() -> tuple[dict, dict]:
    return ({"tcpSocket": {"port": C.PORT_NAME}, **C.LIVENESS_PROBE},
            {"tcpSocket": {"port": C.PORT_NAME}, **C.READINESS_PROBE})


def health_mode(spec: dict) -> str:
    """Effective spec.health.mode. Omitted: none for an attached stdio server (no port), http for
    our own image and for the bridge (endpoints they are known to serve), tcp for any other HTTP
    server (a third-party image may have no health endpoint at all: an HTTP probe on a path it
    lacks would restart it forever)."""
    mode = (spec.get("health") or {}).get("mode")
    if mode:
        return mode
    if not serves_http(spec):
        return C.HEALTH_NONE
    if is_bridged(spec) or image_name(spec.get("image") or "") == C.OWN_IMAGE_NAME:
        return C.HEALTH_HTTP
    return C.HEALTH_TCP


def probes(spec: dict) -> dict:
    """livenessProbe/readinessProbe/startupProbe of the server container: the mode's pair, each
    replaced by the spec's own probe of that kind when given."""
    mode = health_mode(spec)
    out: dict = {}
    if mode == C.HEALTH_HTTP:
        out["livenessProbe"], out["readinessProbe"] = bridge.probes() if is_bridged(spec) else _http_probes()
    elif mode == C.HEALTH_TCP:
        out["livenessProbe"], out["readinessProbe"] = _tcp_probes()
    # Seam for the MCP-handshake prober (issue 10): a readiness that speaks MCP replaces the TCP
    # one here once the prober sidecar exists.
    for kind in ("livenessProbe", "readinessProbe", "startupProbe"):
        own = (spec.get("health") or {}).get(kind)
        if own:
            out[kind] = own  # shared with the request, never mutated
    return out


def _command(name: str, spec: dict) -> dict:
    """command/args of the server container."""
    if is_bridged(spec):
        return {"command": bridge.bridge_command(spec)}
    if spec.get("package"):  # attached package server: the runner itself is the stdio server
        return {"command": bridge.package_command(spec["package"])}
    out = {}
    if spec.get("command"):
        out["command"] = list(spec["command"])
    if spec.get("args"):
        out["args"] = list(spec["args"])
    return out


def volume_mounts(spec: dict) -> list[dict]:
    mounts = [{"name": C.TMP_VOLUME, "mountPath": C.TMP_MOUNT_PATH}]
    if spec.get("config"):
        mounts.append({"name": C.CONFIG_VOLUME, "mountPath": C.CONFIG_MOUNT_PATH, "readOnly": True})
    if runs_package_runner(spec):
        mounts.append(bridge.cache_mount())
    for v in spec.get("volumes") or []:
        m = {"name": v["name"], "mountPath": v["mountPath"]}
        if v.get("readOnly", True):
            m["readOnly"] = True  # false is omitted, as the API server stores it
        mounts.append(m)
    return mounts


def container(name: str, spec: dict) -> dict:
    c = {
        "name": C.CONTAINER_NAME,
        "image": bridge.image(spec) if runs_package_runner(spec) else spec["image"],
        **_command(name, spec),
        "env": env_list(name, spec),
        "resources": resources(spec),
        "securityContext": security_context(spec),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": volume_mounts(spec),
    }
    if spec.get("envFrom"):
        c["envFrom"] = spec["envFrom"]
    if serves_http(spec):
        c["ports"] = [{"name": C.PORT_NAME, "containerPort": spec["port"], "protocol": "TCP"}]
    else:
        # stdio attach: the server reads JSON-RPC from stdin. Keep stdin open, and open across
        # attach/detach (stdinOnce and tty stay false: omitted, as the API server omits them,
        # so live and desired compare equal); no port.
        c["stdin"] = True
    c.update(probes(spec))
    return c


def _user_volume(v: dict) -> dict:
    src = "secret" if "secret" in v else "configMap"
    return {"name": v["name"], src: v[src]}


def _spread(name: str, constraints: list[dict]) -> list[dict]:
    """A constraint without labelSelector spreads this server's own pods."""
    return [c if "labelSelector" in c else {**c, "labelSelector": {"matchLabels": selector_labels(name)}}
            for c in constraints]


def pod_template_metadata(name: str, spec: dict, config_hash: str | None) -> dict:
    """The operator's labels (which select the pods) over the spec's extra ones; the spec's
    annotations plus the operator's config hash."""
    meta = spec.get("podMetadata") or {}
    template_meta: dict = {"labels": {**(meta.get("labels") or {}), **labels(name, spec["transport"])}}
    annotations = dict(meta.get("annotations") or {})
    if config_hash:
        annotations[C.CONFIG_HASH_ANNOTATION] = config_hash
    if annotations:
        template_meta["annotations"] = annotations
    return template_meta


def pod_scheduling(name: str, spec: dict) -> dict:
    """imagePullSecrets, nodeSelector, tolerations, affinity, topologySpreadConstraints."""
    out: dict = {}
    for field in ("imagePullSecrets", "nodeSelector", "tolerations", "affinity"):
        if spec.get(field):
            out[field] = spec[field]
    if spec.get("topologySpreadConstraints"):
        out["topologySpreadConstraints"] = _spread(name, spec["topologySpreadConstraints"])
    return out


def deployment(name: str, namespace: str, spec: dict, config_hash: str | None) -> dict:
    transport = spec["transport"]
    pod_labels = labels(name, transport)
    template_meta = pod_template_metadata(name, spec, config_hash)
    volumes: list[dict] = [{"name": C.TMP_VOLUME, "emptyDir": {}}]
    if spec.get("config"):
        volumes.append({"name": C.CONFIG_VOLUME, "configMap": {"name": configmap_name(name)}})
    if runs_package_runner(spec):
        volumes.append(bridge.cache_volume())
    volumes.extend(_user_volume(v) for v in spec.get("volumes") or [])
    pod_spec: dict = {
        "containers": [container(name, spec)],
        "enableServiceLinks": False,
        "volumes": volumes,
        **pod_scheduling(name, spec),
    }
    if spec.get("serviceAccount"):
        pod_spec["serviceAccountName"] = spec["serviceAccount"]
    prober.add_to_pod(pod_spec, name, spec, namespace)
    if stdio_expose(spec) == C.EXPOSE_ATTACH:
        # Never two stdio servers at once (one client, one process).
        strategy = {"type": "Recreate"}
    else:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}
    dep_spec = {
        "replicas": spec["replicas"],
        "selector": {"matchLabels": selector_labels(name)},
        "strategy": strategy,
        "template": {"metadata": template_meta, "spec": pod_spec},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(pod_labels),
            "annotations": {C.SPEC_HASH_ANNOTATION: sha256(canonical_json(dep_spec))},
        },
        "spec": dep_spec,
    }


def session_affinity(spec: dict) -> dict:
    """Service session fields. A stateful HTTP server keeps each client IP on one pod; stateless
    servers and the bridge (which forwards a session to its owner itself) use round-robin."""
    if spec.get("sessions") == C.SESSIONS_STATEFUL:
        return {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {
            "clientIP": {"timeoutSeconds": C.SESSION_AFFINITY_TIMEOUT_SECONDS}}}
    return {}


def service(name: str, namespace: str, spec: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(name, spec["transport"])},
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(name),
            "ports": [{"name": C.PORT_NAME, "port": spec["port"], "targetPort": C.PORT_NAME, "protocol": "TCP"}],
            **session_affinity(spec),
        },
    }


def configmap(name: str, namespace: str, spec: dict, content: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": configmap_name(name), "namespace": namespace,
                     "labels": labels(name, spec["transport"])},
        "data": {C.CONFIG_FILE_KEY: content},
    }


def desired_children(name: str, namespace: str, spec: dict) -> list[dict]:
    """All desired children of a *valid*, defaulted spec, in a fixed order."""
    out = []
    config_hash = None
    if spec.get("config"):
        content = config_json(spec["config"])
        config_hash = sha256(content)
        out.append(configmap(name, namespace, spec, content))
    out.append(deployment(name, namespace, spec, config_hash))
    if serves_http(spec):
        out.append(service(name, namespace, spec))
    out.extend(prober.children(name, namespace, spec))
    return out
