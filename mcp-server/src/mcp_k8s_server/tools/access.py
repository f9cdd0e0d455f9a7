"""can-i: may the caller do a verb on a resource? A SelfSubjectAccessReview made as the caller
(impersonated in an identity mode; the server's own identity otherwise), so the answer is the
API server's authorizer's, the same one ``kubectl auth can-i --as <caller>`` gets.

Resource syntax follows kubectl: ``pods``, ``pods/log``, ``deployments.apps``,
``deployments.apps/scale``, or a non-resource URL such as ``/healthz``. Without API discovery,
kubectl's short names and singulars are resolved from a table of the built-in kinds (below);
anything else is taken literally (plural, group after the first dot).
"""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from .. import shape
from ..auth import caller as callers
from ..auth import reviews
from ..deps import Deps
from .common import READ, result

# kubectl's names for built-in resources -> (plural, group); cluster-scoped ones are marked below
_BUILTIN: dict[str, tuple[str, str]] = {}
for _names, _group in (
    (("pods po pod", "services svc service", "configmaps cm configmap", "secrets secret", "events ev event",
      "namespaces ns namespace", "nodes no node", "serviceaccounts sa serviceaccount",
      "persistentvolumeclaims pvc persistentvolumeclaim", "persistentvolumes pv persistentvolume",
      "endpoints ep", "resourcequotas quota resourcequota", "limitranges limits limitrange",
      "replicationcontrollers rc replicationcontroller"), ""),
    (("deployments deploy deployment", "replicasets rs replicaset", "statefulsets sts statefulset",
      "daemonsets ds daemonset", "controllerrevisions controllerrevision"), "apps"),
    (("jobs job", "cronjobs cj cronjob"), "batch"),
    (("ingresses ing ingress", "networkpolicies netpol networkpolicy", "ingressclasses ingressclass"), "networking.k8s.io"),
    (("roles role", "rolebindings rolebinding", "clusterroles clusterrole", "clusterrolebindings clusterrolebinding"),
     "rbac.authorization.k8s.io"),
    (("horizontalpodautoscalers hpa horizontalpodautoscaler",), "autoscaling"),
    (("poddisruptionbudgets pdb poddisruptionbudget",), "policy"),
    (("storageclasses sc storageclass",), "storage.k8s.io"),
    (("customresourcedefinitions crd crds customresourcedefinition",), "apiextensions.k8s.io"),
    (("mcpservers mcpserver",), "mcp.example.com"),
):
    for _line in _names:
        _plural, *_aliases = _line.split()
        for _n in (_plural, *_aliases):
            _BUILTIN[_n] = (_plural, _group)
CLUSTER_SCOPED = {"namespaces", "nodes", "persistentvolumes", "clusterroles", "clusterrolebindings",
                  "storageclasses", "customresourcedefinitions", "ingressclasses"}
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "impersonate",
         "bind", "escalate", "use", "approve", "sign", "*")


class CanIAnswer(BaseModel):
    allowed: bool
    verb: str
    resource: str | None = None
    group: str | None = None
    subresource: str | None = None
    namespace: str | None = Field(None, description="Absent for cluster-scoped resources and non-resource URLs.")
    name: str | None = None
    nonResourceURL: str | None = None
    subject: str = Field(description="Whose permissions were checked: the caller, or this server's own identity.")
    reason: str | None = Field(None, description="The authorizer's explanation, when it gives one.")
    evaluationError: str | None = None


def parse_resource(text: str) -> tuple[str, str, str]:
    """``resource[.group][/subresource]`` -> (plural, group, subresource), kubectl style."""
    head, _, sub = text.strip().partition("/")
    plural, dot, group = head.partition(".")
    plural = plural.lower()
    if not dot and plural in _BUILTIN:
        plural, group = _BUILTIN[plural]
    elif dot and plural in _BUILTIN and _BUILTIN[plural][1] == group:
        plural = _BUILTIN[plural][0]
    return plural, group, sub


def register(mcp: MCPServer, deps: Deps) -> None:
    @mcp.tool(
        name="can-i",
        title="Check a permission",
        annotations=READ,
        description=(
            "Ask the Kubernetes API server whether you may do a verb on a resource (kubectl auth can-i). "
            "resource is kubectl-style: 'pods', 'pods/log', 'deployments.apps', 'secrets', or a non-resource "
            "URL such as '/healthz'. Check before an action that may be forbidden."
        ),
    )
    async def can_i(
        verb: Annotated[str, Field(description="Kubernetes verb: get, list, watch, create, update, patch, delete, deletecollection, ... or '*'.", max_length=32)],
        resource: Annotated[str, Field(description="'pods', 'pods/log', 'deployments.apps', 'deployments.apps/scale', or a URL path like '/healthz'.", max_length=253)],
        namespace: Annotated[str | None, Field(description="Namespace (default: the server's default namespace; ignored for cluster-scoped resources).", max_length=63)] = None,
        name: Annotated[str | None, Field(description="One object's name, when the permission may depend on it.", max_length=253)] = None,
    ) -> Annotated[CallToolResult, CanIAnswer]:
        with deps.observe("can-i"):
            verb = verb.strip().lower()
            if verb not in VERBS:
                raise ToolError(f"verb {verb!r} is not a Kubernetes verb; use one of: {', '.join(VERBS)}.")
            who = callers.current()
            subject = who.username if who else "this MCP server's own ServiceAccount"
            if resource.strip().startswith("/"):
                attrs: dict = {"verb": verb, "path": resource.strip()}
                status = await reviews.self_subject_access_review(deps.kube, attrs, True)
                answer = CanIAnswer(allowed=bool(status.get("allowed")), verb=verb, nonResourceURL=attrs["path"],
                                    subject=subject, reason=status.get("reason") or None,
                                    evaluationError=status.get("evaluationError") or None)
                return result(answer)
            plural, group, sub = parse_resource(resource)
            problem = shape.check_dns1123_subdomain(plural, "resource") if plural != "*" else None
            if problem:
                raise ToolError(problem + " Examples: 'pods', 'pods/log', 'deployments.apps'.")
            attrs = {"verb": verb, "resource": plural, "group": group}
            if sub:
                attrs["subresource"] = sub
            if name:
                attrs["name"] = name.strip()
            ns = None
            if plural not in CLUSTER_SCOPED:
                ns = deps.check_namespace(namespace or "")  # the server's allowlist applies here too
                attrs["namespace"] = ns
            status = await reviews.self_subject_access_review(deps.kube, attrs, False)
            answer = CanIAnswer(
                allowed=bool(status.get("allowed")), verb=verb, resource=plural, group=group or None,
                subresource=sub or None, namespace=ns, name=attrs.get("name"), subject=subject,
                reason=status.get("reason") or None, evaluationError=status.get("evaluationError") or None,
            )
            return result(answer)
