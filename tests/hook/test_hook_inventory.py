"""The mcp-prober sidecar as the hook renders it, and status.server / ToolsChanged from the
inventory ConfigMap the prober writes (pure; documents made by the prober's own code)."""

from __future__ import annotations

import copy
import json

import pytest

from mcp_operator_hook import constants as C
from mcp_operator_hook import inventory as hinv
from mcp_operator_hook import prober
from mcp_operator_hook.sync import sync
from mcp_prober import inventory as pinv

from .helpers import LATER, NOW, as_observed, by_kind, cond, container_of, deployment_state, parent, request
from .test_hook_crd import STATUS_VALIDATOR


def run(p, observed=None, now=NOW):
    return sync(request(p, observed), now=now)


def tool(name, desc="d", **schema):
    return {"name": name, "description": desc, "inputSchema": {"type": "object", "properties": schema}}


def observation(*tools, version="1.0.0"):
    return pinv.Observation("srv", version, None, "2025-11-25", ("tools", "prompts"), tuple(tools))


def rolled_out_with(p, doc: dict | None):
    """Observed children after rollout; the inventory ConfigMap carries ``doc`` as the prober wrote it."""
    desired = run(p)["children"]
    out = []
    for child in desired:
        obj = as_observed(child)
        if obj["kind"] == "Deployment":
            obj = deployment_state(obj)
        if obj["kind"] == "ConfigMap" and obj["metadata"]["name"] == prober.inventory_name("srv") and doc is not None:
            obj["data"] = {pinv.INVENTORY_KEY: pinv.dumps(doc)}
        out.append(obj)
    return out


# --- the sidecar -----------------------------------------------------------------------------

@pytest.mark.parametrize("transport", C.HTTP_TRANSPORTS)
def test_http_servers_get_the_prober_sidecar(transport):
    kids = by_kind(run(parent(transport=transport, port=3001))["children"])
    pod = kids["Deployment"]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == [C.CONTAINER_NAME, prober.PROBER_CONTAINER]
    side = pod["containers"][1]
    env = {e["name"]: e.get("value") for e in side["env"]}
    assert env["MCP_PROBE_URL"] == "http://127.0.0.1:3001/mcp"
    assert env["MCP_INVENTORY_CONFIGMAP"] == "srv-inventory" and env["MCP_PROBER_PORT"] == "9464"
    assert side["image"] == prober.PROBER_IMAGE
    assert side["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "probe"}
    assert side["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "probe"}
    assert side["securityContext"] == C.DEFAULT_SECURITY_CONTEXT
    assert side["resources"]["limits"]["memory"] and side["resources"]["requests"]["cpu"] == "10m"
    # the token is the prober's alone: no automount, a projected volume mounted only in the sidecar
    assert pod["automountServiceAccountToken"] is False
    (vol,) = [v for v in pod["volumes"] if v["name"] == prober.TOKEN_VOLUME]
    assert {next(iter(s)) for s in vol["projected"]["sources"]} == {"serviceAccountToken", "configMap", "downwardAPI"}
    assert side["volumeMounts"] == [{"name": prober.TOKEN_VOLUME, "mountPath": prober.TOKEN_MOUNT_PATH, "readOnly": True}]
    assert all(m["name"] != prober.TOKEN_VOLUME for m in container_of(kids["Deployment"])["volumeMounts"])


def test_server_with_its_own_service_account_keeps_its_token():
    kids = by_kind(run(parent(serviceAccount="k8s-reader"))["children"])
    pod = kids["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "k8s-reader" and pod["automountServiceAccountToken"] is False
    assert {"name": prober.TOKEN_VOLUME, "mountPath": prober.TOKEN_MOUNT_PATH, "readOnly": True} in \
        container_of(kids["Deployment"])["volumeMounts"]
    assert kids["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": "k8s-reader", "namespace": "ns1"}]


def test_stdio_servers_have_no_prober_and_keep_automount():
    kids = by_kind(run(parent(transport="stdio"))["children"])
    assert set(kids) == {"Deployment"}
    pod = kids["Deployment"]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == [C.CONTAINER_NAME]
    assert "automountServiceAccountToken" not in pod
    assert cond(run(parent(transport="stdio"))["status"], C.COND_TOOLS_CHANGED)["reason"] == hinv.R_NOT_PROBED


def test_prober_port_moves_when_the_server_uses_it():
    kids = by_kind(run(parent(port=prober.PROBER_PORT))["children"])
    side = kids["Deployment"]["spec"]["template"]["spec"]["containers"][1]
    assert side["ports"][0]["containerPort"] == prober.PROBER_PORT_FALLBACK
    assert {e["name"]: e.get("value") for e in side["env"]}["MCP_PROBE_URL"] == "http://127.0.0.1:9464/mcp"


def test_mcp_path_is_probed_when_the_spec_has_one():
    assert prober.probe_url({"port": 80, "mcpPath": "/v1/mcp"}) == "http://127.0.0.1:80/v1/mcp"
    assert prober.probe_url({"port": 80}) == "http://127.0.0.1:80/mcp"


def test_role_is_scoped_to_the_inventory_configmap_and_events():
    kids = by_kind(run(parent())["children"])
    assert kids["ConfigMap/inventory"]["metadata"]["name"] == "srv-inventory"
    assert "data" not in kids["ConfigMap/inventory"]  # the prober owns data
    assert kids["Role"]["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["srv-inventory"], "verbs": ["get", "patch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    ]
    rb = kids["RoleBinding"]
    assert rb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "srv-prober"}
    assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "default", "namespace": "ns1"}]
    assert "*" not in json.dumps(kids["Role"])


# --- status from the inventory ---------------------------------------------------------------

def test_no_inventory_yet_is_unknown_and_no_server_status():
    p = parent()
    st = run(p, rolled_out_with(p, None))["status"]
    assert "server" not in st and st["phase"] == C.PHASE_READY  # readiness is the pods' business
    c = cond(st, C.COND_TOOLS_CHANGED)
    assert (c["status"], c["reason"]) == ("Unknown", hinv.R_NOT_REPORTED) and "srv-inventory" in c["message"]


def test_first_report_fills_status_server():
    doc, change = pinv.merge(None, observation(tool("b"), tool("a")), "2026-01-01T00:00:00Z")
    assert change is None
    p = parent()
    st = run(p, rolled_out_with(p, doc))["status"]
    assert st["server"] == {"name": "srv", "version": "1.0.0", "protocolVersion": "2025-11-25",
                            "capabilities": ["prompts", "tools"], "toolCount": 2, "tools": ["a", "b"],
                            "toolsHash": doc["toolsHash"], "toolsChangedAt": "2026-01-01T00:00:00Z"}
    c = cond(st, C.COND_TOOLS_CHANGED)
    assert (c["status"], c["reason"]) == ("False", hinv.R_TOOLS_UNCHANGED)
    assert c["message"] == "2 tools, unchanged since first reported at 2026-01-01T00:00:00Z"
    assert not list(STATUS_VALIDATOR.iter_errors(st))


def test_a_new_version_adding_a_tool_shows_the_change():
    first, _ = pinv.merge(None, observation(tool("a"), tool("b")), "2026-01-01T00:00:00Z")
    doc, change = pinv.merge(first, observation(tool("a"), tool("b", "new text"), tool("c"), version="2.0.0"),
                             "2026-01-02T00:00:00Z")
    assert change.message() == "tool set changed (2 -> 3 tools): added c; modified b"
    p = parent()
    st = run(p, rolled_out_with(p, doc))["status"]
    s = st["server"]
    assert (s["version"], s["toolCount"], s["tools"]) == ("2.0.0", 3, ["a", "b", "c"])
    assert s["previousToolsHash"] == first["toolsHash"] != s["toolsHash"]
    assert (s["toolsAdded"], s["toolsModified"], s.get("toolsRemoved")) == (["c"], ["b"], None)
    assert s["toolsChangedAt"] == "2026-01-02T00:00:00Z"
    c = cond(st, C.COND_TOOLS_CHANGED)
    assert (c["status"], c["reason"]) == ("True", hinv.R_TOOLS_CHANGED)
    assert c["message"] == "tool set changed at 2026-01-02T00:00:00Z: added c; modified b (now 3 tools)"
    assert not list(STATUS_VALIDATOR.iter_errors(st))


def test_status_converges_with_an_inventory():
    """sync on its own output is a fixed point, and a later clock changes nothing."""
    doc, _ = pinv.merge(None, observation(tool("a")), "2026-01-01T00:00:00Z")
    p = parent()
    observed = rolled_out_with(p, doc)
    first = run(p, observed)
    p2 = copy.deepcopy(p)
    p2["status"] = first["status"]
    assert run(p2, observed, now=LATER) == first


@pytest.mark.parametrize("data", [
    {}, {pinv.INVENTORY_KEY: ""}, {pinv.INVENTORY_KEY: "not json"}, {pinv.INVENTORY_KEY: "[1]"},
    {pinv.INVENTORY_KEY: json.dumps({"tools": ["x"]})},  # no toolsHash: not ours
])
def test_unusable_inventory_is_ignored(data):
    p = parent()
    observed = rolled_out_with(p, None)
    for o in observed:
        if o["metadata"]["name"] == "srv-inventory":
            o["data"] = data
    st = run(p, observed)["status"]
    assert "server" not in st and cond(st, C.COND_TOOLS_CHANGED)["reason"] == hinv.R_NOT_REPORTED


def test_hostile_inventory_is_clipped_to_the_status_schema():
    """The document comes from a pod: wrong types are dropped, sizes clipped, status stays valid."""
    doc = {"server": {"name": "n" * 5000, "version": 7, "title": ["x"]}, "protocolVersion": "p" * 500,
           "capabilities": ["c%d" % i for i in range(100)] + [3], "toolCount": -4,
           "tools": ["t%04d" % i for i in range(500)] + ["x" * 999, None],
           "toolsHash": "sha256:" + "0" * 64, "toolsChangedAt": "yesterday",
           "previousToolsHash": "sha256:" + "1" * 64, "toolsAdded": ["a"] * 50, "toolsRemoved": "b"}
    p = parent()
    st = run(p, rolled_out_with(p, doc))["status"]
    s = st["server"]
    assert len(s["name"]) == 256 and "version" not in s and "title" not in s
    assert len(s["tools"]) == hinv.MAX_TOOLS and len(s["capabilities"]) == hinv.MAX_CAPABILITIES
    assert s["toolCount"] == hinv.MAX_TOOLS and "toolsChangedAt" not in s and "toolsRemoved" not in s
    assert len(s["toolsAdded"]) == hinv.MAX_DIFF
    assert not list(STATUS_VALIDATOR.iter_errors(st))


def test_invalid_spec_keeps_the_inventory_configmap_without_its_data():
    """The kept inventory ConfigMap never carries the prober's data back into the apply."""
    doc, _ = pinv.merge(None, observation(tool("a")), "2026-01-01T00:00:00Z")
    p = parent()
    observed = rolled_out_with(p, doc)
    for o in observed:  # no last-applied annotation: the stripped-copy path
        o["metadata"]["annotations"].pop(C.LAST_APPLIED_ANNOTATION, None)
    bad = parent(transport="stdio", replicas=2, generation=2)
    resp = run(bad, observed)
    assert resp["status"]["phase"] == C.PHASE_FAILED
    kept = by_kind(resp["children"])
    assert "data" not in kept["ConfigMap/inventory"]
    assert resp["status"]["server"]["tools"] == ["a"]  # still reported while the spec is invalid


def _with_verdict(observed, pod, message):
    for o in observed:
        if o["metadata"]["name"] == "srv-inventory":
            o.setdefault("data", {})[hinv.PROBE_KEY_PREFIX + pod] = json.dumps(
                {"ready": False, "message": message, "at": "2026-01-01T00:00:00Z"})
    return observed


def _pod(name, deleting=False):
    meta = {"name": name, "namespace": "ns1", "labels": {C.LABEL_NAME: C.APP_NAME, C.LABEL_INSTANCE: "srv"}}
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "status": {"phase": "Running"}}


def _run_with_pods(p, observed, pods):
    req = request(p, observed)
    req["related"] = {"Pod.v1": {f"ns1/{x['metadata']['name']}": x for x in pods}}
    return sync(req, now=NOW)


def test_a_pod_that_is_not_mcp_says_what_answered_in_ready():
    p = parent(port=3001)
    observed = _with_verdict(rolled_out_with(p, None), "srv-abc",
                             'POST /mcp answered HTTP 200 (text/html), not an MCP JSON-RPC answer: "<html>"')
    st = _run_with_pods(p, observed, [_pod("srv-abc")])["status"]
    c = cond(st, C.COND_READY)
    assert (st["phase"], c["status"], c["reason"]) == (C.PHASE_PENDING, "False", hinv.R_MCP_HANDSHAKE_FAILED)
    assert c["message"] == ('MCP handshake with the server in pod srv-abc (port 3001, path /mcp) fails: '
                            'POST /mcp answered HTTP 200 (text/html), not an MCP JSON-RPC answer: "<html>"')
    assert not list(STATUS_VALIDATOR.iter_errors(st))


@pytest.mark.parametrize("pods", [None, [], [_pod("srv-abc", deleting=True)], [_pod("srv-other")]])
def test_verdicts_of_pods_that_are_gone_or_unknown_are_ignored(pods):
    p = parent(port=3001)
    observed = _with_verdict(rolled_out_with(p, None), "srv-abc", "connection refused")
    resp = run(p, observed) if pods is None else _run_with_pods(p, observed, pods)
    assert cond(resp["status"], C.COND_READY)["reason"] != hinv.R_MCP_HANDSHAKE_FAILED


def test_the_installations_prober_image(monkeypatch):
    assert prober.container("srv", {"port": 3001, "transport": "streamable-http"})["image"] == prober.PROBER_IMAGE
    monkeypatch.setenv(prober.ENV_PROBER_IMAGE, "reg.example.com/mcp-prober:0.1.0")
    assert prober.container("srv", {"port": 3001, "transport": "streamable-http"})["image"] == \
        "reg.example.com/mcp-prober:0.1.0"


def test_the_hooks_env_is_what_the_prober_reads():
    """The contract between the two packages: the rendered env loads in mcp_prober.config."""
    from mcp_prober import config

    side = prober.container("srv", {"port": 3001, "transport": "streamable-http", "mcpPath": "/v1/mcp"})
    env = {e["name"]: e.get("value", "from-the-downward-api") for e in side["env"]}
    s = config.load(env)
    assert (s.url, s.port, s.inventory, s.interval) == ("http://127.0.0.1:3001/v1/mcp", prober.PROBER_PORT,
                                                        "srv-inventory", prober.PROBE_INTERVAL)
    assert side["ports"][0]["containerPort"] == s.port


def test_bridged_stdio_servers_are_probed_through_the_bridge_less_often():
    """A bridged stdio server is reachable over HTTP: the prober probes the bridge's endpoint, once
    a minute once Ready (each probe is an MCP session, which starts a stdio process)."""
    p = parent(transport="stdio", port=3001, mcpPath="/mcp",
               package={"registry": "pypi", "name": "mcp-server-time", "version": "2026.10.19"})
    kids = by_kind(run(p)["children"])
    assert PROBER_KINDS_HTTP <= set(kids)
    side = kids["Deployment"]["spec"]["template"]["spec"]["containers"][1]
    env = {e["name"]: e.get("value") for e in side["env"]}
    assert env["MCP_PROBE_URL"] == "http://127.0.0.1:3001/mcp"
    assert env["MCP_PROBE_INTERVAL"] == str(prober.BRIDGED_PROBE_INTERVAL) == "60"
    attach = by_kind(run(parent(transport="stdio", stdio={"expose": "attach"}))["children"])
    assert [c["name"] for c in attach["Deployment"]["spec"]["template"]["spec"]["containers"]] == [C.CONTAINER_NAME]


PROBER_KINDS_HTTP = {"ConfigMap/inventory", "Role", "RoleBinding"}


# --- property: any document a pod writes gives a valid, converging status ----------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as hs  # noqa: E402

_json = hs.recursive(hs.none() | hs.booleans() | hs.integers(-2**40, 2**40) | hs.text(max_size=300),
                     lambda inner: hs.lists(inner, max_size=80) | hs.dictionaries(hs.text(max_size=20), inner, max_size=8),
                     max_leaves=200)
_field = lambda: hs.one_of(_json, hs.text(max_size=400))  # noqa: E731
_doc = hs.fixed_dictionaries(
    {"toolsHash": hs.one_of(hs.just("sha256:" + "a" * 64), hs.text(max_size=80))},
    optional={"server": hs.one_of(_json, hs.fixed_dictionaries({}, optional={k: _field() for k in ("name", "version", "title")})),
              "protocolVersion": _field(), "capabilities": _json, "toolCount": _json,
              "tools": hs.one_of(_json, hs.lists(hs.text(max_size=200), max_size=300)),
              "toolsChangedAt": hs.one_of(hs.just("2026-01-01T00:00:00Z"), _field()),
              "previousToolsHash": hs.one_of(hs.just("sha256:" + "b" * 64), _field()),
              "toolsAdded": _json, "toolsRemoved": hs.lists(hs.text(max_size=300), max_size=40), "toolsModified": _json})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(doc=_doc, verdict=hs.one_of(hs.none(), hs.text(max_size=2000)))
def test_any_inventory_document_gives_a_valid_converging_status(doc, verdict):
    p = parent(port=3001)
    observed = rolled_out_with(p, None)
    for o in observed:
        if o["metadata"]["name"] == "srv-inventory":
            o["data"] = {pinv.INVENTORY_KEY: json.dumps(doc)}
            if verdict is not None:
                o["data"][hinv.PROBE_KEY_PREFIX + "srv-abc"] = json.dumps({"ready": False, "message": verdict})
    first = _run_with_pods(p, observed, [_pod("srv-abc")])
    assert not list(STATUS_VALIDATOR.iter_errors(first["status"]))
    p2 = copy.deepcopy(p)
    p2["status"] = first["status"]
    assert _run_with_pods(p2, observed, [_pod("srv-abc")]) == first
