#!/usr/bin/env bash
# `make engine-stop`: ends the dockerd that `make engine` started, by its PID; an engine that
# something else started is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
PIDFILE=.servebench/dockerd.pid
if [[ ! -s $PIDFILE ]] || ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "servebench engine: no dockerd started by make engine is running"
    rm -f "$PIDFILE"
    exit 0
fi
pid=$(cat "$PIDFILE")
kill -TERM "$pid"
for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$PIDFILE"; echo "servebench engine: dockerd $pid stopped"; exit 0; }
    sleep 0.5
done
echo "servebench engine: dockerd $pid did not stop within 30 s" >&2
exit 1
