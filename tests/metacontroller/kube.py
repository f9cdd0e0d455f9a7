"""Thin JSON REST client over the kubernetes Python client's configured connection pool.

Only what the stand-in needs: raw JSON requests (no model classes), streaming watches,
API discovery, and a client-go style token-bucket rate limiter (--client-go-qps/--client-go-burst).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import kubernetes
import urllib3


class ApiError(Exception):
    def __init__(self, status: int, body: dict | str | None, what: str = ""):
        self.status = status
        self.body = body
        reason = ""
        message = ""
        if isinstance(body, dict):
            reason = body.get("reason", "")
            message = body.get("message", "")
        elif body:
            message = str(body)[:500]
        self.reason = reason
        super().__init__(f"{what}: {status} {reason}: {message}".strip())

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409 and self.reason != "AlreadyExists"

    @property
    def already_exists(self) -> bool:
        return self.status == 409 and self.reason == "AlreadyExists"

    @property
    def gone(self) -> bool:
        return self.status == 410


class TokenBucket:
    """client-go flowcontrol.NewTokenBucketRateLimiter(qps, burst)."""

    def __init__(self, qps: float, burst: int):
        self.qps = qps
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.last = time.monotonic()
        self.lock = threading.Lock()

    def wait(self) -> None:
        if self.qps <= 0:
            return
        while True:
            with self.lock:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.last) * self.qps)
                self.last = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                delay = (1 - self.tokens) / self.qps
            time.sleep(delay)


@dataclass
class APIResource:
    group: str
    version: str
    name: str  # plural resource name
    kind: str
    namespaced: bool
    subresources: set = field(default_factory=set)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, sub: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.name}"
        if name:
            base += f"/{name}"
        if sub:
            base += f"/{sub}"
        return base


class Kube:
    def __init__(self, kubeconfig: str | None = None, qps: float = 5.0, burst: int = 10):
        self.api_client = kubernetes.config.new_client_from_config(config_file=kubeconfig)
        cfg = self.api_client.configuration
        self.host = cfg.host.rstrip("/")
        self.pool = self.api_client.rest_client.pool_manager
        self.headers = {"Accept": "application/json"}
        auth = cfg.auth_settings().get("BearerToken")
        if auth and auth.get("value"):
            self.headers[auth["key"]] = auth["value"]
        self.limiter = TokenBucket(qps, burst)
        self._disc_lock = threading.Lock()
        self._groups: dict[str, dict[str, APIResource]] = {}

    # ---- raw requests -------------------------------------------------------------------
    def _url(self, path: str, query: dict | None) -> str:
        url = self.host + path
        if query:
            url += "?" + urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return url

    def request(self, method: str, path: str, body=None, query: dict | None = None,
                content_type: str = "application/json", timeout: float = 30.0):
        self.limiter.wait()
        headers = dict(self.headers)
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        resp = self.pool.request(method, self._url(path, query), body=data, headers=headers,
                                 timeout=urllib3.Timeout(total=timeout), preload_content=True,
                                 retries=False)
        text = resp.data.decode() if resp.data else ""
        try:
            obj = json.loads(text) if text else None
        except ValueError:
            obj = text
        if resp.status >= 300:
            raise ApiError(resp.status, obj, f"{method} {path}")
        return obj

    def stream(self, path: str, query: dict, timeout: float):
        self.limiter.wait()
        resp = self.pool.request("GET", self._url(path, query), headers=dict(self.headers),
                                 timeout=urllib3.Timeout(connect=10, read=timeout),
                                 preload_content=False, retries=False)
        if resp.status >= 300:
            data = resp.read()
            resp.release_conn()
            try:
                obj = json.loads(data)
            except ValueError:
                obj = data.decode(errors="replace")
            raise ApiError(resp.status, obj, f"WATCH {path}")
        return resp

    # ---- discovery -------------------------------------------------------------------------
    def _load_group_version(self, api_version: str) -> dict[str, APIResource]:
        if "/" in api_version:
            group, version = api_version.split("/", 1)
            path = f"/apis/{group}/{version}"
        else:
            group, version = "", api_version
            path = f"/api/{version}"
        try:
            doc = self.request("GET", path)
        except ApiError as exc:
            if exc.not_found:
                return {}
            raise
        resources: dict[str, APIResource] = {}
        for r in doc.get("resources", []):
            name = r["name"]
            if "/" in name:
                main, sub = name.split("/", 1)
                if main in resources:
                    resources[main].subresources.add(sub)
                continue
            resources[name] = APIResource(group, version, name, r["kind"], bool(r.get("namespaced")))
        # subresources listed before their parent (not the case in practice, but be safe)
        for r in doc.get("resources", []):
            if "/" in r["name"]:
                main, sub = r["name"].split("/", 1)
                if main in resources:
                    resources[main].subresources.add(sub)
        return resources

    def discover(self, api_version: str, refresh: bool = False) -> dict[str, APIResource]:
        with self._disc_lock:
            if refresh or api_version not in self._groups or not self._groups[api_version]:
                self._groups[api_version] = self._load_group_version(api_version)
            return self._groups[api_version]

    def resource(self, api_version: str, resource: str) -> APIResource | None:
        res = self.discover(api_version).get(resource)
        if res is None:
            res = self.discover(api_version, refresh=True).get(resource)
        return res

    def resource_for_kind(self, api_version: str, kind: str) -> APIResource | None:
        for refresh in (False, True):
            for res in self.discover(api_version, refresh=refresh).values():
                if res.kind == kind:
                    return res
        return None
