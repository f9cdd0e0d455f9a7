"""Pod tools: list-pods, describe-pod, get-pod-logs, and (unless read-only) create-pod, delete-pod."""

from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from .. import shape
from ..deps import Deps
from ..kube import KubeError, KubeInvalid
from .common import CREATE, DELETE, READ, Cursor, Namespace, PodName, check_name, result
from .models import (
    Condition,
    ContainerInfo,
    ContainerState,
    EnvVar,
    EventSummary,
    PodCreated,
    PodDeleted,
    PodDescription,
    PodList,
    PodLogs,
    Volume,
)
from .paging import list_page

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
LOG_FETCH_CAP = 8 * 1024 * 1024  # bytes read from the API server for one get-pod-logs call, at most


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


def default_container(pod: dict[str, Any]) -> tuple[str, str]:
    """(container, notice): kubectl's choice when a command needs one container and none is named.

    The ``kubectl.kubernetes.io/default-container`` annotation when it names a container of the
    pod, else the first container (kubectl: 'Defaulted container "x" out of: x, y').
    """
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    wanted = ((pod.get("metadata") or {}).get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
    if wanted in names:
        return wanted, f"Container {wanted!r} chosen by the pod's {DEFAULT_CONTAINER_ANNOTATION} annotation (containers: {', '.join(names)})."
    if not names:
        raise ToolError("The pod has no containers to read logs from.")
    return names[0], f"Defaulted to container {names[0]!r} out of: {', '.join(names)}; pass container to pick another."


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
            "List pods in a namespace as kubectl get pods shows them (status, ready, restarts, age, IP, node). "
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
    ) -> Annotated[CallToolResult, PodList]:
        with deps.observe("list-pods"):
            ns = deps.check_namespace(namespace)
            async def fetch(cont: str | None) -> dict[str, Any]:
                table = await kube.list_pods(
                    ns, label_selector=labelSelector, field_selector=fieldSelector, limit=limit, continue_token=cont, table=True
                )
                return {"items": shape.table_rows(table), "metadata": table.get("metadata") or {}}

            pg = await list_page(
                fetch,
                lambda row: shape.pod_row(row, ns),
                fingerprint=shape.query_fingerprint("pods", ns, labelSelector, fieldSelector, limit),
                cursor=cursor,
                budget=s.max_output_bytes,
                name_of=lambda row: str(row.get("Name") or ""),
            )
            return result({
                "namespace": ns,
                "pods": pg.items,
                "count": len(pg.items),
                "remainingItemCount": pg.metadata.get("remainingItemCount"),
                "nextCursor": pg.next_cursor,
                "truncated": pg.notice is not None,
                "notice": pg.notice,
            }, budget=s.max_output_bytes)

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
    ) -> Annotated[CallToolResult, PodDescription]:
        with deps.observe("describe-pod"):
            ns = deps.check_namespace(namespace)
            name = check_name(name)
            pod = await kube.read_pod(ns, name)
            meta = shape.strip_metadata(pod.get("metadata"))
            status = pod.get("status") or {}
            spec = pod.get("spec") or {}
            now = datetime.now(UTC)
            recent: list[dict[str, Any]] = []
            notice = None
            if events:
                try:
                    ev = await kube.list_events(ns, field_selector=f"involvedObject.name={name},involvedObject.kind=Pod", limit=500
                    )
                    recent = [shape.event_summary(e, now) for e in shape.sort_events_recent_first(ev.get("items") or [])[:events]]
                except KubeError as exc:  # events are a bonus: describe the pod anyway
                    notice = f"Events unavailable: {exc}"
            desc = PodDescription(
                name=meta.get("name", name),
                namespace=ns,
                uid=meta.get("uid"),
                phase=status.get("phase"),
                status=shape.pod_status(pod)["status"],
                reason=status.get("reason"),
                message=status.get("message"),
                node=spec.get("nodeName"),
                podIP=status.get("podIP"),
                qosClass=status.get("qosClass"),
                serviceAccount=spec.get("serviceAccountName"),
                created=meta.get("creationTimestamp"),
                age=shape.humanize_age(meta.get("creationTimestamp"), now),
                labels=meta.get("labels") or {},
                defaultContainer=(meta.get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION),
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
            return result(desc, budget=s.max_output_bytes)

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
    ) -> Annotated[CallToolResult, PodLogs]:
        with deps.observe("get-pod-logs"):
            ns = deps.check_namespace(namespace)
            name = check_name(name)
            if container:
                problem = shape.check_dns1123_label(container, "container")
                if problem:
                    raise ToolError(problem)
            budget = limitBytes or s.max_log_bytes
            # The API server's limitBytes keeps the *start* of the tail window, so it cannot give us the
            # newest lines within a budget. Fetch the whole tail window (with a hard safety cap), then
            # keep the newest whole lines within our budget.
            defaulted = None
            try:
                text = await kube.read_pod_log(
                    ns, name, container=container, tail_lines=tailLines, limit_bytes=LOG_FETCH_CAP, previous=previous
                )
            except KubeInvalid as exc:
                if container or "container name must be specified" not in str(exc):
                    raise
                # Several containers and none named: pick like kubectl (the default-container annotation,
                # else the first container), and say so. Only on this error, so single-container pods
                # cost one request, not two.
                container, defaulted = default_container(await kube.read_pod(ns, name))
                text = await kube.read_pod_log(
                    ns, name, container=container, tail_lines=tailLines, limit_bytes=LOG_FETCH_CAP, previous=previous
                )
            server_cut = len(text.encode("utf-8")) >= LOG_FETCH_CAP
            text, cut = shape.cut_log(text, budget)
            notice = defaulted
            if server_cut:
                notice = (defaulted + " " if defaulted else "") + (
                    f"The last {tailLines} lines exceed {LOG_FETCH_CAP // (1024 * 1024)} MiB; older lines were shown. "
                    "Ask for fewer tailLines to see the newest ones."
                )
            elif cut:
                notice = (defaulted + " " if defaulted else "") + (
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
                truncated=server_cut or cut,
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
    ) -> Annotated[CallToolResult, PodCreated]:
        with deps.observe("create-pod"):
            ns = deps.check_namespace(namespace)
            name = check_name(name)
            image = (image or "").strip()
            problem = shape.check_image(image)
            if problem:
                raise ToolError(problem)
            pod = await kube.create_pod(ns, pod_manifest(name, image))
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
    ) -> Annotated[CallToolResult, PodDeleted]:
        with deps.observe("delete-pod"):
            ns = deps.check_namespace(namespace)
            name = check_name(name)
            data = await kube.delete_pod(ns, name, gracePeriodSeconds)
            uid = (data.get("metadata") or {}).get("uid") if data.get("kind") == "Pod" else (data.get("details") or {}).get("uid")
            return result(PodDeleted(name=name, namespace=ns, uid=uid, message=f"Deleted pod {name!r} from namespace {ns!r}."))
