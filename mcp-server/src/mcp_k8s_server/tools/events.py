"""list-events: events of a namespace, narrowed to one object, a type or any field selector."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult
from pydantic import Field

from .. import shape
from ..deps import Deps
from .common import READ, Cursor, Namespace, check_name, result
from .models import EventList, EventSummary
from .paging import list_page


def register(mcp: MCPServer, deps: Deps) -> None:
    s = deps.settings
    kube = deps.kube

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
    ) -> Annotated[CallToolResult, EventList]:
        with deps.observe("list-events"):
            ns = deps.check_namespace(namespace)
            selectors = []
            if objectName:
                selectors.append(f"involvedObject.name={check_name(objectName, 'objectName')}")
            if objectKind:
                if not objectKind.isalnum():
                    raise ToolError(f"objectKind {objectKind!r} must be a Kubernetes kind such as 'Pod' or 'Deployment'.")
                selectors.append(f"involvedObject.kind={objectKind}")
            if type:
                selectors.append(f"type={type}")
            if fieldSelector:
                selectors.append(fieldSelector)
            fs = ",".join(selectors) or None
            now = datetime.now(UTC)
            pg = await list_page(
                lambda cont: kube.list_events(ns, field_selector=fs, limit=limit, continue_token=cont),
                lambda e: shape.event_summary(e, now),
                fingerprint=shape.query_fingerprint("events", ns, fs, limit),
                cursor=cursor,
                budget=s.max_output_bytes,
            )
            return result(budget=s.max_output_bytes, model=EventList(
                namespace=ns,
                events=[EventSummary(**e) for e in pg.items],
                count=len(pg.items),
                nextCursor=pg.next_cursor,
                truncated=pg.notice is not None,
                notice=pg.notice,
            ))
