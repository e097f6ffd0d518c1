# Stand-in for python:3.11-slim-bookworm, built by scripts/standins.sh only where that image
# cannot be pulled: Debian 12's own Python 3.11 on a debootstrapped base. It carries this
# machine's CA bundle (pip behind a TLS-inspecting proxy) and a wheelhouse with the CPU torch
# wheel; both stay in this local image and are never committed.
# checkov:skip=CKV_DOCKER_2:a stand-in reproduces the official image it replaces, which has none; compose's healthcheck covers the service
# checkov:skip=CKV_DOCKER_3:the official python image runs as root too; the images built FROM it set their own user
FROM servebench/stand-in-base:bookworm
LABEL org.servebench.stand-in="true" \
      org.servebench.stands-in-for="python:3.11-slim-bookworm"
# Bookworm's current package, as upstream images take their distribution's: not pinned.
# hadolint ignore=DL3008
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
       python3 python3-pip python3-venv python-is-python3 ca-certificates \
    && rm -rf /var/lib/apt/lists/* /usr/lib/python3.11/EXTERNALLY-MANAGED
COPY host-ca.crt /usr/local/share/servebench/host-ca.crt
COPY wheels/ /wheels/
ENV LANG=C.UTF-8 \
    PIP_CERT=/usr/local/share/servebench/host-ca.crt \
    PIP_FIND_LINKS=/wheels \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=180
CMD ["python3"]
