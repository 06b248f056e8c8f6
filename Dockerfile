# One image for every Relay process; the compose service (or the orchestrator) picks the
# command: python -m gateway | sms | payments | tournaments | common.scheduling | notifications
#
#   docker build -t relay:dev .
#   docker run --rm -p 8000:8000 relay:dev                      # the gateway (default command)
#   docker run --rm relay:dev python -m sms                     # a worker
#
# The base is a build argument: the official python:3.11-slim by default, or a stand-in
# with the same paths (`make local-images` builds relay-local/python:3.11 from Debian's
# packages) on a machine that cannot pull it:
#   docker build --build-arg PYTHON_IMAGE=relay-local/python:3.11 -t relay:dev .
# No `# syntax=` line on purpose: it would pull a Dockerfile frontend from a registry; the
# engine's built-in BuildKit frontend already understands RUN --mount.

ARG PYTHON_IMAGE=python:3.11-slim
ARG PYTHON_VERSION=3.11
ARG UV_VERSION=0.13.9

# ---------------------------------------------------------------------------------------
# builder: resolve the locked dependencies into /app/.venv
# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS builder
ARG PYTHON_VERSION
ARG UV_VERSION

# uv from PyPI (its wheel is one static binary), in this stage only: the runtime image
# never carries it. A venv of its own: some bases refuse system-wide pip installs. And
# binutils' strip, for the dependencies' shared libraries (below).
RUN --mount=type=cache,target=/root/.cache/pip \
    --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    if ! uv --version 2>/dev/null | grep -qx "uv ${UV_VERSION}.*"; then \
        python -m venv /opt/uv \
     && /opt/uv/bin/pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}" \
     && ln -sf /opt/uv/bin/uv /usr/local/bin/uv; \
    fi \
 && uv --version \
 && if ! command -v strip >/dev/null; then \
        rm -f /etc/apt/apt.conf.d/docker-clean \
     && apt-get update -qq \
     && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends binutils >/dev/null; \
    fi

# Build against the image's own interpreter (same path in the runtime stage, so the venv's
# symlinks stay valid); never download a Python; copy from the cache mount rather than
# hard-link (different filesystems). Bytecode is written below, for what the processes
# import only (the non-root runtime user cannot write __pycache__ beside root-owned files).
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python${PYTHON_VERSION} \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_LINK_MODE=copy

WORKDIR /app

# Layer 1, third-party dependencies only. With --frozen uv installs straight from uv.lock,
# so the root pyproject.toml is enough: the members' pyproject files are not needed yet and
# adding a service never invalidates this layer's inputs.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    uv sync --frozen --no-dev --no-install-workspace \
 # Wheels ship their extension modules with symbols (uvloop, asyncpg, Pillow's libraries,
 # SQLAlchemy...): 82 MB of .so files become 38 MB. Tracebacks of Python code are unchanged.
 && find /app/.venv -name '*.so*' -type f -exec strip --strip-unneeded {} +

# Layer 2, the workspace members (libs/common, services/*). They are installed editable, as
# under `make install`, so the code runs from /app/<member>/src exactly like the Procfile
# does, and files beside the packages (migrations, templates) resolve the same way.
COPY . /app
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=infra/image/warm_bytecode.py,target=/tmp/warm_bytecode.py \
    uv sync --frozen --no-dev \
 && .venv/bin/python -m compileall -q libs services \
 && .venv/bin/python /tmp/warm_bytecode.py Procfile

# ---------------------------------------------------------------------------------------
# runtime: slim Python, the venv and the sources, non-root
# ---------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG RELAY_VERSION=dev
LABEL org.opencontainers.image.title="relay" \
      org.opencontainers.image.description="Background jobs on RabbitMQ with the Laravel queue runbook" \
      org.opencontainers.image.version="${RELAY_VERSION}"

# /data/images is created owned by relay because a fresh named volume is seeded from the
# image's directory, ownership included: that is what makes the shared image volume
# (IMAGE_STORAGE_DIR, mounted by gateway and notifications) writable for this user.
RUN groupadd --system --gid 10001 relay \
 && useradd --system --uid 10001 --gid relay --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin relay \
 && mkdir -p /data/images \
 && chown relay:relay /data/images

WORKDIR /app
# Code and venv stay root-owned: the processes can read, not rewrite, what they run.
COPY --from=builder /app /app

ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GATEWAY_PORT=8000 \
    IMAGE_STORAGE_DIR=/data/images

USER relay:relay
# 8000: the gateway's HTTP port; 9100: a worker's Prometheus metrics (METRICS_PORT).
EXPOSE 8000 9100

# No HEALTHCHECK here: one image runs several kinds of process, so each compose service
# declares its own probe (python + urllib, as slim images carry no curl).

CMD ["python", "-m", "gateway"]
