"""MCPServer status from the observed children and the previous status (pure, deterministic).

The only clock reading is ``now``, used solely for a condition that appears or changes status;
otherwise ``lastTransitionTime`` is carried over, so calling sync again on its own output
yields the same status (no status-write loop in Metacontroller).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import constants as C
from .causes import RANK_NOT_READY, Cause
from .children import restricted_violations, security_context, selector_string
from .sessions import session_routing
from .spec import serves_http

MAX_MESSAGE = 32768


@dataclass(frozen=True)
class Cond:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


def _int(value, default=0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def http_endpoint(name: str, namespace: str, port: int, path: str = C.DEFAULT_MCP_PATH) -> str:
    return f"http://{name}.{namespace}.svc.cluster.local:{port}{path}"


def stdio_endpoint(name: str, namespace: str) -> str:
    return C.STDIO_ENDPOINT_TEMPLATE.format(name=name, namespace=namespace)


def deployment_condition(name: str, dep: dict | None, desired_replicas: int | None,
                         desired_hash: str | None) -> Cond:
    """DeploymentReady. ``desired_hash`` None (invalid spec) judges the Deployment as it is."""
    t = C.COND_DEPLOYMENT_READY
    if dep is None:
        return Cond(t, "False", C.R_DEPLOYMENT_MISSING, f"Deployment {name} does not exist yet")
    meta, dspec, st = _dict(dep.get("metadata")), _dict(dep.get("spec")), _dict(dep.get("status"))
    if desired_replicas is None:
        desired_replicas = _int(dspec.get("replicas"), 1)
    if desired_hash is not None and _dict(meta.get("annotations")).get(C.SPEC_HASH_ANNOTATION) != desired_hash:
        return Cond(t, "False", C.R_ROLLOUT_IN_PROGRESS, f"Deployment {name} is being updated to the current spec")
    generation = _int(meta.get("generation"), 0)
    observed = _int(st.get("observedGeneration"), -1)
    if observed < generation:
        return Cond(t, "False", C.R_ROLLOUT_IN_PROGRESS,
                    f"waiting for the Deployment controller to observe generation {generation} of Deployment {name}")
    conds = {c.get("type"): c for c in st.get("conditions") or [] if isinstance(c, dict)}
    progressing = _dict(conds.get("Progressing"))
    if progressing.get("status") == "False" and progressing.get("reason") == "ProgressDeadlineExceeded":
        msg = progressing.get("message") or "progress deadline exceeded"
        return Cond(t, "False", C.R_PROGRESS_DEADLINE_EXCEEDED, f"Deployment {name}: {msg}")
    replicas = _int(st.get("replicas"))
    updated = _int(st.get("updatedReplicas"))
    ready = _int(st.get("readyReplicas"))
    if replicas == updated == ready == desired_replicas:
        if desired_replicas == 0:
            return Cond(t, "True", C.R_SCALED_TO_ZERO, f"Deployment {name} is scaled to zero replicas")
        return Cond(t, "True", C.R_ROLLOUT_COMPLETE,
                    f"Deployment {name}: {ready}/{desired_replicas} replicas updated and ready")
    failure = _dict(conds.get("ReplicaFailure"))
    if failure.get("status") == "True":
        return Cond(t, "False", C.R_REPLICA_FAILURE,
                    f"Deployment {name}: {failure.get('message') or failure.get('reason') or 'replica failure'}")
    return Cond(t, "False", C.R_ROLLOUT_IN_PROGRESS,
                f"Deployment {name}: {updated} of {desired_replicas} replicas updated, {ready} ready, "
                f"{replicas} in total")


def _service_port(svc: dict) -> int | None:
    for p in _dict(svc.get("spec")).get("ports") or []:
        if isinstance(p, dict) and p.get("name") == C.PORT_NAME:
            return _int(p.get("port"), None)
    return None


def service_condition(name: str, svc: dict | None, transport: str | None, port: int | None,
                      ready_endpoints: int | None = None, replicas: int | None = None,
                      http: bool | None = None) -> Cond:
    """ServiceReady. ``ready_endpoints`` None: Metacontroller sent no EndpointSlices (no customize
    hook), so the Service object alone is judged, as before. ``http`` False: the server has no
    Service (stdio attach); None: decided by ``transport`` alone (invalid spec)."""
    t = C.COND_SERVICE_READY
    if http is False or (http is None and transport == C.TRANSPORT_STDIO):
        return Cond(t, "True", C.R_SERVICE_NOT_REQUIRED,
                    "stdio transport has no network endpoint, so no Service is created")
    if svc is None:
        return Cond(t, "False", C.R_SERVICE_MISSING, f"Service {name} does not exist yet")
    observed_port = _service_port(svc)
    if port is not None and observed_port != port:
        return Cond(t, "False", C.R_ROLLOUT_IN_PROGRESS, f"Service {name} is being updated to port {port}")
    if ready_endpoints is None:
        return Cond(t, "True", C.R_SERVICE_AVAILABLE, f"Service {name} routes port {observed_port} to the server pods")
    if replicas == 0:
        return Cond(t, "True", C.R_SCALED_TO_ZERO, f"Service {name} exists; it has no endpoints while scaled to zero")
    if ready_endpoints == 0:
        return Cond(t, "False", C.R_NO_READY_ENDPOINTS,
                    f"Service {name} has no ready endpoint: no server pod behind it is ready")
    return Cond(t, "True", C.R_SERVICE_AVAILABLE,
                f"Service {name} routes port {observed_port} to {ready_endpoints} ready endpoint(s)")


def _valid_condition(spec: dict) -> Cond:
    """ConfigurationValid of a valid spec; it warns (still True) when the rendered container
    securityContext would fail the restricted Pod Security level, which a namespace enforcing it
    refuses (the pods never start) and which gives the server more than it needs."""
    violations = restricted_violations(security_context(spec))
    if not violations:
        return Cond(C.COND_CONFIGURATION_VALID, "True", C.R_VALID, "spec is valid")
    return Cond(C.COND_CONFIGURATION_VALID, "True", C.R_VALID_WITH_WARNINGS,
                "spec is valid; warning: the container's securityContext would not pass the restricted Pod "
                "Security level (a namespace that enforces it refuses the pods): " + "; ".join(violations))


def merge_conditions(conds: list[Cond], previous_status, generation: int | None, now: str) -> list[dict]:
    prev = {}
    for c in _dict(previous_status).get("conditions") or []:
        if isinstance(c, dict) and isinstance(c.get("type"), str):
            prev[c["type"]] = c
    out = []
    for c in conds:
        old = prev.get(c.type)
        ltt = now
        if old and old.get("status") == c.status and isinstance(old.get("lastTransitionTime"), str):
            ltt = old["lastTransitionTime"]
        d = {"type": c.type, "status": c.status, "reason": c.reason, "message": c.message[:MAX_MESSAGE],
             "lastTransitionTime": ltt}
        if generation is not None:
            d["observedGeneration"] = generation
        out.append(d)
    return out


def compute(*, name: str, namespace: str, parent: dict, spec: dict, errors: list[str],
            deployment: dict | None, service: dict | None, desired_hash: str | None, now: str,
            terminating: bool = False, cause: Cause | None = None, ready_endpoints: int | None = None,
            conflicts: list[tuple[str, str]] = (), inventory: dict | None = None,
            pods: list[dict] | None = None, missing: list[tuple[str, str]] = ()) -> dict:
    """The complete status. ``spec`` is defaulted; ``errors`` non-empty means invalid;
    ``desired_hash`` is the spec-hash annotation of the desired Deployment (valid spec);
    ``cause`` the first reason a pod is not ready (causes.first_cause); ``ready_endpoints``
    the ready endpoints behind the Service (None: unknown); ``conflicts`` (kind, message) of
    children whose name a foreign object takes (ownership.collisions); ``inventory`` the observed
    ``<name>-inventory`` ConfigMap the mcp-prober writes and ``pods`` the server's pods, for the
    prober's verdicts (inventory.py); ``missing`` (kind, name) of the children the hook asked
    for that are not observed (yet): while any is, the server is not Ready."""
    meta = _dict(parent.get("metadata"))
    generation = meta.get("generation")
    generation = generation if isinstance(generation, int) and not isinstance(generation, bool) and generation >= 0 else None
    valid = not errors
    transport = spec.get("transport") if valid else None
    http = serves_http(spec) if valid else False

    if valid:
        dep_cond = deployment_condition(name, deployment, spec["replicas"], desired_hash)
        svc_cond = service_condition(name, service, transport, spec["port"], ready_endpoints, spec["replicas"],
                                     http)
        cfg_cond = _valid_condition(spec)
        session_cond = Cond(C.COND_SESSION_ROUTING, *session_routing(spec, service))
    else:
        dep_cond = deployment_condition(name, deployment, None, None)
        svc_cond = (service_condition(name, service, None, None) if service is not None else
                    Cond(C.COND_SERVICE_READY, "Unknown", C.R_INVALID_SPEC,
                         "spec is invalid; no Service is managed until it is fixed"))
        cfg_cond = Cond(C.COND_CONFIGURATION_VALID, "False", C.R_INVALID_SPEC, "; ".join(errors))
        session_cond = Cond(C.COND_SESSION_ROUTING, "Unknown", C.R_INVALID_SPEC,
                            "spec is invalid; session routing is judged once it is fixed")

    endpoint = None
    if valid and http and service is not None:
        endpoint = http_endpoint(name, namespace, spec["port"], spec.get("mcpPath") or C.DEFAULT_MCP_PATH)
    elif valid and transport == C.TRANSPORT_STDIO and deployment is not None:
        endpoint = stdio_endpoint(name, namespace)
    elif not valid and service is not None and _service_port(service) is not None:
        endpoint = http_endpoint(name, namespace, _service_port(service))

    if terminating:
        ready = Cond(C.COND_READY, "False", C.R_TERMINATING, "MCPServer is being deleted")
        phase = C.PHASE_TERMINATING
    elif not valid:
        msg = "spec is invalid (see ConfigurationValid); existing children are left unchanged"
        if conflicts:  # both must be fixed; say so at once
            msg += "; also: " + "; ".join(m for _, m in conflicts)
        ready = Cond(C.COND_READY, "False", C.R_INVALID_SPEC, msg)
        phase = C.PHASE_FAILED
    elif conflicts:
        for kind, message in conflicts:
            if kind == "Deployment":
                dep_cond = Cond(C.COND_DEPLOYMENT_READY, "False", C.R_NAME_CONFLICT, message)
            elif kind == "Service":
                svc_cond = Cond(C.COND_SERVICE_READY, "False", C.R_NAME_CONFLICT, message)
        ready = Cond(C.COND_READY, "False", C.R_NAME_CONFLICT, "; ".join(m for _, m in conflicts))
        phase = C.PHASE_FAILED
    elif missing and dep_cond.status == "True" and svc_cond.status == "True":
        # e.g. the API refused a child (too large, invalid): Metacontroller reports that only
        # as a SyncError Event on the MCPServer
        what = ", ".join(f"{k} {n}" for k, n in missing)
        ready = Cond(C.COND_READY, "False", C.R_CHILD_MISSING,
                     f"{what} does not exist yet; if this persists, Metacontroller could not create it: see the "
                     f"SyncError events in: kubectl describe mcpserver {name} -n {namespace}")
        phase = C.PHASE_PENDING
    elif dep_cond.status == "True" and svc_cond.status == "True":
        if dep_cond.reason == C.R_SCALED_TO_ZERO:
            ready = Cond(C.COND_READY, "True", C.R_SCALED_TO_ZERO,
                         "spec.replicas is 0: scaled to zero, a stable state; no pod serves requests "
                         "until spec.replicas is raised")
        elif not http:
            ready = Cond(C.COND_READY, "True", C.R_READY,
                         f"stdio MCP server is running; one client at a time can connect with: {endpoint}")
        else:
            ready = Cond(C.COND_READY, "True", C.R_READY, f"MCP server is ready at {endpoint}")
        phase = C.PHASE_READY
    elif cause is not None:
        # the pods say why: that beats "0 of 1 ready" and "progress deadline exceeded"
        ready = Cond(C.COND_READY, "False", cause.reason, cause.message)
        phase = C.PHASE_FAILED if cause.fatal or dep_cond.reason == C.R_PROGRESS_DEADLINE_EXCEEDED else C.PHASE_PENDING
    else:
        first = dep_cond if dep_cond.status != "True" else svc_cond
        ready = Cond(C.COND_READY, "False", first.reason, first.message)
        phase = C.PHASE_FAILED if dep_cond.reason == C.R_PROGRESS_DEADLINE_EXCEEDED else C.PHASE_PENDING

    from . import inventory as inv  # it imports Cond from here

    if valid and not terminating and not conflicts and (ready.status == "True" or cause is None
                                                          or cause.rank >= RANK_NOT_READY):
        # the prober says what answered instead of MCP: more specific than "not ready"
        mcp = inv.mcp_not_ready(inv.probe_failures(inventory, pods), spec)
        if mcp is not None and ready.reason != C.R_SCALED_TO_ZERO:
            ready, phase = mcp, C.PHASE_PENDING
    server = inv.server_status(inv.observed_document(inventory))
    tools_cond = inv.tools_condition(name, spec if valid else None, server)
    dep_status = _dict(_dict(deployment).get("status"))
    status = {
        "phase": phase,
        "conditions": merge_conditions([ready, dep_cond, svc_cond, cfg_cond, session_cond, tools_cond],
                                       parent.get("status"), generation, now),
        "replicas": _int(dep_status.get("replicas")),
        "readyReplicas": _int(dep_status.get("readyReplicas")),
        "selector": selector_string(name),
    }
    if endpoint:
        status["endpoint"] = endpoint
    if server is not None:
        status["server"] = server
    if generation is not None:
        status["observedGeneration"] = generation
    return status

