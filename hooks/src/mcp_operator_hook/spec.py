"""Defaults and validation of an MCPServer's spec (pure).

The hook validates every parent against the same openAPIV3Schema the CRD installs (a
byte-identical copy, ``crd.yaml``, ships in this package) and the same cross-field rules the
CRD states as CEL, so that a parent admitted by an older CRD, or written with validation
bypassed, never produces a broken Deployment.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

import jsonschema
import yaml

from . import constants as C
from .quantity import parse_quantity

# Messages of the cross-field rules; the CRD's CEL rules carry the very same text
# (tests/hook/test_crd.py checks that each one appears there).
MSG_NAME = ("metadata.name must be a DNS-1035 label (at most 63 characters, lowercase letters, digits "
            "and '-', starting with a letter): it names the Service and is used as a label value")
MSG_STDIO_REPLICAS = ("stdio transport supports at most 1 replica: a stdio MCP server talks to one client "
                      "over its standard input, so spec.replicas must be 0 or 1 (use transport http or "
                      "streamable-http to scale out)")
MSG_CONFIG_KEYS = "spec.config keys must be 1-253 characters of letters, digits, '-', '_' or '.'"
MSG_REQUESTS_LIMITS = "spec.resources.requests must not exceed spec.resources.limits for the same resource"
MSG_PRIVILEGED = "spec.securityContext: allowPrivilegeEscalation cannot be false when privileged is true"
MSG_SECCOMP = "seccompProfile.localhostProfile must be set exactly when type is Localhost"
MSG_APPARMOR = "appArmorProfile.localhostProfile must be set exactly when type is Localhost"
MSG_ENV_VALUE = "env: value and valueFrom are mutually exclusive"
MSG_ENV_VALUE_FROM = ("env valueFrom: exactly one of fieldRef, resourceFieldRef, configMapKeyRef or "
                      "secretKeyRef must be set")
CROSS_FIELD_MESSAGES = (MSG_NAME, MSG_STDIO_REPLICAS, MSG_CONFIG_KEYS, MSG_REQUESTS_LIMITS,
                        MSG_PRIVILEGED, MSG_SECCOMP, MSG_APPARMOR, MSG_ENV_VALUE, MSG_ENV_VALUE_FROM)

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_VALUE_FROM_KEYS = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")


@functools.lru_cache(maxsize=1)
def crd_text() -> str:
    """The packaged CRD, byte-identical to crds/mcpservers.mcp.example.com.yaml."""
    return resources.files(__package__).joinpath("crd.yaml").read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def crd() -> dict:
    return yaml.safe_load(crd_text())


def openapi_schema() -> dict:
    (version,) = [v for v in crd()["spec"]["versions"] if v["name"] == C.VERSION]
    return version["schema"]["openAPIV3Schema"]


@functools.lru_cache(maxsize=1)
def spec_validator() -> jsonschema.protocols.Validator:
    schema = openapi_schema()["properties"]["spec"]
    return jsonschema.Draft4Validator(schema)


def _path(error: jsonschema.ValidationError) -> str:
    out = "spec"
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "anyOf" and error.schema.get("x-kubernetes-int-or-string"):
        return f"{_path(error)}: must be an integer or a string quantity, got {json.dumps(error.instance)}"
    if error.validator == "additionalProperties" or error.validator == "required":
        return f"{_path(error)}: {error.message}"
    instance = json.dumps(error.instance, sort_keys=True)
    if len(instance) > 80:
        instance = instance[:77] + "..."
    detail = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    if error.validator in ("enum", "pattern", "minimum", "maximum", "minLength", "maxLength",
                           "maxItems", "maxProperties", "type"):
        detail = f"{error.validator} violated ({json.dumps(error.validator_value)}) by {instance}"
    return f"{_path(error)}: {detail}"


def apply_defaults(spec: dict) -> dict:
    """A copy of ``spec`` with the CRD's defaults (as the apiserver would apply them)."""
    out = {k: v for k, v in spec.items() if v is not None}  # the apiserver prunes nulls
    out.setdefault("transport", C.DEFAULT_TRANSPORT)
    out.setdefault("port", C.DEFAULT_PORT)
    out.setdefault("replicas", C.DEFAULT_REPLICAS)
    return out


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def cross_field_errors(name: str, spec: dict) -> list[str]:
    """The CRD's CEL rules, in Python. ``spec`` has defaults applied."""
    errors: list[str] = []
    if not isinstance(name, str) or len(name) > 63 or not _DNS1035.match(name):
        errors.append(MSG_NAME)
    replicas = _int(spec.get("replicas"))
    if spec.get("transport") == C.TRANSPORT_STDIO and replicas is not None and replicas > C.MAX_STDIO_REPLICAS:
        errors.append(f"spec.replicas: {MSG_STDIO_REPLICAS}")
    config = spec.get("config")
    if isinstance(config, dict) and any(len(k) > 253 or not _CONFIG_KEY.match(k) for k in config):
        errors.append(f"spec.config: {MSG_CONFIG_KEYS}")
    res = spec.get("resources")
    if isinstance(res, dict) and isinstance(res.get("requests"), dict) and isinstance(res.get("limits"), dict):
        for key in sorted(res["limits"]):
            if key not in res["requests"]:
                continue
            try:
                if parse_quantity(res["requests"][key]) > parse_quantity(res["limits"][key]):
                    errors.append(f"spec.resources: {MSG_REQUESTS_LIMITS} ({key}: request "
                                  f"{res['requests'][key]} > limit {res['limits'][key]})")
            except ValueError:
                pass  # reported by the schema's pattern
    sc = spec.get("securityContext")
    if isinstance(sc, dict):
        if sc.get("privileged") is True and sc.get("allowPrivilegeEscalation") is False:
            errors.append(MSG_PRIVILEGED)
        for field, msg in (("seccompProfile", MSG_SECCOMP), ("appArmorProfile", MSG_APPARMOR)):
            prof = sc.get(field)
            if isinstance(prof, dict) and (prof.get("type") == "Localhost") != ("localhostProfile" in prof):
                errors.append(f"spec.securityContext.{field}: {msg}")
    env = spec.get("env")
    if isinstance(env, list):
        seen: set[str] = set()
        for i, entry in enumerate(env):
            if not isinstance(entry, dict):
                continue
            n = entry.get("name")
            if isinstance(n, str):
                if n in seen:
                    errors.append(f"spec.env[{i}].name: duplicate name {json.dumps(n)} (names must be unique)")
                seen.add(n)
            vf = entry.get("valueFrom")
            if vf is not None and entry.get("value") not in (None, ""):
                errors.append(f"spec.env[{i}]: {MSG_ENV_VALUE}")
            if isinstance(vf, dict) and sum(1 for k in _VALUE_FROM_KEYS if k in vf) != 1:
                errors.append(f"spec.env[{i}].valueFrom: {MSG_ENV_VALUE_FROM}")
    return errors


def _canonical(spec: Any) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=4096)
def _validate_cached(name: str, canonical_spec: str) -> tuple[str, ...]:
    spec = json.loads(canonical_spec)
    errors = sorted({_schema_message(e) for e in spec_validator().iter_errors(spec)})
    errors += cross_field_errors(name, spec)
    return tuple(errors)


def validate_canonical(name: str, spec: Any) -> tuple[dict, str, list[str]]:
    """Defaulted spec, its canonical JSON (a cache key for everything derived from it) and the
    list of problems (empty when valid)."""
    if not isinstance(spec, dict):
        return {}, "null", ["spec: required (an object with at least spec.image)"]
    defaulted = apply_defaults(spec)
    canonical = _canonical(defaulted)
    return defaulted, canonical, list(_validate_cached(name, canonical))


def validate(name: str, spec: Any) -> tuple[dict, list[str]]:
    """Defaulted spec and the list of problems (empty when valid).

    Pure; memoized on (name, canonical JSON of the defaulted spec), which is safe because the
    result depends on nothing else.
    """
    defaulted, _, errors = validate_canonical(name, spec)
    return defaulted, errors
