"""Why an MCPServer is not ready, read from its pods (pure, deterministic).

``first_cause(pods)`` picks one cause among all pods of the server, by a fixed rank of kinds
(the one a user must act on first), then pod name, then container order; it uses only state
that changes when the pod's state changes (no restart counts, no kubelet back-off timers), so
a status computed from it converges (see status.py for lastTransitionTime).

Kubernetes' own words for the states (kubelet waiting reasons, PodScheduled=False
Unschedulable) are kept as condition reasons, so what users search for is what they see.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_DETAIL = 512     # characters of a kubelet/scheduler message or termination message
MAX_CAUSE = 1024     # characters of the whole cause message

# Waiting reasons and how they rank (lower first). Fatal ones make the phase Failed: they do not
# resolve without a change by someone (image, spec, Secret, code).
IMAGE_PULL = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")
CONFIG_ERRORS = ("CreateContainerConfigError", "CreateContainerError", "RunContainerError")
R_IMAGE_PULL = "ImagePullBackOff"
R_CRASH_LOOP = "CrashLoopBackOff"
R_INIT_FAILED = "InitContainerFailed"
R_UNSCHEDULABLE = "Unschedulable"
R_CONTAINER_EXITED = "ContainerExited"
R_NOT_READY = "ContainerNotReady"
R_PROBE_FAILING = "ReadinessProbeFailing"

RANK_INIT, RANK_IMAGE, RANK_CONFIG, RANK_CRASH, RANK_EXITED, RANK_UNSCHEDULABLE, RANK_NOT_READY = range(7)


@dataclass(frozen=True)
class Cause:
    reason: str
    message: str
    fatal: bool
    rank: int


def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value) -> list:
    return value if isinstance(value, list) else []


def _clip(text, limit: int = MAX_DETAIL) -> str:
    text = " ".join(str(text).split())  # one line: termination messages are often log tails
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _termination(term: dict) -> str:
    parts = []
    code = _int(term.get("exitCode"))
    if code is not None:
        parts.append(f"exit code {code}")
    if term.get("reason"):
        parts.append(f"reason {_clip(term['reason'], 64)}")
    text = ", ".join(parts) or "terminated"
    if term.get("message"):
        text += f"; last termination message: {_clip(term['message'])}"
    return text


def probe_text(probe: dict) -> str:
    """'GET /ready on port mcp' and the like, from a container's readinessProbe."""
    probe = _d(probe)
    if "httpGet" in probe:
        g = _d(probe["httpGet"])
        return f"HTTP GET {g.get('path', '/')} on port {g.get('port')}"
    if "tcpSocket" in probe:
        return f"TCP connect to port {_d(probe['tcpSocket']).get('port')}"
    if "grpc" in probe:
        return f"gRPC health check on port {_d(probe['grpc']).get('port')}"
    if "exec" in probe:
        return "exec " + _clip(" ".join(str(a) for a in _l(_d(probe["exec"]).get("command"))), 128)
    return "readiness probe"


def _container_cause(pod: str, cs: dict, spec_container: dict, init: bool) -> Cause | None:
    name = cs.get("name") or "?"
    what = f"init container {name}" if init else f"container {name}"
    state = _d(cs.get("state"))
    waiting, terminated, running = _d(state.get("waiting")), _d(state.get("terminated")), state.get("running")
    reason = waiting.get("reason")
    image = cs.get("image") or spec_container.get("image") or "?"
    if reason in IMAGE_PULL:
        msg = f"image {image} of {what} in pod {pod} cannot be pulled ({reason})"
        if waiting.get("message"):
            msg += f": {_clip(waiting['message'])}"
        return Cause(R_INIT_FAILED if init else R_IMAGE_PULL, msg, True, RANK_INIT if init else RANK_IMAGE)
    if reason in CONFIG_ERRORS:
        msg = f"{what} in pod {pod} cannot start ({reason})"
        if waiting.get("message"):
            msg += f": {_clip(waiting['message'])}"
        return Cause(R_INIT_FAILED if init else reason, msg, True, RANK_INIT if init else RANK_CONFIG)
    if reason == "CrashLoopBackOff":
        last = _d(_d(cs.get("lastState")).get("terminated"))
        msg = f"{what} in pod {pod} is crash-looping (CrashLoopBackOff)"
        if last:
            msg += f": {_termination(last)}"
        return Cause(R_INIT_FAILED if init else R_CRASH_LOOP, msg, True, RANK_INIT if init else RANK_CRASH)
    if terminated and _int(terminated.get("exitCode")) not in (None, 0):
        msg = f"{what} in pod {pod} exited: {_termination(terminated)}"
        return Cause(R_INIT_FAILED if init else R_CONTAINER_EXITED, msg, init, RANK_INIT if init else RANK_EXITED)
    last = _d(_d(cs.get("lastState")).get("terminated"))
    if not init and running is not None and cs.get("ready") is False and _int(last.get("exitCode")) not in (None, 0):
        # between two back-offs of a crash loop the kubelet runs the container again: the same
        # cause and message as while it waits, so the status does not flap Failed/Pending
        return Cause(R_CRASH_LOOP, f"{what} in pod {pod} is crash-looping (CrashLoopBackOff): {_termination(last)}",
                     True, RANK_CRASH)
    if not init and running is not None and cs.get("ready") is False:
        probe = spec_container.get("readinessProbe")
        if probe:
            return Cause(R_PROBE_FAILING, f"{what} in pod {pod} is running but not ready yet: waiting for its "
                                          f"readiness probe ({probe_text(probe)}) to succeed", False, RANK_NOT_READY)
        return Cause(R_NOT_READY, f"{what} in pod {pod} is running but not ready yet", False, RANK_NOT_READY)
    return None


def pod_causes(pod: dict) -> list[Cause]:
    """Every cause one pod shows, in container order (init containers first)."""
    meta, spec, status = _d(pod.get("metadata")), _d(pod.get("spec")), _d(pod.get("status"))
    name = meta.get("name") or "?"
    if meta.get("deletionTimestamp") or status.get("phase") in ("Succeeded", "Failed"):
        return []
    out: list[Cause] = []
    for c in _l(status.get("conditions")):
        c = _d(c)
        if c.get("type") == "PodScheduled" and c.get("status") == "False" and c.get("reason") == "Unschedulable":
            detail = _clip(c.get("message") or "no node fits")
            out.append(Cause(R_UNSCHEDULABLE, f"pod {name} cannot be scheduled: {detail}", False, RANK_UNSCHEDULABLE))
    for init, statuses_key, spec_key in ((True, "initContainerStatuses", "initContainers"),
                                         (False, "containerStatuses", "containers")):
        specs = {_d(c).get("name"): _d(c) for c in _l(spec.get(spec_key))}
        for cs in _l(status.get(statuses_key)):
            cs = _d(cs)
            cause = _container_cause(name, cs, specs.get(cs.get("name"), {}), init)
            if cause is not None:
                out.append(cause)
    return out


def first_cause(pods: list[dict] | None) -> Cause | None:
    """The cause to report: lowest rank, then pod name, then container order. Message bounded."""
    best: tuple | None = None
    for pod in sorted((p for p in pods or [] if isinstance(p, dict)),
                      key=lambda p: str(_d(p.get("metadata")).get("name"))):
        for i, cause in enumerate(pod_causes(pod)):
            key = (cause.rank, str(_d(pod.get("metadata")).get("name")), i)
            if best is None or key < best[0]:
                best = (key, cause)
    if best is None:
        return None
    c = best[1]
    return Cause(c.reason, _clip(c.message, MAX_CAUSE), c.fatal, c.rank)
