"""Kubernetes-native caller identity: a bearer token is accepted only after a TokenReview that
names this server's audiences (so a token minted for the API server, or for another service, is
refused), and the caller is whoever the API server says the token belongs to.

Shapes: ``verify_token(token) -> CallerToken | None`` (the SDK's TokenVerifier protocol; None
means 401, with the reason recorded through ``challenge.refuse``).

Cheap refusals first, without a round-trip: a JWT whose ``exp`` passed or whose ``aud`` names
none of our audiences (decoded *unverified*, only ever to refuse early or bound the cache; the
TokenReview alone decides acceptance). Verdicts are cached by token hash: acceptances for
MCP_AUTH_CACHE_SECONDS but never past the token's ``exp``, refusals for a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt

from ..kube import Kube, KubeError
from . import reviews
from .cache import VerdictCache, fingerprint
from .caller import Caller, CallerToken
from .challenge import refuse

log = logging.getLogger(__name__)
REFUSAL_SECONDS = 5.0
_RETRY: Any = object()  # an in-flight review ended without a verdict (its request was cancelled)


def peek(token: str) -> dict[str, Any] | None:
    """The claims of a JWT-shaped token, signature NOT checked (None if it is not a JWT)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


def _aud(claims: dict[str, Any]) -> list[str]:
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else [a for a in aud or [] if isinstance(a, str)]


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def early_refusal(claims: dict[str, Any] | None, audiences: list[str], now: float) -> str | None:
    """Why a token can be refused from its own (unverified) claims, or None."""
    if not claims:
        return None
    exp = claims.get("exp")
    if isinstance(exp, (int, float)) and exp <= now:
        return f"the token expired at {_when(exp)}; request a new one"
    aud = _aud(claims)
    if aud and not set(aud) & set(audiences):
        return (f"the token was minted for audience {', '.join(aud)}, not for this server: request it "
                f"with audience {audiences[0]!r} (e.g. a projected serviceAccountToken with that audience)")
    return None


def classify(error: str, audiences: list[str]) -> str:
    """A message a client can show, from a TokenReview's ``status.error``."""
    low = error.lower()
    if "audience" in low:
        return f"the token was not minted for this server's audience {audiences[0]!r}"
    if "expired" in low:
        return "the token has expired; request a new one"
    if "not found" in low or "deleted" in low or "invalid" in low or "revoked" in low:
        return "the Kubernetes API server does not recognize this token (unknown, revoked, or its ServiceAccount or pod is gone)"
    return "the Kubernetes API server did not authenticate this token"


class TokenReviewVerifier:
    """TokenVerifier backed by the API server's TokenReview (as this server's own identity)."""

    def __init__(self, kube: Kube, audiences: list[str], cache_seconds: float = 60.0,
                 max_entries: int = 4096, clock: Callable[[], float] = time.time):
        if not audiences:
            raise ValueError("at least one audience")
        self.kube = kube
        self.audiences = list(audiences)
        self.cache_seconds = cache_seconds
        self.clock = clock
        self.cache: VerdictCache[CallerToken | str] = VerdictCache(max_entries, clock)
        self.reviews = 0  # TokenReviews sent (observability and tests)
        # one review in flight per token: a burst of calls with a fresh token asks the API server once
        self._inflight: dict[str, asyncio.Future[CallerToken | None]] = {}

    async def verify_token(self, token: str) -> CallerToken | None:
        token = token.strip()
        if not token:
            refuse("empty bearer token")
            return None
        key = fingerprint(token)
        cached = self.cache.get(key)
        if isinstance(cached, CallerToken):
            return cached
        if isinstance(cached, str):
            refuse(cached)
            return None
        pending = self._inflight.get(key)
        if pending is not None:
            result = await asyncio.shield(pending)
            if result is _RETRY:  # the request that was reviewing it went away: review it ourselves
                return await self.verify_token(token)
            if result is None:
                cached = self.cache.get(key)
                refuse(cached if isinstance(cached, str) else "the bearer token was not accepted")
            return result
        future: asyncio.Future[CallerToken | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        result: Any = _RETRY
        try:
            result = await self._review(token, key)
        finally:
            del self._inflight[key]
            future.set_result(result)
        return result

    async def _review(self, token: str, key: str) -> CallerToken | None:
        now = self.clock()
        claims = peek(token)
        reason = early_refusal(claims, self.audiences, now)
        if reason:
            return self._refused(key, reason, now)
        try:
            self.reviews += 1
            status = await reviews.token_review(self.kube, token, self.audiences)
        except KubeError as exc:  # not the caller's fault: not cached, retried on the next request
            log.warning("token review failed", extra={"error": str(exc), "token": key[:19]})
            refuse(f"this server could not verify the token right now ({exc}); retry shortly")
            return None
        if not status.get("authenticated"):
            return self._refused(key, classify(str(status.get("error") or ""), self.audiences), now)
        matched = [a for a in status.get("audiences") or [] if a in self.audiences]
        if not matched:  # the API server must confirm one of the audiences we asked for
            return self._refused(key, f"the token is not valid for this server's audience {self.audiences[0]!r}", now)
        user = status.get("user") or {}
        if not user.get("username"):
            return self._refused(key, "the token review named no user", now)
        exp = claims.get("exp") if claims else None
        exp = int(exp) if isinstance(exp, (int, float)) else None
        caller = Caller(
            username=user["username"],
            groups=tuple(user.get("groups") or ()),
            uid=user.get("uid"),
            extra={k: tuple(v or ()) for k, v in (user.get("extra") or {}).items()},
            source="kubernetes",
            expires_at=exp,
        )
        result = CallerToken(token=key, client_id=caller.username, subject=caller.username, scopes=[],
                             expires_at=exp, resource=matched[0], caller=caller)
        until = now + self.cache_seconds
        self.cache.put(key, result, min(until, exp) if exp else until)
        log.info("caller verified", extra={"caller": caller.username, "via": "tokenreview", "token": key[:19]})
        return result

    def _refused(self, key: str, reason: str, now: float) -> None:
        self.cache.put(key, reason, now + REFUSAL_SECONDS)
        log.info("token refused", extra={"reason": reason, "token": key[:19]})
        refuse(reason)
        return None
