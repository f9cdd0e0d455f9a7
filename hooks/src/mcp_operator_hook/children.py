"""Desired children of an MCPServer (pure): Deployment, Service, ConfigMap.

Objects are minimal: explicit apiVersion/kind, only the fields the operator owns, no nulls,
nothing server-set. Metacontroller adds the ``controller-uid`` label and the ownerReference.
"""

from __future__ import annotations

import hashlib
import json

from . import constants as C
from .quantity import canonical_quantity, parse_quantity


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
    ]
    if spec.get("config"):
        defaults.append({"name": C.ENV_CONFIG_FILE, "value": C.CONFIG_FILE_PATH})
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
    for key, default in C.DEFAULT_REQUESTS[spec["transport"]].items():
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
    sc = spec.get("securityContext")
    if sc:
        return sc  # shared with the request, never mutated
    return json.loads(_DEFAULT_SC_JSON)  # a fresh copy of the constant


def container(name: str, spec: dict) -> dict:
    transport = spec["transport"]
    c = {
        "name": C.CONTAINER_NAME,
        "image": spec["image"],
        "env": env_list(name, spec),
        "resources": resources(spec),
        "securityContext": security_context(spec),
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [{"name": C.TMP_VOLUME, "mountPath": C.TMP_MOUNT_PATH}],
    }
    if spec.get("config"):
        c["volumeMounts"].append({"name": C.CONFIG_VOLUME, "mountPath": C.CONFIG_MOUNT_PATH, "readOnly": True})
    if transport in C.HTTP_TRANSPORTS:
        c["ports"] = [{"name": C.PORT_NAME, "containerPort": spec["port"], "protocol": "TCP"}]
        c["livenessProbe"] = {"httpGet": {"path": C.LIVENESS_PATH, "port": C.PORT_NAME}, **C.LIVENESS_PROBE}
        c["readinessProbe"] = {"httpGet": {"path": C.READINESS_PATH, "port": C.PORT_NAME}, **C.READINESS_PROBE}
    else:
        # stdio: the server reads JSON-RPC from stdin. Keep stdin open, and open across
        # attach/detach (stdinOnce and tty stay false: omitted, as the API server omits them,
        # so live and desired compare equal); no port, no HTTP probes.
        c["stdin"] = True
    return c


def deployment(name: str, namespace: str, spec: dict, config_hash: str | None) -> dict:
    transport = spec["transport"]
    pod_labels = labels(name, transport)
    template_meta: dict = {"labels": dict(pod_labels)}
    if config_hash:
        template_meta["annotations"] = {C.CONFIG_HASH_ANNOTATION: config_hash}
    volumes: list[dict] = [{"name": C.TMP_VOLUME, "emptyDir": {}}]
    if spec.get("config"):
        volumes.append({"name": C.CONFIG_VOLUME, "configMap": {"name": configmap_name(name)}})
    pod_spec: dict = {
        "containers": [container(name, spec)],
        "enableServiceLinks": False,
        "volumes": volumes,
    }
    if spec.get("serviceAccount"):
        pod_spec["serviceAccountName"] = spec["serviceAccount"]
    if transport == C.TRANSPORT_STDIO:
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


def service(name: str, namespace: str, spec: dict) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": labels(name, spec["transport"])},
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(name),
            "ports": [{"name": C.PORT_NAME, "port": spec["port"], "targetPort": C.PORT_NAME, "protocol": "TCP"}],
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
    if spec["transport"] in C.HTTP_TRANSPORTS:
        out.append(service(name, namespace, spec))
    return out
