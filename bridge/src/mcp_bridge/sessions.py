"""MCP sessions (protocol era 2025-11-25 and earlier): one stdio process each.

A POST ``initialize`` without ``Mcp-Session-Id`` opens a session: admission against the per-pod
limit, a signed session id naming this pod, the SDK's ``StreamableHTTPServerTransport`` for the
HTTP side and a new stdio process (``relay``). The session ends when the client DELETEs it, when
no request has been in flight for ``--session-idle-timeout`` seconds (the transport's idle scope;
an open GET stream counts as in flight), when its process ends, or at shutdown; the process is
stopped each time and the id answers 404 from then on.

Why not the SDK's ``StreamableHTTPSessionManager``: it runs an in-process ``Server`` per session
and mints random ids; the bridge needs a process per session and ids signed for routing. The
admission, discard and opening-request shapes below follow that class.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextvars import ContextVar

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.server.streamable_http import StreamableHTTPServerTransport
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import INTERNAL_ERROR, INVALID_REQUEST, ErrorData, JSONRPCError
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from . import relay, session_id
from .spares import Spares
from .config import Settings

log = logging.getLogger(__name__)


def jsonrpc_error_response(message: str, status: int, code: int = INVALID_REQUEST, headers: dict | None = None) -> Response:
    body = JSONRPCError(jsonrpc="2.0", id=None, error=ErrorData(code=code, message=message))
    return Response(body.model_dump_json(by_alias=True), status_code=status, media_type="application/json", headers=headers)


def limit_response(limit: int) -> Response:
    return jsonrpc_error_response(
        f"session limit reached: this mcp-bridge pod already runs {limit} MCP sessions (--max-sessions {limit}), "
        "one stdio process each; retry later, end idle sessions, or raise maxSessions or the replicas",
        503,
        INTERNAL_ERROR,
        headers={"Retry-After": "5"},
    )


class SessionManager:
    """Sessions this pod owns, by session id. Runs their tasks in the app's task group."""

    def __init__(
        self,
        settings: Settings,
        task_group: TaskGroup,
        security: TransportSecuritySettings | None,
        on_spawn_result: Callable[[bool, str], None] = lambda ok, why: None,
    ):
        self.settings = settings
        self.task_group = task_group
        self.security = security
        self.on_spawn_result = on_spawn_result
        self.sessions: dict[str, StreamableHTTPServerTransport] = {}
        self.spares = Spares(self.params, task_group, settings.spare_processes) if settings.spare_processes else None
        self.started_total = 0
        self.ended_total: dict[str, int] = {}

    @property
    def params(self) -> StdioServerParameters:
        cmd = self.settings.command
        return StdioServerParameters(command=cmd[0], args=cmd[1:], env=self.settings.child_env())

    def owns(self, sid: str) -> StreamableHTTPServerTransport | None:
        return self.sessions.get(sid)

    async def handle_existing(self, transport: StreamableHTTPServerTransport, sid: str, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST":
            body, receive = await _buffer_body(receive)
            await transport.handle_post(body, scope, receive, send)
        else:
            await transport.handle_request(scope, receive, send)
        if transport.is_terminated:  # the client DELETEd it
            await self._discard(sid, transport)

    async def open(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A POST without a session id. Only ``initialize`` may open a session, and it is checked
        before a process is spawned, so a stray request costs no process."""
        body, receive = await _buffer_body(receive)
        try:
            message = json.loads(body)
        except ValueError:
            await jsonrpc_error_response("Parse error: the body is not JSON", 400, -32700)(scope, receive, send)
            return
        if not (isinstance(message, dict) and message.get("method") == "initialize" and "id" in message):
            await jsonrpc_error_response(
                "Bad Request: no Mcp-Session-Id header; a session starts with an initialize request "
                "(or send MCP-Protocol-Version: 2026-07-28 for a per-request call)",
                400,
            )(scope, receive, send)
            return
        if len(self.sessions) >= self.settings.max_sessions:
            log.warning("refused a new session: %d sessions open (--max-sessions)", len(self.sessions))
            await limit_response(self.settings.max_sessions)(scope, receive, send)
            return
        sid = session_id.mint(self.settings.session_key, self.settings.advertise)
        transport = SessionTransport(
            mcp_session_id=sid,
            security_settings=self.security,
            idle_timeout=self.settings.session_idle_timeout,
        )
        self.sessions[sid] = transport  # counted against the limit from now on
        self.started_total += 1
        established = False
        try:
            await self.task_group.start(self._run, sid, transport)
            status = None

            async def watch(msg: Message) -> None:
                nonlocal status
                if msg["type"] == "http.response.start":
                    status = msg["status"]
                await send(msg)

            await transport.handle_post(body, scope, receive, watch)
            established = status is not None and status < 400 and sid in self.sessions
        finally:
            if not established:
                await self._discard(sid, transport)

    async def _run(self, sid: str, transport: StreamableHTTPServerTransport, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        name = session_id.log_name(sid)
        reason = "ended"
        # This task was started from the opening POST, whose context it copied: its tasks (the
        # transport's router among them) serve no single request.
        _json_answer.set(False)
        async with transport.connect() as (http_read, http_write):
            task_status.started()
            inflight = relay.InFlight()
            idle = transport.idle_scope or anyio.CancelScope()
            try:
                with idle:
                    try:
                        spare = self.spares.take() if self.spares else None
                        if spare is not None:
                            log.info("session %s: took a warm %s process", name, self.settings.command[0])
                            try:
                                ended = await relay.relay(http_read, http_write, spare.read, spare.write, inflight)
                            finally:
                                spare.release.set()  # its task stops the process
                        else:
                            async with stdio_client(self.params) as (proc_read, proc_write):
                                log.info("session %s: started %s", name, self.settings.command[0])
                                ended = await relay.relay(http_read, http_write, proc_read, proc_write, inflight)
                        # A DELETE (terminate) closes both HTTP streams; whichever pump noticed first, the client ended it.
                        reason = "exited" if ended == "process" and not transport.is_terminated else "closed"
                    except OSError as exc:
                        reason = f"could not be started ({exc.strerror or exc})"
                        self.on_spawn_result(False, f"spawning {self.settings.command[0]!r} failed: {exc}")
                if idle.cancelled_caught:
                    reason = "idle"
                    log.info("session %s: idle for %ss, stopped its process", name, self.settings.session_idle_timeout)
                elif reason != "closed":
                    log.warning("session %s: the stdio process %s; failing the session", name, reason)
                    await relay.fail_session(http_read, http_write, inflight, reason)
                else:
                    log.info("session %s: closed by the client", name)
            except Exception:
                log.exception("session %s crashed", name)
                reason = "crashed"
            finally:
                key = reason.split(" ")[0]
                self.ended_total[key] = self.ended_total.get(key, 0) + 1
                await self._discard(sid, transport)

    async def _discard(self, sid: str, transport: StreamableHTTPServerTransport) -> None:
        # Forgotten first (no await before): the id answers 404 from this moment on.
        self.sessions.pop(sid, None)
        if not transport.is_terminated:
            with anyio.CancelScope(shield=True):
                await transport.terminate()


# This request's answer format, read by ``SessionTransport``: set around each POST's dispatch, so
# it lives in that request's task (and the tasks it starts, such as its SSE writer) only.
_json_answer: ContextVar[bool] = ContextVar("mcp_bridge_json_answer", default=False)


class SessionTransport(StreamableHTTPServerTransport):
    """The SDK transport with the JSON-vs-SSE answer chosen per request, not per transport.

    The SDK reads ``is_json_response_enabled`` at several points of one POST (Accept check,
    dispatch, message metadata) and in its response router; as a plain attribute set per request,
    two concurrent POSTs of one session could get each other's format (a progress request answered
    as JSON, its notifications dropped). Here it reads a context variable set for the request's own
    task. Outside a request (the session's router task) it is False: the relay relates only progress
    notifications to a request, and only requests carrying a ``progressToken`` get SSE answers, so
    the router never drops a related message that has a stream to go to."""

    @property
    def is_json_response_enabled(self) -> bool:  # type: ignore[override]
        return _json_answer.get()

    @is_json_response_enabled.setter
    def is_json_response_enabled(self, value: bool) -> None:
        pass  # the SDK's __init__ assigns its default; the bridge decides per request

    async def handle_post(self, body: bytes, scope: Scope, receive: Receive, send: Send) -> None:
        """``handle_request`` for a POST whose body was read already, answering in the format
        ``wants_json(body)`` picks."""
        token = _json_answer.set(wants_json(body))
        try:
            await self.handle_request(scope, receive, send)
        finally:
            _json_answer.reset(token)


def wants_json(body: bytes) -> bool:
    """True (answer with one JSON body) unless the request asked for progress
    (``params._meta.progressToken``): then an SSE stream, on which its progress notifications ride.

    Why: the SDK transport's SSE answer costs several times a JSON one per call (an
    EventSourceResponse and its tasks per request), and streaming is only needed for messages
    tied to the request, i.e. progress (the relay sends server-to-client requests and log
    messages on the session's GET stream, which is SSE either way). A body that cannot name the
    key (no ``progressToken`` and no JSON escape that could spell it) is not parsed here: the
    transport parses it once anyway."""
    if b"progressToken" not in body and b"\\u" not in body:
        return True
    try:
        message = json.loads(body)
    except ValueError:
        return True  # the transport answers the parse error
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    return not (isinstance(meta, dict) and "progressToken" in meta)


async def _buffer_body(receive: Receive) -> tuple[bytes, Receive]:
    """Reads the whole request body and returns it with a ``receive`` that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay
