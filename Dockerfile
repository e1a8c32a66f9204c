# syntax=docker/dockerfile:1
#
# One image for every intmon role; the command picks the role:
#   intmon migrate | apply FILE | scheduler | worker | metrics | run | check FILE ...
# Without a command it runs `intmon run`, the embedded all-in-one mode (SQLite in
# /var/lib/intmon, in-process broker). docker-compose.yml runs the production topology.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: a self-contained virtualenv in /opt/venv ---------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Dependencies first, read from pyproject.toml alone, so a code change reuses this layer.
# The versions pinned in constraints.txt (`make lock`), the same ones CI tests.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --no-cache-dir -c constraints.txt -r /tmp/requirements.txt

# Then intmon itself (what .dockerignore leaves: pyproject.toml, README.md, the packages).
COPY . .
RUN pip install --no-cache-dir -c constraints.txt . \
 && intmon --help > /dev/null

# --- runtime ---------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}

LABEL org.opencontainers.image.title="intmon" \
      org.opencontainers.image.description="Integration monitoring worker: scheduled API health checks on dramatiq" \
      org.opencontainers.image.licenses="MIT"

# INTMON_METRICS_HOST: in a container the metrics server must listen beyond loopback.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INTMON_METRICS_HOST=0.0.0.0

# Non-root user. /var/lib/intmon is the working directory (the embedded SQLite file)
# and /var/lib/intmon/prometheus the PROMETHEUS_MULTIPROC_DIR compose mounts a named
# volume on: an empty named volume takes this directory's owner, so intmon can write it.
RUN groupadd --system --gid 10001 intmon \
 && useradd --system --uid 10001 --gid intmon --home-dir /var/lib/intmon --no-create-home \
      --shell /usr/sbin/nologin intmon \
 && install -d -o intmon -g intmon -m 0750 /var/lib/intmon /var/lib/intmon/prometheus

COPY --from=build /opt/venv /opt/venv

WORKDIR /var/lib/intmon
USER 10001:10001
EXPOSE 9464

ENTRYPOINT ["intmon"]
CMD ["run"]
