#!/bin/sh
# s3rver.sh — start or stop s3rver, the S3-compatible test server (npm
# s3rver, pinned in tests/s3/package-lock.json), for any test: the C unit
# tests of the S3 blob store and the e2e suites of several replicas.
#
#   tests/helpers/s3rver.sh start PORT DIR [BUCKET...]
#       installs tests/s3/node_modules with `npm ci` when missing, starts
#       s3rver on a free loopback port with its data in DIR/data (each BUCKET
#       made at start) and, on 127.0.0.1:PORT in front of it, the strict SigV4
#       verifier tests/helpers/sigv4-proxy.py (s3rver itself checks no
#       signature: the proxy refuses any request not signed as AWS S3 wants,
#       or whose x-amz-content-sha256 is not its body's). Waits until both
#       answer, prints s3rver's pid (SIGSTOP it to fault the store). Logs:
#       DIR/s3rver.log, DIR/sigv4-proxy.log ("ok" and "REJECT" lines); pids:
#       DIR/s3rver.pid, DIR/sigv4-proxy.pid. Access key: S3RVER; secret:
#       $S3_TEST_SECRET (default S3RVER), kept in DIR/sigv4-secret, which
#       the proxy reads on every request (rewrite it to rotate the secret).
#       S3_NO_SIGV4_PROXY=1: s3rver alone on PORT, as before.
#   tests/helpers/s3rver.sh stop DIR
#       kills the servers of DIR (SIGCONT first, in case a test stopped one).
#   tests/helpers/s3rver.sh install
#       only the npm install.
# Exit status 77 when node or npm is missing (the caller skips), 1 on failure.
set -eu

here=$(cd "$(dirname "$0")/../s3" && pwd)
bin="$here/node_modules/s3rver/bin/s3rver.js"
proxy="$(cd "$(dirname "$0")" && pwd)/sigv4-proxy.py"
py=/usr/bin/python3
[ -x "$py" ] || py=python3

# Waits until 127.0.0.1:$1 answers HTTP (any status), while pid $2 lives.
wait_http() {
    i=0
    while :; do
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1/" || true)
        [ "$code" != "000" ] && [ -n "$code" ] && return 0
        if ! kill -0 "$2" 2>/dev/null || [ $i -ge 300 ]; then
            return 1
        fi
        i=$((i + 1))
        sleep 0.1
    done
}

stop_pid() { # FILE
    pid=$(cat "$1" 2>/dev/null || true)
    if [ -n "$pid" ]; then
        kill -CONT "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$1"
    fi
}

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
    if [ "${S3_NO_SIGV4_PROXY:-}" = 1 ]; then
        s3port=$port
    else
        command -v "$py" >/dev/null 2>&1 || {
            echo "s3rver.sh: python3 is needed for the SigV4 proxy" >&2
            exit 77
        }
        s3port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    fi
    # s3rver's continuation tokens (a listing past 1000 keys) are DES,
    # which OpenSSL 3 (Node 17 and later) only has in its legacy provider:
    # without it every truncated ListObjectsV2 page is a 500.
    legacy=""
    node --openssl-legacy-provider -e 0 2>/dev/null && legacy=--openssl-legacy-provider
    # shellcheck disable=SC2086
    setsid node $legacy "$bin" --silent --address 127.0.0.1 --port "$s3port" --directory "$dir/data" \
        $args >"$dir/s3rver.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$dir/s3rver.pid"
    if ! wait_http "$s3port" "$pid"; then
        echo "s3rver.sh: s3rver did not start on port $s3port:" >&2
        tail -20 "$dir/s3rver.log" >&2
        kill "$pid" 2>/dev/null || true
        exit 1
    fi
    if [ "${S3_NO_SIGV4_PROXY:-}" != 1 ]; then
        printf '%s\n' "${S3_TEST_SECRET:-S3RVER}" >"$dir/sigv4-secret"
        setsid "$py" "$proxy" --port "$port" --upstream-port "$s3port" --access-key S3RVER \
            --secret-file "$dir/sigv4-secret" >"$dir/sigv4-proxy.log" 2>&1 </dev/null &
        ppid_=$!
        echo "$ppid_" >"$dir/sigv4-proxy.pid"
        if ! wait_http "$port" "$ppid_"; then
            echo "s3rver.sh: the SigV4 proxy did not start on port $port:" >&2
            tail -20 "$dir/sigv4-proxy.log" >&2
            kill "$ppid_" "$pid" 2>/dev/null || true
            exit 1
        fi
    fi
    echo "$pid"
    ;;
stop)
    [ $# -ge 2 ] || { echo "usage: $0 stop DIR" >&2; exit 2; }
    stop_pid "$2/sigv4-proxy.pid"
    stop_pid "$2/s3rver.pid"
    ;;
*)
    echo "usage: $0 start PORT DIR [BUCKET...] | stop DIR | install" >&2
    exit 2
    ;;
esac
