"""Checks and derived values of the per-caller identity settings (MCP_AUTH_*, MCP_OIDC_*).

Rules (each refusal is a ConfigError naming the key):
- ``kubernetes`` and ``oidc`` modes need the HTTP transport (stdio has no bearer token to verify);
- they replace the static MCP_AUTH_TOKEN, which must then be unset (one Authorization header);
- ``oidc`` needs MCP_AUTH_ISSUER_URL (the token issuer); URLs are https, or http on loopback only.

Audience: the MCP authorization spec (2025-06-18+, RFC 8707) binds a token to the canonical URI of
the MCP server, so the default audience is the resource URL; MCP_AUTH_AUDIENCES overrides it (a
projected ServiceAccount token's ``audience`` must then name one of them).
"""

from __future__ import annotations

import base64
import json
import os
from urllib.parse import urlparse

from ..config import ConfigError, Settings

KUBERNETES_DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SA_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount/token"
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def _check_url(key: str, url: str) -> str:
    u = urlparse(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ConfigError(f"{key}={url!r}: expected an absolute http(s) URL")
    if u.scheme == "http" and u.hostname not in _LOOPBACK and key != "MCP_AUTH_RESOURCE_URL":
        raise ConfigError(f"{key}={url!r}: use https (plain http is accepted on loopback only)")
    return url


def validate(settings: Settings) -> Settings:
    """``settings`` with the identity keys checked (ConfigError otherwise)."""
    mode = settings.auth_mode
    if mode == "none":
        return settings
    if not settings.http:
        raise ConfigError(f"MCP_AUTH_MODE={mode} needs MCP_TRANSPORT=http (stdio carries no bearer token)")
    if settings.auth_token:
        raise ConfigError(
            f"MCP_AUTH_MODE={mode} replaces MCP_AUTH_TOKEN: unset MCP_AUTH_TOKEN/MCP_AUTH_TOKEN_FILE "
            "(callers send their own token)"
        )
    if settings.auth_resource_url:
        _check_url("MCP_AUTH_RESOURCE_URL", settings.auth_resource_url)
    if settings.auth_issuer_url:
        _check_url("MCP_AUTH_ISSUER_URL", settings.auth_issuer_url)
    if settings.oidc_jwks_url:
        _check_url("MCP_OIDC_JWKS_URL", settings.oidc_jwks_url)
    if mode == "oidc":
        if not settings.auth_issuer_url:
            raise ConfigError("MCP_AUTH_MODE=oidc needs MCP_AUTH_ISSUER_URL (the issuer of the callers' tokens)")
        for key, prefix in (("MCP_OIDC_USERNAME_PREFIX", settings.oidc_username_prefix),
                            ("MCP_OIDC_GROUPS_PREFIX", settings.oidc_groups_prefix)):
            if prefix.startswith("system:"):
                raise ConfigError(f"{key}={prefix!r}: the 'system:' prefix is reserved for Kubernetes identities")
    return settings


def resource_url(settings: Settings) -> str:
    """This server's /mcp URL as its callers reach it (RFC 9728 ``resource``).

    MCP_AUTH_RESOURCE_URL, else the in-cluster Service URL (the operator sets MCP_SERVER_NAME to the
    Service name and the Service port equals MCP_PORT), else loopback.
    """
    if settings.auth_resource_url:
        return settings.auth_resource_url
    if settings.service_name and settings.pod_namespace:
        return f"http://{settings.service_name}.{settings.pod_namespace}.svc.{settings.cluster_domain}:{settings.port}/mcp"
    host = settings.host if settings.host and settings.host not in ("0.0.0.0", "::") else "127.0.0.1"
    return f"http://{host}:{settings.port}/mcp"


def audiences(settings: Settings) -> tuple[str, ...]:
    return settings.auth_audiences or (resource_url(settings),)


def issuer_url(settings: Settings, token_path: str = SA_TOKEN_PATH) -> str:
    """The advertised authorization server: MCP_AUTH_ISSUER_URL, else (kubernetes mode) the
    ServiceAccount issuer read from our own mounted token's ``iss`` claim, else the common default."""
    if settings.auth_issuer_url:
        return settings.auth_issuer_url
    try:
        with open(token_path, encoding="ascii") as fh:
            payload = fh.read().strip().split(".")[1]
        iss = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("iss")
        if isinstance(iss, str) and iss.startswith("https://"):
            return iss
    except (OSError, IndexError, ValueError, UnicodeError):
        pass
    return KUBERNETES_DEFAULT_ISSUER


def server_identity(settings: Settings) -> str:
    """``namespace/name`` of this server, recorded in every impersonated request (user extra)."""
    ns = settings.pod_namespace or os.environ.get("POD_NAMESPACE") or "-"
    return f"{ns}/{settings.service_name or settings.server_name}"
