"""A faithful stand-in for Metacontroller's CompositeController (v4.x semantics), in Python.

It follows metacontroller's pkg/controller/composite/controller.go, hook.go, pkg/controller/common
(manage_children.go, finalizer), pkg/dynamic/apply and pkg/hooks/webhook.go:

  parent informer (+resyncPeriodSeconds) and child informers -> work queue -> N workers;
  per parent: sync the finalizer, claim children (adopt orphans matching the selector,
  release owned ones that no longer match), call the sync hook (or the finalize hook when the
  parent is being deleted and a finalize hook is configured), then: delayed resync on
  resyncAfterSeconds, remove the finalizer on finalized=true, add the controller-uid label
  (generateSelector), check desired children match the selector, manage children (delete
  undesired, create with last-applied + controllerRef, 3-way-merge update per updateStrategy),
  write status (+observedGeneration) through the status subresource only when it differs.
  Errors: SyncError Warning event on the parent and a rate-limited requeue; HTTP 429 with
  Retry-After requeues after that delay without an event.

Not implemented (see README.md here): Rolling* update strategies' ControllerRevision
bookkeeping (they behave as their non-rolling counterparts), the customize hook / related
objects, server-side apply mode, etag webhooks, DecoratorControllers, leader election, metrics.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import secrets
import threading
import time
from datetime import datetime, timezone
from typing import Any

import urllib3

from . import apply as dynapply
from .informer import Informer, WorkQueue
from .kube import APIResource, ApiError, Kube

log = logging.getLogger("metacontroller")

GC_FINALIZERS = ("foregroundDeletion", "orphan")


class HookError(Exception):
    pass


class TooManyRequests(Exception):
    def __init__(self, after: int):
        super().__init__(f"too many requests, retry after {after}s")
        self.after = after


def parse_go_duration(text: str | None, default: float = 10.0) -> float:
    if not text:
        return default
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    total = 0.0
    pos = 0
    for m in re.finditer(r"([0-9]*\.?[0-9]+)(ns|us|µs|ms|s|m|h)", text):
        if m.start() != pos:
            return default
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text) or total <= 0:
        return default
    return total


def gvk_key(api_version: str, kind: str) -> str:
    """Metacontroller's GroupVersionKind.MarshalText: Kind.version or Kind.group/version."""
    return f"{kind}.{api_version}"


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def has_finalizer(obj: dict, name: str) -> bool:
    return name in ((obj.get("metadata") or {}).get("finalizers") or [])


def controller_ref(obj: dict) -> dict | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


class Webhook:
    def __init__(self, hook: dict | None, hook_type: str):
        self.hook_type = hook_type
        self.enabled = bool(hook and hook.get("webhook"))
        if not self.enabled:
            return
        self.version = hook.get("version") or "v1"
        wh = hook["webhook"]
        if wh.get("url"):
            self.url = wh["url"]
        else:
            svc = wh.get("service") or {}
            if not svc.get("name") or not svc.get("namespace") or not wh.get("path"):
                raise ValueError("invalid webhook config: must specify either full 'url', "
                                 "or both 'service' and 'path'")
            self.url = (f"{svc.get('protocol') or 'http'}://{svc['name']}.{svc['namespace']}:"
                        f"{svc.get('port') or 80}{wh['path']}")
        self.timeout = parse_go_duration(wh.get("timeout"), 10.0)
        mode = wh.get("responseUnmarshallMode")
        self.strict = (mode == "strict") if mode else (self.version == "v2")
        self.http = urllib3.PoolManager(maxsize=16)

    def call(self, request: dict) -> dict:
        body = json.dumps(request).encode()
        try:
            resp = self.http.request("POST", self.url, body=body,
                                     headers={"Content-Type": "application/json"},
                                     timeout=urllib3.Timeout(total=self.timeout), retries=False)
        except urllib3.exceptions.HTTPError as exc:
            raise HookError(f"http error: {exc}") from exc
        if resp.status == 429:
            ra = resp.headers.get("Retry-After", "")
            try:
                after = int(ra)
            except ValueError:
                try:
                    from email.utils import parsedate_to_datetime
                    after = max(0, int(round(parsedate_to_datetime(ra).timestamp() - time.time() + 0.5)))
                except Exception:
                    after = 0
            raise TooManyRequests(after)
        text = resp.data.decode(errors="replace")
        if resp.status != 200:
            raise HookError(f"unsupported status code: {resp.status} body: {text}")
        try:
            out = json.loads(text)
        except ValueError as exc:
            raise HookError(f"can't unmarshal webhookResponse (version: {self.version}, "
                            f"type: {self.hook_type}): {exc}") from exc
        if out is None:
            out = {}
        if not isinstance(out, dict):
            raise HookError(f"can't unmarshal webhookResponse: expected object, got {type(out).__name__}")
        unknown = sorted(set(out) - {"status", "children", "resyncAfterSeconds", "finalized"})
        if unknown and self.strict:
            raise HookError(f"strict validation failed for {self.version} webhookResponse "
                            f"(type: {self.hook_type}, mode: strict): unknown field(s) {unknown}")
        children = out.get("children")
        if children is None:
            children = []
        if not isinstance(children, list) or not all(isinstance(c, dict) for c in children):
            raise HookError("can't unmarshal webhookResponse: children must be a list of objects")
        for c in children:  # unstructured.Unstructured decoding needs both
            if not isinstance(c.get("kind"), str) or not c.get("kind"):
                raise HookError(f"can't unmarshal webhookResponse: Object 'Kind' is missing in {json.dumps(c)[:200]}")
            if not isinstance(c.get("apiVersion"), str) or not c.get("apiVersion"):
                raise HookError(f"can't unmarshal webhookResponse: Object 'apiVersion' is missing in {json.dumps(c)[:200]}")
        status = out.get("status")
        if status is not None and not isinstance(status, dict):
            raise HookError("can't unmarshal webhookResponse: status must be an object")
        resync = out.get("resyncAfterSeconds") or 0
        if not isinstance(resync, (int, float)) or isinstance(resync, bool):
            raise HookError("can't unmarshal webhookResponse: resyncAfterSeconds must be a number")
        finalized = out.get("finalized") or False
        if not isinstance(finalized, bool):
            raise HookError("can't unmarshal webhookResponse: finalized must be a boolean")
        return {"status": status, "children": children, "resyncAfterSeconds": float(resync),
                "finalized": finalized}


class ParentController:
    def __init__(self, kube: Kube, cc: dict, workers: int = 5, events: bool = True):
        self.kube = kube
        self.cc = cc
        self.name = cc["metadata"]["name"]
        spec = cc.get("spec") or {}
        self.spec = spec
        self.workers = workers
        self.emit_events = events
        pr = spec["parentResource"]
        self.parent_res = kube.resource(pr["apiVersion"], pr["resource"])
        if self.parent_res is None:
            raise LookupError(f"discovery: can't find resource {pr['resource']} in apiVersion {pr['apiVersion']}")
        self.generate_selector = bool(spec.get("generateSelector"))
        self.label_selector = pr.get("labelSelector")
        self.ignore_status_changes = bool(pr.get("ignoreStatusChanges"))
        hooks = spec.get("hooks")
        if not hooks:
            raise ValueError("no hooks defined")
        self.sync_hook = Webhook(hooks.get("sync"), "sync")
        self.finalize_hook = Webhook(hooks.get("finalize"), "finalize")
        self.finalizer_name = f"metacontroller.io/compositecontroller-{self.name}"
        self.child_rules = []
        self.update_strategy: dict[tuple[str, str], str] = {}
        self.child_informers: dict[tuple[str, str], Informer] = {}
        resync = spec.get("resyncPeriodSeconds")
        resync = max(1.0, float(resync)) if resync is not None else None
        self.parent_informer = Informer(kube, self.parent_res, resync_period=resync)
        for child in spec.get("childResources") or []:
            res = kube.resource(child["apiVersion"], child["resource"])
            if res is None:
                raise LookupError(f"discovery: can't find resource {child['resource']} in apiVersion {child['apiVersion']}")
            method = ((child.get("updateStrategy") or {}).get("method")) or "OnDelete"
            self.update_strategy[(res.group, res.kind)] = method
            self.child_rules.append(res)
            self.child_informers[(res.api_version, res.name)] = Informer(kube, res)
        self.queue = WorkQueue()
        self.threads: list[threading.Thread] = []
        self.stopped = threading.Event()
        self.sync_count = 0
        self.error_count = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.parent_informer.add_handler(self._enqueue_parent, self._update_parent, self._enqueue_parent)
        for inf in self.child_informers.values():
            inf.add_handler(self._on_child_add, self._on_child_update, self._on_child_delete)
        self.parent_informer.start()
        for inf in self.child_informers.values():
            inf.start()
        t = threading.Thread(target=self._run, name=f"cc-{self.name}", daemon=True)
        t.start()
        self.threads.append(t)
        log.info("Starting CompositeController %s", self.name)

    def stop(self) -> None:
        self.stopped.set()
        self.queue.shutdown()
        self.parent_informer.stop()
        for inf in self.child_informers.values():
            inf.stop()

    def wait_synced(self, timeout: float = 60) -> bool:
        deadline = time.monotonic() + timeout
        for inf in [self.parent_informer, *self.child_informers.values()]:
            if not inf.synced.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def _run(self) -> None:
        while not self.wait_synced(timeout=5):
            if self.stopped.is_set():
                return
        for i in range(self.workers):
            t = threading.Thread(target=self._worker, name=f"cc-{self.name}-worker-{i}", daemon=True)
            t.start()
            self.threads.append(t)

    def _worker(self) -> None:
        while True:
            key = self.queue.get()
            if key is None:
                return
            try:
                self.sync(key)
            except Exception as exc:
                self.error_count += 1
                log.warning("failed to sync %s %r: %s", self.parent_res.kind, key, exc)
                self.queue.add_rate_limited(key)
            else:
                self.queue.forget(key)
            finally:
                self.queue.done(key)

    # ------------------------------------------------------------------ event handlers
    def _labels_match(self, labels: dict | None, selector: dict | None) -> bool:
        return label_selector_matches(selector, labels or {})

    def _do_not_match_labels(self, obj: dict) -> bool:
        if self.label_selector is None:
            return False
        return not self._labels_match((obj.get("metadata") or {}).get("labels"), self.label_selector)

    def _enqueue_parent(self, obj: dict) -> None:
        if not has_finalizer(obj, self.finalizer_name) and self._do_not_match_labels(obj):
            return
        self.queue.add(key_of(obj))

    def _update_parent(self, old: dict, cur: dict) -> None:
        if self.ignore_status_changes:
            om, cm = old.get("metadata") or {}, cur.get("metadata") or {}
            if (om.get("generation") == cm.get("generation") and om.get("labels") == cm.get("labels")
                    and om.get("annotations") == cm.get("annotations")
                    and not cm.get("deletionTimestamp")):
                return
        self._enqueue_parent(cur)

    def _resolve_controller_ref(self, namespace: str, ref: dict) -> dict | None:
        group = ref.get("apiVersion", "").split("/")[0] if "/" in ref.get("apiVersion", "") else ""
        if group != self.parent_res.group or ref.get("kind") != self.parent_res.kind:
            return None
        parent = self.parent_informer.get(namespace if self.parent_res.namespaced else "", ref.get("name"))
        if parent is None or parent["metadata"].get("uid") != ref.get("uid"):
            return None
        if not has_finalizer(parent, self.finalizer_name) and self._do_not_match_labels(parent):
            return None
        return parent

    def _on_child_add(self, child: dict) -> None:
        meta = child.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            self._on_child_delete(child)
            return
        ref = controller_ref(child)
        if ref is not None:
            parent = self._resolve_controller_ref(meta.get("namespace", ""), ref)
            if parent is not None:
                self._enqueue_parent(parent)
            return
        # orphan: sync every parent whose selector matches, so it can be adopted
        ns = meta.get("namespace", "") if self.parent_res.namespaced else None
        for parent in self.parent_informer.list(ns):
            sel = self.make_selector(parent)
            if sel and label_selector_matches(sel, meta.get("labels") or {}):
                self._enqueue_parent(parent)

    def _on_child_update(self, old: dict, cur: dict) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (cur.get("metadata") or {}).get("resourceVersion"):
            return
        self._on_child_add(cur)

    def _on_child_delete(self, child: dict) -> None:
        ref = controller_ref(child)
        if ref is None:
            return
        parent = self._resolve_controller_ref((child.get("metadata") or {}).get("namespace", ""), ref)
        if parent is not None:
            self._enqueue_parent(parent)

    # ------------------------------------------------------------------ sync
    def make_selector(self, parent: dict) -> dict | None:
        if self.generate_selector:
            return {"matchLabels": {"controller-uid": parent["metadata"]["uid"]}}
        sel = (parent.get("spec") or {}).get("selector")
        if not isinstance(sel, dict) or not (sel.get("matchLabels") or sel.get("matchExpressions")):
            raise HookError(".spec.selector must have either matchLabels, matchExpressions, or both")
        return sel

    def sync(self, key: str) -> None:
        ns, _, name = key.rpartition("/")
        parent = self.parent_informer.get(ns, name)
        if parent is None:
            return
        self.sync_count += 1
        try:
            self.sync_parent(copy.deepcopy(parent))
        except TooManyRequests as exc:
            log.info("resync %s after %ss (429 from hook)", key, exc.after)
            self.queue.add_after(key, exc.after)
        except Exception as exc:
            self.record_event(parent, "Warning", "SyncError", f"Sync error: {exc}")
            raise

    def _atomic_update(self, parent: dict, fn, status: bool = False) -> dict | None:
        """GET live object, apply fn (returns False for no change), PUT; retry on conflict."""
        meta = parent["metadata"]
        path = self.parent_res.path(meta.get("namespace"), meta["name"])
        delay = 0.01
        for attempt in range(5):
            cur = self.kube.request("GET", path)
            if cur["metadata"].get("uid") != meta.get("uid"):
                raise ApiError(404, {"reason": "NotFound", "message": "original object replaced"}, path)
            if not fn(cur):
                return cur
            sub = "status" if status and "status" in self.parent_res.subresources else None
            try:
                return self.kube.request("PUT", path + ("/status" if sub else ""), body=cur)
            except ApiError as exc:
                if not exc.conflict or attempt == 4:
                    raise
                time.sleep(delay)
                delay *= 5
        return None

    def _sync_finalizer(self, parent: dict) -> dict:
        enabled = self.finalize_hook.enabled
        if has_finalizer(parent, self.finalizer_name) == enabled:
            return parent
        if enabled:
            if parent["metadata"].get("deletionTimestamp"):
                return parent

            def add(obj):
                fins = obj["metadata"].setdefault("finalizers", [])
                if self.finalizer_name in fins:
                    return False
                fins.append(self.finalizer_name)
                return True
            return self._atomic_update(parent, add)
        return self._remove_finalizer(parent)

    def _remove_finalizer(self, parent: dict) -> dict:
        def remove(obj):
            fins = obj["metadata"].get("finalizers") or []
            if self.finalizer_name not in fins:
                return False
            obj["metadata"]["finalizers"] = [f for f in fins if f != self.finalizer_name]
            return True
        return self._atomic_update(parent, remove)

    def should_finalize(self, parent: dict) -> bool:
        fins = (parent.get("metadata") or {}).get("finalizers") or []
        if any(f in GC_FINALIZERS for f in fins):
            return False
        if self.finalizer_name not in fins:
            return False
        return self.finalize_hook.enabled

    def claim_children(self, parent: dict) -> dict[str, dict[str, dict]]:
        selector = self.make_selector(parent)
        pmeta = parent["metadata"]
        puid = pmeta["uid"]
        children: dict[str, dict[str, dict]] = {}
        for res in self.child_rules:
            inf = self.child_informers[(res.api_version, res.name)]
            if self.generate_selector:
                # Only objects owned by the parent or labelled controller-uid=<uid> can be claimed
                # (the selector is exactly that label); the index avoids Metacontroller's scan of the
                # whole namespace with identical results.
                all_objs = [o for o in inf.related_to(puid)
                            if not self.parent_res.namespaced
                            or (o.get("metadata") or {}).get("namespace", "") == pmeta.get("namespace", "")]
            else:
                all_objs = inf.list(pmeta.get("namespace", "") if self.parent_res.namespaced else None)
            group = children.setdefault(gvk_key(res.api_version, res.kind), {})
            for obj in all_objs:
                meta = obj.get("metadata") or {}
                labels = meta.get("labels") or {}
                ref = controller_ref(obj)
                matches = label_selector_matches(selector, labels)
                if ref is not None:
                    if ref.get("uid") != puid:
                        continue
                    if matches:
                        group[uniform_name(obj)] = obj
                        continue
                    if pmeta.get("deletionTimestamp"):
                        continue
                    self._release(res, parent, obj)
                    continue
                if pmeta.get("deletionTimestamp") or not matches or meta.get("deletionTimestamp"):
                    continue
                adopted = self._adopt(res, parent, obj)
                if adopted is not None:
                    group[uniform_name(adopted)] = adopted
        return children

    def _child_atomic_update(self, res: APIResource, obj: dict, fn) -> dict | None:
        meta = obj["metadata"]
        path = res.path(meta.get("namespace"), meta["name"])
        for attempt in range(5):
            cur = self.kube.request("GET", path)
            if cur["metadata"].get("uid") != meta.get("uid"):
                raise ApiError(404, {"reason": "NotFound"}, path)
            if not fn(cur):
                return cur
            try:
                out = self.kube.request("PUT", path, body=cur)
                out.setdefault("apiVersion", res.api_version)
                out.setdefault("kind", res.kind)
                return out
            except ApiError as exc:
                if not exc.conflict or attempt == 4:
                    raise
                time.sleep(0.01 * 5 ** attempt)
        return None

    def _adopt(self, res: APIResource, parent: dict, obj: dict) -> dict | None:
        # canAdopt: uncached read of the parent, same uid, not being deleted
        pm = parent["metadata"]
        fresh = self.kube.request("GET", self.parent_res.path(pm.get("namespace"), pm["name"]))
        if fresh["metadata"].get("uid") != pm["uid"]:
            raise HookError(f"original {self.parent_res.kind} {pm.get('namespace')}/{pm['name']} is gone")
        if fresh["metadata"].get("deletionTimestamp"):
            raise HookError(f"{self.parent_res.kind} {pm.get('namespace')}/{pm['name']} has just been deleted")
        ref = make_controller_ref(self.parent_res, parent)
        log.info("Adopting %s %s/%s", res.kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])

        def fn(cur):
            refs = [r for r in (cur["metadata"].get("ownerReferences") or []) if r.get("uid") != ref["uid"]]
            refs.append(ref)
            cur["metadata"]["ownerReferences"] = refs
            return True
        return self._child_atomic_update(res, obj, fn)

    def _release(self, res: APIResource, parent: dict, obj: dict) -> None:
        puid = parent["metadata"]["uid"]
        log.info("Releasing %s %s/%s", res.kind, obj["metadata"].get("namespace"), obj["metadata"]["name"])

        def fn(cur):
            refs = cur["metadata"].get("ownerReferences") or []
            cur["metadata"]["ownerReferences"] = [r for r in refs if r.get("uid") != puid]
            return True
        try:
            self._child_atomic_update(res, obj, fn)
        except ApiError as exc:
            if not (exc.not_found or exc.gone):
                raise

    def build_request(self, parent: dict, observed: dict, finalizing: bool, version: str) -> dict:
        children: dict[str, dict[str, dict]] = {}
        for gk, objs in observed.items():
            group = children.setdefault(gk, {})
            for obj in objs.values():
                meta = obj.get("metadata") or {}
                ns = meta.get("namespace") or ""
                if version == "v2":
                    name = f"{ns}/{meta['name']}" if ns else meta["name"]
                else:
                    pns = (parent.get("metadata") or {}).get("namespace") or ""
                    name = f"{ns}/{meta['name']}" if (not pns and ns) else meta["name"]
                group[name] = obj
        return {"controller": self.cc, "parent": parent, "children": children, "related": {},
                "finalizing": finalizing}

    def call_hook(self, parent: dict, observed: dict) -> dict | None:
        deleting = bool(parent["metadata"].get("deletionTimestamp"))
        if self.finalize_hook.enabled and (deleting or self._do_not_match_labels(parent)):
            hook, finalizing = self.finalize_hook, True
        elif self.sync_hook.enabled:
            hook, finalizing = self.sync_hook, False
        else:
            return None
        request = self.build_request(parent, observed, finalizing, hook.version)
        try:
            result = hook.call(request)
        except TooManyRequests:
            raise
        except HookError as exc:
            raise HookError(f"{hook.hook_type} hook failed (version={hook.version}): {exc}") from exc
        for child in result["children"]:
            meta = child.setdefault("metadata", {})
            if not isinstance(meta, dict):
                raise HookError("desired child has invalid metadata")
            if not meta.get("namespace"):
                meta["namespace"] = parent["metadata"].get("namespace", "")
                if not meta["namespace"]:
                    meta.pop("namespace")
        return result

    def sync_parent(self, parent: dict) -> None:
        if not has_finalizer(parent, self.finalizer_name) and self._do_not_match_labels(parent):
            return
        parent = self._sync_finalizer(parent)
        parent.setdefault("apiVersion", self.parent_res.api_version)
        parent.setdefault("kind", self.parent_res.kind)
        if not has_finalizer(parent, self.finalizer_name) and self._do_not_match_labels(parent):
            return
        observed = self.claim_children(parent)
        result = self.call_hook(parent, observed)
        if result is None:
            return
        pkey = key_of(parent)
        if result["resyncAfterSeconds"] > 0:
            self.queue.add_after(pkey, result["resyncAfterSeconds"])
        if result["finalized"]:
            parent = self._remove_finalizer(parent)
            parent.setdefault("apiVersion", self.parent_res.api_version)
            parent.setdefault("kind", self.parent_res.kind)

        selector = self.make_selector(parent)
        desired: dict[str, dict[str, dict]] = {}
        for obj in result["children"]:
            meta = obj["metadata"]
            labels = meta.get("labels")
            if labels is not None and not isinstance(labels, dict):
                raise HookError(f"invalid labels on desired child {obj.get('kind')} {meta.get('namespace')}/{meta.get('name')}")
            labels = dict(labels or {})
            if self.generate_selector and "controller-uid" not in labels:
                labels["controller-uid"] = parent["metadata"]["uid"]
                meta["labels"] = labels
            if not label_selector_matches(selector, labels):
                raise HookError(f"labels on desired child {obj.get('kind')} {meta.get('namespace')}/{meta.get('name')} don't match parent selector")
            gk = gvk_key(obj.get("apiVersion", ""), obj.get("kind", ""))
            desired.setdefault(gk, {})[uniform_name(obj)] = obj

        manage_err = None
        if not parent["metadata"].get("deletionTimestamp") or self.should_finalize(parent):
            try:
                self.manage_children(parent, observed, desired)
            except Exception as exc:
                pm = parent["metadata"]
                manage_err = HookError(f"can't reconcile children for {self.parent_res.kind} {pm.get('namespace')}/{pm['name']}: {exc}")

        try:
            self.update_status(parent, result["status"])
        except ApiError as exc:
            if not (exc.not_found or exc.conflict):
                raise
        if manage_err is not None:
            raise manage_err

    def update_status(self, parent: dict, status: dict | None) -> None:
        status = dict(status or {})
        status["observedGeneration"] = parent["metadata"].get("generation")

        def fn(cur):
            if json_equal(cur.get("status"), status):
                return False
            cur["status"] = status
            return True
        self._atomic_update(parent, fn, status=True)

    # ------------------------------------------------------------------ children
    def manage_children(self, parent: dict, observed: dict, desired: dict) -> None:
        errs: list[str] = []
        for gk, objs in observed.items():
            want = desired.get(gk) or {}
            for name, obj in objs.items():
                meta = obj["metadata"]
                if meta.get("deletionTimestamp") or name in want:
                    continue
                res = self._res_for(obj)
                if res is None:
                    errs.append(f"discovery: can't find kind {obj.get('kind')} in apiVersion {obj.get('apiVersion')}")
                    continue
                log.info("Deleting child %s %s/%s", obj.get("kind"), meta.get("namespace"), meta["name"])
                try:
                    self.kube.request("DELETE", res.path(meta.get("namespace"), meta["name"]),
                                      body={"kind": "DeleteOptions", "apiVersion": "v1",
                                            "preconditions": {"uid": meta.get("uid")},
                                            "propagationPolicy": "Background"})
                except ApiError as exc:
                    if not exc.not_found:
                        errs.append(f"can't delete {obj.get('kind')} {meta.get('namespace')}/{meta['name']}: {exc}")
        for gk, objs in desired.items():
            have = observed.get(gk) or {}
            for name, obj in objs.items():
                res = self._res_for(obj)
                if res is None:
                    errs.append(f"discovery: can't find kind {obj.get('kind')} in apiVersion {obj.get('apiVersion')}")
                    continue
                try:
                    self._update_or_create(res, parent, have.get(name), obj)
                except ApiError as exc:
                    errs.append(str(exc))
                except dynapply.MergeError as exc:
                    errs.append(str(exc))
        if errs:
            raise HookError("[" + ", ".join(errs) + "]" if len(errs) > 1 else errs[0])

    def _res_for(self, obj: dict) -> APIResource | None:
        return self.kube.resource_for_kind(obj.get("apiVersion", ""), obj.get("kind", ""))

    def _update_or_create(self, res: APIResource, parent: dict, old: dict | None, obj: dict) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace")
        if old is not None:
            new = dynapply.apply_update(old, obj)
            if json_equal(new, old):
                return
            if old["metadata"].get("deletionTimestamp"):
                return
            method = self.update_strategy.get((res.group, res.kind), "")
            if method in ("OnDelete", ""):
                return
            if method in ("Recreate", "RollingRecreate"):
                log.info("Deleting for update %s %s/%s", res.kind, ns, meta.get("name"))
                try:
                    self.kube.request("DELETE", res.path(ns, meta["name"]),
                                      body={"kind": "DeleteOptions", "apiVersion": "v1",
                                            "preconditions": {"uid": old["metadata"].get("uid")},
                                            "propagationPolicy": "Background"})
                except ApiError as exc:
                    if not exc.not_found:
                        raise
                return
            if method in ("InPlace", "RollingInPlace"):
                log.info("Updating %s %s/%s: %s", res.kind, ns, meta.get("name"), "; ".join(json_diff(old, new))[:2000])
                try:
                    self.kube.request("PUT", res.path(ns, meta["name"]), body=new)
                except ApiError as exc:
                    if not (exc.not_found or exc.conflict):
                        raise
                return
            raise HookError(f"invalid update strategy for {res.kind}: unknown method {method!r}")
        log.info("Creating %s %s/%s", res.kind, ns, meta.get("name"))
        obj = copy.deepcopy(obj)
        dynapply.set_last_applied(obj, copy.deepcopy(obj))
        refs = list(obj["metadata"].get("ownerReferences") or [])
        refs.append(make_controller_ref(self.parent_res, parent))
        obj["metadata"]["ownerReferences"] = refs
        try:
            self.kube.request("POST", res.path(ns), body=obj)
        except ApiError as exc:
            if not exc.already_exists:
                raise

    # ------------------------------------------------------------------ events
    def record_event(self, obj: dict, etype: str, reason: str, message: str) -> None:
        log.warning("%s %s %s: %s", etype, reason, key_of(obj), message)
        if not self.emit_events:
            return
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") or "default"
        ts = now_rfc3339()
        event = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.get('name')}.{secrets.token_hex(8)}", "namespace": ns},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                               "name": meta.get("name"), "namespace": meta.get("namespace"),
                               "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
            "reason": reason, "message": message[:1024], "type": etype,
            "source": {"component": "metacontroller"},
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
            "reportingComponent": "metacontroller",
        }
        try:
            self.kube.request("POST", f"/api/v1/namespaces/{ns}/events", body=event)
        except Exception as exc:  # best effort, like client-go's recorder
            log.debug("could not record event: %s", exc)


def uniform_name(obj: dict) -> str:
    """v2 UniformObjectMap key: namespace/name, or name for cluster-scoped objects."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return f"{ns}/{meta.get('name', '')}" if ns else meta.get("name", "")


def key_of(obj: dict) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace") or ""
    return f"{ns}/{meta.get('name')}"


def make_controller_ref(parent_res: APIResource, parent: dict) -> dict:
    meta = parent["metadata"]
    return {"apiVersion": parent.get("apiVersion") or parent_res.api_version,
            "kind": parent.get("kind") or parent_res.kind,
            "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def json_diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Human-readable differences between two JSON values (for the update log)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in b:
                out.append(f"-{path}.{k}")
            elif k not in a:
                out.append(f"+{path}.{k}={json.dumps(b[k])[:200]}")
            else:
                out.extend(json_diff(a[k], b[k], f"{path}.{k}"))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in json_diff(x, y, f"{path}[{i}]")]
    if a != b:
        return [f"~{path}: {json.dumps(a)[:200]} -> {json.dumps(b)[:200]}"]
    return []


def json_equal(a: Any, b: Any) -> bool:
    """reflect.DeepEqual on JSON-decoded values (None and missing differ; 1 == 1.0 here)."""
    return a == b


def label_selector_matches(selector: dict | None, labels: dict) -> bool:
    """metav1.LabelSelectorAsSelector(selector).Matches(labels); None means Everything()."""
    if selector is None:
        return True
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


class Metacontroller:
    """Runs CompositeControllers from objects (the YAML manifest) or from the cluster."""

    def __init__(self, kubeconfig: str | None, controllers: list[dict] | None = None,
                 workers: int = 5, qps: float = 5.0, burst: int = 10, events: bool = True):
        self.kube = Kube(kubeconfig, qps=qps, burst=burst)
        self.controllers_src = controllers
        self.workers = workers
        self.events = events
        self.controllers: dict[str, ParentController] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _load_from_cluster(self) -> list[dict]:
        try:
            doc = self.kube.request("GET", "/apis/metacontroller.k8s.io/v1alpha1/compositecontrollers")
        except ApiError as exc:
            if exc.not_found:
                return []
            raise
        return doc.get("items", [])

    def _reconcile_controllers(self) -> None:
        ccs = self.controllers_src if self.controllers_src is not None else self._load_from_cluster()
        seen = set()
        for cc in ccs:
            name = cc["metadata"]["name"]
            seen.add(name)
            existing = self.controllers.get(name)
            if existing is not None and existing.cc.get("spec") == cc.get("spec"):
                continue
            if existing is not None:
                existing.stop()
                del self.controllers[name]
            try:
                pc = ParentController(self.kube, cc, workers=self.workers, events=self.events)
            except (LookupError, ValueError) as exc:
                log.warning("can't start CompositeController %s: %s", name, exc)
                continue
            pc.start()
            self.controllers[name] = pc
        for name in list(self.controllers):
            if name not in seen:
                self.controllers.pop(name).stop()

    def _loop(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                self._reconcile_controllers()
            except Exception:
                log.exception("reconciling CompositeControllers failed")
            if self._stop.wait(interval):
                break

    def start(self, discovery_interval: float = 5.0) -> "Metacontroller":
        self._thread = threading.Thread(target=self._loop, args=(discovery_interval,),
                                        name="metacontroller", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.controllers and all(pc.wait_synced(0.1) for pc in self.controllers.values()):
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        self._stop.set()
        for pc in self.controllers.values():
            pc.stop()
