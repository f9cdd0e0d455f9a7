"""Client-side 3-way merge, ported from Metacontroller.

Faithful Python port of
  - metacontroller pkg/dynamic/apply/apply.go  (Merge, list-map detection, last-applied annotation)
  - metacontroller pkg/controller/common/manage_children.go (ApplyUpdate: revert system fields
    and status, record the new last-applied configuration)

Go quirks are kept on purpose (they are what a real Metacontroller does):
  * a type mismatch between observed and lastApplied/desired objects is not an error: Go's
    failed type assertion yields a nil map, so the mismatching side is treated as absent;
  * a list is merged as a "list map" only when every item of observed, lastApplied and desired
    is an object and all of them share one of the known merge keys (first in
    KNOWN_MERGE_KEYS order wins); any other list is replaced wholesale by the desired list;
  * duplicate merge keys collapse (last one wins), and duplicates already present in the
    observed list are emitted once per occurrence (Go's first rebuild loop does not dedupe).
"""

from __future__ import annotations

import copy
import json
from typing import Any

LAST_APPLIED_ANNOTATION = "metacontroller.k8s.io/last-applied-configuration"

KNOWN_MERGE_KEYS = ("containerPort", "port", "mountPath", "name", "uid", "ip", "path")

OBJECT_META_SYSTEM_FIELDS = (
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)


class MergeError(Exception):
    pass


def go_json(obj: Any) -> str:
    """Serialize like Go's encoding/json.Marshal of an unstructured map.

    Sorted keys, compact separators, raw UTF-8, HTML-sensitive characters escaped as Go does.
    """
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def set_last_applied(obj: dict, last_applied: dict) -> None:
    text = go_json(last_applied)
    meta = obj.setdefault("metadata", {})
    ann = meta.get("annotations")
    if not isinstance(ann, dict):
        ann = {}
    ann[LAST_APPLIED_ANNOTATION] = text
    meta["annotations"] = ann


def get_last_applied(obj: dict) -> dict | None:
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    text = ann.get(LAST_APPLIED_ANNOTATION, "")
    if text == "":
        return None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise MergeError(f"can't unmarshal {LAST_APPLIED_ANNOTATION!r} annotation: {exc}") from exc
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MergeError(f"can't unmarshal {LAST_APPLIED_ANNOTATION!r} annotation: not an object")
    return value


def merge(observed: dict, last_applied: dict | None, desired: dict) -> dict:
    """Return an updated copy of observed with the lastApplied->desired diff applied."""
    destination = copy.deepcopy(observed)
    _merge("", destination, last_applied, copy.deepcopy(desired))
    return destination


def _merge(path: str, destination: Any, last_applied: Any, desired: Any) -> Any:
    if isinstance(destination, dict):
        last = last_applied if isinstance(last_applied, dict) else None
        des = desired if isinstance(desired, dict) else None
        return _merge_object(path, destination, last, des)
    if isinstance(destination, list):
        last = last_applied if isinstance(last_applied, list) else None
        des = desired if isinstance(desired, list) else None
        return _merge_array(path, destination, last, des)
    # Scalar or null destination: take the desired value.
    return desired


def _merge_object(path: str, destination: dict, last_applied: dict | None, desired: dict | None) -> dict:
    desired = desired or {}
    for key in list((last_applied or {}).keys()):
        if key not in desired:
            destination.pop(key, None)
    for key, des_val in desired.items():
        destination[key] = _merge(
            f"{path}[{key}]", destination.get(key), (last_applied or {}).get(key), des_val
        )
    return destination


def _merge_array(path: str, destination: list, last_applied: list | None, desired: list | None) -> Any:
    key = detect_list_map_key(destination, last_applied, desired)
    if key:
        return _merge_list_map(path, key, destination, last_applied or [], desired or [])
    return desired


def _string_merge_key(val: Any) -> str:
    # fmt.Sprintf("%v") of JSON-decoded values
    if isinstance(val, str):
        return val
    if val is None:
        return "<nil>"
    if isinstance(val, bool):
        return "true" if val else "false"
    if isinstance(val, float) and val.is_integer():
        return str(int(val))
    return str(val)


def _make_list_map(key: str, items: list) -> dict:
    return {_string_merge_key(item.get(key)): item for item in items}


def _merge_list_map(path: str, key: str, destination: list, last_applied: list, desired: list) -> list:
    dest_map = _make_list_map(key, destination)
    last_map = _make_list_map(key, last_applied)
    des_map = _make_list_map(key, desired)
    _merge_object(path, dest_map, last_map, des_map)

    result = []
    added = set()
    for item in destination:
        k = _string_merge_key(item.get(key))
        if k in dest_map:
            result.append(dest_map[k])
            added.add(k)
    for item in desired:
        k = _string_merge_key(item.get(key))
        if k not in added:
            result.append(dest_map[k])
            added.add(k)
    return result


def detect_list_map_key(*lists: list | None) -> str:
    common: set | None = None
    for lst in lists:
        for item in lst or []:
            if not isinstance(item, dict):
                return ""
            if common is None:
                common = set(item.keys())
                continue
            common &= set(item.keys())
    if not common:
        return ""
    for key in KNOWN_MERGE_KEYS:
        if key in common:
            return key
    return ""


def _nullify_last_applied(obj: dict) -> None:
    ann = (obj.get("metadata") or {}).get("annotations")
    if isinstance(ann, dict) and LAST_APPLIED_ANNOTATION in ann:
        ann[LAST_APPLIED_ANNOTATION] = ""


def _revert_field(new: dict, orig: dict, *path: str) -> None:
    cur = orig
    found = True
    for p in path:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        else:
            found = False
            break
    if found:
        target = new
        for p in path[:-1]:
            nxt = target.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
                target[p] = nxt
            target = nxt
        target[path[-1]] = copy.deepcopy(cur)
    else:
        target = new
        for p in path[:-1]:
            target = target.get(p) if isinstance(target, dict) else None
            if target is None:
                return
        if isinstance(target, dict):
            target.pop(path[-1], None)


def apply_update(orig: dict, update: dict) -> dict:
    """Port of common.ApplyUpdate: the full object to PUT for a desired (partial) update."""
    last_applied = get_last_applied(orig)
    update = copy.deepcopy(update)
    _nullify_last_applied(update)
    new = merge(orig, last_applied, update)
    for field in OBJECT_META_SYSTEM_FIELDS:
        _revert_field(new, orig, "metadata", field)
    _revert_field(new, orig, "status")
    set_last_applied(new, update)
    return new
