"""Output models of the tools: what each tool really returns (its outputSchema / structuredContent).

Field names follow the Kubernetes API's camelCase, so a model reading them can map them to
kubectl output and API fields.
"""

from typing import Any

from pydantic import BaseModel, Field


class PodSummary(BaseModel):
    """One pod as ``kubectl get pods -o wide`` shows it (the API server's own pod printer)."""

    name: str
    namespace: str
    status: str | None = Field(None, description="kubectl's STATUS (e.g. Running, Init:1/2, Init:CrashLoopBackOff, Terminating).")
    ready: bool = Field(description="Every container ready.")
    readyContainers: str = Field(description="Ready containers / containers, as kubectl's READY (sidecars included).")
    restarts: int = Field(description="As kubectl's RESTARTS: init containers' while the pod initializes, then containers' and sidecars'.")
    lastRestart: str | None = Field(None, description="How long ago the last restart happened, as kubectl shows it (e.g. '5m ago').")
    age: str | None = None
    ip: str | None = None
    node: str | None = None
    reason: str | None = Field(None, description="STATUS when it says why the pod is not plainly Running/Completed/Pending (e.g. CrashLoopBackOff).")


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
    status: str | None = Field(None, description="kubectl's STATUS for this pod (its printPod rule).")
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
    defaultContainer: str | None = Field(None, description="The container kubectl picks when none is named (annotation kubectl.kubernetes.io/default-container).")
    events: list[EventSummary] = Field([], description="Most recent events for this pod, newest first.")
    truncated: bool = False
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


class ApiResource(BaseModel):
    name: str = Field(description="Plural resource name, as in kubectl get <name>.")
    shortNames: list[str] = []
    apiVersion: str
    namespaced: bool
    kind: str
    verbs: list[str] = []
    categories: list[str] = []


class ApiResourceList(BaseModel):
    resources: list[ApiResource]
    count: int
    truncated: bool = False
    notice: str | None = None


class ResourceRow(BaseModel):
    name: str
    namespace: str | None = None
    cells: dict[str, Any] = Field(description="The columns kubectl get shows for this kind (server-side printing), by column name.")


class ResourceList(BaseModel):
    apiVersion: str
    kind: str
    namespace: str | None = Field(None, description="The namespace listed; absent for cluster-scoped kinds and all namespaces.")
    columns: list[str]
    items: list[ResourceRow]
    count: int
    remainingItemCount: int | None = None
    nextCursor: str | None = None
    truncated: bool = False
    notice: str | None = None


class ResourceObject(BaseModel):
    apiVersion: str
    kind: str
    name: str
    namespace: str | None = None
    object: dict[str, Any] = Field(description="The object without managedFields; Secret values, credential-looking env values and annotations, and last-applied configurations redacted.")
    truncated: bool = False
    notice: str | None = None


class NamespaceSummary(BaseModel):
    name: str
    status: str | None = None
    age: str | None = None


class NamespaceList(BaseModel):
    namespaces: list[NamespaceSummary]
    count: int
    truncated: bool = False
    notice: str | None = None
