"""wire.py: the one-pass writer for 2026-07-28 replies says exactly what the SDK's own writer says."""

from __future__ import annotations

import asyncio
import json

import pytest
from mcp.server import _streamable_http_modern as modern
from mcp_types import ErrorData, JSONRPCError, JSONRPCResponse

from mcp_k8s_server import wire

SDK_WRITE = wire.SDK_WRITE


def _capture(writer, msg) -> tuple[int, dict, bytes]:
    out: dict = {"body": b""}

    async def send(m):
        if m["type"] == "http.response.start":
            out["status"], out["headers"] = m["status"], dict(m["headers"])
        else:
            out["body"] += m.get("body", b"")

    async def receive():  # never called by a plain Response
        raise AssertionError

    asyncio.run(writer(msg, {"type": "http", "method": "POST", "headers": []}, receive, send))
    return out["status"], out["headers"], out["body"]


MESSAGES = [
    JSONRPCResponse(jsonrpc="2.0", id=7, result={"tools": [{"name": "list-pods", "description": "Pods — café ✓",
                                                            "inputSchema": {"type": "object", "default": None}}],
                                                 "nextCursor": None, "n": 1.5}),
    JSONRPCResponse(jsonrpc="2.0", id="abc", result={}),
    JSONRPCError(jsonrpc="2.0", id=3, error=ErrorData(code=-32602, message="Invalid params", data={"x": None})),
    JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=-32700, message="Parse error")),
    JSONRPCError(jsonrpc="2.0", id=4, error=ErrorData(code=-32601, message="Method not found")),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_same_status_headers_and_json_as_the_sdk_writer(msg) -> None:
    ours, theirs = _capture(wire._write, msg), _capture(SDK_WRITE, msg)
    assert ours[0] == theirs[0]
    assert ours[1][b"content-type"] == theirs[1][b"content-type"]
    assert json.loads(ours[2]) == json.loads(theirs[2])
    if msg.id is None:
        assert b'"id":null' in ours[2]


def test_installed_for_the_pinned_sdk() -> None:
    """Fails on an SDK bump: check whether _streamable_http_modern._write changed, then update SDK_VERSION."""
    assert wire.install() is True
    assert modern._write is wire._write
    assert wire.install() is True  # idempotent
