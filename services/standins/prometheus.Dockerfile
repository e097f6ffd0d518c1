# Stand-in for prom/prometheus: Debian 12's real Prometheus (2.42) with the official image's
# paths, user and entrypoint.
# checkov:skip=CKV_DOCKER_2:a stand-in reproduces the official image it replaces, which has none; compose's healthcheck covers the service
FROM servebench/stand-in-base:bookworm
LABEL org.servebench.stand-in="true" \
      org.servebench.stands-in-for="prom/prometheus"
# Bookworm's current package, as upstream images take their distribution's: not pinned.
# hadolint ignore=DL3008
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /prometheus /usr/share/prometheus \
    && cp /etc/prometheus/prometheus.yml /etc/prometheus/prometheus.yml.dist \
    && chown -R nobody:nogroup /prometheus /etc/prometheus
USER nobody
EXPOSE 9090
WORKDIR /prometheus
# As the official image: its data is a volume of its own.
VOLUME ["/prometheus"]
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
