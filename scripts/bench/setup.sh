#!/usr/bin/env bash
# Installs what the benchmark needs and builds the Go peer. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
PACKAGES="nginx-light wrk curl libfcgi-bin php-fpm golang-go"
missing=""
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends $missing
fi
for s in nginx php*-fpm; do service "$s" stop >/dev/null 2>&1 || true; done
mkdir -p .bench
[ -f dist/cli/main.js ] || npm run build
if [ ! -x .bench/gofcgi ] || [ scripts/bench/peers/fcgi.go -nt .bench/gofcgi ]; then
  GOCACHE="$PWD/.bench/gocache" GO111MODULE=off go build -o .bench/gofcgi scripts/bench/peers/fcgi.go
fi
