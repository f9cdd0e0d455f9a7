"""The hook's own record of what it last rendered (pure).

A child ConfigMap ``<name>-hook-record`` holds the last *valid* defaulted spec the hook rendered
children from (canonical JSON). When the spec turns invalid, or a new child would collide with
a foreign object, the hook renders the children from this record instead: the running server
stays exactly as it was, without reading Metacontroller's private
``metacontroller.k8s.io/last-applied-configuration`` annotation, which server-side apply does
not write. It is an ordinary child, so both apply strategies keep it, the garbage collector
deletes it with the MCPServer, and ``kubectl get cm <name>-hook-record -o yaml`` shows what the
server runs.
"""

from __future__ import annotations

import json

from . import constants as C
from .children import labels

SUFFIX = "-hook-record"
SPEC_KEY = "spec.json"
COMPONENT = "hook-record"


def record_name(name: str) -> str:
    return name + SUFFIX


def _known_fields(canonical_spec: str) -> str:
    """The spec without top-level fields the CRD does not declare (the apiserver prunes them;
    a hand-made request may carry them)."""
    from .spec import openapi_schema

    known = openapi_schema()["properties"]["spec"]["properties"]
    spec = json.loads(canonical_spec)
    if all(k in known for k in spec):
        return canonical_spec
    return json.dumps({k: v for k, v in spec.items() if k in known}, sort_keys=True, separators=(",", ":"))


def record_child(name: str, namespace: str, canonical_spec: str, transport: str) -> dict:
    """The record ConfigMap for ``canonical_spec`` (the JSON text ``spec.validate_canonical``
    returns)."""
    canonical_spec = _known_fields(canonical_spec)
    lab = labels(name, transport)
    lab[C.LABEL_COMPONENT] = COMPONENT
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": record_name(name), "namespace": namespace, "labels": lab},
        "data": {SPEC_KEY: canonical_spec},
    }


def recorded_spec(observed_configmaps: list[dict], name: str, namespace: str) -> dict | None:
    """The spec in the observed record child, or None (no record, or not a JSON object)."""
    for obj in observed_configmaps:
        meta = obj.get("metadata") or {}
        if meta.get("name") != record_name(name) or meta.get("namespace", namespace) != namespace:
            continue
        text = (obj.get("data") or {}).get(SPEC_KEY)
        if not isinstance(text, str):
            return None
        try:
            spec = json.loads(text)
        except ValueError:
            return None
        return spec if isinstance(spec, dict) else None
    return None
