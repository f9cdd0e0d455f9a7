"""Per-caller identity against the real control plane: TokenReview with an audience bound to this
server, impersonation under RBAC scoped to named callers, the SDK's 401 + RFC 9728 metadata, can-i
against `kubectl auth can-i --as`, the audit log, and the OIDC mode with a JWKS on loopback.

The server itself runs with a ServiceAccount token whose only rights are the ones an identity mode
needs (tokenreviews create, impersonate on the named callers and on the server's user extra):
anything a caller sees, it sees through its own RBAC.
"""

import json
import threading
import time
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import yaml
import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from tests.chart.chartlib import render
from tests.kube import temp_namespace

from .helpers import free_port, http_server, kubeconfig_with, texts, wait_for

pytestmark = pytest.mark.cluster
SERVER_NAME = "kubernetes-mcp-server"  # the server's name when MCP_SERVER_NAME is unset
EXTRA = "userextras/mcp.example.com/server"


def apply(cp, *objs):
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def sa(name, ns):
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": ns}}


def role(kind, name, rules, ns=None):
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta, "rules": rules}


def binding(kind, name, role_kind, role_name, subjects, ns=None):
    meta = {"name": name, **({"namespace": ns} if ns else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
            "subjects": subjects}


def pod(name, ns):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "main", "image": "registry.example/app:1"}]}}


@pytest.fixture
def second_namespace(control_plane):
    with temp_namespace(control_plane) as name:
        yield name


@contextmanager
def cluster_objects(cp, *objs):
    """Cluster-scoped objects (ClusterRoles/Bindings), deleted afterwards."""
    apply(cp, *objs)
    try:
        yield
    finally:
        for o in objs:
            cp.kubectl("delete", o["kind"].lower(), o["metadata"]["name"], "--wait=false", check=False)


def server_kubeconfig(cp, ns, tmp_path, sa_name="mcp-server"):
    token = cp.kubectl("create", "token", sa_name, "-n", ns, "--duration=1h").stdout.strip()
    return kubeconfig_with(cp.kubeconfig, tmp_path / "server.kubeconfig", token=token)


def token_for(cp, name, ns, audience=None):
    args = ["create", "token", name, "-n", ns, "--duration=10m"] + (["--audience", audience] if audience else [])
    return cp.kubectl(*args).stdout.strip()


async def as_caller(url, token, fn):
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), mode="2026-07-28") as c:
            return await fn(c)


def audit_lines(srv):
    out = []
    for line in srv.logs().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("msg") == "tool call":
                out.append(entry["audit"])
    return out


def test_two_service_accounts_each_see_what_their_rbac_allows(control_plane, namespace, second_namespace, tmp_path):
    cp, ns, ns2 = control_plane, namespace, second_namespace
    audience = f"mcp-test-{uuid.uuid4().hex[:6]}"
    server_id = f"{ns}/{SERVER_NAME}"
    read = [{"apiGroups": [""], "resources": ["pods", "pods/log", "events"], "verbs": ["get", "list", "watch"]}]
    apply(cp, sa("reader", ns), sa("lister", ns), sa("stranger", ns),
          pod("web-1", ns), pod("web-2", ns), pod("batch-1", ns2),
          # reader: read pods in ns only; lister: list pods in ns2 only
          role("Role", "reader", read, ns), binding("RoleBinding", "reader", "Role", "reader",
                                                    [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}], ns),
          role("Role", "lister", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}], ns2),
          binding("RoleBinding", "lister", "Role", "lister",
                  [{"kind": "ServiceAccount", "name": "lister", "namespace": ns}], ns2),
          )
    # the server's RBAC as the chart renders it: impersonate exactly reader and lister (not stranger)
    release = f"i{ns[-7:]}"
    docs = render(sets=(f"mcpServerRbac.namespaces={{{ns}}}", "mcpServerRbac.callerIdentity.enabled=true",
                        f"mcpServerRbac.callerIdentity.serviceAccounts[0].namespace={ns}",
                        "mcpServerRbac.callerIdentity.serviceAccounts[0].names={reader,lister}",
                        f"mcpServerRbac.callerIdentity.servers={{{server_id}}}"),
                  namespace=ns, release=release)
    server_rbac = [d for d in docs if (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "mcp-server"]
    kinds = sorted(d["kind"] for d in server_rbac)
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ServiceAccount"], kinds  # no data access
    server_sa = next(d["metadata"]["name"] for d in server_rbac if d["kind"] == "ServiceAccount")
    apply(cp, *[d for d in server_rbac if d["kind"] in ("ServiceAccount", "Role", "RoleBinding")])
    with cluster_objects(cp, *[d for d in server_rbac if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]):
        kubeconfig = server_kubeconfig(cp, ns, tmp_path, server_sa)
        # the server itself can read no pods: whatever a caller sees comes from the caller's RBAC
        assert cp.kubectl("--kubeconfig", kubeconfig, "get", "pods", "-n", ns, check=False).returncode != 0
        wait_for(lambda: cp.kubectl("auth", "can-i", "impersonate", "serviceaccounts/reader", "-n", ns,
                                    "--as", f"system:serviceaccount:{ns}:{server_sa}", check=False).stdout.strip() == "yes",
                 what="RBAC active")
        env = {"MCP_AUTH_MODE": "kubernetes", "MCP_AUTH_AUDIENCES": audience, "POD_NAMESPACE": ns}
        with http_server(kubeconfig, tmp_path, **env) as srv:
            reader = token_for(cp, "reader", ns, audience)
            lister = token_for(cp, "lister", ns, audience)

            async def reader_calls(c):
                r = await c.call_tool("list-pods", {"namespace": ns})
                assert not r.is_error, texts(r)
                assert sorted(p["name"] for p in r.structured_content["pods"]) == ["web-1", "web-2"]
                r = await c.call_tool("describe-pod", {"name": "web-1", "namespace": ns})
                assert not r.is_error, texts(r)
                r = await c.call_tool("list-pods", {"namespace": ns2})
                assert r.is_error
                msg = texts(r)  # the API server's own 403 message: user, verb, resource, namespace
                assert f'User "system:serviceaccount:{ns}:reader" cannot list resource "pods"' in msg, msg
                assert f'namespace "{ns2}"' in msg and "can-i" in msg
                r = await c.call_tool("delete-pod", {"name": "web-1", "namespace": ns})
                assert r.is_error and 'cannot delete resource "pods"' in texts(r), texts(r)

            async def lister_calls(c):
                r = await c.call_tool("list-pods", {"namespace": ns2})
                assert not r.is_error, texts(r)
                assert [p["name"] for p in r.structured_content["pods"]] == ["batch-1"]
                r = await c.call_tool("list-pods", {"namespace": ns})
                assert r.is_error and f'User "system:serviceaccount:{ns}:lister" cannot list resource "pods"' in texts(r)
                r = await c.call_tool("describe-pod", {"name": "batch-1", "namespace": ns2})
                assert r.is_error and 'cannot get resource "pods"' in texts(r), texts(r)

            anyio.run(as_caller, srv.url, reader, reader_calls)
            anyio.run(as_caller, srv.url, lister, lister_calls)

            # a caller outside the server's allowed impersonation scope: verified, but not acted for
            stranger = token_for(cp, "stranger", ns, audience)

            async def stranger_calls(c):
                r = await c.call_tool("list-pods", {"namespace": ns})
                assert r.is_error and "not allowed to act as" in texts(r) and "stranger" in texts(r), texts(r)

            anyio.run(as_caller, srv.url, stranger, stranger_calls)

            # what the API server sees for a caller's request: the caller, and the server in the user extra
            # (the same Kube adapter and headers the tools use; SelfSubjectReview echoes the identity)
            from mcp_k8s_server.auth import caller as callers
            from mcp_k8s_server.kube import Kube, Op

            async def whoami():
                kube = Kube(kubeconfig=kubeconfig, server_identity=server_id)
                try:
                    who = callers.Caller(f"system:serviceaccount:{ns}:reader",
                                         ("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"))
                    with callers.bound(who):
                        out = await kube.request(Op("create", "selfsubjectreviews"), "POST",
                                                 "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                                 body={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
                    return out["status"]["userInfo"]
                finally:
                    await kube.aclose()

            info = anyio.run(whoami)
            assert info["username"] == f"system:serviceaccount:{ns}:reader"
            assert info["extra"] == {"mcp.example.com/server": [server_id]}
            assert set(info["groups"]) == {"system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"}

            # refused tokens: 401 with a reason the client can show, and the RFC 9728 pointer
            body = {"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 1}
            status, text = srv.post(body, headers={"Authorization": f"Bearer {reader}"})
            assert status == 200
            for token, why in [
                (None, "no bearer token"),
                (token_for(cp, "reader", ns, "some-other-service"), "audience some-other-service"),
                (token_for(cp, "reader", ns), "not for this server"),  # the API server's own audience
                ("not-a-token", "does not recognize this token"),
            ]:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                status, text = srv.post(body, headers=headers)
                assert status == 401, (why, status, text)
                assert why in json.loads(text)["error_description"], (why, text)
            import urllib.request

            req = urllib.request.Request(srv.url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            try:
                urllib.request.urlopen(req, timeout=10)
                raise AssertionError("expected 401")
            except urllib.error.HTTPError as e:
                www = e.headers["WWW-Authenticate"]
            assert www.startswith("Bearer ") and "error_description=" in www
            meta_url = f"http://127.0.0.1:{srv.port}/.well-known/oauth-protected-resource/mcp"
            assert f'resource_metadata="{meta_url}"' in www
            status, text = srv.get("/.well-known/oauth-protected-resource/mcp")
            doc = json.loads(text)
            assert status == 200 and doc["resource"] == srv.url
            assert doc["authorization_servers"] == ["https://kubernetes.default.svc.cluster.local"]
            assert srv.get("/health")[0] == 200 and srv.get("/ready")[0] == 200  # probes need no token

            # can-i agrees with kubectl auth can-i --as, for each caller
            checks = [("list", "pods", ns), ("list", "pods", ns2), ("get", "pods/log", ns), ("delete", "pods", ns),
                      ("get", "secrets", ns), ("list", "deployments.apps", ns), ("list", "nodes", None)]
            for name, token in (("reader", reader), ("lister", lister)):
                async def ask(c):
                    answers = []
                    for verb, resource, where in checks:
                        args = {"verb": verb, "resource": resource, **({"namespace": where} if where else {})}
                        r = await c.call_tool("can-i", args)
                        assert not r.is_error, texts(r)
                        assert r.structured_content["subject"] == f"system:serviceaccount:{ns}:{name}"
                        answers.append(r.structured_content["allowed"])
                    return answers

                ours = anyio.run(as_caller, srv.url, token, ask)
                kubectl = []
                for verb, resource, where in checks:
                    out = cp.kubectl("auth", "can-i", verb, resource, *(["-n", where] if where else []),
                                     "--as", f"system:serviceaccount:{ns}:{name}", check=False).stdout.strip()
                    kubectl.append(out == "yes")
                assert ours == kubectl, (name, list(zip(checks, ours, kubectl)))
                assert any(ours) and not all(ours)

            # the log attributes every call to its caller; no token ever appears in it
            lines = audit_lines(srv)
            by_user = {}
            for entry in lines:
                by_user.setdefault(entry["caller"]["user"], []).append(entry)
            assert {e["tool"] for e in by_user[f"system:serviceaccount:{ns}:reader"]} >= {"list-pods", "describe-pod", "delete-pod", "can-i"}
            denied = [e for e in by_user[f"system:serviceaccount:{ns}:lister"] if e["tool"] == "list-pods" and e["namespace"] == ns]
            assert denied and denied[0]["outcome"] == "forbidden" and denied[0]["durationMs"] >= 0
            ok = [e for e in by_user[f"system:serviceaccount:{ns}:reader"] if e["tool"] == "describe-pod"]
            assert ok[0]["outcome"] == "ok" and ok[0]["name"] == "web-1" and ok[0]["namespace"] == ns
            logs = srv.logs()
            for token in (reader, lister, stranger):
                assert token not in logs and token.split(".")[1] not in logs


# -- OIDC: a JWKS on loopback, keys generated here -------------------------------------------------
class Issuer:
    """A minimal OpenID issuer on 127.0.0.1: discovery document and JWKS; signs tokens for tests."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = "k1"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": issuer.url + "/jwks"}
                elif self.path == "/jwks":
                    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(issuer.key.public_key()))
                    body = {"keys": [{**jwk, "kid": issuer.kid, "use": "sig", "alg": "RS256"}]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, sub, groups=(), aud="mcp-oidc", exp_in=600, key=None, iss=None):
        now = int(time.time())
        claims = {"iss": iss or self.url, "sub": sub, "aud": aud, "iat": now, "exp": now + exp_in, "groups": list(groups)}
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_oidc_callers_act_with_their_user_and_groups(control_plane, namespace, tmp_path):
    cp, ns = control_plane, namespace
    issuer = Issuer()
    server_id = f"{ns}/{SERVER_NAME}"
    try:
        apply(cp, sa("mcp-server", ns), pod("web-1", ns),
              # team-a (a group from the token) may list pods in ns
              role("Role", "team-a", [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}], ns),
              binding("RoleBinding", "team-a", "Role", "team-a",
                      [{"kind": "Group", "name": "oidc:team-a", "apiGroup": "rbac.authorization.k8s.io"}], ns))
        with cluster_objects(
            cp,
            role("ClusterRole", f"mcp-oidc-{ns}", [
                {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["oidc:alice", "oidc:bob"]},
                {"apiGroups": [""], "resources": ["groups"], "verbs": ["impersonate"], "resourceNames": ["oidc:team-a", "oidc:team-b"]},
                {"apiGroups": ["authentication.k8s.io"], "resources": [EXTRA], "verbs": ["impersonate"], "resourceNames": [server_id]},
            ]),
            binding("ClusterRoleBinding", f"mcp-oidc-{ns}", "ClusterRole", f"mcp-oidc-{ns}",
                    [{"kind": "ServiceAccount", "name": "mcp-server", "namespace": ns}]),
        ):
            kubeconfig = server_kubeconfig(cp, ns, tmp_path)
            wait_for(lambda: cp.kubectl("auth", "can-i", "impersonate", "users/oidc:alice",
                                        "--as", f"system:serviceaccount:{ns}:mcp-server", check=False).stdout.strip() == "yes",
                     what="RBAC active")
            env = {"MCP_AUTH_MODE": "oidc", "MCP_AUTH_ISSUER_URL": issuer.url, "MCP_AUTH_AUDIENCES": "mcp-oidc",
                   "POD_NAMESPACE": ns}
            with http_server(kubeconfig, tmp_path, **env) as srv:
                alice = issuer.token("alice", groups=["team-a", "team-b"])  # two groups: two Impersonate-Group headers
                bob = issuer.token("bob", groups=["team-b"])

                async def alice_calls(c):
                    r = await c.call_tool("list-pods", {"namespace": ns})
                    assert not r.is_error, texts(r)
                    assert [p["name"] for p in r.structured_content["pods"]] == ["web-1"]
                    r = await c.call_tool("can-i", {"verb": "list", "resource": "pods", "namespace": ns})
                    assert r.structured_content["allowed"] is True and r.structured_content["subject"] == "oidc:alice"

                async def bob_calls(c):
                    r = await c.call_tool("list-pods", {"namespace": ns})
                    assert r.is_error and 'User "oidc:bob" cannot list resource "pods"' in texts(r), texts(r)

                anyio.run(as_caller, srv.url, alice, alice_calls)
                anyio.run(as_caller, srv.url, bob, bob_calls)

                async def system_admin_calls(c):  # the prefix keeps issuer names out of system:
                    r = await c.call_tool("list-pods", {"namespace": ns})
                    assert r.is_error and "not allowed to act as 'oidc:system:admin'" in texts(r), texts(r)

                anyio.run(as_caller, srv.url, issuer.token("system:admin"), system_admin_calls)

                other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                body = {"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 1}
                for token, why in [
                    (issuer.token("alice", aud="someone-else"), "audience"),
                    (issuer.token("alice", exp_in=-120), "expired"),
                    (issuer.token("alice", key=other_key), "not signed by a current key"),
                    (issuer.token("alice", iss="https://evil.example"), "not issued by"),
                ]:
                    status, text = srv.post(body, headers={"Authorization": f"Bearer {token}"})
                    assert status == 401 and why in json.loads(text)["error_description"], (why, text)
                status, text = srv.get("/.well-known/oauth-protected-resource/mcp")
                assert status == 200 and json.loads(text)["authorization_servers"] == [issuer.url]
                users = {e["caller"]["user"] for e in audit_lines(srv)}
                assert users == {"oidc:alice", "oidc:bob", "oidc:system:admin"}
                assert alice not in srv.logs()
    finally:
        issuer.close()


INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"


class Recorder:
    """A loopback stand-in for the authorization server: records the paths clients ask it for."""

    def __init__(self):
        self.paths = []
        rec = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                rec.paths.append(f"{self.command} {self.path}")
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.slow
def test_inspector_cli_gets_the_401_and_the_metadata_document(control_plane, namespace, tmp_path):
    """`npx @modelcontextprotocol/inspector --cli`: without a token it gets our 401 (and shows its
    reason); in its OAuth flow it reads our RFC 9728 document, whose only news is the issuer, and
    goes to that issuer (a recorder on loopback); with a token minted for our audience it lists the tools."""
    import os
    import shutil
    import subprocess

    if not shutil.which("npx"):
        pytest.skip("npx not installed")
    cp, ns = control_plane, namespace
    apply(cp, sa("inspector", ns))
    issuer = Recorder()
    try:
        env = {"MCP_AUTH_MODE": "kubernetes", "MCP_AUTH_AUDIENCES": "mcp-inspector-test", "MCP_AUTH_ISSUER_URL": issuer.url}
        with http_server(cp.kubeconfig, tmp_path, **env) as srv:
            def inspector(*extra, **env_extra):
                return subprocess.run(["npx", "-y", INSPECTOR, "--cli", srv.url, "--method", "tools/list", *extra],
                                      capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                                      env={**os.environ, **env_extra})

            r = inspector("--stored-auth-only")
            assert r.returncode != 0 and "auth_required" in r.stderr and "no bearer token" in r.stderr, r.stderr[-2000:]
            assert "audience 'mcp-inspector-test'" in r.stderr
            # BROWSER=true: should the flow get as far as opening a browser, nothing opens
            r = inspector(MCP_AUTO_OPEN_ENABLED="true", BROWSER="true")
            assert r.returncode != 0
            assert any(p.startswith("GET /.well-known/oauth-authorization-server") or "openid-configuration" in p
                       for p in issuer.paths), (issuer.paths, r.stderr[-2000:])
            token = token_for(cp, "inspector", ns, "mcp-inspector-test")
            r = inspector("--header", f"Authorization: Bearer {token}")
            assert r.returncode == 0, r.stderr[-2000:]
            assert "can-i" in {t["name"] for t in json.loads(r.stdout)["tools"]}
            assert token not in srv.logs()
    finally:
        issuer.close()


def test_identity_examples_apply(control_plane, tmp_path):
    """examples/identity: the chart values render, the agent manifests pass server-side dry run."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    docs = render(repo / "examples" / "identity" / "values.yaml", namespace="mcp-system")
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["namespace"] == "agents")
    assert role["rules"][0]["resourceNames"] == ["triage-bot"]
    cp = control_plane
    if cp.kubectl("get", "namespace", "agents", check=False).returncode != 0:
        cp.kubectl("create", "namespace", "agents")
    try:
        cp.kubectl("apply", "-f", str(repo / "examples" / "identity" / "agent.yaml"))  # PodSecurity, schema
        out = json.loads(cp.kubectl("get", "pod", "triage-bot", "-n", "agents", "-o", "json").stdout)
        source = out["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
        example = yaml.safe_load((repo / "examples" / "identity-mcpserver.yaml").read_text())
        assert source["audience"] == example["spec"]["config"]["MCP_AUTH_AUDIENCES"]
    finally:
        cp.kubectl("delete", "namespace", "agents", "--wait=false", check=False)


def test_the_prober_passes_with_a_token_for_the_server_audience(control_plane, namespace, tmp_path):
    """The operator's prober sidecar (hook: mcp_operator_hook.prober) probes an identity-mode server
    with a token projected for that server's audience and lists its tools; without a token it sees
    only our 401 challenge (ready, no inventory)."""
    import asyncio

    from mcp_prober.probe import probe

    cp, ns = control_plane, namespace
    apply(cp, sa("mcp-server", ns))
    env = {"MCP_AUTH_MODE": "kubernetes", "MCP_AUTH_AUDIENCES": "mcp-prober-test"}
    with http_server(cp.kubeconfig, tmp_path, **env) as srv:
        token_file = tmp_path / "mcp-token"
        token_file.write_text(token_for(cp, "mcp-server", ns, "mcp-prober-test"))
        r = asyncio.run(probe(srv.url, timeout=10, token_file=str(token_file)))
        assert r.ok, r.message
        assert "can-i" in r.observation.document()["tools"]
        r = asyncio.run(probe(srv.url, timeout=10))
        assert r.observation is None and "401" in r.message and "no bearer token" in r.message, r.message
