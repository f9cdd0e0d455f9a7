"""Pure logic of the per-caller identity layer (the cluster proofs are in test_cluster_identity.py)."""

import time

import anyio
import jwt
import pytest

from mcp_k8s_server import audit, config
from mcp_k8s_server.auth import caller as callers
from mcp_k8s_server.auth import settings as auth_settings
from mcp_k8s_server.auth import tokenreview
from mcp_k8s_server.auth.cache import VerdictCache, fingerprint
from mcp_k8s_server.auth.oidc import claims_to_caller
from mcp_k8s_server.tools.access import parse_resource

EXTRA_HEADER = "Impersonate-Extra-mcp.example.com%2Fserver"


def test_service_account_callers_need_no_group_impersonation():
    c = callers.Caller("system:serviceaccount:team-a:agent",
                       ("system:serviceaccounts", "system:serviceaccounts:team-a", "system:authenticated"))
    assert callers.impersonation_headers(c, "mcp/srv") == [
        ("Impersonate-User", "system:serviceaccount:team-a:agent"), (EXTRA_HEADER, "mcp/srv")]
    # an extra group the API server would not derive is sent explicitly, one header per group
    c2 = callers.Caller(c.username, c.groups + ("ops",))
    groups = [v for k, v in callers.impersonation_headers(c2, "x") if k == "Impersonate-Group"]
    assert groups == ["system:serviceaccounts", "system:serviceaccounts:team-a", "ops"]
    u = callers.Caller("oidc:alice", ("oidc:a", "oidc:b", "system:authenticated"), source="oidc")
    assert [v for k, v in callers.impersonation_headers(u, "x") if k == "Impersonate-Group"] == ["oidc:a", "oidc:b"]
    assert callers.Caller("system:serviceaccount:bad").service_account is None


def test_verdict_cache_never_outlives_expiry_and_is_bounded():
    now = [1000.0]
    cache = VerdictCache(max_entries=2, clock=lambda: now[0])
    cache.put("a", 1, 1010)
    cache.put("b", 2, 2000)
    assert cache.get("a") == 1
    now[0] = 1010
    assert cache.get("a") is None and cache.get("b") == 2
    cache.put("c", 3, 2000)
    cache.put("d", 4, 2000)
    assert len(cache) == 2 and cache.get("b") is None  # least recently used went first
    cache.put("e", 5, 900)  # already expired: not stored
    assert cache.get("e") is None
    assert fingerprint("t").startswith("sha256:") and "t" != fingerprint("t")[7:]


def _jwt(**claims):
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


def test_early_refusals_from_unverified_claims():
    now = time.time()
    assert "expired" in tokenreview.early_refusal({"exp": now - 1, "aud": ["mcp"]}, ["mcp"], now)
    msg = tokenreview.early_refusal({"exp": now + 60, "aud": ["https://kubernetes.default.svc"]}, ["mcp"], now)
    assert "audience https://kubernetes.default.svc" in msg and "'mcp'" in msg
    assert tokenreview.early_refusal({"exp": now + 60, "aud": "mcp"}, ["other", "mcp"], now) is None
    assert tokenreview.early_refusal(None, ["mcp"], now) is None
    assert tokenreview.peek("not-a-jwt") is None and tokenreview.peek(_jwt(sub="x"))["sub"] == "x"
    assert "audience" in tokenreview.classify('token audiences ["a"] is invalid for the target audiences ["b"]', ["b"])
    assert "does not recognize" in tokenreview.classify("invalid bearer token", ["b"])


def test_token_review_verdicts_are_cached_until_the_token_expires(monkeypatch):
    now = [time.time()]
    calls = []
    exp = int(now[0]) + 30
    token = _jwt(aud=["mcp"], exp=exp, sub="system:serviceaccount:a:b")

    async def review(kube, tok, audiences):
        calls.append(tok)
        return {"authenticated": True, "audiences": ["mcp"],
                "user": {"username": "system:serviceaccount:a:b", "groups": ["system:serviceaccounts"]}}

    monkeypatch.setattr(tokenreview.reviews, "token_review", review)
    v = tokenreview.TokenReviewVerifier(kube=None, audiences=["mcp"], cache_seconds=600, clock=lambda: now[0])

    async def go():
        first = await v.verify_token(token)
        assert first.caller.username == "system:serviceaccount:a:b" and first.expires_at == exp
        assert first.token == fingerprint(token)  # the token itself is not kept
        assert (await v.verify_token(token)) is first and len(calls) == 1
        now[0] = exp  # cache_seconds is longer, but the token's exp bounds the entry
        assert (await v.verify_token(token)) is None  # and the expired token is refused without a review
        assert len(calls) == 1

    anyio.run(go)

    async def unauthenticated(kube, tok, audiences):
        calls.append(tok)
        return {"authenticated": False, "error": "invalid bearer token"}

    monkeypatch.setattr(tokenreview.reviews, "token_review", unauthenticated)
    other = _jwt(aud=["mcp"], exp=int(now[0]) + 300)

    async def refused():
        assert (await v.verify_token(other)) is None
        assert (await v.verify_token(other)) is None  # refusal cached briefly
        assert len(calls) == 2

    anyio.run(refused)


def test_oidc_claims_mapping_keeps_system_names_out():
    m = dict(username_claim="sub", username_prefix="oidc:", groups_claim="groups", groups_prefix="oidc:")
    c = claims_to_caller({"sub": "alice", "groups": ["a", "b"], "exp": 5}, **m)
    assert c.username == "oidc:alice" and c.groups == ("oidc:a", "oidc:b") and c.expires_at == 5
    assert "reserved" in claims_to_caller({"sub": "system:admin"}, **{**m, "username_prefix": ""})
    assert "reserved" in claims_to_caller({"sub": "x", "groups": ["system:masters"]}, **{**m, "groups_prefix": ""})
    assert "claim" in claims_to_caller({"groups": []}, **m)


def test_audit_redaction():
    args = {"name": "web", "token": "abc", "env": [{"name": "DB_PASSWORD", "value": "hunter2"}, {"name": "MODE", "value": "x"}],
            "manifest": {"kind": "Secret", "data": {"k": "djE="}}, "note": "Bearer abcdefghijklmnop",
            "jwt": _jwt(sub="x"), "long": "y" * 1000}
    out = audit.redact(args)
    assert out["name"] == "web" and out["token"] == "***" and out["env"][0]["value"] == "***"
    assert out["env"][1]["value"] == "x" and out["manifest"]["data"] == "***"
    assert out["note"] == "***" and out["jwt"] == "***" and len(out["long"]) < 300


def test_can_i_resource_syntax_matches_kubectl():
    assert parse_resource("pods") == ("pods", "", "")
    assert parse_resource("po") == ("pods", "", "")
    assert parse_resource("pods/log") == ("pods", "", "log")
    assert parse_resource("deployments.apps/scale") == ("deployments", "apps", "scale")
    assert parse_resource("deploy") == ("deployments", "apps", "")
    assert parse_resource("widgets.example.com") == ("widgets", "example.com", "")


def test_identity_settings_are_checked():
    base = {"MCP_TRANSPORT": "http"}
    with pytest.raises(config.ConfigError, match="needs MCP_TRANSPORT=http"):
        config.load({"MCP_AUTH_MODE": "kubernetes"})
    with pytest.raises(config.ConfigError, match="replaces MCP_AUTH_TOKEN"):
        config.load({**base, "MCP_AUTH_MODE": "kubernetes", "MCP_AUTH_TOKEN": "x"})
    with pytest.raises(config.ConfigError, match="needs MCP_AUTH_ISSUER_URL"):
        config.load({**base, "MCP_AUTH_MODE": "oidc"})
    with pytest.raises(config.ConfigError, match="use https"):
        config.load({**base, "MCP_AUTH_MODE": "oidc", "MCP_AUTH_ISSUER_URL": "http://idp.example.com"})
    with pytest.raises(config.ConfigError, match="expected one of"):
        config.load({**base, "MCP_AUTH_MODE": "magic"})
    s = config.load({**base, "MCP_AUTH_MODE": "kubernetes", "MCP_SERVER_NAME": "k8s", "POD_NAMESPACE": "team-a", "MCP_PORT": "3001"})
    assert auth_settings.resource_url(s) == "http://k8s.team-a.svc.cluster.local:3001/mcp"
    assert auth_settings.audiences(s) == ("http://k8s.team-a.svc.cluster.local:3001/mcp",)
    assert auth_settings.server_identity(s) == "team-a/k8s"
    s = config.load({**base, "MCP_AUTH_MODE": "kubernetes", "MCP_AUTH_AUDIENCES": "mcp-a, mcp-b"})
    assert auth_settings.audiences(s) == ("mcp-a", "mcp-b")


def test_issuer_is_read_from_our_own_service_account_token(tmp_path):
    path = tmp_path / "token"
    path.write_text(_jwt(iss="https://oidc.eks.example/id/ABC", sub="x"))
    s = config.load({"MCP_TRANSPORT": "http", "MCP_AUTH_MODE": "kubernetes"})
    assert auth_settings.issuer_url(s, str(path)) == "https://oidc.eks.example/id/ABC"
    assert auth_settings.issuer_url(s, str(tmp_path / "missing")) == auth_settings.KUBERNETES_DEFAULT_ISSUER


def test_hook_gives_the_prober_a_token_for_an_identity_mode_server():
    from mcp_operator_hook import prober

    spec = {"image": "mcp-k8s-server:1", "transport": "streamable-http", "port": 3001,
            "config": {"MCP_AUTH_MODE": "kubernetes"}}
    assert prober.caller_audience("k8s", "team-a", spec) == "http://k8s.team-a.svc.cluster.local:3001/mcp"
    spec_aud = {**spec, "config": {"MCP_AUTH_MODE": "kubernetes", "MCP_AUTH_AUDIENCES": "aud-1, aud-2"}}
    assert prober.caller_audience("k8s", "team-a", spec_aud) == "aud-1"
    assert prober.caller_audience("k8s", "team-a", {**spec, "config": {"MCP_AUTH_MODE": "oidc"}}) is None
    assert prober.caller_audience("k8s", "team-a", {**spec, "config": {}}) is None
    pod = {"containers": [{"name": "mcp-server"}], "volumes": []}
    prober.add_to_pod(pod, "k8s", spec_aud, "team-a")
    sources = pod["volumes"][0]["projected"]["sources"]
    assert {"serviceAccountToken": {"path": "mcp-token", "audience": "aud-1", "expirationSeconds": 3607}} in sources
    env = {e["name"]: e.get("value") for e in pod["containers"][-1]["env"]}
    assert env["MCP_PROBE_TOKEN_FILE"] == "/var/run/secrets/kubernetes.io/serviceaccount/mcp-token"
    plain = {"containers": [{"name": "mcp-server"}], "volumes": []}
    prober.add_to_pod(plain, "k8s", {**spec, "config": {}}, "team-a")
    assert "MCP_PROBE_TOKEN_FILE" not in {e["name"] for e in plain["containers"][-1]["env"]}
    assert len(plain["volumes"][0]["projected"]["sources"]) == 3


def test_a_burst_with_one_fresh_token_sends_one_review(monkeypatch):
    calls = []
    token = _jwt(aud=["mcp"], exp=int(time.time()) + 300)

    async def review(kube, tok, audiences):
        calls.append(tok)
        await anyio.sleep(0.05)
        return {"authenticated": True, "audiences": ["mcp"], "user": {"username": "u", "groups": []}}

    monkeypatch.setattr(tokenreview.reviews, "token_review", review)
    v = tokenreview.TokenReviewVerifier(kube=None, audiences=["mcp"])

    async def go():
        results = []

        async def one():
            results.append(await v.verify_token(token))

        async with anyio.create_task_group() as tg:
            for _ in range(20):
                tg.start_soon(one)
        assert len(calls) == 1 and len(results) == 20 and all(r and r.caller.username == "u" for r in results)

    anyio.run(go)
