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

_KIND_KEY = {"Deployment": rel.DEPLOYMENT_KEY, "Service": rel.SERVICE_KEY, "ConfigMap": rel.CONFIGMAP_KEY,
             "Secret": rel.SECRET_KEY}


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
        key = _KIND_KEY.get(kind)
        if key is None or (kind, name) in observed_names or not related.has(key):
            continue
        obj = related.get(key, name)
        if obj is not None and not owned_by(obj, parent):
            out.append(Collision(kind, name, namespace, _owner(obj)))
    return out


def pod_template_reads(child: dict) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap/Secret a Deployment's pod template mounts or reads."""
    out: set[tuple[str, str]] = set()
    pod = _d(_d(_d(child.get("spec")).get("template")).get("spec"))
    for vol in pod.get("volumes") or []:
        vol = _d(vol)
        out.add(("ConfigMap", _d(vol.get("configMap")).get("name")))
        out.add(("Secret", _d(vol.get("secret")).get("secretName")))
        for src in _d(vol.get("projected")).get("sources") or []:
            out.add(("ConfigMap", _d(_d(src).get("configMap")).get("name")))
            out.add(("Secret", _d(_d(src).get("secret")).get("name")))
    for c in (pod.get("containers") or []) + (pod.get("initContainers") or []):
        c = _d(c)
        for e in c.get("env") or []:
            vf = _d(_d(e).get("valueFrom"))
            out.add(("ConfigMap", _d(vf.get("configMapKeyRef")).get("name")))
            out.add(("Secret", _d(vf.get("secretKeyRef")).get("name")))
        for e in c.get("envFrom") or []:
            out.add(("ConfigMap", _d(_d(e).get("configMapRef")).get("name")))
            out.add(("Secret", _d(_d(e).get("secretRef")).get("name")))
    return out


def references_any(child: dict, collided: list[Collision]) -> bool:
    """Whether a desired Deployment's pod template mounts or reads a collided ConfigMap or Secret
    (a child of ours by name, e.g. <name>-config or the bridge's <name>-bridge)."""
    taken = {(c.kind, c.name) for c in collided if c.kind in ("ConfigMap", "Secret")}
    if not taken or child.get("kind") != "Deployment":
        return False
    return bool(pod_template_reads(child) & taken)


def without_collisions(children: list[dict], collided: list[Collision]) -> list[dict]:
    taken = {(c.kind, c.name) for c in collided}
    return [c for c in children
            if (c.get("kind"), _d(c.get("metadata")).get("name")) not in taken and not references_any(c, collided)]
