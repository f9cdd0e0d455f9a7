"""Proof that the local control plane is real Kubernetes: scheduling and kwok, controllers,
garbage collection, RBAC with ServiceAccount tokens, CRD schema and CEL validation."""

from __future__ import annotations

import json
import subprocess

from tests.kube import wait_for


def get_json(cp, *args):
    return json.loads(cp.kubectl("get", *args, "-o", "json").stdout)


def test_nodes_are_kwok_nodes_and_ready(control_plane):
    nodes = get_json(control_plane, "nodes")["items"]
    names = sorted(n["metadata"]["name"] for n in nodes)
    assert names == sorted(control_plane.nodes)
    for n in nodes:
        assert n["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"
        assert n["status"]["nodeInfo"]["kubeletVersion"].startswith("v1.")
        ready = [c for c in n["status"]["conditions"] if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True"


def test_binaries_report_their_real_version(control_plane):
    out = json.loads(control_plane.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["gitVersion"].startswith("v1.3")
    assert out["serverVersion"]["gitVersion"] == out["clientVersion"]["gitVersion"]


def test_deployment_reaches_two_ready_replicas(control_plane, namespace):
    control_plane.kubectl(
        "create", "deployment", "web", "--image=registry.example/web:1", "--replicas=2", "-n", namespace
    )

    def ready():
        d = get_json(control_plane, "deployment", "web", "-n", namespace)
        return d.get("status", {}).get("readyReplicas") == 2

    wait_for(ready, what="2 ready replicas")
    pods = get_json(control_plane, "pods", "-n", namespace, "-l", "app=web")["items"]
    assert len(pods) == 2
    assert {p["spec"]["nodeName"] for p in pods} <= set(control_plane.nodes)
    assert all(p["status"]["phase"] == "Running" for p in pods)


def test_deleting_owner_garbage_collects_dependents(control_plane, namespace):
    owner = json.loads(
        control_plane.kubectl(
            "create", "configmap", "owner", "-n", namespace, "-o", "json", "--from-literal=a=b"
        ).stdout
    )
    dependent = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "dependent",
            "namespace": namespace,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}
            ],
        },
    }
    control_plane.kubectl("apply", "-f", "-", input=json.dumps(dependent))
    control_plane.kubectl("delete", "configmap", "owner", "-n", namespace)
    wait_for(
        lambda: control_plane.kubectl("get", "configmap", "dependent", "-n", namespace, check=False).returncode != 0,
        what="garbage collection of the dependent",
    )


def test_serviceaccount_without_rights_is_forbidden(control_plane, namespace, tmp_path):
    control_plane.kubectl("create", "serviceaccount", "nobody", "-n", namespace)
    token = control_plane.kubectl("create", "token", "nobody", "-n", namespace).stdout.strip()
    base = ["--server", control_plane.server, "--certificate-authority", str(control_plane.state_dir / "pki/ca.crt")]
    def run_as(token_value, *args):
        return subprocess.run(
            [str(control_plane.bin_dir / "kubectl"), "--kubeconfig", "/dev/null", *base, "--token", token_value, *args],
            capture_output=True,
            text=True,
            timeout=30,
        )

    denied = run_as(token, "get", "pods", "-n", namespace)
    assert denied.returncode != 0
    assert "Forbidden" in denied.stderr and f"system:serviceaccount:{namespace}:nobody" in denied.stderr
    # The same request as admin succeeds; a Role then grants exactly what it names.
    assert control_plane.kubectl("get", "pods", "-n", namespace).returncode == 0
    control_plane.kubectl("create", "role", "pod-reader", "--verb=get,list", "--resource=pods", "-n", namespace)
    control_plane.kubectl(
        "create", "rolebinding", "nobody-reads", "--role=pod-reader",
        f"--serviceaccount={namespace}:nobody", "-n", namespace,
    )
    wait_for(lambda: run_as(token, "get", "pods", "-n", namespace).returncode == 0, what="RBAC grant")
    # Authorization comes before lookup: deleting even a missing pod is refused, not "not found".
    refused = run_as(token, "delete", "pod", "anything", "-n", namespace)
    assert refused.returncode != 0 and "Forbidden" in refused.stderr


CEL_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: celwidgets.foundation.example.com
spec:
  group: foundation.example.com
  scope: Namespaced
  names: {plural: celwidgets, singular: celwidget, kind: CelWidget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: "self.min <= self.max"
              message: "min must not exceed max"
            properties:
              min: {type: integer, default: 0}
              max: {type: integer, maximum: 10}
"""


def test_crd_cel_and_schema_validation_are_enforced(control_plane, namespace):
    control_plane.kubectl("apply", "-f", "-", input=CEL_CRD)
    wait_for(
        lambda: control_plane.kubectl("get", "celwidgets", "-A", check=False).returncode == 0,
        what="CRD established",
    )
    bad = control_plane.kubectl(
        "apply", "-n", namespace, "-f", "-", check=False,
        input="apiVersion: foundation.example.com/v1\nkind: CelWidget\nmetadata: {name: w}\nspec: {min: 5, max: 3}\n",
    )
    assert bad.returncode != 0 and "min must not exceed max" in bad.stderr
    too_big = control_plane.kubectl(
        "apply", "-n", namespace, "-f", "-", check=False,
        input="apiVersion: foundation.example.com/v1\nkind: CelWidget\nmetadata: {name: w}\nspec: {max: 11}\n",
    )
    assert too_big.returncode != 0 and "spec.max" in too_big.stderr
    control_plane.kubectl(
        "apply", "-n", namespace, "-f", "-",
        input="apiVersion: foundation.example.com/v1\nkind: CelWidget\nmetadata: {name: w}\nspec: {max: 3}\n",
    )
    stored = get_json(control_plane, "celwidget", "w", "-n", namespace)
    assert stored["spec"] == {"min": 0, "max": 3}  # defaulting is real too
