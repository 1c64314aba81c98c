# syntax=docker/dockerfile:1
#
# verify-service container image.
#
#   docker build -t verify-service .
#   docker run --rm -p 8080:8080 --read-only --tmpfs /tmp -e VERIFY_REDIS_URL=redis://redis:6379/0 \
#       -e VERIFY_SECRET_KEY=... -e VERIFY_ACCOUNT_SID=AC... -e VERIFY_AUTH_TOKEN=... \
#       verify-service
#
# In production: deploy/compose.yaml or deploy/k8s/ (docs/operations.md, "Deployment").
# Dependencies come from requirements.lock, installed with --require-hashes ("Upgrades").
#
# Configuration is only through VERIFY_* environment variables; nothing is baked in.
# Both stages use the same base image so the venv's interpreter symlink
# (/opt/venv/bin/python -> /usr/local/bin/python3.11) is valid in the runtime stage.
# To pin harder, append the image digest: python:3.11.15-slim-bookworm@sha256:<digest>.

############################################################################
# Build stage: build the project's wheel, install it and its dependencies
# into a self-contained virtual environment at /opt/venv.
############################################################################
FROM python:3.11.15-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /src

# The dependencies first, from the lock alone (a layer that changes only with the lock):
# every file is checked against the lock's hashes, and nothing the lock does not name is
# installed (--no-deps). The venv is created without pip/setuptools (nothing in it but the
# service and its dependencies); the base image's pip installs into it with --python.
# The build backend too comes from a lock (requirements-build.lock: setuptools), into this
# stage's own Python only: it builds the project's wheel below and never reaches the image.
COPY requirements.lock requirements-build.lock ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements-build.lock \
 && python -m venv --without-pip /opt/venv \
 && pip --python /opt/venv/bin/python install --no-cache-dir --require-hashes --no-deps \
        -r requirements.lock

# Only what the wheel needs (see .dockerignore, which allow-lists the same files).
# README.md is required: pyproject.toml names it as the project's readme.
COPY pyproject.toml README.md ./
COPY verify_service ./verify_service

# The project itself, --no-deps: its dependencies are the lock's; built with the locked
# setuptools (--no-build-isolation: nothing unpinned is fetched). The wheel is a local file
# built from this context, so DL3013 (pin versions) does not apply to it. `pip check` fails
# the build when pyproject.toml names a dependency the lock lacks (run `make lock`).
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels . \
 && pip --python /opt/venv/bin/python install --no-cache-dir --no-deps /wheels/*.whl \
 && pip --python /opt/venv/bin/python check \
 && /opt/venv/bin/verify-service --help > /dev/null

############################################################################
# Runtime stage: the venv only, run as an unprivileged user.
############################################################################
FROM python:3.11.15-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="verify-service" \
      org.opencontainers.image.description="Self-hosted one-time-code verification service, wire-compatible with the Twilio Verify v2 API" \
      org.opencontainers.image.licenses="Apache-2.0"

# Fixed, non-root uid/gid so volume permissions and Kubernetes runAsNonRoot /
# runAsUser checks are predictable. --no-log-init avoids a huge sparse
# /var/log/lastlog for a high uid (hadolint DL3046).
RUN groupadd --system --gid 10001 verify \
 && useradd --system --uid 10001 --gid 10001 --no-log-init \
        --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin verify

COPY --from=builder /opt/venv /opt/venv

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH

# The root filesystem may be read-only (docker run --read-only, Kubernetes
# readOnlyRootFilesystem): nothing is written to it. The one writable path the service
# needs is the temporary directory, /tmp: gunicorn's worker heartbeat files and the metrics
# samples of its workers (VERIFY_METRICS_DIR, else a directory under TMPDIR). Mount a tmpfs
# (or an emptyDir) there; deploy/compose.yaml and deploy/k8s/ do. PYTHONDONTWRITEBYTECODE:
# the venv's bytecode is compiled at install, nothing is written at run time.
VOLUME ["/tmp"]

# Numeric uid:gid (not the name) so the runtime can verify "not root" without
# reading /etc/passwd.
USER 10001:10001

EXPOSE 8080

# No curl/wget in slim images: use the venv's python. urlopen raises (exit 1)
# on a connection error, a timeout or any non-2xx status. /healthz is the liveness of the
# default command (serve on 8080); a container running `worker` overrides it with the
# worker's own /healthz on VERIFY_WORKER_METRICS_PORT (deploy/compose.yaml).
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]

# Exec form: verify-service (and the gunicorn master it runs) is PID 1 and
# receives SIGTERM from `docker stop` directly for a graceful shutdown.
ENTRYPOINT ["verify-service"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
