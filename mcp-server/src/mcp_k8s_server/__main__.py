"""Entry point: ``mcp-k8s-server`` picks the transport from MCP_TRANSPORT (stdio | http | streamable-http)."""

from __future__ import annotations

import logging
import sys

from . import __version__, config, logs

log = logging.getLogger("mcp_k8s_server")


def main(argv: list[str] | None = None) -> int:
    try:
        settings = config.load()
    except config.ConfigError as exc:
        logs.setup("INFO")
        log.error("invalid configuration", extra={"error": str(exc)})
        return 2
    logs.setup(settings.log_level, {"server": settings.server_name, "pod": settings.pod_name or ""})
    for warning in settings.warnings:
        log.warning(warning, extra={"configFile": settings.config_file})

    from .server import build

    mcp, deps = build(settings)
    log.info(
        "starting",
        extra={
            "version": __version__,
            "transport": settings.transport,
            "readOnly": settings.read_only,
            "namespaces": list(settings.namespaces) or "all",
            "configFile": settings.config_file,
        },
    )
    if not settings.http:
        mcp.run("stdio")
        return 0

    import uvicorn

    from .http import build_app, describe

    workers = config.worker_count(settings)
    loop, http_impl = _fast_impls()
    log.info("listening", extra={**describe(settings), "loop": loop, "http": http_impl, "workers": workers})
    if workers > 1:
        # One event loop is one core: several processes share the port (uvicorn's supervisor
        # restarts a worker that dies). Each worker builds its own app from the same settings.
        del mcp, deps
        target: object = "mcp_k8s_server.__main__:worker_app"
    else:
        target = build_app(mcp, deps)
    uvicorn.run(
        target,  # type: ignore[arg-type]
        factory=workers > 1,
        workers=workers if workers > 1 else None,
        host=settings.bind_host,
        port=settings.port,
        loop=loop,
        http=http_impl,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        server_header=False,
    )
    return 0


def worker_app():  # noqa: ANN201 - uvicorn factory
    """The ASGI app of one worker process (``MCP_WORKERS`` > 1): settings and logging as in main."""
    settings = config.load()
    logs.setup(settings.log_level, {"server": settings.server_name, "pod": settings.pod_name or ""})
    from .http import build_app
    from .server import build

    mcp, deps = build(settings)
    return build_app(mcp, deps)


def _fast_impls() -> tuple[str, str]:
    """uvloop and httptools when installed (they are pinned dependencies), else asyncio and h11."""
    try:
        import uvloop  # noqa: F401

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    try:
        import httptools  # noqa: F401

        http_impl = "httptools"
    except ImportError:
        http_impl = "h11"
    return loop, http_impl


if __name__ == "__main__":
    sys.exit(main())
