"""HTTP surface of the hooks (Flask app factory).

POST /sync, POST /finalize  Metacontroller hooks (JSON in, JSON out; 400 + {"error"} when malformed)
POST /customize             related objects to send with each sync (pods, EndpointSlices,
                            referenced Secrets/ConfigMaps, same-named objects; related.py)
GET  /healthz               liveness
GET  /readyz                readiness: the CRD schema is loaded and a sample sync succeeds; 503
                            once draining (the preStop `python -m mcp_operator_hook.drain`)
GET  /metrics               Prometheus: per-hook request counts, latency histograms, errors

Serve with gunicorn (see gunicorn_conf.py):
    gunicorn -c python:mcp_operator_hook.gunicorn_conf "mcp_operator_hook.app:create_app()"
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Callable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from . import constants as C
from . import drain as drainmod
from . import related as relatedmod
from . import spec as specmod
from . import sync as syncmod
from .errors import BadRequest

log = logging.getLogger("mcp_operator_hook")


class Metrics:
    """Prometheus metrics; multiprocess-aware when PROMETHEUS_MULTIPROC_DIR is set (gunicorn)."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # A private registry per app: the factory can be called many times in one process
        # (tests) without duplicate-registration errors.
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("mcp_hook_requests_total", "Hook requests by hook and HTTP status code.",
                                ["hook", "code"], registry=self.registry)
        self.errors = Counter("mcp_hook_errors_total",
                              "Hook requests that failed, by hook and kind (bad_request, internal).",
                              ["hook", "kind"], registry=self.registry)
        self.invalid_specs = Counter("mcp_hook_invalid_spec_total",
                                     "Sync/finalize answers that reported an invalid MCPServer spec.",
                                     ["hook"], registry=self.registry)
        self.latency = Histogram("mcp_hook_request_duration_seconds", "Hook request latency in seconds.",
                                 ["hook"], registry=self.registry,
                                 buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _json(body, code: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status=code, mimetype="application/json")


def _sample_request() -> dict:
    return {
        "parent": {"apiVersion": C.API_VERSION, "kind": C.KIND,
                   "metadata": {"name": "readyz", "namespace": "default", "generation": 1},
                   "spec": {"image": "example/readyz:1"}},
        "children": {k: {} for k in C.CHILD_KEYS},
    }


def _reject_constant(name: str):
    """NaN and Infinity are not JSON (RFC 8259 section 6); Python's parser accepts them."""
    raise ValueError(f"{name} is not a JSON number")


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = C.MAX_REQUEST_BYTES
    metrics = Metrics()
    app.extensions["mcp_hook_metrics"] = metrics
    specmod.spec_validator()  # load + compile the CRD schema now, fail fast if it is broken

    def hook_endpoint(hook: str, fn: Callable[[dict], tuple[str, dict]]):
        def handler():
            start = time.perf_counter()
            code = 200
            try:
                raw = request.get_data(cache=False)  # 413 above MAX_CONTENT_LENGTH
                try:
                    body = json.loads(raw, parse_constant=_reject_constant)
                except ValueError as exc:
                    raise BadRequest(f"request body is not valid JSON: {exc}") from None
                except RecursionError:
                    raise BadRequest("request body is nested too deeply to be a Kubernetes object") from None
                try:
                    text, status = fn(body)
                except RecursionError:
                    # Input that parses but is deeper than any Kubernetes object can be: the
                    # caller's fault, not ours (Python's recursion limit bounds every walk of it).
                    raise BadRequest("request body is nested too deeply to be a Kubernetes object") from None
                if any(c["type"] == C.COND_CONFIGURATION_VALID and c["status"] == "False"
                       for c in status.get("conditions", [])):
                    metrics.invalid_specs.labels(hook).inc()
                resp = Response(text, status=200, mimetype="application/json")
            except BadRequest as exc:
                code = 400
                metrics.errors.labels(hook, "bad_request").inc()
                resp = _json({"error": exc.message}, 400)
            except HTTPException:
                raise
            except Exception:  # noqa: BLE001 - answer 500 (Metacontroller retries), log the trace
                code = 500
                log.exception("%s hook failed", hook)
                metrics.errors.labels(hook, "internal").inc()
                resp = _json({"error": f"internal error in the {hook} hook"}, 500)
            metrics.requests.labels(hook, str(code)).inc()
            metrics.latency.labels(hook).observe(time.perf_counter() - start)
            return resp

        handler.__name__ = f"{hook}_hook"
        return handler

    app.add_url_rule(C.SYNC_PATH, view_func=hook_endpoint("sync", syncmod.sync_json), methods=["POST"])
    app.add_url_rule(C.FINALIZE_PATH, view_func=hook_endpoint("finalize", syncmod.finalize_json), methods=["POST"])

    def customize_json(body: dict) -> tuple[str, dict]:
        return syncmod.dumps(relatedmod.customize(body)), {}

    app.add_url_rule(C.CUSTOMIZE_PATH, view_func=hook_endpoint("customize", customize_json), methods=["POST"])

    @app.get("/healthz")
    def healthz():
        return _json({"status": "ok"})

    @app.get("/readyz")
    def readyz():
        if drainmod.draining():
            return _json({"status": "draining"}, 503)
        try:
            syncmod.sync(_sample_request())
        except Exception as exc:  # noqa: BLE001
            return _json({"status": "not ready", "error": str(exc)}, 503)
        return _json({"status": "ready"})

    @app.get("/metrics")
    def metrics_endpoint():
        body, ctype = metrics.render()
        return Response(body, status=200, content_type=ctype)

    @app.errorhandler(404)
    def not_found(_):
        return _json({"error": "not found"}, 404)

    @app.errorhandler(405)
    def method_not_allowed(_):
        return _json({"error": "method not allowed"}, 405)

    @app.errorhandler(413)
    def too_large(_):
        metrics.errors.labels("unknown", "bad_request").inc()
        return _json({"error": f"request body larger than {C.MAX_REQUEST_BYTES} bytes"}, 413)

    return app
