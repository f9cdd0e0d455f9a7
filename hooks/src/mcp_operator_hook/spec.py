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
MSG_STDIO_REPLICAS = ("stdio transport supports at most 1 replica with stdio.expose attach: the server talks to "
                      "one client over its standard input, so spec.replicas must be 0 or 1 (run it through the "
                      "bridge, with spec.package or spec.command, or use an HTTP transport to scale out)")
MSG_CONFIG_KEYS = "spec.config keys must be 1-253 characters of letters, digits, '-', '_' or '.'"
MSG_REQUESTS_LIMITS = "spec.resources.requests must not exceed spec.resources.limits for the same resource"
MSG_PRIVILEGED = "spec.securityContext: allowPrivilegeEscalation cannot be false when privileged is true"
MSG_SECCOMP = "seccompProfile.localhostProfile must be set exactly when type is Localhost"
MSG_APPARMOR = "appArmorProfile.localhostProfile must be set exactly when type is Localhost"
MSG_ENV_VALUE = "env: value and valueFrom are mutually exclusive"
MSG_ENV_VALUE_FROM = ("env valueFrom: exactly one of fieldRef, resourceFieldRef, configMapKeyRef or "
                      "secretKeyRef must be set")
MSG_IMAGE = "spec.image is required unless spec.package is set (a package runs in the default mcp-bridge image)"
MSG_PACKAGE_STDIO = "spec.package runs a stdio server: it requires spec.transport stdio"
MSG_PACKAGE_COMMAND = ("spec.package and spec.command/spec.args are mutually exclusive: put the package's "
                       "arguments in spec.package.args")
MSG_BRIDGE_COMMAND = ("stdio.expose bridge needs the stdio server's command line: set spec.package, or "
                      "spec.command with an image built FROM mcp-bridge")
MSG_STDIO_ONLY = "spec.stdio applies only to transport stdio"
MSG_SESSIONS_HTTP = ("spec.sessions applies to the HTTP transports; a bridged stdio server keeps each session "
                     "on its pod through the bridge's session routing")
MSG_HEALTH_ATTACH = ("health.mode http and tcp probe the MCP port, which a stdio server run with stdio.expose "
                     "attach does not have (use none, or an exec probe)")
MSG_MCP_PATH = "spec.mcpPath must start with '/' and must not contain whitespace, '?' or '#'"
MSG_ENV_FROM = "envFrom: exactly one of configMapRef or secretRef must be set"
MSG_VOLUME_SOURCE = "spec.volumes: exactly one of secret or configMap must be set"
MSG_VOLUME_NAME = ("spec.volumes: the names tmp, config, cache and kube-api-access-prober are the operator's "
                   "own volumes")
MSG_VOLUME_PATH = ("spec.volumes mountPath must be an absolute path without ':' and not /, /tmp, /etc/mcp, "
                   "/cache or /var/run/secrets/kubernetes.io/serviceaccount (the operator's own mounts)")
MSG_VOLUME_PATH_UNIQUE = "spec.volumes: every mountPath must be unique"
MSG_VOLUME_ITEM_PATH = "volumes items path must be relative and must not contain '..'"
MSG_LABEL_KEYS = ("spec.podMetadata.labels keys must be valid label keys ([prefix/]name, name at most 63 "
                  "characters)")
MSG_OWN_LABELS = ("spec.podMetadata.labels must not set app.kubernetes.io/name, app.kubernetes.io/instance, "
                  "app.kubernetes.io/component, app.kubernetes.io/managed-by or example.com/transport: the "
                  "operator sets them and selects the pods by them")
MSG_ANNOTATION_KEYS = ("spec.podMetadata.annotations keys must be valid annotation keys ([prefix/]name, name at "
                       "most 63 characters)")
MSG_OWN_ANNOTATIONS = "spec.podMetadata.annotations must not use the prefix mcp.example.com/: it is the operator's"
MSG_PROBE_HANDLER = "a probe needs exactly one of exec, httpGet, tcpSocket or grpc"
MSG_PACKAGE_NAME = ("spec.package.name is not a valid package name for its registry (npm: [@scope/]name in "
                    "lowercase; pypi: letters, digits, '.', '_' and '-')")
MSG_PACKAGE_VERSION = ("spec.package.version must be one exact version (npm: semver such as 2026.8.31; pypi: such "
                       "as 2026.10.19), not a range, tag or 'latest': a running server must not change under its "
                       "clients")
MSG_CONFIG_SIZE = ("spec.config must total at most 131072 characters (keys plus values): it is written to one "
                   "ConfigMap, and Kubernetes limits an object's annotations, where Metacontroller's client-side "
                   "apply keeps a copy, to 256 KiB")
MSG_EXPR_IN = "values must be non-empty when operator is In or NotIn"
MSG_EXPR_EXISTS = "values must be empty when operator is Exists or DoesNotExist"
MSG_EXPR_GT = "values must have exactly one element (an integer) when operator is Gt or Lt"
MSG_NODE_SELECTOR_KEYS = ("spec.nodeSelector keys must be valid label keys ([prefix/]name, name at most 63 "
                          "characters of letters, digits, '-', '_' or '.')")
MSG_MATCH_LABELS_KEYS = ("matchLabels keys must be valid label keys ([prefix/]name, name at most 63 characters "
                         "of letters, digits, '-', '_' or '.')")
CROSS_FIELD_MESSAGES = (MSG_CONFIG_SIZE, MSG_EXPR_IN, MSG_EXPR_EXISTS, MSG_EXPR_GT, MSG_NODE_SELECTOR_KEYS,
                        MSG_MATCH_LABELS_KEYS, MSG_NAME, MSG_STDIO_REPLICAS, MSG_CONFIG_KEYS, MSG_REQUESTS_LIMITS,
                        MSG_PRIVILEGED, MSG_SECCOMP, MSG_APPARMOR, MSG_ENV_VALUE, MSG_ENV_VALUE_FROM,
                        MSG_IMAGE, MSG_PACKAGE_STDIO, MSG_PACKAGE_COMMAND, MSG_BRIDGE_COMMAND, MSG_STDIO_ONLY,
                        MSG_SESSIONS_HTTP, MSG_HEALTH_ATTACH, MSG_MCP_PATH, MSG_ENV_FROM, MSG_VOLUME_SOURCE,
                        MSG_VOLUME_NAME, MSG_VOLUME_PATH, MSG_VOLUME_PATH_UNIQUE, MSG_VOLUME_ITEM_PATH,
                        MSG_LABEL_KEYS, MSG_OWN_LABELS, MSG_ANNOTATION_KEYS, MSG_OWN_ANNOTATIONS,
                        MSG_PROBE_HANDLER, MSG_PACKAGE_NAME, MSG_PACKAGE_VERSION)

_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_VALUE_FROM_KEYS = ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
_PROBE_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
# The same expressions as the CRD's CEL rules (RE2 there, re here: only the common subset is used).
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
                        r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_SEMVER = re.compile(r"^(0|[1-9][0-9]*)[.](0|[1-9][0-9]*)[.](0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?([+][0-9A-Za-z.-]+)?$")
_PEP440 = re.compile(r"^([0-9]+!)?[0-9]+([.][0-9]+)*((a|b|rc)[0-9]+)?([.]post[0-9]+)?([.]dev[0-9]+)?$")
_NPM_NAME = re.compile(r"^(@[a-z0-9][-a-z0-9._~]*/)?[a-z0-9][-a-z0-9._~]*$")
_PYPI_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9._]*[A-Za-z0-9])?$")
_MCP_PATH_BAD = re.compile(r"[\s?#]")
OWN_POD_LABELS = (C.LABEL_NAME, C.LABEL_INSTANCE, C.LABEL_COMPONENT, C.LABEL_MANAGED_BY, C.LABEL_TRANSPORT)
RESERVED_VOLUME_NAMES = (C.TMP_VOLUME, C.CONFIG_VOLUME, C.CACHE_VOLUME, C.PROBER_TOKEN_VOLUME)
RESERVED_MOUNT_PATHS = ("/", C.TMP_MOUNT_PATH, C.CONFIG_MOUNT_PATH, C.CACHE_MOUNT_PATH, C.SA_TOKEN_MOUNT_PATH)


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
    if error.validator == "enum":
        # the apiserver's words for the same refusal (kubectl shows these at admission)
        return (f"{_path(error)}: Unsupported value: {json.dumps(error.instance)}: supported values: "
                + ", ".join(json.dumps(v) for v in error.validator_value))
    instance = json.dumps(error.instance, sort_keys=True)
    if len(instance) > 80:
        instance = instance[:77] + "..."
    detail = error.message if len(error.message) <= 200 else error.message[:197] + "..."
    if error.validator in ("pattern", "minimum", "maximum", "minLength", "maxLength",
                           "minItems", "maxItems", "maxProperties", "type"):
        detail = f"{error.validator} violated ({json.dumps(error.validator_value)}) by {instance}"
    return f"{_path(error)}: {detail}"


def apply_defaults(spec: dict) -> dict:
    """A copy of ``spec`` with the CRD's defaults (as the apiserver would apply them)."""
    out = {k: v for k, v in spec.items() if v is not None}  # the apiserver prunes nulls
    out.setdefault("transport", C.DEFAULT_TRANSPORT)
    out.setdefault("port", C.DEFAULT_PORT)
    out.setdefault("replicas", C.DEFAULT_REPLICAS)
    out.setdefault("mcpPath", C.DEFAULT_MCP_PATH)
    if isinstance(out.get("stdio"), dict):
        out["stdio"] = {"maxSessionsPerPod": C.DEFAULT_MAX_SESSIONS_PER_POD,
                        "sessionIdleTimeoutSeconds": C.DEFAULT_SESSION_IDLE_TIMEOUT_SECONDS, **out["stdio"]}
    if isinstance(out.get("volumes"), list):
        out["volumes"] = [{"readOnly": True, **v} if isinstance(v, dict) else v for v in out["volumes"]]
    return out


def stdio_expose(spec: dict) -> str | None:
    """Effective spec.stdio.expose of a (defaulted) stdio spec, None for the HTTP transports.
    Omitted: bridge when the spec names a command line (package or command), else attach (the
    image's own entrypoint is the stdio server, as in the seed's stdio sample)."""
    if spec.get("transport") != C.TRANSPORT_STDIO:
        return None
    stdio = spec.get("stdio")
    expose = stdio.get("expose") if isinstance(stdio, dict) else None  # spec may be invalid
    if expose:
        return expose
    return C.EXPOSE_BRIDGE if (spec.get("package") or spec.get("command")) else C.EXPOSE_ATTACH


def is_bridged(spec: dict) -> bool:
    """A stdio server run behind the mcp-bridge (streamable HTTP, Service, any replicas)."""
    return stdio_expose(spec) == C.EXPOSE_BRIDGE


def serves_http(spec: dict) -> bool:
    """Whether clients reach the server over HTTP through a Service (HTTP transports or bridge)."""
    return spec.get("transport") in C.HTTP_TRANSPORTS or is_bridged(spec)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def cross_field_errors(name: str, spec: dict) -> list[str]:
    """The CRD's CEL rules, in Python. ``spec`` has defaults applied."""
    errors: list[str] = []
    if not isinstance(name, str) or len(name) > 63 or not _DNS1035.match(name):
        errors.append(MSG_NAME)
    replicas = _int(spec.get("replicas"))
    if spec.get("transport") == C.TRANSPORT_STDIO and replicas is not None and replicas > C.MAX_STDIO_REPLICAS \
            and not is_bridged(spec):
        errors.append(f"spec.replicas: {MSG_STDIO_REPLICAS}")
    errors += _source_errors(spec)
    config = spec.get("config")
    if isinstance(config, dict) and any(len(k) > 253 or not _CONFIG_KEY.match(k) for k in config):
        errors.append(f"spec.config: {MSG_CONFIG_KEYS}")
    if isinstance(config, dict) and sum(len(k) + len(v) for k, v in config.items() if isinstance(v, str)) \
            > MAX_CONFIG_CHARS:
        errors.append(f"spec.config: {MSG_CONFIG_SIZE}")
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
    errors += _pod_errors(spec)
    errors += _scheduling_errors(spec)
    return errors


MAX_CONFIG_CHARS = 131072
# Kubernetes' limit on an object's annotations (apimachinery ValidateAnnotations: 256 KiB), where
# Metacontroller's client-side apply stores a copy of every child it applies; the margin leaves
# room for the child's metadata and the JSON escaping of the copy.
MAX_ANNOTATIONS_BYTES = 262144
MAX_RENDERED_CHILD_BYTES = MAX_ANNOTATIONS_BYTES - 16384


def rendered_size_errors(spec: dict, canonical_spec: str) -> list[str]:
    """The children the hook renders that would not fit in the API: ``<name>-config`` (config.json)
    and ``<name>-hook-record`` (the canonical spec), each measured as the JSON text of its data,
    the part of the last-applied copy that grows with the spec. ``spec`` is a valid, defaulted
    spec. Limits: MAX_RENDERED_CHILD_BYTES (bytes, UTF-8)."""
    from .children import config_json  # children imports this module
    out = []
    sizes = [("<name>-hook-record ConfigMap (the spec as the hook records it)", canonical_spec)]
    if spec.get("config"):
        sizes.insert(0, ("<name>-config ConfigMap (config.json)", config_json(spec["config"])))
    for what, text in sizes:
        size = len(json.dumps(text, ensure_ascii=False).encode())
        if size > MAX_RENDERED_CHILD_BYTES:
            out.append(f"spec: the rendered {what} would be {size} bytes, over the limit of "
                       f"{MAX_RENDERED_CHILD_BYTES} bytes (Kubernetes keeps a copy of it in an annotation, and "
                       f"an object's annotations are limited to {MAX_ANNOTATIONS_BYTES} bytes): make spec.config "
                       f"smaller, or mount large files from a ConfigMap or Secret with spec.volumes")
    return out


_NODE_SELECTOR_TERMS = ("requiredDuringSchedulingIgnoredDuringExecution", "preferredDuringSchedulingIgnoredDuringExecution")


def _expression_errors(where: str, exprs, node: bool) -> list[str]:
    """The CRD's CEL rules on matchExpressions items (NodeSelectorRequirement and
    LabelSelectorRequirement), as the core API validates them."""
    errors = []
    for i, e in _dicts(exprs):
        op, values = e.get("operator"), e.get("values") or []
        if op in ("In", "NotIn") and not values:
            errors.append(f"{where}.matchExpressions[{i}]: {MSG_EXPR_IN}")
        if op in ("Exists", "DoesNotExist") and values:
            errors.append(f"{where}.matchExpressions[{i}]: {MSG_EXPR_EXISTS}")
        if node and op in ("Gt", "Lt") and len(values) != 1:
            errors.append(f"{where}.matchExpressions[{i}]: {MSG_EXPR_GT}")
    return errors


def _label_selector_errors(where: str, sel) -> list[str]:
    if not isinstance(sel, dict):
        return []
    errors = _expression_errors(where, sel.get("matchExpressions"), False)
    labels = sel.get("matchLabels")
    if isinstance(labels, dict) and any(len(k) > 317 or not _LABEL_KEY.match(k) for k in labels):
        errors.append(f"{where}.matchLabels: {MSG_MATCH_LABELS_KEYS}")
    return errors


def _scheduling_errors(spec: dict) -> list[str]:
    """nodeSelector, affinity and topologySpreadConstraints: the CRD's CEL rules there."""
    errors: list[str] = []
    ns = spec.get("nodeSelector")
    if isinstance(ns, dict) and any(len(k) > 317 or not _LABEL_KEY.match(k) for k in ns):
        errors.append(f"spec.nodeSelector: {MSG_NODE_SELECTOR_KEYS}")
    aff = spec.get("affinity") if isinstance(spec.get("affinity"), dict) else {}
    node = aff.get("nodeAffinity") if isinstance(aff.get("nodeAffinity"), dict) else {}
    req = node.get(_NODE_SELECTOR_TERMS[0])
    if isinstance(req, dict):
        for i, term in _dicts(req.get("nodeSelectorTerms")):
            where = f"spec.affinity.nodeAffinity.{_NODE_SELECTOR_TERMS[0]}.nodeSelectorTerms[{i}]"
            errors += _expression_errors(where, term.get("matchExpressions"), True)
    for i, pref in _dicts(node.get(_NODE_SELECTOR_TERMS[1])):
        term = pref.get("preference") if isinstance(pref.get("preference"), dict) else {}
        where = f"spec.affinity.nodeAffinity.{_NODE_SELECTOR_TERMS[1]}[{i}].preference"
        errors += _expression_errors(where, term.get("matchExpressions"), True)
    for kind in ("podAffinity", "podAntiAffinity"):
        pa = aff.get(kind) if isinstance(aff.get(kind), dict) else {}
        for i, term in _dicts(pa.get(_NODE_SELECTOR_TERMS[0])):
            where = f"spec.affinity.{kind}.{_NODE_SELECTOR_TERMS[0]}[{i}]"
            errors += _label_selector_errors(where + ".labelSelector", term.get("labelSelector"))
            errors += _label_selector_errors(where + ".namespaceSelector", term.get("namespaceSelector"))
        for i, w in _dicts(pa.get(_NODE_SELECTOR_TERMS[1])):
            term = w.get("podAffinityTerm") if isinstance(w.get("podAffinityTerm"), dict) else {}
            where = f"spec.affinity.{kind}.{_NODE_SELECTOR_TERMS[1]}[{i}].podAffinityTerm"
            errors += _label_selector_errors(where + ".labelSelector", term.get("labelSelector"))
            errors += _label_selector_errors(where + ".namespaceSelector", term.get("namespaceSelector"))
    for i, c in _dicts(spec.get("topologySpreadConstraints")):
        errors += _label_selector_errors(f"spec.topologySpreadConstraints[{i}].labelSelector", c.get("labelSelector"))
    return errors


def _dicts(value) -> list[tuple[int, dict]]:
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)] if isinstance(value, list) else []


def _source_errors(spec: dict) -> list[str]:
    """What runs: image/package/command, stdio exposure, sessions, health mode, MCP path."""
    errors: list[str] = []
    stdio = spec.get("transport") == C.TRANSPORT_STDIO
    package = spec.get("package")
    if "image" not in spec and "package" not in spec:
        errors.append(f"spec.image: {MSG_IMAGE}")
    if package is not None and not stdio:
        errors.append(f"spec.package: {MSG_PACKAGE_STDIO}")
    if package is not None and ("command" in spec or "args" in spec):
        errors.append(f"spec.package: {MSG_PACKAGE_COMMAND}")
    if isinstance(package, dict) and isinstance(package.get("name"), str) and isinstance(package.get("version"), str):
        npm = package.get("registry") == C.REGISTRY_NPM
        if not (_NPM_NAME if npm else _PYPI_NAME).match(package["name"]):
            errors.append(f"spec.package: {MSG_PACKAGE_NAME}")
        if not (_SEMVER if npm else _PEP440).match(package["version"]):
            errors.append(f"spec.package: {MSG_PACKAGE_VERSION}")
    explicit = (spec.get("stdio") or {}).get("expose") if isinstance(spec.get("stdio"), dict) else None
    if stdio and explicit == C.EXPOSE_BRIDGE and "package" not in spec and "command" not in spec:
        errors.append(f"spec.stdio.expose: {MSG_BRIDGE_COMMAND}")
    if "stdio" in spec and not stdio:
        errors.append(f"spec.stdio: {MSG_STDIO_ONLY}")
    if "sessions" in spec and stdio:
        errors.append(f"spec.sessions: {MSG_SESSIONS_HTTP}")
    health = spec.get("health")
    if stdio and not is_bridged(spec) and isinstance(health, dict) and health.get("mode") not in (None, C.HEALTH_NONE):
        errors.append(f"spec.health.mode: {MSG_HEALTH_ATTACH}")
    path = spec.get("mcpPath")
    if isinstance(path, str) and path and (not path.startswith("/") or _MCP_PATH_BAD.search(path)):
        errors.append(f"spec.mcpPath: {MSG_MCP_PATH}")
    return errors


def _pod_errors(spec: dict) -> list[str]:
    """envFrom, volumes, pod metadata and probes: the CEL rules inside those fields."""
    errors: list[str] = []
    for i, e in _dicts(spec.get("envFrom")):
        if ("configMapRef" in e) == ("secretRef" in e):
            errors.append(f"spec.envFrom[{i}]: {MSG_ENV_FROM}")
    volumes = _dicts(spec.get("volumes"))
    paths = [v.get("mountPath") for _, v in volumes]
    for i, v in volumes:
        if ("secret" in v) == ("configMap" in v):
            errors.append(f"spec.volumes[{i}]: {MSG_VOLUME_SOURCE}")
        if v.get("name") in RESERVED_VOLUME_NAMES:
            errors.append(f"spec.volumes[{i}]: {MSG_VOLUME_NAME}")
        mp = v.get("mountPath")
        if isinstance(mp, str) and (not mp.startswith("/") or ":" in mp or mp in RESERVED_MOUNT_PATHS):
            errors.append(f"spec.volumes[{i}]: {MSG_VOLUME_PATH}")
        for src in ("secret", "configMap"):
            for j, item in _dicts((v.get(src) or {}).get("items") if isinstance(v.get(src), dict) else None):
                p = item.get("path")
                if isinstance(p, str) and (p.startswith("/") or ".." in p.split("/")):
                    errors.append(f"spec.volumes[{i}].{src}.items[{j}].path: {MSG_VOLUME_ITEM_PATH}")
    if len(set(map(str, paths))) != len(paths):
        errors.append(f"spec.volumes: {MSG_VOLUME_PATH_UNIQUE}")
    meta = spec.get("podMetadata")
    if isinstance(meta, dict):
        labels, annotations = meta.get("labels"), meta.get("annotations")
        if isinstance(labels, dict):
            if any(len(k) > 317 or not _LABEL_KEY.match(k) for k in labels):
                errors.append(f"spec.podMetadata.labels: {MSG_LABEL_KEYS}")
            if any(k in OWN_POD_LABELS for k in labels):
                errors.append(f"spec.podMetadata.labels: {MSG_OWN_LABELS}")
        if isinstance(annotations, dict):
            if any(len(k) > 317 or not _LABEL_KEY.match(k) for k in annotations):
                errors.append(f"spec.podMetadata.annotations: {MSG_ANNOTATION_KEYS}")
            if any(k.startswith(C.GROUP + "/") for k in annotations):
                errors.append(f"spec.podMetadata.annotations: {MSG_OWN_ANNOTATIONS}")
    health = spec.get("health")
    if isinstance(health, dict):
        for name in _PROBES:
            probe = health.get(name)
            if isinstance(probe, dict) and sum(1 for k in _PROBE_HANDLERS if k in probe) != 1:
                errors.append(f"spec.health.{name}: {MSG_PROBE_HANDLER}")
    return errors


def _canonical(spec: Any) -> str:
    return json.dumps(spec, sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=4096)
def _validate_cached(name: str, canonical_spec: str) -> tuple[str, ...]:
    spec = json.loads(canonical_spec)
    errors = sorted({_schema_message(e) for e in spec_validator().iter_errors(spec)})
    try:
        errors += cross_field_errors(name, spec)
        if not errors:
            errors += rendered_size_errors(spec, canonical_spec)
    except (AttributeError, TypeError, KeyError, ValueError):
        # The cross-field rules (like the CRD's CEL rules) assume a schema-shaped spec. On one
        # that is not (found by tests/hook/test_hook_fuzz.py: e.g. spec.stdio = true), the
        # schema errors already say what is wrong; a spec that passes the schema must never
        # get here, so then the error is the hook's own and surfaces as a 500.
        if not errors:
            raise
    return tuple(errors)


def validate_canonical(name: str, spec: Any) -> tuple[dict, str, list[str]]:
    """Defaulted spec, its canonical JSON (a cache key for everything derived from it) and the
    list of problems (empty when valid)."""
    if not isinstance(spec, dict):
        return {}, "null", ["spec: required (an object with at least spec.image or spec.package)"]
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
