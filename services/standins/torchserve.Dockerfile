# Stand-in for pytorch/torchserve:0.12.0-cpu, following upstream's v0.12.0 docker/Dockerfile:
# user model-server (uid 1000), /home/model-server with model-store/ and a root-owned
# config.properties, dockerd-entrypoint.sh with `serve`, Java 17, and the real torchserve and
# torch-model-archiver 0.12.0 in /home/venv, and upstream's numpy 1.24.3. Differences: Debian
# 12's Python 3.11 and CPU torch 2.13.0 (upstream: Python 3.9, torch 2.4).
# checkov:skip=CKV_DOCKER_2:a stand-in reproduces the official image it replaces, which has none; compose's healthcheck covers the service
FROM python:3.11-slim-bookworm
LABEL org.servebench.stand-in="true" \
      org.servebench.stands-in-for="pytorch/torchserve:0.12.0-cpu"
ENV PYTHONUNBUFFERED=TRUE
# Bookworm's current packages, as upstream images take their distribution's: not pinned.
# procps for `kill`: TorchServe's frontend runs `kill -9 <pid>` to stop a worker when a model
# version is unregistered, and answers HTTP 500 without it (upstream's Ubuntu image installs
# build-essential and software-properties-common; that they bring procps was not checked here).
# hadolint ignore=DL3008
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
       openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/*
COPY constraints.txt /tmp/constraints.txt
# numpy as upstream's image has it (1.24.3), not the harness's pin: the handler must run on it.
RUN python3 -m venv /home/venv \
    && grep -v '^numpy==' /tmp/constraints.txt > /tmp/constraints-image.txt \
    && /home/venv/bin/pip install --no-cache-dir --no-index --no-deps torch==2.13.0 \
    && /home/venv/bin/pip install --no-cache-dir -c /tmp/constraints-image.txt torch==2.13.0 \
       torchserve==0.12.0 torch-model-archiver==0.12.0 pyyaml numpy==1.24.3 psutil requests \
       packaging
ENV PATH="/home/venv/bin:$PATH"
RUN useradd --create-home --uid 1000 model-server \
    && mkdir -p /home/model-server/tmp /home/model-server/model-store \
    && chown -R model-server /home/model-server
COPY torchserve-entrypoint.sh /usr/local/bin/dockerd-entrypoint.sh
COPY torchserve-config.properties /home/model-server/config.properties
EXPOSE 8080 8081 8082 7070 7071
USER model-server
WORKDIR /home/model-server
ENV TEMP=/home/model-server/tmp
ENTRYPOINT ["/usr/local/bin/dockerd-entrypoint.sh"]
CMD ["serve"]
