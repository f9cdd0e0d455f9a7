"""The prober's only Kubernetes I/O: read and patch one ConfigMap, create Events.

RBAC (rendered by the operator's hook as a Role bound to the pod's ServiceAccount): get and patch
on ``configmaps`` with ``resourceNames: [<server>-inventory]``, create on ``events``. The patch
is a JSON merge patch of ``data`` alone, so the prober's field manager owns only that key and
Metacontroller's apply of the (data-less) ConfigMap it renders leaves it alone, under the 3-way
merge and under server-side apply.
"""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from .inventory import INVENTORY_KEY

log = logging.getLogger("mcp_prober.kube")
FIELD_MANAGER = "mcp-prober"
COMPONENT = "mcp-prober"


def api_client() -> k8s.ApiClient:
    """In-cluster credentials (the projected token the pod mounts for this container only), else
    $KUBECONFIG (the local pod runner)."""
    cfg = k8s.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        k8s_config.load_incluster_config(client_configuration=cfg)
    else:
        k8s_config.load_kube_config(client_configuration=cfg)
    cfg.retries = 1
    api = k8s.ApiClient(cfg)
    api.user_agent = f"{COMPONENT}/0.1"
    return api


@dataclass(frozen=True)
class Owner:
    """The MCPServer, from the inventory ConfigMap's controller ownerReference."""

    api_version: str
    kind: str
    name: str
    uid: str


class InventoryStore:
    def __init__(self, api: k8s.ApiClient, namespace: str, name: str, pod_name: str):
        self.core = k8s.CoreV1Api(api)
        self.namespace, self.name, self.pod_name = namespace, name, pod_name

    def read(self) -> tuple[str | None, Owner | None]:
        """The stored inventory text and the owner; (None, None) when the ConfigMap does not
        exist yet (the operator creates it; the prober never does)."""
        data, owner = self.read_data()
        return (data or {}).get(INVENTORY_KEY), owner

    def read_data(self) -> tuple[dict | None, Owner | None]:
        """All of the ConfigMap's data and its owner; (None, None) when it does not exist."""
        try:
            cm = self.core.read_namespaced_config_map(self.name, self.namespace, _request_timeout=10)
        except ApiException as exc:
            if exc.status == 404:
                return None, None
            raise
        owner = None
        for ref in cm.metadata.owner_references or []:
            if ref.controller:
                owner = Owner(ref.api_version, ref.kind, ref.name, ref.uid)
        return dict(cm.data or {}), owner

    def write(self, text: str) -> None:
        self.patch_data({INVENTORY_KEY: text})

    def patch_data(self, data: dict) -> None:
        """JSON merge patch of ``data`` keys (a None value deletes the key)."""
        body = {"data": data}
        self.core.patch_namespaced_config_map(self.name, self.namespace, body, field_manager=FIELD_MANAGER,
                                              _content_type="application/merge-patch+json", _request_timeout=10)

    def event(self, owner: Owner, reason: str, message: str, type_: str = "Normal") -> None:
        now = datetime.now(timezone.utc)
        ev = k8s.CoreV1Event(
            metadata=k8s.V1ObjectMeta(name=f"{owner.name}.{secrets.token_hex(8)}", namespace=self.namespace),
            involved_object=k8s.V1ObjectReference(api_version=owner.api_version, kind=owner.kind, name=owner.name,
                                                  namespace=self.namespace, uid=owner.uid),
            reason=reason, message=message[:1024], type=type_, count=1,
            first_timestamp=now, last_timestamp=now,
            source=k8s.V1EventSource(component=COMPONENT),
            reporting_component=COMPONENT, reporting_instance=self.pod_name[:128],
        )
        self.core.create_namespaced_event(self.namespace, ev, _request_timeout=10)
