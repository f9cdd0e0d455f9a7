"""Builders for hook requests and for observed children in the states Kubernetes reports."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import yaml

from mcp_operator_hook import constants as C
from mcp_operator_hook import record
from mcp_operator_hook import prober

REPO = Path(__file__).resolve().parents[2]
CRD_PATH = REPO / "crds" / "mcpservers.mcp.example.com.yaml"
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
NOW = "2026-01-01T00:00:00Z"
LATER = "2026-01-01T01:00:00Z"
PARENT_UID = "0b5ad7d6-0000-4000-8000-000000000001"


def load_example(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def parent(name="srv", namespace="ns1", generation=1, status=None, **spec) -> dict:
    p = {"apiVersion": C.API_VERSION, "kind": C.KIND,
         "metadata": {"name": name, "namespace": namespace, "generation": generation, "uid": PARENT_UID},
         "spec": {"image": "mcp-k8s-server:1", **spec}}
    if status is not None:
        p["status"] = status
    return p


def request(parent_obj: dict, observed: list[dict] | None = None, v2: bool = False,
            finalizing: bool = False) -> dict:
    children = {k: {} for k in C.CHILD_KEYS}
    for obj in observed or []:
        key = {"Deployment": C.DEPLOYMENT_CHILD_KEY, "Service": C.SERVICE_CHILD_KEY,
               "ConfigMap": C.CONFIGMAP_CHILD_KEY, "Secret": C.SECRET_CHILD_KEY, "Role": C.ROLE_CHILD_KEY,
               "RoleBinding": C.ROLEBINDING_CHILD_KEY}[obj["kind"]]
        m = obj["metadata"]
        children[key][f"{m['namespace']}/{m['name']}" if v2 else m["name"]] = obj
    req = {"controller": {"metadata": {"name": C.COMPOSITE_CONTROLLER_NAME}}, "parent": parent_obj,
           "children": children, "related": {}}
    if finalizing:
        req["finalizing"] = True
    return req


def as_observed(desired: dict, generation: int = 1) -> dict:
    """What the API server returns for an applied desired child (before any controller acts)."""
    obj = copy.deepcopy(desired)
    m = obj["metadata"]
    m.setdefault("labels", {})[C.CONTROLLER_UID_LABEL] = PARENT_UID
    applied = copy.deepcopy(obj)
    m.setdefault("annotations", {})[C.LAST_APPLIED_ANNOTATION] = json.dumps(applied)
    m.update({"uid": f"uid-{obj['kind'].lower()}", "resourceVersion": "123", "generation": generation,
              "creationTimestamp": "2025-12-31T00:00:00Z",
              "ownerReferences": [{"apiVersion": C.API_VERSION, "kind": C.KIND, "name": "x",
                                   "uid": PARENT_UID, "controller": True, "blockOwnerDeletion": True}],
              "managedFields": [{"manager": "metacontroller"}]})
    if obj["kind"] == "Service":
        obj["spec"]["clusterIP"] = "10.96.0.10"
        obj["spec"]["clusterIPs"] = ["10.96.0.10"]
        obj["spec"]["sessionAffinity"] = "None"
        obj["status"] = {"loadBalancer": {}}
    if obj["kind"] == "Deployment":
        obj["spec"]["progressDeadlineSeconds"] = 600
        obj["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
        obj["status"] = {}
    return obj


def deployment_state(dep: dict, *, observed_generation=None, replicas=None, updated=None, ready=None,
                     progress_deadline_exceeded=False, replica_failure=None) -> dict:
    """Set a Deployment's status as the Deployment controller would."""
    dep = copy.deepcopy(dep)
    want = dep["spec"]["replicas"]
    gen = dep["metadata"]["generation"]
    st = {"observedGeneration": gen if observed_generation is None else observed_generation}
    for k, v in (("replicas", want if replicas is None else replicas),
                 ("updatedReplicas", want if updated is None else updated),
                 ("readyReplicas", want if ready is None else ready)):
        if v:  # the API omits zero counts
            st[k] = v
    if st.get("readyReplicas"):
        st["availableReplicas"] = st["readyReplicas"]
    conds = [{"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
              "message": "Deployment has minimum availability."}]
    if progress_deadline_exceeded:
        conds.append({"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                      "message": f'ReplicaSet "{dep["metadata"]["name"]}-5d4f" has timed out progressing.'})
    else:
        conds.append({"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                      "message": "ReplicaSet has successfully progressed."})
    if replica_failure:
        conds.append({"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                      "message": replica_failure})
    st["conditions"] = conds
    dep["status"] = st
    return dep


def is_record(child: dict) -> bool:
    return child["kind"] == "ConfigMap" and child["metadata"]["name"].endswith(record.SUFFIX)


# What the mcp-prober sidecar adds for a server reachable over HTTP (keys of by_kind).
PROBER_KINDS = {"ConfigMap/inventory", "Role", "RoleBinding"}


def by_kind(children: list[dict]) -> dict[str, dict]:
    """The server's children by kind; the hook's own record ConfigMap is left out (see
    ``record_of``), the prober's inventory ConfigMap is under "ConfigMap/inventory"."""
    out = {}
    for c in children:
        if is_record(c):
            continue
        key = c["kind"]
        if key == "ConfigMap" and c["metadata"]["name"].endswith(prober.INVENTORY_SUFFIX):
            key = "ConfigMap/inventory"
        assert key not in out, f"two {key} children"
        out[key] = c
    return out


def record_of(children: list[dict]) -> dict | None:
    found = [c for c in children if is_record(c)]
    assert len(found) <= 1
    return found[0] if found else None


def cond(status: dict, ctype: str) -> dict:
    (c,) = [c for c in status["conditions"] if c["type"] == ctype]
    return c


def env_of(dep: dict) -> list[dict]:
    return dep["spec"]["template"]["spec"]["containers"][0]["env"]


def container_of(dep: dict) -> dict:
    """The server container; any other container is the mcp-prober sidecar."""
    containers = dep["spec"]["template"]["spec"]["containers"]
    (c,) = [c for c in containers if c["name"] == C.CONTAINER_NAME]
    assert [o["name"] for o in containers if o is not c] in ([], [prober.PROBER_CONTAINER])
    return c
