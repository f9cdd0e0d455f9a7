"""What ``server.build`` hands the SDK in an identity mode: a TokenVerifier and AuthSettings.

The SDK then answers unauthenticated /mcp requests with 401 + ``WWW-Authenticate: Bearer
resource_metadata=".../.well-known/oauth-protected-resource/mcp"`` and serves that RFC 9728
document (resource = our URL, authorization_servers = the issuer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcp.server.auth.settings import AuthSettings

from ..config import Settings
from ..kube import Kube
from . import settings as auth_settings


@dataclass(frozen=True)
class AuthSetup:
    verifier: Any  # TokenReviewVerifier | OIDCVerifier (the SDK's TokenVerifier protocol)
    auth: AuthSettings
    audiences: tuple[str, ...]
    missing: str  # the 401 reason when no token was sent

    def describe(self) -> dict[str, Any]:
        return {"resource": str(self.auth.resource_server_url), "issuer": str(self.auth.issuer_url),
                "audiences": list(self.audiences)}


def build(settings: Settings, kube: Kube) -> AuthSetup | None:
    """None when MCP_AUTH_MODE=none."""
    if settings.auth_mode == "none":
        return None
    resource = auth_settings.resource_url(settings)
    audiences = auth_settings.audiences(settings)
    issuer = auth_settings.issuer_url(settings)
    # The verifiers import PyJWT + cryptography (~0.4 s at start): only in an identity mode.
    if settings.auth_mode == "kubernetes":
        from .tokenreview import TokenReviewVerifier

        verifier: Any = TokenReviewVerifier(kube, list(audiences), cache_seconds=settings.auth_cache_seconds)
        missing = (f"no bearer token: send 'Authorization: Bearer <token>' with a Kubernetes ServiceAccount "
                   f"token minted for audience {audiences[0]!r} (a projected serviceAccountToken)")
    else:
        from .oidc import OIDCVerifier

        verifier = OIDCVerifier(issuer, list(audiences), jwks_url=settings.oidc_jwks_url,
                                username_claim=settings.oidc_username_claim,
                                username_prefix=settings.oidc_username_prefix,
                                groups_claim=settings.oidc_groups_claim, groups_prefix=settings.oidc_groups_prefix,
                                cache_seconds=settings.auth_cache_seconds)
        missing = f"no bearer token: send 'Authorization: Bearer <token>' with a token from {issuer} for audience {audiences[0]!r}"
    auth = AuthSettings(issuer_url=issuer, resource_server_url=resource,
                        # the verifiers check the audience themselves (a list; not only the URL)
                        validate_token_resource=False)
    return AuthSetup(verifier=verifier, auth=auth, audiences=audiences, missing=missing)
