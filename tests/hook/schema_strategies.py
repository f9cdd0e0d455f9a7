"""Hypothesis strategies built from the CRD's structural OpenAPI schema (the packaged copy).

hypothesis-jsonschema would be the library for this, but its last release (0.23.1) breaks on
current Hypothesis (its object strategy calls a removed internal API), and the CRD's schema uses
only a small, structural subset of JSON Schema (type, properties, items, additionalProperties,
enum, bounds, pattern, the Kubernetes int-or-string), which the ~60 lines below cover.

``from_schema(schema, junk=p)`` draws mostly schema-conforming values; at every node it draws,
with weight ``p``, an arbitrary JSON value instead, so the same strategy yields valid and
invalid specs (the hook must answer both without a 5xx).
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

NAME_CHARS = string.ascii_lowercase + string.digits + "-"

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=12))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                 st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                           max_leaves=6)

QUANTITY = st.one_of(st.sampled_from(["100m", "1", "0.5", "1Gi", "512Mi", "2", "250m", "1e3", "64Mi", "1024Mi"]),
                     st.integers(0, 64))


def _string(schema: dict) -> st.SearchStrategy:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    lo, hi = schema.get("minLength", 0), min(schema.get("maxLength", 24), 24)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: lo <= len(s) <= schema.get("maxLength", 10**9))
    return st.text(min_size=lo, max_size=max(hi, lo))


def _valid(schema: dict, junk: float) -> st.SearchStrategy:
    if schema.get("x-kubernetes-int-or-string"):
        return QUANTITY
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    t = schema.get("type")
    if t == "object":
        props = schema.get("properties")
        if props:
            required = set(schema.get("required", ()))
            return st.fixed_dictionaries(
                {k: from_schema(v, junk) for k, v in props.items() if k in required},
                optional={k: from_schema(v, junk) for k, v in props.items() if k not in required})
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return st.dictionaries(st.from_regex(r"[-._a-zA-Z0-9]{1,12}", fullmatch=True), from_schema(extra, junk),
                                   max_size=min(schema.get("maxProperties", 4), 4))
        return st.dictionaries(st.text(max_size=8), json_scalars, max_size=3)
    if t == "array":
        items = schema.get("items") or {}
        keys = schema.get("x-kubernetes-list-map-keys")
        unique_by = (lambda x: tuple(str(x.get(k)) if isinstance(x, dict) else repr(x) for k in keys)) if keys else None
        return st.lists(from_schema(items, junk), max_size=min(schema.get("maxItems", 4), 4), unique_by=unique_by)
    if t == "string":
        return _string(schema)
    if t == "integer":
        return st.integers(schema.get("minimum", -5), min(schema.get("maximum", 70000), 70000))
    if t == "number":
        return st.floats(schema.get("minimum", -5), schema.get("maximum", 1e6), allow_nan=False)
    if t == "boolean":
        return st.booleans()
    return json_values


def from_schema(schema: dict, junk: float = 0.05) -> st.SearchStrategy:
    valid = _valid(schema, junk)
    if junk <= 0:
        return valid
    # Hypothesis has no weighted one_of; a boolean with the right odds picks the branch.
    return st.floats(0, 1).flatmap(lambda r: json_values if r < junk else valid)
