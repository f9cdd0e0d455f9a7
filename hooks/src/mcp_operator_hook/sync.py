"""The hooks as pure functions: Metacontroller request (dict) in, response (dict) out.

``sync(request)``     -> ``{"status": {...}, "children": [...]}``
``finalize(request)`` -> ``{"status": {...}, "children": [], "finalized": bool}``

A malformed request raises :class:`BadRequest` (HTTP 400, Metacontroller retries and changes
nothing). An invalid *spec* is a valid request: the answer keeps the observed children as they
were applied and reports phase Failed with ConfigurationValid=False.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from . import bridge
from . import constants as C
from . import children as ch
from . import spec as specmod
from . import causes
from . import ownership as own
from . import record
from . import related as rel
from . import status as st
from . import inventory, prober
from .errors import BadRequest

# Fields the API server sets; never part of a desired object.
_SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                    "deletionGracePeriodSeconds", "managedFields", "selfLink", "ownerReferences",
                    "finalizers")
_SERVER_ANNOTATIONS = (C.LAST_APPLIED_ANNOTATION, "deployment.kubernetes.io/revision",
                       "kubectl.kubernetes.io/last-applied-configuration")


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Parsed:
    parent: dict
    name: str
    namespace: str
    children: dict  # child key -> list of observed objects (sorted by namespace/name)
    finalizing: bool

    def observed(self, key: str, name: str) -> dict | None:
        for obj in self.children.get(key, ()):
            meta = obj["metadata"]
            if meta["name"] == name and meta.get("namespace", self.namespace) == self.namespace:
                return obj
        return None

    def count(self) -> int:
        return sum(len(v) for v in self.children.values())


def parse_request(request) -> Parsed:
    """Check the request's shape; children keyed by ``name`` (v1) or ``ns/name`` (v2)."""
    if not isinstance(request, dict):
        raise BadRequest("request body must be a JSON object")
    parent = request.get("parent")
    if not isinstance(parent, dict):
        raise BadRequest("request.parent must be an object")
    kind = parent.get("kind")
    if kind is not None and kind != C.KIND:
        raise BadRequest(f"request.parent.kind must be {C.KIND}, got {kind!r}")
    api_version = parent.get("apiVersion")
    if api_version is not None and api_version != C.API_VERSION:
        raise BadRequest(f"request.parent.apiVersion must be {C.API_VERSION}, got {api_version!r}")
    meta = parent.get("metadata")
    if not isinstance(meta, dict):
        raise BadRequest("request.parent.metadata must be an object")
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str) or not name:
        raise BadRequest("request.parent.metadata.name must be a non-empty string")
    if not isinstance(namespace, str) or not namespace:
        raise BadRequest("request.parent.metadata.namespace must be a non-empty string (MCPServer is namespaced)")
    if "children" not in request:
        raise BadRequest("request.children is missing (one entry per child rule is expected)")
    raw = request["children"]
    if not isinstance(raw, dict):
        raise BadRequest("request.children must be an object keyed by <Kind>.<apiVersion>")
    observed: dict[str, list] = {}
    for key, group in raw.items():
        if group is None:
            group = {}
        if not isinstance(group, dict):
            raise BadRequest(f"request.children[{key!r}] must be an object keyed by name or namespace/name")
        objs = []
        for child_key, obj in group.items():
            if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict) \
                    or not isinstance(obj["metadata"].get("name"), str):
                raise BadRequest(f"request.children[{key!r}][{child_key!r}] must be an object with metadata.name")
            objs.append(obj)
        objs.sort(key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))
        observed[key] = objs
    finalizing = request.get("finalizing", False)
    if not isinstance(finalizing, bool):
        raise BadRequest("request.finalizing must be a boolean")
    return Parsed(parent, name, namespace, observed, finalizing)


def _key_kind(key: str) -> tuple[str, str]:
    """'Deployment.apps/v1' -> ('Deployment', 'apps/v1'); 'Service.v1' -> ('Service', 'v1')."""
    kind, _, api_version = key.partition(".")
    return kind, api_version


def as_applied(obj: dict, key: str) -> dict:
    """A copy of an observed child without what the API server and Metacontroller set (status,
    uid, resourceVersion, clusterIP, ownerReferences, Metacontroller's last-applied annotation,
    ...). Used only when the hook has no record of its own to render from (record.py); it never
    reads Metacontroller's private last-applied annotation, which server-side apply does not
    write."""
    out = copy.deepcopy(obj)
    out.pop("status", None)
    kind, api_version = _key_kind(key)
    out.setdefault("apiVersion", api_version)
    out.setdefault("kind", kind)
    m = out["metadata"]
    for f in _SERVER_METADATA:
        m.pop(f, None)
    annotations = m.get("annotations")
    if isinstance(annotations, dict):
        for a in _SERVER_ANNOTATIONS:
            annotations.pop(a, None)
        if not annotations:
            m.pop("annotations")
    labels = m.get("labels")
    if isinstance(labels, dict) and C.CONTROLLER_UID_LABEL in labels:
        labels.pop(C.CONTROLLER_UID_LABEL)  # Metacontroller adds it back
        if not labels:
            m.pop("labels")
    if out.get("kind") == "Service" and isinstance(out.get("spec"), dict):
        for f in ("clusterIP", "clusterIPs"):
            out["spec"].pop(f, None)
    return out


def _status(p: Parsed, spec: dict, errors: list[str], desired_hash: str | None, now: str | None,
            terminating: bool, related: rel.Related | None = None,
            conflicts: list[own.Collision] = (), missing: list[tuple[str, str]] = ()) -> dict:
    related = related or rel.Related({}, p.namespace)
    return st.compute(
        name=p.name, namespace=p.namespace, parent=p.parent, spec=spec, errors=errors,
        deployment=p.observed(C.DEPLOYMENT_CHILD_KEY, p.name),
        service=p.observed(C.SERVICE_CHILD_KEY, p.name),
        desired_hash=desired_hash, now=now or now_rfc3339(), terminating=terminating,
        cause=None if terminating else causes.first_cause(rel.pods(related, p.name)),
        ready_endpoints=rel.ready_endpoints(related, p.name),
        conflicts=[(c.kind, c.message(p.name)) for c in conflicts],
        inventory=p.observed(C.CONFIGMAP_CHILD_KEY, prober.inventory_name(p.name)),
        pods=rel.pods(related, p.name), missing=list(missing),
    )


def _with_referenced_hash(desired: list[dict], ref_hash: str) -> None:
    """Put the referenced-data hash into the Deployment's pod template (so an edit of a
    referenced Secret/ConfigMap rolls the pods) and re-hash the Deployment spec."""
    for child in desired:
        if child["kind"] == "Deployment":
            tmeta = child["spec"]["template"]["metadata"]
            tmeta.setdefault("annotations", {})[C.REFERENCED_DATA_HASH_ANNOTATION] = ref_hash
            child["metadata"]["annotations"][C.SPEC_HASH_ANNOTATION] = ch.sha256(ch.canonical_json(child["spec"]))


@functools.lru_cache(maxsize=2048)
def _desired_cached(name: str, namespace: str, canonical_spec: str,
                    ref_hash: str | None = None) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Desired children (as JSON, the hook's record last), the Deployment's spec hash and the
    children's (kind, name); they depend on nothing but the arguments, so a resync of an
    unchanged MCPServer reuses them."""
    spec = json.loads(canonical_spec)
    desired = ch.desired_children(name, namespace, spec)
    if ref_hash:
        _with_referenced_hash(desired, ref_hash)
    desired.append(record.record_child(name, namespace, canonical_spec, spec["transport"]))
    dep = next(c for c in desired if c["kind"] == "Deployment")
    names = tuple((c["kind"], c["metadata"]["name"]) for c in desired)
    return (json.dumps(desired, separators=(",", ":")), dep["metadata"]["annotations"][C.SPEC_HASH_ANNOTATION],
            names)


def desired_names(name: str, namespace: str, spec) -> list[tuple[str, str]]:
    """(kind, name) of every child a spec renders; empty for an invalid spec (customize hook)."""
    try:
        defaulted, canonical, errors = specmod.validate_canonical(name, spec)
    except (AttributeError, TypeError, KeyError, ValueError):
        return []
    if errors:
        return []
    names = list(_desired_cached(name, namespace, canonical)[2])
    if specmod.is_bridged(defaulted):
        names.append(("Secret", bridge.secret_name(name)))
    return names


def _observed_names(p: Parsed) -> set[tuple[str, str]]:
    return {(_key_kind(key)[0], obj["metadata"]["name"]) for key, objs in p.children.items() for obj in objs}


def _name_stubs(names) -> list[dict]:
    return [{"kind": k, "metadata": {"name": n}} for k, n in names]


def _kept(p: Parsed, related: rel.Related) -> tuple[list[dict], list[own.Collision]]:
    """What keeps the running server as it is: the children rendered from the hook's record
    (with the referenced-data hash the running pods carry), else copies of the observed
    children; never a child whose name a foreign object takes, nor one that would mount it."""
    spec = record.recorded_spec(p.children.get(C.CONFIGMAP_CHILD_KEY, []), p.name, p.namespace)
    if spec is not None:
        recorded, canonical, errors = specmod.validate_canonical(p.name, spec)
        if not errors:
            dep = p.observed(C.DEPLOYMENT_CHILD_KEY, p.name) or {}
            tmeta = ((dep.get("spec") or {}).get("template") or {}).get("metadata") or {}
            ref_hash = (tmeta.get("annotations") or {}).get(C.REFERENCED_DATA_HASH_ANNOTATION)
            children_json, _, names = _desired_cached(p.name, p.namespace, canonical,
                                                      ref_hash if isinstance(ref_hash, str) else None)
            kept = json.loads(children_json) + _observed_dependent_children(p, recorded)
            found = own.collisions(kept, related, p.parent, _observed_names(p))
            return own.without_collisions(kept, found), found
    return [inventory.strip_reported(as_applied(obj, key), p.name)
            for key in sorted(p.children) for obj in p.children[key]], []


def _answer(request: dict, now: str | None) -> tuple[dict, str | None]:
    """The sync answer; for a valid spec its children come separately as memoized JSON text."""
    p = parse_request(request)
    if p.finalizing:
        return finalize(request, now=now), None
    related = rel.Related(request.get("related"), p.namespace)
    spec, canonical, errors = specmod.validate_canonical(p.name, p.parent.get("spec"))
    if errors:
        kept, found = _kept(p, related)
        return {"status": _status(p, spec, errors, None, now, False, related, found), "children": kept}, None
    ref_hash = rel.referenced_data_hash(rel.references(spec), related)
    children_json, desired_hash, names = _desired_cached(p.name, p.namespace, canonical, ref_hash)
    extra = _observed_dependent_children(p, spec)
    names += tuple((c["kind"], c["metadata"]["name"]) for c in extra)
    found = own.collisions(_name_stubs(names), related, p.parent, _observed_names(p))
    if found:
        # a child of the current spec would take a foreign object's name: keep what runs
        kept, more = _kept(p, related)
        found += [c for c in more if c not in found]
        return {"status": _status(p, spec, errors, None, now, False, related, found), "children": kept}, None
    if extra:
        children_json = children_json[:-1] + "," + ",".join(dumps(c) for c in extra) + "]"
    observed = _observed_names(p)
    missing = [n for n in names if n not in observed]
    return {"status": _status(p, spec, errors, desired_hash, now, False, related, missing=missing)}, children_json


def _observed_dependent_children(p: Parsed, spec: dict) -> list[dict]:
    """Children whose content depends on what is observed, so never memoized: the bridge's
    Secret (its random session key is generated once, then re-emitted as observed)."""
    if not specmod.is_bridged(spec):
        return []
    observed = p.observed(C.SECRET_CHILD_KEY, bridge.secret_name(p.name))
    return [bridge.secret(p.name, p.namespace, ch.labels(p.name, spec["transport"]), observed)]


def sync(request: dict, now: str | None = None) -> dict:
    """Desired children + status for one MCPServer. ``now`` (RFC 3339) is for tests."""
    resp, children_json = _answer(request, now)
    if children_json is not None:
        # a fresh parse per call: callers never share (or mutate) cached objects
        resp["children"] = json.loads(children_json)
    return resp


def dumps(obj) -> str:
    return json.dumps(obj, separators=(",", ":"))


def sync_json(request: dict, now: str | None = None) -> tuple[str, dict]:
    """``sync`` as the HTTP body (JSON text) plus its status; splices the memoized children JSON
    instead of parsing and re-serializing it. ``json.loads(text) == sync(request)``."""
    resp, children_json = _answer(request, now)
    if children_json is None:
        return dumps(resp), resp["status"]
    return '{"status":' + dumps(resp["status"]) + ',"children":' + children_json + "}", resp["status"]


def finalize_json(request: dict, now: str | None = None) -> tuple[str, dict]:
    resp = finalize(request, now=now)
    return dumps(resp), resp["status"]


def finalize(request: dict, now: str | None = None) -> dict:
    """Deletion: no desired children (Metacontroller deletes them), phase Terminating,
    ``finalized`` once no owned child is observed any more."""
    p = parse_request(request)
    spec, errors = specmod.validate(p.name, p.parent.get("spec"))
    status = _status(p, spec, errors, None, now, True)
    remaining = p.count()
    for c in status["conditions"]:
        if c["type"] == C.COND_READY:
            c["message"] = ("MCPServer is being deleted; all children are removed" if remaining == 0 else
                            f"MCPServer is being deleted; waiting for {remaining} child object(s) to be removed")
    return {"status": status, "children": [], "finalized": remaining == 0}
