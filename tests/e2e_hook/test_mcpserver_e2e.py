"""MCPServer end to end: CRD (schema + CEL) -> the real Metacontroller binary -> the hook under
gunicorn -> children -> kwok pods -> status, and back.

Scenarios (issue 3, item 4): each seed sample applied, children as specified, pods Ready through
kwok, MCPServer Ready with its endpoint and the printer columns; `kubectl scale mcps` moves the
Deployment; a config edit rolls the pods; an invalid edit is refused at admission; a stdio server
with 2 replicas is refused; deleting the MCPServer removes its children.
"""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from mcp_operator_hook import constants as C
from tests.e2e_hook.helpers import (
    condition,
    exists,
    hook_sync_calls,
    is_ready,
    kget,
    load_sample,
    sample_files,
    wait_for,
)

pytestmark = pytest.mark.cluster

SAMPLES = sample_files()
READY_TIMEOUT = 90


def apply_in(cp, ns: str, obj: dict, check: bool = True):
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = ns
    return cp.kubectl("apply", "-f", "-", input=json.dumps(obj), check=check)


def apply_sample(cp, ns: str, obj: dict):
    """A sample as its user runs it: the ServiceAccount it names exists first (the chart's
    `mcpServerRbac` creates it in a real install; see the sample's comments)."""
    sa = (obj.get("spec") or {}).get("serviceAccount")
    if sa and not exists(cp, "serviceaccount", sa, "-n", ns):
        cp.kubectl("create", "serviceaccount", sa, "-n", ns)
    return apply_in(cp, ns, obj)


def mcps(name: str, **spec) -> dict:
    base = {"image": "mcp-k8s-server:test"}
    base.update(spec)
    return {"apiVersion": C.API_VERSION, "kind": C.KIND, "metadata": {"name": name}, "spec": base}


def owned_by(obj: dict, parent: dict, apply_strategy: str = "dynamic-apply") -> bool:
    """Claimed the way Metacontroller claims children; dynamic-apply also records what it applied in
    the last-applied annotation (server-side apply keeps that in managedFields instead)."""
    uid = parent["metadata"]["uid"]
    refs = obj["metadata"].get("ownerReferences") or []
    recorded = (C.LAST_APPLIED_ANNOTATION in (obj["metadata"].get("annotations") or {})
                if apply_strategy == "dynamic-apply" else
                any(f.get("manager") == "metacontroller" for f in obj["metadata"].get("managedFields") or []))
    return (obj["metadata"].get("labels", {}).get("controller-uid") == uid
            and any(r.get("uid") == uid and r.get("controller") and r.get("blockOwnerDeletion") for r in refs)
            and recorded)


def deployment_rolled_out(cp, ns: str, name: str, replicas: int):
    d = kget(cp, "deployment", name, "-n", ns)
    st = d.get("status") or {}
    if (d["spec"].get("replicas") == replicas and st.get("observedGeneration") == d["metadata"]["generation"]
            and st.get("updatedReplicas", 0) == replicas and st.get("readyReplicas", 0) == replicas
            and st.get("replicas", 0) == replicas):
        return d
    return None


def pods_ready(cp, ns: str, name: str, n: int):
    pods = kget(cp, "pods", "-n", ns, "-l", f"{C.LABEL_INSTANCE}={name}")["items"]
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    ready = [p for p in live if any(c["type"] == "Ready" and c["status"] == "True"
                                     for c in (p.get("status") or {}).get("conditions") or [])]
    return ready if len(ready) == n == len(live) else None


# ------------------------------------------------------------------------------------------------
def test_crd_schema_and_printer_columns(control_plane, mcp_crd):
    cp = control_plane
    crd = kget(cp, "crd", C.CRD_NAME)
    ver = next(v for v in crd["spec"]["versions"] if v["name"] == C.VERSION)
    cols = [c["name"] for c in ver.get("additionalPrinterColumns") or []]
    for want in ("Phase", "Ready", "Replicas", "Transport", "Endpoint", "Age"):
        assert want in cols
    assert "status" in ver["subresources"]
    assert ver["subresources"]["scale"].get("labelSelectorPath")
    assert C.SHORT_NAME in crd["spec"]["names"].get("shortNames", [])
    # kubectl explain reads the OpenAPI the apiserver publishes a little after Established
    r = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(
        cp.kubectl("explain", "mcps.spec.transport", check=False)), timeout=60, what="kubectl explain mcps")
    assert "stdio" in r.stdout or "DESCRIPTION" in r.stdout


@pytest.mark.skipif(not SAMPLES, reason="no MCPServer samples under examples/")
@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_applies_unchanged(control_plane, mcp_crd, sample):
    """Server-side dry run of the file exactly as written (its own namespace)."""
    cp = control_plane
    obj = load_sample(sample)
    ns = obj["metadata"].get("namespace")
    if ns and not exists(cp, "namespace", ns):
        cp.kubectl("create", "namespace", ns)
    cp.kubectl("apply", "--dry-run=server", "-f", str(sample))


@pytest.mark.skipif(not SAMPLES, reason="no MCPServer samples under examples/")
@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_becomes_ready(control_plane, namespace, metacontroller, sample):
    cp, ns = control_plane, namespace
    obj = load_sample(sample)
    name = obj["metadata"]["name"]
    spec = obj["spec"]
    apply_sample(cp, ns, obj)
    parent = kget(cp, "mcpserver", name, "-n", ns)
    transport = parent["spec"]["transport"]
    port = parent["spec"]["port"]
    replicas = parent["spec"]["replicas"]

    dep = wait_for(lambda: kget(cp, "deployment", name, "-n", ns), what="Deployment")
    assert owned_by(dep, parent, metacontroller.apply_strategy)
    assert dep["spec"]["replicas"] == replicas
    assert dep["spec"]["selector"]["matchLabels"] == {C.LABEL_NAME: C.APP_NAME, C.LABEL_INSTANCE: name}
    tmpl = dep["spec"]["template"]
    assert tmpl["metadata"]["labels"][C.LABEL_TRANSPORT] == transport
    (ctr,) = [c for c in tmpl["spec"]["containers"] if c["name"] == C.CONTAINER_NAME]  # + the mcp-prober sidecar
    assert ctr["name"] == C.CONTAINER_NAME and ctr["image"] == spec["image"]
    env_names = [e["name"] for e in ctr.get("env", [])]
    assert len(env_names) == len(set(env_names)), f"duplicate env: {env_names}"
    for must in (C.ENV_TRANSPORT, C.ENV_PORT, C.ENV_SERVER_NAME, C.ENV_POD_NAME, C.ENV_POD_NAMESPACE):
        assert must in env_names
    if transport in C.HTTP_TRANSPORTS:
        assert ctr["ports"][0]["name"] == C.PORT_NAME and ctr["ports"][0]["containerPort"] == port
        svc = wait_for(lambda: kget(cp, "service", name, "-n", ns), what="Service")
        assert owned_by(svc, parent, metacontroller.apply_strategy)
        assert svc["spec"]["type"] == "ClusterIP"
        (sport,) = svc["spec"]["ports"]
        assert sport["name"] == C.PORT_NAME and sport["port"] == port
        assert svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]
    if spec.get("config"):
        cm = wait_for(lambda: kget(cp, "configmap", name + C.CONFIGMAP_SUFFIX, "-n", ns), what="ConfigMap")
        assert owned_by(cm, parent, metacontroller.apply_strategy)
        assert json.loads(cm["data"][C.CONFIG_FILE_KEY]) == spec["config"]
        assert C.CONFIG_HASH_ANNOTATION in tmpl["metadata"].get("annotations", {})
        assert C.ENV_CONFIG_FILE in env_names
    if spec.get("resources"):
        assert ctr["resources"]["limits"] == spec["resources"]["limits"]

    wait_for(lambda: pods_ready(cp, ns, name, replicas), timeout=READY_TIMEOUT, what=f"{replicas} pods Ready")
    ready = wait_for(lambda: is_ready(cp, ns, name), timeout=READY_TIMEOUT, what="MCPServer Ready")
    st = ready["status"]
    assert st["replicas"] == replicas and st["readyReplicas"] == replicas
    if transport in C.HTTP_TRANSPORTS:
        assert st["endpoint"] == f"http://{name}.{ns}.svc.cluster.local:{port}{C.MCP_PATH}"
    assert st.get("selector") == ",".join(f"{k}={v}" for k, v in sorted(
        {C.LABEL_NAME: C.APP_NAME, C.LABEL_INSTANCE: name}.items()))

    table = cp.kubectl("get", "mcps", name, "-n", ns).stdout.splitlines()
    header = table[0].split()
    for col in ("NAME", "PHASE", "READY", "REPLICAS", "TRANSPORT", "ENDPOINT", "AGE"):
        assert col in header, table[0]
    row = table[1]
    assert "Ready" in row and transport in row
    if transport in C.HTTP_TRANSPORTS:
        assert st["endpoint"] in row


@pytest.fixture
def ready_server(control_plane, namespace, metacontroller):
    cp, ns = control_plane, namespace
    apply_in(cp, ns, mcps("srv", transport="streamable-http", port=3001, replicas=1,
                          config={"LOG_LEVEL": "info"}))
    wait_for(lambda: is_ready(cp, ns, "srv"), timeout=READY_TIMEOUT, what="srv Ready")
    return "srv"


def test_scale_moves_the_deployment(control_plane, namespace, ready_server):
    cp, ns, name = control_plane, namespace, ready_server
    cp.kubectl("scale", "mcps", name, "-n", ns, "--replicas=3")
    wait_for(lambda: kget(cp, "deployment", name, "-n", ns)["spec"]["replicas"] == 3, what="Deployment at 3")
    wait_for(lambda: deployment_rolled_out(cp, ns, name, 3), timeout=READY_TIMEOUT, what="3 ready")
    obj = wait_for(lambda: (o := is_ready(cp, ns, name)) and o["status"]["readyReplicas"] == 3 and o,
                   timeout=READY_TIMEOUT, what="status 3/3")
    scale = json.loads(cp.kubectl("get", "--raw",
                                  f"/apis/{C.API_VERSION}/namespaces/{ns}/{C.PLURAL}/{name}/scale").stdout)
    assert scale["spec"]["replicas"] == 3 and scale["status"]["replicas"] == 3
    assert scale["status"]["selector"] == obj["status"]["selector"]
    # to zero: a valid, stable state
    cp.kubectl("scale", "mcps", name, "-n", ns, "--replicas=0")
    wait_for(lambda: deployment_rolled_out(cp, ns, name, 0), timeout=READY_TIMEOUT, what="scaled to 0")
    wait_for(lambda: (st := kget(cp, "mcpserver", name, "-n", ns)["status"]).get("replicas") == 0
             and st["observedGeneration"] == kget(cp, "mcpserver", name, "-n", ns)["metadata"]["generation"],
             timeout=READY_TIMEOUT, what="status at 0 replicas")


def test_config_edit_rolls_the_pods(control_plane, namespace, ready_server):
    cp, ns, name = control_plane, namespace, ready_server
    before = kget(cp, "deployment", name, "-n", ns)
    old_hash = before["spec"]["template"]["metadata"]["annotations"][C.CONFIG_HASH_ANNOTATION]
    old_pods = {p["metadata"]["name"] for p in pods_ready(cp, ns, name, 1)}
    old_rs = {rs["metadata"]["name"] for rs in kget(cp, "rs", "-n", ns, "-l", f"{C.LABEL_INSTANCE}={name}")["items"]}
    cp.kubectl("patch", "mcps", name, "-n", ns, "--type=merge", "-p",
               json.dumps({"spec": {"config": {"LOG_LEVEL": "debug", "NEW_KEY": "1"}}}))
    cm = wait_for(lambda: (c := kget(cp, "configmap", name + C.CONFIGMAP_SUFFIX, "-n", ns))
                  and json.loads(c["data"][C.CONFIG_FILE_KEY]).get("LOG_LEVEL") == "debug" and c,
                  what="ConfigMap updated")
    assert json.loads(cm["data"][C.CONFIG_FILE_KEY]) == {"LOG_LEVEL": "debug", "NEW_KEY": "1"}
    after = wait_for(lambda: (d := kget(cp, "deployment", name, "-n", ns))["spec"]["template"]["metadata"]
                     ["annotations"][C.CONFIG_HASH_ANNOTATION] != old_hash and d, what="template hash changed")
    assert after["metadata"]["uid"] == before["metadata"]["uid"]  # updated in place, not recreated
    wait_for(lambda: {rs["metadata"]["name"] for rs in kget(cp, "rs", "-n", ns, "-l",
                                                              f"{C.LABEL_INSTANCE}={name}")["items"]} - old_rs,
             what="new ReplicaSet")
    new_pods = wait_for(lambda: (p := pods_ready(cp, ns, name, 1))
                        and not ({x["metadata"]["name"] for x in p} & old_pods) and p,
                        timeout=READY_TIMEOUT, what="pods replaced")
    assert new_pods
    wait_for(lambda: is_ready(cp, ns, name), timeout=READY_TIMEOUT, what="Ready after roll")


def test_invalid_edit_is_refused_at_admission(control_plane, namespace, ready_server):
    cp, ns, name = control_plane, namespace, ready_server
    gen = kget(cp, "mcpserver", name, "-n", ns)["metadata"]["generation"]
    for patch in ({"spec": {"port": 70000}}, {"spec": {"transport": "carrier-pigeon"}},
                  {"spec": {"replicas": -1}}, {"spec": {"image": None}}):
        res = cp.kubectl("patch", "mcps", name, "-n", ns, "--type=merge", "-p", json.dumps(patch), check=False)
        assert res.returncode != 0, f"accepted {patch}"
        assert "invalid" in res.stderr.lower() or "Unsupported value" in res.stderr or "Required" in res.stderr, res.stderr
    obj = kget(cp, "mcpserver", name, "-n", ns)
    assert obj["metadata"]["generation"] == gen
    assert is_ready(cp, ns, name)


def test_stdio_with_two_replicas_is_refused(control_plane, namespace, metacontroller):
    cp, ns = control_plane, namespace
    res = apply_in(cp, ns, mcps("stdio2", transport="stdio", replicas=2), check=False)
    assert res.returncode != 0
    assert "stdio" in res.stderr.lower(), res.stderr
    assert not exists(cp, "mcpserver", "stdio2", "-n", ns)
    # an existing stdio server cannot be scaled past one either
    apply_in(cp, ns, mcps("stdio1", transport="stdio", replicas=1))
    res = cp.kubectl("scale", "mcps", "stdio1", "-n", ns, "--replicas=2", check=False)
    assert res.returncode != 0 and "stdio" in res.stderr.lower(), res.stderr


def test_stdio_server_runs_without_service(control_plane, namespace, metacontroller):
    cp, ns = control_plane, namespace
    apply_in(cp, ns, mcps("stdio1", transport="stdio", replicas=1))
    dep = wait_for(lambda: kget(cp, "deployment", "stdio1", "-n", ns), what="Deployment")
    (ctr,) = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == C.CONTAINER_NAME]
    assert ctr.get("stdin") is True
    assert "readinessProbe" not in ctr and "livenessProbe" not in ctr and not ctr.get("ports")
    obj = wait_for(lambda: is_ready(cp, ns, "stdio1"), timeout=READY_TIMEOUT, what="stdio Ready")
    assert not exists(cp, "service", "stdio1", "-n", ns)
    assert not obj["status"].get("endpoint", "").startswith("http")
    assert condition(obj["status"], "Ready").get("message")


def test_delete_removes_children(control_plane, namespace, ready_server, metacontroller):
    cp, ns, name = control_plane, namespace, ready_server
    parent = kget(cp, "mcpserver", name, "-n", ns)
    fin = f"metacontroller.io/compositecontroller-{metacontroller.controller['metadata']['name']}"
    has_finalize = bool(metacontroller.controller["spec"]["hooks"].get("finalize"))
    assert (fin in (parent["metadata"].get("finalizers") or [])) == has_finalize
    cp.kubectl("delete", "mcps", name, "-n", ns, "--wait=false")
    wait_for(lambda: not exists(cp, "mcpserver", name, "-n", ns), timeout=60, what="MCPServer gone")
    for kind, child in (("deployment", name), ("service", name), ("configmap", name + C.CONFIGMAP_SUFFIX)):
        wait_for(lambda: not exists(cp, kind, child, "-n", ns), timeout=60, what=f"{kind}/{child} gone")
    wait_for(lambda: not kget(cp, "pods", "-n", ns, "-l", f"{C.LABEL_INSTANCE}={name}")["items"],
             timeout=60, what="pods gone")


def test_no_sync_errors(control_plane, namespace, ready_server):
    """A converged server produces no SyncError events (hook answers are accepted as-is)."""
    cp, ns = control_plane, namespace
    events = kget(cp, "events", "-n", ns)["items"]
    errors = [e["message"] for e in events if e.get("reason") == "SyncError"]
    assert not errors, errors


@pytest.mark.skipif(not SAMPLES, reason="no MCPServer samples under examples/")
@pytest.mark.parametrize("sample", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_converged_children_need_no_update(control_plane, namespace, metacontroller, hook_server, sample):
    """Once Ready, a sync must not update any child. A field the API server drops or normalises
    (e.g. `tty: false`) makes Metacontroller's 3-way merge differ from the live object, so it PUTs
    the child on every sync and every resync (its log says "Updating")."""
    import time

    cp, ns = control_plane, namespace
    obj = load_sample(sample)
    name = obj["metadata"]["name"]
    apply_sample(cp, ns, obj)
    wait_for(lambda: is_ready(cp, ns, name), timeout=READY_TIMEOUT, what="Ready")

    def children() -> dict:
        uid = kget(cp, "mcpserver", name, "-n", ns)["metadata"]["uid"]
        out = {}
        for kind in [r["resource"] for r in metacontroller.controller["spec"]["childResources"]]:
            for o in kget(cp, kind, "-n", ns, "-l", f"controller-uid={uid}")["items"]:
                # a Deployment's status moves on its own; its spec changes bump the generation
                out[f"{kind}/{o['metadata']['name']}"] = (o["metadata"]["generation"] if kind == "deployments"
                                                          else o["metadata"]["resourceVersion"])
        return out

    time.sleep(2)  # let the syncs caused by the pods turning Ready finish
    before, mark = children(), len(metacontroller.log_lines())
    # Two forced syncs: calls for one parent are serialized, so the first one has finished
    # (children applied) once the hook answers the second.
    for poke in ("1", "2"):
        calls = hook_sync_calls(hook_server.url)
        cp.kubectl("annotate", "--overwrite", "mcps", name, "-n", ns, f"e2e/poke={poke}")
        wait_for(lambda calls=calls: hook_sync_calls(hook_server.url) > calls, timeout=30, what="a sync")
    updates = [line for line in metacontroller.log_lines()[mark:] if '"Updating"' in line and ns in line]
    assert not updates, f"children re-updated on a converged sync: {updates}"
    assert children() == before


def test_status_converges(control_plane, namespace, ready_server):
    """A Ready server's MCPServer stops changing: a status that differs on every sync (timestamps,
    unstable order) would make Metacontroller write it, get a watch event, sync again, forever."""
    import time

    cp, ns, name = control_plane, namespace, ready_server
    window = 4.0

    def stable():
        rv = kget(cp, "mcpserver", name, "-n", ns)["metadata"]["resourceVersion"]
        time.sleep(window)
        return kget(cp, "mcpserver", name, "-n", ns)["metadata"]["resourceVersion"] == rv

    wait_for(stable, timeout=30, interval=0, what=f"MCPServer unchanged for {window}s")
    dep_rv = kget(cp, "deployment", name, "-n", ns)["metadata"]["resourceVersion"]
    cp.kubectl("annotate", "mcps", name, "-n", ns, "e2e/poke=1")  # forces a sync, no spec change
    time.sleep(2)
    assert kget(cp, "deployment", name, "-n", ns)["metadata"]["resourceVersion"] == dep_rv
    assert is_ready(cp, ns, name)


def test_missing_service_account_is_reported(control_plane, namespace, metacontroller):
    """Found in the field: a server naming a ServiceAccount that does not exist gets no pods (the
    ReplicaSet's FailedCreate). Status must say so, naming the account, instead of waiting."""
    cp, ns = control_plane, namespace
    apply_in(cp, ns, mcps("no-sa", serviceAccount="not-there"))

    def reported():
        st = kget(cp, "mcpserver", "no-sa", "-n", ns).get("status") or {}
        ready = condition(st, "Ready")
        return st if ready.get("status") == "False" and "not-there" in ready.get("message", "") else None

    st = wait_for(reported, timeout=READY_TIMEOUT, what="Ready=False naming the ServiceAccount")
    assert st["phase"] in ("Failed", "Pending"), st
