"""Per-request clients (protocol 2026-07-28): one POST, one JSON-RPC request, one JSON answer.

The envelope is validated with the SDK's own ladder (``mcp.shared.inbound``: routing headers,
``_meta`` protocol version and client capabilities), then the request goes to the shared,
pre-initialized process (``shared_process``). Errors get the SDK's table-mapped HTTP status.
"""

from __future__ import annotations

import json
import logging

from mcp.server.streamable_http import check_accept_headers
from mcp.shared.inbound import ERROR_CODE_HTTP_STATUS, classify_inbound_request, find_duplicated_routing_header
from mcp.shared.inbound import InboundLadderRejection
from mcp_types import methods as _methods
from mcp_types import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    HEADER_MISMATCH,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    LOG_LEVEL_META_KEY,
    PARSE_ERROR,
    PROTOCOL_VERSION_META_KEY,
    SERVER_INFO_META_KEY,
)
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from .shared_process import NotReady, SharedProcess

log = logging.getLogger(__name__)


def _reply(request_id, member: dict, status: int | None = None) -> Response:
    body = {"jsonrpc": "2.0", "id": request_id, **member}
    if status is None:
        status = ERROR_CODE_HTTP_STATUS.get(member["error"].get("code"), 200) if "error" in member else 200
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


async def handle(shared: SharedProcess, scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    if request.method != "POST":
        await Response(status_code=405, headers={"Allow": "POST"})(scope, receive, send)
        return
    has_json, _ = check_accept_headers(request)
    if not has_json:
        await Response("Not Acceptable: the client must accept application/json", status_code=406)(scope, receive, send)
        return
    try:
        decoded = json.loads(await request.body())
    except (ValueError, RecursionError):
        await _reply(None, {"error": {"code": PARSE_ERROR, "message": "Parse error"}})(scope, receive, send)
        return
    if isinstance(decoded, dict) and "id" not in decoded and isinstance(decoded.get("method"), str):
        # A notification: the per-request era defines none from client to server; accept and drop.
        await Response(status_code=202)(scope, receive, send)
        return
    if not (isinstance(decoded, dict) and isinstance(decoded.get("method"), str) and decoded.get("jsonrpc") == "2.0"):
        message = "Body must be a single JSON-RPC request or notification object"
        await _reply(None, {"error": {"code": INVALID_REQUEST, "message": message}})(scope, receive, send)
        return
    request_id = decoded.get("id")
    duplicated = find_duplicated_routing_header((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
    if duplicated is not None:
        error = {"code": HEADER_MISMATCH, "message": f"{duplicated} header appears more than once"}
        await _reply(request_id, {"error": error})(scope, receive, send)
        return
    verdict = classify_inbound_request(decoded, headers=dict(request.headers))
    if isinstance(verdict, InboundLadderRejection):
        error = {"code": verdict.code, "message": verdict.message}
        if verdict.data is not None:
            error["data"] = verdict.data
        await _reply(request_id, {"error": error})(scope, receive, send)
        return
    try:
        answer = await shared.call(decoded["method"], handshake_params(decoded.get("params")))
    except NotReady as exc:
        error = {"code": INTERNAL_ERROR, "message": f"the MCP server is not ready: {exc}"}
        await _reply(request_id, {"error": error}, status=503)(scope, receive, send)
        return
    if "error" in answer:
        member = {"error": answer["error"]}
    else:
        member = modern_result(decoded["method"], verdict.protocol_version, answer.get("result") or {}, shared.server_info)
    await _reply(request_id, member)(scope, receive, send)


# The per-request envelope; the shared process was initialized in the handshake era, where these
# keys are refused ("requests carrying the 2026-07-28 envelope are not accepted"). The bridge has
# validated them above; the process answers as on any handshake-era connection.
ENVELOPE_META_KEYS = (PROTOCOL_VERSION_META_KEY, CLIENT_INFO_META_KEY, CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY)


def handshake_params(params: dict | None) -> dict | None:
    """``params`` without the 2026-07-28 envelope keys in ``_meta`` (dropping ``_meta`` if empty)."""
    if not isinstance(params, dict) or not isinstance(params.get("_meta"), dict):
        return params
    meta = {k: v for k, v in params["_meta"].items() if k not in ENVELOPE_META_KEYS}
    stripped = {k: v for k, v in params.items() if k != "_meta"}
    if meta:
        stripped["_meta"] = meta
    return stripped


def modern_result(method: str, version: str, result: dict, server_info: dict | None) -> dict:
    """A handshake-era server's result in the shape a per-request (2026-07-28) client validates:
    ``resultType`` (required), ``ttlMs``/``cacheScope`` on cacheable methods (filled as the SDK's
    own server does for handlers without a hint: 0 ms, private, i.e. never served from a cache),
    fields the version does not define sieved, the ``serverInfo`` ``_meta`` stamp. Values the
    server set itself win. A result that does not fit the version becomes an error naming it."""
    shaped = dict(result)
    if method in _methods.CACHEABLE_METHODS:
        shaped.setdefault("ttlMs", 0)
        shaped.setdefault("cacheScope", "private")
    shaped.setdefault("resultType", "complete")
    if method in _methods.SPEC_CLIENT_METHODS:
        try:
            shaped = _methods.serialize_server_result(method, version, shaped)
        except (ValidationError, KeyError, ValueError):
            log.warning("the stdio server's %s result does not fit protocol %s", method, version)
            message = f"the stdio server's {method} result is not valid under protocol {version}"
            return {"error": {"code": INTERNAL_ERROR, "message": message}}
    if server_info:
        meta = shaped.get("_meta") if isinstance(shaped.get("_meta"), dict) else {}
        if meta.get(SERVER_INFO_META_KEY) is None:
            shaped["_meta"] = {**meta, SERVER_INFO_META_KEY: server_info}
    return {"result": shaped}
