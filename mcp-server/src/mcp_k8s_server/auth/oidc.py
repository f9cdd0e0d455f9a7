"""OIDC caller identity: JWTs from one configured issuer, verified with PyJWT against the issuer's
JWKS (signature, ``iss``, ``aud``, ``exp``/``nbf``), then mapped to a Kubernetes user and groups
the way the API server's own OIDC authenticator does (a claim each, with a prefix).

Shapes: ``verify_token(token) -> CallerToken | None``; None means 401 with the reason recorded.
Keys: the JWKS URL is MCP_OIDC_JWKS_URL or the ``jwks_uri`` of ``<issuer>/.well-known/
openid-configuration`` (fetched on first use, retried on failure); PyJWKClient caches the key set
and refetches it when a token names an unknown ``kid`` (key rotation).

Safety: only asymmetric algorithms (never ``none`` or HMAC, so a public key cannot be used as a
shared secret); a username or group in the reserved ``system:`` namespace is refused, so an
issuer cannot mint a token that makes us act as a ServiceAccount or a system component.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import anyio
import jwt

from .cache import VerdictCache, fingerprint
from .caller import Caller, CallerToken
from .challenge import refuse

log = logging.getLogger(__name__)
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
LEEWAY_SECONDS = 30


def discover_jwks_uri(issuer: str, timeout: float = 10.0) -> str:
    """``jwks_uri`` from the issuer's OpenID discovery document (OIDC Discovery 1.0 §4)."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (https, or http on loopback)
        doc = json.loads(resp.read(1024 * 1024))
    if doc.get("issuer", "").rstrip("/") != issuer.rstrip("/"):
        raise ValueError(f"discovery document names issuer {doc.get('issuer')!r}, expected {issuer!r}")
    uri = doc.get("jwks_uri")
    if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
        raise ValueError("discovery document has no jwks_uri")
    return uri


def claims_to_caller(claims: dict[str, Any], *, username_claim: str, username_prefix: str,
                     groups_claim: str, groups_prefix: str) -> Caller | str:
    """A Caller from verified claims, or the reason the claims cannot name one."""
    name = claims.get(username_claim)
    if not isinstance(name, str) or not name:
        return f"the token has no {username_claim!r} claim to name the caller"
    if username_claim == "email" and claims.get("email_verified") is False:
        return "the token's email is not verified"
    username = username_prefix + name
    raw = claims.get(groups_claim) or []
    raw = [raw] if isinstance(raw, str) else raw
    groups = tuple(groups_prefix + g for g in raw if isinstance(g, str) and g)
    if username.startswith("system:") or any(g.startswith("system:") for g in groups):
        return "the token names a reserved 'system:' user or group"
    exp = claims.get("exp")
    return Caller(username=username, groups=groups, uid=None, source="oidc",
                  expires_at=int(exp) if isinstance(exp, (int, float)) else None)


class OIDCVerifier:
    def __init__(self, issuer: str, audiences: list[str], *, jwks_url: str | None = None,
                 username_claim: str = "sub", username_prefix: str = "oidc:", groups_claim: str = "groups",
                 groups_prefix: str = "oidc:", cache_seconds: float = 60.0, clock: Callable[[], float] = time.time):
        self.issuer = issuer
        self.audiences = list(audiences)
        self.jwks_url = jwks_url
        self.mapping = {"username_claim": username_claim, "username_prefix": username_prefix,
                        "groups_claim": groups_claim, "groups_prefix": groups_prefix}
        self.cache_seconds = cache_seconds
        self.clock = clock
        self.cache: VerdictCache[CallerToken] = VerdictCache(4096, clock)
        self._jwks: jwt.PyJWKClient | None = None

    def _client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            uri = self.jwks_url or discover_jwks_uri(self.issuer)
            self._jwks = jwt.PyJWKClient(uri, cache_keys=True, lifespan=300, timeout=10)
        return self._jwks

    def _decode(self, token: str) -> dict[str, Any]:
        key = self._client().get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=ALGORITHMS, audience=self.audiences, issuer=self.issuer,
                          leeway=LEEWAY_SECONDS, options={"require": ["exp", "iss", "aud"]})

    async def verify_token(self, token: str) -> CallerToken | None:
        token = token.strip()
        key = fingerprint(token)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        try:
            claims = await anyio.to_thread.run_sync(self._decode, token)
        except jwt.ExpiredSignatureError:
            return self._refused(key, "the token has expired; request a new one")
        except jwt.InvalidAudienceError:
            return self._refused(key, f"the token was not issued for this server's audience {self.audiences[0]!r}")
        except jwt.InvalidIssuerError:
            return self._refused(key, f"the token was not issued by {self.issuer}")
        except jwt.ImmatureSignatureError:
            return self._refused(key, "the token is not valid yet")
        except jwt.MissingRequiredClaimError as exc:
            return self._refused(key, f"the token lacks the {exc.claim!r} claim")
        except jwt.PyJWKClientConnectionError as exc:
            log.warning("JWKS fetch failed", extra={"error": str(exc)})
            refuse("this server could not fetch its issuer's signing keys right now; retry shortly")
            return None
        except (jwt.PyJWKClientError, jwt.InvalidSignatureError):
            return self._refused(key, f"the token is not signed by a current key of {self.issuer}")
        except jwt.PyJWTError:
            return self._refused(key, "the bearer token is not a valid JWT")
        except (OSError, ValueError) as exc:  # discovery failed: not the caller's fault, retried next time
            log.warning("OIDC discovery failed", extra={"issuer": self.issuer, "error": str(exc)})
            refuse("this server could not reach its token issuer right now; retry shortly")
            return None
        caller = claims_to_caller(claims, **self.mapping)
        if isinstance(caller, str):
            return self._refused(key, caller)
        aud = claims.get("aud")
        aud = [aud] if isinstance(aud, str) else list(aud or [])
        result = CallerToken(token=key, client_id=str(claims.get("azp") or claims.get("client_id") or caller.username),
                             subject=str(claims.get("sub") or ""), scopes=str(claims.get("scope") or "").split(),
                             expires_at=caller.expires_at, resource=next((a for a in aud if a in self.audiences), None),
                             claims={"iss": claims.get("iss")}, caller=caller)
        until = self.clock() + self.cache_seconds
        self.cache.put(key, result, min(until, caller.expires_at) if caller.expires_at else until)
        log.info("caller verified", extra={"caller": caller.username, "via": "oidc", "token": key[:19]})
        return result

    def _refused(self, key: str, reason: str) -> None:
        log.info("token refused", extra={"reason": reason, "token": key[:19]})
        refuse(reason)
        return None
