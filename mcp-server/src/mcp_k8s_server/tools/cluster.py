"""Read tools for any resource kind, custom resources included, named like kubectl's commands:
api-resources, namespaces-list, resources-list (kubectl get), resources-get (kubectl get -o json).

Bounded like the pod tools: lists are paged with the same cursor and cut to the byte budget with
a notice; lists ask the API server for its Table (the columns ``kubectl get`` prints, computed
server-side, also for CRDs' additionalPrinterColumns), never for whole objects. Every object is
redacted (``shape.redact_object``). The namespace allowlist holds: namespaced kinds only in allowed
namespaces, and, when an allowlist is set, no cluster-scoped kinds and no all-namespaces lists.
"""

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from .. import shape
from ..deps import Deps
from ..kube import KubeError, Op
from .common import READ, Cursor, check_name, result
from .models import ApiResource, ApiResourceList, NamespaceList, NamespaceSummary, ResourceList, ResourceObject, ResourceRow
from .paging import list_page

DISCOVERY_TTL = 30.0  # seconds: CRDs installed meanwhile show up within this

ResourceType = Annotated[str, Field(
    description="Resource type as kubectl takes it: plural, singular, short name or kind, optionally with its "
    "group ('pods', 'deploy', 'Deployment', 'deployments.apps', 'mcpservers.mcp.example.com'). See api-resources.",
    max_length=253,
)]
OptNamespace = Annotated[str | None, Field(description="Namespace for namespaced kinds (default: the server's default namespace).", max_length=63)]


class Discovery:
    """API resources from aggregated discovery, cached for DISCOVERY_TTL seconds."""

    def __init__(self, deps: Deps):
        self.deps = deps
        self._at = 0.0
        self._resources: list[dict[str, Any]] = []

    async def resources(self) -> list[dict[str, Any]]:
        if time.monotonic() - self._at < DISCOVERY_TTL and self._resources:
            return self._resources
        out = []
        for group in await self.deps.kube.discovery():
            gname = (group.get("metadata") or {}).get("name") or ""
            versions = group.get("versions") or []
            if not versions:
                continue
            v = versions[0]  # aggregated discovery lists versions by preference
            gv = f"{gname}/{v['version']}" if gname else v["version"]
            for r in v.get("resources") or []:
                kind = (r.get("responseKind") or {}).get("kind") or ""
                out.append({
                    "name": r.get("resource"), "singular": r.get("singularResource") or "", "shortNames": r.get("shortNames") or [],
                    "apiVersion": gv, "group": gname, "version": v["version"], "namespaced": r.get("scope") == "Namespaced",
                    "kind": kind, "verbs": r.get("verbs") or [], "categories": r.get("categories") or [],
                })
        self._resources, self._at = out, time.monotonic()
        return out

    async def resolve(self, type_: str) -> dict[str, Any]:
        """The resource ``type_`` names, by kubectl's rules; ToolError naming close matches if none."""
        wanted = (type_ or "").strip().lower()
        if not wanted:
            raise ToolError("resourceType must not be empty; e.g. 'pods', 'deployments.apps' or 'mcpservers'. See api-resources.")
        name, _, group = wanted.partition(".")
        resources = await self.resources()

        def matches(r: dict[str, Any], n: str) -> bool:
            return n in (r["name"], r["singular"], r["kind"].lower()) or n in r["shortNames"]

        for cand_name, cand_group in ((wanted, None), (name, group)):
            if cand_group is not None and not group:
                continue
            found = [r for r in resources if matches(r, cand_name) and (cand_group is None or r["group"] == cand_group
                     or f"{r['version']}.{r['group']}" == cand_group)]
            if found:
                found.sort(key=lambda r: (r["group"] != "", r["group"]))  # the core group first, like kubectl
                return found[0]
        close = sorted({r["name"] for r in resources if name[:3] and r["name"].startswith(name[:3])})[:8]
        hint = f" Close: {', '.join(close)}." if close else ""
        raise ToolError(f"resourceType {type_!r} is not served by this cluster.{hint} Call api-resources for the full list.")


def _path(r: dict[str, Any], namespace: str | None, name: str | None = None) -> str:
    base = f"/apis/{r['apiVersion']}" if r["group"] else f"/api/{r['version']}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{r['name']}"
    return base + (f"/{name}" if name else "")


def register(mcp: MCPServer, deps: Deps) -> None:
    s = deps.settings
    kube = deps.kube
    discovery = Discovery(deps)

    def scope(r: dict[str, Any], namespace: str | None, all_namespaces: bool = False) -> str | None:
        """The namespace to use for ``r`` (None: cluster-scoped or all), enforcing the allowlist."""
        if not r["namespaced"]:
            if s.namespaces:
                raise ToolError(f"{r['name']} are cluster-scoped; this server is limited to namespaces {', '.join(s.namespaces)}.")
            return None
        if all_namespaces:
            if s.namespaces:
                raise ToolError(f"allNamespaces is not available: this server is limited to namespaces {', '.join(s.namespaces)}.")
            return None
        return deps.check_namespace(namespace or s.default_namespace)

    @mcp.tool(
        name="api-resources",
        title="List API resource types",
        annotations=READ,
        description=(
            "The resource types this cluster serves, like kubectl api-resources: plural name, short names, "
            "apiVersion, namespaced, kind, verbs; custom resources included. Use a name with resources-list/resources-get."
        ),
    )
    async def api_resources(
        apiGroup: Annotated[str | None, Field(description="Only this API group ('' for the core group, e.g. 'apps').", max_length=253)] = None,
        namespaced: Annotated[bool | None, Field(description="Only namespaced (true) or cluster-scoped (false) types.")] = None,
    ) -> Annotated[CallToolResult, ApiResourceList]:
        with deps.observe("api-resources"):
            rs = [r for r in await discovery.resources()
                  if (apiGroup is None or r["group"] == apiGroup) and (namespaced is None or r["namespaced"] == namespaced)]
            rs.sort(key=lambda r: (r["group"], r["name"]))
            items = [ApiResource(**{k: r[k] for k in ApiResource.model_fields}) for r in rs]
            return result(ApiResourceList(resources=items, count=len(items)), budget=s.max_output_bytes)

    @mcp.tool(
        name="namespaces-list",
        title="List namespaces",
        annotations=READ,
        description="Namespaces this server may read (its allowlist when it has one): name, status (Active/Terminating), age.",
    )
    async def namespaces_list() -> Annotated[CallToolResult, NamespaceList]:
        with deps.observe("namespaces-list"):
            now = datetime.now(UTC)
            try:
                data = await kube.list_namespaces()
                items = [NamespaceSummary(name=(n.get("metadata") or {}).get("name", ""),
                                          status=(n.get("status") or {}).get("phase"),
                                          age=shape.humanize_age((n.get("metadata") or {}).get("creationTimestamp"), now))
                         for n in data.get("items") or []]
                notice = "More than 500 namespaces; only the first 500 are listed." if (data.get("metadata") or {}).get("continue") else None
            except KubeError:
                if not s.namespaces:
                    raise
                items, notice = [], "This server may not list namespaces; showing its allowlist."
                items = [NamespaceSummary(name=n) for n in s.namespaces]
            if s.namespaces:
                known = {i.name for i in items}
                items = [i for i in items if i.name in s.namespaces] + [NamespaceSummary(name=n) for n in s.namespaces if n not in known]
            return result(NamespaceList(namespaces=items, count=len(items), notice=notice), budget=s.max_output_bytes)

    @mcp.tool(
        name="resources-list",
        title="List resources of any kind",
        annotations=READ,
        description=(
            "List objects of any resource type (custom resources included), like kubectl get: one row per object "
            "with the columns kubectl prints for that kind. Filter with label and field selectors. Paged: when "
            "nextCursor is present, call again with the same arguments plus cursor. Use resources-get for one "
            "object in full."
        ),
    )
    async def resources_list(
        resourceType: ResourceType,
        namespace: OptNamespace = None,
        allNamespaces: Annotated[bool, Field(description="List across all namespaces (only without a namespace allowlist).")] = False,
        labelSelector: Annotated[str | None, Field(description="Label selector, e.g. 'app=web'.", max_length=1024)] = None,
        fieldSelector: Annotated[str | None, Field(description="Field selector, e.g. 'metadata.name=web'.", max_length=1024)] = None,
        limit: Annotated[int, Field(ge=1, le=s.max_page_size, description=f"Page size (1-{s.max_page_size}).")] = s.default_page_size,
        cursor: Cursor = None,
    ) -> Annotated[CallToolResult, ResourceList]:
        with deps.observe("resources-list"):
            r = await discovery.resolve(resourceType)
            if "list" not in r["verbs"]:
                raise ToolError(f"{r['name']} cannot be listed (verbs: {', '.join(r['verbs'])}).")
            ns = scope(r, namespace, allNamespaces)
            path = _path(r, ns)
            columns: list[str] = []

            async def fetch(cont: str | None) -> dict[str, Any]:
                table = await kube.list_resource(path, Op("list", r["name"], ns), label_selector=labelSelector,
                                                 field_selector=fieldSelector, limit=limit, continue_token=cont, table=True)
                columns[:] = [c.get("name", "") for c in table.get("columnDefinitions") or []]
                return {"items": table.get("rows") or [], "metadata": table.get("metadata") or {}}

            def row(o: dict[str, Any]) -> dict[str, Any]:
                meta = (o.get("object") or {}).get("metadata") or {}
                cells = dict(zip(columns, o.get("cells") or [], strict=False))
                return {"name": meta.get("name") or str(cells.get("Name", "")), "namespace": meta.get("namespace"), "cells": cells}

            pg = await list_page(
                fetch, row,
                fingerprint=shape.query_fingerprint("resources", r["apiVersion"], r["name"], ns, labelSelector, fieldSelector, limit),
                cursor=cursor, budget=s.max_output_bytes,
                name_of=lambda o: ((o.get("object") or {}).get("metadata") or {}).get("name") or "",
            )
            return result(ResourceList(
                apiVersion=r["apiVersion"], kind=r["kind"], namespace=ns, columns=columns,
                items=[ResourceRow(**i) for i in pg.items], count=len(pg.items),
                remainingItemCount=pg.metadata.get("remainingItemCount"), nextCursor=pg.next_cursor,
                truncated=pg.notice is not None, notice=pg.notice,
            ), budget=s.max_output_bytes)

    @mcp.tool(
        name="resources-get",
        title="Get one resource of any kind",
        annotations=READ,
        description=(
            "One object of any resource type in full, like kubectl get -o json, without managedFields. Secret "
            "values, credential-looking env values and annotations, and last-applied configurations are redacted."
        ),
    )
    async def resources_get(
        resourceType: ResourceType,
        name: Annotated[str, Field(description="Object name.", max_length=253)],
        namespace: OptNamespace = None,
    ) -> Annotated[CallToolResult, ResourceObject]:
        with deps.observe("resources-get"):
            r = await discovery.resolve(resourceType)
            if "get" not in r["verbs"]:
                raise ToolError(f"{r['name']} cannot be read one by one (verbs: {', '.join(r['verbs'])}).")
            ns = scope(r, namespace)
            name = check_name(name)
            obj = shape.redact_object(await kube.get_resource(_path(r, ns, name), Op("get", r["singular"] or r["name"], ns, name)))
            return result(ResourceObject(apiVersion=r["apiVersion"], kind=r["kind"], name=name, namespace=ns, object=obj),
                          budget=s.max_output_bytes)
