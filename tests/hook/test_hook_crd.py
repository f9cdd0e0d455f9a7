"""The CRD: one source of truth, structural, documented, and covering everything the hook writes."""

from __future__ import annotations

import copy
import re

import jsonschema
import pytest
import yaml

from mcp_operator_hook import constants as C
from mcp_operator_hook import spec as specmod
from mcp_operator_hook.sync import sync

from .helpers import CRD_PATH, EXAMPLES, REPO, load_example, parent, request
from .test_hook_sync import SCENARIOS, rolled_out, run

CRD = yaml.safe_load(CRD_PATH.read_text())
(VERSION,) = CRD["spec"]["versions"]
SCHEMA = VERSION["schema"]["openAPIV3Schema"]


def test_packaged_copy_is_byte_identical():
    packaged = REPO / "hooks" / "src" / "mcp_operator_hook" / "crd.yaml"
    assert packaged.read_bytes() == CRD_PATH.read_bytes(), \
        "run: scripts/sync-chart-crds.sh"
    assert specmod.crd_text().encode() == CRD_PATH.read_bytes()


def test_names_and_version():
    s = CRD["spec"]
    assert CRD["apiVersion"] == "apiextensions.k8s.io/v1"
    assert CRD["metadata"]["name"] == C.CRD_NAME
    assert s["group"] == C.GROUP and s["scope"] == "Namespaced"
    assert s["names"] == {"kind": C.KIND, "listKind": "MCPServerList", "plural": C.PLURAL,
                          "singular": "mcpserver", "shortNames": [C.SHORT_NAME], "categories": ["ai", "mcp"]}
    assert VERSION["name"] == C.VERSION and VERSION["served"] and VERSION["storage"]


def test_subresources_status_and_scale_with_selector():
    assert VERSION["subresources"] == {"status": {}, "scale": {
        "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector"}}


def test_printer_columns():
    cols = [(c["name"], c["jsonPath"]) for c in VERSION["additionalPrinterColumns"]]
    assert cols == [("Phase", ".status.phase"), ("Ready", ".status.readyReplicas"),
                    ("Replicas", ".spec.replicas"), ("Transport", ".spec.transport"),
                    ("Tools", ".status.server.toolCount"), ("Endpoint", ".status.endpoint"),
                    ("Age", ".metadata.creationTimestamp")]


def _walk(schema, path="$"):
    yield path, schema
    for name, sub in (schema.get("properties") or {}).items():
        yield from _walk(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _walk(schema["additionalProperties"], f"{path}{{}}")


def test_structural_and_documented():
    for path, s in _walk(SCHEMA):
        if path == "$.metadata":
            continue
        assert s.get("description"), f"{path} has no description"
        if s.get("x-kubernetes-int-or-string"):
            assert s["anyOf"] == [{"type": "integer"}, {"type": "string"}] and "type" not in s, path
        else:
            assert s.get("type") in ("object", "array", "string", "integer", "boolean"), f"{path} lacks a type"
        if s.get("type") == "string" and "enum" not in s and s.get("format") != "date-time" and path not in ("$.apiVersion", "$.kind"):
            assert "maxLength" in s, f"{path}: strings need maxLength (CEL cost budget)"
        if s.get("type") == "array":
            assert "maxItems" in s and s.get("x-kubernetes-list-type"), path
        if s.get("type") == "object" and "additionalProperties" in s:
            assert "maxProperties" in s, path
        assert "x-kubernetes-preserve-unknown-fields" not in s, path


def test_defaults_match_the_hook_constants():
    spec = SCHEMA["properties"]["spec"]["properties"]
    assert spec["transport"]["default"] == C.DEFAULT_TRANSPORT
    assert spec["transport"]["enum"] == list(C.TRANSPORTS)
    assert spec["port"]["default"] == C.DEFAULT_PORT
    assert spec["replicas"]["default"] == C.DEFAULT_REPLICAS
    assert SCHEMA["properties"]["status"]["properties"]["phase"]["enum"] == list(C.PHASES)


def test_conditions_are_a_map_list_keyed_by_type():
    conds = SCHEMA["properties"]["status"]["properties"]["conditions"]
    assert conds["x-kubernetes-list-type"] == "map" and conds["x-kubernetes-list-map-keys"] == ["type"]
    assert "observedGeneration" in conds["items"]["properties"]
    env = SCHEMA["properties"]["spec"]["properties"]["env"]
    assert env["x-kubernetes-list-type"] == "map" and env["x-kubernetes-list-map-keys"] == ["name"]


def _rules(schema):
    for _, s in _walk(schema):
        yield from s.get("x-kubernetes-validations", [])


def test_every_python_rule_message_is_a_cel_rule_message():
    messages = {r["message"] for r in _rules(SCHEMA)}
    assert set(specmod.CROSS_FIELD_MESSAGES) == messages


def test_stdio_replicas_rule_is_on_the_spec():
    (rule,) = [r for r in SCHEMA["properties"]["spec"]["x-kubernetes-validations"] if "self.replicas > 1" in r["rule"]]
    assert rule["fieldPath"] == ".replicas" and "at most 1 replica" in rule["message"]


def _strict(schema):
    """Copy of a schema where objects reject undeclared fields (what pruning would drop)."""
    s = copy.deepcopy(schema)
    for _, sub in _walk(s):
        if sub.get("type") == "object" and "additionalProperties" not in sub:
            sub["additionalProperties"] = False
    return s


STATUS_VALIDATOR = jsonschema.Draft4Validator(_strict(SCHEMA["properties"]["status"]),
                                              format_checker=jsonschema.FormatChecker())


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
@pytest.mark.parametrize("transport", C.TRANSPORTS)
@pytest.mark.parametrize("replicas", [0, 1])
def test_status_schema_covers_every_field_the_hook_writes(scenario, transport, replicas):
    p = parent(transport=transport, replicas=replicas, config={"a": "b"})
    st = run(p, SCENARIOS[scenario](p))["status"]
    errors = [e.message for e in STATUS_VALIDATOR.iter_errors(st)]
    assert not errors, errors


def test_status_schema_covers_invalid_and_terminating():
    from mcp_operator_hook.sync import finalize

    p = parent()
    for st in (run(parent(transport="stdio", replicas=4, generation=2), rolled_out(p))["status"],
               finalize(request(p, rolled_out(p), finalizing=True))["status"]):
        assert not [e.message for e in STATUS_VALIDATOR.iter_errors(st)]


def test_status_reasons_match_the_condition_pattern():
    pattern = re.compile(SCHEMA["properties"]["status"]["properties"]["conditions"]["items"]
                         ["properties"]["reason"]["pattern"])
    reasons = [v for k, v in vars(C).items() if k.startswith("R_")]
    assert reasons and all(pattern.match(r) for r in reasons)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_valid_against_the_crd(path):
    obj = load_example(path)
    assert obj["apiVersion"] == C.API_VERSION and obj["kind"] == C.KIND
    jsonschema.Draft4Validator(SCHEMA).validate(obj)
    _, errors = specmod.validate(obj["metadata"]["name"], obj["spec"])
    assert errors == []
    resp = sync(request(obj))
    assert resp["status"]["phase"] == "Pending"


def test_seed_samples_are_present_unchanged():
    names = {p.name for p in EXAMPLES}
    assert {"basic-mcpserver.yaml", "advanced-mcpserver.yaml", "production-mcpserver.yaml"} <= names
    basic = load_example(REPO / "examples" / "basic-mcpserver.yaml")
    assert basic["spec"]["env"][0] == {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    prod = load_example(REPO / "examples" / "production-mcpserver.yaml")
    assert prod["metadata"]["namespace"] == "mcp-system" and prod["spec"]["replicas"] == 3
    assert prod["spec"]["securityContext"]["runAsUser"] == 1001


def test_compositecontroller_manifest():
    text = (REPO / "deploy" / "compositecontroller.yaml").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert code.count(C.HOOK_BASE_URL_PLACEHOLDER) == 2
    cc = yaml.safe_load(text.replace(C.HOOK_BASE_URL_PLACEHOLDER, "http://hook:8080"))
    assert cc["apiVersion"] == "metacontroller.k8s.io/v1alpha1" and cc["kind"] == "CompositeController"
    assert cc["metadata"]["name"] == C.COMPOSITE_CONTROLLER_NAME
    s = cc["spec"]
    assert s["generateSelector"] is True and s["resyncPeriodSeconds"] > 0
    assert s["parentResource"] == {"apiVersion": C.API_VERSION, "resource": C.PLURAL}
    assert [(c["apiVersion"], c["resource"], c["updateStrategy"]["method"]) for c in s["childResources"]] == [
        ("apps/v1", "deployments", "InPlace"), ("v1", "services", "InPlace"), ("v1", "configmaps", "InPlace"),
        ("v1", "secrets", "InPlace"), ("rbac.authorization.k8s.io/v1", "roles", "InPlace"),
        ("rbac.authorization.k8s.io/v1", "rolebindings", "InPlace")]
    # the child keys the hook reads are the ones Metacontroller builds from these rules
    kinds = {"deployments": "Deployment", "services": "Service", "configmaps": "ConfigMap", "secrets": "Secret",
             "roles": "Role", "rolebindings": "RoleBinding"}
    assert tuple(f"{kinds[c['resource']]}.{c['apiVersion']}" for c in s["childResources"]) == C.CHILD_KEYS
    assert s["hooks"]["sync"]["webhook"]["url"] == "http://hook:8080" + C.SYNC_PATH
    # no finalize hook, so no Metacontroller finalizer that outlives Metacontroller (uninstall)
    assert set(s["hooks"]) == {"sync", "customize"}
    assert s["hooks"]["customize"] == {"version": "v2", "webhook": {"url": "http://hook:8080" + C.CUSTOMIZE_PATH,
                                                                    "timeout": "10s"}}
