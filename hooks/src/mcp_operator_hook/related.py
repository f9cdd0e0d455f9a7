"""Objects beyond the children that the sync hook reads: the customize hook's answer and the
``related`` part of a sync request (pure).

What the hook asks Metacontroller for (``customize``), all in the parent's namespace:

- ``Pod.v1`` by the server's selector labels: why a pod is not ready (see ``causes.py``).
- ``EndpointSlice.discovery.k8s.io/v1`` by ``kubernetes.io/service-name=<name>``: ServiceReady
  is True only with a ready endpoint behind the Service.
- ``Secret.v1`` and ``ConfigMap.v1`` by the names the spec references (env ``valueFrom``,
  ``envFrom``, mounted files): a hash of their data goes into the pod template, so an edit of
  one rolls the pods (Secret values themselves go nowhere else).
- ``Deployment.apps/v1``, ``Service.v1``, ``ConfigMap.v1`` by the names the hook's own children
  take: a same-named object that this MCPServer does not own is a name collision
  (``ownership.py``), never adopted, mounted or deleted.

Metacontroller caches the customize answer per (parent uid, generation), so it may depend on
the spec only (source: pkg/controller/common/customize/manager.go). Every rule names the
namespace: a v2 rule without one matches objects in every namespace, and a ``names`` rule with
an empty list matches *every* object of the kind, so such rules are never emitted.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .children import configmap_name, selector_labels

POD_KEY = "Pod.v1"
SECRET_KEY = "Secret.v1"
CONFIGMAP_KEY = "ConfigMap.v1"
ENDPOINTSLICE_KEY = "EndpointSlice.discovery.k8s.io/v1"
DEPLOYMENT_KEY = "Deployment.apps/v1"
SERVICE_KEY = "Service.v1"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # set by the EndpointSlice controller


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _name(value) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass
class Refs:
    """Secrets and ConfigMaps a spec reads. Per object: the set of keys read, or None when the
    whole object is read (envFrom, a mounted volume without items)."""

    secrets: dict[str, set[str] | None] = field(default_factory=dict)
    configmaps: dict[str, set[str] | None] = field(default_factory=dict)

    def add(self, kind: str, name, key=None) -> None:
        name = _name(name)
        if name is None:
            return
        table = self.secrets if kind == "Secret" else self.configmaps
        if key is None or not isinstance(key, str):
            table[name] = None
        elif name not in table:
            table[name] = {key}
        elif table[name] is not None:
            table[name].add(key)

    def empty(self) -> bool:
        return not self.secrets and not self.configmaps


def references(spec) -> Refs:
    """Every Secret/ConfigMap the pods of ``spec`` read, walked defensively (the spec may be
    invalid). The single place that knows where references live in the spec: extend it when
    the spec gains a field that reads a Secret or ConfigMap.

    Handled: ``env[].valueFrom.{secretKeyRef,configMapKeyRef}``, ``envFrom[].{secretRef,
    configMapRef}``, and file mounts given as ``{secret|configMap: {name | secretName, items?}}``
    entries of ``files``/``volumes``/``mounts``/``fileMounts``. imagePullSecrets are not
    referenced data (the kubelet reads them; a change needs no new pods).
    """
    refs = Refs()
    spec = _dict(spec)
    for entry in _list(spec.get("env")):
        vf = _dict(_dict(entry).get("valueFrom"))
        sk, ck = _dict(vf.get("secretKeyRef")), _dict(vf.get("configMapKeyRef"))
        if sk:
            refs.add("Secret", sk.get("name"), sk.get("key"))
        if ck:
            refs.add("ConfigMap", ck.get("name"), ck.get("key"))
    for entry in _list(spec.get("envFrom")):
        entry = _dict(entry)
        refs.add("Secret", _dict(entry.get("secretRef")).get("name"))
        refs.add("ConfigMap", _dict(entry.get("configMapRef")).get("name"))
    for field_name in ("files", "volumes", "mounts", "fileMounts"):
        for entry in _list(spec.get(field_name)):
            entry = _dict(entry)
            for kind, src_key in (("Secret", "secret"), ("ConfigMap", "configMap")):
                src = _dict(entry.get(src_key))
                if not src:
                    continue
                name = src.get("name") or src.get("secretName")
                items = _list(src.get("items"))
                keys = [i.get("key") for i in items if isinstance(i, dict) and isinstance(i.get("key"), str)]
                if keys:
                    for k in keys:
                        refs.add(kind, name, k)
                else:
                    refs.add(kind, name)
    return refs


# Kinds the hook's children can be, as (apiVersion, resource): the related rule that reads a
# same-named object of each (Metacontroller's key is ``<Kind>.<apiVersion>``).
CHILD_RESOURCES = {
    "Deployment": ("apps/v1", "deployments"),
    "Service": ("v1", "services"),
    "ConfigMap": ("v1", "configmaps"),
    "Secret": ("v1", "secrets"),
    "Role": ("rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings"),
}


def child_key(kind: str) -> str:
    return f"{kind}.{CHILD_RESOURCES[kind][0]}"


def own_names(name: str, namespace: str, spec=None) -> dict[str, list[str]]:
    """Names the hook's children take, per related key (for collision detection): every child
    the spec renders (when valid), plus the ones any spec of this name may have (Deployment,
    Service, config and record ConfigMaps), so an invalid spec still protects what runs."""
    from .record import record_name  # noqa: PLC0415 - record imports children; keep the graph acyclic
    from .sync import desired_names  # noqa: PLC0415 - sync imports this module

    out: dict[str, set[str]] = {child_key(k): set() for k in CHILD_RESOURCES}
    out[DEPLOYMENT_KEY] |= {name}
    out[SERVICE_KEY] |= {name}
    out[CONFIGMAP_KEY] |= {configmap_name(name), record_name(name)}
    for kind, child in desired_names(name, namespace, spec):
        if kind in CHILD_RESOURCES:
            out[child_key(kind)].add(child)
    return {k: sorted(v) for k, v in out.items()}


def customize(request) -> dict:
    """The customize hook's answer ``{"relatedResources": [...]}`` for ``request`` =
    ``{controller, parent}``. Raises ``BadRequest`` (via the caller) only for a parent without
    name/namespace; an invalid spec still gets rules (the pods and collisions matter then)."""
    from .errors import BadRequest

    if not isinstance(request, dict) or not isinstance(request.get("parent"), dict):
        raise BadRequest("request.parent must be an object")
    meta = _dict(request["parent"].get("metadata"))
    name, namespace = _name(meta.get("name")), _name(meta.get("namespace"))
    if name is None or namespace is None:
        raise BadRequest("request.parent.metadata.name and .namespace must be non-empty strings")
    spec = request["parent"].get("spec")
    refs = references(spec)
    own = own_names(name, namespace, spec)
    own[SECRET_KEY] = sorted(set(own[SECRET_KEY]) | set(refs.secrets))
    own[CONFIGMAP_KEY] = sorted(set(own[CONFIGMAP_KEY]) | set(refs.configmaps))
    rules = [
        {"apiVersion": "v1", "resource": "pods", "namespace": namespace,
         "labelSelector": {"matchLabels": selector_labels(name)}},
        {"apiVersion": "discovery.k8s.io/v1", "resource": "endpointslices", "namespace": namespace,
         "labelSelector": {"matchLabels": {SERVICE_NAME_LABEL: name}}},
    ]
    for kind, (api_version, resource) in CHILD_RESOURCES.items():
        names = own[child_key(kind)]
        if names:  # an empty names list would select every object of the kind in the namespace
            rules.append({"apiVersion": api_version, "resource": resource, "namespace": namespace, "names": names})
    return {"relatedResources": rules}


class Related:
    """The ``related`` map of a sync request, restricted to the parent's namespace.

    ``has(key)`` tells whether Metacontroller sent that kind at all (a customize rule exists:
    Metacontroller sends the key even when nothing matched). Without it the hook keeps its
    behaviour from before it read related objects (requests from a CompositeController without
    the customize hook)."""

    def __init__(self, raw, namespace: str):
        self._by_key: dict[str, dict[str, dict]] = {}
        for key, group in _dict(raw).items():
            objs: dict[str, dict] = {}
            for obj in _dict(group).values():
                meta = _dict(_dict(obj).get("metadata"))
                n = _name(meta.get("name"))
                if n is None or meta.get("namespace", namespace) != namespace:
                    continue
                objs[n] = obj
            self._by_key[key] = dict(sorted(objs.items()))

    def has(self, key: str) -> bool:
        return key in self._by_key

    def get(self, key: str, name: str) -> dict | None:
        return self._by_key.get(key, {}).get(name)

    def all(self, key: str) -> list[dict]:
        return list(self._by_key.get(key, {}).values())


def _data_digest(obj: dict | None, keys: set[str] | None) -> dict:
    """What of one object goes into the hash: its data (both ``data`` and ``binaryData``)
    restricted to the keys read; a missing object or key is recorded as missing, so its
    creation rolls the pods too."""
    if obj is None:
        return {"missing": True}
    data = {**_dict(obj.get("binaryData")), **_dict(obj.get("data"))}
    if keys is not None:
        data = {k: data.get(k) for k in sorted(keys)}
    # hash each value first: the digest never holds a Secret value, only its sha256
    return {k: hashlib.sha256(json.dumps(v).encode()).hexdigest() for k, v in sorted(data.items())}


def referenced_data_hash(refs: Refs, related: Related) -> str | None:
    """sha256 over the referenced data (per object and key), or None when nothing is referenced
    or Metacontroller sent no Secrets/ConfigMaps (no customize hook). Deterministic: sorted."""
    if refs.empty():
        return None
    if (refs.secrets and not related.has(SECRET_KEY)) or (refs.configmaps and not related.has(CONFIGMAP_KEY)):
        return None
    digest = {
        "secrets": {n: _data_digest(related.get(SECRET_KEY, n), k) for n, k in sorted(refs.secrets.items())},
        "configMaps": {n: _data_digest(related.get(CONFIGMAP_KEY, n), k) for n, k in sorted(refs.configmaps.items())},
    }
    return hashlib.sha256(json.dumps(digest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def ready_endpoints(related: Related, service_name: str) -> int | None:
    """Ready endpoints behind Service ``service_name``, or None when Metacontroller sent no
    EndpointSlices. A nil ``conditions.ready`` counts as ready (the EndpointSlice API says
    consumers should read unknown as ready); a terminating endpoint never does."""
    if not related.has(ENDPOINTSLICE_KEY):
        return None
    count = 0
    for es in related.all(ENDPOINTSLICE_KEY):
        if _dict(_dict(es.get("metadata")).get("labels")).get(SERVICE_NAME_LABEL) != service_name:
            continue
        for ep in _list(es.get("endpoints")):
            cond = _dict(_dict(ep).get("conditions"))
            if cond.get("ready") is not False and cond.get("terminating") is not True:
                count += 1
    return count


def pods(related: Related, name: str) -> list[dict] | None:
    """The server's pods (matching its selector labels), sorted by name; None when not sent."""
    if not related.has(POD_KEY):
        return None
    sel = selector_labels(name)
    out = []
    for pod in related.all(POD_KEY):
        labels = _dict(_dict(pod.get("metadata")).get("labels"))
        if all(labels.get(k) == v for k, v in sel.items()):
            out.append(pod)
    return out

