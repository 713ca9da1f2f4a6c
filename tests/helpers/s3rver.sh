#!/bin/sh
# s3rver.sh — start or stop s3rver, the S3-compatible test server (npm
# s3rver, pinned in tests/s3/package-lock.json), for any test: the C unit
# tests of the S3 blob store and the e2e suites of several replicas.
#
#   tests/helpers/s3rver.sh start PORT DIR [BUCKET...]
#       installs tests/s3/node_modules with `npm ci` when missing, starts
#       s3rver on 127.0.0.1:PORT with its data in DIR/data (each BUCKET made
#       at start), waits until it answers, prints its pid. Log: DIR/s3rver.log,
#       pid: DIR/s3rver.pid. Access key and secret: S3RVER.
#   tests/helpers/s3rver.sh stop DIR
#       kills the server of DIR (SIGCONT first, in case a test stopped it).
#   tests/helpers/s3rver.sh install
#       only the npm install.
# Exit status 77 when node or npm is missing (the caller skips), 1 on failure.
set -eu

here=$(cd "$(dirname "$0")/../s3" && pwd)
bin="$here/node_modules/s3rver/bin/s3rver.js"

install() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "s3rver.sh: node and npm are needed for s3rver (npm package s3rver)" >&2
        exit 77
    fi
    marker="$here/node_modules/.package-lock.json"
    if [ ! -f "$bin" ] || [ ! -f "$marker" ] || [ "$here/package-lock.json" -nt "$marker" ]; then
        # Concurrent tests install once: the lock serialises them.
        (
            flock 9
            if [ ! -f "$bin" ] || [ "$here/package-lock.json" -nt "$marker" ]; then
                cd "$here" && timeout 900 npm ci --ignore-scripts --no-audit --no-fund \
                    >"$here/npm-ci.log" 2>&1 || {
                    tail -20 "$here/npm-ci.log" >&2
                    exit 1
                }
            fi
        ) 9>"$here/.install.lock"
    fi
}

case "${1:-}" in
install)
    install
    ;;
start)
    [ $# -ge 3 ] || { echo "usage: $0 start PORT DIR [BUCKET...]" >&2; exit 2; }
    port=$2 dir=$3
    shift 3
    install
    mkdir -p "$dir/data"
    set -- "$@"
    args=""
    for b in "$@"; do args="$args --configure-bucket $b"; done
    # shellcheck disable=SC2086
    setsid node "$bin" --silent --address 127.0.0.1 --port "$port" --directory "$dir/data" \
        $args >"$dir/s3rver.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/s3rver.pid"
    i=0
    while :; do
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/" || true)
        [ "$code" != "000" ] && [ -n "$code" ] && break
        if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 300 ]; then
            echo "s3rver.sh: s3rver did not start on port $port:" >&2
            tail -20 "$dir/s3rver.log" >&2
            kill "$pid" 2>/dev/null || true
            exit 1
        fi
        i=$((i + 1))
        sleep 0.1
    done
    echo "$pid"
    ;;
stop)
    [ $# -ge 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
    pid=$(cat "$2/s3rver.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then
        kill -CONT "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$2/s3rver.pid"
    fi
    ;;
*)
    echo "usage: $0 start PORT DIR [BUCKET...] | stop DIR | install" >&2
    exit 2
    ;;
esac
