"""What the hook's desired children must respect for Metacontroller's client-side 3-way merge
(`--apply-strategy=dynamic-apply`, its default), kept from the retired stand-in as hook tests.

Metacontroller merges a list of objects as a map when every item has one of the conventional keys
(`containerPort`, `port`, `mountPath`, `name`, `uid`, `ip`, `path`, first match wins;
pkg/dynamic/apply/apply.go `knownMergeKeys`/`detectListMapKey`). Two items with the same key value
collapse into one: the merged object then differs from the live one on every sync (an update loop)
or silently loses an item. So in every desired child, a list merged by key has unique keys.
"""

from __future__ import annotations

import pytest

from mcp_operator_hook.sync import sync

from .helpers import EXAMPLES, NOW, load_example, parent, request

# pkg/dynamic/apply/apply.go, in precedence order.
KNOWN_MERGE_KEYS = ("containerPort", "port", "mountPath", "name", "uid", "ip", "path")


def merge_key(items: list) -> str | None:
    """The key Metacontroller would merge `items` by (None: replaced as a whole)."""
    if not items or not all(isinstance(i, dict) for i in items):
        return None
    common = set(items[0]).intersection(*items[1:])
    return next((k for k in KNOWN_MERGE_KEYS if k in common), None)


def keyed_lists(obj, path: str = ""):
    """(path, key, key values) of every list in obj that is merged as a map."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from keyed_lists(v, f"{path}.{k}")
    elif isinstance(obj, list):
        key = merge_key(obj)
        if key:
            yield path, key, [str(i[key]) for i in obj]
        for n, item in enumerate(obj):
            yield from keyed_lists(item, f"{path}[{n}]")


def test_merge_key_detection_follows_metacontroller():
    assert merge_key([{"name": "a", "containerPort": 1}, {"name": "b", "containerPort": 2}]) == "containerPort"
    assert merge_key([{"name": "a", "mountPath": "/x"}]) == "mountPath"
    assert merge_key([{"name": "a"}, {"value": "b"}]) is None  # not every item has it: replaced whole
    assert merge_key(["a", "b"]) is None


def children_of(spec_parent: dict) -> list[dict]:
    return sync(request(spec_parent), now=NOW)["children"]


CASES = [(p.name, load_example(p)) for p in EXAMPLES] + [
    ("env-overrides", parent(transport="streamable-http", port=3001,
                             env=[{"name": "POD_NAME", "value": "x"}, {"name": "EXTRA", "value": "1"}],
                             config={"A": "1"})),
    ("stdio", parent(transport="stdio")),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_lists_merged_by_key_have_unique_keys(case):
    _, obj = case
    for child in children_of(obj):
        for path, key, values in keyed_lists(child):
            dupes = sorted({v for v in values if values.count(v) > 1})
            assert not dupes, f"{child['kind']}{path} merged by {key!r} has duplicate {dupes}"
