"""The tools/list answer, shaped once per protocol version instead of once per request.

Why: the tool list is fixed when the process starts (tools are registered in ``server.build``;
read-only mode and the allowlist are settings), yet the SDK rebuilds and re-validates the whole
answer (about 20 KB of JSON Schemas for ten tools) through two pydantic passes on every request:
~2.5 ms of CPU, most of a tools/list, which every client sends at every connect. This middleware
sits inside the SDK's own chain (after OpenTelemetry and the request-state/auth boundary, so every
request is still observed and authorized): the first request for a protocol version goes through
the SDK (validation, handler, per-version shaping) and its wire result is kept; later requests
for that version with no parameters other than ``_meta`` get a copy. Any other tools/list
(a cursor, unknown parameters) and every other method go through the SDK unchanged.

If tools ever vary per caller or at run time, this cache must be keyed on that too (or removed).
"""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext


class ToolsListMemo:
    """SDK context-tier middleware: memoized tools/list wire results by protocol version."""

    def __init__(self) -> None:
        self._by_version: dict[str, dict[str, Any]] = {}

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "tools/list" or ctx.request_id is None or (ctx.params and set(ctx.params) - {"_meta"}):
            return await call_next(ctx)
        version = ctx.protocol_version
        hit = self._by_version.get(version)
        if hit is not None:
            return dict(hit)  # the runner copies the top level again; nested values are never mutated
        result = await call_next(ctx)
        if isinstance(result, dict) and "tools" in result and "nextCursor" not in result:
            self._by_version[version] = dict(result)
        return result
