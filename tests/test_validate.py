"""`servebench validate` and the deployment files it checks."""

import pickletools
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import requests

from servebench.backends.process import free_port, spawn, stop_session, wait_until
from servebench.validate import KNOWN_METRICS

from .conftest import REPO, run_cli

DEPLOYMENT_FILES = ["compose.yaml", "compose.override.yaml", "services", "k8s"]


@pytest.fixture
def checkout(tmp_path) -> Path:
    for name in DEPLOYMENT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    return tmp_path


def test_validate_passes_on_this_checkout():
    result = run_cli("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "k8s/overlays/cluster (kustomize output) (checkov: " in result.stdout
    assert "services/harness/Dockerfile (checkov: " in result.stdout
    for subject in (
        "compose.yaml",
        "services/torchserve/Dockerfile",
        "k8s/overlays/local",
        "k8s/overlays/cluster",
        "rules.yml",
    ):
        assert subject in result.stdout


@pytest.mark.parametrize(
    ("path", "old", "new", "finding"),
    [
        (
            "compose.override.yaml",
            "    depends_on: [prometheus]",
            "    depends_on: [no-such-service]",
            "[compose]",
        ),
        (
            "services/torchserve/Dockerfile",
            "USER model-server",
            "MAINTAINER someone\nUSER model-server",
            "[dockerfile] services/torchserve/Dockerfile",
        ),
        ("k8s/base/torchserve.yaml", "  replicas: 1", "  replicaz: 1", "[kubernetes]"),
        (
            "services/prometheus/rules.yml",
            "rate(servebench_client_requests_total[10s])",
            "rate(servebench_client_requests_total[10s]",
            "[prometheus] rules.yml",
        ),
        (
            "compose.yaml",
            '"127.0.0.1:${TORCHSERVE_REST_PORT:-8080}:8080"',
            '"${TORCHSERVE_REST_PORT:-8080}:8080"',
            "beyond 127.0.0.1",
        ),
        (
            "services/standins/python.Dockerfile",
            "FROM servebench/stand-in-base:bookworm",
            "FROM servebench/stand-in-base:bookworm\nMAINTAINER someone",
            "[dockerfile] services/standins/python.Dockerfile",
        ),
        (
            "services/prometheus/prometheus.compose.yml",
            "torchserve:8082",
            "torchserve:9999",
            "job torchserve should scrape",
        ),
        (
            "services/grafana/dashboards/servebench.json",
            "servebench:client_latency_seconds:p99_10s",
            "servebench:client_latency_p99_typo",
            "no rule or series",
        ),
        (
            "services/harness/stack.compose.json",
            '"servebench-tfserving-1"',
            '"servebench_tfserving_1"',
            "tfserving: container 'servebench_tfserving_1' is not compose's",
        ),
        (
            "k8s/base/files/stack.k8s.json",
            '"tfserving:8500"',
            '"tfserving:9500"',
            "endpoints differ",
        ),
        (  # what serves is detected at run time, never written into a record
            "k8s/base/files/stack.k8s.json",
            '"name": "prometheus",\n      "implementation": null,',
            '"name": "prometheus",\n      "implementation": "prometheus v2.53.5 (kubernetes)",',
            "prometheus: implementation is written in, not detected",
        ),
        (
            "services/prometheus/prometheus.compose.yml",
            '"/loadgen/*.json"',
            '"/targets/*.json"',
            "no file_sd job reads /loadgen/",
        ),
        (
            "k8s/base/files/prometheus.k8s.yml",
            "regex: locust-worker",
            "regex: locust-worker(",
            "[prometheus] k8s config",
        ),
        (  # a pod that may run as root
            "k8s/base/locust.yaml",
            "        runAsNonRoot: true\n        runAsUser: 10001\n",
            "",
            "CKV_K8S_23 Minimize the admission of root containers (Deployment.servebench.locust",
        ),
        (
            "services/harness/Dockerfile",
            "# checkov:skip=CKV_DOCKER_2:a batch image",
            "# checkov:skip=CKV_DOCKER_2\n# a batch image",
            "services/harness/Dockerfile: CKV_DOCKER_2 skipped without a reason",
        ),
    ],
)
def test_validate_catches_a_broken_file(checkout, path, old, new, finding):
    target = checkout / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    result = run_cli("validate", "--root", str(checkout))
    assert result.returncode == 1
    assert finding in result.stdout
    assert "Traceback" not in result.stderr


def test_known_metric_names_exist_in_a_real_run(stack):
    from servebench.clients import make_client
    from servebench.metrics.exporter import LoadMetrics
    from servebench.models import MODELS
    from servebench.payloads import sample_batch

    spec = MODELS["mlp"]
    for target in ("torchserve-rest", "tfserving-rest"):
        with make_client(target, stack, spec) as client:
            client.predict(sample_batch(spec, 1))
    texts = [
        requests.get(stack["backends"][s]["endpoints"]["metrics"], timeout=5).text
        for s in ("torchserve", "tfserving")
    ]
    metrics = LoadMetrics()
    metrics.observe("torchserve-rest", "mlp", 0.001, "HTTP 503")
    from prometheus_client import generate_latest

    texts.append(generate_latest(metrics.registry).decode())
    exposed = {
        line.split("{")[0].split(" ")[0]
        for text in texts
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert exposed >= KNOWN_METRICS, KNOWN_METRICS - exposed


def test_compose_prometheus_config_loads_in_the_real_binary(tmp_path):
    for name in ("prometheus.compose.yml", "rules.yml"):
        shutil.copy(REPO / "services" / "prometheus" / name, tmp_path / name)
    (tmp_path / "loadgen").mkdir()
    port = free_port()
    log = tmp_path / "prometheus.out"
    command = [
        "prometheus",
        f"--config.file={tmp_path / 'prometheus.compose.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    process = spawn(command, log, {}, cwd=tmp_path)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: requests.get(f"{url}/-/ready", timeout=2).ok, 30, "prometheus", process, log
        )
        groups, jobs = _wait_for_rules_and_targets(url)
        assert [g["name"] for g in groups] == ["servebench"]
        assert {"torchserve", "tfserving"} <= jobs
    finally:
        stop_session(process.pid)


def _wait_for_rules_and_targets(url: str) -> tuple[list, set]:
    """Prometheus hands newly configured targets to its scrapers in batches of up to 5 s."""
    deadline = time.time() + 20
    groups, jobs = [], set()
    while time.time() < deadline and not (groups and jobs):
        groups = requests.get(f"{url}/api/v1/rules", timeout=2).json()["data"]["groups"]
        targets = requests.get(f"{url}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
        jobs = {target["labels"]["job"] for target in targets}
        time.sleep(0.5)
    return groups, jobs


def test_state_dict_format_loads_under_older_torch(artifacts):
    """The image runs torch 2.4, which cannot be installed here; check what it will read: a
    zip of format version 3 whose pickle references only what weights_only loading allows."""
    with zipfile.ZipFile(artifacts.weights("resnet18")) as archive:
        names = archive.namelist()
        (version_name,) = [n for n in names if n.endswith("/version")]
        assert archive.read(version_name).strip() == b"3"
        (pickle_name,) = [n for n in names if n.endswith("data.pkl")]
        opcodes = list(pickletools.genops(archive.read(pickle_name)))
    assert opcodes[0][0].name == "PROTO" and opcodes[0][1] <= 2
    globals_used = {arg for op, arg, _ in opcodes if op.name in ("GLOBAL", "STACK_GLOBAL") and arg}
    allowed = {
        "collections OrderedDict",
        "torch._utils _rebuild_tensor_v2",
        "torch FloatStorage",
        "torch LongStorage",
    }
    assert globals_used <= allowed, globals_used - allowed


def test_kustomize_copies_match_their_sources():
    from servebench.validate import COPIES, find_tool

    for copy, source in COPIES.items():
        assert (REPO / copy).read_bytes() == (REPO / source).read_bytes()
    assert (
        subprocess.run(
            [find_tool("kubectl"), "kustomize", str(REPO / "k8s" / "overlays" / "local")],
            capture_output=True,
            timeout=120,
        ).returncode
        == 0
    )


def test_both_servers_are_pinned_to_amd64_in_compose_and_kubernetes():
    """tensorflow/serving exists for amd64 only: on an arm64 host one side would run emulated."""
    import json

    import yaml

    from servebench.validate import find_tool

    result = subprocess.run(
        [find_tool("docker-compose"), "-f", str(REPO / "compose.yaml"), "config", "--format",
         "json"], capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert services["torchserve"]["platform"] == "linux/amd64"
    assert services["tfserving"]["platform"] == "linux/amd64"
    for name in ("torchserve", "tfserving"):
        deployment = next(yaml.safe_load_all((REPO / "k8s" / "base" / f"{name}.yaml").read_text()))
        assert deployment["kind"] == "Deployment"
        assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {
            "kubernetes.io/arch": "amd64"
        }
