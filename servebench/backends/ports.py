"""The ports each server listens on inside its container, as its configuration sets them
(services/torchserve/config.container.properties, services/tfserving/Dockerfile): docker mode
publishes them, and `servebench validate` checks that compose, k8s and Prometheus agree."""

CONTAINER_PORTS = {
    "torchserve": {"rest": 8080, "grpc": 7070, "management": 8081, "metrics": 8082},
    "tfserving": {"grpc": 8500, "rest": 8501},
    "diy": {"rest": 8000},  # compose.yaml's diy service (profile diy), metrics on /metrics
}
