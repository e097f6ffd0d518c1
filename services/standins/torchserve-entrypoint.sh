#!/bin/bash
# As upstream's dockerd-entrypoint.sh: `serve` starts TorchServe, anything else is run.
set -e
if [[ "$1" = "serve" ]]; then
    shift 1
    torchserve --start --ts-config /home/model-server/config.properties --disable-token-auth "$@"
else
    eval "$@"
fi
tail -f /dev/null
