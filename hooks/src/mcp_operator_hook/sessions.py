"""The SessionRouting condition: can this configuration keep each MCP session on one pod? (pure)

A session-keeping server (Mcp-Session-Id, the 2025 protocol era) breaks when one session's
requests reach a pod that does not know it. How each configuration avoids that:

* one replica: nothing to route.
* stateless HTTP server: any pod answers any request; plain round-robin.
* stateful HTTP server: the Service pins each client IP to one pod (sessionAffinity ClientIP).
  Limits: a client whose source address changes loses its session; clients behind one proxy
  (an Ingress controller with several replicas, a mesh sidecar that re-originates connections)
  are pinned per proxy replica, so sessions survive only if that proxy also pins them.
* bridged stdio server: the bridge forwards a request to the pod that owns its session, named
  in the signed session id (the mcp-bridge's routing); the Service may spread freely.
"""

from __future__ import annotations

from . import constants as C
from .spec import is_bridged


def _affinity(service: dict | None) -> str | None:
    spec = (service or {}).get("spec")
    return spec.get("sessionAffinity") if isinstance(spec, dict) else None


def session_routing(spec: dict, service: dict | None) -> tuple[str, str, str]:
    """(status, reason, message) of SessionRouting for a valid, defaulted spec."""
    replicas = spec.get("replicas") or 0
    if is_bridged(spec):
        return ("True", C.R_BRIDGE_SESSION_ROUTING,
                "each MCP session runs in its own stdio process on one pod; the mcp-bridge forwards "
                "a session's requests to that pod (signed session ids), whichever replica the Service picks")
    if spec.get("transport") == C.TRANSPORT_STDIO or replicas <= 1:
        return ("True", C.R_SINGLE_REPLICA, "one server pod: every session stays on it")
    if spec.get("sessions") != C.SESSIONS_STATEFUL:
        return ("True", C.R_STATELESS,
                f"spec.sessions is stateless: requests spread over all {replicas} pods; if this server "
                "keeps sessions (Mcp-Session-Id), set spec.sessions: stateful")
    if service is None:
        return ("Unknown", C.R_AFFINITY_NOT_APPLIED,
                "spec.sessions is stateful; the Service that pins each client to one pod does not exist yet")
    if _affinity(service) != "ClientIP":
        return ("False", C.R_AFFINITY_NOT_APPLIED,
                f"spec.sessions is stateful with {replicas} replicas but Service sessionAffinity is not "
                "ClientIP yet: a session's requests can reach pods that do not know it")
    return ("True", C.R_CLIENT_IP_AFFINITY,
            f"Service sessionAffinity ClientIP keeps each client address on one of the {replicas} pods; "
            "a client whose address changes, or clients behind a proxy that spreads its own connections "
            "(e.g. a multi-replica Ingress), can still lose a session")
