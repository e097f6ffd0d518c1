#!/usr/bin/env bash
# Installs onnx2tf, the converter `servebench export --model-file` uses for the TF SavedModel,
# into a virtual environment of its own inside servebench's ($VENV/onnx2tf): it pins TensorFlow
# 2.19 and onnx 1.19, which servebench's own pins (TF 2.20, onnx 1.23) conflict with. About
# 2.6 GB and 2-3 minutes on a fresh machine. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.venv}"
PYTHON="${PYTHON:-python3}"
HOME_DIR="$VENV/onnx2tf"
PINS=requirements-onnx2tf.txt
STAMP="$HOME_DIR/.servebench-pins"

if [[ -x "$HOME_DIR/bin/onnx2tf" ]] && cmp -s "$PINS" "$STAMP"; then
    echo "servebench: onnx2tf present ($HOME_DIR)"
    exit 0
fi
echo "servebench: installing onnx2tf into $HOME_DIR, its own venv (about 2.6 GB on a fresh machine)"
[[ -x "$HOME_DIR/bin/python" ]] || "$PYTHON" -m venv "$HOME_DIR"
"$HOME_DIR/bin/python" -m pip install -q --disable-pip-version-check --no-deps -r "$PINS" \
    2>&1 | grep -v "^WARNING: Location" || true
TF_CPP_MIN_LOG_LEVEL=3 "$HOME_DIR/bin/onnx2tf" -h >/dev/null 2>&1 \
    || { echo "servebench: onnx2tf did not install into $HOME_DIR; see the pip output above" >&2; exit 2; }
cp "$PINS" "$STAMP"
