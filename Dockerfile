# syntax=docker/dockerfile:1
# Three images from one file, one target each:
#   docker build --target hook       -t mcp-operator-hook:0.1.0 .   (the Metacontroller sync hook)
#   docker build --target mcp-server -t mcp-k8s-server:latest .     (the default MCPServer image)
#   docker build --target prober     -t mcp-prober:latest .         (the MCP readiness/inventory sidecar)
# Dependencies are installed from requirements.lock (every version pinned, used as constraints so
# each image gets only what its package needs). Build stages create a virtualenv; the final stages
# copy it onto a clean base: no compilers, no pip, non-root uid 1001, read-only root filesystem
# friendly (bytecode precompiled, the only writable path needed is /tmp).
# tests/docker/ lints this file with hadolint and runs each target's CMD from an install made by
# these same RUN steps.

ARG PYTHON_IMAGE=python:3.11.14-slim-trixie

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
