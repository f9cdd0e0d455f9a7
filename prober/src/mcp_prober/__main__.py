"""``mcp-prober``: serve /readyz, /healthz and /inventory while probing MCP_PROBE_URL."""

from __future__ import annotations

import logging
import sys

import uvicorn

from . import config
from .app import Prober, Reporter, Verdicts, create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for noisy in ("httpx", "httpx2", "mcp", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = config.load()
    reporter = verdicts = None
    if settings.inventory:
        from .kube import InventoryStore, api_client

        store = InventoryStore(api_client(), settings.namespace, settings.inventory, settings.pod_name)
        reporter = Reporter(store)
        if settings.pod_name:
            verdicts = Verdicts(store, settings.pod_name)
    app = create_app(Prober(settings, reporter, verdicts))
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
