#!/usr/bin/env python3
"""Print the structural CRD schema (YAML) of a Kubernetes core type, for pasting into crds/.

Usage: scripts/k8s-crd-schema.py V1Affinity [indent]

The CRD in crds/ stays the single, hand-kept source; this only saves retyping the shapes of
core types the MCPServer spec embeds (affinity, tolerations, probes, ...). It reads the models
of the pinned ``kubernetes`` Python client (generated from the Kubernetes OpenAPI), so the
field names, nesting, required fields and descriptions are Kubernetes' own. It adds what a CRD
needs and the OpenAPI lacks: maxLength / maxItems / maxProperties (CEL cost budget) and
x-kubernetes-list-type. IntOrString fields (``object`` in the client) become int-or-string.
"""

from __future__ import annotations

import json
import sys

import yaml
from kubernetes.client import models

MAX_STRING = 4096
MAX_ITEMS = 64
MAX_PROPS = 64


def _convert(js: dict, defs: dict) -> dict:
    """A pydantic JSON-schema node -> a structural CRD schema node."""
    if "$ref" in js:
        js = {**defs[js["$ref"].split("/")[-1]], **{k: v for k, v in js.items() if k != "$ref"}}
    desc = js.get("description", "").split("\n\nAttributes:")[0].strip()
    variants = [v for v in js.get("anyOf", []) if v.get("type") != "null"]
    if variants and sorted(v.get("type", "") for v in variants) == ["integer", "string"]:
        out = {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}
    else:
        node = variants[0] if len(variants) == 1 else js
        if "$ref" in node:
            node = {**defs[node["$ref"].split("/")[-1]]}
            if not desc:
                desc = node.get("description", "").split("\n\nAttributes:")[0].strip()
        t = node.get("type")
        if t == "array":
            items = _convert(node["items"], defs)
            items.setdefault("description", "An entry.")
            out = {"type": "array", "maxItems": MAX_ITEMS, "x-kubernetes-list-type": "atomic", "items": items}
        elif t == "object" and "properties" in node:
            props = {}
            for name, sub in node["properties"].items():
                props[name] = _convert(sub, defs)
                props[name].setdefault("description", name + ".")
            out = {"type": "object"}
            if node.get("required"):
                out["required"] = list(node["required"])
            out["properties"] = props
        elif t == "object":
            vals = _convert(node.get("additionalProperties") or {"type": "string"}, defs)
            vals.setdefault("description", "A value.")
            out = {"type": "object", "maxProperties": MAX_PROPS, "additionalProperties": vals}
        elif t == "string":
            out = {"type": "string", "maxLength": MAX_STRING}
        elif t in ("integer", "boolean"):
            out = {"type": t}
        elif t == "number":
            out = {"type": "number"}
        else:
            raise ValueError(f"unsupported node {json.dumps(node)[:200]}")
    if desc:
        out = {"description": " ".join(desc.split()), **out}
    return out


def schema_of(type_name: str) -> dict:
    js = getattr(models, type_name).model_json_schema(by_alias=True)
    return _convert(js, js.get("$defs", {}))


def main() -> None:
    name = sys.argv[1]
    indent = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    text = yaml.safe_dump(schema_of(name), sort_keys=False, width=100)
    sys.stdout.write("".join(" " * indent + line + "\n" for line in text.splitlines()))


if __name__ == "__main__":
    main()
