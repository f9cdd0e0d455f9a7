"""Settings from the environment and an optional JSON file (MCP_CONFIG_FILE).

Precedence, highest first: the JSON file, the environment, the defaults. The file wins because it
carries the MCPServer's ``spec.config`` (the operator mounts it at /etc/mcp/config.json), which is
the user's explicit choice, while the operator always sets some variables (MCP_SERVER_NAME is the
resource name) in the environment. The environment's MCP_SERVER_NAME is kept separately as the
Kubernetes Service name, from which the allowed Host headers are derived.

Values may be JSON strings (a ConfigMap's data) or native JSON types. Unknown keys in the file are
not ignored silently: they are returned in ``Settings.warnings`` and logged at startup.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TRANSPORTS = ("stdio", "http", "streamable-http")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "TRACE": "DEBUG"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the key and what is accepted."""


@dataclass(frozen=True)
class Settings:
    transport: str = "stdio"
    host: str | None = None  # None: 0.0.0.0 in HTTP mode (a pod must be reachable through its Service)
    port: int = 8080
    server_name: str = "kubernetes-mcp-server"
    service_name: str | None = None  # the Kubernetes Service in front of us (env MCP_SERVER_NAME)
    pod_name: str | None = None
    pod_namespace: str | None = None
    pod_ip: str | None = None
    cluster_domain: str = "cluster.local"
    log_level: str = "INFO"
    enable_metrics: bool = False
    rate_limit_requests: int = 0  # requests per minute per client address; 0 = unlimited
    read_only: bool = False
    namespaces: tuple[str, ...] = ()  # allowlist; empty = every namespace RBAC lets us see
    default_namespace: str = "default"
    allowed_hosts: tuple[str, ...] = ()  # extra Host header values for DNS-rebinding protection
    allowed_origins: tuple[str, ...] = ()
    dns_rebinding_protection: bool = True
    auth_token: str | None = field(default=None, repr=False)
    kube_timeout_seconds: float = 10.0
    workers: int = 0  # HTTP worker processes; 0 = one per core of the pod's CPU limit (at most 4), else 1
    max_output_bytes: int = 64 * 1024  # byte budget of one tool result
    default_page_size: int = 100
    max_page_size: int = 500
    log_tail_lines: int = 100
    max_log_bytes: int = 64 * 1024
    ready_cache_seconds: float = 5.0
    config_file: str | None = None
    warnings: tuple[str, ...] = ()
    # per-caller identity (auth/): who may call, and as whom we call the Kubernetes API
    auth_mode: str = "none"  # none | kubernetes (TokenReview + impersonation) | oidc (JWT + impersonation)
    auth_audiences: tuple[str, ...] = ()  # empty: the resource URL (MCP authorization spec, RFC 8707)
    auth_resource_url: str | None = None  # this server's public /mcp URL (RFC 9728 "resource")
    auth_issuer_url: str | None = None  # advertised authorization server; oidc: the token issuer
    auth_cache_seconds: float = 60.0  # how long a positive token review is reused (never past exp)
    oidc_jwks_url: str | None = None  # default: the issuer's discovery document's jwks_uri
    oidc_username_claim: str = "sub"
    oidc_username_prefix: str = "oidc:"
    oidc_groups_claim: str = "groups"
    oidc_groups_prefix: str = "oidc:"
    audit_log: bool = True  # one structured log line per tool call

    @property
    def http(self) -> bool:
        return self.transport in ("http", "streamable-http")

    @property
    def bind_host(self) -> str:
        return self.host or "0.0.0.0"

    def namespace_allowed(self, namespace: str) -> bool:
        return not self.namespaces or namespace in self.namespaces

    def service_hosts(self) -> list[str]:
        """Host header values allowed on /mcp: what can actually reach this pod.

        - loopback (127.0.0.1, localhost, [::1]): port-forwards and sidecars;
        - the Service the operator puts in front of the pod (env MCP_SERVICE_NAME, set by the
          operator to the MCPServer's name; POD_NAMESPACE; MCP_CLUSTER_DOMAIN, default cluster.local):
          ``svc``, ``svc.ns``, ``svc.ns.svc``, ``svc.ns.svc.<domain>`` (status.endpoint uses the last);
        - the pod's own IP (env POD_IP, from the downward API): direct pod-to-pod calls;
        - MCP_ALLOWED_HOSTS: anything else (an Ingress or Gateway host name), verbatim.

        Each derived name is allowed bare and with any port (``name`` and ``name:*``).
        """
        names: list[str] = ["127.0.0.1", "localhost", "[::1]"]
        ns = self.pod_namespace
        for svc in dict.fromkeys(n for n in (self.service_name,) if n):
            names.append(svc)
            if ns:
                names += [f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.{self.cluster_domain}"]
        if self.pod_ip:
            names.append(f"[{self.pod_ip}]" if ":" in self.pod_ip else self.pod_ip)
        hosts: list[str] = []
        for n in names:
            hosts += [n, f"{n}:*"]
        hosts += list(self.allowed_hosts)
        return list(dict.fromkeys(hosts))

    def origins(self) -> list[str]:
        base = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
        return list(dict.fromkeys(base + list(self.allowed_origins)))


# key -> (Settings field, parser). Every key is accepted from both the environment and the file.
def _str(v: Any) -> str:
    return str(v).strip()


def _bool(key: str):
    def parse(v: Any) -> bool:
        if isinstance(v, bool):
            return v
        s = str(v).strip().lower()
        if s in _TRUE:
            return True
        if s in _FALSE:
            return False
        raise ConfigError(f"{key}={v!r}: expected true or false")

    return parse


def _int(key: str, lo: int, hi: int):
    def parse(v: Any) -> int:
        try:
            n = int(str(v).strip())
        except ValueError:
            raise ConfigError(f"{key}={v!r}: expected an integer between {lo} and {hi}") from None
        if not lo <= n <= hi:
            raise ConfigError(f"{key}={n}: expected an integer between {lo} and {hi}")
        return n

    return parse


def _float(key: str, lo: float, hi: float):
    def parse(v: Any) -> float:
        try:
            n = float(str(v).strip())
        except ValueError:
            raise ConfigError(f"{key}={v!r}: expected a number between {lo} and {hi}") from None
        if not lo <= n <= hi:
            raise ConfigError(f"{key}={n}: expected a number between {lo} and {hi}")
        return n

    return parse


def _choice(key: str, choices: tuple[str, ...], aliases: Mapping[str, str] | None = None, upper: bool = False):
    def parse(v: Any) -> str:
        s = str(v).strip()
        s = s.upper() if upper else s.lower()
        s = (aliases or {}).get(s, s)
        if s not in choices:
            raise ConfigError(f"{key}={v!r}: expected one of {', '.join(choices)}")
        return s

    return parse


def _list(v: Any) -> tuple[str, ...]:
    items = v if isinstance(v, list) else re.split(r"[,\s]+", str(v))
    return tuple(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))


KEYS: dict[str, tuple[str, Any]] = {
    "MCP_TRANSPORT": ("transport", _choice("MCP_TRANSPORT", TRANSPORTS)),
    "MCP_HOST": ("host", _str),
    "MCP_PORT": ("port", _int("MCP_PORT", 1, 65535)),
    "MCP_SERVER_NAME": ("server_name", _str),
    "LOG_LEVEL": ("log_level", _choice("LOG_LEVEL", LOG_LEVELS, _LEVEL_ALIASES, upper=True)),
    "ENABLE_METRICS": ("enable_metrics", _bool("ENABLE_METRICS")),
    "RATE_LIMIT_REQUESTS": ("rate_limit_requests", _int("RATE_LIMIT_REQUESTS", 0, 1_000_000)),
    "MCP_READ_ONLY": ("read_only", _bool("MCP_READ_ONLY")),
    "MCP_NAMESPACES": ("namespaces", _list),
    "MCP_DEFAULT_NAMESPACE": ("default_namespace", _str),
    "MCP_ALLOWED_HOSTS": ("allowed_hosts", _list),
    "MCP_ALLOWED_ORIGINS": ("allowed_origins", _list),
    "MCP_DNS_REBINDING_PROTECTION": ("dns_rebinding_protection", _bool("MCP_DNS_REBINDING_PROTECTION")),
    "MCP_AUTH_TOKEN": ("auth_token", _str),
    "MCP_KUBE_TIMEOUT_SECONDS": ("kube_timeout_seconds", _float("MCP_KUBE_TIMEOUT_SECONDS", 0.5, 300)),
    "MCP_MAX_OUTPUT_BYTES": ("max_output_bytes", _int("MCP_MAX_OUTPUT_BYTES", 4096, 16 * 1024 * 1024)),
    "MCP_PAGE_SIZE": ("default_page_size", _int("MCP_PAGE_SIZE", 1, 5000)),
    "MCP_MAX_PAGE_SIZE": ("max_page_size", _int("MCP_MAX_PAGE_SIZE", 1, 5000)),
    "MCP_LOG_TAIL_LINES": ("log_tail_lines", _int("MCP_LOG_TAIL_LINES", 1, 100_000)),
    "MCP_MAX_LOG_BYTES": ("max_log_bytes", _int("MCP_MAX_LOG_BYTES", 1024, 16 * 1024 * 1024)),
    "MCP_READY_CACHE_SECONDS": ("ready_cache_seconds", _float("MCP_READY_CACHE_SECONDS", 0, 300)),
    # per-caller identity (auth/; checked together by auth.settings.validate)
    "MCP_AUTH_MODE": ("auth_mode", _choice("MCP_AUTH_MODE", ("none", "kubernetes", "oidc"))),
    "MCP_AUTH_AUDIENCES": ("auth_audiences", _list),
    "MCP_AUTH_RESOURCE_URL": ("auth_resource_url", _str),
    "MCP_AUTH_ISSUER_URL": ("auth_issuer_url", _str),
    "MCP_AUTH_CACHE_SECONDS": ("auth_cache_seconds", _float("MCP_AUTH_CACHE_SECONDS", 0, 3600)),
    "MCP_OIDC_JWKS_URL": ("oidc_jwks_url", _str),
    "MCP_OIDC_USERNAME_CLAIM": ("oidc_username_claim", _str),
    "MCP_OIDC_USERNAME_PREFIX": ("oidc_username_prefix", _str),
    "MCP_OIDC_GROUPS_CLAIM": ("oidc_groups_claim", _str),
    "MCP_OIDC_GROUPS_PREFIX": ("oidc_groups_prefix", _str),
    "MCP_AUDIT_LOG": ("audit_log", _bool("MCP_AUDIT_LOG")),
    "MCP_WORKERS": ("workers", _int("MCP_WORKERS", 0, 64)),
}
# Read from the environment only (they describe where we run, or point at other files).
ENV_ONLY = ("POD_NAME", "POD_NAMESPACE", "POD_IP", "MCP_SERVICE_NAME", "MCP_CLUSTER_DOMAIN", "MCP_CONFIG_FILE", "MCP_AUTH_TOKEN_FILE", "KUBECONFIG")


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from ``environ`` (default os.environ) and the file it names."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    warnings: list[str] = []

    for key, (attr, parse) in KEYS.items():
        if key in env:
            values[attr] = parse(env[key])

    config_file = env.get("MCP_CONFIG_FILE") or None
    if config_file:
        data = _read_file(config_file)
        for key, raw in data.items():
            if key in KEYS:
                attr, parse = KEYS[key]
                values[attr] = parse(raw)
            elif key in ENV_ONLY:
                warnings.append(f"config file key {key!r} is ignored: it is read from the environment only")
            else:
                close = [k for k in KEYS if k.replace("_", "") == str(key).upper().replace("_", "").replace("-", "")]
                hint = f" (did you mean {close[0]}?)" if close else ""
                warnings.append(f"unknown config file key {key!r} ignored{hint}")

    token_file = env.get("MCP_AUTH_TOKEN_FILE")
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise ConfigError(f"MCP_AUTH_TOKEN_FILE={token_file!r}: cannot read it ({exc.strerror})") from None
        if not token:
            raise ConfigError(f"MCP_AUTH_TOKEN_FILE={token_file!r} is empty")
        values["auth_token"] = token
    if values.get("auth_token") == "":
        values["auth_token"] = None

    # The Service in front of us, as the operator names it (MCP_SERVICE_NAME). MCP_SERVER_NAME is the
    # server's display name, which users may override; it is only a fallback for pods rendered by an
    # operator that predates MCP_SERVICE_NAME.
    values["service_name"] = (env.get("MCP_SERVICE_NAME") or env.get("MCP_SERVER_NAME") or "").strip() or None
    values["pod_ip"] = (env.get("POD_IP") or "").strip() or None
    values["cluster_domain"] = (env.get("MCP_CLUSTER_DOMAIN") or "cluster.local").strip().strip(".")
    values["pod_name"] = env.get("POD_NAME") or None
    values["pod_namespace"] = env.get("POD_NAMESPACE") or None
    values["config_file"] = config_file

    namespaces = values.get("namespaces", ())
    if namespaces and "default_namespace" not in values:
        values["default_namespace"] = "default" if "default" in namespaces else namespaces[0]
    settings = Settings(**values, warnings=tuple(warnings))
    if settings.max_page_size < settings.default_page_size:
        raise ConfigError(
            f"MCP_PAGE_SIZE={settings.default_page_size} exceeds MCP_MAX_PAGE_SIZE={settings.max_page_size}"
        )
    if settings.namespaces and settings.default_namespace not in settings.namespaces:
        raise ConfigError(
            f"MCP_DEFAULT_NAMESPACE={settings.default_namespace!r} is not in MCP_NAMESPACES "
            f"({', '.join(settings.namespaces)})"
        )
    from .auth.settings import validate

    return validate(settings)


def _read_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ConfigError(f"MCP_CONFIG_FILE={path!r}: cannot read it ({exc.strerror})") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"MCP_CONFIG_FILE={path!r}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"MCP_CONFIG_FILE={path!r}: expected a JSON object of KEY: value")
    return data


MAX_AUTO_WORKERS = 4


def cpu_limit(cgroup_root: str = "/sys/fs/cgroup") -> int | None:
    """Whole cores of this container's CPU limit (cgroup v2 ``cpu.max`` quota / period, rounded
    down, at least 1), or None when it has no limit."""
    try:
        with open(f"{cgroup_root}/cpu.max", encoding="ascii") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            return max(1, int(quota) // int(period))
    except (OSError, ValueError):
        pass
    return None


def worker_count(settings: Settings, limit: int | None = None) -> int:
    """MCP_WORKERS when set; else one worker per whole core of the pod's CPU limit, at most
    MAX_AUTO_WORKERS (each worker is a whole server process, ~60-90 MiB); 1 without a limit (a
    pod without a CPU limit has no fixed number of cores to size for)."""
    if settings.workers:
        return settings.workers
    limit = cpu_limit() if limit is None else limit  # 0: no limit
    return min(MAX_AUTO_WORKERS, limit or 1)
