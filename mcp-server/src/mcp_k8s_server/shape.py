"""Pure functions that shape Kubernetes data before it reaches a model.

- summaries (pods, nodes, events) instead of raw objects; managedFields and other noise stripped;
- paging: a cursor wrapping the API server's ``continue`` token plus the last name returned, so a
  page cut short by the byte budget resumes exactly where it stopped;
- byte budgets with an explicit truncation notice (never a silent cut);
- redaction: Secret-sourced environment values and credential-looking literals are masked.

No I/O here: everything is testable without a cluster.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

# Annotations that repeat an object as some tool applied it (kubectl's, Metacontroller's, any other
# `<prefix>/last-applied-configuration`): noise, and a copy of everything applied, Secret data and
# env literals included, that the redaction below would otherwise miss. Matched by suffix so every
# applier's copy is covered, not only the ones we know of.
APPLIED_COPY_ANNOTATION = re.compile(r"(^|/)last-applied-configuration$")


def is_applied_copy(key: str) -> bool:
    return bool(APPLIED_COPY_ANNOTATION.search(key))

SENSITIVE_ENV_NAME = re.compile(r"(PASSW(OR)?D|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL|ACCESS_?KEY|AUTH)", re.I)
MASK = "***"

# -- validation -------------------------------------------------------------------------------
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# docker reference grammar, simplified: [host[:port]/]path[:tag][@digest]
_IMAGE = re.compile(
    r"^(?:(?P<host>[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"(?::[0-9]+)?)/)?"
    r"(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)"
    r"(?::(?P<tag>[\w][\w.-]{0,127}))?"
    r"(?:@(?P<digest>[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"
)


def check_dns1123_label(value: str, what: str) -> str | None:
    """None if ``value`` is a valid DNS-1123 label, else an actionable message."""
    if not value:
        return f"{what} must not be empty."
    if len(value) > 63:
        return f"{what} {value!r} is {len(value)} characters long; at most 63 are allowed."
    if not DNS1123_LABEL.match(value):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:63].strip("-")
        hint = f" Try {suggestion!r}." if suggestion and DNS1123_LABEL.match(suggestion) else ""
        return (
            f"{what} {value!r} is not a valid Kubernetes name: use lowercase letters, digits and '-', "
            f"starting and ending with a letter or digit.{hint}"
        )
    return None


def check_dns1123_subdomain(value: str, what: str) -> str | None:
    if not value:
        return f"{what} must not be empty."
    if len(value) > 253:
        return f"{what} is {len(value)} characters long; at most 253 are allowed."
    if not DNS1123_SUBDOMAIN.match(value):
        suggestion = re.sub(r"[^a-z0-9.-]+", "-", value.lower()).strip("-.")
        hint = f" Try {suggestion!r}." if suggestion and DNS1123_SUBDOMAIN.match(suggestion) else ""
        return (
            f"{what} {value!r} is not a valid Kubernetes name: use lowercase letters, digits, '-' and '.', "
            f"starting and ending with a letter or digit.{hint}"
        )
    return None


def check_image(value: str) -> str | None:
    if not value or not value.strip():
        return "image must not be empty; give a reference such as 'nginx:1.27' or 'registry.example.com/team/app:v1'."
    if len(value) > 512:
        return "image reference is longer than 512 characters."
    if any(c.isspace() for c in value):
        return f"image {value!r} contains whitespace; give a single reference such as 'nginx:1.27'."
    if not _IMAGE.match(value):
        lowered = value.lower()
        hint = f" Did you mean {lowered!r}? Repository paths must be lowercase." if lowered != value and _IMAGE.match(lowered) else ""
        return (
            f"image {value!r} is not a valid image reference ([registry[:port]/]repository[:tag][@sha256:digest], "
            f"e.g. 'nginx:1.27').{hint}"
        )
    return None


# -- time -------------------------------------------------------------------------------------
def parse_time(ts: str | None) -> datetime | None:
    if not ts:
        return None
    try:
        return datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None


def humanize_age(ts: str | None, now: datetime | None = None) -> str | None:
    t = parse_time(ts)
    if t is None:
        return None
    now = now or datetime.now(UTC)
    s = max(0, int((now - t).total_seconds()))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 120:
        return f"{m}m"
    h = m // 60
    if h < 48:
        return f"{h}h{m % 60}m" if h < 10 and m % 60 else f"{h}h"
    d = h // 24
    return f"{d}d{h % 24}h" if d < 10 and h % 24 else f"{d}d"


# -- noise ------------------------------------------------------------------------------------
def strip_metadata(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """Metadata without managedFields, noisy annotations and other server bookkeeping."""
    out = {k: v for k, v in (meta or {}).items() if k not in ("managedFields", "selfLink", "generateName")}
    ann = out.get("annotations")
    if ann:
        ann = {k: v for k, v in ann.items() if not is_applied_copy(k)}
        if ann:
            out["annotations"] = ann
        else:
            out.pop("annotations")
    return out


# -- summaries --------------------------------------------------------------------------------
def _ready_condition(obj: Mapping[str, Any]) -> str | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status")
    return None


def node_summary(node: Mapping[str, Any]) -> dict[str, Any]:
    status = node.get("status") or {}
    cap = status.get("capacity") or {}
    info = status.get("nodeInfo") or {}
    return {
        "name": (node.get("metadata") or {}).get("name"),
        "status": _ready_condition(node),
        "ready": _ready_condition(node) == "True",
        "version": info.get("kubeletVersion"),
        "capacity": {"cpu": cap.get("cpu"), "memory": cap.get("memory"), "pods": cap.get("pods")},
        "unschedulable": bool((node.get("spec") or {}).get("unschedulable", False)),
    }


def _terminated_reason(t: Mapping[str, Any], prefix: str = "") -> str:
    if t.get("reason"):
        return prefix + t["reason"]
    if t.get("signal"):
        return f"{prefix}Signal:{t['signal']}"
    return f"{prefix}ExitCode:{t.get('exitCode', 0)}"


def _later(a: str | None, b: str | None) -> str | None:
    return b if b and (not a or b > a) else a  # RFC 3339 UTC timestamps sort as strings


def pod_status(pod: Mapping[str, Any]) -> dict[str, Any]:
    """What ``kubectl get pod`` shows: STATUS, READY n/m, RESTARTS and the last restart time.

    A port of kubectl's ``printPod`` (kubernetes/kubernetes pkg/printers/internalversion/printers.go):
    init containers first (``Init:<reason>``, ``Init:ExitCode:N``, ``Init:N/M``; their restarts count
    while the pod initializes), then app containers from the last to the first (a waiting or
    terminated reason wins; only ready *and* running containers count as ready), sidecars
    (restartable init containers) counted as containers, ``SchedulingGated``, ``Completed`` turned
    back into ``Running``/``NotReady`` while a container still runs, and ``Terminating`` (or
    ``Unknown`` on an unreachable node) for a pod being deleted.
    Returns {"status", "ready": "n/m", "readyCount", "total", "restarts", "lastRestart"}.
    """
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    meta = pod.get("metadata") or {}
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    conditions = status.get("conditions") or []
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated" for c in conditions):
        reason = "SchedulingGated"
    init_specs = spec.get("initContainers") or []
    sidecars = {c.get("name") for c in init_specs if c.get("restartPolicy") == "Always"}
    total = len(spec.get("containers") or []) + len(sidecars)
    ready = restarts = sidecar_restarts = 0
    last = sidecar_last = None
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        finished = ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt")
        restarts += int(cs.get("restartCount") or 0)
        last = _later(last, finished)
        is_sidecar = cs.get("name") in sidecars
        if is_sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            sidecar_last = _later(sidecar_last, finished)
        terminated, waiting = state.get("terminated"), state.get("waiting")
        if terminated is not None and int(terminated.get("exitCode") or 0) == 0:
            continue
        if is_sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if terminated is not None:
            reason = _terminated_reason(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting.get("reason") != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break
    initialized = any(c.get("type") == "Initialized" and c.get("status") == "True" for c in conditions)
    if not initializing or initialized:
        restarts, last = sidecar_restarts, sidecar_last
        running = False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            restarts += int(cs.get("restartCount") or 0)
            last = _later(last, ((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif cs.get("ready") and state.get("running") is not None:
                running = True
                ready += 1
        if reason == "Completed" and running:
            pod_ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
            reason = "Running" if pod_ready else "NotReady"
    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    return {"status": reason, "ready": f"{ready}/{total}", "readyCount": ready, "total": total,
            "restarts": restarts, "lastRestart": last if restarts else None}


_RESTARTS = re.compile(r"^\s*(\d+)(?:\s*\((.+) ago\))?\s*$")
_QUIET_STATUSES = ("Running", "Completed", "Succeeded", "Pending")


def _cell(value: Any) -> Any:
    return None if value in ("<none>", "", None) else value


def pod_row(cells: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """One list-pods row from the API server's Table row for a pod (columns by name).

    The Table is the API server running kubectl's ``printPod`` (the same code ``kubectl get pods``
    shows), so STATUS, READY and RESTARTS mean exactly what kubectl prints; asking for it instead of
    whole pods also costs ~20x fewer bytes (no spec, no managedFields). ``reason`` repeats STATUS when
    it says more than Running/Completed/Pending (CrashLoopBackOff, Init:1/2, Terminating, ...).
    """
    status = cells.get("Status")
    ready = str(cells.get("Ready") or "0/0")
    n, _, m = ready.partition("/")
    match = _RESTARTS.match(str(cells.get("Restarts", "0")))
    row = {
        "name": cells.get("Name"),
        "namespace": namespace,
        "status": status,
        "ready": n.isdigit() and m.isdigit() and int(m) > 0 and n == m,
        "readyContainers": ready,
        "restarts": int(match.group(1)) if match else 0,
        "lastRestart": (match.group(2) + " ago") if match and match.group(2) else None,
        "age": _cell(cells.get("Age")),
        "ip": _cell(cells.get("IP")),
        "node": _cell(cells.get("Node")),
        "reason": None if status in _QUIET_STATUSES else status,
    }
    return {k: v for k, v in row.items() if v is not None}  # as the models' exclude_none dumps


def table_rows(table: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A meta.k8s.io/v1 Table's rows as {column name: cell}."""
    names = [c.get("name", "") for c in table.get("columnDefinitions") or []]
    return [dict(zip(names, r.get("cells") or [], strict=False)) for r in table.get("rows") or []]


def event_summary(ev: Mapping[str, Any], now: datetime | None = None, message_chars: int = 400) -> dict[str, Any]:
    obj = ev.get("involvedObject") or ev.get("regarding") or {}
    meta = ev.get("metadata") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or ev.get("firstTimestamp") or meta.get("creationTimestamp")
    msg = (ev.get("message") or ev.get("note") or "").strip()
    if len(msg) > message_chars:
        msg = msg[: message_chars - 1] + "…"
    series = ev.get("series") or {}
    return {
        "type": ev.get("type"),
        "reason": ev.get("reason"),
        "object": f"{obj.get('kind', '?')}/{obj.get('name', '?')}",
        "message": msg,
        "count": int(ev.get("count") or series.get("count") or 1),
        "lastSeen": last,
        "age": humanize_age(last, now),
    }


def sort_events_recent_first(events: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    def key(e: Mapping[str, Any]) -> str:
        return e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or (e.get("metadata") or {}).get("creationTimestamp") or ""

    return sorted(events, key=key, reverse=True)


# -- redaction --------------------------------------------------------------------------------
def redact_env(env: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Environment entries safe to show: Secret-sourced values are references only, credential-looking
    literal values are masked, everything else passes."""
    out: list[dict[str, Any]] = []
    for e in env or []:
        name = e.get("name")
        vf = e.get("valueFrom") or {}
        if "secretKeyRef" in vf:
            ref = vf["secretKeyRef"] or {}
            out.append({"name": name, "value": MASK, "source": f"secret {ref.get('name')}/{ref.get('key')} (value never shown)"})
        elif vf:
            kind = next(iter(vf))
            ref = vf[kind] or {}
            desc = ref.get("fieldPath") or ref.get("resource") or "/".join(str(ref.get(k)) for k in ("name", "key") if ref.get(k))
            out.append({"name": name, "source": f"{kind} {desc}".strip()})
        elif "value" in e:
            value = e.get("value")
            if name and SENSITIVE_ENV_NAME.search(str(name)) and value:
                out.append({"name": name, "value": MASK, "source": "literal (masked: the name suggests a credential)"})
            else:
                out.append({"name": name, "value": value})
        else:
            out.append({"name": name})
    return out


def redact_env_from(env_from: Iterable[Mapping[str, Any]] | None) -> list[str]:
    refs = []
    for ef in env_from or []:
        prefix = ef.get("prefix") or ""
        if ef.get("secretRef"):
            refs.append(f"secret {ef['secretRef'].get('name')} (values never shown){' prefix ' + prefix if prefix else ''}")
        elif ef.get("configMapRef"):
            refs.append(f"configmap {ef['configMapRef'].get('name')}{' prefix ' + prefix if prefix else ''}")
    return refs


def volume_summary(vol: Mapping[str, Any]) -> dict[str, Any]:
    kinds = [k for k in vol if k != "name"]
    kind = kinds[0] if kinds else "unknown"
    src = vol.get(kind) or {}
    ref = None
    if isinstance(src, Mapping):
        ref = src.get("secretName") or src.get("name") or src.get("claimName") or src.get("path")
    return {"name": vol.get("name"), "type": kind, "source": ref}


# -- budgets and paging ----------------------------------------------------------------------
def json_size(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def fit_items(items: list[Any], budget: int, reserve: int = 512) -> int:
    """How many leading items fit in ``budget`` bytes (at least one, so paging always advances)."""
    if json_size(items) + reserve <= budget:  # the common case: one serialization, not one per item
        return len(items)
    used = reserve
    for i, item in enumerate(items):
        used += json_size(item) + 1
        if used > budget:
            return max(1, i)
    return len(items)


class CursorError(ValueError):
    pass


def query_fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def encode_cursor(continue_token: str | None, after: str | None, fingerprint: str) -> str:
    payload = {"v": 1, "c": continue_token or "", "a": after or "", "q": fingerprint}
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[str | None, str | None]:
    """(continue token, last name already returned) from a cursor issued for the same query."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise ValueError
    except (ValueError, TypeError):
        raise CursorError("cursor is not one this server issued; pass back the nextCursor value unchanged, or omit it to start over.") from None
    if payload.get("q") != fingerprint:
        raise CursorError(
            "cursor belongs to a different query (namespace, selectors or limit changed); repeat the same "
            "arguments with the cursor, or omit the cursor to start a new listing."
        )
    return payload.get("c") or None, payload.get("a") or None


def page(
    items: list[Mapping[str, Any]],
    summarize: Callable[[Mapping[str, Any]], dict[str, Any]],
    *,
    after: str | None,
    used_continue: str | None,
    next_continue: str | None,
    fingerprint: str,
    budget: int,
    name_of: Callable[[Mapping[str, Any]], str] = lambda o: (o.get("metadata") or {}).get("name") or "",
) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """Shape one API page: (summaries, next cursor, truncation notice or None).

    ``after``: the last name already returned from this API page (items up to it are skipped).
    When the budget cuts the page short, the next cursor re-reads the same API page
    (``used_continue``) and skips past the last name returned, so nothing is lost or repeated.
    """
    if after is not None:
        names = [name_of(o) for o in items]
        if after in names:
            items = items[names.index(after) + 1 :]
        else:  # object vanished meanwhile: keep API (key) order, skip names sorting before it
            items = [o for o in items if name_of(o) > after]
    summaries = [summarize(o) for o in items]
    n = fit_items(summaries, budget)
    if n < len(summaries):
        kept = summaries[:n]
        cursor = encode_cursor(used_continue, name_of(items[n - 1]), fingerprint)
        notice = (
            f"Output truncated at the {budget}-byte budget: {n} of {len(summaries)} items on this page shown. "
            "Pass nextCursor to continue, or narrow the query with selectors."
        )
        return kept, cursor, notice
    cursor = encode_cursor(next_continue, None, fingerprint) if next_continue else None
    return summaries, cursor, None


def cut_log(text: str, budget: int) -> tuple[str, bool]:
    """Keep the most recent whole lines of ``text`` within ``budget`` bytes: (text, truncated)."""
    data = text.encode("utf-8")
    if len(data) <= budget:
        return text, False
    tail = data[-budget:]
    nl = tail.find(b"\n")
    if 0 <= nl < len(tail) - 1:
        tail = tail[nl + 1 :]
    return tail.decode("utf-8", "replace"), True


def fit_object(obj: Any, budget: int, protect: Iterable[str] = ()) -> tuple[Any, bool]:
    """``obj`` shrunk until its compact JSON fits ``budget`` bytes: (result, whether anything was cut).

    Long strings are shortened first (to 2048, 512, 128, then 32 characters, marked with '…'), then
    long lists are cut to their first 50, 20, 10, 5, 2, 1 items. Types stay the same (a list stays a
    list, a string a string), so the result still matches the tool's output schema. Top-level keys in
    ``protect`` (e.g. "name", "notice") are never shortened.
    """
    if json_size(obj) <= budget:
        return obj, False
    keep = set(protect)

    def strings(o: Any, n: int, top: bool = False) -> Any:
        if isinstance(o, str):
            return o if len(o) <= n else o[: n - 1] + "…"
        if isinstance(o, dict):
            return {k: v if top and k in keep else strings(v, n) for k, v in o.items()}
        if isinstance(o, list):
            return [strings(v, n) for v in o]
        return o

    def lists(o: Any, n: int) -> Any:
        if isinstance(o, dict):
            return {k: lists(v, n) for k, v in o.items()}
        if isinstance(o, list):
            return [lists(v, n) for v in o[:n]]
        return o

    for n in (2048, 512, 128, 32):
        obj = strings(obj, n, top=True)
        if json_size(obj) <= budget:
            return obj, True
    for n in (50, 20, 10, 5, 2, 1):
        obj = lists(obj, n)
        if json_size(obj) <= budget:
            return obj, True
    return obj, True


# -- any object -------------------------------------------------------------------------------
SECRET_KINDS = ("Secret",)


def redact_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of any Kubernetes object that is safe to show a model.

    - metadata without managedFields; every ``*/last-applied-configuration`` annotation removed
      (kubectl's, Metacontroller's: it repeats the object as applied, a Secret's data included); annotation values whose key
      looks like a credential masked;
    - a Secret's ``data``/``stringData`` values masked (keys kept: they say what the Secret holds);
    - every container ``env`` list anywhere (pods, pod templates, CRDs embedding them) through
      ``redact_env``: Secret references shown as references, credential-looking literals masked.
    """
    out = _redact(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = strip_metadata(meta)
        ann = meta.get("annotations")
        if isinstance(ann, dict):
            meta["annotations"] = {k: (MASK if SENSITIVE_ENV_NAME.search(k) and v else v) for k, v in ann.items()}
        out["metadata"] = meta
    if out.get("kind") in SECRET_KINDS:
        for key in ("data", "stringData"):
            if isinstance(out.get(key), dict):
                out[key] = {k: MASK for k in out[key]}
    return out


def _redact(o: Any) -> Any:
    if isinstance(o, dict):
        res = {}
        for k, v in o.items():
            if k == "env" and isinstance(v, list) and all(isinstance(e, dict) and "name" in e for e in v):
                res[k] = redact_env(v)
            elif isinstance(k, str) and is_applied_copy(k):
                continue
            else:
                res[k] = _redact(v)
        return res
    if isinstance(o, list):
        return [_redact(v) for v in o]
    return o
