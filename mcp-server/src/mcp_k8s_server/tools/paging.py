"""The one paging loop every list tool uses (pods, events, any resource kind).

A cursor wraps the API server's ``continue`` token plus the last name returned (see
``shape.page``), so a page cut short by the byte budget resumes exactly where it stopped.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from .. import shape


@dataclass
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
    notice: str | None  # set when the byte budget cut the page short
    metadata: dict[str, Any]  # the API list's metadata (remainingItemCount, resourceVersion)


def decode(cursor: str | None, fingerprint: str) -> tuple[str | None, str | None]:
    """(continue token, last name returned) from ``cursor``, or ToolError if it is not ours/for this query."""
    if not cursor:
        return None, None
    try:
        return shape.decode_cursor(cursor, fingerprint)
    except shape.CursorError as exc:
        raise ToolError(str(exc)) from None


async def list_page(
    fetch: Callable[[str | None], Awaitable[dict[str, Any]]],
    summarize: Callable[[Mapping[str, Any]], dict[str, Any]],
    *,
    fingerprint: str,
    cursor: str | None,
    budget: int,
    name_of: Callable[[Mapping[str, Any]], str] | None = None,
) -> Page:
    """One page of summaries within ``budget`` bytes.

    ``fetch(continue_token)`` returns one API list answer. When every item of an API page was
    already returned (the cursor pointed at its last item), the next API page is fetched, so a
    page is empty only at the end of the listing.
    """
    cont, after = decode(cursor, fingerprint)
    while True:
        data = await fetch(cont)
        meta = data.get("metadata") or {}
        items, nxt, notice = shape.page(
            data.get("items") or [],
            summarize,
            after=after,
            used_continue=cont,
            next_continue=meta.get("continue"),
            fingerprint=fingerprint,
            budget=budget,
            **({"name_of": name_of} if name_of else {}),
        )
        if items or not meta.get("continue"):
            return Page(items, nxt, notice, meta)
        cont, after = meta.get("continue"), None  # the rest of this page was already returned
