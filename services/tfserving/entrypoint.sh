#!/bin/bash
# The TF Serving container: the models in SERVEBENCH_MODELS from /artifacts/tfserving, version 1
# only (TorchServe's container loads version 1's archive; a version 2 that `servebench export
# --version 2` wrote beside it must not be served on one side alone). With SERVEBENCH_MODEL_BASE
# (`servebench up --mode docker`), from that base instead, which holds only the versions put
# there, with the default policy (the newest): how a rollout puts version 2 in place. The
# monitoring config, TF_THREADS intra-op threads, and batching when SERVEBENCH_BATCH_SIZE > 1
# (with SERVEBENCH_BATCH_DELAY_MS, the same variables TorchServe's container reads).
set -euo pipefail
dir="${TMPDIR:-/tmp}"
IFS=, read -ra names <<<"${SERVEBENCH_MODELS:?name the models in SERVEBENCH_MODELS}"
{
    echo "model_config_list {"
    for name in "${names[@]}"; do
        if [[ -n "${SERVEBENCH_MODEL_BASE:-}" ]]; then
            echo "  config { name: \"$name\" base_path: \"$SERVEBENCH_MODEL_BASE/$name\"" \
                "model_platform: \"tensorflow\" }"
        else
            echo "  config { name: \"$name\" base_path: \"/artifacts/tfserving/$name\"" \
                "model_platform: \"tensorflow\"" \
                "model_version_policy { specific { versions: 1 } } }"
        fi
    done
    echo "}"
} >"$dir/models.config"
batching=()
if ((${SERVEBENCH_BATCH_SIZE:-1} > 1)); then
    queue=${SERVEBENCH_QUEUE_SIZE:-100}
    enqueued=$(((queue + SERVEBENCH_BATCH_SIZE - 1) / SERVEBENCH_BATCH_SIZE))
    sed -e "s/@BATCH_SIZE@/$SERVEBENCH_BATCH_SIZE/" -e "s/@ENQUEUED@/$enqueued/" \
        -e "s/@THREADS@/${TF_THREADS:-1}/" -e "s/@TIMEOUT_MICROS@/$((${SERVEBENCH_BATCH_DELAY_MS:-0} * 1000))/" \
        /config/batching.config >"$dir/batching.config"
    batching=(--enable_batching "--batching_parameters_file=$dir/batching.config")
fi
exec tensorflow_model_server --port=8500 --rest_api_port=8501 \
    "--model_config_file=$dir/models.config" --monitoring_config_file=/config/monitoring.config \
    "--tensorflow_intra_op_parallelism=${TF_THREADS:-1}" --tensorflow_inter_op_parallelism=1 \
    "${batching[@]}" "$@"
