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

from . import constants as C
from . import children as ch
from . import spec as specmod
from . import status as st
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
    """The observed child as it was last applied (its Metacontroller last-applied annotation),
    else a copy stripped of everything the server sets."""
    meta = obj.get("metadata") or {}
    raw = (meta.get("annotations") or {}).get(C.LAST_APPLIED_ANNOTATION)
    if isinstance(raw, str):
        try:
            applied = json.loads(raw)
        except ValueError:
            applied = None
        if isinstance(applied, dict) and isinstance(applied.get("metadata"), dict) \
                and applied["metadata"].get("name") == meta.get("name"):
            applied = copy.deepcopy(applied)
            applied.pop("status", None)
            kind, api_version = _key_kind(key)
            applied.setdefault("apiVersion", obj.get("apiVersion") or api_version)
            applied.setdefault("kind", obj.get("kind") or kind)
            for f in _SERVER_METADATA:
                applied["metadata"].pop(f, None)
            annotations = applied["metadata"].get("annotations")
            if isinstance(annotations, dict) and C.LAST_APPLIED_ANNOTATION in annotations:
                annotations.pop(C.LAST_APPLIED_ANNOTATION)
                if not annotations:
                    applied["metadata"].pop("annotations")
            return applied
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
    if out.get("kind") == "Service" and isinstance(out.get("spec"), dict):
        for f in ("clusterIP", "clusterIPs"):
            out["spec"].pop(f, None)
    return out


def _status(p: Parsed, spec: dict, errors: list[str], desired_hash: str | None, now: str | None,
            terminating: bool) -> dict:
    return st.compute(
        name=p.name, namespace=p.namespace, parent=p.parent, spec=spec, errors=errors,
        deployment=p.observed(C.DEPLOYMENT_CHILD_KEY, p.name),
        service=p.observed(C.SERVICE_CHILD_KEY, p.name),
        desired_hash=desired_hash, now=now or now_rfc3339(), terminating=terminating,
    )


@functools.lru_cache(maxsize=2048)
def _desired_cached(name: str, namespace: str, canonical_spec: str) -> tuple[str, str]:
    """Desired children (as JSON) and the Deployment's spec hash; they depend on nothing but
    (name, namespace, defaulted spec), so a resync of an unchanged MCPServer reuses them."""
    desired = ch.desired_children(name, namespace, json.loads(canonical_spec))
    dep = next(c for c in desired if c["kind"] == "Deployment")
    return json.dumps(desired, separators=(",", ":")), dep["metadata"]["annotations"][C.SPEC_HASH_ANNOTATION]


def _answer(request: dict, now: str | None) -> tuple[dict, str | None]:
    """The sync answer; for a valid spec its children come separately as memoized JSON text."""
    p = parse_request(request)
    if p.finalizing:
        return finalize(request, now=now), None
    spec, canonical, errors = specmod.validate_canonical(p.name, p.parent.get("spec"))
    if errors:
        kept = [as_applied(obj, key) for key in sorted(p.children) for obj in p.children[key]]
        return {"status": _status(p, spec, errors, None, now, False), "children": kept}, None
    children_json, desired_hash = _desired_cached(p.name, p.namespace, canonical)
    return {"status": _status(p, spec, errors, desired_hash, now, False)}, children_json


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
