#!/bin/bash
# The readiness check of both server images, the same cost for each and next to nothing: bash
# alone (no Python, no curl), one HTTP GET per model over /dev/tcp, ready when every reply
# contains WORD. Models come from SERVEBENCH_MODELS (comma-separated).
# usage: http-ready.sh PORT PATH WORD     (PATH with {model}, e.g. /v1/models/{model})
port=$1 path=$2 word=$3
IFS=, read -ra models <<<"${SERVEBENCH_MODELS:-resnet18,mlp}"
for model in "${models[@]}"; do
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' \
        "${path//\{model\}/$model}" >&3
    found=no
    while IFS= read -r -t 2 line <&3 || [[ -n $line ]]; do
        [[ $line == *"$word"* ]] && { found=yes; break; }
        line=
    done
    exec 3<&-
    [[ $found == yes ]] || exit 1
done
