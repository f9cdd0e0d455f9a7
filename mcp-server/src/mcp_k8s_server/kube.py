"""The only module that talks to the Kubernetes API.

Returns plain JSON data (dicts as the API server sent them; no generated model objects, which are
slow to build for hundreds of pods) and raises ``KubeError`` subclasses with messages a model can
act on. Raw urllib3/ApiException text (URLs, stack details) never leaves this module.

Transport: one asyncio HTTP client (aiohttp) with a bounded connection pool, so concurrent tool
calls share ``pool_size`` keep-alive connections and queue for one instead of opening (and
discarding) extra ones, and a tool call the client abandons cancels its Kubernetes request with it
(no worker thread left running, nothing delays the next call). The ``kubernetes`` package is used
only to load credentials (``kubeconfig.py``, imported on first use; kubeconfig incl. exec plugins,
in-cluster token refresh): its generated
client is synchronous (one thread per call) and builds model objects we do not need.

Configuration, in kubectl's order: an explicit kubeconfig (argument or ``KUBECONFIG``, several files
merged like kubectl: the first file to set a value wins), else in-cluster (service account) when
``KUBERNETES_SERVICE_HOST`` is set, else ~/.kube/config. Loaded lazily and retried on the next call
if it failed, so a server can start before its credentials are mounted. Nothing here prints to
stdout (the stdio wire).
"""

from __future__ import annotations

import json
import logging
import os
import asyncio
import contextvars
import ssl
from collections.abc import Mapping
from urllib.parse import quote
from dataclasses import dataclass
from typing import Any

import sys
from typing import TYPE_CHECKING

from .auth import caller as _caller

if TYPE_CHECKING:  # imported on first use (cold start): see kubeconfig.py and Kube._ready
    import aiohttp
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

log = logging.getLogger(__name__)

# plural resource names for error messages
_RESOURCE = {"pod": "pods", "node": "nodes", "event": "events", "namespace": "namespaces", "log": "pods/log"}


class KubeError(Exception):
    """A Kubernetes call failed; ``str(err)`` is safe to show to a model."""

    code = "error"


class KubeForbidden(KubeError):
    code = "forbidden"


class KubeNotFound(KubeError):
    code = "not_found"


class KubeConflict(KubeError):
    code = "conflict"


class KubeInvalid(KubeError):
    code = "invalid"


class KubeExpired(KubeError):
    code = "expired"


class KubeUnavailable(KubeError):
    code = "unavailable"


class KubeUnauthorized(KubeError):
    code = "unauthorized"


@dataclass(frozen=True)
class Op:
    """What we were doing, for error messages: verb, resource, namespace, name."""

    verb: str
    resource: str
    namespace: str | None = None
    name: str | None = None

    def target(self) -> str:
        if self.resource == "log":
            what = f"logs of pod {self.name!r}"
        else:
            what = f"{self.resource} {self.name!r}" if self.name else _RESOURCE.get(self.resource, self.resource)
        return f"{what} in namespace {self.namespace!r}" if self.namespace else what


def _status_message(exc: ApiException) -> str:
    return _body_message(exc.body, exc.reason)


def _body_message(body: bytes | str | None, reason: str | None = None) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body:
        try:
            data = json.loads(body)
            if isinstance(data, dict) and data.get("message"):
                return str(data["message"])
        except (ValueError, TypeError):
            pass
    return str(reason or "").strip()


def map_api_exception(exc: ApiException, op: Op) -> KubeError:
    """Map an ApiException to a KubeError whose message names what was refused or missing."""
    return map_status(exc.status or 0, _status_message(exc), op)


def map_status(status: int, detail: str, op: Op) -> KubeError:
    """Map an HTTP status (and the API server's Status message) to a KubeError naming the target."""
    plural = _RESOURCE.get(op.resource, op.resource)
    if status == 403 and _caller.current() is not None:
        return _caller_forbidden(detail, op)
    if status == 403:
        scope = f" in namespace {op.namespace!r}" if op.namespace else " at cluster scope"
        return KubeForbidden(
            f"Forbidden: this server's Kubernetes identity may not {op.verb} {plural}{scope}"
            f"{' (' + repr(op.name) + ')' if op.name else ''}. Ask an administrator to grant "
            f"'{op.verb}' on '{plural}' to the server's ServiceAccount, or use a namespace it can access."
        )
    if status == 401:
        return KubeUnauthorized(
            "Unauthorized: the Kubernetes API server rejected this server's credentials "
            "(expired or revoked token?)."
        )
    if status == 404:
        if op.resource == "log" and "container" in detail.lower():
            return KubeNotFound(f"Not found: {detail}")
        if op.name:
            return KubeNotFound(f"Not found: {op.target()} does not exist.")
        if op.namespace:
            return KubeNotFound(f"Not found: namespace {op.namespace!r} does not exist.")
        return KubeNotFound(f"Not found: {op.target()}.")
    if status == 409:
        return KubeConflict(f"Conflict: {op.target()} already exists or was changed concurrently ({detail}).")
    if status == 410:
        return KubeExpired(
            "The paging cursor expired (the API server keeps list snapshots for a few minutes). "
            "Start the listing again without a cursor."
        )
    if status in (400, 422):
        return KubeInvalid(f"The API server rejected the request to {op.verb} {op.target()}: {detail}")
    if status == 429:
        return KubeUnavailable("The Kubernetes API server is throttling requests (429); retry in a few seconds.")
    if status == 0:
        return KubeUnavailable(
            "Cannot reach the Kubernetes API server (TLS or connection error); check the server's "
            "kubeconfig / in-cluster credentials."
        )
    if status >= 500:
        return KubeUnavailable(f"The Kubernetes API server failed to {op.verb} {op.target()} (HTTP {status}); retry later.")
    return KubeError(f"Kubernetes refused to {op.verb} {op.target()} (HTTP {status}): {detail}")


def _caller_forbidden(detail: str, op: Op) -> KubeForbidden:
    """403 while acting as a caller: the API server's own message (it names the user, verb and
    resource), and whether it was the caller's RBAC or this server's impersonation rights."""
    who = _caller.current()
    if "cannot impersonate" in detail:
        return KubeForbidden(
            f"Forbidden: this MCP server is not allowed to act as {who.username!r} ({detail}). Ask an "
            "administrator to add this caller to the server's allowed impersonation scope."
        )
    plural = _RESOURCE.get(op.resource, op.resource)
    return KubeForbidden(
        f"Forbidden: {detail or f'{who.username} may not {op.verb} {plural}'}. You act with your own "
        f"Kubernetes permissions here; check with the can-i tool, or ask an administrator for "
        f"'{op.verb}' on '{plural}'."
    )


def map_transport_error(exc: BaseException, op: Op) -> KubeError:
    urllib3 = sys.modules.get("urllib3")  # a urllib3 error implies urllib3 was imported (by the kubernetes loaders)
    timeouts = (TimeoutError, asyncio.TimeoutError) + ((urllib3.exceptions.TimeoutError,) if urllib3 else ())
    if isinstance(exc, timeouts) or "timed out" in str(exc).lower():
        return KubeUnavailable(
            f"The Kubernetes API server did not answer in time while trying to {op.verb} {op.target()}; "
            "it may be overloaded or unreachable. Retry shortly."
        )
    return KubeUnavailable(
        f"Cannot reach the Kubernetes API server (connection failed) while trying to {op.verb} "
        f"{op.target()}. It may be down or restarting; retry shortly."
    )


def load_configuration(kubeconfig: str | None = None, environ: Mapping[str, str] | None = None) -> tuple[k8s.Configuration, str]:
    """See ``kubeconfig.load_configuration`` (kept here: the one module that talks to the API)."""
    from .kubeconfig import load_configuration as load

    return load(kubeconfig, environ)


# Accept headers: server-side printing (what `kubectl get` shows, computed by the API server) and
# aggregated discovery (every group's resources in one answer; Kubernetes >= 1.30, else per group).
ACCEPT_JSON = "application/json"
ACCEPT_TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
ACCEPT_DISCOVERY = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"

# Extra request headers for the current task (e.g. Impersonate-User for per-caller identity).
request_headers: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("kube_request_headers", default=None)


class Kube:
    """Async facade over the Kubernetes REST API returning plain JSON data.

    ``pool_size``: keep-alive connections to the API server, shared by all concurrent calls
    (more calls queue for a free connection). ``timeout``: seconds for one call, end to end.
    """

    def __init__(self, timeout: float = 10.0, kubeconfig: str | None = None, pool_size: int = 32, server_identity: str = "-"):
        self.timeout = timeout
        self.server_identity = server_identity  # "<namespace>/<name>", recorded when acting as a caller
        self.kubeconfig = kubeconfig
        self.pool_size = pool_size
        self._cfg: k8s.Configuration | None = None
        self._ssl: ssl.SSLContext | bool = False
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._load_lock: asyncio.Lock | None = None
        self.source: str | None = None

    # -- configuration and transport ---------------------------------------------------------
    def _load(self) -> k8s.Configuration:
        if self._cfg is None:
            from .kubeconfig import load_configuration, ssl_context

            cfg, source = load_configuration(self.kubeconfig)
            self._ssl = ssl_context(cfg)
            self._cfg, self.source = cfg, source
            log.info("kubernetes client configured", extra={"source": source, "host": cfg.host})
        return self._cfg

    async def _ready(self) -> tuple[aiohttp.ClientSession, k8s.Configuration]:
        import aiohttp  # ~0.1 s; imported with the first Kubernetes call, not at start

        loop = asyncio.get_running_loop()
        if self._cfg is None:
            # file reads and exec credential plugins block: once, off the event loop
            await asyncio.to_thread(self._load)
        if self._session is None or self._loop is not loop or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self.pool_size, limit_per_host=self.pool_size, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": "mcp-k8s-server/0.1"},
                skip_auto_headers=("Accept-Encoding",),  # compressing small JSON costs more CPU than it saves on a LAN
            )
            self._loop = loop
        assert self._cfg is not None
        return self._session, self._cfg

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()

    async def request(
        self,
        op: Op,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        accept: str = ACCEPT_JSON,
        raw: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """One API call: parsed JSON (or bytes when ``raw``); KubeError with an actionable message."""
        session, cfg = await self._ready()
        import aiohttp  # loaded by _ready: a dictionary look-up

        headers = {"Accept": accept}
        token = cfg.get_api_key_with_prefix("BearerToken", alias="authorization")  # runs the refresh hook when set
        if token:
            headers["Authorization"] = token
        elif cfg.username:
            headers["Authorization"] = cfg.get_basic_auth_token()
        extra = request_headers.get()
        if extra:
            headers.update(extra)
        # per-caller identity: act as the caller bound to this MCP message, if any (auth/caller.py)
        impersonate = _caller.impersonation_for_request(self.server_identity)
        if impersonate:
            from multidict import CIMultiDict  # aiohttp's own dependency

            headers = CIMultiDict((k, v) for k, v in headers.items() if not k.lower().startswith("impersonate-"))
            for k, v in impersonate:
                headers.add(k, v)  # one Impersonate-Group header per group
        query = {k: ("true" if v is True else "false" if v is False else str(v)) for k, v in (params or {}).items() if v is not None}
        try:
            async with session.request(
                method,
                cfg.host + path,
                params=query,
                json=body,
                headers=headers,
                ssl=self._ssl,
                server_hostname=getattr(cfg, "tls_server_name", None) or None,
                proxy=cfg.proxy or None,
                timeout=aiohttp.ClientTimeout(total=timeout or self.timeout),
            ) as resp:
                data = await resp.read()
                status = resp.status
                reason = resp.reason
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise map_transport_error(exc, op) from None
        if status >= 400:
            raise map_status(status, _body_message(data, reason), op)
        if raw:
            return data
        try:
            return json.loads(data)
        except ValueError:
            raise KubeError(f"The API server sent an unreadable answer while trying to {op.verb} {op.target()}.") from None

    # -- reads -----------------------------------------------------------------------------------
    async def list_nodes(self, limit: int | None = None) -> dict[str, Any]:
        return await self.request(Op("list", "node"), "GET", "/api/v1/nodes", params={"limit": limit})

    async def list_namespaces(self, limit: int = 500) -> dict[str, Any]:
        return await self.request(Op("list", "namespace"), "GET", "/api/v1/namespaces", params={"limit": limit})

    async def list_pods(
        self,
        namespace: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        table: bool = False,
    ) -> dict[str, Any]:
        """The pod list, or with ``table`` the API server's Table of it (kubectl's columns, no objects)."""
        params = {"labelSelector": label_selector, "fieldSelector": field_selector, "limit": limit, "continue": continue_token,
                  "includeObject": "None" if table else None}
        return await self.request(Op("list", "pod", namespace), "GET", f"/api/v1/namespaces/{_seg(namespace)}/pods", params=params,
                                  accept=ACCEPT_TABLE if table else ACCEPT_JSON)

    async def read_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return await self.request(Op("get", "pod", namespace, name), "GET", f"/api/v1/namespaces/{_seg(namespace)}/pods/{_seg(name)}")

    async def list_events(
        self,
        namespace: str,
        *,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        params = {"fieldSelector": field_selector, "limit": limit, "continue": continue_token}
        return await self.request(Op("list", "event", namespace), "GET", f"/api/v1/namespaces/{_seg(namespace)}/events", params=params)

    async def read_pod_log(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        limit_bytes: int | None = None,
        previous: bool = False,
    ) -> str:
        params = {"container": container, "tailLines": tail_lines, "limitBytes": limit_bytes, "previous": True if previous else None}
        data = await self.request(
            Op("get", "log", namespace, name), "GET", f"/api/v1/namespaces/{_seg(namespace)}/pods/{_seg(name)}/log",
            params=params, accept="*/*", raw=True,
        )
        return data.decode("utf-8", "replace")

    # -- any resource kind -------------------------------------------------------------------------
    async def discovery(self) -> list[dict[str, Any]]:
        """Aggregated discovery documents (apidiscovery.k8s.io/v2 APIGroupDiscovery items) of /api and /apis."""
        op = Op("list", "API resources")
        core, groups = await asyncio.gather(
            self.request(op, "GET", "/api", accept=ACCEPT_DISCOVERY),
            self.request(op, "GET", "/apis", accept=ACCEPT_DISCOVERY),
        )
        if core.get("kind") != "APIGroupDiscoveryList":
            raise KubeUnavailable("The API server does not serve aggregated discovery (Kubernetes >= 1.30 is needed for api-resources).")
        return list(core.get("items") or []) + list(groups.get("items") or [])

    async def list_resource(
        self,
        path: str,
        op: Op,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
        table: bool = False,
    ) -> dict[str, Any]:
        params = {"labelSelector": label_selector, "fieldSelector": field_selector, "limit": limit, "continue": continue_token}
        return await self.request(op, "GET", path, params=params, accept=ACCEPT_TABLE if table else ACCEPT_JSON)

    async def get_resource(self, path: str, op: Op) -> dict[str, Any]:
        return await self.request(op, "GET", path)

    # -- writes ----------------------------------------------------------------------------------
    async def create_pod(self, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
        name = manifest.get("metadata", {}).get("name")
        return await self.request(Op("create", "pod", namespace, name), "POST", f"/api/v1/namespaces/{_seg(namespace)}/pods", body=manifest)

    async def delete_pod(self, namespace: str, name: str, grace_period_seconds: int | None = None) -> dict[str, Any]:
        return await self.request(
            Op("delete", "pod", namespace, name), "DELETE", f"/api/v1/namespaces/{_seg(namespace)}/pods/{_seg(name)}",
            params={"gracePeriodSeconds": grace_period_seconds},
        )

    # -- health ----------------------------------------------------------------------------------
    async def probe(self, timeout: float = 2.0) -> None:
        """Raise KubeError unless the API server answers /version within ``timeout`` seconds."""
        await self.request(Op("get", "version"), "GET", "/version", timeout=timeout)


def _seg(value: str) -> str:
    """One path segment (names are validated before; quoting keeps a bad one from changing the path)."""
    return quote(value, safe="")
