"""Name collisions: a desired child whose name is taken by an object this MCPServer does not
own (pure).

What the real Metacontroller (v4.17.2, pkg/controller/common/manage_children.go) does with such
a desired child, which is why the hook must never ask for it:
- it only observes children it owns (controller ref / controller-uid), so the foreign object
  is "not observed" and the child counts as new;
- client-side apply then creates it: AlreadyExists is swallowed, the foreign object stays, and
  a Deployment would mount a foreign ``<name>-config`` without a word;
- server-side apply patches it with ``force: true`` and appends a controller ownerReference:
  an object without a controller is silently *taken over* (its fields overwritten), one with
  another controller fails on every sync.
So the hook reads the objects its children's names would take (customize ``related``, by
name), and omits every desired child whose name is taken by someone else, and every child that
would reference such an object (the Deployment mounting ``<name>-config``).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import related as rel



@dataclass(frozen=True)
class Collision:
    kind: str
    name: str
    namespace: str
    owner: str  # "no owner" or "<Kind> <name>"

    def message(self, parent_name: str) -> str:
        return (f"{self.kind} {self.namespace}/{self.name} already exists and is not owned by MCPServer "
                f"{parent_name} ({self.owner}); it is left untouched, never adopted, mounted or deleted: "
                f"delete or rename that {self.kind}, or give the MCPServer another name")


def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def owned_by(obj: dict, parent: dict) -> bool:
    """Whether ``obj`` has a controller ownerReference to ``parent`` (by uid when the parent has
    one, else by kind and name)."""
    pmeta = _d(parent.get("metadata"))
    uid = pmeta.get("uid")
    for ref in _d(obj.get("metadata")).get("ownerReferences") or []:
        ref = _d(ref)
        if not ref.get("controller"):
            continue
        if uid:
            if ref.get("uid") == uid:
                return True
        elif ref.get("kind") == parent.get("kind", "MCPServer") and ref.get("name") == pmeta.get("name"):
            return True
    return False


def _owner(obj: dict) -> str:
    for ref in _d(obj.get("metadata")).get("ownerReferences") or []:
        ref = _d(ref)
        if ref.get("controller"):
            return f"controlled by {ref.get('kind')} {ref.get('name')}"
    return "it has no controller"


def collisions(children: list[dict], related: rel.Related, parent: dict, observed_names: set[tuple[str, str]]) -> list[Collision]:
    """The desired ``children`` whose name is taken by a foreign object, in the children's order.
    ``observed_names`` = (kind, name) of children Metacontroller reported as owned."""
    out = []
    namespace = _d(parent.get("metadata")).get("namespace") or ""
    for child in children:
        kind, name = child.get("kind"), _d(child.get("metadata")).get("name")
        key = rel.child_key(kind) if kind in rel.CHILD_RESOURCES else None
        if key is None or (kind, name) in observed_names or not related.has(key):
            continue
        obj = related.get(key, name)
        if obj is not None and not owned_by(obj, parent):
            out.append(Collision(kind, name, namespace, _owner(obj)))
    return out


# Kinds other children refer to by name (volumes, env, envFrom, Role resourceNames, roleRef).
REFERENCED_KINDS = ("ConfigMap", "Secret", "Role")


def _strings(value, out: set[str]) -> set[str]:
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, list):
        for v in value:
            _strings(v, out)
    return out


def references_any(child: dict, collided: list[Collision]) -> bool:
    """Whether a desired child names a collided ConfigMap, Secret or Role anywhere outside its
    own metadata: a Deployment mounting ``<name>-config`` or reading ``<name>-bridge``, the
    prober's Role granting ``<name>-inventory`` by resourceNames, a RoleBinding whose roleRef is
    a foreign ``<name>-prober``. Such a child would use the foreign object, so it is not asked
    for either. (A string scan, not a walk of each kind's reference fields: every child kind and
    every future field is covered, and the names are the hook's own, specific suffixes.)"""
    taken = {c.name for c in collided if c.kind in REFERENCED_KINDS}
    if not taken:
        return False
    body = {k: v for k, v in child.items() if k != "metadata"}
    return bool(_strings(body, set()) & taken)


def without_collisions(children: list[dict], collided: list[Collision]) -> list[dict]:
    taken = {(c.kind, c.name) for c in collided}
    return [c for c in children
            if (c.get("kind"), _d(c.get("metadata")).get("name")) not in taken and not references_any(c, collided)]
