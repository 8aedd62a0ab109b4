# syntax=docker/dockerfile:1
#
# reportbot's container image. Two stages: `build` installs the hash-pinned dependencies and the
# bot into a virtual environment with scripts/install.sh (the same command CI runs through
# `make install-check`); the final stage copies only that environment, the flows and the texts.
#
# At run time the image writes nowhere but its two volumes, so it runs with a read-only root file
# system (see compose.example.yaml):
#   /data  the database (reports.sqlite3, mode 0600, folder 0700): ciphertext only
#   /keys  the bot's signing key (bot.key, 0600) and the analysts' PUBLIC keys (*.pub), read-only
# Secrets (the bot token, the webhook secret) come from files in /run/secrets or the environment.
#
# Base image: Python 3.11.14 on Debian 12 (bookworm), slim, pinned by the sha256 digest of its
# multi-architecture index. The digest was taken from several independent public Dockerfiles that
# pin this tag; it could not be checked against the registry from the machine this was written on
# (no container engine, no registry access). Before building, confirm it:
#   docker buildx imagetools inspect python:3.11.14-slim-bookworm
# and when updating Python, replace tag and digest together (docs/upgrading.md).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements.lock requirements-build.lock pyproject.toml README.md ./
COPY scripts/install.sh scripts/install.sh
COPY bot bot
COPY handlers handlers
COPY storage storage
RUN PYTHON=python3 sh scripts/install.sh runtime /opt/reportbot

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="reportbot" \
      org.opencontainers.image.description="Anonymous abuse reports over Telegram, sealed to analysts' keys" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"
# A fixed, unprivileged account; the volumes belong to it and nobody else can read them.
RUN groupadd --system --gid 10001 reportbot \
    && useradd --system --uid 10001 --gid reportbot --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin reportbot \
    && install -d -o reportbot -g reportbot -m 0700 /data /keys
COPY --from=build /opt/reportbot /opt/reportbot
COPY flows /app/flows
COPY locales /app/locales
ENV PATH=/opt/reportbot/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REPORTBOT_DATA_DIR=/data \
    REPORTBOT_FLOW=/app/flows/worker_report.yaml \
    REPORTBOT_LOCALES_DIR=/app/locales
WORKDIR /app
USER 10001:10001
VOLUME ["/data", "/keys"]
# Settings, keys and their modes, the flow and the database; no network call (--quick), so a
# Telegram outage does not mark the container unhealthy and restart it in a loop.
HEALTHCHECK --interval=60s --timeout=30s --start-period=60s --retries=3 \
    CMD ["reportbot", "doctor", "--quick"]
ENTRYPOINT ["reportbot"]
CMD ["run"]
