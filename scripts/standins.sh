#!/usr/bin/env bash
# Local stand-ins for base images that cannot be pulled (a machine with no registry access).
# An image that is present without the stand-in label, or that pulls, is used as it is; a
# stand-in is (re)built from services/standins/, with Docker's layer cache, so a second run
# takes seconds. Every stand-in carries the label org.servebench.stand-in=true.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=servebench/stand-in-base:bookworm
HARNESS=servebench/harness:0.1.0
STANDINS=services/standins

say() { echo "servebench stand-ins: $*"; }

is_stand_in() {
    [[ $(docker image inspect --format '{{index .Config.Labels "org.servebench.stand-in"}}' "$1" \
        2>/dev/null) == true ]]
}

# 0: the official image is here (present, or pulled now, which replaces a stand-in of that
# name); 1: a stand-in is needed.
official_available() {
    local image=$1
    if docker image inspect "$image" >/dev/null 2>&1 && ! is_stand_in "$image"; then
        return 0
    fi
    docker pull -q "$image" >/dev/null 2>&1
}

# A debootstrapped Debian 12, imported once.
build_base() {
    docker image inspect "$BASE" >/dev/null 2>&1 && return
    command -v debootstrap >/dev/null 2>&1 || {
        say "installing debootstrap with apt"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap
    }
    local mirror rootfs
    mirror=$(grep -hoE '^(deb |URIs: )https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/* \
        2>/dev/null | grep -v security | head -1 | awk '{print $2}')
    rootfs=$(mktemp -d)
    say "debootstrapping Debian 12 (minbase) from ${mirror:-deb.debian.org} (about 40 s)"
    debootstrap --variant=minbase bookworm "$rootfs" "${mirror:-http://deb.debian.org/debian}" \
        >"$rootfs.log" 2>&1 || { tail -5 "$rootfs.log" >&2; exit 2; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import --change 'LABEL org.servebench.stand-in=true' \
        --change 'CMD ["bash"]' - "$BASE" >/dev/null
    rm -rf "$rootfs" "$rootfs.log"
}

# The build context of a stand-in: its files, plus this machine's CA bundle and torch wheel.
context_for() {
    local context
    context=$(mktemp -d)
    cp "$STANDINS"/* constraints.txt "$context"/
    cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$context/host-ca.crt"
    mkdir "$context/wheels"
    # Wherever this machine's pip finds wheels (PIP_FIND_LINKS or pip's config files).
    local links
    links="${PIP_FIND_LINKS:-} $("${VENV:-.venv}/bin/python" -m pip config list 2>/dev/null \
        | sed -n "s/^[a-z:.]*find-links='\(.*\)'$/\1/p")"
    for dir in $links; do
        cp "${dir#file://}"/torch-2.13.0+cpu-cp311-*.whl "$context/wheels/" 2>/dev/null || true
    done
    echo "$context"
}

build_stand_in() {
    local image=$1 dockerfile=$2 context
    context=$(context_for)
    if [[ $dockerfile == python.Dockerfile ]] && ! ls "$context"/wheels/*.whl >/dev/null 2>&1; then
        say "no CPU torch 2.13.0 wheel in pip's find-links here: images will fetch torch from" \
            "PyTorch's CPU index, which must then be reachable"
    fi
    say "building $image from $STANDINS/$dockerfile (a labelled stand-in)"
    if ! docker build -q -t "$image" -f "$context/$dockerfile" "$context" >"$context.log" 2>&1; then
        tail -20 "$context.log" >&2
        rm -rf "$context" "$context.log"
        exit 2
    fi
    rm -rf "$context" "$context.log"
}

need() {
    local image=$1 dockerfile=$2
    if official_available "$image"; then
        say "$image: official image present"
        return 1
    fi
    build_base
    build_stand_in "$image" "$dockerfile"
}

need python:3.11-slim-bookworm python.Dockerfile || true
need pytorch/torchserve:0.12.0-cpu torchserve.Dockerfile || true
need prom/prometheus:v2.53.5 prometheus.Dockerfile || true
if ! official_available tensorflow/serving:2.20.0; then
    # The emulator comes from servebench's own harness image, so it runs this checkout's code.
    say "building $HARNESS (the TF Serving stand-in runs the emulator from it)"
    docker build -q -t "$HARNESS" -f services/harness/Dockerfile . >/dev/null
    build_stand_in tensorflow/serving:2.20.0 tfserving.Dockerfile
fi
# Grafana has no stand-in (no package here contains it): without its image, .env points Compose
# at compose.yaml alone, leaving out compose.override.yaml, which holds Grafana.
MARK="# make engine: no Grafana image on this machine"
touch .env
if official_available grafana/grafana:11.6.4; then
    sed -i "/^$MARK\$/,+1d" .env
else
    grep -qxF "$MARK" .env || printf '%s\nCOMPOSE_FILE=compose.yaml\n' "$MARK" >>.env
    say "grafana/grafana:11.6.4 cannot be pulled and no package here contains Grafana:" \
        "docker compose runs the stack without it (.env: COMPOSE_FILE=compose.yaml)"
fi
