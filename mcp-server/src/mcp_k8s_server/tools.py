"""The MCP tools. Each one validates its input, calls ``kube``, then ``shape``s the answer.

Every tool carries annotations (read-only / destructive / idempotent) and returns a pydantic model,
so clients get an outputSchema and structuredContent. Write tools are not registered at all in
read-only mode. Errors reach the model as tool errors (isError) with a message it can act on.
"""


import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from . import shape
from .deps import Deps
from .kube import KubeError

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
CREATE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

WRITE_TOOLS = ("create-pod", "delete-pod")
LOG_FETCH_CAP = 8 * 1024 * 1024  # bytes read from the API server for one get-pod-logs call, at most
READ_TOOLS = ("list-pods", "describe-pod", "list-events", "get-pod-logs")

PodName = Annotated[str, Field(description="Pod name (DNS-1123 subdomain, e.g. 'web-7d4b9').", max_length=253)]
Namespace = Annotated[str, Field(description="Namespace (defaults to the server's default namespace, usually 'default').", max_length=63)]
Cursor = Annotated[str | None, Field(description="nextCursor from a previous call with the same arguments, to get the next page.")]


# -- output models --------------------------------------------------------------------------
class PodSummary(BaseModel):
    name: str
    namespace: str
    phase: str | None = None
    ready: bool
    readyContainers: str
    restarts: int
    age: str | None = None
    created: str | None = None
    node: str | None = None
    reason: str | None = Field(None, description="Why the pod is not healthy, when known (e.g. CrashLoopBackOff).")


class PodList(BaseModel):
    namespace: str
    pods: list[PodSummary]
    count: int = Field(description="Pods in this page.")
    remainingItemCount: int | None = Field(None, description="Pods after this page, when the API server knows.")
    nextCursor: str | None = Field(None, description="Pass as cursor to get the next page; absent on the last page.")
    truncated: bool = False
    notice: str | None = None


class EventSummary(BaseModel):
    type: str | None = None
    reason: str | None = None
    object: str
    message: str
    count: int
    lastSeen: str | None = None
    age: str | None = None


class EventList(BaseModel):
    namespace: str
    events: list[EventSummary]
    count: int
    nextCursor: str | None = None
    truncated: bool = False
    notice: str | None = None


class EnvVar(BaseModel):
    name: str | None = None
    value: str | None = None
    source: str | None = None


class ContainerState(BaseModel):
    state: str = Field(description="running | waiting | terminated | unknown")
    reason: str | None = None
    message: str | None = None
    exitCode: int | None = None
    startedAt: str | None = None
    finishedAt: str | None = None


class ContainerInfo(BaseModel):
    name: str
    image: str | None = None
    init: bool = False
    ready: bool = False
    restartCount: int = 0
    state: ContainerState | None = None
    lastState: ContainerState | None = None
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    ports: list[str] = []
    env: list[EnvVar] = []
    envFrom: list[str] = []


class Condition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None


class Volume(BaseModel):
    name: str | None = None
    type: str
    source: str | None = None


class PodDescription(BaseModel):
    name: str
    namespace: str
    uid: str | None = None
    phase: str | None = None
    reason: str | None = None
    message: str | None = None
    node: str | None = None
    podIP: str | None = None
    qosClass: str | None = None
    serviceAccount: str | None = None
    created: str | None = None
    age: str | None = None
    labels: dict[str, str] = {}
    ownerReferences: list[str] = []
    conditions: list[Condition] = []
    containers: list[ContainerInfo] = []
    volumes: list[Volume] = []
    events: list[EventSummary] = Field([], description="Most recent events for this pod, newest first.")
    notice: str | None = None


class PodLogs(BaseModel):
    pod: str
    namespace: str
    container: str | None = None
    previous: bool = False
    tailLines: int
    lines: int
    bytes: int
    truncated: bool = False
    notice: str | None = None
    logs: str


class PodCreated(BaseModel):
    name: str
    namespace: str
    uid: str | None = None
    image: str
    phase: str | None = None
    message: str


class PodDeleted(BaseModel):
    name: str
    namespace: str
    uid: str | None = None
    message: str


# -- helpers ---------------------------------------------------------------------------------
def result(model: BaseModel, text: str | None = None) -> CallToolResult:
    """structuredContent (the model, None fields dropped) plus a compact text rendering.

    The SDK's default text block is the same JSON indented by 2, which roughly doubles what a
    model has to read; compact JSON (or, for logs, the log text itself) keeps within the budget.
    """
    data = model.model_dump(mode="json", exclude_none=True)
    if text is None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def _check_name(value: str, what: str = "name") -> str:
    value = (value or "").strip()
    problem = shape.check_dns1123_subdomain(value, what)
    if problem:
        raise ToolError(problem)
    return value


def _state(s: dict[str, Any] | None) -> ContainerState | None:
    if not s:
        return None
    for key in ("running", "waiting", "terminated"):
        if key in s and s[key] is not None:
            d = s[key] or {}
            return ContainerState(
                state=key,
                reason=d.get("reason"),
                message=(d.get("message") or None) and str(d.get("message"))[:500],
                exitCode=d.get("exitCode"),
                startedAt=d.get("startedAt"),
                finishedAt=d.get("finishedAt"),
            )
    return ContainerState(state="unknown")


def _containers(pod: dict[str, Any]) -> list[ContainerInfo]:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    by_name = {c.get("name"): c for c in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or [])}
    out = []
    for init, cs in [(True, c) for c in spec.get("initContainers") or []] + [(False, c) for c in spec.get("containers") or []]:
        st = by_name.get(cs.get("name")) or {}
        res = cs.get("resources") or {}
        out.append(
            ContainerInfo(
                name=cs.get("name"),
                image=cs.get("image"),
                init=init,
                ready=bool(st.get("ready")),
                restartCount=int(st.get("restartCount") or 0),
                state=_state(st.get("state")),
                lastState=_state(st.get("lastState")),
                requests={k: str(v) for k, v in (res.get("requests") or {}).items()},
                limits={k: str(v) for k, v in (res.get("limits") or {}).items()},
                ports=[f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}" + (f" ({p['name']})" if p.get("name") else "") for p in cs.get("ports") or []],
                env=[EnvVar(**e) for e in shape.redact_env(cs.get("env"))],
                envFrom=shape.redact_env_from(cs.get("envFrom")),
            )
        )
    return out


def container_name(pod_name: str) -> str:
    """The seed names the container after the pod; container names are DNS-1123 labels (no dots, 63)."""
    return pod_name.replace(".", "-")[:63].strip("-") or "main"


def pod_manifest(name: str, image: str) -> dict[str, Any]:
    """The seed's pod (requests 100m/128Mi, limits 500m/512Mi, label created-by) with a restricted
    security context (Pod Security Standard 'restricted')."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"created-by": "mcp-server"}},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": container_name(name),
                    "image": image,
                    "resources": {
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                        "limits": {"cpu": "500m", "memory": "512Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsNonRoot": True,
                        "readOnlyRootFilesystem": True,
                    },
                }
            ],
        },
    }


# -- registration ----------------------------------------------------------------------------
def register(mcp: MCPServer, deps: Deps) -> None:
    s = deps.settings
    kube = deps.kube

    @mcp.tool(
        name="list-pods",
        title="List pods",
        annotations=READ,
        description=(
            "List pods in a namespace as compact summaries (phase, ready, restarts, age, node, reason). "
            "Filter with Kubernetes label selectors (e.g. 'app=web,tier!=cache') and field selectors "
            "(e.g. 'status.phase=Running', 'spec.nodeName=node-1'). Results are paged: when nextCursor is "
            "present, call again with the same arguments plus cursor."
        ),
    )
    async def list_pods(
        namespace: Namespace = s.default_namespace,
        labelSelector: Annotated[str | None, Field(description="Label selector, e.g. 'app=web'.", max_length=1024)] = None,
        fieldSelector: Annotated[str | None, Field(description="Field selector, e.g. 'status.phase!=Running'.", max_length=1024)] = None,
        limit: Annotated[int, Field(ge=1, le=s.max_page_size, description=f"Page size (1-{s.max_page_size}).")] = s.default_page_size,
        cursor: Cursor = None,
    ) -> PodList:
        with deps.observe("list-pods"):
            ns = deps.check_namespace(namespace)
            fp = shape.query_fingerprint("pods", ns, labelSelector, fieldSelector, limit)
            cont, after = _decode(cursor, fp)
            now = datetime.now(UTC)
            while True:
                data = await deps.run(
                    kube.list_pods, ns, label_selector=labelSelector, field_selector=fieldSelector, limit=limit, continue_token=cont
                )
                meta = data.get("metadata") or {}
                items = data.get("items") or []
                pods, nxt, notice = shape.page(
                    items,
                    lambda p: shape.pod_summary(p, now),
                    after=after,
                    used_continue=cont,
                    next_continue=meta.get("continue"),
                    fingerprint=fp,
                    budget=s.max_output_bytes,
                )
                if pods or not meta.get("continue"):
                    break
                cont, after = meta.get("continue"), None  # the rest of this page was already returned
            return result(PodList(
                namespace=ns,
                pods=[PodSummary(**p) for p in pods],
                count=len(pods),
                remainingItemCount=meta.get("remainingItemCount"),
                nextCursor=nxt,
                truncated=notice is not None,
                notice=notice,
            ))

    @mcp.tool(
        name="describe-pod",
        title="Describe a pod",
        annotations=READ,
        description=(
            "Details of one pod: phase, conditions, each container's state/last state/restarts/resources, "
            "volumes, and its most recent events. Environment values from Secrets are never shown."
        ),
    )
    async def describe_pod(
        name: PodName,
        namespace: Namespace = s.default_namespace,
        events: Annotated[int, Field(ge=0, le=50, description="How many recent events to include (0-50).")] = 10,
    ) -> PodDescription:
        with deps.observe("describe-pod"):
            ns = deps.check_namespace(namespace)
            name = _check_name(name)
            pod = await deps.run(kube.read_pod, ns, name)
            meta = shape.strip_metadata(pod.get("metadata"))
            status = pod.get("status") or {}
            spec = pod.get("spec") or {}
            now = datetime.now(UTC)
            recent: list[dict[str, Any]] = []
            notice = None
            if events:
                try:
                    ev = await deps.run(
                        kube.list_events, ns, field_selector=f"involvedObject.name={name},involvedObject.kind=Pod", limit=500
                    )
                    recent = [shape.event_summary(e, now) for e in shape.sort_events_recent_first(ev.get("items") or [])[:events]]
                except KubeError as exc:  # events are a bonus: describe the pod anyway
                    notice = f"Events unavailable: {exc}"
            desc = PodDescription(
                name=meta.get("name", name),
                namespace=ns,
                uid=meta.get("uid"),
                phase=status.get("phase"),
                reason=status.get("reason"),
                message=status.get("message"),
                node=spec.get("nodeName"),
                podIP=status.get("podIP"),
                qosClass=status.get("qosClass"),
                serviceAccount=spec.get("serviceAccountName"),
                created=meta.get("creationTimestamp"),
                age=shape.humanize_age(meta.get("creationTimestamp"), now),
                labels=meta.get("labels") or {},
                ownerReferences=[f"{o.get('kind')}/{o.get('name')}" for o in meta.get("ownerReferences") or []],
                conditions=[
                    Condition(type=c.get("type"), status=c.get("status"), reason=c.get("reason"), message=c.get("message"))
                    for c in status.get("conditions") or []
                ],
                containers=_containers(pod),
                volumes=[Volume(**shape.volume_summary(v)) for v in spec.get("volumes") or []],
                events=[EventSummary(**e) for e in recent],
                notice=notice,
            )
            while shape.json_size(desc.model_dump(exclude_none=True)) > s.max_output_bytes and desc.events:
                desc.events = desc.events[: len(desc.events) // 2]
                desc.notice = f"Output trimmed to the {s.max_output_bytes}-byte budget (events shortened); use list-events for more."
            return result(desc)

    @mcp.tool(
        name="list-events",
        title="List events",
        annotations=READ,
        description=(
            "List events in a namespace (warnings first-class: pass type='Warning'). Narrow to one object "
            "with objectName (and objectKind), or any field selector. Paged like list-pods."
        ),
    )
    async def list_events(
        namespace: Namespace = s.default_namespace,
        objectName: Annotated[str | None, Field(description="Only events about the object with this name.", max_length=253)] = None,
        objectKind: Annotated[str | None, Field(description="Only events about objects of this kind, e.g. 'Pod'.", max_length=63)] = None,
        type: Annotated[Literal["Normal", "Warning"] | None, Field(description="Only 'Normal' or 'Warning' events.")] = None,
        fieldSelector: Annotated[str | None, Field(description="Extra field selector, e.g. 'reason=BackOff'.", max_length=1024)] = None,
        limit: Annotated[int, Field(ge=1, le=s.max_page_size, description=f"Page size (1-{s.max_page_size}).")] = s.default_page_size,
        cursor: Cursor = None,
    ) -> EventList:
        with deps.observe("list-events"):
            ns = deps.check_namespace(namespace)
            selectors = []
            if objectName:
                selectors.append(f"involvedObject.name={_check_name(objectName, 'objectName')}")
            if objectKind:
                if not objectKind.isalnum():
                    raise ToolError(f"objectKind {objectKind!r} must be a Kubernetes kind such as 'Pod' or 'Deployment'.")
                selectors.append(f"involvedObject.kind={objectKind}")
            if type:
                selectors.append(f"type={type}")
            if fieldSelector:
                selectors.append(fieldSelector)
            fs = ",".join(selectors) or None
            fp = shape.query_fingerprint("events", ns, fs, limit)
            cont, after = _decode(cursor, fp)
            now = datetime.now(UTC)
            while True:
                data = await deps.run(kube.list_events, ns, field_selector=fs, limit=limit, continue_token=cont)
                meta = data.get("metadata") or {}
                events, nxt, notice = shape.page(
                    data.get("items") or [],
                    lambda e: shape.event_summary(e, now),
                    after=after,
                    used_continue=cont,
                    next_continue=meta.get("continue"),
                    fingerprint=fp,
                    budget=s.max_output_bytes,
                )
                if events or not meta.get("continue"):
                    break
                cont, after = meta.get("continue"), None
            return result(EventList(
                namespace=ns,
                events=[EventSummary(**e) for e in events],
                count=len(events),
                nextCursor=nxt,
                truncated=notice is not None,
                notice=notice,
            ))

    @mcp.tool(
        name="get-pod-logs",
        title="Get pod logs",
        annotations=READ,
        description=(
            "The most recent log lines of a pod's container (default: last 100 lines), capped at a byte "
            "budget; when cut, the newest lines are kept and a notice says so. For a restarted container "
            "pass previous=true to see the crashed instance's logs."
        ),
    )
    async def get_pod_logs(
        name: PodName,
        namespace: Namespace = s.default_namespace,
        container: Annotated[str | None, Field(description="Container name; required when the pod has several.", max_length=63)] = None,
        tailLines: Annotated[int, Field(ge=1, le=10000, description="How many of the last lines to fetch (1-10000).")] = s.log_tail_lines,
        limitBytes: Annotated[int | None, Field(ge=1, le=s.max_log_bytes, description=f"Byte cap for the returned text (at most {s.max_log_bytes}).")] = None,
        previous: Annotated[bool, Field(description="Logs of the previous (crashed/restarted) container instance.")] = False,
    ) -> PodLogs:
        with deps.observe("get-pod-logs"):
            ns = deps.check_namespace(namespace)
            name = _check_name(name)
            if container:
                problem = shape.check_dns1123_label(container, "container")
                if problem:
                    raise ToolError(problem)
            budget = limitBytes or s.max_log_bytes
            # The API server's limitBytes keeps the *start* of the tail window, so it cannot give us the
            # newest lines within a budget. Fetch the whole tail window (with a hard safety cap), then
            # keep the newest whole lines within our budget.
            text = await deps.run(
                kube.read_pod_log, ns, name, container=container, tail_lines=tailLines, limit_bytes=LOG_FETCH_CAP, previous=previous
            )
            server_cut = len(text.encode("utf-8")) >= LOG_FETCH_CAP
            text, cut = shape.cut_log(text, budget)
            notice = None
            if server_cut:
                notice = (
                    f"The last {tailLines} lines exceed {LOG_FETCH_CAP // (1024 * 1024)} MiB; older lines were shown. "
                    "Ask for fewer tailLines to see the newest ones."
                )
            elif cut:
                notice = (
                    f"Log output truncated to the newest lines within {budget} bytes; ask for fewer tailLines "
                    "or a larger limitBytes to see more."
                )
            out = PodLogs(
                pod=name,
                namespace=ns,
                container=container,
                previous=previous,
                tailLines=tailLines,
                lines=text.count("\n") + (1 if text and not text.endswith("\n") else 0),
                bytes=len(text.encode("utf-8")),
                truncated=bool(notice),
                notice=notice,
                logs=text,
            )
            header = f"Logs of pod {name!r} in namespace {ns!r}" + (f", container {container!r}" if container else "")
            header += f" ({out.lines} lines{', previous instance' if previous else ''})"
            return result(out, header + (f"\nNOTICE: {notice}" if notice else "") + ":\n" + text)

    if s.read_only:
        return

    @mcp.tool(
        name="create-pod",
        title="Create a pod",
        annotations=CREATE,
        description=(
            "Create a single-container pod running an image, with requests 100m CPU/128Mi, limits 500m/512Mi, "
            "the label created-by=mcp-server and a restricted security context (non-root, no privilege "
            "escalation, all capabilities dropped, read-only root filesystem)."
        ),
    )
    async def create_pod(
        name: PodName,
        image: Annotated[str, Field(description="Container image reference, e.g. 'nginx:1.27' or 'ghcr.io/org/app@sha256:...'.", max_length=512)],
        namespace: Namespace = s.default_namespace,
    ) -> PodCreated:
        with deps.observe("create-pod"):
            ns = deps.check_namespace(namespace)
            name = _check_name(name)
            image = (image or "").strip()
            problem = shape.check_image(image)
            if problem:
                raise ToolError(problem)
            pod = await deps.run(kube.create_pod, ns, pod_manifest(name, image))
            meta = pod.get("metadata") or {}
            return result(PodCreated(
                name=meta.get("name", name),
                namespace=ns,
                uid=meta.get("uid"),
                image=image,
                phase=(pod.get("status") or {}).get("phase"),
                message=f"Created pod {name!r} in namespace {ns!r} with image {image!r}.",
            ))

    @mcp.tool(
        name="delete-pod",
        title="Delete a pod",
        annotations=DELETE,
        description=(
            "Delete a pod. A pod owned by a Deployment/ReplicaSet is replaced by its controller; "
            "deleting it is how you restart it."
        ),
    )
    async def delete_pod(
        name: PodName,
        namespace: Namespace = s.default_namespace,
        gracePeriodSeconds: Annotated[int | None, Field(ge=0, le=3600, description="Seconds to let the pod stop gracefully (default: the pod's own).")] = None,
    ) -> PodDeleted:
        with deps.observe("delete-pod"):
            ns = deps.check_namespace(namespace)
            name = _check_name(name)
            data = await deps.run(kube.delete_pod, ns, name, gracePeriodSeconds)
            uid = (data.get("metadata") or {}).get("uid") if data.get("kind") == "Pod" else (data.get("details") or {}).get("uid")
            return result(PodDeleted(name=name, namespace=ns, uid=uid, message=f"Deleted pod {name!r} from namespace {ns!r}."))


def _decode(cursor: str | None, fp: str) -> tuple[str | None, str | None]:
    if not cursor:
        return None, None
    try:
        return shape.decode_cursor(cursor, fp)
    except shape.CursorError as exc:
        raise ToolError(str(exc)) from None
