"""The MCPServer API for real servers (issue 9): command/args, mcpPath, envFrom, file mounts, pull
secrets, scheduling, pod metadata, health, sessions, stdio packages and the bridge: rendering,
status and validation, as pure functions."""

from __future__ import annotations

import base64
import copy
from pathlib import Path

import pytest
import yaml

from mcp_operator_hook import bridge
from mcp_operator_hook import prober
from mcp_operator_hook import constants as C
from mcp_operator_hook import spec as specmod
from mcp_operator_hook.sync import sync, sync_json

from .helpers import PROBER_KINDS, LATER, NOW, REPO, as_observed, by_kind, cond, container_of, deployment_state, env_of, parent, request

THIRD_PARTY = sorted((REPO / "examples" / "third-party").glob("*.yaml"))


def run(p, observed=None, now=NOW):
    return sync(request(p, observed), now=now)


def rolled_out(p):
    out = []
    for c in run(p)["children"]:
        o = as_observed(c)
        if c["kind"] == "Deployment":
            o = deployment_state(o)
        out.append(o)
    return out


def kids(p, observed=None):
    return by_kind(run(p, observed)["children"])


def pod_spec(dep):
    return dep["spec"]["template"]["spec"]


NPM = {"registry": "npm", "name": "@modelcontextprotocol/server-everything", "version": "2026.8.31",
       "args": ["stdio"]}
PYPI = {"registry": "pypi", "name": "mcp-server-time", "version": "2026.10.19"}


# --- a third-party HTTP server -----------------------------------------------------------------

def third_party(**extra):
    return parent(name="tp", image="ghcr.io/acme/tools-mcp:2.1", command=["node", "dist/http.js"],
                  args=["--port", "9000"], port=9000, mcpPath="/api/mcp", **extra)


def test_command_args_and_mcp_path():
    p = third_party()
    k = kids(p)
    c = container_of(k["Deployment"])
    assert c["command"] == ["node", "dist/http.js"] and c["args"] == ["--port", "9000"]
    assert c["image"] == "ghcr.io/acme/tools-mcp:2.1"
    st = run(p, rolled_out(p))["status"]
    assert st["endpoint"] == "http://tp.ns1.svc.cluster.local:9000/api/mcp"
    assert st["phase"] == "Ready" and "/api/mcp" in cond(st, "Ready")["message"]


def test_args_alone_keep_the_image_entrypoint():
    c = container_of(kids(parent(args=["--verbose"]))["Deployment"])
    assert c["args"] == ["--verbose"] and "command" not in c


# (id, image, health, expected liveness, expected readiness)
HEALTH = [
    ("own-image-http", "mcp-k8s-server:1", None, {"httpGet": {"path": "/health", "port": "mcp"}},
     {"httpGet": {"path": "/ready", "port": "mcp"}}),
    ("own-image-registry-digest", "reg.io:5000/team/mcp-k8s-server:1@sha256:" + "a" * 64, None,
     {"httpGet": {"path": "/health", "port": "mcp"}}, {"httpGet": {"path": "/ready", "port": "mcp"}}),
    ("third-party-tcp", "ghcr.io/acme/tools-mcp:2.1", None, {"tcpSocket": {"port": "mcp"}},
     {"tcpSocket": {"port": "mcp"}}),
    ("lookalike-is-third-party", "acme/mcp-k8s-server-fork:1", None, {"tcpSocket": {"port": "mcp"}},
     {"tcpSocket": {"port": "mcp"}}),
    ("mode-http", "ghcr.io/acme/tools-mcp:2.1", {"mode": "http"}, {"httpGet": {"path": "/health", "port": "mcp"}},
     {"httpGet": {"path": "/ready", "port": "mcp"}}),
    ("mode-tcp-own-image", "mcp-k8s-server:1", {"mode": "tcp"}, {"tcpSocket": {"port": "mcp"}},
     {"tcpSocket": {"port": "mcp"}}),
    ("mode-none", "mcp-k8s-server:1", {"mode": "none"}, None, None),
    ("readiness-override", "ghcr.io/acme/tools-mcp:2.1",
     {"readinessProbe": {"httpGet": {"path": "/status", "port": 9000}, "periodSeconds": 2}},
     {"tcpSocket": {"port": "mcp"}}, {"httpGet": {"path": "/status", "port": 9000}, "periodSeconds": 2}),
    ("none-plus-exec-liveness", "x:1", {"mode": "none", "livenessProbe": {"exec": {"command": ["true"]}}},
     {"exec": {"command": ["true"]}}, None),
]


@pytest.mark.parametrize("case,image,health,liveness,readiness", HEALTH, ids=[h[0] for h in HEALTH])
def test_health_defaults_and_overrides(case, image, health, liveness, readiness):
    spec = {"image": image}
    if health is not None:
        spec["health"] = health
    c = container_of(kids(parent(**spec))["Deployment"])
    for key, want in (("livenessProbe", liveness), ("readinessProbe", readiness)):
        got = c.get(key)
        if want is None:
            assert got is None, f"{key}: {got}"
        else:
            assert {k: got[k] for k in want} == want, f"{key}: {got}"
    assert "startupProbe" not in c


def test_startup_probe_passes_through():
    probe = {"tcpSocket": {"port": "mcp"}, "periodSeconds": 5, "failureThreshold": 60}
    c = container_of(kids(parent(image="x:1", health={"startupProbe": probe}))["Deployment"])
    assert c["startupProbe"] == probe


def test_env_from_and_secret_and_configmap_files():
    p = third_party(
        envFrom=[{"secretRef": {"name": "tok"}}, {"configMapRef": {"name": "cfg", "optional": True}, "prefix": "APP_"}],
        volumes=[{"name": "creds", "mountPath": "/var/run/creds",
                  "secret": {"secretName": "gcp", "items": [{"key": "k.json", "path": "credentials.json"}],
                             "defaultMode": 288}},
                 {"name": "rules", "mountPath": "/etc/rules", "readOnly": False, "configMap": {"name": "rules"}}],
        config={"a": "b"})
    dep = kids(p)["Deployment"]
    c = container_of(dep)
    assert c["envFrom"] == [{"secretRef": {"name": "tok"}},
                            {"configMapRef": {"name": "cfg", "optional": True}, "prefix": "APP_"}]
    assert c["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "config", "mountPath": "/etc/mcp", "readOnly": True},
        {"name": "creds", "mountPath": "/var/run/creds", "readOnly": True},  # read-only by default
        {"name": "rules", "mountPath": "/etc/rules"},
    ]
    assert [v for v in pod_spec(dep)["volumes"][2:] if v["name"] != prober.TOKEN_VOLUME] == [
        {"name": "creds", "secret": {"secretName": "gcp", "items": [{"key": "k.json", "path": "credentials.json"}],
                                     "defaultMode": 288}},
        {"name": "rules", "configMap": {"name": "rules"}},
    ]


def test_scheduling_and_pull_secrets_pass_through():
    affinity = {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
                                            "labelSelector": {"matchLabels": {"app.kubernetes.io/instance": "tp"}}}}]}}
    p = third_party(imagePullSecrets=[{"name": "regcred"}], nodeSelector={"kubernetes.io/arch": "arm64"},
                    tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}], affinity=affinity,
                    topologySpreadConstraints=[
                        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"},
                        {"maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
                         "labelSelector": {"matchLabels": {"team": "x"}}}])
    ps = pod_spec(kids(p)["Deployment"])
    assert ps["imagePullSecrets"] == [{"name": "regcred"}]
    assert ps["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    assert ps["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert ps["affinity"] == affinity
    # no labelSelector: it spreads this server's own pods; a given one is kept
    assert ps["topologySpreadConstraints"][0]["labelSelector"] == {
        "matchLabels": {C.LABEL_NAME: C.APP_NAME, C.LABEL_INSTANCE: "tp"}}
    assert ps["topologySpreadConstraints"][1]["labelSelector"] == {"matchLabels": {"team": "x"}}


def test_pod_metadata_adds_to_the_operator_labels_never_replaces_them():
    p = third_party(podMetadata={"labels": {"team": "ai", "sidecar.istio.io/inject": "true"},
                                 "annotations": {"prometheus.io/scrape": "true"}}, config={"a": "b"})
    dep = kids(p)["Deployment"]
    meta = dep["spec"]["template"]["metadata"]
    assert meta["labels"]["team"] == "ai" and meta["labels"][C.LABEL_INSTANCE] == "tp"
    assert meta["annotations"]["prometheus.io/scrape"] == "true" and C.CONFIG_HASH_ANNOTATION in meta["annotations"]
    assert dep["spec"]["selector"]["matchLabels"] == {C.LABEL_NAME: C.APP_NAME, C.LABEL_INSTANCE: "tp"}
    assert "team" not in dep["metadata"]["labels"]  # pods only


def test_pod_metadata_changes_roll_pods_but_never_the_selector():
    a, b = kids(third_party())["Deployment"], kids(third_party(podMetadata={"labels": {"x": "y"}}))["Deployment"]
    assert a["spec"]["selector"] == b["spec"]["selector"]
    assert a["metadata"]["annotations"] != b["metadata"]["annotations"]  # spec hash moved


# --- sessions ------------------------------------------------------------------------------------

@pytest.mark.parametrize("sessions,affinity", [(None, None), ("stateless", None), ("stateful", "ClientIP")])
def test_service_session_affinity(sessions, affinity):
    spec = {} if sessions is None else {"sessions": sessions}
    svc = kids(parent(replicas=3, **spec))["Service"]
    assert svc["spec"].get("sessionAffinity") == affinity
    if affinity:
        assert svc["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def _with_affinity(observed, affinity):
    out = copy.deepcopy(observed)
    for o in out:
        if o["kind"] == "Service":
            o["spec"]["sessionAffinity"] = affinity
    return out


# (id, spec, observed Service affinity, status, reason)
ROUTING = [
    ("one-replica", {"sessions": "stateful", "replicas": 1}, "ClientIP", "True", "SingleReplica"),
    ("stateless", {"replicas": 3}, "None", "True", "Stateless"),
    ("stateful-applied", {"sessions": "stateful", "replicas": 3}, "ClientIP", "True", "ClientIPAffinity"),
    ("stateful-not-applied", {"sessions": "stateful", "replicas": 3}, "None", "False", "AffinityNotApplied"),
    ("bridge", {"transport": "stdio", "package": NPM, "replicas": 3, "image": None}, "None", "True",
     "BridgeSessionRouting"),
    ("attach", {"transport": "stdio"}, None, "True", "SingleReplica"),
]


def test_session_routing_is_unknown_until_the_service_exists():
    st = run(parent(sessions="stateful", replicas=3))["status"]
    c = cond(st, C.COND_SESSION_ROUTING)
    assert (c["status"], c["reason"]) == ("Unknown", "AffinityNotApplied") and "does not exist yet" in c["message"]


@pytest.mark.parametrize("case,spec,affinity,status,reason", ROUTING, ids=[r[0] for r in ROUTING])
def test_session_routing_condition(case, spec, affinity, status, reason):
    p = parent(**spec)
    if spec.get("image", "x") is None:
        del p["spec"]["image"]
    observed = rolled_out(p)
    if affinity is not None:
        observed = _with_affinity(observed, affinity)
    st = run(p, observed)["status"]
    c = cond(st, C.COND_SESSION_ROUTING)
    assert (c["status"], c["reason"]) == (status, reason), c
    assert st["phase"] == "Ready"  # a warning, never a reason to take the server down


# --- stdio: packages and the bridge ---------------------------------------------------------

def bridged(**spec):
    p = parent(name="pkg", transport="stdio", **spec)
    if "image" not in spec:
        del p["spec"]["image"]
    return p


@pytest.mark.parametrize("package,stdio_cmd", [
    (NPM, ["npx", "-y", "@modelcontextprotocol/server-everything@2026.8.31", "stdio"]),
    (PYPI, ["uvx", "mcp-server-time==2026.10.19"]),
])
def test_package_runs_behind_the_bridge(package, stdio_cmd):
    p = bridged(package=package, replicas=3)
    k = kids(p)
    assert set(k) == {"Deployment", "Service", "Secret"} | PROBER_KINDS
    dep = k["Deployment"]
    c = container_of(dep)
    assert c["image"] == C.BRIDGE_IMAGE
    assert c["command"] == ["mcp-bridge", "--port", "8080", "--path", "/mcp", "--max-sessions", "100",
                            "--session-idle-timeout", "600", "--", *stdio_cmd]
    assert "stdin" not in c and c["ports"][0]["containerPort"] == 8080
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    env = {e["name"]: e for e in env_of(dep)}
    assert env["POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["MCP_BRIDGE_SESSION_KEY"]["valueFrom"] == {"secretKeyRef": {"name": "pkg-bridge", "key": "session-key"}}
    assert (env["HOME"]["value"], env["npm_config_cache"]["value"], env["UV_CACHE_DIR"]["value"]) == (
        "/tmp/home", "/cache/npm", "/cache/uv")
    assert {"name": "cache", "mountPath": "/cache"} in c["volumeMounts"]
    assert {"name": "cache", "emptyDir": {}} in pod_spec(dep)["volumes"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert dep["spec"]["replicas"] == 3 and dep["spec"]["strategy"]["type"] == "RollingUpdate"
    assert "sessionAffinity" not in k["Service"]["spec"]  # the bridge routes sessions itself
    st = run(p, rolled_out(p))["status"]
    assert st["phase"] == "Ready" and st["endpoint"] == "http://pkg.ns1.svc.cluster.local:8080/mcp"
    assert cond(st, "ServiceReady")["reason"] == "ServiceAvailable"


def test_bridge_settings_path_port_and_own_image():
    p = bridged(image="registry.example.com/my-stdio-server:3", command=["python", "-m", "my_server"],
                args=["--db", "/data/x.db"], port=9100, mcpPath="/v1/mcp",
                stdio={"maxSessionsPerPod": 7, "sessionIdleTimeoutSeconds": 45})
    c = container_of(kids(p)["Deployment"])
    assert c["image"] == "registry.example.com/my-stdio-server:3"
    assert c["command"] == ["mcp-bridge", "--port", "9100", "--path", "/v1/mcp", "--max-sessions", "7",
                            "--session-idle-timeout", "45", "--", "python", "-m", "my_server", "--db", "/data/x.db"]
    assert "args" not in c


def test_attach_keeps_todays_stdio_behaviour():
    p = parent(name="cli", transport="stdio", config={"LOG_LEVEL": "info"})
    k = kids(p)
    assert set(k) == {"Deployment", "ConfigMap"}
    c = container_of(k["Deployment"])
    assert c["stdin"] is True and "ports" not in c and "livenessProbe" not in c and "command" not in c
    assert k["Deployment"]["spec"]["strategy"] == {"type": "Recreate"}
    st = run(p, rolled_out(p))["status"]
    assert st["endpoint"] == "kubectl attach -i -n ns1 deploy/cli -c mcp-server"


def test_attached_package_runs_the_package_itself():
    p = bridged(package=PYPI, stdio={"expose": "attach"})
    k = kids(p)
    assert set(k) == {"Deployment"}
    c = container_of(k["Deployment"])
    assert c["command"] == ["uvx", "mcp-server-time==2026.10.19"] and c["stdin"] is True
    assert c["image"] == C.BRIDGE_IMAGE and {"name": "cache", "mountPath": "/cache"} in c["volumeMounts"]
    assert "MCP_BRIDGE_SESSION_KEY" not in [e["name"] for e in env_of(k["Deployment"])]


@pytest.mark.parametrize("spec", [
    {}, {"config": {"a": "b"}}, {"transport": "stdio"}, {"transport": "stdio", "package": PYPI},
    {"transport": "stdio", "package": NPM, "stdio": {"expose": "attach"}},
    {"transport": "stdio", "command": ["srv"], "env": [{"name": "POD_IP", "value": "x"}, {"name": "HOME", "value": "/h"}]},
], ids=["http", "config", "attach", "bridge-package", "attach-package", "bridge-command-user-env"])
def test_env_names_are_unique_for_every_kind_of_server(spec):
    names = [e["name"] for e in env_of(kids(parent(**spec))["Deployment"])]
    assert len(names) == len(set(names)), names
    assert "POD_IP" in names


# --- the bridge's Secret -------------------------------------------------------------------------

def test_session_key_is_generated_once_then_kept():
    p = bridged(package=NPM)
    first = kids(p)["Secret"]
    key = base64.b64decode(first["data"]["session-key"])
    assert len(key) >= 43 and first["metadata"]["name"] == "pkg-bridge" and first["type"] == "Opaque"
    assert kids(p)["Secret"]["data"] != first["data"], "a fresh key per server, never a constant"
    observed = rolled_out(p)
    (sec,) = [o for o in observed if o["kind"] == "Secret"]
    for _ in range(3):
        assert kids(p, observed)["Secret"]["data"] == sec["data"]
    body, status = sync_json(request(p, observed), now=NOW)
    assert sec["data"]["session-key"] in body
    assert sec["data"]["session-key"] not in str(status) and key.decode() not in str(status)


def test_a_damaged_key_is_replaced():
    p = bridged(package=NPM)
    observed = rolled_out(p)
    for o in observed:
        if o["kind"] == "Secret":
            o["data"]["session-key"] = "not base64!"
    new = kids(p, observed)["Secret"]["data"]["session-key"]
    assert base64.b64decode(new, validate=True)


def test_secret_is_dropped_when_no_longer_bridged():
    p = bridged(package=NPM)
    observed = rolled_out(p)
    http = parent(name="pkg", generation=2)
    assert "Secret" not in kids(http, observed)


def test_bridged_sync_converges_on_its_own_status():
    p = bridged(package=NPM, replicas=2)
    observed = rolled_out(p)
    first = run(p, observed)
    p2 = copy.deepcopy(p)
    p2["status"] = first["status"]
    assert run(p2, observed, now=LATER) == first


# --- validation (the CRD's CEL rules, in Python; test_hook_crd_cluster checks both agree) -------

INVALID = [
    ("no-image-no-package", {"image": None}, "spec.image is required unless spec.package"),
    ("package-http", {"package": PYPI}, "requires spec.transport stdio"),
    ("package-and-command", {"transport": "stdio", "package": PYPI, "command": ["x"]}, "mutually exclusive"),
    ("package-and-args", {"transport": "stdio", "package": PYPI, "args": ["x"]}, "mutually exclusive"),
    ("bridge-without-command", {"transport": "stdio", "stdio": {"expose": "bridge"}}, "needs the stdio server's command"),
    ("attach-3-replicas", {"transport": "stdio", "replicas": 3}, "at most 1 replica with stdio.expose attach"),
    ("attach-package-3", {"transport": "stdio", "package": PYPI, "stdio": {"expose": "attach"}, "replicas": 2},
     "at most 1 replica"),
    ("stdio-on-http", {"stdio": {"maxSessionsPerPod": 3}}, "spec.stdio applies only to transport stdio"),
    ("sessions-on-stdio", {"transport": "stdio", "package": PYPI, "sessions": "stateful"}, "spec.sessions applies"),
    ("health-tcp-attach", {"transport": "stdio", "health": {"mode": "tcp"}}, "health.mode http and tcp"),
    ("mcp-path-relative", {"mcpPath": "mcp"}, "spec.mcpPath must start with '/'"),
    ("mcp-path-query", {"mcpPath": "/mcp?x=1"}, "spec.mcpPath must start with '/'"),
    ("npm-range", {"transport": "stdio", "package": {**NPM, "version": "^2026.8.31"}}, "one exact version"),
    ("npm-latest", {"transport": "stdio", "package": {**NPM, "version": "latest"}}, "one exact version"),
    ("pypi-range", {"transport": "stdio", "package": {**PYPI, "version": ">=1"}}, "one exact version"),
    ("npm-bad-name", {"transport": "stdio", "package": {**NPM, "name": "Bad Name"}}, "not a valid package name"),
    ("pypi-name-with-version", {"transport": "stdio", "package": {**PYPI, "name": "mcp-server-time==1"}},
     "not a valid package name"),
    ("registry", {"transport": "stdio", "package": {**PYPI, "registry": "cargo"}}, "spec.package.registry: Unsupported value"),
    ("package-no-version", {"transport": "stdio", "package": {"registry": "npm", "name": "x"}}, "'version' is a required"),
    ("env-from-both", {"envFrom": [{"secretRef": {"name": "a"}, "configMapRef": {"name": "b"}}]},
     "exactly one of configMapRef or secretRef"),
    ("env-from-none", {"envFrom": [{"prefix": "X_"}]}, "exactly one of configMapRef or secretRef"),
    ("volume-two-sources", {"volumes": [{"name": "v", "mountPath": "/v", "secret": {"secretName": "s"},
                                         "configMap": {"name": "c"}}]}, "exactly one of secret or configMap"),
    ("volume-reserved-name", {"volumes": [{"name": "tmp", "mountPath": "/v", "secret": {"secretName": "s"}}]},
     "the names tmp, config, cache and kube-api-access-prober"),
    ("volume-prober-token", {"volumes": [{"name": "kube-api-access-prober", "mountPath": "/v",
                                          "secret": {"secretName": "s"}}]}, "kube-api-access-prober are the operator"),
    ("volume-on-token-path", {"volumes": [{"name": "v", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
                                           "secret": {"secretName": "s"}}]}, "mountPath must be an absolute path"),
    ("volume-on-tmp", {"volumes": [{"name": "v", "mountPath": "/tmp", "secret": {"secretName": "s"}}]},
     "mountPath must be an absolute path"),
    ("volume-relative", {"volumes": [{"name": "v", "mountPath": "etc/x", "secret": {"secretName": "s"}}]},
     "mountPath must be an absolute path"),
    ("volume-same-path", {"volumes": [{"name": "a", "mountPath": "/x", "secret": {"secretName": "s"}},
                                      {"name": "b", "mountPath": "/x", "configMap": {"name": "c"}}]},
     "every mountPath must be unique"),
    ("volume-item-escape", {"volumes": [{"name": "v", "mountPath": "/x", "secret": {
        "secretName": "s", "items": [{"key": "k", "path": "../../etc/passwd"}]}}]}, "must not contain '..'"),
    ("own-label", {"podMetadata": {"labels": {"app.kubernetes.io/instance": "other"}}}, "must not set app.kubernetes.io/name"),
    ("bad-label-key", {"podMetadata": {"labels": {"a b": "c"}}}, "must be valid label keys"),
    ("bad-label-value", {"podMetadata": {"labels": {"a": "b c"}}}, "spec.podMetadata.labels.a: pattern"),
    ("own-annotation", {"podMetadata": {"annotations": {"mcp.example.com/config-hash": "x"}}}, "prefix mcp.example.com/"),
    ("probe-two-handlers", {"health": {"livenessProbe": {"exec": {"command": ["a"]}, "tcpSocket": {"port": 1}}}},
     "exactly one of exec, httpGet, tcpSocket or grpc"),
    ("probe-no-handler", {"health": {"readinessProbe": {"periodSeconds": 3}}}, "exactly one of exec, httpGet"),
    ("health-mode", {"health": {"mode": "mcp-maybe"}}, "spec.health.mode: Unsupported value"),
    ("sessions-value", {"sessions": "sticky"}, "spec.sessions: Unsupported value"),
    ("max-sessions-0", {"transport": "stdio", "package": PYPI, "stdio": {"maxSessionsPerPod": 0}},
     "spec.stdio.maxSessionsPerPod: minimum"),
    ("command-empty", {"command": []}, "spec.command: minItems"),
]


@pytest.mark.parametrize("case,patch,message", INVALID, ids=[c[0] for c in INVALID])
def test_invalid_new_fields_are_reported_and_change_nothing(case, patch, message):
    good = parent(name="v")
    observed = rolled_out(good)
    bad = copy.deepcopy(good)
    bad["metadata"]["generation"] = 2
    for k, v in patch.items():
        if v is None:
            bad["spec"].pop(k, None)
        else:
            bad["spec"][k] = v
    _, errors = specmod.validate("v", bad["spec"])
    assert any(message in e for e in errors), errors
    resp = run(bad, observed)
    assert resp["status"]["phase"] == "Failed"
    assert message in cond(resp["status"], "ConfigurationValid")["message"]
    assert by_kind(resp["children"])["Deployment"]["spec"] == by_kind(run(good)["children"])["Deployment"]["spec"]


VALID = [
    ("npm-prerelease", {"transport": "stdio", "package": {**NPM, "version": "1.0.0-rc.1"}}),
    ("pypi-post", {"transport": "stdio", "package": {**PYPI, "version": "0.6.2.post1"}}),
    ("package-with-image", {"transport": "stdio", "package": PYPI, "image": "reg.io/prewarmed-bridge:1"}),
    ("command-bridge-3", {"transport": "stdio", "command": ["my-server"], "replicas": 3}),
    ("explicit-attach", {"transport": "stdio", "stdio": {"expose": "attach"}, "health": {"mode": "none"}}),
    ("attach-exec-probe", {"transport": "stdio", "health": {"livenessProbe": {"exec": {"command": ["true"]}}}}),
    ("grpc-probe", {"health": {"livenessProbe": {"grpc": {"port": 9000}}}}),
    ("nested-mount-under-tmp", {"volumes": [{"name": "v", "mountPath": "/tmp/x", "configMap": {"name": "c"}}]}),
    ("prefixed-labels", {"podMetadata": {"labels": {"example.org/team": "a-b.c_d", "empty": ""}}}),
]


@pytest.mark.parametrize("case,patch", VALID, ids=[c[0] for c in VALID])
def test_valid_new_fields(case, patch):
    _, errors = specmod.validate("v", {"image": "x:1", **patch})
    assert errors == []


@pytest.mark.parametrize("path", THIRD_PARTY, ids=lambda p: p.name)
def test_third_party_examples_are_valid_and_render(path):
    obj = yaml.safe_load(path.read_text())
    obj["metadata"]["generation"] = 1
    _, errors = specmod.validate(obj["metadata"]["name"], obj["spec"])
    assert errors == []
    st = run(obj, rolled_out(obj))["status"]
    assert st["phase"] == "Ready", st
    assert st["endpoint"].startswith(f"http://{obj['metadata']['name']}.default.svc.cluster.local:")
    assert st["endpoint"].endswith(obj["spec"].get("mcpPath", "/mcp"))


def test_defaults_are_the_crd_defaults():
    d = specmod.apply_defaults({"image": "x", "stdio": {}, "volumes": [{"name": "v"}]})
    assert d["mcpPath"] == C.DEFAULT_MCP_PATH
    assert d["stdio"] == {"maxSessionsPerPod": 100, "sessionIdleTimeoutSeconds": 600}
    assert d["volumes"] == [{"name": "v", "readOnly": True}]


def test_package_command_mapping():
    assert bridge.package_command({"registry": "npm", "name": "@a/b", "version": "1.2.3", "args": ["x", "--y"]}) == [
        "npx", "-y", "@a/b@1.2.3", "x", "--y"]
    assert bridge.package_command({"registry": "pypi", "name": "a-b", "version": "2026.1"}) == ["uvx", "a-b==2026.1"]




def test_a_foreign_secret_named_like_the_bridge_secret_is_a_name_conflict():
    from mcp_operator_hook import related as rel

    from .test_hook_related import related_req, secret

    p = bridged(package=NPM)
    p["metadata"]["namespace"] = "ns1"
    rules = rel.customize({"parent": p})["relatedResources"]
    assert {"apiVersion": "v1", "resource": "secrets", "namespace": "ns1", "names": ["pkg-bridge"]} in rules
    assert "secrets" not in {r["resource"] for r in rel.customize({"parent": parent()})["relatedResources"]}
    resp = sync(related_req(p, secrets=[secret("pkg-bridge", {"session-key": "someone else's"})]), now=NOW)
    assert "Secret" not in by_kind(resp["children"])  # never applied over a Secret it does not own
    ready = cond(resp["status"], "Ready")
    assert resp["status"]["phase"] == "Failed" and ready["reason"] == "NameConflict", ready
    assert "Secret ns1/pkg-bridge" in ready["message"]


def test_the_installation_names_its_bridge_image(monkeypatch):
    monkeypatch.setenv(C.ENV_BRIDGE_IMAGE, "reg.example.com/mcp-bridge:0.1.0")
    p = bridged(package={**PYPI, "version": "2026.10.18"})  # a spec no other test renders (memoized)
    assert container_of(kids(p)["Deployment"])["image"] == "reg.example.com/mcp-bridge:0.1.0"
    own = bridged(package={**PYPI, "version": "2026.10.18"}, image="reg.example.com/prewarmed:1")
    assert container_of(kids(own)["Deployment"])["image"] == "reg.example.com/prewarmed:1"
