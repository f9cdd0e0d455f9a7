"""Property-based tests of the hook (Hypothesis) over sync requests built from the CRD schema,
valid and invalid, with observed children, related pods/EndpointSlices/Secrets and foreign
objects, as the real Metacontroller sends them.

Properties, for every request:
- the HTTP answer (Flask test client) is 200 and equals the pure function's answer; a malformed
  body is a 4xx, never a 5xx;
- a parent with owned children that is not being deleted never gets an empty desired set, and
  an invalid spec keeps every observed child;
- the status validates against the CRD's status schema (and condition types are unique);
- syncing the hook's own output again (its status as the parent's status, later clock) gives the
  same answer: no status-write loop;
- Secret values never appear in the answer.

How many: MCP_FUZZ_EXAMPLES (default 10,000) split over the tests below; the run's summary
says how many cases ran (tests/hook/conftest.py). No example database is written, so parallel runs are safe.
"""

from __future__ import annotations

import base64
import copy
import json
import os

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcp_operator_hook import constants as C
from mcp_operator_hook import related as rel
from mcp_operator_hook import spec as specmod
from mcp_operator_hook.app import create_app
from mcp_operator_hook.sync import sync, sync_json

from .helpers import LATER, NOW, PARENT_UID, as_observed, deployment_state
from .schema_strategies import from_schema, json_values

TOTAL = int(os.environ.get("MCP_FUZZ_EXAMPLES", "10000"))
# share of the total per test (they sum to 1)
SHARES = {"sync": 0.6, "http": 0.25, "malformed": 0.15}
NS = "fz"
SECRET_MARK = "s3cr3t-fuzz-"

SPEC_SCHEMA = specmod.openapi_schema()["properties"]["spec"]
STATUS_VALIDATOR = jsonschema.Draft4Validator(specmod.openapi_schema()["properties"]["status"])

_COUNTS: dict[str, int] = {}


def _settings(share: str):
    return settings(max_examples=max(1, int(TOTAL * SHARES[share])), deadline=None, database=None,
                    suppress_health_check=list(HealthCheck), derandomize=bool(os.environ.get("CI")))


def rare(percent: int) -> st.SearchStrategy[bool]:
    """True in about ``percent`` % of draws. (Hypothesis leans towards 0 and the bounds, so the
    rare branch is at the top of the range, not at 0.)"""
    return st.integers(0, 99).map(lambda i: i >= 100 - percent)


def pick(percent: int, rare_strategy, common_strategy):
    return rare(percent).flatmap(lambda r: rare_strategy if r else common_strategy)


names = pick(10, st.sampled_from(["1bad", "UPPER", "has.dot", "x" * 64]),
             st.one_of(st.sampled_from(["srv", "a", "web-1", "x" * 63]),
                       st.from_regex(r"[a-z]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True)))
BRIDGED = st.fixed_dictionaries({
    "transport": st.just("stdio"), "replicas": st.integers(0, 3),
    "package": st.fixed_dictionaries({"registry": st.sampled_from(["npm", "pypi"]), "name": st.sampled_from(["mcp-server-time", "@modelcontextprotocol/server-everything"]),
                                      "version": st.sampled_from(["1.0.0", "2026.10.19"])})})
specs = pick(30, st.one_of(from_schema(SPEC_SCHEMA, junk=0.02), json_values),
             pick(15, BRIDGED, from_schema(SPEC_SCHEMA, junk=0.0)))
secret_refs = st.lists(st.sampled_from(["tok", "db", "api"]), max_size=2, unique=True)


@st.composite
def spec_with_refs(draw):
    spec = draw(specs)
    if isinstance(spec, dict) and draw(st.booleans()):
        spec = dict(spec)
        env = [e for e in spec.get("env") or [] if isinstance(e, dict)] if isinstance(spec.get("env"), list) else []
        for i, s in enumerate(draw(secret_refs)):
            env.append({"name": f"SECRET_{i}", "valueFrom": {"secretKeyRef": {"name": s, "key": "k"}}})
        spec["env"] = env
    return spec


WAITING = ["ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError",
           "ContainerCreating", "InvalidImageName", "RunContainerError"]


@st.composite
def pods(draw, name):
    out = []
    for i in range(draw(st.integers(0, 3))):
        cs = {"name": C.CONTAINER_NAME, "image": draw(st.sampled_from(["img:1", "registry.invalid/x:1"])),
              "ready": draw(st.booleans()), "restartCount": draw(st.integers(0, 9))}
        kind = draw(st.sampled_from(["waiting", "running", "terminated", "none"]))
        if kind == "waiting":
            cs["state"] = {"waiting": {"reason": draw(st.sampled_from(WAITING)), "message": draw(st.text(max_size=40))}}
        elif kind == "running":
            cs["state"] = {"running": {"startedAt": NOW}}
        elif kind == "terminated":
            cs["state"] = {"terminated": {"exitCode": draw(st.integers(0, 255)), "message": draw(st.text(max_size=40))}}
        if draw(st.booleans()):
            cs["lastState"] = {"terminated": {"exitCode": draw(st.integers(0, 255)), "reason": "Error",
                                              "message": draw(st.text(max_size=600))}}
        conds = []
        if draw(st.booleans()):
            conds.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                          "message": draw(st.text(max_size=80))})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": f"{name}-{i}", "namespace": NS,
                            "labels": {C.LABEL_NAME: C.APP_NAME, C.LABEL_INSTANCE: name}},
               "spec": {"containers": [{"name": C.CONTAINER_NAME, "image": "img:1",
                                        "readinessProbe": {"httpGet": {"path": "/ready", "port": "mcp"}}}]},
               "status": {"phase": draw(st.sampled_from(["Pending", "Running"])), "conditions": conds,
                          "containerStatuses": [cs] if kind != "none" else [],
                          "initContainerStatuses": [cs] if draw(rare(10)) else []}}
        if draw(rare(10)):
            pod = draw(json_values) if draw(st.booleans()) else {**pod, "status": draw(json_values)}
        out.append(pod)
    return out


def _key(obj) -> str:
    """Metacontroller's key of a child kind: ``<Kind>.<apiVersion>``."""
    return f"{obj['kind']}.{obj['apiVersion']}"


@st.composite
def requests(draw):
    """A well-formed sync request: parent (+ status from an earlier sync), observed children of
    an earlier spec in any rollout state, related objects, maybe finalizing."""
    name = draw(names)
    parent = {"apiVersion": C.API_VERSION, "kind": C.KIND,
              "metadata": {"name": name, "namespace": NS, "generation": draw(st.integers(1, 5))},
              "spec": draw(spec_with_refs())}
    if draw(st.booleans()):
        parent["metadata"]["uid"] = PARENT_UID
    observed: list[dict] = []
    # the children of the same spec (a rolled-out server, maybe Ready), of another one, or none
    earlier_spec = draw(pick(60, st.just(copy.deepcopy(parent["spec"])), st.one_of(st.none(), spec_with_refs())))
    if earlier_spec is not None:
        earlier = copy.deepcopy(parent)
        earlier["spec"] = earlier_spec
        kids = sync({"parent": earlier, "children": {k: {} for k in C.CHILD_KEYS}}, now=NOW)["children"]
        for c in kids:
            if draw(rare(10)):
                continue  # deleted by someone
            o = as_observed(c)
            if c["kind"] == "Deployment":
                want = c["spec"]["replicas"]
                o = deployment_state(o, ready=draw(pick(60, st.just(want), st.integers(0, max(want, 0)))),
                                     progress_deadline_exceeded=draw(rare(10)))
            observed.append(o)
    children = {k: {} for k in C.CHILD_KEYS}
    v2 = draw(st.booleans())
    for o in observed:
        m = o["metadata"]
        children[_key(o)][f"{m['namespace']}/{m['name']}" if v2 else m["name"]] = o
    related = None
    if not draw(rare(20)):  # a customize hook is configured
        related = {k: {} for k in (rel.POD_KEY, rel.ENDPOINTSLICE_KEY, *map(rel.child_key, rel.CHILD_RESOURCES))}
        for p in draw(pods(name)):
            if isinstance(p, dict) and isinstance(p.get("metadata"), dict) and isinstance(p["metadata"].get("name"), str):
                related[rel.POD_KEY][f"{NS}/{p['metadata']['name']}"] = p
        ready = draw(pick(50, st.just([True]), st.lists(st.one_of(st.booleans(), st.none()), max_size=3)))
        related[rel.ENDPOINTSLICE_KEY][f"{NS}/{name}-x"] = {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": f"{name}-x", "namespace": NS, "labels": {rel.SERVICE_NAME_LABEL: name}},
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": r}} for r in ready]}
        for o in observed:  # owned children of the kinds asked for by name show up there too
            if _key(o) in related:
                related[_key(o)][f"{NS}/{o['metadata']['name']}"] = o
        foreign_names = (("Deployment", name), ("Service", name), ("ConfigMap", name + C.CONFIGMAP_SUFFIX),
                         ("ConfigMap", name + "-hook-record"), ("ConfigMap", name + "-inventory"),
                         ("Secret", name + C.BRIDGE_SECRET_SUFFIX), ("Role", name + "-prober"),
                         ("RoleBinding", name + "-prober"))
        for kind, obj_name in foreign_names:
            key = rel.child_key(kind)
            if f"{NS}/{obj_name}" not in related[key] and draw(rare(6)):
                related[key][f"{NS}/{obj_name}"] = {"apiVersion": rel.CHILD_RESOURCES[kind][0], "kind": kind,
                                                    "metadata": {"name": obj_name, "namespace": NS}}
        for s in ("tok", "db", "api"):
            if draw(st.booleans()):
                value = SECRET_MARK + draw(st.text(alphabet="abcdef0123456789", min_size=4, max_size=8))
                related[rel.SECRET_KEY][f"{NS}/{s}"] = {
                    "apiVersion": "v1", "kind": "Secret", "metadata": {"name": s, "namespace": NS},
                    "data": {"k": base64.b64encode(value.encode()).decode()}}
    req = {"controller": {"metadata": {"name": C.COMPOSITE_CONTROLLER_NAME}}, "parent": parent, "children": children}
    if related is not None:
        req["related"] = related
    if draw(rare(8)):
        req["finalizing"] = True
    return req


def check_answer(req: dict, resp: dict) -> None:
    status = resp["status"]
    errors = sorted(e.message for e in STATUS_VALIDATOR.iter_errors(status))
    assert not errors, errors
    types = [c["type"] for c in status["conditions"]]
    assert len(types) == len(set(types))
    observed = [o for group in req["children"].values() for o in group.values()]
    if req.get("finalizing"):
        assert resp["children"] == []
        return
    if observed:
        assert resp["children"], "empty desired set for a parent with children"
    invalid = any(c["type"] == C.COND_CONFIGURATION_VALID and c["status"] == "False" for c in status["conditions"])
    if invalid:
        # every observed child is kept, unless it would use a foreign object of the same name as
        # one of ours (then the Ready message names that object)
        kept = {(c["kind"], c["metadata"]["name"]) for c in resp["children"]}
        ready = next(c for c in status["conditions"] if c["type"] == C.COND_READY)
        for o in observed:
            assert (o["kind"], o["metadata"]["name"]) in kept or "already exists and is not owned" in ready["message"], \
                o["metadata"]["name"]
    text = json.dumps(resp)
    assert SECRET_MARK not in text
    for obj in (req.get("related") or {}).get(rel.SECRET_KEY, {}).values():
        value = (obj.get("data") or {}).get("k")
        assert value is None or value not in text


def stable(resp: dict) -> dict:
    """The answer with the bridge's freshly generated session key masked: without an observed
    Secret each answer carries a new random key (Metacontroller creates the first, and the hook
    re-emits the observed one from then on: tests/hook/test_hook_api.py)."""
    out = copy.deepcopy(resp)
    for c in out.get("children") or []:
        if c["kind"] == "Secret" and c["metadata"]["name"].endswith(C.BRIDGE_SECRET_SUFFIX):
            c["data"] = "<random unless observed>"
    return out


def fixed_point(req: dict, resp: dict) -> None:
    again = copy.deepcopy(req)
    again["parent"]["status"] = copy.deepcopy(resp["status"])
    second = sync(again, now=LATER)
    assert second["status"] == resp["status"], "status changes when synced with its own output"
    assert stable(second)["children"] == stable(resp)["children"]


def _count(name: str) -> None:
    _COUNTS[name] = _COUNTS.get(name, 0) + 1


def summary() -> str:
    """One line for the end of the test run (tests/hook/conftest.py prints it)."""
    total = sum(_COUNTS.values())
    return f"hook fuzz: {total} cases ran ({', '.join(f'{k} {v}' for k, v in sorted(_COUNTS.items()))})"


@_settings("sync")
@given(requests())
def test_sync_properties(req):
    _count("sync")
    resp = sync(req, now=NOW)
    check_answer(req, resp)
    fixed_point(req, resp)
    text, status = sync_json(req, now=NOW)
    assert stable(json.loads(text)) == stable(resp) and status == resp["status"]


_APP = None


def client():
    global _APP
    if _APP is None:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        _APP = create_app()
        _APP.testing = True
    return _APP.test_client()


@_settings("http")
@given(requests())
def test_http_answers_200_with_the_pure_answer(req):
    _count("http")
    r = client().post(C.SYNC_PATH, data=json.dumps(req), content_type="application/json")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert stable(r.get_json()) == stable(sync(req, now=_now_of(r.get_json())))
    c = client().post(C.CUSTOMIZE_PATH, data=json.dumps({"controller": {}, "parent": req["parent"]}),
                      content_type="application/json")
    assert c.status_code == 200
    for rule in c.get_json()["relatedResources"]:
        assert rule["namespace"] == NS and ("names" not in rule or rule["names"])


def _now_of(resp: dict) -> str:
    """The clock the HTTP answer used (the newest lastTransitionTime), to replay it purely."""
    times = [c["lastTransitionTime"] for c in resp["status"]["conditions"]]
    return max(times) if times else NOW


@st.composite
def malformed(draw):
    base = draw(requests())
    how = draw(st.integers(0, 5))
    if how == 0:
        return draw(json_values)
    if how == 1:
        base["parent"] = draw(json_values)
    elif how == 2:
        base["children"] = draw(json_values)
    elif how == 3:
        base["parent"]["metadata"] = draw(json_values)
    elif how == 4:
        base["related"] = draw(json_values)
    else:
        base["finalizing"] = draw(json_values)
    return base


@_settings("malformed")
@given(malformed(), st.sampled_from([C.SYNC_PATH, C.FINALIZE_PATH, C.CUSTOMIZE_PATH]))
def test_malformed_requests_are_never_a_5xx(body, path):
    _count("malformed")
    r = client().post(path, data=json.dumps(body), content_type="application/json")
    assert r.status_code in (200, 400), (r.status_code, r.get_data(as_text=True))
    if r.status_code == 400:
        assert r.get_json()["error"]
