# Devbench production image: `docker compose up` (see docs/deployment.md).
#
# Three stages: the frontend bundles are built with Node, the Python
# dependencies are installed into a virtualenv with compilers available, and
# the final image carries only the virtualenv, the code and the collected
# static files, running as an unprivileged user.
#
# No "# syntax=" line on purpose: it makes BuildKit fetch a frontend image
# before building, which fails on machines that reach no registry.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- 1. frontend bundles -> /build/static/dist -------------------------------
FROM ${NODE_IMAGE} AS frontend
WORKDIR /build/frontend
# The lock file alone decides the dependency layer, so code changes reuse it.
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
# The whole (filtered) source, not just frontend/: the build may read
# templates or other paths, and a partial copy would fail silently.
COPY . /build/
# Writes ../static/dist, i.e. /build/static/dist.
RUN npm run build

# --- 2. Python dependencies -> /opt/venv ------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# Compilers for dependencies that ship no wheel for this platform; they stay
# in this stage. Versions follow the pinned base image's Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY requirements.txt /tmp/requirements.txt
# requirements.txt holds the version ranges; pip itself need not be pinned.
# hadolint ignore=DL3013
RUN pip install --upgrade pip \
    && pip install -r /tmp/requirements.txt

# --- 3. runtime ----------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=platform_core.settings \
    DEBUG=0 \
    DATA_DIR=/app/var \
    WORKSPACES_ROOT=/app/var/workspaces \
    STATIC_ROOT=/app/staticfiles

# tini is PID 1: workspace terminals start shells whose orphaned children
# would otherwise become zombies of daphne; tini reaps them and forwards
# signals. tzdata because kombu needs ZoneInfo("UTC") at import (a base
# without it stops the worker). git and procps are for people working in
# workspace terminals. bubblewrap sandboxes workspace processes where the
# container may create namespaces (not under Docker's default seccomp
# profile: docs/deployment.md, "Security of the local runtime"). ripgrep
# serves quick open and search across files.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini tzdata git procps bubblewrap ripgrep \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 devbench \
    && useradd --uid 10001 --gid devbench --create-home --shell /bin/bash devbench

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Code stays owned by root, so the running service cannot rewrite itself.
COPY . /app/
COPY --from=frontend /build/static/dist /app/static/dist

# The key only satisfies the settings check for this one command; it is not
# kept in the image's environment. DEBUG=0 selects the manifest storage, so
# the hashed file names are computed here, once.
RUN SECRET_KEY=collectstatic-build-only-not-a-secret DEBUG=0 \
        python manage.py collectstatic --noinput \
    && chmod 0755 /app/docker/entrypoint.sh \
    && mkdir -p /app/var/workspaces \
    && chown -R devbench:devbench /app/var

# No VOLUME line: compose mounts a named volume here, and an empty named
# volume starts as a copy of this directory, devbench ownership included.

# Numeric, so Kubernetes' runAsNonRoot can verify it: 10001 is devbench.
USER 10001:10001
EXPOSE 8000

# No curl in the slim image. The forwarded-proto header keeps the check from
# being redirected to https when BEHIND_TLS_PROXY=1 and SECURE_SSL_REDIRECT=1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request as r; r.urlopen(r.Request('http://127.0.0.1:8000/healthz', headers={'X-Forwarded-Proto': 'https'}), timeout=4)"]

ENTRYPOINT ["tini", "--", "/app/docker/entrypoint.sh"]
CMD ["web"]
