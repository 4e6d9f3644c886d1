# syntax=docker/dockerfile:1
# One image for the collectors, the streaming job, the console and the notifier: ENTRYPOINT is `socpipe`, the
# command picks the role (docker-compose.yml runs `collect syslog ...`, `run`, `serve` and `notify` from it).
FROM python:3.11-slim-bookworm

# Java 17 for Spark (pyspark 4 needs 17+), Maven to resolve Spark's Kafka connector jars.
# The man1 folder: the JRE's post-install step links a man page there and the slim image leaves it out.
RUN mkdir -p /usr/share/man/man1 \
    && apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless maven \
    && rm -rf /var/lib/apt/lists/*

# SOCPIPE_CACHE: where socpipe keeps jar sets resolved from Maven Central (socpipe/jars.py reads it).
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SOCPIPE_CACHE=/opt/socpipe/cache

# Dependencies first, from pyproject.toml alone, so a code change does not reinstall pyspark.
COPY pyproject.toml /tmp/pyproject.toml
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt /tmp/pyproject.toml

# socpipe itself, a normal (not editable) install.
COPY . /src
RUN pip install /src && rm -rf /src

# Spark's Kafka connector jars at build time, so the container starts without the network.
# The cache mount keeps Maven's downloads between builds and out of the image.
RUN --mount=type=cache,target=/root/.m2 \
    python -c "from socpipe.spark import kafka_connector_jars; kafka_connector_jars()" \
    && chmod -R a+rX /opt/socpipe

# A non-root user; the state folders exist in the image with its ownership, so named volumes mounted
# on them start out writable by it.
RUN useradd --create-home --home-dir /home/socpipe --uid 10001 --user-group socpipe \
    && mkdir -p /etc/socpipe /var/lib/socpipe/lake /var/lib/socpipe/checkpoints /var/lib/socpipe/collect \
        /var/lib/socpipe/console /var/lib/socpipe/notify \
    && chown -R socpipe:socpipe /var/lib/socpipe
USER socpipe
WORKDIR /home/socpipe

# The syslog listener of docker-compose.yml (UDP and TCP).
EXPOSE 5514/udp 5514/tcp

ENTRYPOINT ["socpipe"]
CMD ["--help"]
