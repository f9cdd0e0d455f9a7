"""The bridge as a real process, with real stdio servers from npm and PyPI (pinned) and the
official SDK client: both protocol eras, per-session isolation, limits, reaping, crashes, and
session routing between replicas. Loopback only; every process is stopped by the fixtures."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client, MCPError

from mcp_bridge import session_id
from mcp_bridge.relay import LATE_REQUEST_GRACE
from tests.bridge.helpers import KEY, bridge, children, get_json
from tests.kube.balancer import Balancer
from tests.kube.mcp_servers import EVERYTHING_STDIO, TIME_STDIO, missing_tools

pytestmark = pytest.mark.slow
CRASHY = [sys.executable, str(Path(__file__).with_name("crashy_server.py"))]
INIT = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
needs_npx = pytest.mark.skipif(bool(missing_tools(EVERYTHING_STDIO)), reason="npx (Node) is not installed")


def settled_children(pid: int, want: int, timeout: float = 10) -> int:
    """The bridge's direct child processes once their number reaches ``want`` (or the timeout)."""
    deadline = time.monotonic() + timeout
    while (n := len(children(pid))) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    return n


def text(result) -> str:
    assert not result.is_error, result
    return result.content[0].text


def open_session(url: str) -> tuple[httpx2.Response, str | None]:
    r = httpx2.post(url, json=INIT, headers=HEADERS, timeout=60)
    return r, r.headers.get("mcp-session-id")


@needs_npx
@pytest.mark.parametrize("mode", ["auto", "legacy", "2026-07-28"])
def test_server_everything_through_the_bridge(mode):
    with bridge(EVERYTHING_STDIO) as (base, _):

        async def go():
            async with Client(base + "/mcp", mode=mode) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                assert {"echo", "get-sum", "toggle-simulated-logging"} <= tools
                assert text(await client.call_tool("echo", {"message": "hello"})) == "Echo: hello"
                # auto falls back to a session: the stdio server speaks the handshake era only
                return client.protocol_version

        version = anyio.run(go)
        assert version == ("2026-07-28" if mode == "2026-07-28" else "2025-11-25")


@needs_npx
def test_progress_reaches_the_request_that_asked_for_it():
    """A call with a progress token is answered as an SSE stream carrying the server's progress
    notifications; calls without one get a plain JSON body."""
    with bridge(EVERYTHING_STDIO) as (base, _):
        seen: list[float] = []

        async def on_progress(progress, total, message):
            seen.append(progress)

        async def go():
            async with Client(base + "/mcp", mode="legacy") as client:
                result = await client.call_tool("trigger-long-running-operation", {"duration": 1, "steps": 3}, progress_callback=on_progress)
                assert not result.is_error

        anyio.run(go)
        assert seen and seen == sorted(seen), seen
        r, sid = open_session(base + "/mcp")
        headers = {**HEADERS, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"}
        plain = httpx2.post(base + "/mcp", headers=headers, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, timeout=30)
        assert plain.headers["content-type"].startswith("application/json") and plain.json()["result"]["tools"]


@needs_npx
def test_concurrent_requests_in_one_session_each_get_their_own_answer_format():
    """The JSON-vs-SSE choice is per request: calls with a progressToken (long-running, so they
    overlap the others) answer as SSE carrying their progress; the plain calls fired at the same
    time on the same session answer as one JSON body each (found: it was one attribute of the
    session's transport, so concurrent requests could take each other's format)."""
    with bridge(EVERYTHING_STDIO) as (base, _):
        url = base + "/mcp"
        r, sid = open_session(url)
        headers = {**HEADERS, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"}
        httpx2.post(url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, timeout=30)
        answers: dict[int, tuple[bool, httpx2.Response]] = {}

        async def call(client: httpx2.AsyncClient, i: int, progress: bool) -> None:
            if progress:
                params = {"name": "trigger-long-running-operation", "arguments": {"duration": 1, "steps": 2},
                          "_meta": {"progressToken": f"p{i}"}}
            else:
                params = {"name": "echo", "arguments": {"message": f"m{i}"}}
            answers[i] = (progress, await client.post(url, headers=headers, json={"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params}))

        async def plain_calls(client: httpx2.AsyncClient, first: int, until: float) -> None:
            i = first
            while anyio.current_time() < until:  # plain calls keep arriving while the progress calls run
                await call(client, i, False)
                i += 100

        async def go() -> None:
            async with httpx2.AsyncClient(timeout=60, limits=httpx2.Limits(max_connections=40)) as client, anyio.create_task_group() as tg:
                until = anyio.current_time() + 1.5
                for i in range(1, 5):
                    tg.start_soon(call, client, i, True)
                for worker in range(5, 9):
                    tg.start_soon(plain_calls, client, worker, until)

        anyio.run(go)
        assert sum(progress for progress, _ in answers.values()) == 4 and len(answers) > 8, answers
        for i, (progress, resp) in sorted(answers.items()):
            assert resp.status_code == 200, (i, resp.text)
            kind = resp.headers["content-type"]
            if progress:
                assert kind.startswith("text/event-stream"), (i, kind)
                events = [json.loads(line[5:]) for line in resp.text.splitlines() if line.startswith("data:") and line[5:].strip()]
                assert any(e.get("method") == "notifications/progress" and e["params"]["progressToken"] == f"p{i}" for e in events), (i, events)
                assert events[-1]["id"] == i and "result" in events[-1], (i, events)
            else:
                assert kind.startswith("application/json"), (i, kind)
                assert resp.json()["id"] == i and resp.json()["result"]["content"][0]["text"] == f"Echo: m{i}"


def test_mcp_server_time_through_the_bridge():
    with bridge(TIME_STDIO) as (base, _):

        async def go(mode):
            async with Client(base + "/mcp", mode=mode) as client:
                assert {t.name for t in (await client.list_tools()).tools} == {"get_current_time", "convert_time"}
                now = json.loads(text(await client.call_tool("get_current_time", {"timezone": "UTC"})))
                assert now["timezone"] == "UTC" and now["datetime"][:4].isdigit()
                bad = await client.call_tool("get_current_time", {"timezone": "Mars/Olympus"})
                assert bad.is_error  # the server's own error reaches the model

        for mode in ("legacy", "2026-07-28"):
            anyio.run(go, mode)


@needs_npx
def test_concurrent_sessions_keep_separate_state():
    """server-everything keeps the simulated-logging toggle per process: interleaved toggles in
    two sessions both start it, which a shared process would not do (the second would stop it)."""
    with bridge(EVERYTHING_STDIO) as (base, proc):
        baseline = settled_children(proc.pid, 2)  # the shared (readiness) process and one warm spare

        async def go():
            async with Client(base + "/mcp", mode="legacy") as a, Client(base + "/mcp", mode="legacy") as b:
                first_a = text(await a.call_tool("toggle-simulated-logging", {}))
                first_b = text(await b.call_tool("toggle-simulated-logging", {}))
                second_a = text(await a.call_tool("toggle-simulated-logging", {}))
                assert first_a.startswith("Started") and first_b.startswith("Started")
                assert second_a.startswith("Stopped")
                # one process per session (the spare each took was replaced)
                assert settled_children(proc.pid, baseline + 2) == baseline + 2

        anyio.run(go)


def test_process_per_session_and_crash_fails_only_that_session():
    with bridge(CRASHY) as (base, _):
        url = base + "/mcp"

        async def go():
            async with Client(url, mode="legacy") as a, Client(url, mode="legacy") as b:
                await a.call_tool("remember", {"value": "A"})
                await b.call_tool("remember", {"value": "B"})
                assert text(await a.call_tool("pid", {})) != text(await b.call_tool("pid", {}))
                assert text(await a.call_tool("recall", {})) == "A"
                with pytest.raises(MCPError, match="the MCP server process of this session exited"):
                    await a.call_tool("crash", {})
                await anyio.sleep(LATE_REQUEST_GRACE + 0.3)
                with pytest.raises(MCPError):  # the session is gone (404: start a new one)
                    await a.call_tool("recall", {})
                assert text(await b.call_tool("recall", {})) == "B"  # other sessions go on

        anyio.run(go)
        status, body = get_json(base + "/readyz")
        assert status == 200, body  # the pod is fine


def test_sessions_start_on_warm_spares_and_never_share_them():
    """Each session takes a fresh pre-spawned process (never one another session used), and a
    replacement is spawned; with --spare-processes 0 sessions spawn on demand."""
    for flags in ((), ("--spare-processes", "0")):
        with bridge(CRASHY, *flags) as (base, proc):
            url = base + "/mcp"

            async def go():
                pids = []
                for _ in range(3):
                    async with Client(url, mode="legacy") as c:
                        pids.append(text(await c.call_tool("pid", {})))
                return pids

            pids = anyio.run(go)
            assert len(set(pids)) == 3, pids


def test_session_limit_answers_503_with_the_limit():
    with bridge(CRASHY, "--max-sessions", "2") as (base, _):
        url = base + "/mcp"
        first, second = open_session(url), open_session(url)
        assert first[0].status_code == 200 and second[0].status_code == 200
        third, sid = open_session(url)
        assert third.status_code == 503 and sid is None
        message = third.json()["error"]["message"]
        assert "session limit reached" in message and "--max-sessions 2" in message
        httpx2.delete(url, headers={**HEADERS, "mcp-session-id": first[1]}, timeout=10)
        assert open_session(url)[0].status_code == 200  # room again after a session ends


def test_idle_sessions_are_reaped():
    with bridge(CRASHY, "--session-idle-timeout", "1") as (base, proc):
        url = base + "/mcp"
        baseline = settled_children(proc.pid, 2)
        r, sid = open_session(url)
        assert r.status_code == 200 and settled_children(proc.pid, baseline + 1) == baseline + 1
        time.sleep(3)
        headers = {**HEADERS, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"}
        after = httpx2.post(url, headers=headers, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, timeout=10)
        assert after.status_code == 404
        assert settled_children(proc.pid, baseline) == baseline  # its process was stopped


def test_bad_requests_get_clear_4xx():
    with bridge(CRASHY) as (base, _):
        url = base + "/mcp"
        assert httpx2.get(url, headers=HEADERS, timeout=10).status_code == 400
        not_init = httpx2.post(url, headers=HEADERS, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=10)
        assert not_init.status_code == 400 and "initialize" in not_init.json()["error"]["message"]
        assert httpx2.post(url, headers=HEADERS, content=b"{nope", timeout=10).status_code == 400
        forged = {**HEADERS, "mcp-session-id": "b1.forged.id.x"}
        assert httpx2.post(url, headers=forged, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=10).status_code == 404
        assert get_json(base + "/healthz") == (200, {"status": "ok"})
        # DNS-rebinding guard: a foreign browser Origin is refused before any process is spawned
        foreign = httpx2.post(url, headers={**HEADERS, "Origin": "https://evil.example"}, json=INIT, timeout=10)
        assert foreign.status_code == 403 and "Origin" in foreign.json()["error"]["message"]
        local = httpx2.post(url, headers={**HEADERS, "Origin": "http://localhost:6274"}, json=INIT, timeout=30)
        assert local.status_code == 200  # e.g. the MCP Inspector on the user's machine


def test_readiness_reports_a_server_that_cannot_start():
    with bridge(["false"], wait_ready=False) as (base, _):
        deadline = time.monotonic() + 20
        while True:
            try:
                status, body = get_json(base + "/readyz")
            except OSError:
                status, body = 0, {}
            if "exited" in body.get("reason", "") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == 503 and "exited" in body["reason"]
        assert get_json(base + "/healthz")[0] == 200  # alive: the kubelet must not restart it for this


def test_replicas_forward_sessions_to_their_owner():
    """Two replicas sharing the key behind a per-connection round-robin balancer: every session
    keeps one process although its connections land on both pods."""
    with bridge(CRASHY) as (a, _), bridge(CRASHY) as (b, _):
        ports = [("127.0.0.1", int(u.rsplit(":", 1)[1])) for u in (a, b)]
        with Balancer(lambda: ports) as lb:

            async def one_session(n: int) -> None:
                async with Client(lb.url + "/mcp", mode="legacy") as c:
                    pids = set()
                    await c.call_tool("remember", {"value": str(n)})
                    for _ in range(5):
                        pids.add(text(await c.call_tool("pid", {})))
                        assert text(await c.call_tool("recall", {})) == str(n)
                    assert len(pids) == 1

            async def go():
                async with anyio.create_task_group() as tg:
                    for n in range(4):
                        tg.start_soon(one_session, n)

            anyio.run(go)
            assert all(lb.connections.get(p, 0) > 0 for p in ports), lb.connections


def test_a_forged_owner_never_makes_the_bridge_connect():
    """An id naming an address, signed with another key, gets 404 and no connection is made."""
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen()
    trap.settimeout(2)
    accepted: list = []

    def watch():
        try:
            accepted.append(trap.accept())
        except OSError:
            pass

    threading.Thread(target=watch, daemon=True).start()
    owner = f"127.0.0.1:{trap.getsockname()[1]}"
    with bridge(CRASHY) as (base, _):
        for key in (b"another-key-0123456789", KEY.encode() + b"x"):
            forged = session_id.mint(key, owner)
            r = httpx2.post(base + "/mcp", headers={**HEADERS, "mcp-session-id": forged}, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=10)
            assert r.status_code == 404
        # correctly signed (a real replica) but the request was already forwarded once: no loop
        valid = session_id.mint(KEY.encode(), owner)
        r = httpx2.post(base + "/mcp", headers={**HEADERS, "mcp-session-id": valid, "mcp-bridge-forwarded": "1"}, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=10)
        assert r.status_code == 404
    time.sleep(0.5)
    trap.close()
    assert accepted == []
