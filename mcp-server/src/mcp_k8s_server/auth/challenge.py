"""401 answers that tell the client why (RFC 6750 §3 ``error_description``).

The SDK's bearer middleware decides (a TokenVerifier returning None means 401) but says only
"Authentication required". Our verifiers record why they refused with ``refuse(reason)``; this
ASGI wrapper, around the SDK app, rewrites that 401's ``WWW-Authenticate`` and JSON body with the
reason, keeping the SDK's ``resource_metadata`` pointer (RFC 9728). It never turns a refusal into
an acceptance: it only edits the text of 401 answers the SDK already sent.
"""

from __future__ import annotations

import contextvars
import json
import re
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

_reasons: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("mcp_auth_reasons", default=None)
_RESOURCE_METADATA = re.compile(r'resource_metadata="([^"]*)"')


def refuse(reason: str) -> None:
    """Record why the current request's token was refused (shown to the client)."""
    holder = _reasons.get()
    if holder is not None:
        holder.append(reason)


def _quoted(text: str) -> str:
    """A quoted-string safe value: printable ASCII, no quotes or backslashes (RFC 6750 §3)."""
    text = "".join(c if 0x20 <= ord(c) < 0x7F and c not in '"\\' else "'" if c == '"' else " " for c in text)
    return text[:400]


class AuthChallenge:
    """Wraps the SDK app; ``missing`` is the reason given when no bearer token was sent."""

    def __init__(self, app: ASGIApp, missing: str):
        self.app = app
        self.missing = missing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        holder: list[str] = []
        token = _reasons.set(holder)
        rewrite: dict[str, Any] = {}

        async def send_wrapper(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                headers = list(message.get("headers") or [])
                www = next((v.decode("latin-1") for k, v in headers if k.lower() == b"www-authenticate"), "")
                if www.startswith("Bearer"):
                    sent = any(k.lower() == b"authorization" and v[:7].lower() == b"bearer " and v[7:].strip()
                               for k, v in scope.get("headers") or [])
                    reason = holder[-1] if holder else ("the bearer token was not accepted" if sent else self.missing)
                    error = "invalid_token" if sent else "unauthorized"
                    meta = _RESOURCE_METADATA.search(www)
                    parts = ([f'error="{error}"'] if sent else []) + [f'error_description="{_quoted(reason)}"']
                    if meta:
                        parts.append(f'resource_metadata="{meta.group(1)}"')
                    body = json.dumps({"error": error, "error_description": reason}).encode()
                    rewrite["body"] = body
                    headers = [(k, v) for k, v in headers if k.lower() not in (b"www-authenticate", b"content-length")]
                    headers += [(b"www-authenticate", ("Bearer " + ", ".join(parts)).encode("latin-1")),
                                (b"content-length", str(len(body)).encode())]
                    message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and "body" in rewrite:
                message = {**message, "body": rewrite.pop("body"), "more_body": False}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            _reasons.reset(token)
