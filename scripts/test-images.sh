#!/usr/bin/env bash
# Tests the language images with Docker only (DHI migration guide, "Testing a
# migrated image"), then with the sidecar as a pod would run them.
#
# Usage: scripts/test-images.sh [-l LANG]... [-r REGISTRY] [-t TAG]
#                               [--sidecar-image IMG] [--no-sidecar] [--sidecar-only]
#                               [--timeout S] [-n] [-v]
#   -l LANG         language code (py js ts go java c cpp php rs r f90 d bash);
#                   repeatable; default: all
#   -r, -t          image names as build-images.sh makes them (kcr-<image>:latest)
#   --sidecar-image the kcr-sidecar image (default: kcr-sidecar:TAG / REGISTRY-sidecar:TAG)
#   --no-sidecar    only the docker-only test; --sidecar-only: only the sidecar test
#   -n              print the docker commands instead of running them
#   -v              show commands and responses
#
# Docker-only test: the code goes into a temp dir mounted at /mnt/data and runs
# with `--entrypoint /usr/bin/env IMAGE -i <the image's env -i variables> CMD`.
# Sidecar test: main container from the image (--init stands in for the pod's
# pause process, so `sleep` is not pid 1), a kcr-sidecar container joining its
# pid and network namespaces with --cap-drop=ALL and SYS_ADMIN, SYS_CHROOT,
# SYS_PTRACE, both as 65532 sharing a volume at /mnt/data; then a real
# POST /execute over the sidecar's unix socket (a host directory mounted at
# /run/kcr), which must print the expected line with exit code 0.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/image-test-cli.sh
. "$here/image-test-cli.sh"

DO_DOCKER=1
DO_SIDECAR=1
DRY=0
TIMEOUT=60

# The options only this script takes (see parse_options).
script_option() {
    OPT_SHIFT=2
    case "$1" in
    --timeout)
        need "$@"
        TIMEOUT=$2
        ;;
    --no-sidecar)
        DO_SIDECAR=0
        OPT_SHIFT=1
        ;;
    --sidecar-only)
        DO_DOCKER=0
        OPT_SHIFT=1
        ;;
    -n | --dry-run)
        DRY=1
        OPT_SHIFT=1
        ;;
    *) return 1 ;;
    esac
}
parse_options "$@"
[ "$DO_DOCKER" = 1 ] || [ "$DO_SIDECAR" = 1 ] || die "--no-sidecar with --sidecar-only leaves nothing to test"

# Everything this run creates, removed on exit.
containers=()
volumes=()
dirs=()
cleanup() {
    if [ "$DRY" = 0 ]; then
        for c in "${containers[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
        for v in "${volumes[@]}"; do docker volume rm -f "$v" >/dev/null 2>&1 || true; done
    fi
    for d in "${dirs[@]}"; do rm -rf "$d"; done
}
trap cleanup EXIT INT TERM

# Dry-run output goes to fd 3 (the real stdout) even where callers discard stdout.
exec 3>&1
docker_cmd() {
    if [ "$DRY" = 1 ]; then
        printf '%q ' docker "$@" >&3
        echo >&3
        return 0
    fi
    say "docker $*"
    docker "$@"
}

# The variables of the image's `env -i` ENTRYPOINT, one per line.
entrypoint_env() { # image
    if [ "$DRY" = 1 ]; then
        echo "PATH=<from the image's ENTRYPOINT>"
        return
    fi
    docker image inspect --format \
        '{{range $i, $e := .Config.Entrypoint}}{{if ge $i 2}}{{println $e}}{{end}}{{end}}' "$1"
}

declare -A result
fails=0
record() { # lang test status detail
    result["$1 $2"]=$3
    printf '%-4s %-5s %-12s %s\n' "$3" "$1" "$2" "${4:-}"
    [ "$3" = PASS ] || fails=$((fails + 1))
}

docker_only_test() { # lang image
    local lang=$1 image=$2 tmp out
    tmp=$(mktemp -d)
    dirs+=("$tmp")
    chmod 777 "$tmp"
    lang_code "$lang" >"$tmp/$(lang_file "$lang")"
    chmod 644 "$tmp/$(lang_file "$lang")"
    local -a envs cmd
    mapfile -t envs < <(entrypoint_env "$image" | sed '/^$/d')
    eval "cmd=($(lang_command "$lang"))"
    if out=$(docker_cmd run --rm --network none -v "$tmp:/mnt/data" -w /mnt/data \
        --entrypoint /usr/bin/env "$image" -i "${envs[@]}" "${cmd[@]}" 2>&1); then
        [ "$DRY" = 1 ] && return
        say "$out"
        if grep -qx "$KCR_EXPECT" <<<"$out"; then
            record "$lang" docker-only PASS
        else
            record "$lang" docker-only FAIL "unexpected output: $(head -c 300 <<<"$out")"
        fi
    else
        [ "$DRY" = 1 ] && return
        record "$lang" docker-only FAIL "$(tail -c 300 <<<"$out")"
    fi
}

# curl over the sidecar's unix socket; prints the body, fails on non-2xx.
sidecar_call() { # socket method path [body]
    local args=(-sS --fail-with-body --max-time "$((TIMEOUT + 10))" --unix-socket "$1" -X "$2")
    [ $# -ge 4 ] && args+=(-H 'Content-Type: application/json' --data-binary "$4")
    curl "${args[@]}" "http://sidecar$3"
}

sidecar_test() { # lang image
    local lang=$1 image=$2 id sock main side vol
    id="$lang-$$-$RANDOM"
    main="kcr-test-main-$id"
    side="kcr-test-sidecar-$id"
    vol="kcr-test-data-$id"
    sock=$(mktemp -d)
    dirs+=("$sock")
    chmod 777 "$sock"
    containers+=("$side" "$main")
    volumes+=("$vol")
    docker_cmd volume create "$vol" >/dev/null
    docker_cmd run -d --init --name "$main" --network none --user 65532:65532 \
        --cap-drop ALL --security-opt no-new-privileges --read-only --tmpfs /tmp:mode=1777 \
        -v "$vol:/mnt/data" "$image" >/dev/null || {
        record "$lang" sidecar FAIL "main container did not start"
        return
    }
    docker_cmd run -d --name "$side" --pid "container:$main" --network "container:$main" \
        --cap-drop ALL --cap-add SYS_ADMIN --cap-add SYS_CHROOT --cap-add SYS_PTRACE \
        --user 65532:65532 --read-only -v "$vol:/mnt/data" -v "$sock:/run/kcr" \
        -e "LANGUAGE=$lang" -e WORKING_DIR=/mnt/data -e SIDECAR_SOCKET=/run/kcr/sidecar.sock \
        -e "MAX_EXECUTION_TIME=$TIMEOUT" "$SIDECAR_IMAGE" >/dev/null || {
        record "$lang" sidecar FAIL "sidecar container did not start"
        return
    }
    local body
    body=$(execute_body "$lang" "$TIMEOUT")
    if [ "$DRY" = 1 ]; then
        echo "curl --unix-socket $sock/sidecar.sock -X POST http://sidecar/execute -d '$body'"
        return
    fi
    local ready=""
    for _ in $(seq 1 100); do
        if ready=$(sidecar_call "$sock/sidecar.sock" GET /ready 2>/dev/null); then break; fi
        ready=""
        sleep 0.2
    done
    if [ -z "$ready" ]; then
        record "$lang" sidecar FAIL "sidecar not ready: $(docker logs "$side" 2>&1 | tail -n 3 | tr '\n' ' ')"
        return
    fi
    say "ready: $ready"
    local resp
    resp=$(sidecar_call "$sock/sidecar.sock" POST /execute "$body" 2>&1) || true
    say "execute: $resp"
    if execute_ok "$resp"; then
        record "$lang" sidecar PASS
    else
        record "$lang" sidecar FAIL "$(head -c 400 <<<"$resp")"
    fi
    # Lesson 6: user code sees the main container's env -i variables, read
    # from /proc/<pid>/environ, and nothing of the sidecar's environment.
    if [ "$lang" = bash ] && execute_ok "$resp"; then
        resp=$(sidecar_call "$sock/sidecar.sock" POST /execute \
            '{"lang":"bash","timeout":30,"code":"env | sort | tr \"\\n\" \" \""}' 2>&1) || true
        say "env: $resp"
        local want bad=""
        while IFS= read -r want; do
            [ -n "$want" ] || continue
            case "$resp" in *"$want "*) ;; *) bad="$bad missing:$want" ;; esac
        done < <(entrypoint_env "$image")
        case "$resp" in *SIDECAR_SOCKET* | *LANGUAGE=* | *WORKING_DIR=*) bad="$bad sidecar-env-leaked" ;; esac
        if [ -z "$bad" ]; then
            record "$lang" sidecar-env PASS
        else
            record "$lang" sidecar-env FAIL "$bad: $(head -c 400 <<<"$resp")"
        fi
    fi
    docker rm -f "$side" "$main" >/dev/null 2>&1 || true
    docker volume rm -f "$vol" >/dev/null 2>&1 || true
}

if [ "$DRY" = 0 ]; then
    command -v docker >/dev/null || die "docker not found"
    docker info >/dev/null 2>&1 || die "no Docker engine reachable (DOCKER_HOST=${DOCKER_HOST:-default})"
    if [ "$DO_SIDECAR" = 1 ]; then
        command -v curl >/dev/null || die "the sidecar test needs curl"
    fi
fi

for lang in "${langs[@]}"; do
    image=$(image_ref "$(lang_image "$lang")" "$REGISTRY" "$TAG")
    if [ "$DRY" = 0 ] && ! docker image inspect "$image" >/dev/null 2>&1; then
        record "$lang" image FAIL "$image not found (scripts/build-images.sh $lang)"
        continue
    fi
    [ "$DO_DOCKER" = 1 ] && docker_only_test "$lang" "$image"
    [ "$DO_SIDECAR" = 1 ] && sidecar_test "$lang" "$image"
done

[ "$DRY" = 1 ] && exit 0
echo "test-images: $((${#result[@]} - fails)) passed, $fails failed"
[ "$fails" = 0 ]
