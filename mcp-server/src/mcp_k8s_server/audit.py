"""Caller binding and the audit trail, as one SDK ``ServerMiddleware`` around every MCP message.

- Binding: the SDK's bearer middleware put the verified ``CallerToken`` on the HTTP request
  (``scope["user"]``); for the duration of each MCP message we bind its Caller (auth.caller), so
  every Kubernetes call the handler makes impersonates that caller. Taken per message from the
  message's own request, so a long-lived session never carries one caller's identity into
  another's request. In an identity mode, a message without a verified caller binds UNBOUND and
  any Kubernetes call from it is refused.
- Audit: one structured line per ``tools/call``: caller, tool, target namespace and name, outcome
  (the tool's own outcome code when it reports one: ok, forbidden, not_found, invalid, ...),
  duration, and the arguments with secrets masked (``redact``). Never a token.
"""

from __future__ import annotations

import contextvars
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser

from .auth import caller as callers
from .shape import MASK, SENSITIVE_ENV_NAME

log = logging.getLogger("mcp_k8s_server.audit")
# credential-looking literals: JWTs, bearer/basic credentials, PEM blocks
_CREDENTIAL = re.compile(r"eyJ[\w-]{6,}\.[\w-]{6,}\.|\b(?:bearer|basic)\s+[\w.~+/=-]{8,}|-----BEGIN [A-Z ]*PRIVATE KEY", re.I)
_SECRET_KINDS = {"Secret"}
MAX_STRING = 256
MAX_ITEMS = 50

_record: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("mcp_tool_audit", default=None)


def record(**fields: Any) -> None:
    """Called by the tool layer for the current call: ``outcome`` (Deps.observe's code) and the
    resolved target ``namespace`` (Deps.check_namespace), which the arguments may leave implicit."""
    holder = _record.get()
    if holder is not None:
        holder.update(fields)


def redact(value: Any, key: str = "", depth: int = 0) -> Any:
    """``value`` safe to log: values under credential-like keys, env entries with such names,
    a Secret's data, and credential-looking strings are masked; long strings and lists are cut."""
    if depth > 8:
        return "…"
    if isinstance(value, Mapping):
        secret = value.get("kind") in _SECRET_KINDS
        named = value.get("name") if isinstance(value.get("name"), str) else ""
        out: dict[str, Any] = {}
        for k, v in list(value.items())[:MAX_ITEMS]:
            k = str(k)
            if (secret and k in ("data", "stringData")) or (k == "value" and named and SENSITIVE_ENV_NAME.search(named)):
                out[k] = MASK
            else:
                out[k] = redact(v, k, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [redact(v, key, depth + 1) for v in list(value)[:MAX_ITEMS]]
    if isinstance(value, str):
        if (key and SENSITIVE_ENV_NAME.search(key) and value) or _CREDENTIAL.search(value):
            return MASK
        return value if len(value) <= MAX_STRING else value[:MAX_STRING] + "…"
    return value


def _is_error(result: Any) -> bool:
    if isinstance(result, Mapping):
        return bool(result.get("isError"))
    return bool(getattr(result, "is_error", False))


class CallerMiddleware:
    """``ServerMiddleware`` (mcp SDK): bind the caller, audit tool calls."""

    def __init__(self, identity_mode: bool, audit: bool = True):
        self.identity_mode = identity_mode
        self.audit = audit

    def _caller(self, ctx: Any) -> callers.Caller | callers._Unbound | None:
        request = getattr(ctx, "request", None)
        scope = getattr(request, "scope", None) or {}
        user = scope.get("user") if isinstance(scope, Mapping) else None
        if isinstance(user, AuthenticatedUser) and isinstance(user.access_token, callers.CallerToken):
            return user.access_token.caller
        return callers.UNBOUND if self.identity_mode else None

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        who = self._caller(ctx)
        if ctx.method != "tools/call" or not self.audit:
            with callers.bound(who):
                return await call_next(ctx)
        params = ctx.params or {}
        args = params.get("arguments") if isinstance(params.get("arguments"), Mapping) else {}
        holder: dict[str, Any] = {}
        token = _record.set(holder)
        start = time.perf_counter()
        outcome = "exception"
        try:
            with callers.bound(who):
                result = await call_next(ctx)
            outcome = holder.get("outcome") or ("error" if _is_error(result) else "ok")
            if outcome == "ok" and _is_error(result):
                outcome = "error"
            return result
        except Exception as exc:
            outcome = type(exc).__name__
            raise
        finally:
            _record.reset(token)
            entry: dict[str, Any] = {
                "caller": who.describe() if isinstance(who, callers.Caller) else ("unverified" if who else "server"),
                "tool": str(params.get("name")),
                "namespace": holder.get("namespace") or args.get("namespace"),
                "name": args.get("name"),
                "outcome": outcome,
                "durationMs": round((time.perf_counter() - start) * 1000, 1),
                "arguments": redact(args),
            }
            log.info("tool call", extra={"audit": entry})
