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
    -r requirements.txt -c constraints.txt 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e . \
    2>&1 | grep -v "^WARNING: Location" || true
TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -c "import torch, tensorflow, ts, servebench" \
    || { echo "servebench: the Python install in $VENV is incomplete; see the pip output above" >&2; exit 2; }

echo "servebench: generating gRPC stubs from protos/ into servebench/generated/"
"$VENV/bin/python" -m grpc_tools.protoc -I protos --python_out=. --grpc_python_out=. \
    protos/servebench/generated/*.proto
