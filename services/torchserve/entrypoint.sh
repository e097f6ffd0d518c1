#!/bin/bash
# The TorchServe container: servebench's config.properties plus the models in SERVEBENCH_MODELS,
# one worker each, with SERVEBENCH_BATCH_SIZE / SERVEBENCH_BATCH_DELAY_MS (the same variables
# set TF Serving's batching) and SERVEBENCH_QUEUE_SIZE as job_queue_size. Logs go to the
# console, so `docker compose logs` shows them.
set -euo pipefail
here=/home/model-server/servebench
config="${TMPDIR:-/tmp}/servebench-config.properties"
IFS=, read -ra names <<<"${SERVEBENCH_MODELS:?name the models in SERVEBENCH_MODELS}"
batch=${SERVEBENCH_BATCH_SIZE:-1}
delay=${SERVEBENCH_BATCH_DELAY_MS:-0}
mars=() entries=()
for name in "${names[@]}"; do
    mars+=("$name.mar")
    entries+=("\"$name\": {\"1.0\": {\"defaultVersion\": true, \"marName\": \"$name.mar\",\
 \"minWorkers\": 1, \"maxWorkers\": 1, \"batchSize\": $batch, \"maxBatchDelay\": $delay}}")
done
{
    cat "$here/config.properties"
    echo "load_models=$(IFS=,; echo "${mars[*]}")"
    echo "models={$(IFS=,; echo "${entries[*]}")}"
    echo "job_queue_size=${SERVEBENCH_QUEUE_SIZE:-100}"
} >"$config"
exec torchserve --start --foreground --ncs --ts-config "$config" --log-config "$here/log4j2.xml" "$@"
