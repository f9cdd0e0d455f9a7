"""A minimal shared-informer and rate-limited work queue (client-go semantics that matter here)."""

from __future__ import annotations

import collections
import heapq
import json
import logging
import threading
import time
from typing import Callable

from .kube import APIResource, ApiError, Kube

log = logging.getLogger("metacontroller.informer")


def obj_key(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return f"{ns}/{meta.get('name')}" if ns else meta.get("name", "")


class Informer:
    """List+watch of one resource across all namespaces, kept in a local store.

    Handlers: add(obj), update(old, new), delete(obj). Items from LIST get apiVersion/kind
    filled in (client-go's UnstructuredList decoding does the same). With resync_period the
    update handler is called for every stored object periodically (old is new).
    """

    def __init__(self, kube: Kube, res: APIResource, resync_period: float | None = None,
                 relist_period: float = 1800.0):
        self.kube = kube
        self.res = res
        self.resync_period = resync_period
        self.relist_period = relist_period
        self.store: dict[str, dict] = {}
        # indexes for claiming children without scanning a whole namespace:
        # controllerRef uid -> keys, and controller-uid label value -> keys
        self.by_owner: dict[str, set[str]] = {}
        self.by_cuid: dict[str, set[str]] = {}
        self.lock = threading.RLock()
        self.handlers: list[tuple[Callable, Callable, Callable]] = []
        self.synced = threading.Event()
        self.stopped = threading.Event()
        self._resp = None
        self._threads: list[threading.Thread] = []

    def add_handler(self, add, update, delete) -> None:
        self.handlers.append((add, update, delete))

    # -- store access --------------------------------------------------------------------------
    @staticmethod
    def _index_keys(obj: dict) -> tuple[str | None, str | None]:
        meta = obj.get("metadata") or {}
        owner = next((r.get("uid") for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
        return owner, (meta.get("labels") or {}).get("controller-uid")

    def _put(self, key: str, obj: dict | None) -> dict | None:
        """Replace (or with obj=None remove) a store entry, keeping the indexes; returns the old one."""
        old = self.store.pop(key, None)
        if old is not None:
            for idx, val in zip((self.by_owner, self.by_cuid), self._index_keys(old)):
                if val is not None and val in idx:
                    idx[val].discard(key)
                    if not idx[val]:
                        del idx[val]
        if obj is not None:
            self.store[key] = obj
            for idx, val in zip((self.by_owner, self.by_cuid), self._index_keys(obj)):
                if val is not None:
                    idx.setdefault(val, set()).add(key)
        return old

    def related_to(self, uid: str) -> list[dict]:
        """Objects whose controllerRef or controller-uid label names uid."""
        with self.lock:
            keys = self.by_owner.get(uid, set()) | self.by_cuid.get(uid, set())
            return [self.store[k] for k in keys if k in self.store]

    def get(self, namespace: str, name: str) -> dict | None:
        with self.lock:
            return self.store.get(f"{namespace}/{name}" if namespace else name)

    def list(self, namespace: str | None = None) -> list[dict]:
        with self.lock:
            if namespace is None:
                return list(self.store.values())
            return [o for o in self.store.values()
                    if (o.get("metadata") or {}).get("namespace", "") == namespace]

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        t = threading.Thread(target=self._run, name=f"informer-{self.res.name}", daemon=True)
        t.start()
        self._threads.append(t)
        if self.resync_period:
            r = threading.Thread(target=self._resync_loop, name=f"resync-{self.res.name}", daemon=True)
            r.start()
            self._threads.append(r)

    def stop(self) -> None:
        self.stopped.set()
        resp = self._resp
        if resp is not None:
            try:
                resp.shutdown()
            except Exception:
                pass
            try:
                resp.release_conn()
            except Exception:
                pass

    def _dispatch(self, kind: str, *args) -> None:
        for add, update, delete in self.handlers:
            try:
                {"add": add, "update": update, "delete": delete}[kind](*args)
            except Exception:  # pragma: no cover - handler bug
                log.exception("informer handler failed")

    def _resync_loop(self) -> None:
        while not self.stopped.wait(self.resync_period):
            for obj in self.list():
                self._dispatch("update", obj, obj)

    def _fill_type(self, obj: dict) -> dict:
        obj.setdefault("apiVersion", self.res.api_version)
        obj.setdefault("kind", self.res.kind)
        return obj

    def _list(self) -> str:
        doc = self.kube.request("GET", self.res.path())
        items = {obj_key(o): self._fill_type(o) for o in doc.get("items", [])}
        with self.lock:
            old = self.store
            self.store, self.by_owner, self.by_cuid = {}, {}, {}
            for k, o in items.items():
                self._put(k, o)
        for k, o in items.items():
            if k in old:
                self._dispatch("update", old[k], o)
            else:
                self._dispatch("add", o)
        for k, o in old.items():
            if k not in items:
                self._dispatch("delete", o)
        return doc["metadata"].get("resourceVersion", "")

    def _run(self) -> None:
        rv = None
        last_list = 0.0
        backoff = 0.2
        while not self.stopped.is_set():
            try:
                if rv is None or time.monotonic() - last_list > self.relist_period:
                    rv = self._list()
                    last_list = time.monotonic()
                    self.synced.set()
                    backoff = 0.2
                rv = self._watch(rv)
            except ApiError as exc:
                if exc.gone:
                    rv = None
                    continue
                if self.stopped.is_set():
                    return
                log.warning("informer %s: %s", self.res.name, exc)
                rv = None
                time.sleep(backoff)
                backoff = min(backoff * 2, 5)
            except Exception as exc:  # connection drops, timeouts, shutdown
                if self.stopped.is_set():
                    return
                log.debug("informer %s watch ended: %r", self.res.name, exc)
                time.sleep(0.1)

    def _watch(self, rv: str) -> str | None:
        query = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true",
                 "timeoutSeconds": "240"}
        resp = self.kube.stream(self.res.path(), query, timeout=300)
        self._resp = resp
        buf = b""
        try:
            for chunk in resp.stream(65536, decode_content=True):
                if self.stopped.is_set():
                    return rv
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    typ, obj = ev.get("type"), ev.get("object") or {}
                    if typ == "ERROR":
                        code = obj.get("code", 500)
                        raise ApiError(code, obj, f"WATCH {self.res.path()}")
                    new_rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if typ == "BOOKMARK":
                        rv = new_rv or rv
                        continue
                    self._fill_type(obj)
                    key = obj_key(obj)
                    with self.lock:
                        old = self._put(key, None if typ == "DELETED" else obj)
                    if typ == "ADDED":
                        self._dispatch("add", obj) if old is None else self._dispatch("update", old, obj)
                    elif typ == "MODIFIED":
                        self._dispatch("update", old or obj, obj)
                    elif typ == "DELETED":
                        self._dispatch("delete", obj)
                    rv = new_rv or rv
        finally:
            self._resp = None
            try:
                resp.release_conn()
            except Exception:
                pass
        return rv


class WorkQueue:
    """client-go workqueue: de-duplicating, one worker per key at a time, delayed adds and the
    per-item exponential failure rate limiter (5ms * 2^failures, capped at 1000s)."""

    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0):
        self.cond = threading.Condition()
        self.queue: collections.deque[str] = collections.deque()
        self.dirty: set[str] = set()
        self.processing: set[str] = set()
        self.failures: dict[str, int] = {}
        self.delayed: list[tuple[float, int, str]] = []
        self.seq = 0
        self.shutting_down = False
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._timer = threading.Thread(target=self._delay_loop, name="workqueue-delay", daemon=True)
        self._timer.start()

    def add(self, key: str) -> None:
        with self.cond:
            if self.shutting_down or key in self.dirty:
                return
            self.dirty.add(key)
            if key in self.processing:
                return
            self.queue.append(key)
            self.cond.notify_all()

    def add_after(self, key: str, delay: float) -> None:
        if delay <= 0:
            self.add(key)
            return
        with self.cond:
            if self.shutting_down:
                return
            self.seq += 1
            heapq.heappush(self.delayed, (time.monotonic() + delay, self.seq, key))
            self.cond.notify_all()

    def add_rate_limited(self, key: str) -> None:
        with self.cond:
            n = self.failures.get(key, 0)
            self.failures[key] = n + 1
        self.add_after(key, min(self.base_delay * (2 ** n), self.max_delay))

    def forget(self, key: str) -> None:
        with self.cond:
            self.failures.pop(key, None)

    def num_requeues(self, key: str) -> int:
        with self.cond:
            return self.failures.get(key, 0)

    def get(self) -> str | None:
        with self.cond:
            while not self.queue and not self.shutting_down:
                self.cond.wait()
            if not self.queue:
                return None
            key = self.queue.popleft()
            self.processing.add(key)
            self.dirty.discard(key)
            return key

    def done(self, key: str) -> None:
        with self.cond:
            self.processing.discard(key)
            if key in self.dirty:
                self.queue.append(key)
                self.cond.notify_all()

    def shutdown(self) -> None:
        with self.cond:
            self.shutting_down = True
            self.cond.notify_all()

    def _delay_loop(self) -> None:
        while True:
            with self.cond:
                if self.shutting_down:
                    return
                now = time.monotonic()
                ready = []
                while self.delayed and self.delayed[0][0] <= now:
                    ready.append(heapq.heappop(self.delayed)[2])
                timeout = (self.delayed[0][0] - now) if self.delayed else 1.0
            for key in ready:
                self.add(key)
            with self.cond:
                if not self.shutting_down and not ready:
                    self.cond.wait(timeout=min(timeout, 1.0))
