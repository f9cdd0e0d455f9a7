"""Signed MCP session ids that name the pod owning the session.

Shape: ``b1.<owner>.<nonce>.<mac>``, each part URL-safe base64 without padding:
``owner`` is ``"<ip>:<port>"`` of the bridge that holds the session's process, ``nonce`` 16 random
bytes, ``mac`` HMAC-SHA256(key, ``"b1.<owner>.<nonce>"``). Any replica sharing the key can tell
which pod owns a session and forward to it; a client cannot name an address of its choosing,
because without the key it cannot produce a valid ``mac`` (the rule from issue 9: "a client-supplied
id must never make a pod connect to an address it chose"). All characters are visible ASCII, as
the MCP spec requires of ``Mcp-Session-Id``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets

VERSION = "b1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())


def parse_owner(owner: str) -> tuple[str, int]:
    """``"10.0.0.7:8080"`` or ``"[fd00::7]:8080"`` -> (host, port); ValueError unless an IP and a port."""
    host, sep, port_text = owner.rpartition(":")
    if not sep or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"owner must be <ip>:<port>, got {owner!r}")
    ipaddress.ip_address(host.strip("[]"))  # an IP literal, never a name to resolve
    return host, int(port_text)


def mint(key: bytes, owner: str) -> str:
    """A new session id owned by ``owner`` (``"<ip>:<port>"``, validated by :func:`parse_owner`)."""
    parse_owner(owner)
    payload = f"{VERSION}.{_b64(owner.encode())}.{_b64(secrets.token_bytes(16))}"
    return f"{payload}.{_mac(key, payload)}"


def verify(key: bytes, session_id: str) -> str | None:
    """The owner named by a session id this key signed, or None for anything else (forged,
    truncated, another key, malformed). Constant-time comparison of the MAC."""
    parts = session_id.split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        return None
    payload = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(key, payload), parts[3]):
        return None
    try:
        owner = _unb64(parts[1]).decode("ascii")
        parse_owner(owner)
    except ValueError:
        return None
    return owner


def log_name(session_id: str) -> str:
    """A short, non-secret name for logs: the nonce's first characters."""
    parts = session_id.split(".")
    return parts[2][:8] if len(parts) == 4 else "?"
