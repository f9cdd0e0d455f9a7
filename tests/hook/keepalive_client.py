"""An HTTP/1.1 client that reuses connections the way Metacontroller's Go client does, and a
Service whose endpoints lag behind a stopping pod, for the drain test (test_hook_drain.py).

Go's net/http Transport (what Metacontroller calls the hook with):
- keeps at most MaxIdleConnsPerHost (default 2) idle keep-alive connections per host and reuses
  the most recently used first (LIFO); with more concurrent calls than that it closes the extra
  connections after their answer and dials new ones, so new connections are made all the time;
- notices a connection the server closed while idle (its readLoop reads EOF) and drops it before
  reuse; we do the same with a zero-timeout poll of the idle socket (urllib3 does this too);
- drops a connection whose response said `Connection: close`;
- does not retry a POST once it was written (not replayable): an EOF or reset then fails the call
  (`Post ".../sync": EOF`, a SyncError).
New connections go to the Service: like kube-proxy, each new connection picks one of the current
endpoints, while connections already open stay with the pod they reached.

Hand-written rather than urllib3/requests because the test needs the pool's reuse order and the
endpoint choice per new connection, which those libraries do not expose.
"""

from __future__ import annotations

import http.client
import itertools
import select
import socket
import threading

# What a reused or new connection to a stopping server fails with (Go: EOF, connection reset by
# peer, connection refused, broken pipe).
CONNECTION_ERRORS = (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine,
                     http.client.IncompleteRead, socket.timeout)


class Service:
    """Endpoints ("127.0.0.1:port") that new connections are spread over, round robin."""

    def __init__(self, endpoints: list[str]):
        self._lock = threading.Lock()
        self._endpoints = list(endpoints)
        self._turn = itertools.count()

    def remove(self, endpoint: str) -> None:
        with self._lock:
            self._endpoints.remove(endpoint)

    def pick(self) -> str:
        with self._lock:
            return self._endpoints[next(self._turn) % len(self._endpoints)]


class _Conn:
    def __init__(self, endpoint: str, timeout: float):
        host, port = endpoint.rsplit(":", 1)
        self.endpoint = endpoint
        self.http = http.client.HTTPConnection(host, int(port), timeout=timeout)
        self.http.connect()
        self.reused = False

    def closed_by_peer(self) -> bool:
        """An idle connection is readable only if the server closed it (EOF) or sent garbage."""
        readable, _, _ = select.select([self.http.sock], [], [], 0)
        return bool(readable)


class KeepAlivePool:
    """Go-Transport-like pool; `post` returns the HTTP status or raises one of CONNECTION_ERRORS."""

    def __init__(self, service: Service, max_idle: int = 2, timeout: float = 5.0):
        self.service = service
        self.max_idle = max_idle  # Go's http.DefaultMaxIdleConnsPerHost
        self.timeout = timeout
        self._lock = threading.Lock()
        self._idle: list[_Conn] = []  # a stack: last put back, first reused

    def _get(self) -> _Conn:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if conn.closed_by_peer():
                    conn.http.close()
                    continue
                conn.reused = True
                return conn
        endpoint = self.service.pick()
        try:
            return _Conn(endpoint, self.timeout)
        except BaseException as e:
            e.add_note(f"endpoint {endpoint}, dialing")
            raise

    def _put(self, conn: _Conn) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append(conn)
                return
        conn.http.close()

    def idle_endpoints(self) -> list[str]:
        with self._lock:
            return [c.endpoint for c in self._idle]

    def post(self, path: str, body: bytes) -> tuple[int, str, bool]:
        """POST once, no retry; returns (status, endpoint, whether the connection was reused)."""
        conn = self._get()
        try:
            conn.http.request("POST", path, body=body, headers={"Content-Type": "application/json"})
            resp = conn.http.getresponse()
            resp.read()
        except BaseException as e:
            conn.http.close()
            e.add_note(f"endpoint {conn.endpoint}, {'reused' if conn.reused else 'new'} connection")
            raise
        if resp.will_close:
            conn.http.close()
        else:
            self._put(conn)
        return resp.status, conn.endpoint, conn.reused

    def close(self) -> None:
        with self._lock:
            for conn in self._idle:
                conn.http.close()
            self._idle.clear()
