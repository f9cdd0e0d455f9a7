"""What every tool module shares: annotations, argument types, the result builder, name checks."""

import json
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from .. import shape

READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
CREATE = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)
DELETE = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False)

PodName = Annotated[str, Field(description="Pod name (DNS-1123 subdomain, e.g. 'web-7d4b9').", max_length=253)]
Namespace = Annotated[str, Field(description="Namespace (defaults to the server's default namespace, usually 'default').", max_length=63)]
Cursor = Annotated[str | None, Field(description="nextCursor from a previous call with the same arguments, to get the next page.")]


def result(model: BaseModel | dict[str, Any], text: str | None = None, budget: int | None = None) -> CallToolResult:
    """structuredContent (the model or plain data, None fields dropped) plus a compact text rendering.

    The SDK's default text block is the same JSON indented by 2, which roughly doubles what a
    model has to read; compact JSON (or, for logs, the log text itself) keeps within the budget.
    Tools declare ``Annotated[CallToolResult, Model]``: the SDK publishes Model's outputSchema and
    validates structuredContent against Model on every call, so hot tools (list-pods) pass plain
    dicts here instead of building the model twice. ``budget``: bytes for the whole output
    (``within_budget``), measured on the one serialization that becomes the text block.
    """
    if isinstance(model, BaseModel):
        data = model.model_dump(mode="json", exclude_none=True)
    else:
        data = {k: v for k, v in model.items() if v is not None}
    if text is None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        if budget is not None and len(text) > budget // 4 and len(text.encode()) > budget:  # chars <= bytes <= 4*chars
            data = within_budget(data, budget)
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    elif budget is not None:
        data = within_budget(data, budget)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def check_name(value: str, what: str = "name") -> str:
    """A stripped DNS-1123 subdomain, or ToolError saying what is wrong and what would do."""
    value = (value or "").strip()
    problem = shape.check_dns1123_subdomain(value, what)
    if problem:
        raise ToolError(problem)
    return value


BUDGET_RESERVE = 600  # bytes kept for the notice and the flag added after the cut


def within_budget(data: dict[str, Any], budget: int) -> dict[str, Any]:
    """``data`` fitted to ``budget`` bytes as a whole (``shape.fit_object``), with ``truncated``
    set and a notice saying what was cut; unchanged when it fits. Every tool's structuredContent
    passes here, so no field (env, annotations, events) escapes the budget."""
    fitted, cut = shape.fit_object(data, budget - BUDGET_RESERVE, protect=("name", "namespace", "notice", "nextCursor"))
    if not cut:
        return data
    fitted["truncated"] = True
    cut_notice = (
        f"Output cut to the {budget}-byte budget: long values end with '…' and long lists keep their first "
        "items. Ask for less (a selector, fewer events, one container) to see the rest."
    )
    fitted["notice"] = f"{data['notice']} {cut_notice}" if data.get("notice") else cut_notice
    return fitted
