"""`servebench validate`: offline checks of the deployment files. No Docker engine or cluster
is needed: Compose's own parser, hadolint, promtool, kustomize + kubernetes-validate, checkov's
security scan, and servebench's consistency checks (ports, paths and metric names agree across
the files)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml

from servebench.backends.ports import CONTAINER_PORTS
from servebench.paths import REPO_ROOT

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    message: str


def run_all(root: Path = REPO_ROOT) -> tuple[list[str], list[Finding]]:
    """(what was checked, what failed). The checks run side by side: each is mostly a wait
    for one external tool."""
    checks = [
        check_compose,
        check_dockerfiles,
        check_prometheus,
        check_kubernetes,
        check_security,
        check_consistency,
    ]
    with ThreadPoolExecutor(len(checks)) as pool:
        outcomes = list(pool.map(lambda check: check(root), checks))
    done = [name for names, _ in outcomes for name in names]
    return done, [problem for _, problems in outcomes for problem in problems]


def find_tool(name: str) -> str | None:
    """A validator from this venv (where `make install` puts kubectl when PATH has none), or
    from PATH."""
    local = BIN / name
    return str(local) if local.exists() else shutil.which(name)


def _run(
    command: list[str], stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, capture_output=True, text=True, input=stdin, timeout=300, cwd=cwd
    )


def _missing(check: str, tool: str) -> tuple[list[str], list[Finding]]:
    return [], [Finding(check, tool, f"{tool} not found; run `make install`")]


def check_compose(root: Path) -> tuple[list[str], list[Finding]]:
    compose = find_tool("docker-compose")
    if compose is None:
        return _missing("compose", "docker-compose")
    files = ["compose.yaml", "compose.override.yaml"]  # Compose's default pair
    result = _run(
        [compose, *(f for name in files for f in ("-f", str(root / name))), "config", "-q"]
    )
    problems = (
        []
        if result.returncode == 0
        else [Finding("compose", "compose.yaml", (result.stderr or result.stdout).strip()[-500:])]
    )
    return ["compose.yaml + compose.override.yaml (docker compose config -q)"], problems


def _dockerfiles(root: Path) -> list[Path]:
    return sorted([*root.glob("services/*/Dockerfile"), *root.glob("services/*/*.Dockerfile")])


def _overlays(root: Path) -> list[Path]:
    return sorted(
        p for p in (root / "k8s" / "overlays").glob("*") if (p / "kustomization.yaml").is_file()
    )


def check_dockerfiles(root: Path) -> tuple[list[str], list[Finding]]:
    hadolint = find_tool("hadolint")
    if hadolint is None:
        return _missing("dockerfile", "hadolint")
    done, problems = [], []
    for dockerfile in _dockerfiles(root):
        result = _run([hadolint, "--no-color", "--failure-threshold", "warning", str(dockerfile)])
        done.append(f"{dockerfile.relative_to(root)} (hadolint)")
        if result.returncode != 0:
            problems.append(
                Finding(
                    "dockerfile", str(dockerfile.relative_to(root)), result.stdout.strip()[-500:]
                )
            )
    return done, problems


COMPOSE_PROMETHEUS = "services/prometheus/prometheus.compose.yml"
RULES = "services/prometheus/rules.yml"


def check_prometheus(root: Path) -> tuple[list[str], list[Finding]]:
    promtool = find_tool("promtool")
    if promtool is None:
        return _missing("prometheus", "promtool")
    done, problems = [], []
    with tempfile.TemporaryDirectory(prefix="servebench-validate-") as scratch:
        k8s_config = _without_kubernetes_sd(root, Path(scratch))
        for args, subject, shown in (
            (["check", "config", COMPOSE_PROMETHEUS], "compose config", COMPOSE_PROMETHEUS),
            (["check", "rules", RULES], "rules.yml", RULES),
            (
                ["check", "config", str(k8s_config)],
                "k8s config",
                "k8s/base/files/prometheus.k8s.yml, its kubernetes_sd jobs as empty static ones",
            ),
        ):
            result = _run([promtool, *args], cwd=root)
            done.append(f"{shown} (promtool check {args[1]})")
            if result.returncode != 0:
                problems.append(
                    Finding("prometheus", subject, (result.stderr or result.stdout).strip()[-500:])
                )
    return done, problems


def _without_kubernetes_sd(root: Path, scratch: Path) -> Path:
    """The k8s Prometheus config with each kubernetes_sd_configs swapped for an empty static
    list: Debian's promtool is built without Kubernetes discovery, and everything else (the
    relabelling, the rules, the other jobs) can still be checked."""
    config = yaml.safe_load((root / "k8s/base/files/prometheus.k8s.yml").read_text())
    for job in config["scrape_configs"]:
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": []}]
    shutil.copy(root / "k8s/base/files/rules.yml", scratch / "rules.yml")
    target = scratch / "prometheus.k8s.yml"
    target.write_text(yaml.safe_dump(config))
    return target


def check_kubernetes(root: Path) -> tuple[list[str], list[Finding]]:
    overlays = _overlays(root)
    if not overlays:
        return [], [Finding("kubernetes", "k8s/overlays", "no kustomize overlay found")]
    kubectl, validator = find_tool("kubectl"), find_tool("kubernetes-validate")
    if kubectl is None or validator is None:
        return _missing("kubernetes", "kubectl" if kubectl is None else "kubernetes-validate")
    done, problems = [], []
    for overlay in overlays:
        rendered = _run([kubectl, "kustomize", str(overlay)])
        done.append(
            f"{overlay.relative_to(root)} (kubectl kustomize | kubernetes-validate --strict)"
        )
        if rendered.returncode != 0:
            problems.append(
                Finding(
                    "kubernetes", str(overlay.relative_to(root)), rendered.stderr.strip()[-500:]
                )
            )
            continue
        result = _run([validator, "--strict", "--quiet", "-"], stdin=rendered.stdout)
        if result.returncode != 0:
            problems.append(
                Finding(
                    "kubernetes",
                    str(overlay.relative_to(root)),
                    (result.stdout + result.stderr).strip()[-500:],
                )
            )
    return done, problems


NO_REASON = ("", "No comment provided")  # what checkov records for a skip without a reason


def check_security(root: Path) -> tuple[list[str], list[Finding]]:
    """checkov on the rendered manifests of every overlay and on every Dockerfile (checkov reads
    no Compose files). A finding is a failed check, or a skip whose annotation gives no reason.
    """
    checkov, kubectl = find_tool("checkov"), find_tool("kubectl")
    if checkov is None or kubectl is None:
        return _missing("security", "checkov" if checkov is None else "kubectl")
    with tempfile.TemporaryDirectory(prefix="servebench-checkov-") as scratch:
        subjects = {str(path): str(path.relative_to(root)) for path in _dockerfiles(root)}
        for overlay in _overlays(root):
            rendered = _run([kubectl, "kustomize", str(overlay)])
            if rendered.returncode != 0:
                continue  # check_kubernetes reports it
            manifest = Path(scratch) / f"{overlay.name}.yaml"
            manifest.write_text(rendered.stdout)
            subjects[str(manifest)] = f"{overlay.relative_to(root)} (kustomize output)"
        command = [checkov, "--framework", "kubernetes", "dockerfile", "--skip-download",
                   "--compact", "--output", "json", "--soft-fail"]  # fmt: skip
        result = _run(command + [arg for path in subjects for arg in ("-f", path)])
    try:
        reports = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [], [Finding("security", "checkov", (result.stderr or result.stdout)[-500:])]
    return _security_findings(reports if isinstance(reports, list) else [reports], subjects)


def _security_findings(reports: list[dict], subjects: dict) -> tuple[list[str], list[Finding]]:
    counts = {subject: [0, 0] for subject in subjects.values()}  # passed, skipped
    problems = []
    for report in reports:
        results = report.get("results", {})
        for check in results.get("passed_checks", []):
            counts[subjects[check["file_abs_path"]]][0] += 1
        for check in results.get("skipped_checks", []):
            subject = subjects[check["file_abs_path"]]
            counts[subject][1] += 1
            if check["check_result"].get("suppress_comment", "") in NO_REASON:
                problems.append(
                    Finding("security", subject, f"{check['check_id']} skipped without a reason")
                )
        for check in results.get("failed_checks", []):
            problems.append(
                Finding(
                    "security",
                    subjects[check["file_abs_path"]],
                    f"{check['check_id']} {check['check_name']} ({check['resource']})",
                )
            )
    done = [
        f"{subject} (checkov: {passed} passed, {skipped} skipped with a reason)"
        for subject, (passed, skipped) in counts.items()
    ]
    return done, problems


# Ports and paths each server really uses (see services/torchserve/config.container.properties,
# services/tfserving/Dockerfile and monitoring.config); the other files must agree with them.
TORCHSERVE_PORTS = CONTAINER_PORTS["torchserve"]
TFSERVING_PORTS = CONTAINER_PORTS["tfserving"]
DIY_PORTS = CONTAINER_PORTS["diy"]
TFSERVING_METRICS_PATH = "/monitoring/prometheus/metrics"
# Metric families the servers and the load generator export (a test checks them on a real run).
KNOWN_METRICS = {
    "servebench_client_requests_total",
    "servebench_client_failures_total",
    "servebench_client_latency_seconds_bucket",
    "ts_inference_latency_microseconds",
    "ts_queue_latency_microseconds",
    "ts_inference_requests_total",
    ":tensorflow:serving:request_latency_bucket",
    ":tensorflow:serving:request_count",
}


def check_consistency(root: Path) -> tuple[list[str], list[Finding]]:
    problems = []
    container = _properties(root / "services/torchserve/config.container.properties")
    for name, key in (
        ("rest", "inference_address"),
        ("management", "management_address"),
        ("metrics", "metrics_address"),
    ):
        if not container.get(key, "").endswith(f":{TORCHSERVE_PORTS[name]}"):
            problems.append(
                Finding(
                    "consistency",
                    "config.container.properties",
                    f"{key} is not on port {TORCHSERVE_PORTS[name]}",
                )
            )
    if container.get("grpc_inference_port") != str(TORCHSERVE_PORTS["grpc"]):
        problems.append(
            Finding("consistency", "config.container.properties", "grpc_inference_port differs")
        )
    monitoring = (root / "services/tfserving/monitoring.config").read_text()
    if TFSERVING_METRICS_PATH not in monitoring:
        problems.append(
            Finding("consistency", "monitoring.config", f"path is not {TFSERVING_METRICS_PATH}")
        )
    problems += _check_prometheus_targets(root)
    problems += _check_compose_ports(root)
    problems += _check_metric_names(root)
    problems += _check_copies(root)
    problems += _check_stack_records(root)
    return [
        "ports, paths and metric names across compose, k8s, Prometheus, Grafana and the servers"
    ], problems


def _properties(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def _check_prometheus_targets(root: Path) -> list[Finding]:
    config = yaml.safe_load((root / COMPOSE_PROMETHEUS).read_text())
    expected = {
        "torchserve": ("/metrics", f"torchserve:{TORCHSERVE_PORTS['metrics']}"),
        "tfserving": (TFSERVING_METRICS_PATH, f"tfserving:{TFSERVING_PORTS['rest']}"),
        "diy": ("/metrics", f"diy:{DIY_PORTS['rest']}"),
    }
    problems = []
    for job in config["scrape_configs"]:
        if job["job_name"] in expected:
            path, target = expected[job["job_name"]]
            targets = [t for group in job.get("static_configs", []) for t in group["targets"]]
            targets += [  # a service found by DNS only while it runs (the diy profile)
                f"{name}:{sd['port']}"
                for sd in job.get("dns_sd_configs", [])
                for name in sd["names"]
            ]
            if job.get("metrics_path") != path or targets != [target]:
                problems.append(
                    Finding(
                        "consistency",
                        "prometheus.compose.yml",
                        f"job {job['job_name']} should scrape {target}{path}",
                    )
                )
    return problems


def _check_compose_ports(root: Path) -> list[Finding]:
    compose = yaml.safe_load((root / "compose.yaml").read_text())
    wanted = {
        "torchserve": {TORCHSERVE_PORTS["rest"], TORCHSERVE_PORTS["grpc"]},
        "tfserving": set(TFSERVING_PORTS.values()),
        "diy": set(DIY_PORTS.values()),
    }
    problems = []
    for service, ports in wanted.items():
        published = compose["services"][service].get("ports", [])
        inside = {int(str(p).rsplit(":", 1)[-1]) for p in published}
        if inside != ports:
            problems.append(
                Finding(
                    "consistency",
                    "compose.yaml",
                    f"{service} publishes {sorted(inside)}, expected {sorted(ports)}",
                )
            )
        if any(not str(p).startswith("127.0.0.1:") for p in published):
            problems.append(
                Finding(
                    "consistency", "compose.yaml", f"{service} publishes a port beyond 127.0.0.1"
                )
            )
    return problems


SERIES = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\{|\[)")  # a name right before {labels} or [range]


def _check_metric_names(root: Path) -> list[Finding]:
    """Recording rules read only series the servers and Locust export; dashboard panels read
    recording rules or such series."""
    rules = yaml.safe_load((root / RULES).read_text())
    records, problems = set(), []
    for group in rules["groups"]:
        for rule in group["rules"]:
            records.add(rule["record"])
            problems += [
                Finding("consistency", "rules.yml", f"{rule['record']} reads unknown series {name}")
                for name in SERIES.findall(rule["expr"])
                if name not in KNOWN_METRICS
            ]
    dashboard = json.loads((root / "services/grafana/dashboards/servebench.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].strip()
            unknown = [n for n in SERIES.findall(expr) if n not in KNOWN_METRICS | records]
            if expr not in records and (unknown or not SERIES.findall(expr)):
                problems.append(
                    Finding(
                        "consistency",
                        "servebench.json",
                        f"panel {panel['title']!r} reads {expr!r}: no rule or series",
                    )
                )
    return problems


# Where the harness in compose and k8s finds each server, as the stack record tells it.
STACK_ENDPOINTS = {
    "torchserve": {
        "rest": f"http://torchserve:{TORCHSERVE_PORTS['rest']}",
        "grpc": f"torchserve:{TORCHSERVE_PORTS['grpc']}",
        "management": f"http://torchserve:{TORCHSERVE_PORTS['management']}",
        "metrics": f"http://torchserve:{TORCHSERVE_PORTS['metrics']}/metrics",
    },
    "tfserving": {
        "rest": f"http://tfserving:{TFSERVING_PORTS['rest']}",
        "grpc": f"tfserving:{TFSERVING_PORTS['grpc']}",
        "metrics": f"http://tfserving:{TFSERVING_PORTS['rest']}{TFSERVING_METRICS_PATH}",
    },
}


STACK_RECORDS = ("services/harness/stack.compose.json", "k8s/base/files/stack.k8s.json")


def _check_stack_records(root: Path) -> list[Finding]:
    """The stack records that compose and k8s hand to bench and Locust name the real service
    ports, compose's container names, and the folder compose's Prometheus discovers Locust in;
    they name no implementation, which is asked of the running services (backends.detect)."""
    compose = yaml.safe_load((root / "compose.yaml").read_text())
    problems = []
    for record_path in STACK_RECORDS:
        record = json.loads((root / record_path).read_text())
        for name, endpoints in STACK_ENDPOINTS.items():
            if record["backends"][name]["endpoints"] != endpoints:
                problems.append(Finding("consistency", record_path, f"{name} endpoints differ"))
    for record_path in (*STACK_RECORDS, DIY_RECORD):
        record = json.loads((root / record_path).read_text())
        services = {**record["backends"], **record.get("monitoring", {})}
        for name, service in services.items():
            if service.get("implementation") is not None:
                written = (
                    f"implementation is written in, not detected: {service['implementation']!r}"
                )
                problems.append(Finding("consistency", record_path, f"{name}: {written}"))
    record = json.loads((root / "services/harness/stack.compose.json").read_text())
    for name in STACK_ENDPOINTS:
        container = record["backends"][name].get("settings", {}).get("container")
        if container != f"{compose['name']}-{name}-1":
            problems.append(
                Finding(
                    "consistency",
                    "stack.compose.json",
                    f"{name}: container {container!r} is not compose's",
                )
            )
    problems += _check_diy_record(root, record, compose["name"])
    folder = record["monitoring"]["prometheus"]["settings"].get("loadgen_targets", "")
    prometheus = yaml.safe_load((root / COMPOSE_PROMETHEUS).read_text())
    globs = [
        pattern
        for job in prometheus["scrape_configs"]
        for config in job.get("file_sd_configs", [])
        for pattern in config["files"]
    ]
    for service in ("prometheus", "locust-worker", "bench"):
        mounts = [str(v).split(":")[1] for v in compose["services"][service].get("volumes", [])]
        if folder not in mounts:
            problems.append(
                Finding("consistency", "compose.yaml", f"{service} does not mount {folder!r}")
            )
    if f"{folder}/*.json" not in globs:
        problems.append(
            Finding("consistency", "prometheus.compose.yml", f"no file_sd job reads {folder}/")
        )
    return problems


DIY_RECORD = "services/harness/stack.compose.diy.json"


def _check_diy_record(root: Path, record: dict, project: str) -> list[Finding]:
    """Compose's record with the diy baseline is compose's record plus the diy service."""
    diy_record = json.loads((root / DIY_RECORD).read_text())
    diy = diy_record["backends"].pop("diy", {})
    problems = []
    if diy_record != record:
        problems.append(Finding("consistency", DIY_RECORD, "differs from stack.compose.json"))
    rest = f"http://diy:{DIY_PORTS['rest']}"
    if diy.get("endpoints") != {"rest": rest, "metrics": f"{rest}/metrics"}:
        problems.append(Finding("consistency", DIY_RECORD, "diy endpoints differ"))
    if diy.get("settings", {}).get("container") != f"{project}-diy-1":
        problems.append(Finding("consistency", DIY_RECORD, "diy: container is not compose's"))
    return problems


# kustomize reads nothing outside k8s/base, so it keeps copies; they must not drift.
COPIES = {
    "k8s/base/files/rules.yml": "services/prometheus/rules.yml",
    "k8s/base/files/servebench.json": "services/grafana/dashboards/servebench.json",
}


def _check_copies(root: Path) -> list[Finding]:
    return [
        Finding("consistency", copy, f"differs from {source}; copy it again")
        for copy, source in COPIES.items()
        if (root / copy).read_bytes() != (root / source).read_bytes()
    ]
