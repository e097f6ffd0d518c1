"""What the commands print: the console tables and notes, apart from what they do."""

from __future__ import annotations

from pathlib import Path

from servebench.missing import figure


def format_stack(stack: dict) -> str:
    lines = [
        f"{'backend':<11} {'implementation':<20} {'REST':<23} {'gRPC':<16} {'pid':>7} {'ready':>7}"
    ]
    for name, backend in stack["backends"].items():
        endpoints = backend["endpoints"]
        grpc = endpoints.get("grpc", "-- (REST only)")  # the diy baseline has no gRPC
        lines.append(
            f"{name:<11} {backend['implementation']:<20} {endpoints['rest']:<23} "
            f"{grpc:<16} {backend['pid']:>7} {backend['ready_seconds']:>6.1f}s"
        )
    for name, service in stack.get("monitoring", {}).items():
        lines.append(
            f"{name:<11} {service['implementation']:<20} {service['endpoints']['http']:<23} "
            f"{'':<16} {service['pid']:>7} {service['ready_seconds']:>6.1f}s"
        )
    return "\n".join(lines)


def warn_if_emulated(stack: dict) -> None:
    for backend in stack["backends"].values():
        if not backend["real"]:
            print(
                f"NOTE: {backend['name']} is served by the {backend['implementation']}, NOT by "
                "the real server: its numbers say nothing about TF Serving, and no verdict is "
                "drawn from them."
            )


def print_artifacts(manifest: dict, manifest_path: Path) -> None:
    artifacts = manifest["artifacts"]
    print(f"[{manifest['model']}] weights sha256 {manifest['weights_sha256'][:16]}...")
    labels = (("TorchServe", "torchserve_mar"), ("TF Serving", "tf_savedmodel"), ("diy", "onnx"))
    for label, key in labels:
        if key not in artifacts:
            continue  # a manifest written before the ONNX model existed
        size_mb = artifacts[key]["bytes"] / 1e6
        print(f"[{manifest['model']}] {label:<10} {artifacts[key]['path']} ({size_mb:.1f} MB)")
    print(f"[{manifest['model']}] manifest   {manifest_path}")


def format_results(results: dict) -> str:
    from servebench.report.sections import target_label

    lines = [f"{'model':<9} {'target':<16} {'implementation':<19} {'req/s':>8} {'p50 ms':>8} "
             f"{'p99 ms':>8} {'errors':>7} {'eff.':>5}"]  # fmt: skip
    for entry in results["targets"]:
        summary = entry.get("summary") or {}

        def median(key: str, summary: dict = summary) -> str:
            return figure((summary.get(key) or {}).get("median"), ".2f", 8)

        errors = (summary.get("error_ratio") or {}).get("max")
        lines.append(
            f"{entry['model']:<9} {target_label(entry):<16} {entry['implementation']:<19} "
            f"{median('achieved_rps')} {median('latency_ms_p50')} {median('latency_ms_p99')} "
            f"{figure(errors, '.2%', 7)} {figure(entry.get('serving_efficiency'), '.2f', 5)}"
        )
    for knee in results["knee"]:
        rate = f"{knee['knee_rps']:.1f} req/s" if knee["knee_rps"] else "none found"
        lines.append(f"knee {knee['model']} {knee['target']}: {rate} at p99 <= "
                     f"{knee['slo_ms_p99']:g} ms after {len(knee['probes'])} probes")  # fmt: skip
    warnings = results["warnings"] + [
        f"{e['model']} {target_label(e)}: {w}" for e in results["targets"] for w in e["warnings"]
    ]
    lines += [f"WARNING: {warning}" for warning in warnings]
    return "\n".join(lines)
