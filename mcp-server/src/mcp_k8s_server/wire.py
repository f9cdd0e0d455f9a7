"""One serializer for every JSON-RPC reply: the 2026-07-28 HTTP path written like the 2025-11-25 one.

Why: the mcp SDK (2.3.0) writes a 2026-07-28 JSON reply with ``msg.model_dump(mode="json")`` (a
Rust pass building Python objects) followed by the stdlib's ``json.dumps`` of them (a second pass),
while its own 2025-11-25 transport writes the same message with ``msg.model_dump_json`` (one Rust
pass straight to bytes). For a tools/list (~28 KB of JSON Schema) the two passes are ~60% of the
server's CPU per request: profiled in-process, 2026-07-28 tools/list cost ~500 µs against ~400 µs
for 2025-11-25. ``_write`` below is the SDK's ``_write`` (same status table, same ``id: null`` rule,
same flags) with the 2025 path's serializer; everything before it (Origin/Host, Accept, body
parsing, the protocol-version ladder, Mcp-Param validation, auth) is the SDK's own, untouched.

How: the SDK's module-level ``_write`` is looked up at call time by ``handle_modern_request``, so
replacing that one name is the smallest change that works; forking ``handle_modern_request`` (200
lines of protocol rules) would be worse. ``install`` only patches the SDK version it was written
against (``SDK_VERSION``); any other version keeps the SDK's own writer (correct, just slower) and
``tests/mcp_server/test_wire.py`` fails so the pin bump revisits this. Upstream, the fix is one line
(use ``model_dump_json`` in ``_write``); drop this module when the SDK does.

Wire difference: none a JSON parser can see. ``json.dumps`` escapes non-ASCII (``\\u00e9``), this
writes UTF-8 (as the 2025 path and every other MCP SDK do); numbers, key order and ``exclude_none``
semantics are the same serializer's.
"""

from __future__ import annotations

import json
import logging
from importlib.metadata import version
from mcp.server import _streamable_http_modern as modern
from mcp_types import JSONRPCError, JSONRPCResponse
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

log = logging.getLogger(__name__)
SDK_VERSION = "2.3.0"
SDK_WRITE = modern._write  # the SDK's own writer, kept for comparison (tests) and reference


async def _write(msg: JSONRPCResponse | JSONRPCError, scope: Scope, receive: Receive, send: Send) -> None:
    """The SDK's ``_write`` (mcp 2.3.0, ``_streamable_http_modern``), serialized in one pass."""
    is_error = isinstance(msg, JSONRPCError)
    status = modern.ERROR_CODE_HTTP_STATUS.get(msg.error.code, modern._OK_STATUS) if is_error else modern._OK_STATUS
    body = msg.model_dump_json(by_alias=True, exclude_none=True)
    if is_error and msg.id is None:
        # As the SDK: JSON-RPC needs `"id": null` on the wire when the request id could not be
        # parsed; exclude_none dropped it. Errors are small, so the two-pass form is fine here.
        body = _null_id_body(msg)
    await Response(body, status_code=status, media_type="application/json")(scope, receive, send)


def _null_id_body(msg: JSONRPCError) -> str:
    out = msg.model_dump(mode="json", by_alias=True, exclude_none=True)
    out["id"] = None
    return json.dumps(out, separators=(",", ":"))


def install() -> bool:
    """Use ``_write`` for 2026-07-28 replies when the installed SDK is the one it mirrors; idempotent.

    Returns whether it is in use (False with another SDK version, logged once)."""
    if modern._write is _write:
        return True
    installed = version("mcp")
    if installed != SDK_VERSION:
        log.warning("mcp %s: keeping the SDK's own 2026-07-28 reply writer (wire.py mirrors %s)", installed, SDK_VERSION)
        return False
    modern._write = _write
    return True
