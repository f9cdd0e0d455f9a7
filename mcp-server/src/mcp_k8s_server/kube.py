"""The only module that talks to the Kubernetes API.

Returns plain JSON data (dicts as the API server sent them; no generated model objects, which are
slow to build for hundreds of pods) and raises ``KubeError`` subclasses with messages a model can
act on. Raw urllib3/ApiException text (URLs, stack details) never leaves this module.

Configuration: in-cluster (service account) when running in a pod, else the kubeconfig named by
KUBECONFIG or ~/.kube/config. Loaded lazily and retried on the next call if it failed, so a server
can start before its credentials are mounted. Nothing here prints to stdout (the stdio wire).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

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
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body:
        try:
            data = json.loads(body)
            if isinstance(data, dict) and data.get("message"):
                return str(data["message"])
        except (ValueError, TypeError):
            pass
    return str(exc.reason or "").strip()


def map_api_exception(exc: ApiException, op: Op) -> KubeError:
    """Map an ApiException to a KubeError whose message names what was refused or missing."""
    status = exc.status or 0
    detail = _status_message(exc)
    plural = _RESOURCE.get(op.resource, op.resource)
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


def map_transport_error(exc: Exception, op: Op) -> KubeError:
    if isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError)) or "timed out" in str(exc).lower():
        return KubeUnavailable(
            f"The Kubernetes API server did not answer in time while trying to {op.verb} {op.target()}; "
            "it may be overloaded or unreachable. Retry shortly."
        )
    return KubeUnavailable(
        f"Cannot reach the Kubernetes API server (connection failed) while trying to {op.verb} "
        f"{op.target()}. It may be down or restarting; retry shortly."
    )


class Kube:
    """A small, thread-safe facade over CoreV1Api returning plain data."""

    def __init__(self, timeout: float = 10.0, kubeconfig: str | None = None):
        self.timeout = timeout
        self.kubeconfig = kubeconfig
        self._lock = threading.Lock()
        self._api: k8s.CoreV1Api | None = None
        self._version_api: k8s.VersionApi | None = None
        self.source: str | None = None

    # -- configuration -------------------------------------------------------------------------
    def _load(self) -> k8s.CoreV1Api:
        with self._lock:
            if self._api is not None:
                return self._api
            cfg = k8s.Configuration()
            try:
                if os.environ.get("KUBERNETES_SERVICE_HOST") and not self.kubeconfig:
                    k8s_config.load_incluster_config(client_configuration=cfg)
                    self.source = "in-cluster"
                else:
                    path = self.kubeconfig or os.environ.get("KUBECONFIG") or None
                    if path and os.pathsep in path:
                        path = path.split(os.pathsep)[0]
                    k8s_config.load_kube_config(config_file=path, client_configuration=cfg)
                    self.source = f"kubeconfig {path or '~/.kube/config'}"
            except (ConfigException, OSError, TypeError, ValueError) as exc:
                log.warning("kubernetes configuration not loaded", extra={"error": str(exc)})
                raise KubeUnavailable(
                    "No Kubernetes credentials: not running in a cluster and no usable kubeconfig "
                    "(set KUBECONFIG). " + str(exc).splitlines()[0][:200]
                ) from None
            cfg.retries = 1  # bounded: one retry on connection errors, then a clear error
            api_client = k8s.ApiClient(cfg)
            api_client.user_agent = "mcp-k8s-server/0.1"
            self._api = k8s.CoreV1Api(api_client)
            self._version_api = k8s.VersionApi(api_client)
            log.info("kubernetes client configured", extra={"source": self.source, "host": cfg.host})
            return self._api

    def _call(self, op: Op, fn_name: str, *args: Any, timeout: float | None = None, raw: bool = False, **kwargs: Any) -> Any:
        api = self._load()
        fn = getattr(api, fn_name)
        try:
            resp = fn(*args, _preload_content=False, _request_timeout=timeout or self.timeout, **kwargs)
            data = resp.data
        except ApiException as exc:
            raise map_api_exception(exc, op) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise map_transport_error(exc, op) from None
        if raw:
            return data
        try:
            return json.loads(data)
        except ValueError:
            raise KubeError(f"The API server sent an unreadable answer while trying to {op.verb} {op.target()}.") from None

    # -- reads -----------------------------------------------------------------------------------
    def list_nodes(self, limit: int | None = None) -> dict[str, Any]:
        kw: dict[str, Any] = {"limit": limit} if limit else {}
        return self._call(Op("list", "node"), "list_node", **kw)

    def list_namespaces(self, limit: int = 500) -> dict[str, Any]:
        return self._call(Op("list", "namespace"), "list_namespace", limit=limit)

    def list_pods(
        self,
        namespace: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if label_selector:
            kw["label_selector"] = label_selector
        if field_selector:
            kw["field_selector"] = field_selector
        if limit:
            kw["limit"] = limit
        if continue_token:
            kw["_continue"] = continue_token
        return self._call(Op("list", "pod", namespace), "list_namespaced_pod", namespace, **kw)

    def read_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return self._call(Op("get", "pod", namespace, name), "read_namespaced_pod", name, namespace)

    def list_events(
        self,
        namespace: str,
        *,
        field_selector: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if field_selector:
            kw["field_selector"] = field_selector
        if limit:
            kw["limit"] = limit
        if continue_token:
            kw["_continue"] = continue_token
        return self._call(Op("list", "event", namespace), "list_namespaced_event", namespace, **kw)

    def read_pod_log(
        self,
        namespace: str,
        name: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        limit_bytes: int | None = None,
        previous: bool = False,
    ) -> str:
        kw: dict[str, Any] = {}
        if container:
            kw["container"] = container
        if tail_lines is not None:
            kw["tail_lines"] = int(tail_lines)
        if limit_bytes is not None:
            kw["limit_bytes"] = int(limit_bytes)
        if previous:
            kw["previous"] = True
        op = Op("get", "log", namespace, name)
        data = self._call(op, "read_namespaced_pod_log", name, namespace, raw=True, **kw)
        return data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)

    # -- writes ----------------------------------------------------------------------------------
    def create_pod(self, namespace: str, manifest: dict[str, Any]) -> dict[str, Any]:
        name = manifest.get("metadata", {}).get("name")
        return self._call(Op("create", "pod", namespace, name), "create_namespaced_pod", namespace, manifest)

    def delete_pod(self, namespace: str, name: str, grace_period_seconds: int | None = None) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if grace_period_seconds is not None:
            kw["grace_period_seconds"] = grace_period_seconds
        return self._call(Op("delete", "pod", namespace, name), "delete_namespaced_pod", name, namespace, **kw)

    # -- health ----------------------------------------------------------------------------------
    def probe(self, timeout: float = 2.0) -> None:
        """Raise KubeError unless the API server answers /version within ``timeout`` seconds."""
        self._load()
        assert self._version_api is not None
        op = Op("get", "version")
        try:
            self._version_api.get_code(_preload_content=False, _request_timeout=timeout).data
        except ApiException as exc:
            raise map_api_exception(exc, op) from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise map_transport_error(exc, op) from None
