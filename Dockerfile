# syntax=docker/dockerfile:1
# Four images from one file, one target each:
#   docker build --target hook       -t mcp-operator-hook:0.1.0 .   (the Metacontroller sync hook)
#   docker build --target mcp-server -t mcp-k8s-server:latest .     (the default MCPServer image)
#   docker build --target prober     -t mcp-prober:latest .         (the MCP readiness/inventory sidecar)
#   docker build --target bridge     -t mcp-bridge:latest .         (stdio MCP servers over HTTP: Python, Node/npx, uv/uvx)
# Dependencies are installed from requirements.lock (every version pinned, used as constraints so
# each image gets only what its package needs). Build stages create a virtualenv; the final stages
# copy it onto a clean base: no compilers, no pip, non-root uid 1001, read-only root filesystem
# friendly (bytecode precompiled, the only writable path needed is /tmp).
# tests/docker/ lints this file with hadolint and runs each target's CMD from an install made by
# these same RUN steps.

ARG PYTHON_IMAGE=python:3.11.14-slim-trixie
ARG NODE_IMAGE=node:22.19.0-bookworm-slim

# --- shared base ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS python-base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    VIRTUAL_ENV=/opt/venv

# --- build stages: one virtualenv per image --------------------------------------------------------
FROM python-base AS build-hook
WORKDIR /src
COPY requirements.lock ./
COPY hooks/ ./hooks/
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv "$VIRTUAL_ENV" \
    && "$VIRTUAL_ENV/bin/pip" install --constraint requirements.lock setuptools \
    && "$VIRTUAL_ENV/bin/pip" install --no-build-isolation --constraint requirements.lock ./hooks \
    && "$VIRTUAL_ENV/bin/pip" uninstall --yes setuptools pip

FROM python-base AS build-mcp-server
WORKDIR /src
COPY requirements.lock ./
COPY mcp-server/ ./mcp-server/
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv "$VIRTUAL_ENV" \
    && "$VIRTUAL_ENV/bin/pip" install --constraint requirements.lock setuptools \
    && "$VIRTUAL_ENV/bin/pip" install --no-build-isolation --constraint requirements.lock ./mcp-server \
    && "$VIRTUAL_ENV/bin/pip" uninstall --yes setuptools pip

FROM python-base AS build-prober
WORKDIR /src
COPY requirements.lock ./
COPY prober/ ./prober/
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv "$VIRTUAL_ENV" \
    && "$VIRTUAL_ENV/bin/pip" install --constraint requirements.lock setuptools \
    && "$VIRTUAL_ENV/bin/pip" install --no-build-isolation --constraint requirements.lock ./prober \
    && "$VIRTUAL_ENV/bin/pip" uninstall --yes setuptools pip

# --- Node.js for the bridge (npx runs npm-published stdio servers); only its files are copied -----
FROM ${NODE_IMAGE} AS node

FROM python-base AS build-bridge
WORKDIR /src
COPY requirements.lock ./
COPY bridge/ ./bridge/
# uv (for uvx, which runs PyPI-published stdio servers) is pinned in requirements.lock like the rest.
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv "$VIRTUAL_ENV" \
    && "$VIRTUAL_ENV/bin/pip" install --constraint requirements.lock setuptools \
    && "$VIRTUAL_ENV/bin/pip" install --no-build-isolation --constraint requirements.lock ./bridge uv \
    && "$VIRTUAL_ENV/bin/pip" uninstall --yes setuptools pip

# --- runtime base: the unprivileged user every image runs as -------------------------------------
FROM python-base AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
RUN groupadd --system --gid 1001 mcp \
    && useradd --system --uid 1001 --gid 1001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin mcp
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp
WORKDIR /opt/venv
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="https://github.com/example/mcp-operator" \
      org.opencontainers.image.vendor="mcp-operator" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11.14-slim-trixie"

# --- the Metacontroller sync hook ------------------------------------------------------------------
FROM runtime AS hook
LABEL org.opencontainers.image.title="mcp-operator-hook" \
      org.opencontainers.image.description="Metacontroller sync/finalize hook turning MCPServers into Deployments, Services and ConfigMaps"
COPY --from=build-hook /opt/venv /opt/venv
USER 1001:1001
EXPOSE 8080
CMD ["gunicorn", "--config", "python:mcp_operator_hook.gunicorn_conf", "mcp_operator_hook.app:create_app()"]

# --- the Kubernetes MCP server (default image of an MCPServer) -----------------------------------
FROM runtime AS mcp-server
LABEL org.opencontainers.image.title="mcp-k8s-server" \
      org.opencontainers.image.description="Kubernetes MCP server (stdio and streamable HTTP) with bounded, redacted, read-only-capable tools"
COPY --from=build-mcp-server /opt/venv /opt/venv
ENV MCP_TRANSPORT=streamable-http \
    MCP_PORT=3001
USER 1001:1001
EXPOSE 3001
CMD ["mcp-k8s-server"]

# --- the MCP prober (sidecar the hook adds to every HTTP-exposed MCPServer pod) -------------------
FROM runtime AS prober
LABEL org.opencontainers.image.title="mcp-prober" \
      org.opencontainers.image.description="MCPServer sidecar: MCP handshake + tools/list readiness (/readyz) and the tool inventory for status"
COPY --from=build-prober /opt/venv /opt/venv
ENV MCP_PROBER_PORT=9464
USER 1001:1001
EXPOSE 9464
CMD ["mcp-prober"]

# --- the stdio bridge (default image of a stdio MCPServer with spec.package) -----------------------
# The hook runs it as `mcp-bridge --port P --path /mcp ... -- npx -y pkg@ver` (or `uvx pkg==ver`).
# Read-only root filesystem: HOME and the npm/uv caches live on emptyDirs (/tmp, /cache).
FROM runtime AS bridge
LABEL org.opencontainers.image.title="mcp-bridge" \
      org.opencontainers.image.description="Serves stdio MCP servers (npm via npx, PyPI via uvx, or a command) over streamable HTTP, one process per MCP session"
COPY --from=node /usr/local/bin/ /usr/local/bin/
COPY --from=node /usr/local/lib/node_modules/ /usr/local/lib/node_modules/
COPY --from=build-bridge /opt/venv /opt/venv
ENV HOME=/tmp/home \
    npm_config_cache=/cache/npm \
    npm_config_update_notifier=false \
    UV_CACHE_DIR=/cache/uv \
    UV_NO_PROGRESS=1
USER 1001:1001
EXPOSE 8080
CMD ["mcp-bridge", "--help"]
