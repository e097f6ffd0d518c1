#!/bin/bash
# The readiness check of both server images, the same cost for each and next to nothing: bash
# alone (no Python, no curl), one HTTP GET per model over /dev/tcp, ready when every reply
# contains WORD. The reply is read to its Content-Length: closing a socket with unread bytes
# resets it, and TorchServe logs every reset as an error.
# usage: http-ready.sh PORT PATH WORD     (PATH with {model}, e.g. /v1/models/{model})
port=$1 path=$2 word=$3
IFS=, read -ra models <<<"${SERVEBENCH_MODELS:-resnet18,mlp}"
for model in "${models[@]}"; do
    exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
    printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' \
        "${path//\{model\}/$model}" >&3
    length=0
    while IFS= read -r -t 2 line <&3; do
        line=${line%$'\r'}
        [[ -z $line ]] && break
        [[ ${line,,} == content-length:* ]] && length=${line#*: }
    done
    IFS= read -r -t 2 -N "$length" body <&3
    exec 3<&-
    [[ $body == *"$word"* ]] || exit 1
done
