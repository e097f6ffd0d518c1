"""Measurement plumbing: the Prometheus server, PromQL queries and the load generator's exporter."""
