"""Who is calling, and how the Kubernetes adapter acts as them (impersonation).

A verified bearer token becomes a ``Caller``; the SDK keeps it (inside ``CallerToken``) on the
request, ``audit.CallerMiddleware`` binds it to a context variable for the duration of one MCP
message, and ``kube.Kube.request`` adds ``impersonation_for_request()`` to every Kubernetes request
made in that context (tasks and worker threads started from it inherit the context), so no tool
call site has to remember to. Outside an MCP message (readiness probe, the TokenReview itself) nothing is
bound and the server acts as itself. Inside an MCP message in identity mode with no caller bound,
requests are refused: fail closed rather than fall back to the server's own identity.

The caller's token itself never reaches the Kubernetes API: only the names the API server or the
OIDC issuer vouched for do (Impersonate-User/-Group), plus an extra naming this server for the
API server's audit log. Source of the header rules: k8s.io/apiserver endpoints/filters/impersonation.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from mcp.server.auth.provider import AccessToken

# The user-extra key recorded on every impersonated request (value: "<namespace>/<name>" of this
# server). Impersonating it takes `impersonate` on `userextras/<key>` (group authentication.k8s.io).
EXTRA_KEY = "mcp.example.com/server"
AUTHENTICATED = "system:authenticated"
SA_PREFIX = "system:serviceaccount:"


@dataclass(frozen=True)
class Caller:
    """A verified caller: the user name and groups the API server (or OIDC issuer) vouched for."""

    username: str
    groups: tuple[str, ...] = ()
    uid: str | None = None
    extra: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # logged, never forwarded
    source: str = "kubernetes"  # kubernetes | oidc
    expires_at: int | None = None  # unix seconds

    @property
    def service_account(self) -> tuple[str, str] | None:
        """(namespace, name) when the caller is a ServiceAccount."""
        if not self.username.startswith(SA_PREFIX):
            return None
        ns, _, name = self.username[len(SA_PREFIX):].partition(":")
        return (ns, name) if ns and name and ":" not in name else None

    def describe(self) -> dict[str, Any]:
        """What the audit log records about the caller (names only; never a token)."""
        out: dict[str, Any] = {"user": self.username, "groups": list(self.groups)}
        pod = self.extra.get("authentication.kubernetes.io/pod-name")
        if pod:
            out["pod"] = pod[0]
        return out


class CallerToken(AccessToken):
    """The SDK's AccessToken carrying our Caller. ``token`` holds a fingerprint, not the token."""

    caller: Caller


def impersonation_headers(caller: Caller, server: str) -> list[tuple[str, str]]:
    """The headers that make the API server treat a request as ``caller``'s.

    A ServiceAccount caller whose groups are exactly the ones the API server derives for it gets
    no Impersonate-Group headers: the API server adds them itself, and the server then needs only
    ``impersonate`` on that ServiceAccount (scopable by namespace and resourceNames) instead of on
    groups. ``system:authenticated`` is always added by the API server, so it is never sent.
    """
    headers = [("Impersonate-User", caller.username)]
    groups = [g for g in caller.groups if g != AUTHENTICATED]
    sa = caller.service_account
    derived = {"system:serviceaccounts", f"system:serviceaccounts:{sa[0]}"} if sa else None
    if derived is None or not set(groups) <= derived:
        headers += [("Impersonate-Group", g) for g in groups]
    # Header names cannot carry '/': the API server %-decodes the key (PathUnescape).
    headers.append((f"Impersonate-Extra-{quote(EXTRA_KEY, safe='')}", server))
    return headers


class _Unbound:
    """Marker: inside an MCP message in identity mode, but no verified caller."""


UNBOUND = _Unbound()
_current: contextvars.ContextVar[Caller | _Unbound | None] = contextvars.ContextVar("mcp_caller", default=None)


def current() -> Caller | None:
    value = _current.get()
    return value if isinstance(value, Caller) else None


@contextmanager
def bound(caller: Caller | _Unbound | None) -> Iterator[None]:
    token = _current.set(caller)
    try:
        yield
    finally:
        _current.reset(token)


def impersonation_for_request(server: str) -> list[tuple[str, str]]:
    """The impersonation headers for a Kubernetes request made now: none when no caller is bound
    (the server acts as itself), the caller's when one is; KubeUnauthorized (fail closed) inside an
    MCP message in identity mode that has no verified caller. Called by ``kube.Kube.request``."""
    value = _current.get()
    if isinstance(value, _Unbound):
        from ..kube import KubeUnauthorized  # kube imports this module

        raise KubeUnauthorized("Unauthorized: this request carries no verified caller identity.")
    if isinstance(value, Caller):
        return impersonation_headers(value, server)
    return []
