"""``mcp-bridge`` console script: parse settings, run uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn

from .app import create_app
from .config import parse


def main(argv: list[str] | None = None) -> None:
    settings = parse(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # The SDK logs per-message details at INFO; keep the bridge's own lines readable.
    logging.getLogger("mcp").setLevel(max(logging.WARNING, logging.getLogger().level))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        lifespan="on",
        # Named, not "auto": a missing uvloop/httptools fails the start instead of silently
        # serving on asyncio's loop and the pure-Python h11 parser (both pinned in pyproject).
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
