"""Baseline for bench/hook/throughput.py: a no-op Flask app that parses the JSON body and echoes
it back, served by the very same gunicorn settings as the hook."""

from __future__ import annotations

import json

from flask import Flask, Response, request


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/sync")
    def echo():
        body = json.loads(request.get_data(cache=False))
        return Response(json.dumps(body, separators=(",", ":")), status=200, mimetype="application/json")

    @app.get("/readyz")
    def readyz():
        return Response('{"status":"ready"}', mimetype="application/json")

    return app
